"""The example scripts and the notebook run for real, headless, and write real pictures.

Scripts are called in-process through their ``main(argv)`` (quicker than a new interpreter),
with ``--no-show`` and their output folder in ``tmp_path``. Where a script trains, it gets
small sizes, except in the one test that checks the linear-autoencoder-is-PCA claim itself.

The denoising demo and the notebook need the pretrained model
``models/mnist_denoising_autoencoder.npz``. When it is not there (a fresh checkout before the
model was trained), they run with a tiny model trained here in a second instead, so that
they are still exercised from top to bottom.
"""

import importlib
import json
import re
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_ae import MLP, Dataset, Dense, FusedAdam, Tensor, load_model
from tinygrad_ae.metrics import PCA, encode

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHIPPED_MODEL = ROOT / "models" / "mnist_denoising_autoencoder.npz"
NOTEBOOK = EXAMPLES / "denoising_autoencoder.ipynb"
BACKPROP_NOTEBOOK = EXAMPLES / "backprop_step_by_step.ipynb"
SEED_LOAD_LINE = 'autoencoder.load("mnist_denoising_autoencoder")'

real_data = pytest.mark.real_data
render = pytest.mark.render
slow = pytest.mark.slow


def example(name):
    """Import ``examples/<name>.py`` as a module (the examples import their ``_common`` helper)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    assert width >= 100 and height >= 100, f"{path} is only {width}x{height} pixels"


def assert_svg(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    assert "<svg" in text and text.rstrip().endswith("</svg>"), f"{path} is not a complete SVG"
    return text


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """The shipped model, or (before it exists) a tiny 784-10-784 model trained for one epoch."""
    if SHIPPED_MODEL.exists():
        return SHIPPED_MODEL
    model = MLP([Dense(784, 10, seed=0, bias_init=0.1), Dense(10, 784, activation="sigmoid", seed=1)])
    model.fit(Dataset(train_size=2000, test_size=100, batch_size=32, seed=0), epochs=1,
              autoencoder=True, noise=0.1, verbose=False)
    return Path(model.save(tmp_path_factory.mktemp("model") / "tiny_denoiser"))


# ---------------------------------------------------------------- denoising_demo.py


@real_data
@render
@slow
def test_denoising_demo_writes_every_picture_and_prints_the_seed_model_text(require_dot, model_path, tmp_path, capsys):
    demo = example("denoising_demo")
    assert demo.main(["--model", str(model_path), "--out", str(tmp_path), "--seed", "3", "--no-show",
                      "--test-images", "200"]) == 0
    stdout = capsys.readouterr().out
    assert "200 test digits, dataset PSNR in dB" in stdout
    assert re.search(r"\n +0\.1 +22\.\d\d +\d+\.\d\d \([+-]\d+\.\d\d\)", stdout)  # noisy, then each model
    if (ROOT / "models" / "mnist_denoising_conv.npz").exists():
        assert "the conv net on each noise kind" in stdout and "salt_pepper" in stdout and "reading:" in stdout

    assert str(MLP().load(model_path)) in stdout  # print(autoencoder), the seed's text block
    assert "MULTI LAYER PERCEPTRON (MLP)" in stdout
    assert re.search(r"prediction +vs clean: MSE \d\.\d+ +PSNR +\d+\.\d+ dB", stdout)
    for name in ("demo_single.png", "denoising_grid.png", "latent_space.png"):
        assert_png(tmp_path / name)
        assert f"wrote {tmp_path / name}" in stdout
    assert "hidden 3" in assert_svg(tmp_path / "architecture_6_3_6.svg")
    assert "hidden 10" in assert_svg(tmp_path / "architecture_784_10_784.svg")


@real_data
def test_denoising_demo_without_the_model_says_how_to_get_one(tmp_path, capsys):
    demo = example("denoising_demo")
    assert demo.main(["--model", str(tmp_path / "missing"), "--out", str(tmp_path), "--no-show"]) == 1
    assert "train_denoising_autoencoder.py" in capsys.readouterr().err


def test_encode_stops_at_the_bottleneck_of_deep_models_too():
    images = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    shallow = MLP([Dense(784, 10, seed=0), Dense(10, 784, activation="sigmoid", seed=1)])
    deep = MLP([Dense(a, b, seed=0) for a, b in [(784, 32), (32, 10), (10, 32), (32, 784)]])
    assert encode(shallow, images).shape == (5, 10)
    assert encode(deep, images).shape == (5, 10)
    np.testing.assert_allclose(encode(shallow, images), shallow.layers[0](Tensor(images)).data)


def test_pca_2d_keeps_the_two_directions_of_largest_variance():
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((500, 4)) * [5.0, 3.0, 0.1, 0.1]
    projection = PCA(2).fit(codes)
    points = projection.encode(codes)
    assert points.shape == (500, 2) and projection.variance_share.sum() > 0.99
    np.testing.assert_allclose(np.abs(np.corrcoef(points[:, 0], codes[:, 0])[0, 1]), 1, atol=1e-3)


# ---------------------------------------------------------------- train_denoisers.py


@real_data
@pytest.mark.parametrize("arch, recipe", [("wide", []), ("conv", ["--clip-loss", "--noise-weight", "0.3"]),
                                          ("conv-two-scale", ["--clip-loss", "--noise-weight", "0.3"]),
                                          ("conv", []), ("dncnn", []), ("conv-s2d", [])])
def test_train_denoisers_writes_the_model_its_record_and_loss_curve(arch, recipe, tmp_path, capsys):
    out = tmp_path / arch
    record = example("train_denoisers").main(["--arch", arch, "--epochs", "2", "--train-size", "256",
                                              "--test-size", "50", "--out", str(out), *recipe])
    loaded = load_model(str(out) + ".npz")
    assert loaded.metadata["test_psnr"] == record["test_psnr"] == json.loads(out.with_suffix(".json").read_text())["test_psnr"]
    assert set(record["test_psnr"]) == {"gaussian", "salt_pepper", "masking"}
    assert list(record["test_psnr"]["gaussian"]) == ["0.1", "0.2", "0.3", "0.5"]
    assert record["training"]["epochs"] == 2 and record["parameters"] == loaded.num_parameters
    losses = record["history"]["train_loss"] + record["history"]["test_loss"]
    assert len(losses) == 4 and all(np.isfinite(losses))
    assert record["history"]["lr"] == [1e-3, 5e-4]  # cosine decay over the two epochs
    assert ("clipped to [0, 1], each image's squared error weighted by 1/(std + 0.3)" in record["training"]["loss"]) \
        == bool(recipe)
    assert not Path(str(out) + "_checkpoint.npz").exists()  # the finished model replaced its checkpoint
    assert_png(Path(str(out) + "_loss.png"))
    assert loaded.predict(np.zeros(784, np.float32)).shape == (784,)
    if arch in ("conv", "conv-two-scale"):
        assert record["training"]["estimate_started_from"].endswith("mnist_denoising_wide.npz")


def test_noise_weights_average_one_over_the_training_stds_and_favour_light_noise():
    noise_weights = example("train_denoisers").noise_weights
    stds = np.linspace(0, 0.5, 100_001, dtype=np.float32)[:, None]  # TRAIN_NOISE's uniform range
    weights = noise_weights(stds, 0.3)
    assert weights.shape == stds.shape and weights.dtype == np.float32
    assert abs(weights.mean() - 1) < 1e-4 and np.all(np.diff(weights[:, 0]) < 0)
    np.testing.assert_allclose(weights[-1] / weights[0], 0.3 / 0.8, rtol=1e-6)


def test_weighted_step_is_the_weighted_mse_of_the_clipped_prediction_and_compiles():
    """The shipped conv recipe's loss, mean(weight * (clip(prediction, 0, 1) - clean)^2): the same
    number as written out in numpy, and compiled steps, given new inputs at every call, train
    exactly as eager steps do."""
    module = example("train_denoisers")
    rng = np.random.default_rng(0)
    batches = [(rng.random((4, 6), dtype=np.float32), rng.random((4, 6), dtype=np.float32),
                module.noise_weights(rng.uniform(0, 0.5, (4, 1)).astype(np.float32), 0.3)) for _ in range(6)]
    runs = []
    for compiled in (False, True):
        model = MLP([Dense(6, 6, activation="linear", seed=0)])
        model.layers[0].W.data *= 3  # outputs outside [0, 1], so that the clip matters
        optimizer = FusedAdam(model.parameters(), lr=1e-2)
        step = module.weighted_step(model, optimizer, clip=True)
        if not compiled:
            step = step.step_fn  # the plain eager function
        losses = []
        for x, clean, weight in batches:
            prediction = model.predict(x)
            expected = np.mean(weight * (np.clip(prediction, 0, 1) - clean) ** 2)
            losses.append(step(x, clean, weight).item())
            np.testing.assert_allclose(losses[-1], expected, rtol=1e-6)
        assert np.any(model.predict(batches[0][0]) < 0) or np.any(model.predict(batches[0][0]) > 1)
        runs.append((losses, [p.data.copy() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    for eager, replayed in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(eager, replayed)


@real_data
def test_a_run_that_stops_early_leaves_the_finished_model_alone(tmp_path, monkeypatch):
    """Epochs are saved to <out>_checkpoint.npz: a run that fails in its second epoch keeps the
    first one there and leaves the model already at <out>.npz (say, the shipped one) untouched."""
    module = example("train_denoisers")
    out = tmp_path / "denoiser"
    finished = (ROOT / "models" / "mnist_denoising_wide.npz").read_bytes()
    Path(str(out) + ".npz").write_bytes(finished)
    epochs, real_epoch = [], module.weighted_epoch

    def second_epoch_fails(*args):
        epochs.append(1)
        if len(epochs) == 2:
            raise FloatingPointError("the training loss became nan; the last epoch's checkpoint is kept")
        return real_epoch(*args)
    monkeypatch.setattr(module, "weighted_epoch", second_epoch_fails)
    with pytest.raises(FloatingPointError):
        module.main(["--arch", "wide", "--epochs", "2", "--train-size", "64", "--test-size", "10", "--clip-loss",
                     "--out", str(out)])
    assert Path(str(out) + ".npz").read_bytes() == finished
    checkpoint = load_model(str(out) + "_checkpoint.npz")
    assert checkpoint.metadata["unfinished"] and len(checkpoint.metadata["history"]["train_loss"]) == 1


@real_data
def test_weighted_epoch_refuses_to_go_on_from_non_finite_weights():
    """A NaN weight must stop the epoch with an error before train_denoisers writes a checkpoint."""
    module = example("train_denoisers")
    args = module.parse_args(["--train-size", "64", "--test-size", "10", "--noise-weight", "0.3", "--clip-loss"])
    dataset = Dataset(name="mnist", train_size=64, test_size=10, batch_size=32, seed=0)
    model = module.build("wide", 0)
    model.layers[0].W.data[0, 0] = np.nan
    optimizer = FusedAdam(model.parameters(), lr=1e-3)
    step = module.weighted_step(model, optimizer, clip=True)
    x_test = dataset.test[0]
    with pytest.raises(FloatingPointError, match="checkpoint is kept"):
        module.weighted_epoch(model, optimizer, step, dataset, np.random.default_rng(0), args, (x_test, x_test))


def test_train_denoisers_refuses_a_noise_weight_offset_that_is_not_positive(capsys):
    parse_args = example("train_denoisers").parse_args
    assert parse_args(["--noise-weight", "0.3"]).noise_weight == 0.3
    for bad in ("0", "-0.1", "nan"):
        with pytest.raises(SystemExit):
            parse_args(["--noise-weight", bad])
        assert "needs a number > 0" in capsys.readouterr().err


@pytest.mark.parametrize("arch, extent", [("conv-two-scale", 25), ("conv", 17)])
def test_how_far_each_correction_sees(arch, extent):
    """The README's "25x25 pixels instead of 17x17": the rows and columns of the input that the
    centre output pixel's gradient reaches."""
    module = example("train_denoisers")
    correction = module.two_scale_correction(0) if arch == "conv-two-scale" else module.dncnn(0, in_channels=2)
    x = Tensor(np.random.default_rng(0).random((1, 2, 28, 28), dtype=np.float32), requires_grad=True)
    y = x
    for layer in correction:
        y = layer(y)
    y[0, 0, 14, 14].backward()
    rows, columns = np.nonzero(np.abs(x.grad).sum(axis=(0, 1)))
    assert np.ptp(rows) + 1 == extent and np.ptp(columns) + 1 == extent


