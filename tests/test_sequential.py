"""Sequential: any layers in a row, with everything MLP has; load_model picks the class."""

import numpy as np
import pytest

from tinygrad_ae import (MLP, Conv2D, Dense, Flatten, MaxPool2D, Reshape, Residual, Sequential, Tensor, Upsample2D,
                         load_model)


def small_conv_model(seed=0):
    return Sequential([Reshape(1, 8, 8), Conv2D(1, 4, 3, seed=seed), MaxPool2D(2), Upsample2D(2),
                       Residual([Conv2D(4, 4, 3, seed=seed + 1)]), Conv2D(4, 1, 3, activation="sigmoid", seed=seed + 2),
                       Flatten()], input_shape=(64,))


def test_predict_keeps_the_shape_of_one_sample_or_a_batch():
    model = small_conv_model()
    x = np.random.default_rng(0).random((3, 64), dtype=np.float32)
    assert model.predict(x).shape == (3, 64) and model.predict(x[0]).shape == (64,)
    np.testing.assert_allclose(model.predict(x[0]), model.predict(x)[0], rtol=1e-6)
    with pytest.raises(ValueError, match=r"predict expects shape \(64,\) or \(n, \*\(64,\)\), got \(3, 8, 8\)"):
        model.predict(x.reshape(3, 8, 8))


def test_parameters_are_named_like_an_mlps_and_the_summary_has_a_row_per_layer():
    model = small_conv_model()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["layer2.W", "layer2.b", "layer5.layer1.W", "layer5.layer1.b", "layer6.W", "layer6.b"]
    assert model.num_parameters == 40 + 148 + 37
    rows = model.summary().splitlines()
    assert len(rows) == 2 + len(model.layers) + 1 + 2  # the Residual body has a row of its own
    assert "Conv2D 1 -> 4, 3x3 (ReLU)" in rows[3] and "(None, 4, 8, 8)" in rows[3] and rows[3].endswith("40")
    assert "(None, 4, 4, 4)" in rows[4] and rows[-1] == "Total params: 225"


def test_fit_learns_and_predict_runs_in_eval_mode():
    model = small_conv_model()
    x = np.random.default_rng(1).random((64, 64), dtype=np.float32)
    history = model.fit(x, x, epochs=3, batch_size=16, verbose=False)
    assert history["train_loss"][-1] < history["train_loss"][0]
    seen = []

    class Spy(Flatten):
        def forward(self, x):
            seen.append(self.training)
            return super().forward(x)
    model.layers[-1] = Spy()
    model.predict(x)
    model.evaluate(x, x)
    model(Tensor(x))
    assert seen == [False, False, True] and model.training
    model.eval()
    assert not model.training and not model.layers[4].body[0].training
    model.train()
    assert model.training


def test_save_and_load_model_round_trip(tmp_path):
    model = small_conv_model()
    x = np.random.default_rng(2).random((2, 64), dtype=np.float32)
    path = model.save(tmp_path / "conv", metadata={"note": "test"})
    loaded = load_model(path)
    assert isinstance(loaded, Sequential) and loaded.metadata == {"note": "test"}
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.summary() == model.summary()
    mlp = MLP([Dense(4, 3, seed=0), Dense(3, 4, seed=1)])
    assert isinstance(load_model(mlp.save(tmp_path / "mlp")), MLP)
    assert load_model("mnist_denoising_autoencoder").layer_sizes == [784, 10, 784]


