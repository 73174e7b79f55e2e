"""``fit``'s arguments, checked before the first step, with messages that say what is allowed.

A student's first runs hit these: ``batch_size="32"``, a batch of 28x28 images for a
784-input model, an optimizer made before ``load`` replaced the layers, a learning-rate
schedule that returns NaN at epoch 30. Each is refused (or warned about) at once, before any
weight changes, rather than failing with a bare Python error or training on nothing.

Example:
    >>> from tinygrad_ae import MLP, Dense
    >>> model = MLP([Dense(784, 10)])
    >>> check_options(model, 3, None, None, "stop")
    3
    >>> checked_rows(model, "x", np.zeros((5, 28, 28)))
    Traceback (most recent call last):
    ...
    ValueError: fit: the model takes rows of 784 numbers, so x must have shape (n, 784); got (5, 28, 28): flatten each example first, e.g. x.reshape(len(x), -1) gives shape (5, 784)
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from .checks import checked_number, whole_number

ON_NONFINITE = ("stop", "skip", "raise")  # what fit does about a step whose loss is NaN or inf


def check_options(model, epochs, verbose, checkpoint, on_nonfinite) -> int:
    """The simple options checked before training; returns ``epochs`` as an int.

    Example:
        >>> from tinygrad_ae import MLP, Dense
        >>> check_options(MLP([Dense(2, 1)]), 5, None, None, "skip")
        5
    """
    count = whole_number(epochs)
    if count is None or count < 0:
        raise ValueError(f"epochs must be a whole number >= 0 (passes over the data), got {epochs!r}")
    if verbose not in (None, True, False):
        raise ValueError(f"verbose must be True, False or None (the default: lines, and a bar where it shows), "
                         f"got {verbose!r}")
    if checkpoint is not None and (not isinstance(checkpoint, (str, os.PathLike)) or not os.fspath(checkpoint)):
        raise ValueError(f"checkpoint must be a file path (str or pathlib.Path) or None, got {checkpoint!r}")
    if on_nonfinite not in ON_NONFINITE:
        raise ValueError(f"on_nonfinite must be one of {ON_NONFINITE}, got {on_nonfinite!r}")
    if not list(model.parameters()):
        raise ValueError("the model has no parameters to train yet: add layers first "
                         "(model.addLayer(Dense(...))) or load(...) a model")
    return count


def checked_optimizer(model, optimizer):
    """The optimizer, refused if it holds none of the model's parameters (warned about if some).

    Example:
        >>> from tinygrad_ae import MLP, Dense, SGD
        >>> checked_optimizer(MLP([Dense(2, 1)]), SGD(MLP([Dense(2, 1)]).parameters(), lr=0.1))
        Traceback (most recent call last):
        ...
        ValueError: the optimizer holds none of this model's parameters, ...
    """
    if not (callable(getattr(optimizer, "step", None)) and callable(getattr(optimizer, "zero_grad", None))):
        raise ValueError("optimizer must be an optimizer made for this model, such as "
                         f"Adam(model.parameters(), lr=1e-3) or SGD(model.parameters(), lr=0.1); got {optimizer!r}")
    if not isinstance(getattr(optimizer, "params", None), list):
        return optimizer  # someone's own optimizer: it may keep its parameters elsewhere
    held = {id(p) for p in optimizer.params}
    named = model.named_parameters() if hasattr(model, "named_parameters") else list(enumerate(model.parameters()))
    missing = [str(name) for name, p in named if id(p) not in held]
    if len(missing) == len(named):
        raise ValueError("the optimizer holds none of this model's parameters, so training would change nothing. "
                         "Was it made before load() or addLayer() replaced the layers? Make it from the model "
                         "as it is now: Adam(model.parameters(), lr=1e-3)")
    if missing:
        warnings.warn(f"the optimizer does not hold {len(missing)} of the model's {len(named)} parameters "
                      f"({', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''}), so fit will not train them; "
                      "make the optimizer once the model is complete: Adam(model.parameters())",
                      UserWarning, stacklevel=4)
    return optimizer


def learning_rates(lr_schedule, epochs) -> list | None:
    """``[lr_schedule(0), ..., lr_schedule(epochs - 1)]``, each checked before any training.

    Example:
        >>> learning_rates(lambda epoch: 0.1 / (epoch + 1), 3)
        [0.1, 0.05, 0.03333333333333333]
    """
    if lr_schedule is None:
        return None
    if not callable(lr_schedule):
        raise ValueError("lr_schedule is a function epoch (0-based) -> learning rate, such as "
                         f"lambda epoch: 1e-3 * 0.9 ** epoch; got {lr_schedule!r}")
    rates = []
    for epoch in range(epochs):
        value = lr_schedule(epoch)
        try:
            rates.append(checked_number("the learning rate", value, low=0, low_allowed=False))
        except ValueError as error:
            raise ValueError(f"lr_schedule({epoch}), for epoch {epoch + 1}, gave {value!r}: {error}") from None
    return rates


def checked_rows(model, what, array) -> np.ndarray:
    """``array`` as float32 rows the model takes, ``(n, inputs)`` with n >= 1, or a ValueError
    that says how to fix it (a batch of 28x28 images needs flattening, say)."""
    try:
        x = np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"fit: {what} must be an array of numbers ({error})") from None
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"fit: {what} has no examples (shape {x.shape}); give at least one row")
    layers = getattr(model, "layers", None)
    inputs = getattr(layers[0], "in_features", None) if layers else None
    if inputs is not None and (x.ndim != 2 or x.shape[1] != inputs):
        hint = ""
        if x.ndim > 2 and math.prod(x.shape[1:]) == inputs:
            hint = f": flatten each example first, e.g. x.reshape(len(x), -1) gives shape {(len(x), inputs)}"
        elif x.ndim == 1 and len(x) == inputs:
            hint = ": for one example, use x.reshape(1, -1)"
        raise ValueError(f"fit: the model takes rows of {inputs} numbers, so {what} must have shape "
                         f"(n, {inputs}); got {x.shape}{hint}")
    return x


def checked_pair(model, what, x, y) -> tuple:
    """Inputs and targets as float32 arrays with one target row per input row.

    Example:
        >>> checked_pair(None, "the training data", np.ones((3, 2)), np.ones(2))
        Traceback (most recent call last):
        ...
        ValueError: fit: the training data x has 3 rows but y has shape (2,); give one target per row
    """
    x = checked_rows(model, f"{what} x", x)
    try:
        y = np.asarray(y, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"fit: {what} y must be an array of numbers ({error})") from None
    if y.ndim == 0 or len(x) != len(y):
        raise ValueError(f"fit: {what} x has {len(x)} rows but y has shape {y.shape}; give one target per row")
    return x, y
