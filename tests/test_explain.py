"""explain_backward: the recorded steps are backward()'s own, and its pictures and player work.

The trace must never change what backward() computes: every test builds the same graph twice
from the same numbers, runs ``backward()`` on one and ``explain_backward()`` on the other, and
compares the gradients bit for bit.
"""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from tinygrad_ae import MLP, Dense, Function, Tensor, explain_backward, mse
from tinygrad_ae.autograd import topological_order

floats = st.floats(-3, 3, allow_nan=False, width=32)


def lesson(a, b, c):
    """(a * b + c) * a: the scalar lesson, with a used twice (a diamond)."""
    a, b, c = (Tensor(v, requires_grad=True, name=n) for v, n in ((a, "a"), (b, "b"), (c, "c")))
    return (a * b + c) * a, [a, b, c]


def dense_layer(seed):
    rng = np.random.default_rng(seed)
    layer = Dense(3, 2, activation="sigmoid", seed=seed)
    x = Tensor(rng.random((4, 3), dtype=np.float32), name="x")
    return (layer(x) ** 2).mean(), [layer.W, layer.b]


def autoencoder_step(seed):
    """One training step's loss of the seed's 784-10-784 autoencoder on a batch of 4."""
    model = MLP([Dense(784, 10, seed=seed), Dense(10, 784, activation="sigmoid", seed=seed + 1)])
    x = Tensor(np.random.default_rng(seed).random((4, 784), dtype=np.float32), name="x")
    loss = mse(model(x), x)
    loss.name = "loss"
    return loss, model.parameters()


@pytest.mark.parametrize("build", [lambda: lesson(2.0, -3.0, 0.5), lambda: dense_layer(0), lambda: autoencoder_step(0)])
def test_the_trace_leaves_every_grad_exactly_as_backward_does(build):
    loss, leaves = build()
    loss.backward()
    explained_loss, explained_leaves = build()
    trace = explain_backward(explained_loss)
    for plain, explained in zip(leaves, explained_leaves):
        assert np.array_equal(plain.grad, explained.grad) and plain.grad.dtype == explained.grad.dtype
    by_leaf = {id(t): g for t, g in trace.leaves()}
    for leaf in explained_leaves:  # the last word of the trace is the leaf's gradient
        assert np.array_equal(by_leaf[id(leaf)], leaf.grad)


@given(floats, floats, floats)
def test_diamond_steps_show_both_contributions_and_their_running_sum(a, b, c):
    loss, (ta, tb, tc) = lesson(a, b, c)
    trace = explain_backward(loss)
    to_a = [entry for step in trace for entry in step.inputs if entry.tensor is ta]
    assert len(to_a) == 2  # from the outer Mul, then from the inner one
    assert to_a[0].before is None and to_a[1].before is to_a[0].after
    assert to_a[1].after == to_a[0].after + to_a[1].grad == ta.grad
    inner = trace[0].tensor._op.parents[0]  # a * b + c
    assert to_a[0].grad == inner.data  # d/da of (inner * a) is the other factor
    assert f"{to_a[1]}".endswith(f"-> {to_a[1].after.item():.4g}")


def test_steps_are_backwards_walk_with_the_gradients_it_passed():
    loss, _ = dense_layer(1)
    order = [t for t in reversed(topological_order(loss)) if t._op is not None]
    trace = explain_backward(loss)
    assert [step.tensor for step in trace] == order  # one step per op, in walk order
    assert trace[0].grad == 1 and trace[0].output == trace.names[id(loss)]
    arrived = {id(loss): trace[0].grad}
    for step in trace:  # each op got exactly the sum of what its users sent it
        assert np.array_equal(arrived.pop(id(step.tensor)), step.grad)
        for entry in step.inputs:
            arrived[id(entry.tensor)] = entry.after
            assert entry.grad.shape == entry.tensor.shape
    assert {id(t) for t, _ in trace.leaves()} == set(arrived)  # what is left: the leaves


