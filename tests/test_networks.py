"""Dense, MLP, losses and optimizers: the seed's API and what training needs."""

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import strategies as S
from tinygrad_ae import MLP, SGD, Adam, Dense, Function, FusedAdam, History, Tensor, bce, cross_entropy, gradcheck, mse
from tinygrad_ae.layers import get_activation
from tinygrad_ae.losses import get_loss

DATA = Path(__file__).parent / "data"


def seed_autoencoder(seed=0):
    model = MLP()
    model.addLayer(Dense(784, 10, activation="relu", seed=seed))
    model.addLayer(Dense(10, 784, activation="sigmoid", seed=seed + 1))
    return model


# ---------------------------------------------------------------- the seed's text and structure

def test_print_matches_the_seed_notebook_exactly(capsys):
    print(seed_autoencoder())
    assert capsys.readouterr().out == (DATA / "seed_mlp_784_10_784.txt").read_text()


def test_print_rules_fit_each_layer_title():
    text = str(MLP([Dense(6, 3), Dense(3, 6, activation="tanh"), Dense(6, 2, activation="softmax")]))
    lines = text.splitlines()
    assert lines[0] == "-" * 20 + " MULTI LAYER PERCEPTRON (MLP) " + "-" * 20 and len(lines[0]) == 70
    assert "HIDDEN LAYERS = 1" in lines
    for i, line in enumerate(lines):
        if line.startswith("DENSE"):
            assert lines[i - 1] == lines[i + 1] == "-" * (len(line) + 1)
    assert "DENSE 3 -> 6 [Tanh]" in lines and "DENSE 6 -> 2 [Softmax]" in lines


def test_add_layer_refuses_mismatched_sizes_naming_both():
    nn = MLP()
    nn.addLayer(Dense(6, 3))
    with pytest.raises(ValueError, match="takes 4 inputs, but layer 1 gives 3 outputs"):
        nn.addLayer(Dense(4, 6))
    assert len(nn.layers) == 1
    nn.add_layer(Dense(3, 6))  # the snake_case alias
    assert nn.layer_sizes == [6, 3, 6]


def test_parameters_are_named_by_path():
    model = seed_autoencoder()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["layer1.W", "layer1.b", "layer2.W", "layer2.b"]
    assert [t.name for t in model.parameters()] == names
    assert model.num_parameters == 16474


def test_dense_shapes_defaults_and_validation():
    layer = Dense(784, 10)
    assert layer.W.shape == (10, 784) and layer.b.shape == (10,)
    assert layer.activation.name == "ReLU"  # the documented default
    assert layer.W.dtype == np.float32
    np.testing.assert_array_equal(Dense(5, 3, seed=7).W.data, Dense(5, 3, seed=7).W.data)
    assert abs(Dense(1000, 1000, seed=0).W.data.std() - np.sqrt(2 / 1000)) < 0.002  # He
    limit = np.sqrt(6 / 2000)
    assert np.abs(Dense(1000, 1000, activation="tanh", seed=0).W.data).max() <= limit  # Glorot
    for bad in (0, -1, 2.5, "3"):
        with pytest.raises(ValueError, match="positive whole number"):
            Dense(bad, 3)
    with pytest.raises(ValueError, match="unknown activation"):
        Dense(2, 3, activation="mish")
    with pytest.raises(ValueError, match="expects inputs with 5 features"):
        Dense(5, 3)(Tensor.ones(2, 4))


@pytest.mark.parametrize("name, expected", [("relu", "ReLU"), ("Sigmoid", "Sigmoid"), ("tanh", "Tanh"),
                                            ("softmax", "Softmax"), ("linear", "Identity"), ("identity", "Identity"), (None, "Identity")])
def test_activations_by_name(name, expected):
    assert get_activation(name).name == expected