def test_train_denoisers_refuses_to_resume_a_model_of_another_architecture(tmp_path):
    """--resume writes its checkpoints to --arch's file: a model of another architecture must be
    refused before anything is written (it once could overwrite the shipped conv model)."""
    main = example("train_denoisers").main
    wide = ROOT / "models" / "mnist_denoising_wide.npz"
    with pytest.raises(SystemExit, match=r"not the --arch conv architecture \(it was built by --arch wide\); give the --arch"):
        main(["--resume", str(wide), "--arch", "conv", "--epochs", "0", "--out", str(tmp_path / "out")])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("arch", ["conv", "conv-two-scale"])
def test_the_conv_denoiser_starts_as_the_wide_mlp_it_refines(arch):
    """--arch conv / conv-two-scale: the estimate is a copy of the trained wide MLP, the correction starts at zero."""
    build = example("train_denoisers").build
    wide = load_model("mnist_denoising_wide")
    model = build(arch, 0, estimate_from=ROOT / "models" / "mnist_denoising_wide.npz")
    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    np.testing.assert_allclose(model.predict(x), wide.predict(x), rtol=1e-6, atol=1e-7)
    fresh = build(arch, 0)                                    # --estimate-from none: random weights
    assert not np.allclose(fresh.predict(x), wide.predict(x), atol=1e-3)
    with pytest.raises(ValueError, match="unknown arch 'unet'"):
        build("unet", 0)


