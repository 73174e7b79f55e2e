"""Issue 10, training and notebook part: what ``fit`` does with bad arguments, NaN/inf, a
checkpoint it cannot write, and how it looks in Jupyter (a notebook executed for real).

Each test is named for the behaviour it pins down; each failed on the code before the fix.
"""

import doctest
import importlib
import importlib.util
import inspect
import json
import os
import pydoc
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from tinygrad_ae import SGD, Adam, Dataset, Dense, MLP, mse
from tinygrad_ae import training
from tinygrad_ae.training import History

slow = pytest.mark.slow


def autoencoder(inputs=4, hidden=2, seed=0):
    return MLP([Dense(inputs, hidden, seed=seed), Dense(hidden, inputs, activation="sigmoid", seed=seed + 1)])


def identity_model(features=4):
    """A linear layer with W = I and b = 0: its prediction is exactly its input."""
    model = MLP([Dense(features, features, activation="identity")])
    model.layers[0].W.data[...] = np.eye(features, dtype=np.float32)
    return model


def weights(model):
    return [p.data.copy() for p in model.parameters()]


def rows(n=64, features=4, seed=0):
    return np.random.default_rng(seed).random((n, features), dtype=np.float32)


# ---------------------------------------------------------------- item 4: noise with arrays


class Recorder:
    """A loss that records what the model saw and returns 0 * prediction, so the gradient
    is zero and the identity model stays the identity: its prediction is its input."""

    def __init__(self):
        self.inputs, self.targets = [], []

    def __call__(self, prediction, target):
        self.inputs.append(prediction.data.copy())
        self.targets.append(target.data.copy())
        return (prediction * 0.0).sum()


def record_inputs(x, epochs=2, **options):
    recorder = Recorder()
    # jit=False: the recording loss is Python besides the ops, which a compiled step runs only
    # while it traces (see tinygrad_ae/jit.py)
    identity_model(x.shape[1]).fit(x, epochs=epochs, batch_size=16, loss=recorder, autoencoder=True,
                                   verbose=False, jit=False, **options)
    return np.concatenate(recorder.inputs), np.concatenate(recorder.targets)


def test_fit_on_arrays_adds_fresh_clipped_noise_to_the_inputs_and_keeps_targets_clean():
    x = 0.4 + 0.2 * rows(128)  # in [0.4, 0.6]: noise of std 0.1 is almost never clipped
    inputs, targets = record_inputs(x, noise=0.1, seed=0)
    assert sorted(map(bytes, targets)) == sorted(map(bytes, np.concatenate([x, x])))  # y = clean x
    difference = inputs - targets
    assert np.all((inputs >= 0) & (inputs <= 1))
    assert abs(difference.std() - 0.1) < 0.01 and abs(difference.mean()) < 0.01
    first, second = (dict(zip(map(bytes, t), i)) for t, i in
                     ((targets[:128], inputs[:128]), (targets[128:], inputs[128:])))
    assert all(not np.array_equal(first[key], second[key]) for key in first)  # fresh noise each epoch


def test_fit_noise_on_arrays_is_clipped_to_0_1_and_reproducible_with_seed():
    x = rows(64)
    a, _ = record_inputs(x, noise=0.5, seed=3)
    b, _ = record_inputs(x, noise=0.5, seed=3)
    c, _ = record_inputs(x, noise=0.5, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() == 0 and a.max() == 1  # std 0.5 pushes many pixels past the ends
    clean_inputs, clean_targets = record_inputs(x, noise=0.0, seed=3)
    np.testing.assert_array_equal(clean_inputs, clean_targets)


def test_fit_autoencoder_on_arrays_needs_no_y_but_a_classifier_does():
    history = autoencoder().fit(rows(), autoencoder=True, epochs=1, verbose=False)
    assert history.epochs == 1
    with pytest.raises(ValueError, match="give the targets y, or autoencoder=True"):
        autoencoder().fit(rows(), epochs=1, verbose=False)


# ---------------------------------------------------------------- item 5: sizes and shapes


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, "32", True])
def test_fit_refuses_a_batch_size_that_is_not_a_whole_number_above_zero(batch_size):
    model = autoencoder()
    before = weights(model)
    with pytest.raises(ValueError, match=r"batch_size must be a whole number >= 1"):
        model.fit(rows(), rows(), batch_size=batch_size, verbose=False)
    assert all(np.array_equal(a, b) for a, b in zip(before, weights(model)))


