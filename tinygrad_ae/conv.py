"""Convolution is windows + one matmul: every output pixel is a dot product of the kernel
with the window of the input under it. Gather all windows into a matrix, one row per
output pixel, and a whole layer is a single matrix product with the reshaped kernels.

The one new primitive here is :class:`Windows`, the sliding-window view (im2col). Its
backward scatters each window's gradient back onto the pixels it came from, adding where
windows overlap. Everything else is composed of Tensor ops, so autodiff writes the rest
of the backward pass: ``conv2d`` (windows, matmul, bias), ``max_pool2d`` and
``avg_pool2d`` (windows, then max or mean), ``upsample2d`` (broadcasting) and ``pad2d``
(concatenation with zeros). Images are NCHW (batch, channels, height, width) as in
PyTorch; inside, the windows are channels-last, (N, OH, OW, kh, kw, C), so that the
channels of one pixel sit side by side in memory, which makes the gather, the matmul and
the scatter fast. At the end of the file sits the fast path that ``conv2d`` takes at stride 1:
the same forward as one op, whose backward gets the input gradient as a second convolution
(switch: ``CONV2D_BACKWARD_AS_CONVOLUTION``). Read next: ``layers.py`` (``Conv2D`` and friends).

Example:
    >>> import numpy as np
    >>> from tinygrad_ae import Tensor
    >>> x = Tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    >>> conv2d(x, Tensor.ones(1, 1, 2, 2), stride=2).data   # sums of 2x2 blocks
    array([[[[10., 18.],
             [42., 50.]]]], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from ._support.checks import whole_number
from .autograd import Function
from .tensor import Tensor, concatenate


def as_pair(value, what: str, low: int = 1) -> tuple:
    """``3 -> (3, 3)``; ``(3, 2)`` stays; anything else is an error that says what was wrong.

    Example:
        >>> as_pair(3, "kernel"), as_pair([3, 2], "kernel")
        ((3, 3), (3, 2))
    """
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    checked = tuple(whole_number(v) for v in pair)
    if len(pair) != 2 or any(v is None or v < low for v in checked):
        raise ValueError(f"{what} must be a whole number >= {low} or a pair of them, got {value!r}")
    return checked


def image_windows(x: np.ndarray, kernel, stride, padding) -> np.ndarray:
    """The windows of an NCHW array as a new channels-last array (N, OH, OW, kh, kw, C).

    Example:
        >>> image_windows(np.zeros((2, 3, 5, 5)), (3, 3), (1, 1), (1, 1)).shape
        (2, 5, 5, 3, 3, 3)
    """
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (batch, channels, height, width), got shape {x.shape}")
    (kh, kw), (ph, pw) = kernel, padding
    n, c, h, w = x.shape
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(f"the {kh}x{kw} kernel is larger than the padded {h + 2 * ph}x{w + 2 * pw} input "
                         f"(input {x.shape}, padding {padding}); use a smaller kernel or more padding")
    channels_last = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    return np.ascontiguousarray(_window_view(channels_last, kernel, stride))


def _window_view(padded, kernel, stride):
    """The windows of a padded channels-last array (N, H, W, C) as a view (N, OH, OW, kh, kw, C),
    no copy (jit's generated code copies it into an array made once instead)."""
    view = np.lib.stride_tricks.sliding_window_view(padded, kernel, axis=(1, 2))[:, ::stride[0], ::stride[1]]
    return view.transpose(0, 1, 2, 4, 5, 3)


class Windows(Function):
    """Every kh x kw window of an NCHW image, channels-last: out[n, i, j, a, b, c] =
    padded[n, c, i*sh + a, j*sw + b]. d/dx = each window's grad added back onto its pixels.

    Forward copies each window out of the zero-padded input (im2col). A pixel appears in
    several windows when they overlap, so its gradient is the sum of the gradients of all
    its copies: backward adds them up, one strided slice per kernel offset (kh*kw adds,
    no loop over pixels), and crops the padding away.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> x = Tensor(np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3), requires_grad=True)
        >>> w = Windows.apply(x, kernel=(2, 2), stride=(1, 1), padding=(0, 0))
        >>> w.shape, w.data[0, 0, 0, :, :, 0]      # (N, OH, OW, kh, kw, C); the first window
        ((1, 2, 2, 2, 2, 1), array([[0., 1.],
               [3., 4.]], dtype=float32))
        >>> w.sum().backward(); x.grad[0, 0]      # how many windows each pixel is in
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]], dtype=float32)
    """

    rule = "d/dx = sum of the grads of every window copy of each pixel (scatter-add)"

    def forward(self, x, kernel, stride, padding):
        self.x_shape, self.kernel, self.stride, self.padding = x.shape, kernel, stride, padding
        return image_windows(x, kernel, stride, padding)

    def backward(self, grad):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        n, c, h, w = self.x_shape
        oh, ow = grad.shape[1:3]
        padded = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=grad.dtype)
        for a in range(kh):          # one strided add per kernel offset
            for b in range(kw):
                padded[:, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw] += grad[:, :, :, a, b]
        return (padded[:, ph:ph + h, pw:pw + w].transpose(0, 3, 1, 2),)


