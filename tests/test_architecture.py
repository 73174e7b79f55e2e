"""Network pictures: DOT text always; layouts, SVG and PNG files where Graphviz is installed."""

import re

import numpy as np
import pytest

from tinygrad_ae.viz import LAYER_COLORS, draw_architecture
from tinygrad_ae.viz import FONT, GraphvizNotFoundError, Picture, render

SEED = ([6, 3, 6], ["ReLU", "Sigmoid"])  # the seed notebook's Dense(6,3), Dense(3,6)
MNIST = ([784, 10, 784], ["ReLU", "Sigmoid"])  # the shipped denoising autoencoder


def units(source):
    return re.findall(r"^\s*(L\d+_u\d+) \[", source, flags=re.M)


def lines(source):
    """Drawn connections (tail, head, dashed), not the invisible links that order a column."""
    found = re.findall(r"^\s*(L\d+_\w+) -> (L\d+_\w+)(?: \[(.*)\])?$", source, flags=re.M)
    return [(a, b, "dashed" in attrs) for a, b, attrs in found if "invis" not in attrs]


def layer(node):
    return int(node[1:node.index("_")])


def test_seed_network_has_15_units_all_connected_with_colours_and_labels():
    graph = draw_architecture(*SEED)
    assert isinstance(graph, Picture)
    source = graph.source
    assert len(units(source)) == 15
    assert len(lines(source)) == 6 * 3 + 3 * 6 and not any(d for _, _, d in lines(source))
    for fill, border, text in LAYER_COLORS.values():
        assert fill in source and border in source and text in source
    assert re.search(r'L0_u1 \[label=<x<SUB>1</SUB>> color="#b85450" fillcolor="#f8cecc"', source)
    assert re.search(r'L1_u3 \[label=<h<SUB>3</SUB>> color="#6c8ebf" fillcolor="#dae8fc"', source)
    assert re.search(r'L2_u6 \[label=<y<SUB>6</SUB>> color="#82b366" fillcolor="#d5e8d4"', source)
    assert '"input 6"' in source and '"output 6 [Sigmoid]"' in source
    assert '"hidden 3 [ReLU]\\nbottleneck"' in source
    assert f"fontname={FONT}" in source and "rankdir=LR" in source


def test_units_are_chained_in_order_so_the_first_is_on_top():
    source = draw_architecture(*SEED).source
    for index, size in enumerate(SEED[0]):
        chain = [f"L{index}_title"] + [f"L{index}_u{u}" for u in range(1, size + 1)]
        for above, below in zip(chain, chain[1:]):
            assert f"{above} -> {below} [style=invis]" in source


def test_the_mnist_autoencoder_is_folded_into_a_few_nodes_and_lines():
    source = draw_architecture(*MNIST).source
    assert units(source) == ["L0_u1", "L0_u2", "L0_u783", "L0_u784", "L1_u1", "L1_u2", "L1_u9",
                             "L1_u10", "L2_u1", "L2_u2", "L2_u783", "L2_u784"]
    assert '"780 more"' in source and '"6 more"' in source and "⋮" in source
    drawn = lines(source)
    assert len(drawn) == 2 * 5 * 5 and source.count("->") < 1000
    assert all(layer(b) == layer(a) + 1 for a, b, _ in drawn)  # only between neighbours
    assert all(dashed == ("more" in a + b) for a, b, dashed in drawn)  # dashed: to/from "more"
    assert '"input 784"' in source and '"output 784 [Sigmoid]"' in source
    assert '"hidden 10 [ReLU]\\nbottleneck"' in source


def test_huge_networks_stay_small():
    source = draw_architecture([100_000] * 6, ["ReLU"] * 5, max_units=8).source
    assert len(units(source)) == 6 * 4 and len(lines(source)) == 5 * 25
    assert '"99996 more"' in source


@pytest.mark.parametrize("max_units, shown", [(3, 2), (8, 4), (12, 6), (16, 8)])
def test_max_units_sets_how_many_units_a_big_layer_shows(max_units, shown):
    source = draw_architecture([784, 2], [None], max_units=max_units).source
    assert sum(u.startswith("L0_") for u in units(source)) == shown
    assert f'"{784 - shown} more"' in source
    assert sum(u.startswith("L1_") for u in units(source)) == 2  # small layers are complete


def test_bottleneck_is_only_the_narrowest_hidden_layer_and_only_if_it_narrows():
    source = draw_architecture([784, 128, 32, 128, 784], ["ReLU"] * 3 + ["Sigmoid"]).source
    assert source.count("bottleneck") == 1 and '"hidden 32 [ReLU]\\nbottleneck"' in source
    assert source.count('"hidden 128 [ReLU]"') == 2
    classifier = draw_architecture([784, 128, 10], ["ReLU", "Softmax"]).source
    assert "bottleneck" not in classifier and '"output 10 [Softmax]"' in classifier