def test_a_damaged_file_is_refused_with_its_name(tmp_path):
    from tinygrad_ae._support.serialization import save_model

    path = save_model(tmp_path / "bad", {"model": "Sequential", "input_shape": [4], "layers": [{"type": "Warp"}]}, {})
    with pytest.raises(ValueError, match="not a valid tinygrad_ae Sequential file .unknown layer type 'Warp'"):
        load_model(path)
    path = save_model(tmp_path / "short", {"model": "Sequential", "input_shape": [4],
                                           "layers": [Dense(4, 2).config()]}, {"layer1.W": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="layer1.W has shape"):
        load_model(path)


def test_add_refuses_what_is_not_a_layer():
    with pytest.raises(TypeError, match="needs a layer such as Conv2D"):
        Sequential().add("conv")


def test_clip_when_predicting_clips_predictions_but_not_training():
    """predict/evaluate see outputs in [low, high]; training sees them raw, with their gradient."""
    from tinygrad_ae import ClipWhenPredicting, mse
    model = Sequential([Dense(2, 2, activation="identity", seed=0), ClipWhenPredicting(0, 1)], input_shape=(2,))
    model.layers[0].W.data[...] = [[3.0, 0.0], [0.0, -3.0]]
    x = np.array([[1.0, 1.0]], np.float32)
    np.testing.assert_array_equal(model.predict(x), [[1.0, 0.0]])
    raw = model(Tensor(x))                                 # training mode: not clipped
    np.testing.assert_allclose(raw.data, [[3.0, -3.0]] + model.layers[0].b.data)
    mse(raw, Tensor(np.full((1, 2), 0.5, np.float32))).backward()
    assert np.all(model.layers[0].W.grad != 0)             # both outputs keep their gradient
    assert model.evaluate(x, np.array([[1.0, 0.0]], np.float32)) == 0.0
    assert model.training


def test_clip_when_predicting_round_trips_and_checks_its_range(tmp_path):
    from tinygrad_ae import ClipWhenPredicting, load_model
    model = Sequential([Dense(3, 3, seed=0), ClipWhenPredicting(0.25, 0.75)], input_shape=(3,))
    loaded = load_model(model.save(tmp_path / "clipped"))
    assert repr(loaded.layers[1]) == "ClipWhenPredicting(low=0.25, high=0.75)"
    x = np.random.default_rng(0).normal(0, 5, (4, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="low < high"):
        ClipWhenPredicting(1, 0)


# ---------------------------------------------------------------- Refinement: a guess, then a correction


def small_refinement(seed=0, dtype=np.float32):
    """4x4 images: a dense guess of the whole image, corrected by two convolutions."""
    from tinygrad_ae import Refinement
    estimate = [Flatten(), Dense(16, 8, seed=seed, dtype=dtype), Dense(8, 16, activation="sigmoid", seed=seed + 1, dtype=dtype),
                Reshape(1, 4, 4)]
    correction = [Conv2D(2, 3, 3, seed=seed + 2), Conv2D(3, 1, 3, activation="linear", seed=seed + 3)]
    if dtype == np.float64:
        for layer in correction:
            layer.W.data, layer.b.data = layer.W.data.astype(np.float64), layer.b.data.astype(np.float64)
    return Refinement(estimate, correction)


def test_refinement_adds_a_correction_of_the_stacked_input_and_estimate_to_the_estimate():
    block = small_refinement()
    x = Tensor(np.random.default_rng(0).random((3, 1, 4, 4), dtype=np.float32))
    m = x
    for layer in block.estimate:
        m = layer(m)
    stacked = Tensor(np.concatenate([x.data, m.data], axis=1))
    correction = block.correction[1](block.correction[0](stacked))
    np.testing.assert_allclose(block(x).data, m.data + correction.data, rtol=1e-6, atol=1e-7)
    block.correction[1].W.data[...] = 0   # a zero correction: the output is the estimate
    block.correction[1].b.data[...] = 0
    np.testing.assert_array_equal(block(x).data, m.data)
    assert [name for name, _ in block.named_parameters()] == [
        "estimate2.W", "estimate2.b", "estimate3.W", "estimate3.b",
        "correction1.W", "correction1.b", "correction2.W", "correction2.b"]


def test_refinement_gradients_match_central_differences():
    from tinygrad_ae import gradcheck
    block = small_refinement(dtype=np.float64)
    x = Tensor(np.random.default_rng(1).random((2, 1, 4, 4)), dtype=np.float64, requires_grad=True)
    # gradcheck nudges each input's numbers in place, the block's own parameters among them
    assert gradcheck(lambda x, *parameters: block(x), x, *block.parameters())


def test_refinement_in_a_model_summary_picture_modes_and_file(tmp_path):
    block = small_refinement()
    model = Sequential([Reshape(1, 4, 4), block, Flatten()], input_shape=(16,))
    rows = model.summary().splitlines()
    assert "Refinement: m + correction([x, m]), m = estimate(x)" in rows[3] and rows[3].endswith(str(block.num_parameters))
    assert [row.split()[0] for row in rows[4:10]] == [".e1", ".e2", ".e3", ".e4", ".c1", ".c2"]
    assert "(None, 3, 4, 4)" in rows[8]                    # the first correction layer sees 2 channels, gives 3
    source = model.plotGraph().source
    assert "stack [input, estimate]" in source and "+ estimate" in source and "2 x 4 x 4" in source
    model.eval()
    assert not block.estimate[1].training and not block.correction[0].training
    model.train()
    x = np.random.default_rng(2).random((5, 16), dtype=np.float32)
    history = model.fit(x, x, epochs=2, batch_size=5, verbose=False)
    assert history["train_loss"][1] < history["train_loss"][0]
    loaded = load_model(model.save(tmp_path / "refined"))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.summary() == model.summary()


def test_a_block_inside_a_block_gets_rows_of_its_own_and_survives_save_and_load(tmp_path):
    """A two-scale correction (a Residual inside a Refinement): its body's rows are labelled
    .c2.1, .c2.2 ... and indented once more; a strided convolution says its stride."""
    from tinygrad_ae import DepthToSpace, Refinement, Residual
    guess = [Flatten(), Dense(64, 64, activation="sigmoid", seed=0), Reshape(1, 8, 8)]
    down_and_up = Residual([Conv2D(4, 8, 3, stride=2, padding=1, seed=2), Conv2D(8, 16, 1, activation="linear", seed=3),
                            DepthToSpace(2)])
    block = Refinement(guess, [Conv2D(2, 4, 3, seed=1), down_and_up, Conv2D(4, 1, 3, activation="linear", seed=4)])
    model = Sequential([Reshape(1, 8, 8), block, Flatten()], input_shape=(64,))
    rows = model.summary().splitlines()
    names = [row.split()[0] for row in rows[2:-2]]
    assert names == ["layer1", "layer2", ".e1", ".e2", ".e3", ".c1", ".c2", ".c2.1", ".c2.2", ".c2.3", ".c3", "layer3"]
    inner = rows[2 + names.index(".c2.1")]
    assert inner.startswith("    .c2.1") and "Conv2D 4 -> 8, 3x3, stride 2 (ReLU)" in inner and "(None, 8, 4, 4)" in inner
    assert "(None, 4, 8, 8)" in rows[2 + names.index(".c2.3")]      # DepthToSpace brings back 4 channels at 8x8
    assert rows[2 + names.index(".c2")].endswith(str(down_and_up.num_parameters))
    x = np.random.default_rng(0).random((3, 64), dtype=np.float32)
    loaded = load_model(model.save(tmp_path / "nested"))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.summary() == model.summary()


def test_a_stride_that_differs_across_the_axes_is_written_like_the_kernel_in_the_summary_and_the_picture():
    model = Sequential([Reshape(1, 8, 8), Conv2D(1, 4, 3, stride=(1, 2), padding=1, seed=0), Flatten()], input_shape=(64,))
    assert "Conv2D 1 -> 4, 3x3, stride 1x2 (ReLU)" in model.summary().splitlines()[3]
    assert "Conv2D 1 -> 4, 3x3, stride 1x2" in model.plotGraph().source


def test_refinement_names_the_shapes_that_do_not_fit():
    from tinygrad_ae import Refinement
    x = Tensor.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"the estimate turns shape \(2, 1, 4, 4\) into \(2, 16\).*Reshape"):
        Refinement([Flatten()], [])(x)
    with pytest.raises(ValueError, match=r"the correction turns the stacked input and estimate \(2, 2, 4, 4\) into "
                                         r"\(2, 3, 4, 4\); it must give the input's shape \(2, 1, 4, 4\)"):
        Refinement([], [Conv2D(2, 3, 3)])(x)
