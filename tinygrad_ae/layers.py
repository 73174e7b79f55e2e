"""``Dense`` layers and their activations, ``Dropout`` and normalisation, written with Tensor ops only.

A layer owns its parameters (``W`` of shape ``(out, in)`` and ``b`` of shape ``(out,)``, as the
seed notebook prints them) and computes ``activation(x @ W.T + b)``. There is no backward
here: autodiff of those few ops is the layer's backward. Layers that behave differently while
training (``Dropout``, ``BatchNorm``) have a ``training`` attribute, True by default, which
``model.train()`` and ``model.eval()`` set. Read next: ``nn.py``.

Example:
    >>> from tinygrad_ae import Dense, Tensor
    >>> layer = Dense(3, 2, activation="sigmoid", seed=0)
    >>> layer(Tensor.ones(4, 3)).shape
    (4, 2)
"""

from __future__ import annotations

import numpy as np

from ._support.checks import checked_number, whole_number
from .autograd import seen_by_jit
from .conv import as_pair, conv2d, max_pool2d, upsample2d
from .tensor import Tensor, concatenate


class Activation:
    """An elementwise nonlinearity, by name: ``Activation("relu")(x)`` is ``x.relu()``.

    ============  =========================  ==========================================
    name          computes                   typical use
    ============  =========================  ==========================================
    ``relu``      max(x, 0)                  hidden layers (the default)
    ``sigmoid``   1 / (1 + e^-x), in (0, 1)  pixel intensities, probabilities
    ``tanh``      tanh(x), in (-1, 1)        hidden layers of small nets
    ``softmax``   rows that sum to 1         class probabilities
    ``identity``  x (also ``"linear"``)      a linear layer, a regression output
    ============  =========================  ==========================================

    and, as in PyTorch: ``leaky_relu`` (slope 0.01 below 0), ``elu``, ``gelu`` (exact, with
    erf), ``gelu_tanh`` (its tanh approximation), ``softplus``, ``silu`` (also ``swish``),
    ``log_sigmoid``, ``relu6`` and ``hardtanh``: each the Tensor method of that name. The
    printed names (``"LeakyReLU"``, ``"GELU(tanh)"``, ...) are accepted too, so a saved model's
    activations load back.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Activation("relu")(Tensor([-1.0, 2.0])).data
        array([0., 2.], dtype=float32)
        >>> Activation("linear").name
        'Identity'
    """

    # name -> (the name printed in summaries, the Tensor method that computes it)
    KINDS = {
        "relu": ("ReLU", Tensor.relu),
        "sigmoid": ("Sigmoid", Tensor.sigmoid),
        "tanh": ("Tanh", Tensor.tanh),
        "softmax": ("Softmax", Tensor.softmax),
        "identity": ("Identity", lambda x: x),
        "leaky_relu": ("LeakyReLU", Tensor.leaky_relu),
        "elu": ("ELU", Tensor.elu),
        "gelu": ("GELU", Tensor.gelu),
        "gelu_tanh": ("GELU(tanh)", lambda x: x.gelu(approximate="tanh")),
        "softplus": ("Softplus", Tensor.softplus),
        "silu": ("SiLU", Tensor.silu),
        "log_sigmoid": ("LogSigmoid", Tensor.log_sigmoid),
        "relu6": ("ReLU6", Tensor.relu6),
        "hardtanh": ("Hardtanh", Tensor.hardtanh),
    }
    ALIASES = {"linear": "identity", "none": "identity", "swish": "silu",
               **{printed.lower(): key for key, (printed, _) in KINDS.items()}}

    def __init__(self, name: str = "identity"):
        key = str(name).lower()
        key = self.ALIASES.get(key, key)
        if key not in self.KINDS:
            choices = sorted(set(self.KINDS) | set(self.ALIASES))
            raise ValueError(f"unknown activation {name!r}; choose one of {choices}")
        self.key = key
        self.name, self._compute = self.KINDS[key]

    def __call__(self, x: Tensor) -> Tensor:
        return self._compute(x)

    def __repr__(self) -> str:
        return f"Activation({self.key!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Activation) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


def get_activation(spec) -> Activation:
    """An activation from a name (any case), an ``Activation``, or None (the identity).

    Example:
        >>> get_activation("ReLU").name, get_activation(None).name
        ('ReLU', 'Identity')
    """
    if spec is None:
        return Activation("identity")
    if isinstance(spec, Activation):
        return spec
    return Activation(spec)


