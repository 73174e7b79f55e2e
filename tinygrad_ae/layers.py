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

from .checks import whole_number
from .tensor import Tensor


class Activation:
    """An elementwise nonlinearity by name. Subclasses define ``__call__(tensor)``."""

    name = "Activation"

    def __call__(self, x: Tensor) -> Tensor:  # pragma: no cover - every activation overrides it
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class ReLU(Activation):
    """max(x, 0). ``ReLU()(Tensor([-1.0, 2.0])).data`` is ``[0, 2]``."""

    name = "ReLU"

    def __call__(self, x):
        return x.relu()


class Sigmoid(Activation):
    """1 / (1 + e^-x), squashing into (0, 1): pixel intensities. ``Sigmoid()(Tensor([0.0])).item() == 0.5``."""

    name = "Sigmoid"

    def __call__(self, x):
        return x.sigmoid()


class Tanh(Activation):
    """tanh(x), squashing into (-1, 1). ``Tanh()(Tensor([0.0])).item() == 0.0``."""

    name = "Tanh"

    def __call__(self, x):
        return x.tanh()


class Softmax(Activation):
    """Softmax over the last axis: rows become probabilities. ``Softmax()(Tensor([[0.0, 0.0]])).data`` is ``[[0.5, 0.5]]``."""

    name = "Softmax"

    def __call__(self, x):
        return x.softmax(axis=-1)


class Linear(Activation):
    """The identity: no nonlinearity (a linear layer). ``Linear()(Tensor([3.0])).item() == 3.0``."""

    name = "Linear"

    def __call__(self, x):
        return x


ACTIVATIONS = {
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "softmax": Softmax,
    "linear": Linear,
    "identity": Linear,
    "none": Linear,
}


def get_activation(spec) -> Activation:
    """An activation from a name (any case), an Activation object or class, or None (linear).

    Example:
        >>> get_activation("ReLU").name, get_activation(None).name
        ('ReLU', 'Linear')
    """
    if spec is None:
        return Linear()
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, type) and issubclass(spec, Activation):
        return spec()
    if isinstance(spec, str) and spec.lower() in ACTIVATIONS:
        return ACTIVATIONS[spec.lower()]()
    raise ValueError(f"unknown activation {spec!r}; choose one of {sorted(set(ACTIVATIONS))} or an Activation object")


class Dense:
    """A fully connected layer: ``activation(x @ W.T + b)``.

    Args:
        in_features, out_features: sizes of the input and output vectors.
        activation: "relu" (the default, as in the seed's hidden layer), "sigmoid", "tanh",
            "softmax", "linear", or an ``Activation`` object.
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
        if isinstance(self.activation, ReLU):
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
