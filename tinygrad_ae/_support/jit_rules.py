"""How ``jit``'s generated code computes some primitives into arrays made once (numpy's ``out=``).

Each rule writes lines of Python for one op of a traced step. A forward rule returns the
lines that compute the op's output into ``out`` (or None: no rule for these shapes, and the
op's own ``forward`` runs). A backward rule returns its lines and, per input, the expression
of that input's gradient with its shape and dtype (None: no gradient). Every rule computes
exactly what the op's own forward/backward in ``autograd.py`` (or ``conv.py``) computes, with
the same numpy functions in the same order, so the numbers are the same to the bit; only where
the result goes differs. ``tests/test_jit.py`` checks that on random programs,
``tests/test_conv.py`` on random convolutions.

The other functions are what the generated code calls: gradient bookkeeping as in
``autograd.backward``.

Example:
    >>> import numpy as np
    >>> from tinygrad_ae import Tensor, jit
    >>> step = jit(lambda x: Tensor(x).relu().sum())
    >>> _ = [step(np.ones(3, np.float32)) for _ in range(2)]
    >>> "np.maximum(A[0], 0, out=B[0])" in step.source()
    True
"""

from __future__ import annotations

import re

import numpy as np

from .. import autograd, conv
from ..autograd import unbroadcast
from ..tensor import Tensor  # noqa: F401  (the generated code wraps what it returns in it)


def as_array(data):
    """An op's result as an ndarray (a numpy scalar becomes a 0-d array), as ``Plan.run`` does.

    Example:
        >>> type(as_array(np.float32(1.0))).__name__
        'ndarray'
    """
    return data if type(data) is np.ndarray else np.asarray(data)


def accumulate(leaf, grad) -> None:
    """Add ``grad`` to ``leaf.grad`` in place, or set a copy when it has none (eager's rule).

    Example:
        >>> t = Tensor([1.0], requires_grad=True); accumulate(t, np.ones(1)); accumulate(t, np.ones(1))
        >>> t.grad
        array([2.], dtype=float32)
    """
    if not isinstance(leaf, Tensor):  # an array argument, not a tensor: nothing to accumulate into
        return
    if leaf.grad is None:
        leaf.grad = np.array(grad, dtype=leaf.dtype, copy=True)
    else:
        leaf.grad += grad


def add_grad(earlier, grad, shape, dtype):
    """``earlier + grad`` after summing ``grad`` down to ``shape`` and casting it (None: nothing).

    Example:
        >>> add_grad(None, np.ones((2, 3)), (3,), np.float32)
        array([2., 2., 2.], dtype=float32)
    """
    if grad is None:
        return earlier
    if grad.shape != shape:
        grad = unbroadcast(grad, shape)
    if grad.dtype != dtype:
        grad = grad.astype(dtype)
    return grad if earlier is None else earlier + grad


def sigmoid_into(a, out):
    """``Sigmoid.forward``'s formula, computed in ``out``: 1 / (1 + exp(-a)), exp(a) below -88.

    Example:
        >>> out = np.empty(2, np.float32)
        >>> sigmoid_into(np.array([0.0, -90.0], np.float32), out) is out, [f"{v:.3g}" for v in out]
        (True, ['0.5', '8.19e-40'])
    """
    with np.errstate(over="ignore"):
        np.negative(a, out=out)
        np.exp(out, out=out)
        np.add(1, out, out=out)
        np.divide(1, out, out=out)
    far = a < -88
    if far.any():
        out[far] = np.exp(a[far])
    return out


