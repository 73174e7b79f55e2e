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

import math

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
    ``g = grad + weight_decay * w``, ``v = momentum * v + g``, then ``w -= lr * v``; with
    ``nesterov=True`` the step looks ahead along the velocity: ``w -= lr * (g + momentum * v)``.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> w = Tensor([2.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.5, momentum=0.9)
        >>> (w * w).sum().backward(); opt.step(); w.data
        array([0.], dtype=float32)
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        self.momentum = checked_number("SGD's momentum", momentum, low=0, high=1, hint=" (0.9 is typical)")
        self.weight_decay = checked_number("weight_decay", weight_decay, low=0)
        if nesterov and not momentum:
            raise ValueError("nesterov=True looks ahead along the momentum: give momentum > 0 too")
        self.nesterov = nesterov
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        for p, v in zip(self.params, self.velocity):
            if p.grad is None:  # no backward reached this parameter
                continue
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            if self.momentum:
                v[...] = self.momentum * v + g
                g = g + self.momentum * v if self.nesterov else v
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


# ----------------------------------------------------------------- more optimizers, clipping, schedules


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e, as in PyTorch): each element's step is divided by a running
    root-mean-square of its recent gradients, so steep and flat directions move alike.

    For each parameter w with gradient g (plus ``weight_decay * w``)::

        v = alpha v + (1 - alpha) g^2
        b = momentum b + g / (sqrt(v) + eps)        (b = g / (sqrt(v) + eps) without momentum)
        w = w - lr b

    Example:
        >>> from tinygrad_ae import Tensor
        >>> w = Tensor([1.0], requires_grad=True)
        >>> opt = RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward(); opt.step(); round(float(w.data[0]), 4)   # 1 - 0.01 / sqrt(0.01)
        0.9
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0):
        super().__init__(params, lr)
        if not (0 <= alpha < 1 and 0 <= momentum < 1):
            raise ValueError(f"RMSprop's alpha and momentum must be in [0, 1), got alpha={alpha}, momentum={momentum}")
        self.alpha, self.eps, self.weight_decay, self.momentum = alpha, eps, weight_decay, momentum
        self.square_avg = [np.zeros_like(p.data) for p in self.params]
        self.buffer = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        for p, v, b in zip(self.params, self.square_avg, self.buffer):
            if p.grad is None:
                continue
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            v[...] = self.alpha * v + (1 - self.alpha) * g * g
            step = g / (np.sqrt(v) + self.eps)
            if self.momentum:
                b[...] = self.momentum * b + step
                step = b
            p.data -= self.lr * step


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): the weights shrink by
    ``lr * weight_decay`` of themselves each step, *beside* the Adam step rather than through
    the gradient (where Adam's per-element scaling would undo it)::

        w = w - lr weight_decay w
        w = w - lr m_hat / (sqrt(v_hat) + eps)          (Adam's step, with the plain gradient)

    Example:
        >>> from tinygrad_ae import Tensor
        >>> w = Tensor([1.0], requires_grad=True)
        >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward(); opt.step(); round(float(w.data[0]), 4)   # 1 * (1 - 0.05) - 0.1
        0.85
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr, betas, eps, weight_decay=0.0)
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.decoupled_weight_decay = weight_decay

    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:  # as PyTorch: a parameter without a gradient is left alone
                p.data *= 1 - self.lr * self.decoupled_weight_decay
        super().step()


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients down together so that their joint 2-norm is at most ``max_norm``;
    returns the norm before clipping (as ``torch.nn.utils.clip_grad_norm_``).

    Call it between ``loss.backward()`` and ``optimizer.step()``. The direction of the whole
    gradient is kept; only its length is capped, which tames the rare huge step.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> w = Tensor([0.0, 0.0], requires_grad=True)
        >>> (w * Tensor([3.0, 4.0])).sum().backward()
        >>> clip_grad_norm([w], max_norm=1.0), w.grad.round(3)
        (5.0, array([0.6, 0.8], dtype=float32))
    """
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm!r}")
    return _GRADIENT_CLIPPING.clip(list(params), max_norm)


class _GradientClipping:
    """clip_grad_norm's work as a method that a compiled step (jit.py) records and makes again
    at every replay: it changes the gradients outside the ops, which a replay would otherwise skip."""

    @seen_by_jit
    def clip(self, params, max_norm):
        grads = [p.grad for p in params if p.grad is not None]
        total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
        scale = max_norm / (total + 1e-6)  # the 1e-6 as in PyTorch: no division by a zero norm
        if scale < 1:
            for g in grads:
                g *= scale
        return total


_GRADIENT_CLIPPING = _GradientClipping()


def step_decay(lr: float, step_size: int, gamma: float = 0.1):
    """A schedule for ``fit(lr_schedule=...)``: ``lr * gamma ** (epoch // step_size)``, PyTorch's StepLR.

    Example:
        >>> schedule = step_decay(0.1, step_size=2, gamma=0.5)
        >>> [schedule(epoch) for epoch in range(5)]
        [0.1, 0.1, 0.05, 0.05, 0.025]
    """
    if not (lr > 0 and step_size >= 1 and gamma > 0):
        raise ValueError(f"step_decay needs lr > 0, step_size >= 1 and gamma > 0; got {lr}, {step_size}, {gamma}")

    def schedule(epoch: int) -> float:
        return lr * gamma ** (epoch // step_size)
    return schedule


def cosine_annealing(lr: float, epochs: int, min_lr: float = 0.0):
    """A schedule for ``fit(lr_schedule=...)``: from ``lr`` at epoch 0 down half a cosine to
    ``min_lr`` at epoch ``epochs`` (PyTorch's CosineAnnealingLR with T_max = epochs), and
    ``min_lr`` after that. ``fit(epochs=n)`` asks for epochs 0..n-1, so lr never reaches 0.

    Example:
        >>> schedule = cosine_annealing(0.1, epochs=4)
        >>> [round(schedule(epoch), 4) for epoch in range(4)]
        [0.1, 0.0854, 0.05, 0.0146]
    """
    if not (lr > 0 and epochs >= 1 and 0 <= min_lr <= lr):
        raise ValueError(f"cosine_annealing needs lr > 0, epochs >= 1 and 0 <= min_lr <= lr; got {lr}, {epochs}, {min_lr}")

    def schedule(epoch: int) -> float:
        return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * min(epoch, epochs) / epochs)) / 2
    return schedule
