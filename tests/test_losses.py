"""The losses against their formulas in numpy, in each reduction, with gradcheck; against
torch.nn.functional where PyTorch is installed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import strategies as S
from tinygrad_ae import Tensor, gradcheck
from tinygrad_ae.losses import LOSSES, bce, cross_entropy, huber, kl_divergence, l1, mse, nll, smooth_l1


def numpy_huber(d, delta):
    a = np.abs(d)
    return np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))


# (name, loss(prediction, target, reduction), elementwise numpy formula(prediction, target), domain of the difference)
PAIRWISE = [
    ("mse", mse, lambda p, y: (p - y) ** 2, S.identity),
    ("l1", l1, lambda p, y: np.abs(p - y), S.away_from_zero),
    ("huber", huber, lambda p, y: numpy_huber(p - y, 1.0), S.off_grid),
    ("huber 0.5", lambda p, y, reduction: huber(p, y, delta=0.5, reduction=reduction),
     lambda p, y: numpy_huber(p - y, 0.5), S.off_grid),
    ("smooth_l1 2", lambda p, y, reduction: smooth_l1(p, y, beta=2.0, reduction=reduction),
     lambda p, y: numpy_huber(p - y, 2.0) / 2.0, S.off_grid),
    ("bce logits", lambda p, y, reduction: bce(p, y, from_logits=True, reduction=reduction),
     lambda p, y: np.logaddexp(0, p) - p * y, S.identity),
    ("kl_divergence", kl_divergence, lambda mu, logvar: 0.5 * (mu**2 + np.exp(logvar) - logvar - 1), S.identity),
]


@pytest.mark.parametrize("name, loss, formula, domain", PAIRWISE, ids=[r[0] for r in PAIRWISE])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@S.fewer_examples()
@given(shape=S.shapes(min_dims=1, max_dims=3), data=st.data())
def test_pairwise_losses(name, loss, formula, domain, reduction, shape, data):
    prediction, other = data.draw(S.arrays(shape)), data.draw(S.arrays(shape))
    if name != "kl_divergence":
        other = np.clip(other, 0, 1) if name == "bce logits" else prediction - domain(prediction - other)
    elementwise = formula(prediction, other)
    expected = {"mean": elementwise.mean(), "sum": elementwise.sum(), "none": elementwise}[reduction]
    got = loss(Tensor(prediction), Tensor(other), reduction=reduction)
    np.testing.assert_allclose(got.data, expected, rtol=1e-9, atol=1e-12)
    assert gradcheck(lambda p, y: loss(p, y, reduction=reduction),
                     Tensor(prediction, requires_grad=True), Tensor(other, requires_grad=name == "kl_divergence"))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_and_cross_entropy_with_reductions(reduction):
    logits = np.random.default_rng(0).normal(size=(5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    log_p = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    picked = -log_p[np.arange(5), labels]
    expected = {"mean": picked.mean(), "sum": picked.sum(), "none": picked}[reduction]
    np.testing.assert_allclose(nll(Tensor(log_p), labels, reduction=reduction).data, expected, rtol=1e-12)
    np.testing.assert_allclose(cross_entropy(Tensor(logits), labels, reduction=reduction).data, expected, rtol=1e-12)
    np.testing.assert_allclose(cross_entropy(Tensor(logits), np.eye(4)[labels], reduction=reduction).data,
                               expected, rtol=1e-12)
    assert gradcheck(lambda t: nll(t.log_softmax(), labels, reduction=reduction), Tensor(logits, requires_grad=True))


def test_bad_reduction_and_labels_are_explained():
    with pytest.raises(ValueError, match="l1: reduction must be one of"):
        l1(Tensor([1.0]), Tensor([0.0]), reduction="average")
    with pytest.raises(ValueError, match=r"nll: labels must be in 0..1, got 0..2"):
        nll(Tensor([[0.0, 0.0]] * 2), [0, 2])
    with pytest.raises(ValueError, match="huber: delta must be > 0"):
        huber(Tensor([1.0]), Tensor([0.0]), delta=0)
    assert {"nll", "l1", "huber", "smooth_l1"} <= set(LOSSES)


def test_losses_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    p, y = rng.normal(size=(6, 5)), rng.normal(size=(6, 5)) * 2
    labels = rng.integers(0, 5, 6)
    for reduction in ("mean", "sum", "none"):
        tp, ty = torch.tensor(p), torch.tensor(y)
        pairs = [(l1(p, y, reduction=reduction), F.l1_loss(tp, ty, reduction=reduction)),
                 (huber(p, y, delta=0.7, reduction=reduction), F.huber_loss(tp, ty, reduction=reduction, delta=0.7)),
                 (smooth_l1(p, y, beta=0.7, reduction=reduction), F.smooth_l1_loss(tp, ty, reduction=reduction, beta=0.7)),
                 (nll(Tensor(p).log_softmax(), labels, reduction=reduction),
                  F.nll_loss(F.log_softmax(tp, dim=1), torch.tensor(labels), reduction=reduction))]
        for ours, theirs in pairs:
            np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
    # the VAE's KL term, as the PyTorch example writes it
    mu, logvar = torch.tensor(p), torch.tensor(y * 0.3)
    theirs = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    assert kl_divergence(p, y * 0.3, reduction="sum").item() == pytest.approx(theirs.item(), rel=1e-12)
