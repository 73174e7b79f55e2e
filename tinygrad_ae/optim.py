"""Optimizers: turn the gradients in ``.grad`` into parameter updates, as in PyTorch.

    optimizer = Adam(model.parameters(), lr=1e-3)
    optimizer.zero_grad(); loss.backward(); optimizer.step()

Updates write into the parameters' numpy arrays in place, so nothing is recorded in the graph
and the arrays the model holds stay the same objects.

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


class Optimizer:
    """Holds the parameters in flat buffers; subclasses implement ``update``.

    All parameters of one dtype are moved into one contiguous array (and their gradients
    into another): each parameter's ``.data`` and ``.grad`` become views into those buffers.
    An update is then a handful of numpy calls on one long array, however many tensors the
    model has; at batch size 1 that was most of the optimizer's time. Nothing changes for
    the model, which keeps using its tensors. If someone assigns a new array to ``p.data``
    or ``p.grad``, the next ``step``/``zero_grad`` copies it into the buffer and re-links.
    """

    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got no parameters; pass model.parameters()")
        for i, p in enumerate(self.params):
            if not getattr(p, "requires_grad", False):
                raise ValueError(f"parameter {i} ({getattr(p, 'name', None) or 'unnamed'}) does not require grad, so it can never be trained")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("a parameter appears twice in the list given to the optimizer")
        if not lr > 0:
            raise ValueError(f"the learning rate must be positive, got lr={lr}")
        self.lr = lr
        self.groups = [self._flatten([p for p in self.params if p.dtype == dtype])
                       for dtype in dict.fromkeys(p.dtype for p in self.params)]

    @staticmethod
    def _flatten(params) -> dict:
        """One buffer for the data and one for the grads of ``params`` (all of one dtype)."""
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
        return {"data": data, "grad": grad, "views": views}

    def _relink(self) -> None:
        """Copy any array assigned to ``p.data``/``p.grad`` since the last step into the buffers."""
        for group in self.groups:
            for p, d, g in group["views"]:
                if p.data is not d:
                    if np.shape(p.data) != d.shape:
                        raise ValueError(f"{p.name or 'a parameter'} changed shape from {d.shape} to {np.shape(p.data)} under the optimizer")
                    d[...] = p.data
                    p.data = d
                if p.grad is None:  # no backward reached it yet: a zero gradient
                    g.fill(0)
                elif p.grad is not g:
                    g[...] = p.grad
                    p.grad = g

    def zero_grad(self) -> None:
        """Reset every parameter's accumulated gradient to zero before the next backward."""
        self._relink()
        for group in self.groups:
            group["grad"].fill(0)

    def step(self) -> None:
        """Apply one update to every parameter, from the gradients in ``.grad``."""
        self._relink()
        self._count_step()
        for group in self.groups:
            self.update(group)

    def _count_step(self) -> None:
        """Hook for optimizers that track the number of steps (Adam's bias correction)."""

    def update(self, group: dict) -> None:  # pragma: no cover - every optimizer overrides it
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and weight decay (L2), as in PyTorch:
    ``v = momentum * v + (grad + weight_decay * w)``, then ``w -= lr * v``.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> w = Tensor([2.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.5, momentum=0.9)
        >>> (w * w).sum().backward(); opt.step(); w.data
        array([0.], dtype=float32)
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum, self.weight_decay = momentum, weight_decay
        for group in self.groups:
            group["velocity"] = np.zeros_like(group["data"])

    def update(self, group: dict) -> None:
        w, g, v = group["data"], group["grad"], group["velocity"]
        if self.weight_decay:
            g = g + self.weight_decay * w
        if self.momentum:
            v *= self.momentum
            v += g
            g = v
        w -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): per-parameter step sizes from running averages of the
    gradient (m) and of its square (v), bias-corrected for their zero start.

    Example:
        >>> from tinygrad_ae import Tensor
        >>> w = Tensor([1.0], requires_grad=True)
        >>> opt = Adam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step(); round(float(w.data[0]), 4)
        0.9
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        beta1, beta2 = betas
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"Adam's betas must be in [0, 1), got {betas}")
        self.betas, self.eps, self.weight_decay = (beta1, beta2), eps, weight_decay
        self.t = 0
        for group in self.groups:
            group["m"], group["v"] = np.zeros_like(group["data"]), np.zeros_like(group["data"])
            group["scratch"] = np.empty_like(group["data"])  # reused: no allocation per step

    def _count_step(self) -> None:
        self.t += 1

    def update(self, group: dict) -> None:
        beta1, beta2 = self.betas
        # Both bias corrections folded into the step size and eps saves two passes; Python
        # floats, not numpy float64 scalars, so that float32 buffers stay float32 (NEP 50).
        step_size = float(self.lr * (1 - beta2**self.t) ** 0.5 / (1 - beta1**self.t))
        eps_hat = float(self.eps * (1 - beta2**self.t) ** 0.5)
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