def test_len_indexing_iteration_and_text():
    loss, _ = lesson(2.0, 3.0, 4.0)
    loss.name = "loss"
    trace = explain_backward(loss)
    assert len(trace) == 3 and list(trace) == trace.steps and trace[-1] is trace.steps[2]
    text = str(trace).splitlines()
    assert text[0] == "backward from loss (shape ()): 3 steps, 3 leaves"
    assert text[1] == "step 1  Mul  loss.grad = 1  ->  t5.grad += 2 (d/da = b), a.grad += 10 (d/db = a)"
    assert re.fullmatch(r"step 3  Mul  t3\.grad = 2  ->  a\.grad \+= 6 \(d/da = b\): 10 -> 16, "
                        r"b\.grad \+= 4 \(d/db = a\)", text[3])
    assert text[-1] == "leaves: a.grad = 16, b.grad = 4, c.grad = 2"
    assert repr(trace) == "<BackwardTrace: 3 steps from loss>"


class Cube(Function):  # a student's op: no rule attribute
    def forward(self, x):
        self.saved = x
        return x ** 3

    def backward(self, grad):
        return (3 * self.saved ** 2 * grad,)


class WrongCube(Cube):
    def backward(self, grad):
        return (2 * self.saved ** 2 * grad,)  # the student forgot that the exponent is 3


def test_a_students_op_without_a_rule_traces_under_its_class_name():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    trace = explain_backward(Cube.apply(x).sum(), check=True)
    assert [step.op for step in trace] == ["Sum", "Cube"] and trace[1].rule == "Cube"
    assert "x.grad += [3, 12] (Cube)" in str(trace)
    assert trace.checks[0].ok and "ok" in str(trace.checks[0])


def test_check_catches_a_wrong_backward():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    trace = explain_backward(WrongCube.apply(x).sum(), check=True)
    check = trace.checks[0]
    assert not check.ok and "DIFFERS" in str(trace)
    np.testing.assert_allclose(check.numeric, [3.0, 12.0], rtol=1e-6)
    np.testing.assert_allclose(check.analytic, [2.0, 8.0])


def test_check_covers_every_leaf_of_a_big_graph_at_a_few_elements():
    loss, parameters = autoencoder_step(2)
    trace = explain_backward(loss, check=True)
    assert sorted(c.name for c in trace.checks) == ["layer1.W", "layer1.b", "layer2.W", "layer2.b"]
    assert all(c.ok for c in trace.checks), [str(c) for c in trace.checks]
    assert max(len(c.indices) for c in trace.checks) == 16


def test_saved_arrays_are_released_as_after_backward():
    loss, _ = lesson(1.0, 2.0, 3.0)
    trace = explain_backward(loss)
    assert all(step.tensor._op.released and step.tensor._op.saved is None for step in trace)
    with pytest.raises(RuntimeError, match="a second time"):
        loss.backward()


def test_a_non_scalar_root_takes_its_gradient_and_accumulates_like_backward():
    def build():
        w = Tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True, name="w")
        w.grad = np.ones((2, 2), np.float32)  # left over from an earlier step: accumulates
        return w, (w * w).tanh()
    seed = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    w1, y1 = build()
    y1.backward(seed)
    w2, y2 = build()
    trace = explain_backward(y2, grad=seed, check=True)
    assert np.array_equal(w1.grad, w2.grad) and trace.checks[0].ok
    assert np.array_equal(trace[0].grad, seed)


# ---------------------------------------------------------------- the pictures