def test_predict_accepts_vectors_batches_lists_and_tensors_and_records_nothing():
    model = seed_autoencoder()
    image = np.random.default_rng(0).random(784, dtype=np.float32)
    single = model.predict(image)
    assert single.shape == (784,) and isinstance(single, np.ndarray)
    batch = model.predict(np.stack([image, image]))
    np.testing.assert_allclose(batch[0], single, rtol=1e-6)
    np.testing.assert_allclose(model.predict(list(image)), single, rtol=1e-6)
    np.testing.assert_allclose(model.predict(Tensor(image)), single, rtol=1e-6)
    np.testing.assert_allclose(model.predict(image.reshape(1, 784))[0], single, rtol=1e-6)
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match=r"reshape\(-1\)"):
        model.predict(image.reshape(28, 28))


def test_forward_builds_a_graph_through_every_parameter():
    model = seed_autoencoder()
    loss = mse(model(Tensor.ones(2, 784)), Tensor.zeros(2, 784))
    loss.backward()
    assert all(p.grad is not None and np.abs(p.grad).sum() > 0 for p in model.parameters())
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


# ---------------------------------------------------------------- losses


def test_loss_values():
    assert mse(Tensor([[1.0, 2.0]]), Tensor([[1.0, 4.0]])).item() == 2.0
    assert bce(Tensor([0.5]), Tensor([1.0])).item() == pytest.approx(np.log(2), rel=1e-6)
    assert cross_entropy(Tensor([[0.0, 0.0]]), np.array([1])).item() == pytest.approx(np.log(2), rel=1e-6)
    assert cross_entropy(Tensor([[0.0, 0.0]]), np.array([[0.0, 1.0]])).item() == pytest.approx(np.log(2), rel=1e-6)
    with pytest.raises(ValueError, match="prediction has shape"):
        mse(Tensor.ones(2, 3), Tensor.ones(3, 2))
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("l3")


