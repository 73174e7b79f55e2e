"""Training: ``train_step`` is one step of gradient descent; ``fit`` repeats it over epochs.

One step is the four lines every framework shares (read :func:`train_step`)::

    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()

``fit`` wraps the plumbing around it: shuffled batches, a progress bar, the test loss after
each epoch, checkpoints, and stopping cleanly on Ctrl-C. Read next: ``dataset.py``.

Example:
    >>> import numpy as np
    >>> from tinygrad_ae import MLP, Dense
    >>> x = np.random.default_rng(0).random((256, 4), dtype=np.float32)
    >>> model = MLP([Dense(4, 2, seed=0), Dense(2, 4, activation="sigmoid", seed=1)])
    >>> history = model.fit(x, x, epochs=2, batch_size=32, verbose=False)
    >>> history["train_loss"][1] < history["train_loss"][0]
    True
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
import warnings

import numpy as np
from tqdm import tqdm

from ._support.checks import checked_number, whole_number
from ._support.files import atomic_writer
from ._support.memory import keep_freed_memory
from ._support.notebook import html_table, in_notebook, progress_bar
from ._support.threads import limit_blas_threads
from .dataset import Dataset, add_noise, one_hot
from .losses import get_loss
from .optim import FusedAdam, Optimizer
from .tensor import Tensor

ON_NONFINITE = ("stop", "skip", "raise")  # what fit does about a step whose loss is NaN or inf


class History(dict):
    """Per-epoch figures of a ``fit`` run: ``history["train_loss"]``, ``["test_loss"]``,
    ``["seconds"]``, ``["lr"]`` (and ``["skipped_steps"]`` with ``on_nonfinite="skip"``).
    ``interrupted`` says whether Ctrl-C ended it early; ``stopped_reason`` says why it
    stopped before its last epoch (Ctrl-C or a NaN/inf loss), None if it did not. In Jupyter
    it shows as a table of its epochs.

    Example:
        >>> h = History(train_loss=[0.5, 0.3], test_loss=[0.6, 0.4], seconds=[1.0, 1.0])
        >>> h.epochs
        2
    """

    interrupted = False
    stopped_reason = None

    @property
    def epochs(self) -> int:
        """Number of completed epochs: ``History(train_loss=[0.5]).epochs == 1``."""
        return len(self.get("train_loss", []))

    def plot(self, path=None, title: str = "Training history"):
        """A matplotlib figure of train and test loss per epoch; saved to ``path`` if given.

        Example:
            >>> import matplotlib; matplotlib.use("Agg")
            >>> fig = History(train_loss=[0.5, 0.3], test_loss=[0.6, 0.4]).plot()
            >>> fig.axes[0].get_ylabel()
            'loss'
        """
        import matplotlib.pyplot as plt  # lazy: pyplot is slow to import and only plots need it
        from matplotlib.ticker import MaxNLocator

        from ._support.figures import DrawnOnceFigure  # lazy: it imports pyplot

        # In Jupyter, `history.plot()` as a cell's last line is drawn once, not twice.
        fig, ax = plt.subplots(figsize=(6, 4), FigureClass=DrawnOnceFigure)
        epochs = np.arange(1, self.epochs + 1)
        ax.plot(epochs, self["train_loss"], marker="o", label="train")
        if any(v is not None for v in self.get("test_loss", [])):
            ax.plot(epochs, self["test_loss"], marker="s", label="test")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        if path is not None:
            fmt = str(path).rsplit(".", 1)[-1] if "." in str(path) else "png"
            with atomic_writer(path) as f:
                fig.savefig(f, format=fmt, dpi=120)
        return fig

    def _repr_html_(self) -> str:
        """Jupyter's view: one row per epoch, and why the run stopped early if it did."""
        columns = [key for key in ("train_loss", "test_loss", "lr", "seconds", "skipped_steps") if key in self]
        rows = [[epoch] + [_cell(self[key][epoch - 1]) for key in columns] for epoch in range(1, self.epochs + 1)]
        caption = f"History: {self.epochs} epochs" + (f"; stopped early: {self.stopped_reason}" if self.stopped_reason else "")
        return html_table(["epoch"] + columns, rows, caption)


