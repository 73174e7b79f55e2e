"""Check analytic gradients against central differences, as ``torch.autograd.gradcheck`` does.

The central difference (f(x + eps) - f(x - eps)) / (2 eps) approximates df/dx with an error of
order eps^2, without knowing anything about how f is computed. If backward and the difference
agree for every element of every input, the backward rules are right (near that point).

Example:
    >>> import numpy as np
    >>> from tinygrad_ae import Tensor, gradcheck
    >>> x = Tensor(np.array([0.5, 2.0]), requires_grad=True)
    >>> gradcheck(lambda t: (t * t.exp()).sum(), x)
    True
"""

from __future__ import annotations

import numpy as np

from .autograd import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with its central-difference estimate."""


def _scalar_output(fn, inputs, weights):
    """fn(*inputs) reduced to one number: non-scalar outputs are dotted with fixed weights.

    Random (not all-one) weights, so that a backward rule that mixes up output elements
    (a wrong transpose, say) cannot hide behind a plain sum.
    """
    out = fn(*inputs)
    if weights is None:
        return out
    return (out * weights).sum()


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0) -> bool:
    """Compare backward's gradient of ``fn`` with central differences, element by element.

    Args:
        fn: takes the tensors in ``inputs`` and returns a Tensor (any shape; a non-scalar
            output is reduced with fixed random weights).
        inputs: float64 Tensors; those with ``requires_grad=True`` are checked.
        eps: the finite-difference step.
        atol, rtol: an element passes when |analytic - numeric| <= atol + rtol * |numeric|.

    Returns True, or raises ``GradcheckError`` naming the worst element: which input, its
    index, the analytic and the numeric value.

    Example:
        >>> import numpy as np
        >>> from tinygrad_ae import Tensor, gradcheck
        >>> a = Tensor(np.ones((2, 3)), requires_grad=True)
        >>> b = Tensor(np.ones(3), requires_grad=True)
        >>> gradcheck(lambda a, b: (a * b).tanh(), a, b)
        True
    """
    checked = [i for i, t in enumerate(inputs) if getattr(t, "requires_grad", False)]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype}; central differences need float64 "
                f"(e.g. Tensor(x, dtype=np.float64, requires_grad=True))"
            )

    with no_grad():
        probe = fn(*inputs)
    if not isinstance(probe, Tensor):
        raise TypeError(
            f"gradcheck: fn returned a {type(probe).__name__}, not a Tensor, so "
            "backward() cannot follow it; compute with Tensor ops and return a Tensor "
            "(e.g. t.exp() instead of np.exp(t.data), and no .item() or .data at the end)"
        )
    weights = None
    if probe.size != 1:
        weights = np.random.default_rng(seed).uniform(0.5, 1.5, probe.shape)

    for i in checked:
        inputs[i].grad = None
    _scalar_output(fn, inputs, weights).backward()

    worst = None  # (excess over tolerance, input, index, analytic, numeric)
    for i in checked:
        x = inputs[i].data
        analytic = inputs[i].grad if inputs[i].grad is not None else np.zeros_like(x)
        numeric = np.zeros_like(x)
        with no_grad():
            for index in np.ndindex(x.shape):
                original = x[index]
                x[index] = original + eps
                plus = _scalar_output(fn, inputs, weights).item()
                x[index] = original - eps
                minus = _scalar_output(fn, inputs, weights).item()
                x[index] = original
                numeric[index] = (plus - minus) / (2 * eps)
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        excess = np.where(np.isnan(excess), np.inf, excess)  # a NaN on either side fails
        if excess.size and excess.max() > 0:
            index = np.unravel_index(np.argmax(excess), x.shape)
            if worst is None or excess[index] > worst[0]:
                worst = (excess[index], i, index, analytic[index], numeric[index])
    if worst is not None:
        _, i, index, a, n = worst
        raise GradcheckError(
            f"gradcheck failed: input {i} at index {tuple(int(k) for k in index)}: "
            f"analytic {float(a):.6g} vs numeric {float(n):.6g} "
            f"(|diff| {abs(a - n):.3g} > atol {atol} + rtol {rtol} * |numeric|)"
        )
    return True
