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

import signal
import sys
import threading
import time

import numpy as np
from tqdm import tqdm  # plain tqdm: tqdm.auto warns in notebooks without ipywidgets

from ._support.files import atomic_writer
from ._support.memory import keep_freed_memory
from ._support.threads import limit_blas_threads
from .dataset import Dataset, add_noise, one_hot
from .losses import get_loss
from .optim import FusedAdam
from .tensor import Tensor


class History(dict):
    """Per-epoch figures of a ``fit`` run: ``history["train_loss"]``, ``["test_loss"]``,
    ``["seconds"]``; ``interrupted`` says whether Ctrl-C ended it early.

    Example:
        >>> h = History(train_loss=[0.5, 0.3], test_loss=[0.6, 0.4], seconds=[1.0, 1.0])
        >>> h.epochs
        2
    """

    interrupted = False

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

        fig, ax = plt.subplots(figsize=(6, 4))
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
        checkpoint=None, seed=None, lr_schedule=None, blas_threads: int | None = 1) -> History:
    """Train ``model`` for ``epochs`` passes over the data and return the :class:`History`.

    Args:
        data: a :class:`~tinygrad_ae.Dataset` (its ``batch_size`` and shuffling are used, and
            ``autoencoder``/``noise`` are passed to its ``batches``), or an array ``x`` with
            targets ``y`` (shuffled each epoch with ``seed``, in batches of ``batch_size``,
            32 by default).
        loss: "mse", "bce", "cross_entropy" or a function ``(prediction, target) -> Tensor``.
        optimizer: default ``FusedAdam(model.parameters(), lr=1e-3)``.
        validation_data: ``(x, y)`` for the test loss after each epoch. With a Dataset it
            defaults to its test set (noisy inputs with a fixed noise seed, so the figure
            is comparable from epoch to epoch).
        verbose: True for a progress bar and a line per epoch, False for silence; by
            default (None) a line per epoch, and the bar only when stderr is a terminal.
        checkpoint: a path; the model is saved there after every completed epoch.
        lr_schedule: a function ``epoch (0-based) -> learning rate``, applied to the
            optimizer's ``lr`` before each epoch (``history["lr"]`` records it).
        blas_threads: threads numpy's BLAS may use while training (one is fastest for small
            networks, see ``_support/threads.py``); None leaves numpy's setting alone.

    ``fit`` trains in training mode (``model.train()``) and gives the model back in the mode
    it found. Every step is :func:`train_step`. Around it, and only while it runs, ``fit`` keeps freed
    memory for reuse (``_support/memory.py``) and limits BLAS threads; both are undone when
    it returns. Ctrl-C stops after the current step: the model stays usable and
    ``history.interrupted`` is True. Example in the module docstring.
    """
    optimizer = optimizer or FusedAdam(model.parameters(), lr=1e-3)
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a whole number >= 0, got {epochs!r}")
    epoch_batches, steps, validation_data = _training_data(data, y, batch_size, autoencoder, noise,
                                                           validation_data, seed)
    show_bar = sys.stderr.isatty() if verbose is None else bool(verbose)
    show_lines = verbose is not False
    history = History(train_loss=[], test_loss=[], seconds=[], lr=[])
    was_training = getattr(model, "training", True)
    if hasattr(model, "train"):  # Dropout drops and BatchNorm learns its statistics (evaluate switches to eval)
        model.train()
    with _StopOnCtrlC() as stop, limit_blas_threads(blas_threads), keep_freed_memory():
        for epoch in range(1, epochs + 1):
            if lr_schedule is not None:
                optimizer.lr = lr_schedule(epoch - 1)
            started, total, count = time.perf_counter(), 0.0, 0
            bar = tqdm(epoch_batches(), total=steps, desc=f"epoch {epoch}/{epochs}", disable=not show_bar,
                       leave=False, unit="step", mininterval=0.5)
            for xb, yb in bar:
                total += train_step(model, optimizer, xb, yb, loss).item() * len(xb)
                count += len(xb)
                if stop.requested:
                    break
            bar.close()
            if stop.requested:
                history.interrupted = True
                break
            history["train_loss"].append(total / max(count, 1))
            history["test_loss"].append(model.evaluate(*validation_data, loss=loss) if validation_data else None)
            history["seconds"].append(time.perf_counter() - started)
            history["lr"].append(optimizer.lr)
            if checkpoint is not None:
                model.save(checkpoint, metadata={"epoch": epoch, "history": dict(history)})
            if show_lines:
                _print_epoch(history, epoch, epochs, optimizer.lr)
    if hasattr(model, "train"):
        model.train(was_training)
    if history.interrupted and show_lines:
        tqdm.write(f"stopped by Ctrl-C after {history.epochs} complete epochs; the model keeps its last step")
    return history


def _print_epoch(history, epoch, epochs, lr):
    test = history["test_loss"][-1]
    tqdm.write(f"epoch {epoch}/{epochs}  train loss {history['train_loss'][-1]:.5f}"
               + (f"  test loss {test:.5f}" if test is not None else "")
               + f"  lr {lr:g}  ({history['seconds'][-1]:.1f} s)", file=sys.stdout)


def _training_data(data, y, batch_size, autoencoder, noise, validation_data, seed):
    """``(epoch_batches, steps per epoch, validation_data)`` for a Dataset or arrays x, y."""
    if isinstance(data, Dataset):
        if batch_size is not None or seed is not None:
            raise ValueError("fit(dataset, ...) uses the Dataset's own batch_size and seed; set them "
                             "when you create it: Dataset(batch_size=..., seed=...)")

        def epoch_batches():
            # fit reports the test loss on the whole test set, so per-step test batches are skipped
            for train_batch, _ in data.batches(autoencoder=autoencoder, noise=noise, test_batches=False):
                yield train_batch
        if validation_data is None:
            x_test, labels = data.test
            targets = x_test if autoencoder else one_hot(labels)
            validation_data = (add_noise(x_test, noise, np.random.default_rng(0)), targets)
        return epoch_batches, data.steps_per_epoch, validation_data

    if y is None:
        raise ValueError("fit(x, y): give the targets y (for an autoencoder, y = x)")
    batch_size = 32 if batch_size is None else batch_size
    x, y = np.asarray(data, dtype=np.float32), np.asarray(y, dtype=np.float32)
    if len(x) != len(y):
        raise ValueError(f"fit: x has {len(x)} rows but y has {len(y)}")
    rng = np.random.default_rng(seed)

    def epoch_batches():
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            rows = order[start:start + batch_size]
            yield x[rows], y[rows]
    return epoch_batches, -(-len(x) // batch_size), validation_data
