"""RMSprop, AdamW, Nesterov SGD, gradient clipping and the lr schedules, checked two ways:
against steps worked out by hand from the published rules (these always run), and against
``torch.optim`` on the same numbers (skipped where PyTorch is not installed, as in CI).

Gradients are set by hand (``p.grad = ...``) so that each test checks the update rule alone.
"""

import math

import numpy as np
import pytest

from tinygrad_ae import MLP, SGD, AdamW, Dense, RMSprop, Tensor, clip_grad_norm, cosine_annealing, step_decay

GRADS = [np.array([2.0, -1.0]), np.array([0.5, 3.0]), np.array([-1.5, 0.25])]


def run(optimizer_class, grads=GRADS, start=(1.0, -2.0), **options):
    """The parameter after each step, the gradients given by hand (float64 throughout)."""
    w = Tensor(np.array(start), requires_grad=True)
    optimizer = optimizer_class([w], **options)
    trace = []
    for g in grads:
        w.grad = np.array(g)
        optimizer.step()
        trace.append(w.data.copy())
    return trace


# ---------------------------------------------------------------- by hand, from the papers


def test_rmsprop_steps_by_hand():
    lr, alpha = 0.1, 0.9
    w, v = 1.0, 0.0
    expected = []
    for g in (2.0, 0.5, -1.5):       # v = alpha v + (1 - alpha) g^2; w -= lr g / sqrt(v)
        v = alpha * v + (1 - alpha) * g * g
        w -= lr * g / math.sqrt(v)
        expected.append(w)
    assert expected[0] == pytest.approx(1 - 0.1 * 2 / math.sqrt(0.4))
    got = run(RMSprop, grads=[[2.0], [0.5], [-1.5]], start=[1.0], lr=lr, alpha=alpha, eps=0.0)
    np.testing.assert_allclose([t[0] for t in got], expected, rtol=1e-12)


def test_rmsprop_with_momentum_and_weight_decay_by_hand():
    lr, alpha, momentum, decay = 0.05, 0.8, 0.5, 0.1
    w, v, b = 1.0, 0.0, 0.0
    expected = []
    for g in (2.0, 0.5):
        g = g + decay * w
        v = alpha * v + (1 - alpha) * g * g
        b = momentum * b + g / (math.sqrt(v) + 1e-8)
        w -= lr * b
        expected.append(w)
    got = run(RMSprop, grads=[[2.0], [0.5]], start=[1.0], lr=lr, alpha=alpha, momentum=momentum, weight_decay=decay)
    np.testing.assert_allclose([t[0] for t in got], expected, rtol=1e-12)


def test_adamw_steps_by_hand():
    """Step 1 of Adam moves each element by lr |g| / (|g| + eps) (m_hat = g, sqrt(v_hat) = |g|);
    the decoupled decay multiplies w by (1 - lr wd) first."""
    lr, wd, eps = 0.1, 0.5, 1e-8
    got = run(AdamW, grads=[[2.0], [-1.0]], start=[1.0], lr=lr, weight_decay=wd, eps=eps)
    w1 = 1.0 * (1 - lr * wd) - lr * 2.0 / (2.0 + eps)
    assert got[0][0] == pytest.approx(w1, rel=1e-12)
    b1, b2 = 0.9, 0.999
    m = b1 * (1 - b1) * 2.0 + (1 - b1) * -1.0
    v = b2 * (1 - b2) * 4.0 + (1 - b2) * 1.0
    w2 = w1 * (1 - lr * wd) - lr * (m / (1 - b1**2)) / (math.sqrt(v / (1 - b2**2)) + eps)
    assert got[1][0] == pytest.approx(w2, rel=1e-12)


def test_adamw_decay_is_not_adams_l2_penalty():
    """Same lr and decay, different rules: Adam's L2 goes through the gradient, AdamW's beside it."""
    from tinygrad_ae import Adam

    coupled = run(Adam, lr=0.1, weight_decay=0.5)[-1]
    decoupled = run(AdamW, lr=0.1, weight_decay=0.5)[-1]
    assert not np.allclose(coupled, decoupled)


