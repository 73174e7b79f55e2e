"""Loss functions, each a short composition of Tensor ops (so their gradients come free).

Example:
    >>> from tinygrad_ae import Tensor
    >>> from tinygrad_ae.losses import mse
    >>> mse(Tensor([0.0, 1.0]), Tensor([1.0, 1.0])).item()
    0.5
"""

from __future__ import annotations

import numpy as np

from .tensor import Tensor


def _check_shapes(name, prediction, target):
    if prediction.shape != target.shape:
        raise ValueError(
            f"{name}: prediction has shape {prediction.shape} but target has shape {target.shape}; "
            "they must match (an autoencoder's target is its clean input, a classifier's a one-hot row)"
        )


def _as_tensor(value, like: Tensor | None = None) -> Tensor:
    """Tensors pass through; arrays and lists become constants (in ``like``'s dtype)."""
    if isinstance(value, Tensor):
        return value
    return Tensor(value, dtype=None if like is None else like.dtype)


def mse(prediction, target) -> Tensor:
    """Mean squared error, mean((prediction - target)^2): the seed's L2 reconstruction loss.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> mse(Tensor([[1.0, 2.0]]), Tensor([[1.0, 4.0]])).item()
        2.0
    """
    prediction = _as_tensor(prediction)
    target = _as_tensor(target, prediction)
    _check_shapes("mse", prediction, target)
    return ((prediction - target) ** 2).mean()


def bce(prediction, target, from_logits: bool = False, eps: float | None = None) -> Tensor:
    """Binary cross-entropy, mean(-(y log p + (1 - y) log(1 - p))), for targets in [0, 1].

    With ``from_logits=True`` the prediction is the pre-sigmoid value x and the loss is
    computed as ``max(x, 0) - x y + log(1 + exp(-|x|))``, which never overflows. Otherwise
    p and 1 - p are floored at ``eps`` before the log, so log(0) cannot occur; by default
    eps is the dtype's smallest normal number (1.2e-38 for float32), so that every p a
    float can hold still has a gradient: a confidently wrong unit, p = sigmoid(-17) = 4e-8
    for a target of 1, is pushed back hard (a floor of 1e-7 would give it none). The
    gradient 1/p stays finite above that floor. Near 1, float32 cannot tell sigmoid(17)
    from 1, so for units that saturate there, give logits with ``from_logits=True``.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> round(bce(Tensor([0.5]), Tensor([1.0])).item(), 4)
        0.6931
        >>> round(bce(Tensor([0.0]), Tensor([1.0]), from_logits=True).item(), 4)
        0.6931
    """
    prediction = _as_tensor(prediction)
    target = _as_tensor(target, prediction)
    _check_shapes("bce", prediction, target)
    if from_logits:
        x = prediction
        # maximum(x, 0), not relu: at x == 0 its tie rule gives the slope 1/2 that makes the
        # whole expression smooth there (relu would give 0 and a wrong gradient at 0).
        return (x.maximum(0) - x * target + ((-x.abs()).exp() + 1).log()).mean()
    p = prediction
    floor = np.finfo(p.dtype if p.dtype.kind == "f" else np.float32).tiny if eps is None else eps
    return -(target * p.maximum(floor).log() + (1 - target) * (1 - p).maximum(floor).log()).mean()


def cross_entropy(logits, target) -> Tensor:
    """Softmax cross-entropy from logits, via ``log_softmax`` (stable for any logits).

    ``target`` is either class indices, one axis less than the logits (``(n,)`` for ``(n, classes)``
    logits, a plain int for one row; integer-valued floats and Tensors count too), or
    one-hot/probability rows of the logits' own shape.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> round(cross_entropy(Tensor([[0.0, 0.0]]), [1]).item(), 4)
        0.6931
    """
    logits = _as_tensor(logits)
    log_p = logits.log_softmax(axis=-1)
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    if labels.ndim == logits.ndim - 1:  # class indices
        if labels.shape != logits.shape[:-1]:
            raise ValueError(f"cross_entropy: labels of shape {labels.shape} for logits of shape "
                             f"{logits.shape}; expected labels of shape {logits.shape[:-1]}")
        if labels.dtype.kind not in "iu":
            if not np.array_equal(labels, np.round(labels)):
                raise ValueError("cross_entropy: class labels must be whole numbers, got "
                                 f"{labels.ravel()[:5]}; for soft targets give rows shaped like the logits")
            labels = labels.astype(np.intp)
        if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[-1]):
            raise ValueError(f"cross_entropy: labels must be in 0..{logits.shape[-1] - 1}, got {labels.min()}..{labels.max()}")
        # the log-probability of each row's own class: index every leading axis, then the label
        return -log_p[(*np.indices(labels.shape, sparse=True), labels)].mean()
    target = _as_tensor(target, logits)
    _check_shapes("cross_entropy", logits, target)
    return -(target * log_p).sum(axis=-1).mean()


LOSSES = {"mse": mse, "bce": bce, "cross_entropy": cross_entropy}


def get_loss(spec):
    """A loss function from its name ("mse", "bce", "cross_entropy") or a callable.

    Example:
        >>> get_loss("mse") is mse
        True
    """
    if callable(spec):
        return spec
    if isinstance(spec, str) and spec.lower() in LOSSES:
        return LOSSES[spec.lower()]
    raise ValueError(f"unknown loss {spec!r}; choose one of {sorted(LOSSES)} or pass a function")
