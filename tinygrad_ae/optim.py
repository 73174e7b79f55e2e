"""Optimizers: turn the gradients in ``.grad`` into parameter updates, as in PyTorch.

    optimizer = Adam(model.parameters(), lr=1e-3)
    optimizer.zero_grad(); loss.backward(); optimizer.step()

An update changes each parameter's numpy array in place, so nothing is recorded in the graph
and the model keeps the same arrays. ``SGD`` and ``Adam`` are written per parameter, exactly
as the papers state them. ``FusedAdam`` is the same Adam arranged for speed (all parameters in
one flat buffer), which ``fit`` uses by default; a test checks that the two agree.

Read next: ``training.py``, where these steps are taken.

Example:
    >>> from tinygrad_ae import Tensor
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w.data
    array([0.8], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from ._support.checks import checked_number
from .autograd import seen_by_jit


def flush_subnormals(array: np.ndarray) -> None:
    """Set the numbers below the float type's normal range (subnormals, |x| < 1.2e-38 in
    float32) to zero, in place.

    Why Adam needs it: a weight whose gradient stays zero (an input pixel that is always 0)
    has its first moment m shrink by beta1 = 0.9 every step, into the subnormal range after
    about 800 steps, and CPUs do arithmetic on subnormals many times slower: a hand-written
    numpy step at batch 1 took 203 us instead of 67 us. Such an m moves its weight by less
    than 1e-38, so zero is the same update.

    Example:
        >>> a = np.array([1e-39, 1.0, -1e-40], np.float32)
        >>> flush_subnormals(a); a
        array([0., 1., 0.], dtype=float32)
    """
    np.putmask(array, np.abs(array) < np.finfo(array.dtype).tiny, 0)


class Optimizer:
    """Holds the parameters and the learning rate; subclasses implement ``step``.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> Optimizer([Tensor([1.0], requires_grad=True)], lr=0.1).lr
        0.1
    """

    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got no parameters; pass model.parameters()")
        for i, p in enumerate(self.params):
            if not getattr(p, "requires_grad", False):
                raise ValueError(f"parameter {i} ({getattr(p, 'name', None) or 'unnamed'}) does not "
                                 "require grad, so it can never be trained")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("a parameter appears twice in the list given to the optimizer")
        self.lr = lr

    def __init_subclass__(cls, **kwargs):
        # Every optimizer's zero_grad and step are recorded by jit.py when it traces a step.
        super().__init_subclass__(**kwargs)
        for name in ("zero_grad", "step"):
            if name in vars(cls):
                setattr(cls, name, seen_by_jit(vars(cls)[name]))

    @property
    def lr(self) -> float:
        """The learning rate: a finite number > 0 (checked whenever it is set)."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = checked_number("the learning rate lr", value, low=0, low_allowed=False, hint=" (1e-3 is typical)")

    @seen_by_jit
    def zero_grad(self) -> None:
        """Reset every parameter's accumulated gradient to zero before the next backward."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:  # pragma: no cover - every optimizer overrides it
        """Apply one update to every parameter, from the gradients in ``.grad``."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and weight decay (L2), as in PyTorch:
    ``g = grad + weight_decay * w``, ``v = momentum * v + g``, then ``w -= lr * v``.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> w = Tensor([2.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.5, momentum=0.9)
        >>> (w * w).sum().backward(); opt.step(); w.data
        array([0.], dtype=float32)
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum = checked_number("SGD's momentum", momentum, low=0, high=1, hint=" (0.9 is typical)")
        self.weight_decay = checked_number("weight_decay", weight_decay, low=0)
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        for p, v in zip(self.params, self.velocity):
            if p.grad is None:  # no backward reached this parameter
                continue
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            if self.momentum:
                v[...] = self.momentum * v + g
                g = v
            p.data -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): a step size per parameter element from running averages of
    the gradient (m) and of its square (v), corrected for their start at zero.

    For each parameter w with gradient g, at step t = 1, 2, ...::

        m = beta1 m + (1 - beta1) g            v = beta2 v + (1 - beta2) g^2
        m_hat = m / (1 - beta1^t)              v_hat = v / (1 - beta2^t)
        w = w - lr m_hat / (sqrt(v_hat) + eps)

    Example:
        >>> from tinygrad_ae import Tensor
        >>> w = Tensor([1.0], requires_grad=True)
        >>> opt = Adam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step(); round(float(w.data[0]), 4)
        0.9
    """

    # Every this many steps the moments are cleared of subnormal numbers (see flush_subnormals);
    # 16 steps of beta1 = 0.9 shrink a number only 5x, far from the 1e7 range of subnormals.
    flush_every: int | None = 16

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam's betas are a pair (beta1, beta2) such as (0.9, 0.999), got {betas!r}")
        self.betas = tuple(checked_number(f"Adam's {name}", beta, low=0, high=1, hint=" (see betas=(0.9, 0.999))")
                           for name, beta in zip(("beta1", "beta2"), betas))
        self.eps = checked_number("Adam's eps", eps, low=0, low_allowed=False, hint=" (1e-8 is typical)")
        self.weight_decay = checked_number("weight_decay", weight_decay, low=0)
        self.t = 0
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        beta1, beta2 = self.betas
        self.t += 1
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            m[...] = beta1 * m + (1 - beta1) * g
            v[...] = beta2 * v + (1 - beta2) * g * g
            m_hat = m / (1 - beta1**self.t)
            v_hat = v / (1 - beta2**self.t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
            if self.flush_every and self.t % self.flush_every == 0:
                flush_subnormals(m)
                flush_subnormals(v)


class FusedAdam(Adam):
    """The same Adam, fused: every parameter lives in one flat buffer, and so does every
    gradient, so a step is a dozen numpy calls on one long array, however many tensors the
    model has.

    What it buys (``benchmarks/bench_training.py``): at batch size 1 the optimizer is most of
    a step's time, and ten calls instead of ten per parameter made that step about 30 %
    faster. To do it, each parameter's ``.data`` and ``.grad`` become views into the buffers
    (the model keeps using its tensors); an array assigned to ``p.data`` or ``p.grad`` later is
    copied into the buffer at the next ``step``/``zero_grad``. The two bias corrections are
    folded into the step size and eps, which is the same formula rearranged (equal to
    ``Adam`` within float rounding; a test checks it).

    Example:
        >>> from tinygrad_ae import Tensor
        >>> w = Tensor([1.0], requires_grad=True)
        >>> opt = FusedAdam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step(); round(float(w.data[0]), 4)
        0.9
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr, betas, eps, weight_decay)
        del self.m, self.v  # the flat buffers below replace the per-parameter moments
        self.groups = [self._flatten([p for p in self.params if p.dtype == dtype])
                       for dtype in dict.fromkeys(p.dtype for p in self.params)]

    @staticmethod
    def _flatten(params) -> dict:
        """One buffer for the data, grads and moments of ``params`` (all of one dtype)."""
        total = sum(p.size for p in params)
        data, grad = np.empty(total, params[0].dtype), np.zeros(total, params[0].dtype)
        views, offset = [], 0
        for p in params:
            d, g = data[offset:offset + p.size].reshape(p.shape), grad[offset:offset + p.size].reshape(p.shape)
            d[...] = p.data
            p.data = d
            if p.grad is not None:  # a parameter without a gradient yet keeps None (as in PyTorch)
                g[...] = p.grad
                p.grad = g
            views.append((p, d, g))
            offset += p.size
        return {"data": data, "grad": grad, "views": views, "m": np.zeros_like(data),
                "v": np.zeros_like(data), "scratch": np.empty_like(data)}

    def _relink(self) -> None:
        """Copy any array assigned to ``p.data``/``p.grad`` since the last step into the buffers."""
        for group in self.groups:
            for p, d, g in group["views"]:
                if p.data is not d:
                    if np.shape(p.data) != d.shape:
                        raise ValueError(f"{p.name or 'a parameter'} changed shape from {d.shape} to "
                                         f"{np.shape(p.data)} under the optimizer")
                    d[...] = p.data
                    p.data = d
                if p.grad is None:  # no backward reached it yet: a zero gradient
                    g.fill(0)
                elif p.grad is not g:
                    g[...] = p.grad
                    p.grad = g

    def zero_grad(self) -> None:
        self._relink()
        for group in self.groups:
            group["grad"].fill(0)

    def step(self) -> None:
        self._relink()
        self.t += 1
        beta1, beta2 = self.betas
        # Python floats, not numpy float64 scalars, so that float32 buffers stay float32.
        step_size = float(self.lr * (1 - beta2**self.t) ** 0.5 / (1 - beta1**self.t))
        eps_hat = float(self.eps * (1 - beta2**self.t) ** 0.5)
        for group in self.groups:
            w, g, m, v, tmp = group["data"], group["grad"], group["m"], group["v"], group["scratch"]
            if self.weight_decay:
                g = g + self.weight_decay * w
            m *= beta1                                    # m = beta1 m + (1 - beta1) g
            np.multiply(g, 1 - beta1, out=tmp)
            m += tmp
            v *= beta2                                    # v = beta2 v + (1 - beta2) g^2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - beta2
            v += tmp
            np.sqrt(v, out=tmp)                           # w -= step_size m / (sqrt(v) + eps_hat)
            tmp += eps_hat
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            w -= tmp
            if self.flush_every and self.t % self.flush_every == 0:
                flush_subnormals(m)
                flush_subnormals(v)
