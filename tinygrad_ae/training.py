"""Training: ``train_step`` is one step of gradient descent; ``fit`` repeats it over epochs.

One step is the four lines every framework shares (read :func:`train_step`)::

    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()

``fit`` wraps the plumbing around it: shuffled batches, a progress bar, the test loss after
each epoch, checkpoints, and stopping cleanly on Ctrl-C. Read next: ``jit.py`` (how ``fit``
compiles its step), then ``dataset.py``.

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

import signal
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
from tqdm import tqdm

from ._support.checks import checked_number, whole_number
from ._support.files import atomic_writer
from ._support.fit_arguments import check_options, checked_optimizer, checked_pair, checked_rows, learning_rates
from ._support.fit_safety import NONFINITE_ADVICE, Checkpoint, EpochLoss, FiniteUpdatesOnly, copy_weights, stop_reason
from ._support.memory import keep_freed_memory
from ._support.notebook import html_table, in_notebook, progress_bar
from ._support.threads import limit_blas_threads
from .dataset import Dataset, add_noise, one_hot
from .jit import jit as compiled
from .losses import get_loss
from .optim import FusedAdam
from .tensor import Tensor

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
        # a long line of the title wraps instead of running off the figure; its own line breaks stay
        ax.set_title("\n".join(wrapped for line in title.split("\n") for wrapped in (textwrap.wrap(line, 55) or [""])))
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
        blas_threads: int | None = 1, jit: bool = True) -> History:
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
        jit: replay a compiled :func:`train_step` (``jit.py``; the same numbers, faster);
            False runs every step eagerly.

    ``fit`` trains in training mode (``model.train()``) and gives the model back in the mode
    it found. Every step is :func:`train_step`, compiled by :func:`~tinygrad_ae.jit` unless
    ``jit=False`` (a step that does not compile, e.g. a loss whose ops depend on the data, warns
    and runs eagerly). Around it, and only while it runs, ``fit`` keeps freed
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
    epochs = check_options(model, epochs, verbose, checkpoint, on_nonfinite)
    get_loss(loss)  # an unknown loss name fails now, not at the first step
    optimizer = FusedAdam(model.parameters(), lr=1e-3) if optimizer is None else checked_optimizer(model, optimizer)
    rates = learning_rates(lr_schedule, epochs)
    epoch_batches, steps, validation_data = _training_data(model, data, y, batch_size, autoencoder, noise,
                                                           validation_data, seed)
    show_bar = (sys.stderr.isatty() or in_notebook()) if verbose is None else bool(verbose)
    show_lines = verbose is not False
    history = History(train_loss=[], test_loss=[], seconds=[], lr=[])
    if on_nonfinite == "skip":
        history["skipped_steps"] = []
    guarded, saver = FiniteUpdatesOnly(optimizer, model.parameters()), Checkpoint(checkpoint)

    def step(xb, yb):
        return train_step(model, guarded, xb, yb, loss)
    step = compiled(step, fallback=True) if jit else step
    was_training = getattr(model, "training", True)
    if hasattr(model, "train"):  # Dropout drops and BatchNorm learns its statistics (evaluate switches to eval)
        model.train()
    with _StopOnCtrlC() as stop, limit_blas_threads(blas_threads), keep_freed_memory():
        for epoch in range(1, epochs + 1):
            if rates is not None:
                optimizer.lr = rates[epoch - 1]
            started, tally, weights = time.perf_counter(), EpochLoss(epoch, steps, on_nonfinite), copy_weights(model)
            bar = progress_bar(epoch_batches(), total=steps, desc=f"epoch {epoch}/{epochs}", disable=not show_bar,
                               leave=False, unit="step", mininterval=0.5)
            for number, (xb, yb) in enumerate(bar, 1):
                batch_loss = step(xb, yb).item()
                if not tally.add(number, batch_loss, len(xb), guarded.refused) or stop.requested:
                    break
            bar.close()
            history.stopped_reason = stop_reason(stop, tally, model, weights)
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
    if hasattr(model, "train"):
        model.train(was_training)
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
        warnings.warn(f"fit stopped: {history.stopped_reason}. {NONFINITE_ADVICE}", RuntimeWarning, stacklevel=4)


def _training_data(model, data, y, batch_size, autoencoder, noise, validation_data, seed):
    """``(epoch_batches, steps per epoch, validation_data)`` for a Dataset or arrays x, y."""
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            length = f" of length {len(validation_data)}" if isinstance(validation_data, (tuple, list)) else ""
            raise ValueError("validation_data must be a pair (x_test, y_test) of arrays like the training "
                             f"data, got a {type(validation_data).__name__}{length}")
        validation_data = checked_pair(model, "validation_data", *validation_data)
    if isinstance(data, Dataset):
        if batch_size is not None or seed is not None or y is not None:
            raise ValueError("fit(dataset, ...) uses the Dataset's own batch_size and seed (set them when you "
                             "create it: Dataset(batch_size=..., seed=...)) and its own targets (leave out y)")
        checked_rows(model, "the dataset's images", data.train[0][:1])

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
    x, y = checked_pair(model, "the training data", data, data if y is None else y)
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