def _cell(value) -> str:
    """A number as a table shows it: 5 significant digits; None (no test set) as a dash."""
    return "-" if value is None else f"{value:.5g}" if isinstance(value, float) else str(value)


class _StopOnCtrlC:
    """Turns the first Ctrl-C into a flag checked between steps, so a step is never cut in half
    (half-updated parameters); a second Ctrl-C interrupts at once as usual."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def train_step(model, optimizer, x, y, loss="mse") -> Tensor:
    """One step of gradient descent, the four lines every framework shares; returns the loss.

    Example:
        >>> import numpy as np
        >>> from tinygrad_ae import MLP, Dense, SGD
        >>> model = MLP([Dense(2, 1, activation="identity", seed=0)])
        >>> x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
        >>> first = train_step(model, SGD(model.parameters(), lr=0.1), x, y).item()
        >>> second = train_step(model, SGD(model.parameters(), lr=0.1), x, y).item()
        >>> second < first
        True
    """
    loss_fn = get_loss(loss)
    optimizer.zero_grad()                                # 1. forget the last step's gradients
    batch_loss = loss_fn(model(Tensor(x)), Tensor(y))    # 2. forward: prediction and loss
    batch_loss.backward()                                # 3. backward: d(loss)/d(every parameter)
    optimizer.step()                                     # 4. move each parameter downhill
    return batch_loss


def fit(model, data, y=None, *, epochs: int = 10, loss="mse", optimizer=None, batch_size: int | None = None,
        autoencoder: bool = False, noise: float = 0.0, validation_data=None, verbose=None,
        checkpoint=None, seed=None, lr_schedule=None, on_nonfinite: str = "stop",
        blas_threads: int | None = 1) -> History:
    """Train ``model`` for ``epochs`` passes over the data and return the :class:`History`.

    Args:
        data: a :class:`~tinygrad_ae.Dataset` (its ``batch_size`` and shuffling are used, and
            ``autoencoder``/``noise`` are passed to its ``batches``), or an array ``x`` of
            shape ``(n, inputs)`` with targets ``y`` (shuffled each epoch with ``seed``, in
            batches of ``batch_size``, 32 by default).
        y: the targets for an array ``x``; with ``autoencoder=True`` it may be left out
            (the targets are then the clean ``x``).
        autoencoder, noise: as in ``Dataset.batches``. With arrays, each batch of ``x`` gets
            fresh Gaussian noise of standard deviation ``noise``, clipped to [0, 1] like
            pixels, every epoch (reproducible with ``seed``); targets stay clean.
        loss: "mse", "bce", "cross_entropy" or a function ``(prediction, target) -> Tensor``.
        optimizer: default ``FusedAdam(model.parameters(), lr=1e-3)``; it must hold the
            model's parameters (make it after ``load``/``addLayer`` changed the layers).
        validation_data: ``(x, y)`` for the test loss after each epoch, used as given. With a
            Dataset it defaults to its test set (noisy inputs with a fixed noise seed, so the
            figure is comparable from epoch to epoch).
        verbose: True for a progress bar and a line per epoch, False for silence; by
            default (None) a line per epoch, and the bar when stderr is a terminal or in
            Jupyter (tqdm's widget with ipywidgets installed, a text bar without).
        checkpoint: a path; the model is saved there after every completed epoch whose
            weights are all finite. If it cannot be written, fit warns once and trains on.
        lr_schedule: a function ``epoch (0-based) -> learning rate``, applied to the
            optimizer's ``lr`` before each epoch (``history["lr"]`` records it); every
            value is checked (finite, > 0) before training starts.
        on_nonfinite: what to do about a step whose loss or gradient is NaN or inf (an
            exploding loss, or NaN in the data). The update of such a step is never applied.
            "stop" (default): warn, stop, and set ``history.stopped_reason``; "skip": leave
            the step out and train on (``history["skipped_steps"]`` counts them); "raise":
            raise FloatingPointError.
        blas_threads: threads numpy's BLAS may use while training (one is fastest for small
            networks, see ``_support/threads.py``); None leaves numpy's setting alone.

    Every step is :func:`train_step`. Around it, and only while it runs, ``fit`` keeps freed
    memory for reuse (``_support/memory.py``) and limits BLAS threads; both are undone when
    it returns. Ctrl-C stops after the current step: the model stays usable and
    ``history.interrupted`` is True. Arguments are checked before training starts.

    Example:
        >>> import numpy as np
        >>> from tinygrad_ae import MLP, Dense
        >>> model = MLP([Dense(2, 1, activation="linear", seed=0)])
        >>> x = np.random.default_rng(0).random((64, 2), dtype=np.float32)
        >>> history = model.fit(x, x.sum(axis=1, keepdims=True), epochs=3, verbose=False)
        >>> len(history["train_loss"]), history.stopped_reason
        (3, None)
    """
    epochs = _check_options(model, epochs, loss, verbose, checkpoint, on_nonfinite)
    optimizer = _checked_optimizer(model, optimizer)
    learning_rates = _learning_rates(lr_schedule, epochs)
    epoch_batches, steps, validation_data = _training_data(model, data, y, batch_size, autoencoder, noise,
                                                           validation_data, seed)
    show_bar = (sys.stderr.isatty() or in_notebook()) if verbose is None else bool(verbose)
    show_lines = verbose is not False
    history = History(train_loss=[], test_loss=[], seconds=[], lr=[])
    if on_nonfinite == "skip":
        history["skipped_steps"] = []
    guarded, saver = _FiniteUpdatesOnly(optimizer, model.parameters()), _Checkpoint(checkpoint)
    with _StopOnCtrlC() as stop, limit_blas_threads(blas_threads), keep_freed_memory():
        for epoch in range(1, epochs + 1):
            if learning_rates is not None:
                optimizer.lr = learning_rates[epoch - 1]
            started, tally, weights = time.perf_counter(), _EpochLoss(epoch, steps, on_nonfinite), _copy(model)
            bar = progress_bar(epoch_batches(), total=steps, desc=f"epoch {epoch}/{epochs}", disable=not show_bar,
                               leave=False, unit="step", mininterval=0.5)
            for step, (xb, yb) in enumerate(bar, 1):
                batch_loss = train_step(model, guarded, xb, yb, loss).item()
                if not tally.add(step, batch_loss, len(xb), guarded.refused) or stop.requested:
                    break
            bar.close()
            history.stopped_reason = _stop_reason(stop, tally, model, weights)
            if history.stopped_reason:
                history.interrupted = stop.requested
                break
            history["train_loss"].append(tally.mean)
            history["test_loss"].append(model.evaluate(*validation_data, loss=loss) if validation_data else None)
            history["seconds"].append(time.perf_counter() - started)
            history["lr"].append(optimizer.lr)
            if on_nonfinite == "skip":
                history["skipped_steps"].append(tally.skipped)
            saver.save(model, epoch, history)
            if show_lines:
                _print_epoch(history, epoch, epochs, optimizer.lr)
    _report_stop(history, show_lines)
    return history


def _print_epoch(history, epoch, epochs, lr):
    test = history["test_loss"][-1]
    skipped = history.get("skipped_steps", [0])[-1]
    tqdm.write(f"epoch {epoch}/{epochs}  train loss {history['train_loss'][-1]:.5f}"
               + (f"  test loss {test:.5f}" if test is not None else "")
               + f"  lr {lr:g}  ({history['seconds'][-1]:.1f} s)"
               + (f"  {skipped} steps skipped (NaN/inf)" if skipped else ""), file=sys.stdout)


def _report_stop(history, show_lines):
    """Say why the run stopped early: a printed line for Ctrl-C, a warning for NaN/inf."""
    if history.interrupted:
        if show_lines:
            tqdm.write(f"stopped by Ctrl-C after {history.epochs} complete epochs; the model keeps its last step")
    elif history.stopped_reason:
        warnings.warn(f"fit stopped: {history.stopped_reason}. {NONFINITE_ADVICE}", RuntimeWarning, stacklevel=3)


NONFINITE_ADVICE = ("No update with a NaN or inf gradient was applied, so the weights are the last "
                    "finite ones. Try a lower learning rate, check the data for NaN/inf "
                    "(np.isfinite(x).all()), or pass on_nonfinite='skip' to leave such steps out.")


class _FiniteUpdatesOnly:
    """The optimizer, except that a step whose gradients hold a NaN or inf is not applied:
    one such update makes every weight NaN (and Adam's running averages with them)."""

    def __init__(self, optimizer, params):
        self.optimizer, self.params, self.refused = optimizer, list(params), False

    def zero_grad(self):
        self.optimizer.zero_grad()

    def step(self):
        self.refused = not all(p.grad is None or np.isfinite(p.grad).all() for p in self.params)
        if not self.refused:
            self.optimizer.step()


class _EpochLoss:
    """The mean training loss of one epoch over its finite steps, and what to do
    (``on_nonfinite``) about a step whose loss or gradient is not finite."""

    def __init__(self, epoch, steps, on_nonfinite):
        self.epoch, self.steps, self.on_nonfinite = epoch, steps, on_nonfinite
        self.total, self.rows, self.skipped, self.problem = 0.0, 0, 0, None

    def add(self, step, loss, rows, refused) -> bool:
        """Count one step; False if training must stop here."""
        if math.isfinite(loss) and not refused:
            self.total += loss * rows
            self.rows += rows
            return True
        what = f"the training loss was {loss}" if not math.isfinite(loss) else "a gradient held NaN or inf"
        self.problem = f"{what} at epoch {self.epoch}, step {step} of {self.steps}"
        if self.on_nonfinite == "raise":
            raise FloatingPointError(f"{self.problem}. {NONFINITE_ADVICE}")
        self.skipped += 1
        return self.on_nonfinite == "skip"

    @property
    def mean(self) -> float:
        return self.total / self.rows if self.rows else math.nan  # nan: every step was skipped


def _copy(model) -> list:
    return [p.data.copy() for p in model.parameters()]


def _stop_reason(stop, tally, model, weights) -> str | None:
    """Why training must stop after this epoch's steps, or None. Weights that overflowed to
    inf without a non-finite gradient are put back to the epoch's start."""
    if stop.requested:
        return "stopped by Ctrl-C"
    if tally.problem and tally.on_nonfinite == "stop":
        return tally.problem
    if not all(np.isfinite(p.data).all() for p in model.parameters()):
        for p, saved in zip(model.parameters(), weights):
            p.data[...] = saved
        return f"the weights overflowed to inf or NaN during epoch {tally.epoch}; they are put back to its start"
    return None


class _Checkpoint:
    """Saves the model after each epoch. A save that fails (a read-only folder, a full disk)
    warns once and training goes on: the run and its History are worth more than the file."""

    def __init__(self, path):
        self.path, self.warned = path, False

    def save(self, model, epoch, history):
        if self.path is None:
            return
        try:
            model.save(self.path, metadata={"epoch": epoch, "history": dict(history)})
        except OSError as error:
            if not self.warned:
                warnings.warn(f"could not write the checkpoint {os.fspath(self.path)!r} after epoch {epoch} "
                              f"({error}); training goes on without it. Fix the path, or save the model "
                              "yourself afterwards with model.save(...)", RuntimeWarning, stacklevel=4)
            self.warned = True


# ---------------------------------------------------------------- checking the arguments


def _check_options(model, epochs, loss, verbose, checkpoint, on_nonfinite) -> int:
    """The simple options checked before training; returns ``epochs`` as an int."""
    count = whole_number(epochs)
    if count is None or count < 0:
        raise ValueError(f"epochs must be a whole number >= 0 (passes over the data), got {epochs!r}")
    get_loss(loss)  # an unknown name fails here, not at the first step
    if verbose not in (None, True, False):
        raise ValueError(f"verbose must be True, False or None (the default: lines, and a bar where it shows), "
                         f"got {verbose!r}")
    if checkpoint is not None and (not isinstance(checkpoint, (str, os.PathLike)) or not os.fspath(checkpoint)):
        raise ValueError(f"checkpoint must be a file path (str or pathlib.Path) or None, got {checkpoint!r}")
    if on_nonfinite not in ON_NONFINITE:
        raise ValueError(f"on_nonfinite must be one of {ON_NONFINITE}, got {on_nonfinite!r}")
    if not list(model.parameters()):
        raise ValueError("the model has no parameters to train yet: add layers first "
                         "(model.addLayer(Dense(...))) or load(...) a model")
    return count


def _checked_optimizer(model, optimizer):
    """The optimizer (FusedAdam by default), refused if it holds none of the model's parameters."""
    if optimizer is None:
        return FusedAdam(model.parameters(), lr=1e-3)
    if not (callable(getattr(optimizer, "step", None)) and callable(getattr(optimizer, "zero_grad", None))):
        raise ValueError("optimizer must be an optimizer made for this model, such as "
                         f"Adam(model.parameters(), lr=1e-3) or SGD(model.parameters(), lr=0.1); got {optimizer!r}")
    if not isinstance(optimizer, Optimizer):
        return optimizer  # someone's own optimizer: it may keep its parameters elsewhere
    held = {id(p) for p in optimizer.params}
    named = model.named_parameters() if hasattr(model, "named_parameters") else list(enumerate(model.parameters()))
    missing = [str(name) for name, p in named if id(p) not in held]
    if len(missing) == len(named):
        raise ValueError("the optimizer holds none of this model's parameters, so training would change nothing. "
                         "Was it made before load() or addLayer() replaced the layers? Make it from the model "
                         "as it is now: Adam(model.parameters(), lr=1e-3)")
    if missing:
        warnings.warn(f"the optimizer does not hold {len(missing)} of the model's {len(named)} parameters "
                      f"({', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''}), so fit will not train them; "
                      "make the optimizer once the model is complete: Adam(model.parameters())",
                      UserWarning, stacklevel=4)
    return optimizer


def _learning_rates(lr_schedule, epochs) -> list | None:
    """``[lr_schedule(0), ..., lr_schedule(epochs - 1)]``, each checked before any training."""
    if lr_schedule is None:
        return None
    if not callable(lr_schedule):
        raise ValueError("lr_schedule is a function epoch (0-based) -> learning rate, such as "
                         f"lambda epoch: 1e-3 * 0.9 ** epoch; got {lr_schedule!r}")
    rates = []
    for epoch in range(epochs):
        value = lr_schedule(epoch)
        try:
            rates.append(checked_number("the learning rate", value, low=0, low_allowed=False))
        except ValueError as error:
            raise ValueError(f"lr_schedule({epoch}), for epoch {epoch + 1}, gave {value!r}: {error}") from None
    return rates


def _checked_rows(model, what, array) -> np.ndarray:
    """``array`` as float32 rows the model takes, ``(n, inputs)`` with n >= 1, or a ValueError
    that says how to fix it (a batch of 28x28 images needs flattening, say)."""
    try:
        x = np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"fit: {what} must be an array of numbers ({error})") from None
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"fit: {what} has no examples (shape {x.shape}); give at least one row")
    layers = getattr(model, "layers", None)
    inputs = getattr(layers[0], "in_features", None) if layers else None
    if inputs is not None and (x.ndim != 2 or x.shape[1] != inputs):
        hint = ""
        if x.ndim > 2 and math.prod(x.shape[1:]) == inputs:
            hint = f": flatten each example first, e.g. x.reshape(len(x), -1) gives shape {(len(x), inputs)}"
        elif x.ndim == 1 and len(x) == inputs:
            hint = ": for one example, use x.reshape(1, -1)"
        raise ValueError(f"fit: the model takes rows of {inputs} numbers, so {what} must have shape "
                         f"(n, {inputs}); got {x.shape}{hint}")
    return x


