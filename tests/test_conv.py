"""Convolution, pooling, upsampling and padding: forward against plain-loop numpy references,
gradients against central differences (float64), and errors that name the shapes.

One table drives forward and gradient checks, as in test_op_gradients.py: each row is
``(name, plain-loop reference, tensor op, draws the op's options)``.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tinygrad_ae import (Conv2D, DepthToSpace, Flatten, MaxPool2D, Reshape, Residual, SpaceToDepth, Tensor,
                         Upsample2D, avg_pool2d, conv2d, gradcheck, max_pool2d, pad2d, upsample2d)
from tinygrad_ae import conv as conv_module
from tinygrad_ae.conv import ConvolutionWithConvolutionBackward, windows


# ---------------------------------------------------------------- plain-loop references


def conv_reference(x, w, b, stride, padding):
    """Output pixel by output pixel: the window under the kernel, times the kernel, summed."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for batch in range(n):
        for out_channel in range(o):
            for i in range(oh):
                for j in range(ow):
                    window = xp[batch, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[batch, out_channel, i, j] = (window * w[out_channel]).sum() + b[out_channel]
    return out


def pool_reference(x, k, s, reduce):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(x[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return out


def upsample_reference(x, s):
    n, c, h, w = x.shape
    out = np.zeros((n, c, h * s, w * s))
    for i in range(h * s):
        for j in range(w * s):
            out[:, :, i, j] = x[:, :, i // s, j // s]
    return out


def pad_reference(x, p):
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + 2 * p, w + 2 * p))
    out[:, :, p:p + h, p:p + w] = x
    return out


# ---------------------------------------------------------------- drawn cases


@st.composite
def images(draw, min_side=1):
    """A float64 batch (n, c, h, w) with values in [-3, 3]."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(min_side, 6)),
             draw(st.integers(min_side, 6)))
    return draw(st.builds(lambda seed: np.random.default_rng(seed).uniform(-3, 3, shape), st.integers(0, 2**16)))


@st.composite
def conv_cases(draw):
    """Input, weight, bias, stride, padding: 1x1 kernels, kernel = padded input, stride > kernel."""
    x = draw(images())
    padding = draw(st.integers(0, 2))
    side = min(x.shape[2], x.shape[3]) + 2 * padding
    k = draw(st.integers(1, min(side, 4)))
    stride = draw(st.integers(1, 4))  # often larger than k
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    w = rng.uniform(-1, 1, (draw(st.integers(1, 3)), x.shape[1], k, k))
    return x, w, rng.uniform(-1, 1, w.shape[0]), stride, padding


def t64(a, grad=True):
    return Tensor(a, dtype=np.float64, requires_grad=grad)


@pytest.fixture(params=[True, False], ids=["convolution-backward", "composed"])
def conv_path(request, monkeypatch):
    """Run a test with conv2d's fast path (stride 1: one op, input gradient as a convolution)
    and with the composed windows + matmul that the fast path must equal."""
    monkeypatch.setattr(conv_module, "CONV2D_BACKWARD_AS_CONVOLUTION", request.param)
    return request.param


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=conv_cases())
def test_conv2d_matches_the_plain_loop_and_central_differences(conv_path, case):
    x, w, b, stride, padding = case
    got = conv2d(t64(x), t64(w), t64(b), stride=stride, padding=padding).data
    np.testing.assert_allclose(got, conv_reference(x, w, b, stride, padding), rtol=1e-10, atol=1e-10)
    assert gradcheck(lambda x, w, b: conv2d(x, w, b, stride=stride, padding=padding), t64(x), t64(w), t64(b))


@st.composite
def stride_one_cases(draw):
    """Stride-1 convolutions, with paddings up to 3 (wider than k - 1 too) and rectangular kernels."""
    x = draw(images())
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    kh, kw = draw(st.integers(1, min(x.shape[2] + 2 * ph, 4))), draw(st.integers(1, min(x.shape[3] + 2 * pw, 4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    w = rng.uniform(-1, 1, (draw(st.integers(1, 3)), x.shape[1], kh, kw))
    bias = rng.uniform(-1, 1, w.shape[0]) if draw(st.booleans()) else None
    return x, w, bias, (ph, pw), draw(st.sampled_from([(True, True), (True, False), (False, True)]))


@settings(max_examples=60)
@given(case=stride_one_cases())
def test_the_convolution_backward_equals_the_composed_one(case):
    """The fast path's output and every gradient equal windows + matmul's (float64, to 1e-12)."""
    x, w, bias, padding, (x_grad, w_grad) = case
    results = []
    for fast in (True, False):
        conv_module.CONV2D_BACKWARD_AS_CONVOLUTION = fast
        try:
            tensors = [Tensor(x, dtype=np.float64, requires_grad=x_grad), Tensor(w, dtype=np.float64, requires_grad=w_grad)]
            tensors += [] if bias is None else [Tensor(bias, dtype=np.float64, requires_grad=True)]
            out = conv2d(*tensors, padding=padding)
            assert (type(out._op) is ConvolutionWithConvolutionBackward) == fast
            (out * out).sum().backward()
            results.append([out.data] + [t.grad for t in tensors])
        finally:
            conv_module.CONV2D_BACKWARD_AS_CONVOLUTION = True
    for fast, composed in zip(*results):
        if composed is None:
            assert fast is None
        else:
            np.testing.assert_allclose(fast, composed, rtol=1e-12, atol=1e-12)


def test_the_convolution_backward_is_fit_s_path_and_compiles():
    """Stride 1 takes the one-op path; a jit replay of a conv step gives the eager numbers."""
    from tinygrad_ae import FusedAdam, Sequential, jit, train_step
    def model():
        return Sequential([Reshape(1, 6, 6), Conv2D(1, 4, 3, seed=0), Conv2D(4, 1, 3, activation="identity", seed=1),
                           Flatten()], input_shape=(36,))
    x = np.random.default_rng(0).random((5, 36), dtype=np.float32)
    eager, compiled = model(), model()
    opt_e, opt_c = FusedAdam(eager.parameters()), FusedAdam(compiled.parameters())
    step = jit(lambda a, b: train_step(compiled, opt_c, a, b))
    for _ in range(4):
        assert train_step(eager, opt_e, x, x).item() == step(x, x).item()
    assert step.plans == 1
    for a, b in zip(eager.parameters(), compiled.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


LAYOUT_CASE = (np.random.default_rng(24).uniform(-3, 3, (1, 1, 5, 3)), np.random.default_rng(1).uniform(-1, 1, (2, 1, 1, 2)),
               None, (2, 1), (True, True))  # n = 1: eager's NCHW gradient reshapes to rows without a copy
# A batch of 16, float64, 3 -> 64 channels: OpenBLAS picks its kernel by the product's shape, so
# a compiled step that computed the input gradient a few images at a time (fewer rows per
# product) differed from eager's one product here by up to 2e-12; it must not split the batch.
BATCH_CASE = (np.random.default_rng(5).uniform(-1, 1, (16, 3, 7, 7)), np.random.default_rng(6).uniform(-1, 1, (64, 3, 3, 3)),
              None, (1, 1), (True, True))


@settings(max_examples=60, deadline=None)
@example(case=LAYOUT_CASE, dtypes=(np.float32, np.float32), steps=1)
@example(case=BATCH_CASE, dtypes=(np.float64, np.float64), steps=1)
@given(case=stride_one_cases(), dtypes=st.sampled_from([(np.float32, np.float32), (np.float64, np.float64),
                                                       (np.float32, np.float64)]), steps=st.integers(1, 3))
def test_compiled_convolution_equals_eager_bit_for_bit(case, dtypes, steps):
    """jit's generated code for the convolution (windows in arrays made once, matmuls with out=)
    gives eager's output and gradients to the bit: any padding, kernel, bias or none, with and
    without the input's gradient, mixed dtypes, and arrays reused over several replays."""
    from tinygrad_ae import SGD, jit
    x, w, bias, padding, (x_grad, w_grad) = case
    x_dtype, w_dtype = dtypes

    def setup():
        tensors = [Tensor(x.copy(), dtype=x_dtype, requires_grad=x_grad),  # copies: the steps change them
                   Tensor(w.copy(), dtype=w_dtype, requires_grad=w_grad)]
        tensors += [] if bias is None else [Tensor(bias.copy(), dtype=w_dtype, requires_grad=True)]
        learning = [t for t in tensors if t.requires_grad]
        optimizer = SGD(learning, lr=0.01)

        def step(scale):
            optimizer.zero_grad()
            out = conv2d(*tensors, padding=padding)
            loss = (out * out * Tensor(scale)).sum()
            loss.backward()
            grads = [t.grad.copy() for t in learning]
            optimizer.step()
            return loss, out, grads
        return tensors, step

    runs = []
    for compiled in (False, True):
        tensors, step = setup()
        if compiled:
            plain = step
            step = jit(lambda scale: plain(scale)[:2])
            grads_of = lambda: [t.grad.copy() for t in tensors if t.requires_grad]  # noqa: E731
        run = []
        for k in range(steps + 2):  # the first calls trace, the later ones replay
            scale = np.array(1.0 + k, np.float32)
            if compiled:
                loss, out = step(scale)
                run.append([loss.data, out.data] + grads_of() + [t.data.copy() for t in tensors])
            else:
                loss, out, grads = step(scale)
                run.append([loss.data, out.data] + grads + [t.data.copy() for t in tensors])
        runs.append(run)
    for eager_step, compiled_step in zip(*runs):
        for a, b in zip(eager_step, compiled_step):
            np.testing.assert_array_equal(a, b)


def test_the_convolution_backward_adds_up_alike_whatever_layout_its_gradient_has():
    """NCHW or channels-last, the same gradient gives the same bits (jit's arrays may differ in
    layout from eager's; a matmul on differently laid out operands may round differently: with
    G's rows taken as a view of an NCHW gradient, dW came out different here for every seed)."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        x = Tensor(rng.random((1, 4, 6, 6), dtype=np.float32), requires_grad=True)
        w = Tensor(rng.random((4, 4, 3, 3), dtype=np.float32), requires_grad=True)
        grad = rng.random((1, 4, 6, 6), dtype=np.float32)
        results = []
        for laid_out in (np.ascontiguousarray(grad), np.ascontiguousarray(grad.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)):
            op = conv2d(x, w, padding=1)._op
            assert type(op) is ConvolutionWithConvolutionBackward
            results.append(op.backward(laid_out))
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("generate_code", [True, False], ids=["generated code", "plain replay"])
def test_compiled_conv_net_with_a_skip_a_shared_output_and_two_backwards_equals_eager(generate_code, monkeypatch):
    """Two convolutions whose arrays the compiled step shares, a skip connection, one output
    used twice (its gradient arrives from two consumers), ops without a rule (tanh, pooling), and
    a first backward(retain_graph=True) that the second one walks again: eager's bits, each step."""
    import importlib

    from tinygrad_ae import SGD, jit
    monkeypatch.setattr(importlib.import_module("tinygrad_ae.jit"), "GENERATE_CODE", generate_code)

    def setup():
        rng = np.random.default_rng(0)
        params = [Tensor(rng.uniform(-0.5, 0.5, shape).astype(np.float32), requires_grad=True)
                  for shape in [(3, 3, 3, 3), (3,), (3, 3, 3, 3), (3,)]]
        optimizer = SGD(params, lr=0.01, momentum=0.9)

        def step(x):
            optimizer.zero_grad()
            h = conv2d(Tensor(x), params[0], params[1], padding=1).relu()
            out = (conv2d(h, params[2], params[3], padding=1) + h).tanh()    # a skip; tanh has no rule
            first = (out * out).mean()                                      # out used twice
            first.backward(retain_graph=True)
            second = max_pool2d(out, 2).sum() * 0.01
            second.backward()                                  # walks `out` (and tanh's saved array) again
            optimizer.step()
            return first, second
        return params, step

    xs = [np.random.default_rng(k).random((2, 3, 6, 6), dtype=np.float32) for k in range(5)]
    (eager_params, eager), (compiled_params, plain) = setup(), setup()
    compiled = jit(plain)
    for x in xs:
        a, b = eager(x), compiled(x)
        assert [t.item() for t in a] == [t.item() for t in b]
        for p, q in zip(eager_params, compiled_params):
            np.testing.assert_array_equal(p.data, q.data)
    assert compiled.plans == 1 and ("H.windows_into(" in compiled.source()) == generate_code


def test_the_convolution_op_compiles_with_its_default_padding():
    from tinygrad_ae import jit
    w = Tensor(np.random.default_rng(0).random((2, 1, 2, 2), dtype=np.float32), requires_grad=True)

    def step(x):
        out = ConvolutionWithConvolutionBackward.apply(Tensor(x), w).sum()   # no padding= given
        out.backward()
        return out
    compiled, x = jit(step), np.ones((1, 1, 3, 3), np.float32)
    assert [compiled(x).item() for _ in range(3)] == [step(x).item()] * 3 and "H.windows_into(" in compiled.source()


def test_kernel_equal_to_the_input_is_a_dense_layer():
    x, w = np.random.default_rng(0).random((2, 3, 4, 5)), np.random.default_rng(1).random((6, 3, 4, 5))
    out = conv2d(t64(x), t64(w)).data
    assert out.shape == (2, 6, 1, 1)
    np.testing.assert_allclose(out[:, :, 0, 0], x.reshape(2, -1) @ w.reshape(6, -1).T)


# (name, reference, op, options drawn for an image of shape (n, c, h, w))
WINDOW_OPS = [
    ("max_pool2d", lambda x, k, s: pool_reference(x, k, s, np.max), lambda t, k, s: max_pool2d(t, k, s)),
    ("avg_pool2d", lambda x, k, s: pool_reference(x, k, s, np.mean), lambda t, k, s: avg_pool2d(t, k, s)),
    ("upsample2d", lambda x, k, s: upsample_reference(x, k), lambda t, k, s: upsample2d(t, k)),
    ("pad2d", lambda x, k, s: pad_reference(x, k - 1), lambda t, k, s: pad2d(t, k - 1)),
]


@settings(max_examples=30)
@pytest.mark.parametrize("name, reference, op", WINDOW_OPS, ids=[row[0] for row in WINDOW_OPS])
@given(x=images(), data=st.data())
def test_window_ops_match_the_plain_loop_and_central_differences(name, reference, op, x, data):
    k = data.draw(st.integers(1, min(x.shape[2], x.shape[3], 3)))
    s = data.draw(st.integers(1, 3))
    # max over a window has a kink where two values tie; random values almost never tie
    np.testing.assert_allclose(op(t64(x, False), k, s).data, reference(x, k, s), rtol=1e-12)
    assert gradcheck(lambda t: op(t, k, s), t64(x))


def test_windows_backward_adds_where_windows_overlap():
    x = t64(np.ones((1, 1, 3, 3)))
    windows(x, kernel=2).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    x.zero_grad()
    windows(x, kernel=1, stride=2).sum().backward()  # stride > kernel: some pixels are never used
    np.testing.assert_array_equal(x.grad[0, 0], [[1, 0, 1], [0, 0, 0], [1, 0, 1]])


def test_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"5x5 kernel is larger than the padded 3x3 input \(input \(1, 1, 3, 3\)"):
        conv2d(Tensor.zeros(1, 1, 3, 3), Tensor.zeros(1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"input has 2 channels \(shape \(1, 2, 4, 4\)\) but the weight \(3, 1, 3, 3\) expects 1"):
        conv2d(Tensor.zeros(1, 2, 4, 4), Tensor.zeros(3, 1, 3, 3))
    with pytest.raises(ValueError, match=r"\(batch, channels, height, width\), got shape \(4, 4\)"):
        max_pool2d(Tensor.zeros(4, 4), 2)
    with pytest.raises(ValueError, match="stride must be a whole number >= 1"):
        conv2d(Tensor.zeros(1, 1, 3, 3), Tensor.zeros(1, 1, 1, 1), stride=0)


def test_tensor_methods_are_the_module_functions():
    x = Tensor(np.random.default_rng(0).random((1, 2, 4, 4), dtype=np.float32))
    w = Tensor(np.random.default_rng(1).random((3, 2, 3, 3), dtype=np.float32))
    np.testing.assert_array_equal(x.conv2d(w, padding=1).data, conv2d(x, w, padding=1).data)
    np.testing.assert_array_equal(x.max_pool2d(2).data, max_pool2d(x, 2).data)
    np.testing.assert_array_equal(x.avg_pool2d(2).data, avg_pool2d(x, 2).data)
    np.testing.assert_array_equal(x.upsample2d(2).data, upsample2d(x, 2).data)
    np.testing.assert_array_equal(x.pad2d(1).data, pad2d(x, 1).data)


# ---------------------------------------------------------------- layers


def test_image_layers_shapes_parameters_and_gradients():
    layers = [Reshape(1, 4, 4), Conv2D(1, 3, 3, padding="same", seed=0), MaxPool2D(2), Upsample2D(2),
              SpaceToDepth(2), DepthToSpace(2), Conv2D(3, 1, 3, padding=1, activation="linear", seed=1), Flatten()]
    x = Tensor(np.random.default_rng(0).random((2, 16)), dtype=np.float64)
    shape = (16,)
    for layer in layers:
        y = layer(x)
        assert y.shape[1:] == layer.output_shape(shape), layer
        x, shape = y, y.shape[1:]
    assert [n for n, _ in layers[1].named_parameters()] == ["W", "b"] and layers[1].num_parameters == 30
    conv = Conv2D(2, 2, 3, padding="same", activation="tanh", seed=0)
    conv.W.data, conv.b.data = conv.W.data.astype(np.float64), conv.b.data.astype(np.float64)
    assert gradcheck(lambda x, w, b: conv2d(x, w, b, padding=1).tanh(), t64(np.random.default_rng(2).random((1, 2, 5, 5))),
                     conv.W, conv.b)


def test_space_to_depth_round_trips_and_residual_adds_its_input():
    x = Tensor(np.random.default_rng(0).random((2, 3, 6, 4), dtype=np.float32))
    np.testing.assert_array_equal(DepthToSpace(2)(SpaceToDepth(2)(x)).data, x.data)
    zero = Conv2D(3, 3, 1, padding=0, activation="linear")
    zero.W.data[...] = 0
    np.testing.assert_array_equal(Residual([zero])(x).data, x.data)
    with pytest.raises(ValueError, match="SpaceToDepth.2. needs a height and width divisible by 2"):
        SpaceToDepth(2)(Tensor.zeros(1, 1, 3, 4))