def windows(x: Tensor, kernel, stride=1, padding=0) -> Tensor:
    """The windows of ``x`` (N, C, H, W) as a tensor (N, OH, OW, kh, kw, C); see :class:`Windows`.

    OH = (H + 2 * padding - kh) // stride + 1, and the same for OW.

    Example:
        >>> windows(Tensor.zeros(2, 3, 5, 5), kernel=3, padding=1).shape
        (2, 5, 5, 3, 3, 3)
    """
    return Windows.apply(x, kernel=as_pair(kernel, "kernel"), stride=as_pair(stride, "stride"),
                         padding=as_pair(padding, "padding", low=0))


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch): ``x`` (N, C, H, W), ``weight``
    (out_channels, C, kh, kw), ``bias`` (out_channels,) -> (N, out_channels, OH, OW).

    Composed: the windows as a matrix (one row per output pixel) times the kernels as a
    matrix (one column per output channel). Its backward is therefore the matmul's two
    products (dW = windows^T @ G, dwindows = G @ W) and the windows' scatter-add. At stride 1
    it runs as one op with the same numbers and a faster backward
    (:class:`ConvolutionWithConvolutionBackward`, at the end of this file).

    Example:
        >>> x = Tensor(np.ones((1, 2, 3, 3)))
        >>> conv2d(x, Tensor(np.ones((4, 2, 3, 3))), padding=1).shape
        (1, 4, 3, 3)
        >>> conv2d(x, Tensor(np.ones((4, 3, 3, 3))))
        Traceback (most recent call last):
        ...
        ValueError: conv2d: the input has 2 channels (shape (1, 2, 3, 3)) but the weight (4, 3, 3, 3) expects 3
    """
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must have shape (out_channels, in_channels, kh, kw), got {weight.shape}")
    out_channels, in_channels, kh, kw = weight.shape
    if x.ndim == 4 and x.shape[1] != in_channels:
        raise ValueError(f"conv2d: the input has {x.shape[1]} channels (shape {x.shape}) but the weight "
                         f"{weight.shape} expects {in_channels}")
    if CONV2D_BACKWARD_AS_CONVOLUTION and as_pair(stride, "stride") == (1, 1):
        return ConvolutionWithConvolutionBackward.apply(x, weight, *([] if bias is None else [bias]),
                                                        padding=as_pair(padding, "padding", low=0))
    cols = windows(x, (kh, kw), stride, padding)                   # (N, OH, OW, kh, kw, C)
    n, oh, ow = cols.shape[:3]
    kernels = weight.transpose(0, 2, 3, 1).reshape(out_channels, kh * kw * in_channels)  # rows in the same order
    out = cols.reshape(n * oh * ow, kh * kw * in_channels) @ kernels.T  # one matmul for the whole layer
    if bias is not None:
        out = out + bias
    return out.reshape(n, oh, ow, out_channels).transpose(0, 3, 1, 2)


def max_pool2d(x: Tensor, kernel, stride=None) -> Tensor:
    """The largest value of each window, per channel; ``stride`` defaults to ``kernel``.

    Example:
        >>> x = Tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
        >>> max_pool2d(x, 2).data
        array([[[[ 5.,  7.],
                 [13., 15.]]]], dtype=float32)
    """
    cols = windows(x, kernel, kernel if stride is None else stride)
    n, oh, ow, kh, kw, c = cols.shape
    return cols.reshape(n, oh, ow, kh * kw, c).max(axis=3).transpose(0, 3, 1, 2)


def avg_pool2d(x: Tensor, kernel, stride=None) -> Tensor:
    """The mean of each window, per channel; ``stride`` defaults to ``kernel``.

    Example:
        >>> avg_pool2d(Tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)), 2).data
        array([[[[ 2.5,  4.5],
                 [10.5, 12.5]]]], dtype=float32)
    """
    cols = windows(x, kernel, kernel if stride is None else stride)
    n, oh, ow, kh, kw, c = cols.shape
    return cols.reshape(n, oh, ow, kh * kw, c).mean(axis=3).transpose(0, 3, 1, 2)


def upsample2d(x: Tensor, scale) -> Tensor:
    """Nearest-neighbour upsampling: each pixel becomes a ``scale`` x ``scale`` block.

    Composed as a broadcast: (N, C, H, 1, W, 1) times ones (sh, 1, sw), so its backward
    (unbroadcast) sums each block's gradient back onto its pixel.

    Example:
        >>> upsample2d(Tensor([[[[1.0, 2.0]]]]), 2).data
        array([[[[1., 1., 2., 2.],
                 [1., 1., 2., 2.]]]], dtype=float32)
    """
    sh, sw = as_pair(scale, "scale")
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h, 1, w, 1) * np.ones((sh, 1, sw), dtype=x.dtype)
    return blocks.reshape(n, c, h * sh, w * sw)


def pad2d(x: Tensor, padding) -> Tensor:
    """Zeros around the last two axes: ``padding`` rows above and below, columns left and right.

    Composed with ``concatenate``, whose backward hands the middle piece's gradient back.

    Example:
        >>> pad2d(Tensor.ones(1, 1, 1, 2), 1).data[0, 0]
        array([[0., 0., 0., 0.],
               [0., 1., 1., 0.],
               [0., 0., 0., 0.]], dtype=float32)
    """
    ph, pw = as_pair(padding, "padding", low=0)
    *lead, h, w = x.shape
    if pw:
        side = Tensor.zeros(*lead, h, pw, dtype=x.dtype)
        x = concatenate([side, x, side], axis=-1)
    if ph:
        top = Tensor.zeros(*lead, ph, w + 2 * pw, dtype=x.dtype)
        x = concatenate([top, x, top], axis=-2)
    return x


# ----------------------------------------------------------------- the fast path
# conv2d above is the one to read. Its backward, written by autodiff, makes the gradient of
# every window copy (G @ kernels: a matrix as big as the windows) and scatter-adds it onto
# the pixels, kh*kw read-modify-write passes. The same input gradient is a convolution of
# the output gradient with the kernels turned by 180 degrees, which costs one more windows
# copy and a matmul of the forward's shape: training steps of the shipped conv denoisers ran
# 1.6x faster with it (one BLAS thread; python benchmarks/bench_conv.py and --plain compare).
# conv2d uses it for stride 1 while this switch is on; tests/test_conv.py checks that both
# paths give the same numbers. A compiled step (jit) runs this op from code written by
# _convolution in _support/jit_rules.py: the same copies and matmuls, into arrays made once.
CONV2D_BACKWARD_AS_CONVOLUTION = True


class ConvolutionWithConvolutionBackward(Function):
    """conv2d with stride 1 as one op: out = windows(x) @ kernels^T + b, and
    dW = windows(x)^T @ G, db = sum of G, dx = conv2d(G padded by k-1-p, kernels turned 180 degrees).

    Why the turned kernels: out[y] = sum_a x[y + a - p] w[a] (one axis, one channel), so
    x[i] reaches out[i - a + p] with weight w[a], and dx[i] = sum_a G[i + p - a] w[a]: a
    correlation of G, padded by k-1-p, with w read backwards. Input and output channels
    swap roles, as in the matmul's transpose.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> x = Tensor(np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3), requires_grad=True)
        >>> w = Tensor(np.ones((1, 1, 2, 2), np.float32), requires_grad=True)
        >>> ConvolutionWithConvolutionBackward.apply(x, w, padding=(0, 0)).sum().backward()
        >>> x.grad[0, 0]                  # how many windows each pixel is in, as for Windows
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]], dtype=float32)
    """

    rule = "dW = windows(x)^T @ G, db = sum G, dx = correlate(pad(G, k-1-p), W turned 180 degrees)"

    def forward(self, x, weight, bias=None, padding=(0, 0)):
        out_channels, _, kh, kw = weight.shape
        cols = image_windows(x, (kh, kw), (1, 1), padding)           # (N, OH, OW, kh, kw, C)
        n, oh, ow = cols.shape[:3]
        out = cols.reshape(n * oh * ow, -1) @ _kernel_rows(weight).T
        if bias is not None:
            out += bias
        self.saved = (cols, weight, padding)
        return out.reshape(n, oh, ow, out_channels).transpose(0, 3, 1, 2)

    def backward(self, grad):
        cols, weight, (ph, pw) = self.saved
        out_channels, in_channels, kh, kw = weight.shape
        n, oh, ow = cols.shape[:3]
        # channels-last rows, always laid out alike (a copy unless grad is channels-last already),
        # so that the matmuls below add up in the same order whatever layout grad arrives in
        g = np.ascontiguousarray(grad.transpose(0, 2, 3, 1)).reshape(n * oh * ow, out_channels)
        grads = [None] * len(self.needs_input_grad)  # x, weight and, when given, bias
        if self.needs_input_grad[1]:
            dkernels = g.T @ cols.reshape(n * oh * ow, -1)
            grads[1] = dkernels.reshape(out_channels, kh, kw, in_channels).transpose(0, 3, 1, 2)
        if len(grads) == 3 and self.needs_input_grad[2]:
            grads[2] = g.sum(axis=0)
        if self.needs_input_grad[0]:
            (crop_h, crop_w), g_padding = _gradient_crop_and_pad((kh, kw), (ph, pw))
            g_image = grad[:, :, crop_h:oh - crop_h, crop_w:ow - crop_w]
            g_cols = image_windows(g_image, (kh, kw), (1, 1), g_padding)
            h, w = g_cols.shape[1:3]
            dx = g_cols.reshape(n * h * w, -1) @ _turned_kernels(weight).T
            grads[0] = dx.reshape(n, h, w, in_channels).transpose(0, 3, 1, 2)
        return tuple(grads)


def _gradient_crop_and_pad(kernel, padding):
    """How G must be cropped and then padded, per side, for dx's convolution: padded by k-1-p;
    when the forward's padding p was wider than k-1, cropped by p-(k-1) instead.

    Example:
        >>> _gradient_crop_and_pad((3, 3), (1, 0)), _gradient_crop_and_pad((3, 1), (3, 0))
        (((0, 0), (1, 2)), ((1, 0), (0, 0)))
    """
    (kh, kw), (ph, pw) = kernel, padding
    return (max(0, ph - (kh - 1)), max(0, pw - (kw - 1))), (max(0, kh - 1 - ph), max(0, kw - 1 - pw))


def _kernel_rows(weight):
    """The kernels as the matrix (out_channels, kh * kw * in_channels) whose rows are laid out as
    a window's values (channels last), so that windows @ rows.T is the convolution.

    Example:
        >>> _kernel_rows(np.arange(8.0).reshape(1, 2, 2, 2))
        array([[0., 4., 1., 5., 2., 6., 3., 7.]])
    """
    out_channels, in_channels, kh, kw = weight.shape
    return weight.transpose(0, 2, 3, 1).reshape(out_channels, kh * kw * in_channels)


def _turned_kernels(weight):
    """The kernels turned by 180 degrees with input and output channels swapped, as the matrix
    (in_channels, kh * kw * out_channels) that dx's convolution multiplies G's windows with.

    Example:
        >>> _turned_kernels(np.arange(4.0).reshape(1, 1, 2, 2))
        array([[3., 2., 1., 0.]])
    """
    out_channels, in_channels, kh, kw = weight.shape
    return weight[:, :, ::-1, ::-1].transpose(1, 2, 3, 0).reshape(in_channels, kh * kw * out_channels)
