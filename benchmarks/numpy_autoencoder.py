"""The denoising autoencoder written by hand in numpy: forward, backward and Adam, no autograd.

This is the bar tinygrad_ae is measured against (``bench_training.py``), and the "by hand"
version of what autograd automates: every line of ``backward`` below is a derivative that
tinygrad_ae's ops work out on their own from the forward pass.

The network (the seed's): Dense 784 -> 10 ReLU, Dense 10 -> 784 Sigmoid, MSE loss, Adam.

    h = relu(x @ W1.T + b1)         # (n, 10)    the code
    y = sigmoid(h @ W2.T + b2)      # (n, 784)   the reconstruction
    L = mean((y - target) ** 2)     # over all n * 784 numbers

It is meant to be fast, so that the comparison is honest:

* float32 throughout (numpy would silently upcast to float64 if a float64 scalar or array
  slipped in, doubling memory traffic);
* no new arrays in the training step: every intermediate lives in a buffer made once per
  batch size and is overwritten with ``out=`` / in-place operators;
* the four parameters, their gradients and Adam's moments are views into flat arrays, so
  Adam updates all 16,474 numbers with ten numpy calls instead of forty (numpy's per-call
  overhead is most of the cost at batch size 1);
* Adam's moments are cleared of subnormal numbers every 16 steps, as tinygrad_ae's Adam does
  (``optim.flush_subnormals``), so that neither is slowed by that trap.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> model = NumpyAutoencoder.from_arrays(
    ...     W1=rng.normal(0, 0.05, (10, 784)), b1=np.zeros(10),
    ...     W2=rng.normal(0, 0.05, (784, 10)), b2=np.zeros(784))
    >>> x = rng.random((4, 784), dtype=np.float32)
    >>> first = model.train_step(x, x)
    >>> later = [model.train_step(x, x) for _ in range(50)][-1]
    >>> later < first
    True
"""

from __future__ import annotations

import numpy as np

DTYPE = np.float32
SHAPES = {"W1": (10, 784), "b1": (10,), "W2": (784, 10), "b2": (784,)}


