"""Adam clears its moments of subnormal numbers (they slow every pass) without changing the training."""

import numpy as np
import pytest

from tinygrad_ae import Adam, FusedAdam, Tensor, jit
from tinygrad_ae.optim import flush_subnormals

TINY = np.finfo(np.float32).tiny


def train(optimizer_class, flush_every, steps=1000, compiled=False):
    """Two weights: w[0] gets a gradient at every step, w[1] only at the first (an input that is then
    always 0), so that Adam's m for w[1] decays as 0.9^t into the subnormal range."""
    w = Tensor([0.5, 0.5], requires_grad=True)
    opt = optimizer_class([w], lr=1e-3)
    opt.flush_every = flush_every

    def step(x):
        opt.zero_grad()
        loss = ((w * Tensor(x)) ** 2).sum()
        loss.backward()
        opt.step()
        return loss
    step = jit(step) if compiled else step
    for t in range(steps):
        step(np.array([1.0, 1.0 if t == 0 else 0.0], np.float32))
    moments = opt.m[0] if hasattr(opt, "m") else opt.groups[0]["m"]
    return w.data.copy(), moments.copy()


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("optimizer_class", [Adam, FusedAdam])
def test_flushing_removes_the_subnormals_and_changes_nothing_else(optimizer_class, compiled):
    plain_w, plain_m = train(optimizer_class, flush_every=None, compiled=compiled)
    flushed_w, flushed_m = train(optimizer_class, flush_every=16, compiled=compiled)
    subnormal = (plain_m != 0) & (np.abs(plain_m) < TINY)
    assert subnormal[1] and not subnormal[0]  # the trap is there without flushing ...
    assert flushed_m[1] == 0 and flushed_m[0] == plain_m[0]  # ... and gone with it
    # what the flushed m would still have moved w by is far below float32's resolution at w
    np.testing.assert_array_equal(flushed_w, plain_w)


def test_flush_subnormals_keeps_normal_numbers_and_signs():
    a = np.array([TINY, -TINY, TINY / 2, -TINY / 4, 0.0, 3.0], np.float32)
    flush_subnormals(a)
    np.testing.assert_array_equal(a, [TINY, -TINY, 0, 0, 0, 3.0])