def test_fit_refuses_empty_data():
    with pytest.raises(ValueError, match=r"no examples \(shape \(0, 4\)\)"):
        autoencoder().fit(rows()[:0], rows()[:0], verbose=False)


def test_fit_refuses_images_for_a_784_input_model_and_says_to_reshape():
    images = np.random.default_rng(0).random((10, 28, 28), dtype=np.float32)
    model = MLP([Dense(784, 10), Dense(10, 784, activation="sigmoid")])
    with pytest.raises(ValueError, match=r"shape \(n, 784\); got \(10, 28, 28\).*x\.reshape\(len\(x\), -1\)"):
        model.fit(images, images.reshape(10, -1), verbose=False)
    with pytest.raises(ValueError, match=r"shape \(n, 4\); got \(4,\).*reshape\(1, -1\)"):
        autoencoder().fit(rows()[0], rows()[0], verbose=False)


def test_fit_refuses_x_and_y_of_different_lengths_before_training():
    model = autoencoder()
    before = weights(model)
    with pytest.raises(ValueError, match="x has 64 rows but y has shape"):
        model.fit(rows(64), rows(63), verbose=False)
    assert all(np.array_equal(a, b) for a, b in zip(before, weights(model)))


# ---------------------------------------------------------------- item 8: NaN and inf


def loss_nan_at_call(n):
    """mse, except that the n-th call (1-based) returns NaN, with NaN gradients. The counting is
    Python besides the ops, which a compiled step runs only while tracing: fits using it pass
    jit=False (test_fit_can_skip_nonfinite_steps_and_train_on has NaN from the data, compiled)."""
    calls = []

    def loss(prediction, target):
        calls.append(1)
        value = mse(prediction, target)
        return value * float("nan") if len(calls) == n else value
    return loss


def test_fit_stops_at_a_nan_loss_says_where_and_keeps_the_last_finite_weights():
    x = rows(64)
    reference = autoencoder()  # two good steps: the state the stopped run must be left in
    reference.fit(x, x, epochs=1, batch_size=32, seed=0, optimizer=Adam(reference.parameters(), lr=0.01),
                  verbose=False)
    model = autoencoder()
    with pytest.warns(RuntimeWarning, match=r"loss was nan at epoch 2, step 1 of 2") as caught:
        history = model.fit(x, x, epochs=5, batch_size=32, seed=0, optimizer=Adam(model.parameters(), lr=0.01),
                            loss=loss_nan_at_call(3), verbose=False, jit=False)
    assert "on_nonfinite='skip'" in str(caught[0].message)  # and how to carry on
    assert history.epochs == 1 and not history.interrupted
    assert "epoch 2, step 1 of 2" in history.stopped_reason
    for mine, expected in zip(weights(model), weights(reference)):
        np.testing.assert_array_equal(mine, expected)


def test_fit_can_skip_nonfinite_steps_and_train_on():
    x = rows(64)
    x[5, 2] = np.nan  # one bad row: exactly one of the four batches of each epoch
    model = autoencoder()
    history = model.fit(x, x, epochs=3, batch_size=16, seed=0, on_nonfinite="skip", verbose=False)
    assert history["skipped_steps"] == [1, 1, 1] and history.stopped_reason is None
    assert all(np.isfinite(loss) for loss in history["train_loss"])
    assert all(np.isfinite(w).all() for w in weights(model))


def test_fit_can_raise_on_a_nonfinite_loss():
    model = autoencoder()
    with pytest.raises(FloatingPointError, match="at epoch 1, step 2 of 2"):
        model.fit(rows(), rows(), epochs=2, batch_size=32, loss=loss_nan_at_call(2), on_nonfinite="raise",
                  verbose=False, jit=False)
    assert all(np.isfinite(w).all() for w in weights(model))


def test_a_nan_never_overwrites_a_good_checkpoint(tmp_path):
    model = autoencoder()
    path = tmp_path / "checkpoint"
    with pytest.warns(RuntimeWarning, match="epoch 2"):
        model.fit(rows(), rows(), epochs=3, batch_size=64, checkpoint=path, loss=loss_nan_at_call(2),
                  verbose=False, jit=False)
    saved = MLP().load(path)
    assert saved.metadata["epoch"] == 1
    for mine, kept in zip(weights(model), weights(saved)):
        assert np.isfinite(kept).all()
        np.testing.assert_array_equal(mine, kept)  # the last finite weights: after epoch 1's one step