def test_frames_highlight_the_op_grey_the_unreached_and_colour_the_travelled_edges():
    loss, _ = lesson(2.0, 3.0, 4.0)
    trace = explain_backward(loss)
    sources = [trace.frame(i).source for i in range(len(trace))]
    for i, source in enumerate(sources):
        assert source.count("fillcolor=orange") == 1 and 'BGCOLOR="orange"' in source  # op, legend
        assert f"step {i + 1} of 3" in source
    travelled = [s.count("color=red3 penwidth=2") for s in sources]
    grey = [s.count("fontcolor=\"#999999\"") for s in sources]
    assert travelled == sorted(travelled) and travelled[0] < travelled[-1]
    assert grey[0] == 3 and grey[-1] == 0  # t3, b and c wait for the gradient at first
    assert "grad 16" in sources[-1] and "grad 16" not in sources[0]
    assert sources[-1] == trace.frame(-1).source
    with pytest.raises(IndexError, match="3 steps"):
        trace.frame(3)


def test_big_frames_summarise_arrays_and_name_the_parameters():
    loss, _ = autoencoder_step(0)
    trace = explain_backward(loss)
    source = trace.frame(len(trace) - 1).source
    for name in ("layer1.W", "layer1.b", "layer2.W", "layer2.b", "loss"):
        assert name in source
    assert re.search(r"grad \(10, 784\) \|\.\| \d", source) and "rankdir=TB" in source
    assert len(source) < 20_000  # summaries, not 7840 numbers


def test_html_player_is_one_self_contained_file(require_dot, tmp_path):
    loss, _ = lesson(2.0, 3.0, 4.0)
    trace = explain_backward(loss)
    page = (tmp_path / "player.html")
    assert trace.to_html(page) == str(page)
    text = page.read_text(encoding="utf-8")
    assert text.count("<svg") == len(trace) + 1 and "Content-Security-Policy" in text  # + step 1 as markup
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # nothing fetched
    assert not re.search(r"@import|url\(\s*['\"]?https?:", text)
    for control in ("tgae-prev", "tgae-next", "tgae-slider", "tgae-play", "ArrowRight"):
        assert control in text
    assert "the last word" in text and "d/da = b" in text
    fragment = trace._repr_html_()
    assert fragment.startswith('<div class="tgae-player"') and "<script>" in fragment
    assert "<html" not in fragment and fragment.count("<svg") == len(trace) + 1


def test_a_graph_of_hundreds_of_ops_says_how_many_frames_it_made(require_dot, tmp_path):
    x = Tensor(np.float32(0.5), requires_grad=True, name="x")
    y = x
    for _ in range(300):
        y = (y * 0.99).tanh()
    trace = explain_backward(y)
    assert len(trace) == 600
    text = (tmp_path / "long.html").read_text() if trace.to_html(tmp_path / "long.html", max_frames=5) else ""
    assert text.count("<svg") == 5 + 1 and "600 steps, 5 frames" in text
    steps = [int(k) for k in re.findall(r'"step": (\d+)', text)]
    assert steps[0] == 1 and steps[-1] == 600 and steps == sorted(set(steps))  # spread, ends kept
    assert max(np.diff(steps)) - min(np.diff(steps)) <= 1
    middle = trace.frame(300).source  # drawn around the op that runs, the rest counted
    assert "more tensors" in middle and "step 301 of 600" in middle and middle.count("fillcolor=orange") == 1


def test_gif_has_one_frame_per_step(require_dot, tmp_path):
    loss, _ = lesson(2.0, 3.0, 4.0)
    trace = explain_backward(loss)
    gif = Image.open(trace.to_gif(tmp_path / "backward.gif"))
    assert gif.format == "GIF" and gif.n_frames == len(trace) and gif.width > 300


def test_backward_from_a_leaf_is_a_trace_without_steps():
    w = Tensor(5.0, requires_grad=True, name="w")
    w.grad = np.float32(2.0)
    trace = explain_backward(w, check=True)
    assert len(trace) == 0 and w.grad == 3.0  # accumulated, as backward() does
    assert str(trace).splitlines()[-2:] == ["leaves: w.grad = 1", str(trace.checks[0])] and trace.checks[0].ok
    with pytest.raises(ValueError, match="no steps"):
        trace.to_html("never-written.html")