class NumpyAutoencoder:
    """784-10-784 autoencoder with a hand-written backward pass and an in-place Adam.

    Args:
        W1, b1, W2, b2: initial weights, with tinygrad_ae's (and PyTorch's) layout:
            ``W`` is ``(out, in)``, ``b`` is ``(out,)``. Use :meth:`from_arrays`.
        lr, betas, eps: Adam's settings (PyTorch's defaults; lr 1e-3 as in the seed).
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, **arrays):
        sizes = [int(np.prod(shape)) for shape in SHAPES.values()]
        total = sum(sizes)
        # One flat array each for parameters, gradients, Adam's m and v, and a scratch buffer;
        # the named arrays are reshaped views into them (no copies, contiguous).
        self.flat_params = np.empty(total, DTYPE)
        self.flat_grads = np.zeros(total, DTYPE)
        self.m = np.zeros(total, DTYPE)
        self.v = np.zeros(total, DTYPE)
        self._scratch = np.empty(total, DTYPE)
        self.params, self.grads = {}, {}
        start = 0
        for (name, shape), size in zip(SHAPES.items(), sizes):
            self.params[name] = self.flat_params[start:start + size].reshape(shape)
            self.grads[name] = self.flat_grads[start:start + size].reshape(shape)
            self.params[name][...] = arrays[name]
            start += size
        self.lr, self.betas, self.eps = lr, betas, eps
        self.t = 0
        self._buffers = {}

    @classmethod
    def from_arrays(cls, W1, b1, W2, b2, **adam):
        """A model starting from the given weights (copied, as float32)."""
        return cls(W1=W1, b1=b1, W2=W2, b2=b2, **adam)

    def _buffers_for(self, n):
        """The intermediate arrays of a batch of ``n`` rows, made once per batch size."""
        if n not in self._buffers:
            self._buffers[n] = {
                "h": np.empty((n, 10), DTYPE),    # hidden activations (the code)
                "dh": np.empty((n, 10), DTYPE),   # gradient at the hidden layer
                "y": np.empty((n, 784), DTYPE),   # reconstruction
                "dz": np.empty((n, 784), DTYPE),  # gradient at the output's pre-activation
                "tmp": np.empty((n, 784), DTYPE),
            }
        return self._buffers[n]

    # ------------------------------------------------------------------ forward

    def forward(self, x, buffers=None):
        """The reconstruction of a batch ``x`` (n, 784); fills ``buffers["h"]`` and ``["y"]``."""
        p = self.params
        buffers = buffers or self._buffers_for(len(x))
        h, y = buffers["h"], buffers["y"]
        np.matmul(x, p["W1"].T, out=h)     # BLAS reads the transposed view as is: no copy
        h += p["b1"]
        np.maximum(h, 0, out=h)            # ReLU
        np.matmul(h, p["W2"].T, out=y)
        y += p["b2"]
        # Sigmoid as 0.5 * tanh(z / 2) + 0.5: the same function, but it never overflows
        # (exp(-z) does, for z < -88 in float32) and numpy's float32 tanh is fast.
        y *= 0.5
        np.tanh(y, out=y)
        y *= 0.5
        y += 0.5
        return y

    # ------------------------------------------------------------------ one training step

    def train_step(self, x, target) -> float:
        """Forward, loss, backward and one Adam step on a batch; returns the batch's MSE."""
        buffers = self._buffers_for(len(x))
        y = self.forward(x, buffers)
        loss, scale = self._loss(y, target, buffers["dz"])
        self._backward(x, scale, buffers)
        self._adam_step()
        return loss

    @staticmethod
    def _loss(y, target, diff):
        """MSE of ``y`` against ``target``; leaves ``y - target`` in ``diff``.

        Returns the loss and ``2 / N``, the constant in dL/dy = 2 (y - target) / N.
        """
        np.subtract(y, target, out=diff)
        flat = diff.reshape(-1)
        loss = float(np.dot(flat, flat)) / diff.size  # sum of squares by BLAS, no temporary
        return loss, 2.0 / diff.size

    def _backward(self, x, scale, buffers):
        """Chain rule from the loss back to every parameter, written out by hand.

        ``buffers["dz"]`` holds ``y - target`` on entry. The constant ``scale = 2 / N`` of
        the MSE's derivative is applied to the small results (gradients and the (n, 10)
        hidden gradient) instead of to the big (n, 784) arrays: same numbers, fewer passes.
        """
        p, g = self.params, self.grads
        h, dh, y, dz, tmp = buffers["h"], buffers["dh"], buffers["y"], buffers["dz"], buffers["tmp"]
        # Sigmoid: dy/dz = y (1 - y), so dL/dz = dL/dy * y * (1 - y)   (times scale, later)
        np.subtract(1, y, out=tmp)
        tmp *= y
        dz *= tmp
        # Second layer, y = sigmoid(h @ W2.T + b2): dW2 = dz.T @ h, db2 = sum of dz over rows
        np.matmul(dz.T, h, out=g["W2"])
        g["W2"] *= scale
        np.sum(dz, axis=0, out=g["b2"])
        g["b2"] *= scale
        # ... and the gradient flowing back into h: dz @ W2
        np.matmul(dz, p["W2"], out=dh)
        dh *= scale
        # ReLU passes the gradient where its output was positive, blocks it elsewhere
        dh *= h > 0
        # First layer, h = relu(x @ W1.T + b1): dW1 = dh.T @ x, db1 = sum of dh over rows
        np.matmul(dh.T, x, out=g["W1"])
        np.sum(dh, axis=0, out=g["b1"])

    def _adam_step(self):
        """Adam, in place over the flat arrays (so all four parameters at once).

        m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
        p -= lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t).
        The two bias corrections are folded into one step size and a rescaled eps (an exact
        rewrite, as PyTorch does), which saves two passes over the arrays.
        """
        self.t += 1
        beta1, beta2 = self.betas
        correction2 = (1 - beta2**self.t) ** 0.5
        step_size = self.lr * correction2 / (1 - beta1**self.t)
        eps_hat = self.eps * correction2
        g, m, v, s = self.flat_grads, self.m, self.v, self._scratch
        m *= beta1
        np.multiply(g, 1 - beta1, out=s)
        m += s
        v *= beta2
        np.multiply(g, g, out=s)
        s *= 1 - beta2
        v += s
        np.sqrt(v, out=s)
        s += eps_hat
        np.divide(m, s, out=s)
        s *= step_size
        self.flat_params -= s
        if self.t % 16 == 0:  # as tinygrad_ae's Adam: subnormal moments slow every pass several-fold
            for moment in (m, v):
                np.putmask(moment, np.abs(moment) < np.finfo(DTYPE).tiny, 0)