def test_weights_that_overflow_to_inf_are_put_back_and_not_checkpointed(tmp_path):
    """A finite loss with a finite but huge gradient: SGD's update overflows float32 to inf."""
    model = MLP([Dense(1, 1, activation="identity", seed=0)])
    path = model.save(tmp_path / "good")
    before = weights(model)
    with np.errstate(over="ignore"), pytest.warns(RuntimeWarning, match="overflowed to inf or NaN during epoch 1"):
        history = model.fit(np.ones((1, 1)), np.zeros((1, 1)), epochs=2, batch_size=1, checkpoint=path,
                            optimizer=SGD(model.parameters(), lr=1e10),
                            loss=lambda prediction, target: (prediction * 1e30).sum(), verbose=False)
    assert history.epochs == 0
    for mine, start, kept in zip(weights(model), before, weights(MLP().load(path))):
        np.testing.assert_array_equal(mine, start)
        np.testing.assert_array_equal(kept, start)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.1, 0, "0.1"])
def test_lr_schedule_values_are_checked_before_training_and_name_the_epoch(bad):
    model = autoencoder()
    before = weights(model)
    schedule = lambda epoch: bad if epoch == 2 else 1e-3  # noqa: E731
    with pytest.raises(ValueError, match=r"lr_schedule\(2\), for epoch 3, gave .*finite number > 0"):
        model.fit(rows(), rows(), epochs=4, lr_schedule=schedule, verbose=False)
    assert all(np.array_equal(a, b) for a, b in zip(before, weights(model)))


@pytest.mark.parametrize("bad", [float("nan"), float("-inf"), -1e-3, 0])
def test_optimizers_refuse_nonfinite_or_negative_learning_rates(bad):
    for make in (Adam, SGD):
        with pytest.raises(ValueError, match="finite number > 0"):
            make(autoencoder().parameters(), lr=bad)


# ---------------------------------------------------------------- bare errors become messages


