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

    def __init__(self, in_features: int, out_features: int, activation="relu", seed=None, bias_init: float = 0.0,
                 init: str | None = None):
        for label, value in (("in_features", in_features), ("out_features", out_features)):
            if whole_number(value) is None or value < 1:
                raise ValueError(f"Dense needs a positive whole number for {label}, got {value!r}")
        self.in_features, self.out_features = whole_number(in_features), whole_number(out_features)
        self.activation = get_activation(activation)
        if init is None:
            init = "he" if self.activation.key == "relu" else "glorot"
        key = self.INIT_ALIASES.get(str(init).lower(), str(init).lower())
        if key not in self.INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {sorted(set(self.INITS) | set(self.INIT_ALIASES))}")
        self.init = key
        rng = np.random.default_rng(seed)
        shape = (self.out_features, self.in_features)
        kind, scale = self.INITS[key](self.in_features, self.out_features)
        # the same draws as before init existed (standard normal times std), so seeds replay
        weights = rng.standard_normal(shape) * scale if kind == "normal" else rng.uniform(-scale, scale, shape)
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
