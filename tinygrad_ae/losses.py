"""Loss functions, each a short composition of Tensor ops (so their gradients come free).

Each takes ``reduction="mean"`` (the default: the average over every element), ``"sum"``, or
``"none"`` (the elementwise losses, for weighting or inspecting them yourself), as in PyTorch.
Read next: ``optim.py``.

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


REDUCTIONS = ("mean", "sum", "none")


def _reduce(name, losses: Tensor, reduction: str) -> Tensor:
    """The elementwise ``losses`` averaged, summed, or returned as they are."""
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _pair(name, prediction, target):
    """Both as tensors (the target in the prediction's dtype), of one shape."""
    prediction = _as_tensor(prediction)
    target = _as_tensor(target, prediction)
    _check_shapes(name, prediction, target)
    return prediction, target


def mse(prediction, target, reduction: str = "mean") -> Tensor:
    """Mean squared error, mean((prediction - target)^2): the seed's L2 reconstruction loss.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> mse(Tensor([[1.0, 2.0]]), Tensor([[1.0, 4.0]])).item()
        2.0
    """
    prediction, target = _pair("mse", prediction, target)
    return _reduce("mse", (prediction - target) ** 2, reduction)


def bce(prediction, target, from_logits: bool = False, eps: float | None = None, reduction: str = "mean") -> Tensor:
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
    prediction, target = _pair("bce", prediction, target)
    if from_logits:
        x = prediction
        # maximum(x, 0), not relu: at x == 0 its tie rule gives the slope 1/2 that makes the
        # whole expression smooth there (relu would give 0 and a wrong gradient at 0).
        return _reduce("bce", x.maximum(0) - x * target + ((-x.abs()).exp() + 1).log(), reduction)
    p = prediction
    floor = np.finfo(p.dtype if p.dtype.kind == "f" else np.float32).tiny if eps is None else eps
    return _reduce("bce", -(target * p.maximum(floor).log() + (1 - target) * (1 - p).maximum(floor).log()), reduction)


def cross_entropy(logits, target, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from logits, via ``log_softmax`` (stable for any logits).

    ``target`` is either class indices, one axis less than the logits (``(n,)`` for ``(n, classes)``
    logits, a plain int for one row; integer-valued floats and Tensors count too), or
    one-hot/probability rows of the logits' own shape. ``reduction`` works per row.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> round(cross_entropy(Tensor([[0.0, 0.0]]), [1]).item(), 4)
        0.6931
    """
    logits = _as_tensor(logits)
    log_p = logits.log_softmax(axis=-1)
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    if labels.ndim == logits.ndim - 1:  # class indices
        return _nll("cross_entropy", log_p, labels, reduction, what="logits")
    target = _as_tensor(target, logits)
    _check_shapes("cross_entropy", logits, target)
    return _reduce("cross_entropy", -(target * log_p).sum(axis=-1), reduction)


def nll(log_probs, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: ``-log_probs[row, target[row]]`` for class indices ``target``.

    The loss for a model that already outputs log-probabilities (``x.log_softmax()``);
    ``cross_entropy(logits, y)`` is ``nll(logits.log_softmax(), y)``.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> nll(Tensor([[0.25, 0.75]]).log(), [1], reduction="none").data.round(4)
        array([0.2877], dtype=float32)
    """
    log_probs = _as_tensor(log_probs)
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    return _nll("nll", log_probs, labels, reduction, what="log-probabilities")


def _nll(name, log_p, labels, reduction, what):
    if labels.shape != log_p.shape[:-1]:
        raise ValueError(f"{name}: labels of shape {labels.shape} for {what} of shape "
                         f"{log_p.shape}; expected labels of shape {log_p.shape[:-1]}")
    if labels.dtype.kind not in "iu":
        if not np.array_equal(labels, np.round(labels)):
            raise ValueError(f"{name}: class labels must be whole numbers, got "
                             f"{labels.ravel()[:5]}; for soft targets give rows shaped like the {what}")
        labels = labels.astype(np.intp)
    if labels.size and (labels.min() < 0 or labels.max() >= log_p.shape[-1]):
        raise ValueError(f"{name}: labels must be in 0..{log_p.shape[-1] - 1}, got {labels.min()}..{labels.max()}")
    # the log-probability of each row's own class: index every leading axis, then the label
    return _reduce(name, -log_p[(*np.indices(labels.shape, sparse=True), labels)], reduction)


def l1(prediction, target, reduction: str = "mean") -> Tensor:
    """Mean absolute error, mean(|prediction - target|): less swayed by outliers than ``mse``.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> l1(Tensor([0.0, 3.0]), Tensor([1.0, 1.0])).item()
        1.5
    """
    prediction, target = _pair("l1", prediction, target)
    return _reduce("l1", (prediction - target).abs(), reduction)


def huber(prediction, target, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    """Huber loss: d^2 / 2 where |d| <= delta, else delta (|d| - delta / 2), with d = prediction - target.

    Quadratic near the target, linear (like ``l1``) far from it. Written as
    ``q^2 / 2 + delta (|d| - q)`` with ``q = min(|d|, delta)``, which is both pieces at once.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> huber(Tensor([0.5, 3.0]), Tensor([0.0, 0.0]), reduction="none").data
        array([0.125, 2.5  ], dtype=float32)
    """
    if not delta > 0:
        raise ValueError(f"huber: delta must be > 0, got {delta!r}")
    prediction, target = _pair("huber", prediction, target)
    a = (prediction - target).abs()
    q = a.minimum(delta)
    return _reduce("huber", q * q * 0.5 + (a - q) * delta, reduction)


def smooth_l1(prediction, target, beta: float = 1.0, reduction: str = "mean") -> Tensor:
    """PyTorch's smooth L1: ``huber(delta=beta) / beta`` (d^2 / (2 beta) near 0, |d| - beta/2 beyond).

    Example:
        >>> from tinygrad_ae import Tensor
        >>> smooth_l1(Tensor([0.5, 3.0]), Tensor([0.0, 0.0]), beta=0.5, reduction="none").data
        array([0.25, 2.75], dtype=float32)
    """
    if not beta > 0:
        raise ValueError(f"smooth_l1: beta must be > 0, got {beta!r}")
    return huber(prediction, target, delta=beta, reduction=reduction) * (1.0 / beta)


def kl_divergence(mu, logvar, reduction: str = "mean") -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per element: -(1 + logvar - mu^2 - exp(logvar)) / 2.

    The regulariser of a variational autoencoder (Kingma & Welling, 2014, appendix B): the
    encoder outputs ``mu`` and ``logvar`` per latent unit. For the per-image KL of a batch,
    use ``reduction="sum"`` and divide by the batch size.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> kl_divergence(Tensor([0.0, 1.0]), Tensor([0.0, 0.0]), reduction="none").data
        array([0. , 0.5], dtype=float32)
    """
    mu, logvar = _pair("kl_divergence", mu, logvar)
    return _reduce("kl_divergence", (mu * mu + logvar.exp() - logvar - 1) * 0.5, reduction)


LOSSES = {"mse": mse, "bce": bce, "cross_entropy": cross_entropy, "nll": nll, "l1": l1,
          "huber": huber, "smooth_l1": smooth_l1}


def get_loss(spec):
    """A loss function from its name (a key of ``LOSSES``: "mse", "bce", "l1", ...) or a callable.

    Example:
        >>> get_loss("mse") is mse
        True
    """
    if callable(spec):
        return spec
    if isinstance(spec, str) and spec.lower() in LOSSES:
        return LOSSES[spec.lower()]
    raise ValueError(f"unknown loss {spec!r}; choose one of {sorted(LOSSES)} or pass a function")
