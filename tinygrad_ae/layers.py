"""``Dense`` layers and their activations, written with Tensor ops only.

A layer owns its parameters (``W`` of shape ``(out, in)`` and ``b`` of shape ``(out,)``, as the
seed notebook prints them) and computes ``activation(x @ W.T + b)``. There is no backward
here: autodiff of those few ops is the layer's backward.

Example:
    >>> from tinygrad_ae import Dense, Tensor
    >>> layer = Dense(3, 2, activation="sigmoid", seed=0)
    >>> layer(Tensor.ones(4, 3)).shape
    (4, 2)
"""

from __future__ import annotations

import numpy as np

from ._support.checks import whole_number
from .conv import as_pair, conv2d, max_pool2d, upsample2d
from .tensor import Tensor


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
    }
    ALIASES = {"linear": "identity", "none": "identity"}

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


class Dense:
    """A fully connected layer: ``activation(x @ W.T + b)``.

    Args:
        in_features, out_features: sizes of the input and output vectors.
        activation: "relu" (the default, as in the seed's hidden layer), "sigmoid", "tanh",
            "softmax", "identity" (or "linear"), or an ``Activation``.
        seed: an int or ``numpy.random.Generator``, for reproducible initial weights.
        bias_init: the initial value of every bias (0 by default; a small positive value
            keeps ReLU units alive at the start of training).

    Weights start at He-normal scale (std sqrt(2 / in)) for ReLU, whose outputs are half
    zeros, and Glorot-uniform (limit sqrt(6 / (in + out))) otherwise: both keep the signal's
    variance roughly constant from layer to layer.

    Example:
        >>> layer = Dense(784, 10)
        >>> layer.W.shape, layer.b.shape, layer.activation.name
        ((10, 784), (10,), 'ReLU')
    """

    def __init__(self, in_features: int, out_features: int, activation="relu", seed=None, bias_init: float = 0.0):
        for label, value in (("in_features", in_features), ("out_features", out_features)):
            if whole_number(value) is None or value < 1:
                raise ValueError(f"Dense needs a positive whole number for {label}, got {value!r}")
        self.in_features, self.out_features = whole_number(in_features), whole_number(out_features)
        self.activation = get_activation(activation)
        rng = np.random.default_rng(seed)
        if self.activation.key == "relu":
            weights = rng.standard_normal((self.out_features, self.in_features)) * np.sqrt(2.0 / self.in_features)
        else:
            limit = np.sqrt(6.0 / (self.in_features + self.out_features))
            weights = rng.uniform(-limit, limit, (self.out_features, self.in_features))
        self.W = Tensor(weights.astype(np.float32), requires_grad=True, name="W")
        self.b = Tensor(np.full(self.out_features, bias_init, dtype=np.float32), requires_grad=True, name="b")

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
        return f"Dense({self.in_features}, {self.out_features}, activation={self.activation.name!r})"

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

    def named_parameters(self) -> list:
        """``[("layer1.W", ...), ...]``: the body's parameters, numbered like a model's."""
        return [(f"layer{i}.{name}", t) for i, layer in enumerate(self.body, 1) for name, t in layer.named_parameters()]

    def output_shape(self, input_shape: tuple) -> tuple:
        """The input's shape."""
        return tuple(input_shape)

    def config(self) -> dict:
        """The body's layers' configs."""
        return {"type": "Residual", "body": [layer.config() for layer in self.body]}


LAYER_TYPES = {cls.__name__: cls for cls in (Dense, Conv2D, MaxPool2D, Upsample2D, Reshape, Flatten,
                                             SpaceToDepth, DepthToSpace, Residual)}


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
    if kind == "Reshape":
        return Reshape(*options["shape"])
    return LAYER_TYPES[kind](**options)