def windows_into(x, padding, padded, out):
    """``conv.image_windows(x, kernel, (1, 1), padding)`` written into arrays made once: ``padded``
    (N, H + 2 ph, W + 2 pw, C) takes the zero-padded channels-last image, ``out`` (N, OH, OW, kh,
    kw, C) its windows. The same copies as ``image_windows``, without allocating kh x kw times the
    image afresh at every step (at batch 32 a 28x28x32 layer's 3x3 windows are 29 MB).

    Example:
        >>> x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
        >>> padded, out = np.empty((1, 4, 4, 2), np.float32), np.empty((1, 2, 2, 3, 3, 2), np.float32)
        >>> np.array_equal(windows_into(x, (1, 1), padded, out), conv.image_windows(x, (3, 3), (1, 1), (1, 1)))
        True
    """
    (ph, pw), (n, c, h, w), (kh, kw) = padding, x.shape, out.shape[3:5]
    padded[:, :ph] = padded[:, ph + h:] = padded[:, :, :pw] = padded[:, :, pw + w:] = 0  # the border
    padded[:, ph:ph + h, pw:pw + w] = x.transpose(0, 2, 3, 1)
    np.copyto(out, conv._window_view(padded, (kh, kw), (1, 1)))
    return out


# ----------------------------------------------------------------- forward rules
# rule(plan, out, names, inputs, shape, dtype, options) -> lines, or None for "no rule here"


def _elementwise(function):
    def rule(plan, out, names, inputs, shape, dtype, options):
        return [f"{out} = np.{function}({', '.join(names)}, out={plan.buffer(shape, dtype)})"]
    return rule


def _relu(plan, out, names, inputs, shape, dtype, options):
    mask = plan.buffer(shape, bool)
    plan.saved[out] = mask
    return [f"{out} = np.maximum({names[0]}, 0, out={plan.buffer(shape, dtype)})", f"np.greater({names[0]}, 0, out={mask})"]


def _sigmoid(plan, out, names, inputs, shape, dtype, options):
    return [f"{out} = H.sigmoid_into({names[0]}, {plan.buffer(shape, dtype)})"]


def _square(plan, out, names, inputs, shape, dtype, options):
    if options.get("exponent") != 2:  # a ** 2 is numpy's square; other powers: the op's own forward
        return None
    return [f"{out} = np.square({names[0]}, out={plan.buffer(shape, dtype)})"]


def _product(a, b, a_shape, b_shape, result) -> str:
    """The call that computes the 2-D product ``a @ b`` into ``result`` as ``MatMul`` does: in
    blocks (``autograd.matmul_in_small_blocks``) when its size asks for them, else one np.matmul
    (decided here, from the shapes, instead of at every replay; so a step compiled before
    ``autograd.SPLIT_SMALL_PRODUCTS`` is switched keeps the setting it was compiled with)."""
    work = a_shape[0] * a_shape[1] * b_shape[1]
    if autograd.SPLIT_SMALL_PRODUCTS and autograd.ONE_THREAD_WORK < work <= autograd.SMALL_PRODUCT:
        return f"H.autograd.matmul_in_small_blocks({a}, {b}, out={result})"
    return f"np.matmul({a}, {b}, out={result})"


def _matmul(plan, out, names, inputs, shape, dtype, options):
    (a_shape, _), (b_shape, _) = inputs
    if len(a_shape) != 2 or len(b_shape) != 2:
        return None
    return [f"{out} = {_product(names[0], names[1], a_shape, b_shape, plan.buffer(shape, dtype))}"]


def _transpose(plan, out, names, inputs, shape, dtype, options):
    axes = options.get("axes")
    if axes is None:  # .T is np.transpose(a), the same view, without the function call
        return [f"{out} = {names[0]}.T"]
    return [f"{out} = np.transpose({names[0]}, {tuple(ax % len(inputs[0][0]) for ax in axes)})"]


def _sum(plan, out, names, inputs, shape, dtype, options):
    axis, keepdims = options.get("axis"), options.get("keepdims", False)
    # a.sum() is np.add.reduce(a) (numpy's own sum calls it); called directly, it skips a wrapper.
    # No out=: numpy may add up in another order when it writes into a given array.
    return [f"{out} = H.as_array(np.add.reduce({names[0]}, axis={axis!r}, keepdims={keepdims!r}))"]