x64 = rows()
BAD_ARGUMENTS = {
    "fit batch_size='32'": (lambda: autoencoder().fit(x64, x64, batch_size="32"), r"batch_size must be a whole number >= 1.*'32'"),
    "fit optimizer='adam'": (lambda: autoencoder().fit(x64, x64, optimizer="adam"), r"such as Adam\(model\.parameters\(\), lr=1e-3\).*'adam'"),
    "fit validation_data=(x,)": (lambda: autoencoder().fit(x64, x64, validation_data=(x64,)), r"a pair \(x_test, y_test\).*tuple of length 1"),
    "fit epochs=True": (lambda: autoencoder().fit(x64, x64, epochs=True), r"epochs must be a whole number >= 0.*True"),
    "fit seed=-1": (lambda: autoencoder().fit(x64, x64, seed=-1), r"seed must be a whole number >= 0"),
    "fit verbose='yes'": (lambda: autoencoder().fit(x64, x64, verbose="yes"), r"verbose must be True, False or None"),
    "fit noise='0.1'": (lambda: autoencoder().fit(x64, x64, noise="0.1"), r"noise must be a finite number >= 0"),
    "fit on_nonfinite='ignore'": (lambda: autoencoder().fit(x64, x64, on_nonfinite="ignore"), r"on_nonfinite must be one of"),
    "fit lr_schedule=0.1": (lambda: autoencoder().fit(x64, x64, lr_schedule=0.1), r"lr_schedule is a function epoch"),
    "fit checkpoint=1": (lambda: autoencoder().fit(x64, x64, checkpoint=1), r"checkpoint must be a file path"),
    "Adam lr='0.1'": (lambda: Adam(autoencoder().parameters(), lr="0.1"), r"finite number > 0.*'0\.1' of type str"),
    "SGD lr='0.1'": (lambda: SGD(autoencoder().parameters(), lr="0.1"), r"finite number > 0.*'0\.1' of type str"),
    "SGD momentum='0.9'": (lambda: SGD(autoencoder().parameters(), lr=0.1, momentum="0.9"), r"momentum must be a finite number >= 0 and < 1"),
    "Adam betas=0.9": (lambda: Adam(autoencoder().parameters(), betas=0.9), r"betas are a pair \(beta1, beta2\)"),
    "Adam eps='1e-8'": (lambda: Adam(autoencoder().parameters(), eps="1e-8"), r"eps must be a finite number > 0"),
    "Dense bias_init=nan": (lambda: Dense(2, 2, bias_init=float("nan")), r"bias_init must be a finite number.*nan"),
    "evaluate batch_size=0": (lambda: autoencoder().evaluate(x64, x64, batch_size=0), r"batch_size must be a whole number >= 1"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_arguments_get_a_message_that_says_what_is_allowed(case):
    make, message = BAD_ARGUMENTS[case]
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("options, message", [
    ({"data_dir": 123}, r"data_dir is the folder .* a str or pathlib\.Path, or None.*123 of type int"),
    ({"seed": -1}, r"seed must be an integer >= 0"),
])
def test_bad_dataset_arguments_get_a_message(options, message):
    with pytest.raises(ValueError, match=message):
        Dataset(train_size=10, test_size=10, **options)


# ---------------------------------------------------------------- an optimizer for other parameters


def test_fit_refuses_an_optimizer_made_before_load_replaced_the_layers(tmp_path):
    path = MLP([Dense(4, 3, seed=0), Dense(3, 4, activation="sigmoid", seed=1)]).save(tmp_path / "other")
    model = autoencoder()
    optimizer = Adam(model.parameters())
    model.load(path)  # other sizes: the layers (and their tensors) are replaced
    with pytest.raises(ValueError, match=r"holds none of this model's parameters.*made before load\(\)"):
        model.fit(rows(), rows(), optimizer=optimizer, verbose=False)


def test_fit_warns_about_an_optimizer_that_holds_only_some_parameters():
    model = autoencoder()
    with pytest.warns(UserWarning, match=r"does not hold 2 of the model's 4 parameters \(layer2\.W, layer2\.b\)"):
        model.fit(rows(), rows(), epochs=1, optimizer=Adam(model.layers[0].parameters()), verbose=False)


# ---------------------------------------------------------------- a checkpoint that cannot be written


def fit_with_checkpoint(path, epochs=3):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = autoencoder().fit(rows(), rows(), epochs=epochs, checkpoint=path, verbose=False)
    return history, [w for w in caught if "could not write the checkpoint" in str(w.message)]


def test_a_checkpoint_under_a_regular_file_warns_once_and_training_goes_on(tmp_path):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    history, warned = fit_with_checkpoint(tmp_path / "notes.txt" / "checkpoint")
    assert history.epochs == 3 and len(warned) == 1 and "after epoch 1" in str(warned[0].message)


def test_a_checkpoint_where_a_folder_is_warns_once_and_leaves_no_temporary_file(tmp_path):
    (tmp_path / "checkpoint.npz").mkdir()
    history, warned = fit_with_checkpoint(tmp_path / "checkpoint")
    assert history.epochs == 3 and len(warned) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]


def test_a_checkpoint_in_a_read_only_folder_warns_once_and_training_goes_on(tmp_path):
    if os.geteuid() != 0:
        folder = tmp_path / "read_only"
        folder.mkdir()
        folder.chmod(0o555)
    elif Path("/sys").is_dir():  # root writes anywhere chmod forbids, but not into sysfs
        folder = Path("/sys")
    else:
        pytest.skip("running as root with no read-only file system to write to")
    try:
        history, warned = fit_with_checkpoint(folder / "tinygrad_ae_checkpoint", epochs=2)
    finally:
        if folder != Path("/sys"):
            folder.chmod(0o755)
    assert history.epochs == 2 and len(warned) == 1
    assert not (folder / "tinygrad_ae_checkpoint.npz").exists()


# ---------------------------------------------------------------- help(MLP.fit)


def test_mlp_fit_shows_the_real_parameters_in_help_and_inspect():
    function = list(inspect.signature(training.fit).parameters)
    method = list(inspect.signature(MLP.fit).parameters)
    assert method == ["self"] + function[1:]
    assert list(inspect.signature(MLP().fit).parameters) == function[1:]
    text = pydoc.render_doc(MLP.fit)
    for name in ("batch_size", "noise", "checkpoint", "lr_schedule", "on_nonfinite"):
        assert name in text
    assert MLP.fit.__doc__ == training.fit.__doc__


# ---------------------------------------------------------------- HTML views


def test_mlp_and_history_have_html_tables():
    model = autoencoder()
    page = model._repr_html_()
    assert page.startswith("<table>") and "4 -&gt; 2 -&gt; 4" in page and "22 parameters" in page
    assert page.count("<tr>") == 3 and "(2, 4)" in page and "Sigmoid" in page
    history = model.fit(rows(), rows(), epochs=2, verbose=False, validation_data=(rows(8), rows(8)))
    page = history._repr_html_()
    assert page.count("<tr>") == 3 and "train_loss" in page and "test_loss" in page
    assert f"{history['train_loss'][1]:.5g}" in page
    stopped = History(train_loss=[0.5], test_loss=[None], lr=[0.1], seconds=[1.0])
    stopped.stopped_reason = "the training loss was nan at epoch 2, step 1 of 2"
    assert "stopped early: the training loss was nan" in stopped._repr_html_()


@pytest.mark.parametrize("name", ["checks", "notebook", "figures", "signatures", "fit_arguments", "fit_safety"])
def test_support_docstring_examples(name):
    """test_docstrings.py walks the top-level modules only; these are the new plumbing's."""
    module = importlib.import_module(f"tinygrad_ae._support.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


# ---------------------------------------------------------------- Jupyter, for real

NOTEBOOK_CELLS = [
    # 0: optional setup (blocking ipywidgets), filled in by the test
    "",
    "import numpy as np\nfrom tinygrad_ae import MLP, Dense\n"
    "x = np.random.default_rng(0).random((256, 4), dtype=np.float32)\n"
    "model = MLP([Dense(4, 2, seed=0), Dense(2, 4, activation='sigmoid', seed=1)])",
    "history = model.fit(x, x, epochs=2, batch_size=8)",           # 2: the progress bar, default verbose
    "history.plot()",                                               # 3: the last expression
    "figure = history.plot()\nlength = history.epochs\nlength",     # 4: a plot in the middle of a cell
    "model",                                                        # 5: HTML views
    "history",                                                      # 6
    "figure",                                                       # 7: shown again later: once more
]


def run_notebook(tmp_path, first_cell=""):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cells = [first_cell] + NOTEBOOK_CELLS[1:]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    # A kernel spec that runs this very interpreter (as in test_examples.py).
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    env = {"JUPYTER_PATH": str(tmp_path / "jupyter"),
           "PYTHONPATH": os.pathsep.join([str(Path(training.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return [cell.outputs for cell in notebook.cells]


def images(outputs):
    return [o for o in outputs if "image/png" in o.get("data", {})]


def check_notebook(outputs, widgets):
    streams = [o for cell in outputs for o in cell if o.output_type == "stream"]
    assert not [o for o in streams if o.name == "stderr"], "no warning, no red box in the notebook"
    fit_text = "".join(o.text for o in outputs[2] if o.output_type == "stream")
    assert "epoch 1/2  train loss" in fit_text and "epoch 2/2  train loss" in fit_text
    widget_bars = [o for o in outputs[2] if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    if widgets:
        assert widget_bars, "tqdm's notebook bar when ipywidgets is installed"
    else:
        assert not widget_bars and "epoch 1/2:" in fit_text and "step/s" in fit_text, "a text bar on stdout"
    assert len(images(outputs[3])) == 1, "history.plot() as the last expression is drawn once"
    assert len(images(outputs[4])) == 1, "a plot made mid-cell is drawn once"
    assert len(images(outputs[7])) == 1, "a figure shown again in a later cell is drawn"
    for cell, expected in ((5, "22 parameters"), (6, "train_loss")):
        html = "".join(o.get("data", {}).get("text/html", "") for o in outputs[cell])
        assert "<table>" in html and expected in html


@slow
def test_in_jupyter_fit_shows_a_bar_plot_draws_once_and_views_are_html(tmp_path):
    widgets = importlib.util.find_spec("ipywidgets") is not None
    check_notebook(run_notebook(tmp_path), widgets)


@slow
def test_in_jupyter_without_ipywidgets_the_bar_is_text_and_nothing_warns(tmp_path):
    if importlib.util.find_spec("ipywidgets") is None:
        pytest.skip("ipywidgets is not installed: the test above already checks the text bar")
    check_notebook(run_notebook(tmp_path, "import sys\nsys.modules['ipywidgets'] = None  # import fails"), False)


def test_a_finite_gradient_whose_sum_overflows_is_still_applied():
    """The check sums each gradient first; a sum that overflows must not refuse a finite step."""
    from tinygrad_ae import SGD, Tensor
    from tinygrad_ae._support.fit_safety import FiniteUpdatesOnly
    w = Tensor([1.0, 1.0], requires_grad=True)
    guarded = FiniteUpdatesOnly(SGD([w], lr=1e-38), [w])
    w.grad = np.array([3e38, 3e38], np.float32)           # finite, but their sum is inf in float32
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")                     # and the check itself says nothing
        guarded.step()
        assert not guarded.refused and np.all(w.data < 1.0)
        for bad in ([0.0, np.nan], [0.0, np.inf], [np.inf, -np.inf]):
            w.grad = np.array(bad, np.float32)
            guarded.step()
            assert guarded.refused