def test_losses_are_stable_for_extreme_inputs():
    logits = Tensor(np.array([[-1e4, 1e4]], dtype=np.float32), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        values = [bce(logits, np.array([[0.0, 1.0]]), from_logits=True), cross_entropy(logits, np.array([1])),
                  bce(Tensor([[0.0, 1.0]]), np.array([[1.0, 0.0]]))]
    assert all(np.isfinite(v.item()) for v in values)


@given(pair=st.integers(1, 4).flatmap(lambda n: st.tuples(S.arrays((n, 3)), S.arrays((n, 3)))))
def test_mse_gradient(pair):
    prediction, target = pair
    assert gradcheck(lambda p, t: mse(p, t), Tensor(prediction, requires_grad=True), Tensor(target, requires_grad=True))


@given(logits=S.arrays((3, 4)), targets=S.arrays((3, 4)))
def test_bce_gradients(logits, targets):
    y = (np.tanh(targets) + 1) / 2  # targets in (0, 1)
    assert gradcheck(lambda x: bce(x, y, from_logits=True), Tensor(logits, requires_grad=True))
    p = 1 / (1 + np.exp(-logits))  # probabilities well inside (eps, 1 - eps) for |logits| <= 3
    assert gradcheck(lambda q: bce(q, y), Tensor(p, requires_grad=True))


@given(logits=S.arrays((4, 5)), labels=st.lists(st.integers(0, 4), min_size=4, max_size=4))
def test_cross_entropy_gradients(logits, labels):
    assert gradcheck(lambda x: cross_entropy(x, np.array(labels)), Tensor(logits, requires_grad=True))
    one_hot = np.eye(5)[labels]
    assert gradcheck(lambda x: cross_entropy(x, one_hot), Tensor(logits, requires_grad=True))


# ---------------------------------------------------------------- optimizers


def quadratic_descent(optimizer_class, **options):
    w = Tensor(np.array([3.0, -2.0], dtype=np.float32), requires_grad=True)
    opt = optimizer_class([w], **options)
    for _ in range(200):
        opt.zero_grad()
        ((w - 1.0) ** 2).sum().backward()
        opt.step()
    return w


@pytest.mark.parametrize("cls, options", [(SGD, {"lr": 0.1}), (SGD, {"lr": 0.05, "momentum": 0.9}),
                                          (Adam, {"lr": 0.05}), (FusedAdam, {"lr": 0.05})])
def test_optimizers_minimise_a_quadratic_in_place(cls, options):
    w = quadratic_descent(cls, **options)
    np.testing.assert_allclose(w.data, [1.0, 1.0], atol=1e-2)
    assert w.data.dtype == np.float32


def test_adam_matches_the_textbook_update():
    rng = np.random.default_rng(0)
    w0, grads = rng.standard_normal(5), rng.standard_normal((3, 5))
    w = Tensor(w0.copy(), requires_grad=True)
    opt = Adam([w], lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    m = v = np.zeros(5)
    expected = w0.copy()
    for t, g in enumerate(grads, 1):
        w.grad = g.copy()
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        expected -= 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    np.testing.assert_allclose(w.data, expected, rtol=1e-10)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_fused_adam_equals_the_textbook_adam(dtype, rtol, weight_decay):
    """FusedAdam is Adam rearranged for speed: the same trajectory, within float rounding."""
    rng = np.random.default_rng(1)
    shapes = [(3, 4), (4,), (2, 3)]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    plain = [Tensor(a.copy(), requires_grad=True) for a in start]
    fused = [Tensor(a.copy(), requires_grad=True) for a in start]
    opt_plain = Adam(plain, lr=0.01, weight_decay=weight_decay)
    opt_fused = FusedAdam(fused, lr=0.01, weight_decay=weight_decay)
    for _ in range(50):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        for params, opt in ((plain, opt_plain), (fused, opt_fused)):
            opt.zero_grad()
            for p, g in zip(params, grads):
                p.grad = g.copy()
            opt.step()
    for p, f in zip(plain, fused):
        assert f.data.dtype == dtype
        np.testing.assert_allclose(f.data, p.data, rtol=rtol, atol=rtol)


def test_sgd_weight_decay_and_validation():
    w = Tensor(np.array([1.0]), requires_grad=True)
    w.grad = np.array([0.0])
    SGD([w], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(w.data, [0.95])
    with pytest.raises(ValueError, match="no parameters"):
        Adam([])
    with pytest.raises(ValueError, match="does not require grad"):
        SGD([Tensor([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="finite number > 0"):
        SGD([w], lr=0)


# ---------------------------------------------------------------- training


def synthetic_images(n=512, seed=0):
    """Blurry blobs in 784 pixels: an autoencoder can learn these quickly."""
    rng = np.random.default_rng(seed)
    basis = rng.random((5, 784), dtype=np.float32)
    return np.clip(rng.random((n, 5), dtype=np.float32) @ basis / 2.5, 0, 1).astype(np.float32)


def test_fit_drives_the_autoencoder_loss_down():
    x = synthetic_images()
    model = seed_autoencoder()
    before = model.evaluate(x, x)
    history = model.fit(x, x, epochs=10, batch_size=32, optimizer=Adam(model.parameters(), lr=1e-2),
                        validation_data=(x[:64], x[:64]), verbose=False, seed=0)
    assert history.epochs == 10 and not history.interrupted
    assert history["train_loss"][-1] < history["train_loss"][0] < before
    assert history["test_loss"][-1] < 0.7 * before
    assert all(s > 0 for s in history["seconds"])


def test_fit_saves_a_checkpoint_each_epoch(tmp_path):
    x = synthetic_images(64)
    model = seed_autoencoder()
    path = tmp_path / "checkpoint.npz"
    model.fit(x, x, epochs=2, batch_size=16, verbose=False, checkpoint=path)
    restored = MLP().load(path)
    assert restored.metadata["epoch"] == 2
    np.testing.assert_array_equal(restored.layers[0].W.data, model.layers[0].W.data)


@pytest.mark.parametrize("jit", [True, False])
def test_ctrl_c_stops_after_the_current_step_and_leaves_the_model_usable(jit):
    x = synthetic_images(256)
    model = seed_autoencoder()
    steps = []

    class InterruptOnThirdStep(Function):
        """The identity, which sends a real Ctrl-C from inside the third step's forward pass
        (an op, so that a compiled step replays it too)."""

        def forward(self, a):
            steps.append(1)
            if len(steps) == 3:
                os.kill(os.getpid(), signal.SIGINT)
            return a

        def backward(self, grad):
            return (grad,)

    def interrupt_on_third_step(prediction, target):
        return mse(InterruptOnThirdStep.apply(prediction), target)

    history = model.fit(x, x, epochs=3, batch_size=16, loss=interrupt_on_third_step, verbose=False, jit=jit)
    assert history.interrupted and history.epochs == 0 and len(steps) == 3
    assert np.isfinite(model.predict(x[:2])).all()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_history_plot_writes_a_png(tmp_path):
    x = synthetic_images(64)
    history = seed_autoencoder().fit(x, x, epochs=2, batch_size=32, verbose=False)
    fig = history.plot(tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes().startswith(b"\x89PNG")
    assert len(fig.axes[0].lines) == 1  # no validation data: only the train curve


def test_a_long_history_plot_title_wraps_inside_the_figure(tmp_path):
    """The shipped conv model's curve once lost the end of its title off the figure's edge."""
    title = "Blind conv-two-scale denoiser: weighted training loss and test MSE per epoch"
    fig = History(train_loss=[0.5, 0.3], test_loss=[0.6, 0.4]).plot(tmp_path / "loss.png", title=title)
    text = fig.axes[0].title
    assert text.get_text().replace("\n", " ") == title
    box, figure_box = text.get_window_extent(fig.canvas.get_renderer()), fig.bbox
    assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1 and box.y1 <= figure_box.y1
    two_lines = History(train_loss=[0.5, 0.3]).plot(title="first line\nsecond line")
    assert two_lines.axes[0].title.get_text() == "first line\nsecond line"  # the caller's line breaks stay


def test_cross_entropy_takes_labels_in_every_common_form():
    logits = Tensor(np.zeros((2, 3), np.float32))
    expected = np.log(3)
    for labels in (np.array([1, 2]), [1, 2], Tensor([1, 2]), np.array([1.0, 2.0])):
        assert cross_entropy(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    assert cross_entropy(Tensor([0.0, 0.0, 0.0]), 2).item() == pytest.approx(expected, rel=1e-6)
    assert cross_entropy(Tensor(np.zeros((2, 4, 3))), np.zeros((2, 4), int)).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="whole numbers"):
        cross_entropy(logits, np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match=r"labels of shape \(3,\) for logits of shape \(2, 3\)"):
        cross_entropy(logits, np.array([0, 1, 2]))


def test_load_into_the_same_architecture_keeps_the_optimizer_working(tmp_path):
    x = synthetic_images(64)
    model = seed_autoencoder()
    path = seed_autoencoder(seed=5).save(tmp_path / "other")
    optimizer = Adam(model.parameters(), lr=1e-2)
    W = model.layers[0].W
    model.load(path)
    assert model.layers[0].W is W  # the same tensors, new numbers
    np.testing.assert_array_equal(W.data, MLP().load(path).layers[0].W.data)
    history = model.fit(x, x, epochs=3, batch_size=16, optimizer=optimizer, verbose=False)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert MLP().metadata == {}


@pytest.mark.real_data
def test_fit_with_a_dataset_refuses_a_second_batch_size_or_seed():
    from tinygrad_ae import Dataset

    dataset = Dataset(train_size=64, test_size=10, batch_size=16)
    for options in ({"batch_size": 32}, {"seed": 1}):
        with pytest.raises(ValueError, match="Dataset's own batch_size and seed"):
            seed_autoencoder().fit(dataset, epochs=1, verbose=False, **options)