def _weight_dtype(dtype) -> np.dtype:
    """``dtype`` as float32 or float64, the two dtypes a layer's weights may have."""
    try:
        found = None if dtype is None else np.dtype(dtype)  # np.dtype(None) would be float64
    except (TypeError, ValueError):
        found = None
    if found not in (np.float32, np.float64):
        raise ValueError(f"Dense weights are float32 or float64, got dtype {dtype!r}")
    return found


class Dense:
    """A fully connected layer: ``activation(x @ W.T + b)``.

    Args:
        in_features, out_features: sizes of the input and output vectors.
        activation: "relu" (the default, as in the seed's hidden layer), "sigmoid", "tanh",
            "softmax", "identity" (or "linear"), or an ``Activation``.
        seed: an int or ``numpy.random.Generator``, for reproducible initial weights.
        bias_init: the initial value of every bias (0 by default; a small positive value
            keeps ReLU units alive at the start of training).
        dtype: ``np.float32`` (the default) or ``np.float64`` for the weights and biases.
        init: how the weights start, by name (a key of ``Dense.INITS``); None (the default)
            picks ``"he"`` for ReLU and ``"glorot"`` otherwise.

    ==========================  ==========================================================
    ``init``                    weights drawn from
    ==========================  ==========================================================
    ``"he"``, ``"kaiming"``     normal, std sqrt(2 / in): for ReLU, whose outputs are half zeros
    ``"xavier"``, ``"glorot"``  uniform in +-sqrt(6 / (in + out)): for tanh, sigmoid, linear
    ``"normal"``                normal, std 1 / sqrt(in) (LeCun)
    ``"uniform"``               uniform in +-1 / sqrt(in), PyTorch's ``nn.Linear`` default
    ==========================  ==========================================================

    Each keeps the signal's variance roughly constant from layer to layer.

    Example:
        >>> layer = Dense(784, 10)
        >>> layer.W.shape, layer.b.shape, layer.activation.name
        ((10, 784), (10,), 'ReLU')
    """

    # name -> the weights' scale: ("normal", std) or ("uniform", limit), from (in, out)
    INITS = {
        "he": lambda n_in, n_out: ("normal", np.sqrt(2.0 / n_in)),
        "glorot": lambda n_in, n_out: ("uniform", np.sqrt(6.0 / (n_in + n_out))),
        "normal": lambda n_in, n_out: ("normal", np.sqrt(1.0 / n_in)),
        "uniform": lambda n_in, n_out: ("uniform", np.sqrt(1.0 / n_in)),
    }
    INIT_ALIASES = {"kaiming": "he", "xavier": "glorot"}

    def __init__(self, in_features: int, out_features: int, activation="relu", seed=None,
                 bias_init: float = 0.0, dtype=np.float32, init: str | None = None):
        for label, value in (("in_features", in_features), ("out_features", out_features)):
            if whole_number(value) is None or value < 1:
                raise ValueError(f"Dense needs a positive whole number for {label}, got {value!r}")
        in_features, out_features = whole_number(in_features), whole_number(out_features)
        bias_init = checked_number("Dense's bias_init", bias_init, hint=" (0 by default, 0.1 keeps ReLUs alive)")
        activation = get_activation(activation)
        dtype = _weight_dtype(dtype)
        if init is None:
            init = "he" if activation.key == "relu" else "glorot"
        key = self.INIT_ALIASES.get(str(init).lower(), str(init).lower())
        if key not in self.INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {sorted(set(self.INITS) | set(self.INIT_ALIASES))}")
        rng = np.random.default_rng(seed)
        shape = (out_features, in_features)
        kind, scale = self.INITS[key](in_features, out_features)
        # the same draws as before init existed (standard normal times std), so seeds replay
        weights = rng.standard_normal(shape) * scale if kind == "normal" else rng.uniform(-scale, scale, shape)
        self._adopt(weights.astype(dtype), np.full(out_features, bias_init, dtype=dtype), activation)
        self.init = key

    @classmethod
    def from_arrays(cls, W, b, activation="relu") -> "Dense":
        """A layer with the given weights ``W`` (out, in) and biases ``b`` (out,), drawn from no rng.

        ``W`` and ``b`` must be float32 or float64 arrays of the same dtype; the layer keeps that
        dtype and shares their memory (as ``Tensor`` does). ``MLP.load`` builds its layers so.

        Example:
            >>> layer = Dense.from_arrays(np.ones((2, 3)), np.zeros(2), "linear")
            >>> layer
            Dense(3, 2, activation='Identity', dtype='float64')
        """
        W, b = np.asarray(W), np.asarray(b)
        if W.ndim != 2 or 0 in W.shape or b.shape != W.shape[:1] or W.dtype != b.dtype:
            raise ValueError(f"Dense.from_arrays needs W of shape (out, in) and b of shape (out,) "
                             f"with the same dtype, got W {W.shape} {W.dtype} and b {b.shape} {b.dtype}")
        _weight_dtype(W.dtype)
        layer = cls.__new__(cls)
        layer._adopt(W, b, get_activation(activation))
        layer.init = None  # not drawn: given
        return layer

    def _adopt(self, W, b, activation) -> None:
        self.out_features, self.in_features = W.shape
        self.activation = activation
        self.W = Tensor(W, requires_grad=True, name="W")
        self.b = Tensor(b, requires_grad=True, name="b")

    def forward(self, x: Tensor) -> Tensor:
        """``activation(x @ W.T + b)`` for a batch ``x`` of shape ``(n, in_features)``."""
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"{self!r} expects inputs with {self.in_features} features in the last axis, "
                f"got shape {x.shape}"
            )
        return self.activation(x @ self.W.T + self.b)

    __call__ = forward

    def named_parameters(self) -> list:
        """``[("W", W), ("b", b)]``: the trainable tensors with their names."""
        return [("W", self.W), ("b", self.b)]

    def parameters(self) -> list:
        """``[W, b]``: what an optimizer updates. ``len(Dense(2, 3).parameters()) == 2``."""
        return [self.W, self.b]

    @property
    def num_parameters(self) -> int:
        """Weights plus biases: ``Dense(784, 10).num_parameters == 7850``."""
        return self.W.size + self.b.size

    def __repr__(self) -> str:
        dtype = "" if self.W.data.dtype == np.float32 else f", dtype={self.W.data.dtype.name!r}"
        return f"Dense({self.in_features}, {self.out_features}, activation={self.activation.name!r}{dtype})"


    def output_shape(self, input_shape: tuple) -> tuple:
        """The shape of one sample's output: ``Dense(784, 10).output_shape((784,)) == (10,)``."""
        return tuple(input_shape[:-1]) + (self.out_features,)

    def config(self) -> dict:
        """What a model file stores to rebuild this layer (the weights are stored apart)."""
        return {"type": "Dense", "in_features": self.in_features, "out_features": self.out_features,
                "activation": self.activation.name}


