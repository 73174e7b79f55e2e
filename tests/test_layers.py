"""Activations by name, Dense initialisers, Dropout, BatchNorm and LayerNorm, and the train/eval
protocol of models: checked against their definitions, gradcheck, and PyTorch where installed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import strategies as S
from tinygrad_ae import MLP, Activation, BatchNorm, Dense, Dropout, LayerNorm, Tensor, gradcheck

NEW_ACTIVATIONS = {"leaky_relu": "leaky_relu", "elu": "elu", "gelu": "gelu", "softplus": "softplus", "silu": "silu",
                   "swish": "silu", "log_sigmoid": "log_sigmoid", "relu6": "relu6", "hardtanh": "hardtanh"}


@pytest.mark.parametrize("name, method", NEW_ACTIVATIONS.items())
def test_activation_by_name_is_the_tensor_method(name, method):
    x = Tensor(np.linspace(-8, 8, 33))
    np.testing.assert_array_equal(Activation(name)(x).data, getattr(x, method)().data)
    np.testing.assert_array_equal(Activation("gelu_tanh")(x).data, x.gelu(approximate="tanh").data)


@pytest.mark.parametrize("key", sorted(Activation.KINDS))
def test_printed_names_load_back(key, tmp_path):
    printed = Activation(key).name
    assert Activation(printed).key == key
    model = MLP([Dense(3, 2, activation=key, seed=0)])
    loaded = MLP().load(model.save(tmp_path / "m"))
    assert loaded.layers[0].activation.key == key
    np.testing.assert_array_equal(loaded.predict(np.ones(3)), model.predict(np.ones(3)))


def test_the_default_initialisation_is_unchanged():
    """He-normal for ReLU and Glorot-uniform otherwise, the same draws from the same seed."""
    rng = np.random.default_rng(7)
    he = rng.standard_normal((5, 4)) * np.sqrt(2 / 4)
    np.testing.assert_array_equal(Dense(4, 5, seed=7).W.data, he.astype(np.float32))
    rng = np.random.default_rng(7)
    glorot = rng.uniform(-np.sqrt(6 / 9), np.sqrt(6 / 9), (5, 4))
    np.testing.assert_array_equal(Dense(4, 5, activation="tanh", seed=7).W.data, glorot.astype(np.float32))


@pytest.mark.parametrize("init, kind, scale", [
    ("he", "normal", np.sqrt(2 / 400)), ("kaiming", "normal", np.sqrt(2 / 400)),
    ("xavier", "uniform", np.sqrt(6 / 700)), ("glorot", "uniform", np.sqrt(6 / 700)),
    ("normal", "normal", np.sqrt(1 / 400)), ("uniform", "uniform", np.sqrt(1 / 400)),
])
def test_initialisers_by_name(init, kind, scale):
    w = Dense(400, 300, activation="tanh", init=init, seed=0).W.data
    if kind == "normal":
        assert w.std() == pytest.approx(scale, rel=0.02) and abs(w.mean()) < scale / 50
    else:
        assert np.abs(w).max() <= scale and np.abs(w).max() > 0.99 * scale
        assert w.std() == pytest.approx(scale / np.sqrt(3), rel=0.02)


def test_unknown_initialiser_lists_the_choices():
    with pytest.raises(ValueError, match="unknown init 'zeros'; choose one of"):
        Dense(2, 2, init="zeros")


# ---------------------------------------------------------------- Dropout


def test_dropout_drops_about_p_and_keeps_the_expected_value():
    drop = Dropout(0.3, seed=0)
    out = drop(Tensor(np.ones((200, 500)))).data
    assert np.mean(out == 0) == pytest.approx(0.3, abs=0.01)
    assert np.unique(out).tolist() == pytest.approx([0.0, 1 / 0.7])
    assert out.mean() == pytest.approx(1.0, abs=0.01)


def test_dropout_gradient_flows_through_the_kept_elements_only():
    x = Tensor(np.ones(1000), requires_grad=True)
    out = Dropout(0.5, seed=1)(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # d(sum)/dx = the mask / (1 - p)


def test_dropout_is_reproducible_and_off_in_eval_mode():
    a, b = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    x = Tensor(np.arange(1.0, 50.0))
    np.testing.assert_array_equal(a(x).data, b(x).data)
    a.training = False
    assert a(x) is x


@pytest.mark.parametrize("p", [-0.1, 1.0, 2])
def test_dropout_probability_is_checked(p):
    with pytest.raises(ValueError, match=r"p in \[0, 1\)"):
        Dropout(p)


def test_models_train_and_eval_modes():
    model = MLP([Dense(8, 16, seed=0), Dropout(0.5, seed=0), Dense(16, 8, activation="identity", seed=1)])
    x = np.random.default_rng(0).random((4, 8), dtype=np.float32)
    assert model.training and model.layers[1].training
    first, second = model.predict(x), model.predict(x)
    np.testing.assert_array_equal(first, second)             # predict runs in eval mode: no dropping ...
    assert model.training and model.layers[1].training       # ... and restores the mode it found
    assert not np.array_equal(model(Tensor(x)).data, model(Tensor(x)).data)  # training: two masks
    assert model.eval() is model and not model.layers[1].training
    np.testing.assert_array_equal(model(Tensor(x)).data, first)
    model.train()
    assert model.evaluate(x, x) == pytest.approx(model.evaluate(x, x)) and model.layers[1].training
    model.eval()
    model.fit(x, x, epochs=1, verbose=False, seed=0)
    assert not model.training, "fit gives the model back in the mode it found"


def test_a_model_with_dropout_prints_and_refuses_to_save_with_a_reason(tmp_path):
    model = MLP([Dense(8, 4, seed=0), Dropout(0.2), BatchNorm(4), Dense(4, 8, seed=1)])
    assert "Dropout(p=0.2)" in str(model) and "BatchNorm(4)" in model.summary()
    assert model.layer_sizes == [8, 4, 8] and model.num_parameters == 36 + 8 + 40
    with pytest.raises(ValueError, match="stores Dense layers only"):
        model.save(tmp_path / "m")
    with pytest.raises(ValueError, match="takes 5 inputs, but layer 2 gives 4 outputs"):
        MLP([Dense(8, 4), Dropout(0.2), Dense(5, 2)])


# ---------------------------------------------------------------- BatchNorm and LayerNorm


def numpy_batchnorm(x, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    return (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


@given(shape=st.sampled_from([(5, 3), (4, 2, 3), (3, 2, 2, 3)]), data=st.data())
def test_batchnorm_normalises_every_axis_but_the_features(shape, data):
    x = S.distinct(data.draw(S.arrays(shape)))
    bn = BatchNorm(shape[1])
    np.testing.assert_allclose(bn(Tensor(x)).data, numpy_batchnorm(x), rtol=1e-9, atol=1e-9)
    assert gradcheck(lambda t: bn(t), Tensor(x, requires_grad=True))


def test_batchnorm_running_statistics_and_eval_mode():
    rng = np.random.default_rng(0)
    bn = BatchNorm(3, momentum=0.25)
    batches = [rng.normal(2.0, 3.0, (8, 3)) for _ in range(2)]
    mean, var = np.zeros(3), np.ones(3)
    for x in batches:
        bn(Tensor(x))
        mean = 0.75 * mean + 0.25 * x.mean(axis=0)
        var = 0.75 * var + 0.25 * x.var(axis=0, ddof=1)
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-6)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-6)
    bn.training = False
    one = rng.normal(size=(1, 3))
    np.testing.assert_allclose(bn(Tensor(one)).data, (one - mean) / np.sqrt(var + 1e-5), rtol=1e-5)


def test_layernorm_normalises_each_row():
    x = S.distinct(np.random.default_rng(0).normal(size=(4, 6)))
    ln = LayerNorm(6)
    expected = (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln(Tensor(x)).data, expected, rtol=1e-9)
    assert gradcheck(lambda t: ln(t), Tensor(x, requires_grad=True))


def test_normalisation_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"expects inputs with 3 features in axis 1, got shape \(2, 4\)"):
        BatchNorm(3)(Tensor.zeros(2, 4))
    with pytest.raises(ValueError, match=r"3 features in axis 1, got shape \(2, 4\)"):
        LayerNorm(3)(Tensor.zeros(2, 4))


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5, 5)])
def test_batchnorm_and_layernorm_match_torch(shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).normal(1.0, 2.0, shape)
    bn = BatchNorm(3)
    bn.gamma.data[...] = [0.5, 1.5, -1.0]
    bn.beta.data[...] = [0.1, 0.0, 2.0]
    theirs = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(3).double()
    with torch.no_grad():
        theirs.weight[:], theirs.bias[:] = torch.tensor([0.5, 1.5, -1.0]), torch.tensor([0.1, 0.0, 2.0])
    ours_x, their_x = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = bn(ours_x), theirs(their_x)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-6, atol=1e-6)
    weights = np.random.default_rng(2).normal(size=shape)
    (out * weights).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours_x.grad, their_x.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.gamma.grad, theirs.weight.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(bn.running_mean, theirs.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var, theirs.running_var.numpy(), rtol=1e-6)
    bn.training = False
    theirs.eval()
    np.testing.assert_allclose(bn(Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    ln, their_ln = LayerNorm(shape[-1]), torch.nn.LayerNorm(shape[-1]).double()
    np.testing.assert_allclose(ln(Tensor(x)).data, their_ln(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-9)