def _convolution(plan, out, names, inputs, shape, dtype, options):
    """conv.ConvolutionWithConvolutionBackward.forward: windows, one matmul, + bias."""
    (x_shape, x_dtype), (w_shape, _) = inputs[:2]
    (n, _, oh, ow), (o, c, kh, kw) = shape, w_shape
    (ph, pw), rows, width = options.get("padding", (0, 0)), n * oh * ow, kh * kw * c  # the op's default
    padded = plan.buffer((n, x_shape[2] + 2 * ph, x_shape[3] + 2 * pw, c), x_dtype)
    windows, product = plan.buffer((n, oh, ow, kh, kw, c), x_dtype), plan.buffer((rows, o), dtype)
    plan.saved[out] = windows
    lines = [f"H.windows_into({names[0]}, {(ph, pw)}, {padded}, {windows})",
             f"np.matmul({windows}.reshape({rows}, {width}), H.conv._kernel_rows({names[1]}).T, out={product})"]
    if len(names) == 3:
        lines.append(f"np.add({product}, {names[2]}, out={product})")
    return lines + [f"{out} = {product}.reshape({n}, {oh}, {ow}, {o}).transpose(0, 3, 1, 2)"]


FORWARD = {autograd.Add: _elementwise("add"), autograd.Sub: _elementwise("subtract"),
           autograd.Mul: _elementwise("multiply"), autograd.ReLU: _relu, autograd.Sigmoid: _sigmoid,
           autograd.PowScalar: _square, autograd.MatMul: _matmul, autograd.Transpose: _transpose,
           autograd.Sum: _sum, conv.ConvolutionWithConvolutionBackward: _convolution}


# ----------------------------------------------------------------- backward rules
# rule(plan, g, names, inputs, out, shape, dtype, options, needs) -> (lines, [(expr, shape, dtype) or
# (None, None, None) per input]); g has the output's shape and dtype.


def _add_backward(plan, g, names, inputs, out, shape, dtype, options, needs):
    return [], [(g, shape, dtype), (g, shape, dtype)]                       # d/da = 1, d/db = 1


def _sub_backward(plan, g, names, inputs, out, shape, dtype, options, needs):
    if not needs[1]:
        return [], [(g, shape, dtype), (None, None, None)]
    negated = plan.buffer(shape, dtype)
    return [f"np.negative({g}, out={negated})"], [(g, shape, dtype), (negated, shape, dtype)]  # d/db = -1


def _mul_backward(plan, g, names, inputs, out, shape, dtype, options, needs):
    lines, results = [], []
    for need, other, (other_shape, other_dtype) in ((needs[0], names[1], inputs[1]), (needs[1], names[0], inputs[0])):
        if not need:
            results.append((None, None, None))
            continue
        kind, product_shape = np.result_type(dtype, other_dtype), tuple(np.broadcast_shapes(shape, other_shape))
        product = plan.buffer(product_shape, kind)
        lines.append(f"np.multiply({g}, {other}, out={product})")                # d/da = b, d/db = a
        results.append((product, product_shape, kind))
    return lines, results


def _relu_backward(plan, g, names, inputs, out, shape, dtype, options, needs):
    result = plan.buffer(shape, dtype)
    return [f"np.multiply({g}, {plan.saved[out]}, out={result})"], [(result, shape, dtype)]  # 1 where a > 0


def _sigmoid_backward(plan, g, names, inputs, out, shape, dtype, options, needs):
    first, second = plan.buffer(shape, dtype), plan.buffer(shape, dtype)
    return [f"np.multiply({g}, {out}, out={first})",                         # (grad * s) * (1 - s)
            f"np.subtract(1, {out}, out={second})",
            f"np.multiply({first}, {second}, out={first})"], [(first, shape, dtype)]


def _square_backward(plan, g, names, inputs, out, shape, dtype, options, needs):
    # grad * (2 * a ** 1): a ** 1 is a copy of a, so one product less. (Not a * (2 grad): where
    # 2 a overflows, or grad is 0 and 2 a is inf, that would not give eager's inf or NaN.)
    result = plan.buffer(shape, dtype)
    return [f"np.multiply({names[0]}, 2.0, out={result})", f"np.multiply({g}, {result}, out={result})"], \
        [(result, shape, dtype)]