# ------------------------------------------------------------------ image layers
# Every layer below has the same small protocol as Dense: call it on a batch, list its
# named_parameters (none for most), say its output_shape for one sample, and give the
# config() a model file stores. ``training`` is set by model.train() / model.eval().


class Layer:
    """What the image layers share: no parameters by default, ``training`` on, a short repr."""

    training = True

    def named_parameters(self) -> list:
        """``[]``: this layer has nothing to train (Conv2D overrides it)."""
        return []

    def parameters(self) -> list:
        """The trainable tensors, for an optimizer."""
        return [t for _, t in self.named_parameters()]

    @property
    def num_parameters(self) -> int:
        """Number of trainable numbers: ``Flatten().num_parameters == 0``."""
        return sum(t.size for t in self.parameters())

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({arguments})"


class Conv2D(Layer):
    """A convolution layer: ``activation(conv2d(x, W, b, stride, padding))`` on NCHW images.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size: an int or a pair (kh, kw).
        stride: step between windows. padding: zeros around the image, an int, a pair,
            or "same" (kernel_size // 2: the output keeps the size at stride 1).
        activation, seed, bias_init: as for ``Dense``.

    ``W`` has shape (out_channels, in_channels, kh, kw), as in PyTorch; He-normal start
    (std sqrt(2 / fan_in), fan_in = in_channels * kh * kw) for ReLU, Glorot otherwise.

    Example:
        >>> layer = Conv2D(1, 8, 3, padding="same", seed=0)
        >>> layer(Tensor.zeros(2, 1, 28, 28)).shape, layer.W.shape
        ((2, 8, 28, 28), (8, 1, 3, 3))
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, padding="same",
                 activation="relu", seed=None, bias_init: float = 0.0):
        for label, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if whole_number(value) is None or value < 1:
                raise ValueError(f"Conv2D needs a positive whole number for {label}, got {value!r}")
        self.in_channels, self.out_channels = whole_number(in_channels), whole_number(out_channels)
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        self.stride = as_pair(stride, "stride")
        self.padding = tuple(k // 2 for k in self.kernel_size) if padding == "same" else as_pair(padding, "padding", low=0)
        self.activation = get_activation(activation)
        rng = np.random.default_rng(seed)
        fan_in, fan_out = (self.in_channels * int(np.prod(self.kernel_size)),
                           self.out_channels * int(np.prod(self.kernel_size)))
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        if self.activation.key == "relu":
            weights = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        else:
            weights = rng.uniform(-1, 1, shape) * np.sqrt(6.0 / (fan_in + fan_out))
        self.W = Tensor(weights.astype(np.float32), requires_grad=True, name="W")
        self.b = Tensor(np.full(self.out_channels, bias_init, dtype=np.float32), requires_grad=True, name="b")

    def forward(self, x: Tensor) -> Tensor:
        """``activation(conv2d(x, W, b))`` for a batch ``x`` of shape (n, in_channels, H, W)."""
        return self.activation(conv2d(x, self.W, self.b, stride=self.stride, padding=self.padding))

    def named_parameters(self) -> list:
        """``[("W", W), ("b", b)]``, named as in ``Dense``."""
        return [("W", self.W), ("b", self.b)]

    def output_shape(self, input_shape: tuple) -> tuple:
        """``(out_channels, OH, OW)`` for an input ``(in_channels, H, W)``."""
        _, h, w = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (self.out_channels, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)

    def config(self) -> dict:
        """The arguments that rebuild this layer."""
        return {"type": "Conv2D", "in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "activation": self.activation.name}


class MaxPool2D(Layer):
    """The largest value of each ``kernel`` x ``kernel`` window (stride = kernel by default).

    Example:
        >>> MaxPool2D(2)(Tensor.zeros(1, 3, 28, 28)).shape
        (1, 3, 14, 14)
    """

    def __init__(self, kernel_size=2, stride=None):
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else as_pair(stride, "stride")

    def forward(self, x: Tensor) -> Tensor:
        """``max_pool2d(x, kernel_size, stride)``."""
        return max_pool2d(x, self.kernel_size, self.stride)

    def output_shape(self, input_shape: tuple) -> tuple:
        """``(C, OH, OW)`` for an input ``(C, H, W)``."""
        c, h, w = input_shape
        return (c, (h - self.kernel_size[0]) // self.stride[0] + 1, (w - self.kernel_size[1]) // self.stride[1] + 1)

    def config(self) -> dict:
        """The arguments that rebuild this layer."""
        return {"type": "MaxPool2D", "kernel_size": list(self.kernel_size), "stride": list(self.stride)}


class Upsample2D(Layer):
    """Nearest-neighbour upsampling by ``scale``: each pixel becomes a scale x scale block.

    Example:
        >>> Upsample2D(2)(Tensor.zeros(1, 3, 7, 7)).shape
        (1, 3, 14, 14)
    """

    def __init__(self, scale=2):
        self.scale = as_pair(scale, "scale")

    def forward(self, x: Tensor) -> Tensor:
        """``upsample2d(x, scale)``."""
        return upsample2d(x, self.scale)

    def output_shape(self, input_shape: tuple) -> tuple:
        """``(C, H * scale, W * scale)``."""
        c, h, w = input_shape
        return (c, h * self.scale[0], w * self.scale[1])

    def config(self) -> dict:
        """The arguments that rebuild this layer."""
        return {"type": "Upsample2D", "scale": list(self.scale)}


class Reshape(Layer):
    """Give each sample a new shape (the batch axis stays): ``Reshape(1, 28, 28)`` turns
    rows of 784 pixels into one-channel images.

    Example:
        >>> Reshape(1, 28, 28)(Tensor.zeros(5, 784)).shape
        (5, 1, 28, 28)
    """

    def __init__(self, *shape):
        self.shape = tuple(int(n) for n in (shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape))

    def forward(self, x: Tensor) -> Tensor:
        """``x.reshape(len(x), *shape)``."""
        if int(np.prod(x.shape[1:])) != int(np.prod(self.shape)):
            raise ValueError(f"{self!r} needs {int(np.prod(self.shape))} numbers per sample, got shape {x.shape}")
        return x.reshape((x.shape[0],) + self.shape)

    def output_shape(self, input_shape: tuple) -> tuple:
        """The new shape."""
        return self.shape

    def config(self) -> dict:
        """The arguments that rebuild this layer."""
        return {"type": "Reshape", "shape": list(self.shape)}


class Flatten(Reshape):
    """Each sample as one row: (n, C, H, W) -> (n, C * H * W).

    Example:
        >>> Flatten()(Tensor.zeros(5, 1, 28, 28)).shape
        (5, 784)
    """

    def __init__(self):
        self.shape = (-1,)

    def forward(self, x: Tensor) -> Tensor:
        """``x.reshape(len(x), -1)``."""
        return x.reshape(x.shape[0], -1)

    def output_shape(self, input_shape: tuple) -> tuple:
        """``(product of the input shape,)``."""
        return (int(np.prod(input_shape)),)

    def config(self) -> dict:
        """Nothing to configure."""
        return {"type": "Flatten"}


class ClipWhenPredicting(Layer):
    """In eval mode (``predict``, ``evaluate``), limit values to [low, high]; while training,
    the identity.

    A denoiser's targets are pixels in [0, 1], so clipping its output there can only bring it
    closer to any target (each clipped value moves towards the interval the target is in).
    Training without the clip keeps every pixel's gradient: a clipped pixel would get none,
    even when it sits on the wrong side of its target (say -0.1 for a target of 0.3).

    Example:
        >>> clip = ClipWhenPredicting(0, 1)
        >>> clip(Tensor([-0.5, 0.5, 1.5])).data          # training: unchanged
        array([-0.5,  0.5,  1.5], dtype=float32)
        >>> clip.training = False                         # what model.eval() does
        >>> clip(Tensor([-0.5, 0.5, 1.5])).data
        array([0. , 0.5, 1. ], dtype=float32)
    """

    def __init__(self, low: float = 0.0, high: float = 1.0):
        if not low < high:
            raise ValueError(f"ClipWhenPredicting needs low < high, got low={low!r}, high={high!r}")
        self.low, self.high = float(low), float(high)

    def forward(self, x: Tensor) -> Tensor:
        """``x.clip(low, high)`` in eval mode, ``x`` while training."""
        return x if self.training else x.clip(self.low, self.high)

    def output_shape(self, input_shape: tuple) -> tuple:
        """The input's shape."""
        return input_shape

    def config(self) -> dict:
        """The arguments that rebuild this layer."""
        return {"type": "ClipWhenPredicting", "low": self.low, "high": self.high}