# ---------------------------------------------------------------- compute_graph.py


@render
def test_compute_graph_before_and_after_backward(require_dot, tmp_path, capsys):
    assert example("compute_graph").main(["--out", str(tmp_path)]) == 0
    before = assert_svg(tmp_path / "compute_graph_before_backward.svg")
    after = assert_svg(tmp_path / "compute_graph.svg")
    for name in ("compute_graph_before_backward.png", "compute_graph.png"):
        assert_png(tmp_path / name)
    for parameter in ("layer1.W", "layer1.b", "layer2.W", "layer2.b"):
        assert parameter in before and parameter in after
    assert "|grad|" not in before and after.count("|grad|") == 4
    assert "MatMul" in after and "Sigmoid" in after
    stdout = capsys.readouterr().out
    before_step, after_step = map(float, re.search(r"before the step (\S+), after it (\S+)", stdout).groups())
    assert after_step < before_step  # one SGD step lowered the loss


@render
def test_compute_graph_can_write_just_the_readme_picture(require_dot, tmp_path):
    assert example("compute_graph").main(["--out", str(tmp_path), "--format", "svg", "--stage", "after"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compute_graph.svg"]


# ---------------------------------------------------------------- linear_autoencoder_vs_pca.py


def test_principal_angles():
    pca_example = example("linear_autoencoder_vs_pca")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((784, 10))
    same_subspace = a @ rng.standard_normal((10, 10))  # another basis of the same subspace
    np.testing.assert_allclose(pca_example.principal_angles(a, same_subspace), 0, atol=1e-5)
    q, _ = np.linalg.qr(rng.standard_normal((784, 20)))
    np.testing.assert_allclose(pca_example.principal_angles(q[:, :10], q[:, 10:]), 90, atol=1e-5)
    tilted = q[:, :2].copy()
    tilted[:, 1] = np.cos(np.radians(30)) * q[:, 1] + np.sin(np.radians(30)) * q[:, 2]
    np.testing.assert_allclose(pca_example.principal_angles(q[:, :2], tilted), [0, 30], atol=1e-5)


@real_data
def test_linear_autoencoder_vs_pca_writes_its_pictures(tmp_path, capsys):
    pca_example = example("linear_autoencoder_vs_pca")
    assert pca_example.main(["--train-size", "2000", "--epochs", "2", "--out", str(tmp_path), "--no-show"]) == 0
    for name in ("linear_ae_vs_pca_components.png", "linear_ae_vs_pca_angles.png"):
        assert_png(tmp_path / name)
    assert "principal angles" in capsys.readouterr().out


@real_data
@slow
def test_a_linear_autoencoder_learns_the_pca_subspace(tmp_path, capsys):
    """The notebook's theory claim, with the script's default settings (~5 s of training)."""
    pca_example = example("linear_autoencoder_vs_pca")
    assert pca_example.main(["--out", str(tmp_path), "--no-show"]) == 0
    stdout = capsys.readouterr().out
    largest = float(re.search(r"largest (\S+), mean", stdout).group(1))
    assert largest < 5, stdout
    ae_error, pca_error = map(float, re.search(r"autoencoder (\S+), PCA (\S+)", stdout).groups())
    assert pca_error <= ae_error < pca_error * 1.01, stdout


# ---------------------------------------------------------------- _common.py


def test_headless_means_no_windows(monkeypatch):
    common = example("_common")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert common.setup_matplotlib(None) is False
    assert common.setup_matplotlib(True) is False  # asked for, impossible: files only
    import matplotlib
    assert matplotlib.get_backend().lower() == "agg"


# ---------------------------------------------------------------- the notebook


@pytest.mark.parametrize("path", [NOTEBOOK, BACKPROP_NOTEBOOK], ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code and all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert any(SEED_LOAD_LINE in "".join(cell["source"]) for cell in code)


def execute_notebook(nbclient, notebook, tmp_path, monkeypatch, timeout: int = 120) -> None:
    """Run every cell in examples/, with a kernel of this very interpreter (``timeout`` s per cell)."""
    # A kernel spec that runs this very interpreter: the one installed in a virtualenv says
    # just "python", which is another interpreter (or none) when the venv is not activated.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))

    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(EXAMPLES)}})
    client.execute()  # raises CellExecutionError, with the failing cell, on any error