def _matmul_backward(plan, g, names, inputs, out, shape, dtype, options, needs):
    (a_shape, a_dtype), (b_shape, b_dtype) = inputs
    lines, results = [], []
    for need, (a, a_shape_t), (b, b_shape_t), result_shape, kind in (
            (needs[0], (g, shape), (f"{names[1]}.T", b_shape[::-1]), (shape[0], b_shape[0]),    # dA = G @ B.T
             np.result_type(dtype, b_dtype)),
            (needs[1], (f"{names[0]}.T", a_shape[::-1]), (g, shape), (a_shape[1], shape[1]),    # dB = A.T @ G
             np.result_type(a_dtype, dtype))):
        if not need:
            results.append((None, None, None))
            continue
        result = plan.buffer(result_shape, kind)
        lines.append(_product(a, b, a_shape_t, b_shape_t, result))
        results.append((result, result_shape, kind))
    return lines, results


def _transpose_backward(plan, g, names, inputs, out, shape, dtype, options, needs):
    (in_shape, in_dtype), axes = inputs[0], options.get("axes")
    if axes is None:
        return [], [(f"{g}.T", tuple(in_shape), dtype)]
    inverse = tuple(int(i) for i in np.argsort([ax % len(in_shape) for ax in axes]))
    return [], [(f"np.transpose({g}, {inverse})", tuple(in_shape), dtype)]   # the inverse permutation


def _sum_backward(plan, g, names, inputs, out, shape, dtype, options, needs):
    in_shape = tuple(inputs[0][0])
    kept = autograd._keepdims_shape(in_shape, options.get("axis"))      # each element gets its sum's grad
    return [], [(f"np.broadcast_to({g}.reshape({kept}), {in_shape})", in_shape, dtype)]


def _convolution_backward(plan, g, names, inputs, out, shape, dtype, options, needs):
    """ConvolutionWithConvolutionBackward.backward, with the windows of G in arrays made once."""
    (x_shape, x_dtype), (w_shape, w_dtype) = inputs[:2]
    (n, _, oh, ow), (o, c, kh, kw), (ph, pw) = shape, w_shape, options.get("padding", (0, 0))
    rows, windows = n * oh * ow, plan.saved[out]  # the forward's windows of x, kept for dW
    # the temporaries are named g<n>_<i>_...: share_buffers follows names of that form (_NAME)
    lines = [f"{g}_rows = np.ascontiguousarray({g}.transpose(0, 2, 3, 1)).reshape({rows}, {o})"]
    results = [(None, None, None)] * len(names)
    if needs[1]:                                                          # dW = windows(x)^T @ G
        kind = np.result_type(dtype, x_dtype)
        dkernels = plan.buffer((o, kh * kw * c), kind)
        lines.append(f"np.matmul({g}_rows.T, {windows}.reshape({rows}, {kh * kw * c}), out={dkernels})")
        results[1] = (f"{dkernels}.reshape({o}, {kh}, {kw}, {c}).transpose(0, 3, 1, 2)", tuple(w_shape), kind)
    if len(names) == 3 and needs[2]:                                      # db = sum of G
        lines.append(f"{g}_db = {g}_rows.sum(axis=0)")
        results[2] = (f"{g}_db", (o,), dtype)
    if needs[0]:                  # dx = G padded by k-1-p (or cropped), correlated with W turned 180 degrees
        (crop_h, crop_w), (pad_h, pad_w) = conv._gradient_crop_and_pad((kh, kw), (ph, pw))
        h, w = x_shape[2:]
        g_padded = plan.buffer((n, oh - 2 * crop_h + 2 * pad_h, ow - 2 * crop_w + 2 * pad_w, o), dtype)
        g_windows = plan.buffer((n, h, w, kh, kw, o), dtype)
        kind = np.result_type(dtype, w_dtype)
        dx = plan.buffer((n * h * w, c), kind)
        lines += [f"H.windows_into({g}[:, :, {crop_h}:{oh - crop_h}, {crop_w}:{ow - crop_w}], {(pad_h, pad_w)}, "
                  f"{g_padded}, {g_windows})",
                  f"np.matmul({g_windows}.reshape({n * h * w}, {kh * kw * o}), "
                  f"H.conv._turned_kernels({names[1]}).T, out={dx})"]
        results[0] = (f"{dx}.reshape({n}, {h}, {w}, {c}).transpose(0, 3, 1, 2)", tuple(x_shape), kind)
    return lines, results


