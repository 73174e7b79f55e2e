"""Compute-graph pictures: DOT text always; real SVG/PNG files where Graphviz is installed."""

import numpy as np
import pytest

from tinygrad_ae import GraphvizNotFoundError, Tensor, draw_graph, render
from tinygrad_ae.viz import COLORS


def small_loss():
    x = Tensor(np.ones((2, 3), dtype=np.float32), name="x")
    W = Tensor.randn(4, 3, seed=0, requires_grad=True, name="layer1.W")
    b = Tensor.zeros(4, requires_grad=True, name="layer1.b")
    return (x @ W.T + b).relu().mean(), W, b


def test_dot_source_has_names_shapes_ops_and_colours():
    loss, W, b = small_loss()
    source = draw_graph(loss).source
    assert "layer1.W" in source and "(4, 3) float32" in source
    for op in ("MatMul", "Transpose", "Add", "Mul", "Sum"):
        assert op in source
    assert COLORS["parameter"] in source and COLORS["output"] in source and COLORS["constant"] in source
    assert "rankdir=LR" in source
    assert "rankdir=TB" in draw_graph(loss, rankdir="TB").source


def test_after_backward_the_picture_shows_gradient_norms():
    loss, W, b = small_loss()
    assert "|grad|" not in draw_graph(loss).source
    loss.backward()
    source = draw_graph(loss).source
    assert f"|grad| {np.linalg.norm(W.grad):.4g}" in source


def test_edges_follow_data_flow():
    a = Tensor([1.0], requires_grad=True, name="a")
    graph = draw_graph((a.exp()).sum())
    lines = [line.strip() for line in graph.source.splitlines() if "->" in line]
    # a -> Exp op -> exp result -> Sum op -> output
    assert lines[0].startswith("t0 -> op") or any(line.startswith("t0 ->") for line in lines)
    assert not any(line.endswith("-> t0") for line in lines), "nothing flows into a leaf"


def test_big_graphs_are_capped_with_a_summary_node():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    source = draw_graph(y, max_nodes=50).source
    assert "earlier tensors" in source
    assert source.count("[label=") < 200


def test_legend_lists_every_kind():
    source = draw_graph(small_loss()[0], legend=True).source
    for kind in COLORS:
        assert kind in source


def test_rendering_without_dot_fails_at_once_with_an_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no dot anywhere
    graph = draw_graph(small_loss()[0])
    assert "digraph" in graph.source  # building still works
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        render(graph, tmp_path / "g.svg")
    with pytest.raises(GraphvizNotFoundError):
        graph._repr_mimebundle_()  # what Jupyter calls to display it
    assert not list(tmp_path.iterdir()), "no file is left behind"


@pytest.mark.render
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG")])
def test_render_writes_a_real_picture(require_dot, tmp_path, suffix, magic):
    loss, _, _ = small_loss()
    loss.backward()
    path = render(draw_graph(loss, legend=True), tmp_path / f"graph{suffix}")
    data = open(path, "rb").read()
    assert data.startswith(magic) and len(data) > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"graph{suffix}"]  # no temp or .gv files


@pytest.mark.render
def test_render_without_suffix_defaults_to_svg(require_dot, tmp_path):
    path = render(draw_graph(small_loss()[0]), tmp_path / "graph")
    assert path.endswith(".svg") and open(path, "rb").read().lstrip().startswith(b"<?xml")


@pytest.mark.render
def test_svg_for_jupyter(require_dot):
    bundle = draw_graph(small_loss()[0])._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


@pytest.mark.render
def test_a_dot_in_the_name_is_not_taken_for_a_format(require_dot, tmp_path):
    path = render(draw_graph(small_loss()[0]), tmp_path / "graph_v1.0")
    assert path.endswith("graph_v1.0.svg") and open(path, "rb").read().lstrip().startswith(b"<?xml")