@real_data
@render
@slow
def test_notebook_runs_top_to_bottom(require_dot, model_path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    if model_path != SHIPPED_MODEL:  # no shipped model yet: the notebook loads the tiny one
        for cell in notebook.cells:
            cell.source = cell.source.replace(SEED_LOAD_LINE, f'autoencoder.load({str(model_path)!r})')
    execute_notebook(nbclient, notebook, tmp_path, monkeypatch)

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "".join(output.get("text", "") for output in outputs)
    assert str(MLP().load(model_path)) in text
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    drawings = [output for output in outputs if "image/svg+xml" in output.get("data", {})]
    assert len(images) >= 6 and len(drawings) == 3  # plots; 6-3-6, 784-10-784 and compute graph


@real_data
@render
@slow
def test_backprop_notebook_plays_backward_inline(require_dot, model_path, tmp_path, monkeypatch):
    """The three lessons run, their players are inline HTML with their script, the step lowers the loss."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(BACKPROP_NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        cell.source = cell.source.replace(SEED_LOAD_LINE, f'autoencoder.load({str(model_path)!r})')
        cell.source = cell.source.replace('Path("out")', f'Path({str(tmp_path / "out")!r})')
    execute_notebook(nbclient, notebook, tmp_path, monkeypatch)

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "".join(output.get("text", "") for output in outputs)
    players = [output["data"]["text/html"] for output in outputs if "text/html" in output.get("data", {})]
    assert len(players) == 3
    for html, steps in zip(players, (2, 7, 12)):
        assert html.startswith('<div class="tgae-player"') and html.count("<svg") == steps + 1  # + step 1 as markup
        assert "<script>" in html and "addEventListener" in html
    assert "layer1.W" in players[2] and "step 1  Add  L.grad = 1" in text
    assert "x.grad += 3 (d/db = a): 4 -> 7" in text and "W.grad == G.T @ x" in text
    before, after = map(float, re.search(r"before the step (\S+), after it (\S+)", text).groups())
    assert after < before
    assert "DIFFERS" not in text and text.count(" ok") >= 9
    for name in ("lesson", "dense", "autoencoder_step"):
        assert (tmp_path / "out" / f"backprop_{name}.html").stat().st_size > 10_000


# ---------------------------------------------------------------- backprop_player.py


@render
def test_backprop_player_prints_the_exercise_and_writes_the_player_and_gif(require_dot, tmp_path, capsys):
    assert example("backprop_player").main(["--out", str(tmp_path), "--gif"]) == 0
    stdout = capsys.readouterr().out
    assert "a.grad += 6 (d/da = b): 10 -> 16" in stdout and "leaves: a.grad = 16, b.grad = 4, c.grad = 2" in stdout
    assert (tmp_path / "backprop_player.html").read_text().count("<svg") == 3 + 1
    assert (tmp_path / "backprop_step_by_step.gif").read_bytes()[:6] == b"GIF89a"


@real_data
def test_vae_example_learns_on_a_small_subset(capsys):
    """The VAE recipe end to end on 2,000 images for one epoch: the negative ELBO per test
    image falls well below the untrained model's (547 nats measured at the start)."""
    results = example("vae_mnist").main(["--epochs", "1", "--train-size", "2000", "--test-size", "500"])
    assert results["test_loss"][0] < 0.6 * results["untrained_test_loss"]
    assert all(np.isfinite(results["train_loss"]))
    assert "nats per image" in capsys.readouterr().out


CONV_NOTEBOOK = EXAMPLES / "convolutional_denoising.ipynb"


def test_conv_notebook_is_stored_without_outputs():
    notebook = json.loads(CONV_NOTEBOOK.read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code and all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)


@real_data
@render
@slow
@pytest.mark.skipif(not (ROOT / "models" / "mnist_denoising_conv.npz").exists(), reason="needs the shipped conv model")
def test_conv_notebook_runs_top_to_bottom(require_dot, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(CONV_NOTEBOOK, as_version=4)
    execute_notebook(nbclient, notebook, tmp_path, monkeypatch, timeout=300)
    text = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs)
    difference = float(re.search(r"largest difference to the loop: (\S+)", text).group(1))
    assert difference < 1e-5 and "True" in text and "Total params: 1,736,025" in text and "Refinement" in text
    assert float(re.search(r"largest difference, fast vs composed: (\S+)", text).group(1)) < 1e-10
    assert re.search(r"\n  0\.1 +22\.\d\d +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d", text)