BACKWARD = {autograd.Transpose: _transpose_backward, autograd.Sum: _sum_backward, autograd.Add: _add_backward, autograd.Sub: _sub_backward, autograd.Mul: _mul_backward,
            autograd.ReLU: _relu_backward, autograd.Sigmoid: _sigmoid_backward,
            autograd.PowScalar: _square_backward, autograd.MatMul: _matmul_backward,
            conv.ConvolutionWithConvolutionBackward: _convolution_backward}


# ----------------------------------------------------------------- sharing arrays between ops
_BUFFER = re.compile(r"\bB\[(\d+)\]")
_NAME = re.compile(r"\b(?:v\d+|g\d+_\w+|r)\b")
_WRITES_INTO = re.compile(r"(?:np\.[\w.]+|H\.sigmoid_into|H\.autograd\.matmul_in_small_blocks)\(.*\bB\[(\d+)\]\)")


def share_buffers(lines: list, specs: list):
    """Let ops whose arrays are never alive at the same time write into the same one.

    ``lines`` is generated code in which ``B[k]`` is the k-th array of ``specs`` ((shape,
    dtype, ...) each; arrays share only when their specs are equal). An array is alive from the first line that uses it to the last, where a
    line uses it when it names it, or names a variable that may point into it (a view, an
    alias, an op's saved input mentioned in the line's comment). A later array of the same
    shape and dtype that starts after one has died takes its place. Fewer arrays means the
    step's data stays in the processor's cache. Returns the rewritten lines and the specs of
    the arrays left.

    Example:
        >>> lines = ["v0 = np.exp(A[0], out=B[0])", "v1 = np.exp(v0, out=B[1])", "v2 = np.exp(v1, out=B[2])"]
        >>> new, left = share_buffers(lines, [((3,), np.float32)] * 3)
        >>> new[2], len(left)                   # B[0] died on line 1, so line 2 writes into it again
        ('v2 = np.exp(v1, out=B[0])', 2)
    """
    aliases, first, last = {}, {}, {}
    for n, line in enumerate(lines):
        used = {int(k) for k in _BUFFER.findall(line)}
        for name in _NAME.findall(line):
            used |= aliases.get(name, set())
        code = line.split("  #")[0].strip()
        target, _, expr = code.partition(" = ")
        if expr and _NAME.fullmatch(target) and expr != "None" and " = " not in expr:
            written = _WRITES_INTO.fullmatch(expr)
            # a rule's result is its own array; anything else may point into what it read
            aliases[target] = {int(written.group(1))} if written else aliases.get(target, set()) | used
        for k in used:
            first.setdefault(k, n)
            last[k] = n
    physical, home = [], {}  # physical: [(spec, line after which it is free)]
    for k in sorted(first, key=first.get):
        spec = (tuple(specs[k][0]), np.dtype(specs[k][1])) + tuple(specs[k][2:])
        for j, (p_spec, free_after) in enumerate(physical):
            if p_spec == spec and free_after < first[k]:
                break
        else:
            physical.append(None)
            j = len(physical) - 1
        physical[j] = (spec, last[k])
        home[k] = j
    rewritten = [_BUFFER.sub(lambda m: f"B[{home[int(m.group(1))]}]", line) for line in lines]
    return rewritten, [spec for spec, _ in physical]
