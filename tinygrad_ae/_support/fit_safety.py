"""What keeps a ``fit`` run safe: no NaN update, no lost run for want of a checkpoint.

One update with a NaN or inf gradient makes every weight NaN (and Adam's running averages
with them), so such a step is never applied; ``fit`` then stops, skips or raises as asked
(``on_nonfinite``). Weights are checked before each checkpoint, so a good file is never
replaced by a NaN one, and a checkpoint that cannot be written warns once instead of
throwing the run away.

Example:
    >>> tally = EpochLoss(epoch=1, steps=2, on_nonfinite="skip")
    >>> tally.add(1, 0.5, rows=4, refused=False), tally.add(2, float("nan"), rows=4, refused=True)
    (True, True)
    >>> tally.mean, tally.skipped, tally.problem
    (0.5, 1, 'the training loss was nan at epoch 1, step 2 of 2')
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from ..autograd import seen_by_jit


NONFINITE_ADVICE = ("No update with a NaN or inf gradient was applied, so the weights are the last "
                    "finite ones. Try a lower learning rate, check the data for NaN/inf "
                    "(np.isfinite(x).all()), or pass on_nonfinite='skip' to leave such steps out.")


class FiniteUpdatesOnly:
    """The optimizer, except that a step whose gradients hold a NaN or inf is not applied:
    one such update makes every weight NaN (and Adam's running averages with them).

    Example:
        >>> from tinygrad_ae import SGD, Tensor
        >>> w = Tensor([1.0], requires_grad=True)
        >>> guarded = FiniteUpdatesOnly(SGD([w], lr=0.1), [w])
        >>> w.grad = np.array([np.nan], np.float32); guarded.step()
        >>> guarded.refused, w.data
        (True, array([1.], dtype=float32))
    """

    def __init__(self, optimizer, params):
        self.optimizer, self.params, self.refused = optimizer, list(params), False

    # seen_by_jit: a compiled step replays these calls whole, so the check runs at every step
    @seen_by_jit
    def zero_grad(self):
        self.optimizer.zero_grad()

    @seen_by_jit
    def step(self):
        # A sum is finite only if every number in it is (NaN and inf spread through a sum), so one
        # reduction per gradient answers; only a non-finite sum (a NaN, an inf, or an overflow
        # of huge finite numbers) needs the element-by-element check.
        with np.errstate(over="ignore", invalid="ignore"):  # inf - inf or an overflow is an answer here, not news
            self.refused = not all(p.grad is None or math.isfinite(p.grad.sum()) or np.isfinite(p.grad).all()
                                   for p in self.params)
        if not self.refused:
            self.optimizer.step()


class EpochLoss:
    """The mean training loss of one epoch over its finite steps, and what to do
    (``on_nonfinite``) about a step whose loss or gradient is not finite.

    Example:
        >>> tally = EpochLoss(epoch=2, steps=5, on_nonfinite="stop")
        >>> tally.add(1, float("inf"), rows=8, refused=False), tally.problem
        (False, 'the training loss was inf at epoch 2, step 1 of 5')
    """

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


def copy_weights(model) -> list:
    """A copy of every parameter's array, to put back with :func:`stop_reason`.

    Example:
        >>> from tinygrad_ae import MLP, Dense
        >>> [w.shape for w in copy_weights(MLP([Dense(2, 1)]))]
        [(1, 2), (1,)]
    """
    return [p.data.copy() for p in model.parameters()]


def stop_reason(stop, tally, model, weights) -> str | None:
    """Why training must stop after this epoch's steps, or None. Weights that overflowed to
    inf without a non-finite gradient are put back to the epoch's start.

    Example:
        >>> from types import SimpleNamespace
        >>> from tinygrad_ae import MLP, Dense
        >>> model = MLP([Dense(2, 1)]); saved = copy_weights(model)
        >>> model.layers[0].W.data[0, 0] = np.inf
        >>> stop_reason(SimpleNamespace(requested=False), EpochLoss(3, 1, "stop"), model, saved)
        'the weights overflowed to inf or NaN during epoch 3; they are put back to its start'
        >>> bool(np.isfinite(model.layers[0].W.data).all())
        True
    """
    if stop.requested:
        return "stopped by Ctrl-C"
    if tally.problem and tally.on_nonfinite == "stop":
        return tally.problem
    if not all(np.isfinite(p.data).all() for p in model.parameters()):
        for p, saved in zip(model.parameters(), weights):
            p.data[...] = saved
        return f"the weights overflowed to inf or NaN during epoch {tally.epoch}; they are put back to its start"
    return None


class Checkpoint:
    """Saves the model after each epoch. A save that fails (a read-only folder, a full disk)
    warns once and training goes on: the run and its History are worth more than the file.

    Example:
        >>> import os, warnings
        >>> from tinygrad_ae import MLP, Dense
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     Checkpoint(os.path.join(os.devnull, "model")).save(MLP([Dense(2, 1)]), 1, {})
        >>> "could not write the checkpoint" in str(caught[0].message)
        True
    """

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