def _checked_pair(model, what, x, y) -> tuple:
    """Inputs and targets as float32 arrays with one target row per input row."""
    x = _checked_rows(model, f"{what} x", x)
    try:
        y = np.asarray(y, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"fit: {what} y must be an array of numbers ({error})") from None
    if y.ndim == 0 or len(x) != len(y):
        raise ValueError(f"fit: {what} x has {len(x)} rows but y has shape {y.shape}; give one target per row")
    return x, y


def _training_data(model, data, y, batch_size, autoencoder, noise, validation_data, seed):
    """``(epoch_batches, steps per epoch, validation_data)`` for a Dataset or arrays x, y."""
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            length = f" of length {len(validation_data)}" if isinstance(validation_data, (tuple, list)) else ""
            raise ValueError("validation_data must be a pair (x_test, y_test) of arrays like the training "
                             f"data, got a {type(validation_data).__name__}{length}")
        validation_data = _checked_pair(model, "validation_data", *validation_data)
    if isinstance(data, Dataset):
        if batch_size is not None or seed is not None or y is not None:
            raise ValueError("fit(dataset, ...) uses the Dataset's own batch_size and seed (set them when you "
                             "create it: Dataset(batch_size=..., seed=...)) and its own targets (leave out y)")
        _checked_rows(model, "the dataset's images", data.train[0][:1])

        def epoch_batches():
            # fit reports the test loss on the whole test set, so per-step test batches are skipped
            for train_batch, _ in data.batches(autoencoder=autoencoder, noise=noise, test_batches=False):
                yield train_batch
        if validation_data is None:
            x_test, labels = data.test
            targets = x_test if autoencoder else one_hot(labels)
            validation_data = (add_noise(x_test, noise, np.random.default_rng(0)), targets)
        return epoch_batches, data.steps_per_epoch, validation_data

    if y is None and not autoencoder:
        raise ValueError("fit(x, y): give the targets y, or autoencoder=True to learn y = x")
    x, y = _checked_pair(model, "the training data", data, data if y is None else y)
    rows_per_step = 32 if batch_size is None else whole_number(batch_size)
    if rows_per_step is None or rows_per_step < 1:
        raise ValueError(f"batch_size must be a whole number >= 1 (rows per step; 32 is typical), got {batch_size!r}")
    noise = checked_number("noise", noise, low=0, hint=" (the standard deviation of the Gaussian noise on x; "
                           "0 for clean inputs, 0.1 is typical)")
    if seed is not None and not isinstance(seed, np.random.Generator) and (whole_number(seed) is None or seed < 0):
        raise ValueError(f"seed must be a whole number >= 0, or None for a different shuffle each run; got {seed!r}")
    rng = np.random.default_rng(seed)

    def epoch_batches():
        order = rng.permutation(len(x))
        for start in range(0, len(x), rows_per_step):
            rows = order[start:start + rows_per_step]
            yield add_noise(x[rows], noise, rng), y[rows]  # fresh noise each time; targets stay clean
    return epoch_batches, -(-len(x) // rows_per_step), validation_data