class SpaceToDepth(Layer):
    """Each ``block`` x ``block`` patch of pixels becomes ``block**2`` channels of one pixel:
    (n, C, H, W) -> (n, C * block**2, H / block, W / block). Nothing is lost, and the convolutions
    after it see twice as far for a quarter of the cost (FFDNet, Zhang et al. 2018).

    Example:
        >>> x = Tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
        >>> SpaceToDepth(2)(x).data[0, :, 0, 0]      # the top-left 2x2 patch
        array([0., 1., 4., 5.], dtype=float32)
    """

    def __init__(self, block=2):
        self.block = as_pair(block, "block")[0]

    def forward(self, x: Tensor) -> Tensor:
        """Reshape and transpose: the patch's rows and columns move next to the channels."""
        n, c, h, w = x.shape
        k = self.block
        if h % k or w % k:
            raise ValueError(f"SpaceToDepth({k}) needs a height and width divisible by {k}, got shape {x.shape}")
        patches = x.reshape(n, c, h // k, k, w // k, k).transpose(0, 1, 3, 5, 2, 4)
        return patches.reshape(n, c * k * k, h // k, w // k)

    def output_shape(self, input_shape: tuple) -> tuple:
        """``(C * block**2, H / block, W / block)``."""
        c, h, w = input_shape
        return (c * self.block ** 2, h // self.block, w // self.block)

    def config(self) -> dict:
        """The arguments that rebuild this layer."""
        return {"type": "SpaceToDepth", "block": self.block}


class DepthToSpace(SpaceToDepth):
    """The inverse of ``SpaceToDepth``: ``block**2`` channels become a block x block patch.

    Example:
        >>> x = Tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
        >>> bool((DepthToSpace(2)(SpaceToDepth(2)(x)).data == x.data).all())
        True
    """

    def forward(self, x: Tensor) -> Tensor:
        """Reshape and transpose back."""
        n, c, h, w = x.shape
        k = self.block
        if c % (k * k):
            raise ValueError(f"DepthToSpace({k}) needs channels divisible by {k * k}, got shape {x.shape}")
        patches = x.reshape(n, c // (k * k), k, k, h, w).transpose(0, 1, 4, 2, 5, 3)
        return patches.reshape(n, c // (k * k), h * k, w * k)

    def output_shape(self, input_shape: tuple) -> tuple:
        """``(C / block**2, H * block, W * block)``."""
        c, h, w = input_shape
        return (c // self.block ** 2, h * self.block, w * self.block)

    def config(self) -> dict:
        """The arguments that rebuild this layer."""
        return {"type": "DepthToSpace", "block": self.block}


class Residual(Layer):
    """``x + body(x)``: the layers in ``body`` learn a correction to their input.

    In a denoiser the correction is minus the noise (DnCNN, Zhang et al. 2017): predicting
    the noise is easier than predicting the whole clean image.

    Example:
        >>> block = Residual([Conv2D(1, 4, 3), Conv2D(4, 1, 3, activation="linear")])
        >>> block(Tensor.zeros(2, 1, 8, 8)).shape, [name for name, _ in block.named_parameters()][:2]
        ((2, 1, 8, 8), ['layer1.W', 'layer1.b'])
    """

    def __init__(self, body):
        self.body = list(body)

    def forward(self, x: Tensor) -> Tensor:
        """``x + body(x)``; the body must give back the input's shape."""
        y = x
        for layer in self.body:
            y = layer(y)
        if y.shape != x.shape:
            raise ValueError(f"Residual: the body turns shape {x.shape} into {y.shape}; x + body(x) needs the same shape")
        return x + y

    def inner_layers(self) -> list:
        """The body's layers."""
        return self.body

    def named_parameters(self) -> list:
        """``[("layer1.W", ...), ...]``: the body's parameters, numbered like a model's."""
        return [(f"layer{i}.{name}", t) for i, layer in enumerate(self.body, 1) for name, t in layer.named_parameters()]

    def output_shape(self, input_shape: tuple) -> tuple:
        """The input's shape."""
        return tuple(input_shape)

    def config(self) -> dict:
        """The body's layers' configs."""
        return {"type": "Residual", "body": [layer.config() for layer in self.body]}


class Refinement(Layer):
    """``m + correction([x, m])`` with ``m = estimate(x)``: a first guess, then a correction
    computed from the input and the guess side by side (stacked as channels).

    In a denoiser the two halves see different things. A wide MLP as the estimate looks at
    all 784 pixels at once, so it knows which digit it is looking at and stays good under
    heavy noise, but it blurs fine strokes. Convolutions as the correction look only at the
    pixels near each point, where light noise leaves the detail readable; next to the noisy
    image they see the MLP's guess, so they can also tell a stroke from a speck in heavy
    noise. Starting the correction's last layer at zero starts training from the estimate.

    Both halves are lists of layers; the estimate must give back the input's shape
    (N, C, H, W), and the correction turns the 2C stacked channels into C channels.

    Example:
        >>> from tinygrad_ae import Dense, Flatten
        >>> guess = [Flatten(), Dense(16, 16, activation="sigmoid", seed=0), Reshape(1, 4, 4)]
        >>> block = Refinement(guess, [Conv2D(2, 1, 3, activation="linear", seed=1)])
        >>> block(Tensor.zeros(3, 1, 4, 4)).shape, [name for name, _ in block.named_parameters()][::2]
        ((3, 1, 4, 4), ['estimate2.W', 'correction1.W'])
    """

    def __init__(self, estimate, correction):
        self.estimate, self.correction = list(estimate), list(correction)

    def forward(self, x: Tensor) -> Tensor:
        """``m + correction(concatenate([x, m], axis=1))``, ``m = estimate(x)``."""
        m = x
        for layer in self.estimate:
            m = layer(m)
        if m.shape != x.shape:
            raise ValueError(f"Refinement: the estimate turns shape {x.shape} into {m.shape}; it must give back the "
                             "input's shape (end it with Reshape(...) if it works on flat vectors)")
        y = concatenate([x, m], axis=1)
        for layer in self.correction:
            y = layer(y)
        if y.shape != x.shape:
            raise ValueError(f"Refinement: the correction turns the stacked input and estimate {tuple(x.shape[:1]) + (2 * x.shape[1],) + x.shape[2:]} "
                             f"into {y.shape}; it must give the input's shape {x.shape}")
        return m + y

    def inner_layers(self) -> list:
        """The estimate's layers, then the correction's."""
        return self.estimate + self.correction

    def named_parameters(self) -> list:
        """``[("estimate2.W", ...), ..., ("correction1.W", ...)]``: numbered within each half."""
        return [(f"{half}{i}.{name}", t) for half, layers in (("estimate", self.estimate), ("correction", self.correction))
                for i, layer in enumerate(layers, 1) for name, t in layer.named_parameters()]

    def output_shape(self, input_shape: tuple) -> tuple:
        """The input's shape."""
        return tuple(input_shape)

    def config(self) -> dict:
        """The two halves' layers' configs."""
        return {"type": "Refinement", "estimate": [layer.config() for layer in self.estimate],
                "correction": [layer.config() for layer in self.correction]}


LAYER_TYPES = {cls.__name__: cls for cls in (Dense, Conv2D, MaxPool2D, Upsample2D, Reshape, Flatten,
                                             ClipWhenPredicting, SpaceToDepth, DepthToSpace, Residual, Refinement)}


def layer_from_config(config: dict):
    """The layer a model file describes (fresh weights; the caller loads the saved ones).

    Example:
        >>> layer_from_config({"type": "Conv2D", "in_channels": 1, "out_channels": 2, "kernel_size": 3})
        Conv2D(in_channels=1, out_channels=2, kernel_size=[3, 3], stride=[1, 1], padding=[1, 1], activation='ReLU')
    """
    options = dict(config)
    kind = options.pop("type", None)
    if kind not in LAYER_TYPES:
        raise ValueError(f"unknown layer type {kind!r}; known: {sorted(LAYER_TYPES)}")
    if kind == "Residual":
        return Residual([layer_from_config(spec) for spec in options["body"]])
    if kind == "Refinement":
        return Refinement([layer_from_config(spec) for spec in options["estimate"]],
                          [layer_from_config(spec) for spec in options["correction"]])
    if kind == "Reshape":
        return Reshape(*options["shape"])
    return LAYER_TYPES[kind](**options)


class Dropout:
    """While training, zero each input element with probability ``p`` and scale the survivors
    by ``1 / (1 - p)``, so the expected output equals the input; in eval mode, the identity.

    Dropping random units stops a network relying on any one of them (Srivastava et al.,
    2014). The mask is a constant of the graph: gradients flow through the kept elements only.
    ``seed`` (an int or ``numpy.random.Generator``) makes the masks reproducible. Keeps the
    shape, so it fits between any two layers.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> drop = Dropout(0.5, seed=0)
        >>> drop(Tensor.ones(6)).data
        array([2., 0., 0., 0., 2., 2.], dtype=float32)
        >>> drop.training = False            # what model.eval() does
        >>> drop(Tensor.ones(3)).data
        array([1., 1., 1.], dtype=float32)
    """

    in_features = out_features = None  # any size: the output has the input's shape

    def __init__(self, p: float = 0.5, seed=None):
        if not 0 <= p < 1:
            raise ValueError(f"Dropout needs a probability p in [0, 1), got {p!r}")
        self.p = float(p)
        self.training = True
        self.rng = np.random.default_rng(seed)

    def __call__(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        keep = self.rng.random(x.shape) >= self.p
        return x * x._constant((keep / (1 - self.p)).astype(x.dtype), "dropout mask")

    forward = __call__

    def named_parameters(self) -> list:
        """No parameters: ``[]``."""
        return []

    def parameters(self) -> list:
        """No parameters: ``[]``."""
        return []

    num_parameters = 0

    def __repr__(self) -> str:
        return f"Dropout(p={self.p:g})"


class _ScaleAndShift:
    """What both normalisations share: a learned scale ``gamma`` and shift ``beta`` per feature."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        if whole_number(num_features) is None or num_features < 1:
            raise ValueError(f"{type(self).__name__} needs a positive whole number of features, got {num_features!r}")
        self.in_features = self.out_features = self.num_features = whole_number(num_features)
        self.eps = eps
        self.training = True
        self.gamma = Tensor(np.ones(self.num_features, np.float32), requires_grad=True, name="gamma")
        self.beta = Tensor(np.zeros(self.num_features, np.float32), requires_grad=True, name="beta")

    def _check(self, x: Tensor, axis: int) -> None:
        if x.ndim < 2 or x.shape[axis] != self.num_features:
            raise ValueError(f"{self!r} expects inputs with {self.num_features} features in axis {axis % max(x.ndim, 1)}, "
                             f"got shape {x.shape}")

    def named_parameters(self) -> list:
        """``[("gamma", gamma), ("beta", beta)]``: the learned scale and shift."""
        return [("gamma", self.gamma), ("beta", self.beta)]

    def parameters(self) -> list:
        """``[gamma, beta]``."""
        return [self.gamma, self.beta]

    @property
    def num_parameters(self) -> int:
        """Two per feature: ``BatchNorm(10).num_parameters == 20``."""
        return 2 * self.num_features

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_features})"


class BatchNorm(_ScaleAndShift):
    """Batch normalisation (Ioffe & Szegedy, 2015): each feature (axis 1) is shifted and scaled
    to mean 0 and variance 1 over the batch (and, for images ``(n, C, H, W)``, over the pixels:
    every axis but 1), then multiplied by ``gamma`` and shifted by ``beta``, both learned.

    While training it uses the batch's own statistics and keeps running averages of them
    (``running = (1 - momentum) running + momentum batch``, the variance unbiased, as in
    PyTorch); in eval mode it uses those running averages, so one image's output does not
    depend on the rest of its batch. Built from tensor ops: ``mean``, ``var``, ``sqrt``.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> bn = BatchNorm(2)
        >>> y = bn(Tensor([[1.0, 10.0], [3.0, 30.0]]))
        >>> y.data.round(3)
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
        >>> bn.running_mean
        array([0.2, 2. ], dtype=float32)
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__(num_features, eps)
        self.momentum = momentum
        self.running_mean = np.zeros(self.num_features, np.float32)
        self.running_var = np.ones(self.num_features, np.float32)

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, 1)
        axes = (0,) + tuple(range(2, x.ndim))          # every axis but the features'
        shape = (1, self.num_features) + (1,) * (x.ndim - 2)
        if self.training:
            mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
            self.update_running_averages(mean, var, x.size // self.num_features)
        else:
            mean = x._constant(self.running_mean.reshape(shape).astype(x.dtype), "running_mean")
            var = x._constant(self.running_var.reshape(shape).astype(x.dtype), "running_var")
        normalised = (x - mean) / (var + self.eps).sqrt()
        return normalised * self.gamma.reshape(shape) + self.beta.reshape(shape)

    forward = __call__

    @seen_by_jit
    def update_running_averages(self, mean, var, count: int) -> None:
        """``running = (1 - momentum) running + momentum batch`` for the batch's ``mean`` and
        ``var`` (tensors or arrays, one number per feature) over ``count`` numbers per feature;
        the variance made unbiased, ``var * count / (count - 1)``, as in PyTorch. A compiled step
        (``jit``) calls this again at every replay, with that step's mean and variance. A batch
        whose statistics are not finite (a NaN in the data: ``fit`` skips or stops at that step)
        leaves the averages as they were, so that it cannot spoil every later prediction.

        Example:
            >>> bn = BatchNorm(1, momentum=0.5)
            >>> bn.update_running_averages(np.array([4.0]), np.array([1.0]), count=2)
            >>> bn.running_mean, bn.running_var
            (array([2.], dtype=float32), array([1.5], dtype=float32))
        """
        mean, var = [(t.data if isinstance(t, Tensor) else np.asarray(t)).reshape(-1) for t in (mean, var)]
        if not (np.isfinite(mean).all() and np.isfinite(var).all()):
            return
        unbiased = var * (count / max(count - 1, 1))
        self.running_mean = ((1 - self.momentum) * self.running_mean + self.momentum * mean).astype(np.float32)
        self.running_var = ((1 - self.momentum) * self.running_var + self.momentum * unbiased).astype(np.float32)


class LayerNorm(_ScaleAndShift):
    """Layer normalisation (Ba et al., 2016): each *row* is normalised over its last axis, the
    features, then scaled by ``gamma`` and shifted by ``beta``. Unlike ``BatchNorm`` it does not
    look at the rest of the batch, so training and eval compute the same thing.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> LayerNorm(2)(Tensor([[1.0, 3.0], [10.0, 30.0]])).data.round(3)
        array([[-1.,  1.],
               [-1.,  1.]], dtype=float32)
    """

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, -1)
        normalised = (x - x.mean(axis=-1, keepdims=True)) / (x.var(axis=-1, keepdims=True) + self.eps).sqrt()
        return normalised * self.gamma + self.beta

    forward = __call__