def test_options_title_no_activation_rankdir_and_numpy_sizes():
    source = draw_architecture(np.array([4, 2]), [None], title="tiny net", rankdir="TB").source
    assert 'label="tiny net"' in source and "rankdir=TB" in source
    assert '"output 2"' in source  # no "[None]"
    assert "⋯" in draw_architecture([20, 2], [""], rankdir="TB").source  # dots run sideways
    assert len(units(draw_architecture([5], []).source)) == 5  # just inputs


@pytest.mark.parametrize("sizes, activations, match", [
    ([], [], "layer_sizes is empty"),
    ([6, 0, 6], ["ReLU", "Sigmoid"], r"layer_sizes\[1\] is 0.*positive"),
    ([6, -3, 6], ["ReLU", "Sigmoid"], r"layer_sizes\[1\] is -3"),
    ([6, 2.5], ["ReLU"], r"layer_sizes\[1\] is 2.5.*whole number"),
    (["6", 3], ["ReLU"], r"layer_sizes\[0\] is '6'"),
    ([True, 3], ["ReLU"], r"layer_sizes\[0\] is True"),
    ([6, 3, 6], ["ReLU"], r"3 layer sizes \[6, 3, 6\] need 2 activations.*got 1: \['ReLU'\]"),
    ([6, 3], ["ReLU", "Sigmoid"], "need 1 activations.*got 2"),
    ([6, 3], [3], r"activations\[0\] is 3"),
])
def test_invalid_networks_are_refused_with_the_values_involved(sizes, activations, match):
    with pytest.raises(ValueError, match=match):
        draw_architecture(sizes, activations)


@pytest.mark.parametrize("options, match", [
    ({"max_units": 2}, "max_units must be an integer of at least 3.*got 2"),
    ({"max_units": 8.0}, "max_units.*got 8.0"),
    ({"rankdir": "up"}, "rankdir must be one of LR, TB, RL, BT, got 'up'"),
])
def test_invalid_options_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        draw_architecture(*SEED, **options)


def test_without_dot_the_source_works_and_rendering_fails_at_once(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no dot anywhere
    graph = draw_architecture(*SEED)
    assert graph.source.startswith("digraph architecture")
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        render(graph, tmp_path / "net.png")
    with pytest.raises(GraphvizNotFoundError):
        graph._repr_mimebundle_()  # what Jupyter calls to display it
    assert not list(tmp_path.iterdir())


# --- real layouts and files (need Graphviz) -------------------------------------------------

def layout(graph):
    """Node centres (x, y) in inches as dot places them, y growing upwards."""
    plain = graph.pipe(format="plain").decode()
    return {f[1]: (float(f[2]), float(f[3])) for f in map(str.split, plain.splitlines())
            if f[0] == "node"}


def column_order(positions, index):
    column = [(-y, name) for name, (x, y) in positions.items() if name.startswith(f"L{index}_")]
    return [name for _, name in sorted(column)]


@pytest.mark.render
def test_dot_keeps_units_in_order_top_to_bottom_and_layers_left_to_right(require_dot):
    positions = layout(draw_architecture(*SEED))
    assert column_order(positions, 0) == ["L0_title"] + [f"L0_u{u}" for u in range(1, 7)]
    assert column_order(positions, 1) == ["L1_title", "L1_u1", "L1_u2", "L1_u3"]
    xs = [positions[f"L{i}_u1"][0] for i in range(3)]
    assert xs == sorted(xs) and len(set(xs)) == 3


@pytest.mark.render
def test_the_autoencoder_is_an_hourglass(require_dot):
    """The bottleneck column is shorter than the 784-unit ones and centred between them."""
    positions = layout(draw_architecture(*MNIST))

    def span(index, first, last):
        return positions[f"L{index}_u{first}"][1], positions[f"L{index}_u{last}"][1]

    (in_top, in_bottom), (h_top, h_bottom) = span(0, 1, 784), span(1, 1, 10)
    assert in_top - in_bottom > 1.3 * (h_top - h_bottom)
    assert abs((in_top + in_bottom) / 2 - (h_top + h_bottom) / 2) < 0.1
    assert positions["L0_more"][1] == pytest.approx(positions["L1_more"][1], abs=0.1)


@pytest.mark.render
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG")])
@pytest.mark.parametrize("network", [SEED, MNIST], ids=["6-3-6", "784-10-784"])
def test_render_writes_a_real_picture(require_dot, tmp_path, suffix, magic, network):
    path = render(draw_architecture(*network, title="autoencoder"), tmp_path / f"net{suffix}")
    data = open(path, "rb").read()
    assert data.startswith(magic) and len(data) > 5000
    if suffix == ".svg":
        text = data.decode("utf-8")
        assert "input 6" in text or "780 more" in text
        assert "#f8cecc" in text and "#dae8fc" in text and "#d5e8d4" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"net{suffix}"]  # no temp or .gv files