def test_nesterov_sgd_steps_by_hand():
    lr, mu = 0.1, 0.9
    w, v = 1.0, 0.0
    expected = []
    for g in (2.0, 0.5, -1.5):        # v = mu v + g; w -= lr (g + mu v)
        v = mu * v + g
        w -= lr * (g + mu * v)
        expected.append(w)
    got = run(SGD, grads=[[2.0], [0.5], [-1.5]], start=[1.0], lr=lr, momentum=mu, nesterov=True)
    np.testing.assert_allclose([t[0] for t in got], expected, rtol=1e-12)
    plain = run(SGD, grads=[[2.0], [0.5], [-1.5]], start=[1.0], lr=lr, momentum=mu)
    assert plain[1][0] != pytest.approx(expected[1])


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="momentum > 0"):
        SGD([Tensor([1.0], requires_grad=True)], lr=0.1, nesterov=True)


def test_clip_grad_norm_scales_all_gradients_together():
    a, b = Tensor([0.0, 0.0], requires_grad=True), Tensor([0.0], requires_grad=True)
    a.grad, b.grad = np.array([3.0, 0.0], np.float32), np.array([4.0], np.float32)
    assert clip_grad_norm([a, b], max_norm=2.5) == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad, [1.5, 0.0], rtol=1e-5)
    np.testing.assert_allclose(b.grad, [2.0], rtol=1e-5)
    assert clip_grad_norm([a, b], max_norm=10.0) == pytest.approx(2.5, rel=1e-5)  # under the cap: untouched
    np.testing.assert_allclose(b.grad, [2.0], rtol=1e-5)


def test_schedules_by_hand():
    assert [step_decay(1.0, 3, 0.1)(e) for e in (0, 2, 3, 6)] == pytest.approx([1.0, 1.0, 0.1, 0.01])
    cosine = cosine_annealing(0.2, epochs=10, min_lr=0.02)
    assert cosine(0) == pytest.approx(0.2) and cosine(5) == pytest.approx(0.11) and cosine(10) == pytest.approx(0.02)
    assert cosine(12) == pytest.approx(0.02)


def test_a_schedule_drives_fit():
    x = np.random.default_rng(0).random((64, 3), dtype=np.float32)
    model = MLP([Dense(3, 3, activation="linear", seed=0)])
    history = model.fit(x, x, epochs=4, batch_size=16, verbose=False, seed=0,
                        optimizer=AdamW(model.parameters(), lr=1.0), lr_schedule=cosine_annealing(0.01, epochs=4))
    assert history["lr"] == pytest.approx([cosine_annealing(0.01, 4)(e) for e in range(4)])


# ---------------------------------------------------------------- the same numbers through PyTorch


def torch_trace(torch_class, grads=GRADS, start=(1.0, -2.0), **options):
    torch = pytest.importorskip("torch")
    w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = torch_class([w], **options)
    trace = []
    for g in grads:
        w.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        trace.append(w.detach().numpy().copy())
    return trace


@pytest.mark.parametrize("ours, theirs, options", [
    (RMSprop, "RMSprop", dict(lr=0.01)),
    (RMSprop, "RMSprop", dict(lr=0.05, alpha=0.8, eps=1e-6, momentum=0.5, weight_decay=0.1)),
    (AdamW, "AdamW", dict(lr=0.1)),
    (AdamW, "AdamW", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.3)),
    (SGD, "SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    (SGD, "SGD", dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.2)),
], ids=["rmsprop", "rmsprop-momentum-decay", "adamw", "adamw-options", "nesterov", "nesterov-decay"])
def test_matches_torch_optim(ours, theirs, options):
    torch = pytest.importorskip("torch")
    expected = torch_trace(getattr(torch.optim, theirs), **options)
    np.testing.assert_allclose(run(ours, **options), expected, rtol=1e-12, atol=1e-14)


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    grads = [np.array([3.0, -1.0]), np.array([[0.5, 4.0], [2.0, -2.0]])]
    ours = [Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for o, t, g in zip(ours, theirs, grads):
        o.grad, t.grad = g.copy(), torch.tensor(g)
    assert clip_grad_norm(ours, 1.5) == pytest.approx(float(torch.nn.utils.clip_grad_norm_(theirs, 1.5)), rel=1e-12)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad, t.grad.numpy(), rtol=1e-12)


def test_schedules_match_torch():
    torch = pytest.importorskip("torch")
    for ours, make in ((step_decay(0.1, 3, 0.5), lambda opt: torch.optim.lr_scheduler.StepLR(opt, 3, 0.5)),
                       (cosine_annealing(0.1, 7, 0.01), lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, 7, 0.01))):
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        scheduler = make(optimizer)
        for epoch in range(7):
            assert ours(epoch) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-12)
            optimizer.step()
            scheduler.step()
