"""Train the two blind denoisers shipped in models/: a wide MLP and a residual conv net.

    python examples/train_denoisers.py --arch wide            # 784-1000-784, 1.57 M parameters
    python examples/train_denoisers.py --arch conv-two-scale  # the wide MLP's guess refined by convolutions at 28x28 and 14x14, 1.74 M (shipped)
    python examples/train_denoisers.py --arch conv            # the same guess refined by 8 convolutions x 32 channels at 28x28, 1.63 M (shipped before)
    python examples/train_denoisers.py --arch dncnn           # those 8 convolutions alone (DnCNN), 56 k parameters (not shipped)
    python examples/train_denoisers.py --arch conv-s2d        # DnCNN's idea on 2x2 patches, 39 k parameters (not shipped)

``--arch conv-two-scale`` and ``--arch conv`` start their estimate from the trained wide MLP
(``models/mnist_denoising_wide.npz``, or ``--estimate-from PATH``; ``--estimate-from none`` starts
it from random weights), so train the wide model first.

"Blind": each training image gets Gaussian noise of its own std, drawn uniformly from
[0, 0.5], so one model serves every noise level. Targets are the clean images, the loss is
MSE, the optimizer FusedAdam with a cosine learning-rate decay. The shipped conv model's
recipe adds two things to the loss (``--clip-loss --noise-weight 0.3``, see ``weighted_step``):
it scores the prediction clipped to [0, 1], as ``predict`` gives it, and weighs each image's
squared error by 1/(std + 0.3), so that the lightly corrupted images, whose errors are small,
are not drowned out by the heavily corrupted ones. After every epoch the model
is saved to models/<name>_checkpoint.npz (a crash loses one epoch at most, and a run that stops
early never replaces a finished model); at the end the script scores it on the 10,000
test images at each noise level (Gaussian std 0.1/0.2/0.3/0.5; salt-and-pepper and masking: 10 % and
30 % of the pixels; tinygrad_ae.metrics.denoising_scores) and writes

    models/<name>.npz  models/<name>.json  models/<name>_loss.png
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from tinygrad_ae import (MLP, ClipWhenPredicting, Conv2D, Dataset, Dense, DepthToSpace, Flatten, FusedAdam, History,
                         Refinement, Reshape, Residual, Sequential, SpaceToDepth, Tensor, jit, load_model)
from tinygrad_ae._support.files import atomic_write_bytes
from tinygrad_ae._support.memory import keep_freed_memory
from tinygrad_ae._support.threads import limit_blas_threads
from tinygrad_ae.dataset import NOISE_KINDS, add_noise
from tinygrad_ae.metrics import TEST_STDS, denoising_scores

ROOT = Path(__file__).resolve().parent.parent
NAMES = {"wide": "mnist_denoising_wide", "conv-two-scale": "mnist_denoising_conv", "conv": "mnist_denoising_conv_single_scale",
         "dncnn": "mnist_denoising_dncnn", "conv-s2d": "mnist_denoising_conv_s2d"}
SHIPPED_CONV = "conv-two-scale"  # the architecture of models/mnist_denoising_conv
REFINED = ("conv", "conv-two-scale")  # the archs whose estimate is the wide MLP
TRAIN_NOISE = (0.0, 0.5)  # each image's std is drawn from this range


def wide_mlp(seed: int) -> list:
    """784 -> 1000 ReLU -> 784 sigmoid: no narrow bottleneck, so every stroke can get through."""
    return [Dense(784, 1000, activation="relu", seed=seed, bias_init=0.01),
            Dense(1000, 784, activation="sigmoid", seed=seed + 1)]


def dncnn(seed: int, in_channels: int = 1) -> list:
    """DnCNN (Zhang et al. 2017) at MNIST's size: 8 convolutions x 32 channels at full
    resolution, the last one linear, giving one channel: a correction to add to an image."""
    layers = [Conv2D(in_channels, 32, 3, padding="same", seed=seed)]
    layers += [Conv2D(32, 32, 3, padding="same", seed=seed + i) for i in range(1, 7)]
    return layers + [Conv2D(32, 1, 3, padding="same", activation="linear", seed=seed + 7)]


def two_scale_correction(seed: int) -> list:
    """DnCNN's correction with its middle moved to half the resolution: two 3x3 convolutions at
    28x28 x 32; a stride-2 convolution down to 14x14 x 64; three 3x3 convolutions there; a 1x1
    convolution to 128 channels that DepthToSpace turns back into 28x28 x 32, added to what went
    down (a U-Net's skip, as a Residual); three 3x3 convolutions at 28x28, the last giving the
    one-channel correction. A 64-channel convolution on 14x14 costs as much as a 32-channel one on
    28x28 and sees twice as far, so the correction sees 25x25 pixels instead of ``dncnn``'s 17x17,
    for 12 % more multiply-adds (49 M against 44 M per image) and about the same time per step."""
    down = Conv2D(32, 64, 3, stride=2, padding=1, seed=seed + 2)
    middle = [Conv2D(64, 64, 3, padding="same", seed=seed + i) for i in range(3, 6)]
    up = [Conv2D(64, 128, 1, activation="linear", seed=seed + 6), DepthToSpace(2)]
    return [Conv2D(2, 32, 3, padding="same", seed=seed), Conv2D(32, 32, 3, padding="same", seed=seed + 1),
            Residual([down, *middle, *up]),
            Conv2D(32, 32, 3, padding="same", seed=seed + 7), Conv2D(32, 32, 3, padding="same", seed=seed + 8),
            Conv2D(32, 1, 3, padding="same", activation="linear", seed=seed + 9)]


def build(arch: str, seed: int, estimate_from=None):
    """The model for ``arch``, with reproducible initial weights (see the module docstring)."""
    if arch == "wide":
        return MLP(wide_mlp(seed))
    if arch in REFINED:
        # The wide MLP sees the whole digit and guesses it; the convolutions look at the noisy
        # pixels and that guess side by side and correct the guess where they disagree.
        estimate = wide_mlp(seed)
        if estimate_from is not None:
            trained = load_model(estimate_from)
            for layer, source in zip(estimate, trained.layers):
                layer.W.data[...], layer.b.data[...] = source.W.data, source.b.data
        correction = dncnn(seed + 2, in_channels=2) if arch == "conv" else two_scale_correction(seed + 2)
        correction[-1].W.data[...] = 0  # the correction starts at zero: training starts from the guess
        body = Refinement([Flatten(), *estimate, Reshape(1, 28, 28)], correction)
    elif arch == "dncnn":
        # The output is the noisy input plus a learned correction (minus the predicted
        # noise), so the net learns what the noise looks like.
        body = Residual(dncnn(seed))
    elif arch == "conv-s2d":
        # 4.4x cheaper per image: each 2x2 patch becomes 4 channels of a 14x14 image
        # (SpaceToDepth, as in FFDNet, Zhang et al. 2018), 6 convolutions see twice as far
        # there, and DepthToSpace turns the correction back into 28x28 pixels.
        layers = [SpaceToDepth(2), Conv2D(4, 32, 3, padding="same", seed=seed)]
        layers += [Conv2D(32, 32, 3, padding="same", seed=seed + i) for i in range(1, 5)]
        layers += [Conv2D(32, 4, 3, padding="same", activation="linear", seed=seed + 5), DepthToSpace(2)]
        body = Residual(layers)
    else:
        raise ValueError(f"unknown arch {arch!r}; known: {sorted(NAMES)}")
    # Predictions are clipped to the pixel range [0, 1]; training sees the raw output (unless --clip-loss).
    return Sequential([Reshape(1, 28, 28), body, Flatten(), ClipWhenPredicting(0, 1)], input_shape=(784,))


def noise_weights(std, offset: float):
    """Each image's loss weight 1 / (std + offset), divided by its mean over TRAIN_NOISE's
    uniform stds, so that the weights average 1 and the learning rate keeps its meaning.

    Example:
        >>> noise_weights(np.array([[0.0], [0.5]], np.float32), 0.3).round(3).ravel()
        array([1.699, 0.637], dtype=float32)
    """
    low, high = TRAIN_NOISE
    mean = math.log((high + offset) / (low + offset)) / (high - low)  # of 1 / (s + offset), s ~ U(low, high)
    return (1 / (std + offset) / mean).astype(np.float32)


def weighted_step(model, optimizer, clip: bool):
    """``train_step`` with a weight per image, compiled: mean(weight * (prediction - clean)^2),
    the prediction clipped to [0, 1] first if ``clip`` (the output ``predict`` gives, so that
    training does not spend effort on errors the clip removes anyway)."""
    def step(noisy, clean, weight):
        optimizer.zero_grad()
        prediction = model(Tensor(noisy))
        if clip:
            prediction = prediction.clip(0.0, 1.0)
        loss = (((prediction - Tensor(clean)) ** 2) * Tensor(weight)).mean()
        loss.backward()
        optimizer.step()
        return loss
    return jit(step)


def weighted_epoch(model, optimizer, step, dataset, rng, args, validation) -> dict:
    """One epoch of ``weighted_step``: fit's loop written out, because the weights need each
    image's noise std, which ``fit`` draws inside the Dataset and never shows to the loss.
    A NaN or infinite loss, test loss or weight stops the run before the epoch's checkpoint is
    written, so the last good checkpoint is kept; Ctrl-C stops it too."""
    started, total = time.perf_counter(), 0.0
    model.train()
    with limit_blas_threads(args.blas_threads), keep_freed_memory():
        for (clean, _), _ in dataset.batches(autoencoder=True, test_batches=False):  # shuffled clean images
            std = rng.uniform(*TRAIN_NOISE, size=(len(clean), 1)).astype(np.float32)  # as add_noise draws it
            noisy = add_noise(clean, std, rng)
            weight = noise_weights(std, args.noise_weight) if args.noise_weight is not None else np.ones_like(std)
            loss = step(noisy, clean, weight).item()
            if not math.isfinite(loss):
                raise FloatingPointError(f"the training loss became {loss}; the last epoch's checkpoint is kept. "
                                         "Try a smaller --lr.")
            total += loss * len(clean)
        test = model.evaluate(*validation)
    if not (math.isfinite(test) and all(np.isfinite(p.data).all() for p in model.parameters())):
        raise FloatingPointError(f"a step made the weights NaN or infinite (test loss {test}); the last epoch's "
                                 "checkpoint is kept. Try a smaller --lr.")
    return dict(train_loss=[total / args.train_size], test_loss=[test], seconds=[time.perf_counter() - started],
                lr=[optimizer.lr])


def loss_description(args) -> str:
    """The training loss in words, for the model's record."""
    if not (args.clip_loss or args.noise_weight is not None):
        return "mse"
    prediction = "the prediction clipped to [0, 1]" if args.clip_loss else "the prediction"
    weight = (f", each image's squared error weighted by 1/(std + {args.noise_weight}) divided by its mean "
              f"over std ~ U{list(TRAIN_NOISE)}"
              if args.noise_weight is not None else "")
    return f"mean squared error of {prediction}{weight}"


def positive_number(text: str) -> float:
    """argparse's type for --noise-weight: a finite number > 0 (1/(std + 0) would divide by zero at std 0)."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"needs a number > 0 (0.3 is the shipped recipe's), got {text}")
    return value


def check_resumed_architecture(model, args) -> None:
    """--resume must name a model of --arch's architecture: the output path and the record follow
    --arch, so a mismatch would write one architecture over another's file (the shipped model's,
    with the default --out). Raises SystemExit with what to give instead."""
    def layer_configs(m):
        return [layer.config() for layer in m.layers]
    resumed = layer_configs(model)
    if resumed != layer_configs(build(args.arch, 0)):
        built_by = next((arch for arch in NAMES if layer_configs(build(arch, 0)) == resumed), None)
        hint = f"it was built by --arch {built_by}" if built_by else "no --arch here builds it"
        sys.exit(f"--resume {args.resume}: that model is not the --arch {args.arch} architecture ({hint}); "
                 "give the --arch it was trained with, so that its checkpoints go to that architecture's file")


def shown_path(path) -> str:
    """``path`` relative to the repository if it is inside it (records then read the same on
    every machine), else as given."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(NAMES), default=SHIPPED_CONV)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=None, help="stop after the epoch that passes this time")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3, help="initial learning rate")
    parser.add_argument("--train-size", type=int, default=60000)
    parser.add_argument("--test-size", type=int, default=10000, help="test images scored (the README uses all 10000)")
    parser.add_argument("--seed", type=int, default=0, help="weights, shuffling and noise")
    parser.add_argument("--blas-threads", type=int, default=1, help="numpy's BLAS threads while training (fit's default: 1)")
    parser.add_argument("--estimate-from", default=str(ROOT / "models" / "mnist_denoising_wide.npz"),
                        help="--arch conv-two-scale / conv: the trained wide MLP its estimate starts from ('none': random weights)")
    parser.add_argument("--resume", type=Path, default=None,
                        help="go on from a saved checkpoint (the Adam moments start afresh; give a new --seed for new "
                             "shuffling and noise); --epochs 0 only scores it")
    parser.add_argument("--clip-loss", action="store_true",
                        help="score the training loss on the prediction clipped to [0, 1], as predict gives it")
    parser.add_argument("--noise-weight", type=positive_number, default=None, metavar="OFFSET",
                        help="weigh each image's squared error by 1/(std + OFFSET), std its noise level (mean weight 1)")
    parser.add_argument("--note", default=None, help="a sentence for the record (e.g. why a run stopped early)")
    parser.add_argument("--out", type=Path, default=None, help="model path without suffix (default models/<name>)")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = args.out or ROOT / "models" / NAMES[args.arch]
    # Epochs are saved beside it, so that a run that stops early (Ctrl-C, NaN, a crash) never
    # leaves a half-trained model in place of the finished one, the shipped one among them.
    checkpoint = Path(str(out) + "_checkpoint")
    estimate_from = None if args.estimate_from.lower() == "none" else args.estimate_from
    if args.resume:
        model = load_model(args.resume)
        check_resumed_architecture(model, args)
    else:
        model = build(args.arch, args.seed, estimate_from)
    dataset = Dataset(name="mnist", train_size=args.train_size, test_size=args.test_size,
                      batch_size=args.batch_size, seed=args.seed)
    optimizer = FusedAdam(model.parameters(), lr=args.lr)
    print(model.summary())

    history = History(model.metadata.get("history", dict(train_loss=[], test_loss=[], seconds=[], lr=[])))
    weighted = args.clip_loss or args.noise_weight is not None
    if weighted:  # fit's test loss: the test images with noise drawn as in training, from a fixed seed
        step, rng = weighted_step(model, optimizer, args.clip_loss), np.random.default_rng(args.seed)
        x_test = dataset.test[0]
        validation = (add_noise(x_test, TRAIN_NOISE, np.random.default_rng(0)), x_test)
    started = time.perf_counter()
    for epoch in range(args.epochs):
        optimizer.lr = args.lr * 0.5 * (1 + math.cos(math.pi * epoch / args.epochs))  # cosine decay
        if weighted:
            try:
                one = History(weighted_epoch(model, optimizer, step, dataset, rng, args, validation))
            except KeyboardInterrupt:
                sys.exit(f"stopped by Ctrl-C in epoch {epoch + 1}; " + (
                    f"the checkpoint {checkpoint}.npz holds epoch {epoch} (go on with --resume and a new --seed)" if epoch
                    else "no epoch had finished, so nothing was saved"))
        else:
            one = model.fit(dataset, epochs=1, optimizer=optimizer, autoencoder=True, noise=TRAIN_NOISE,
                            verbose=False, blas_threads=args.blas_threads)
            if not one["train_loss"]:  # fit stopped within the epoch (Ctrl-C, or NaN; it warned): score what we have
                break
        for key in history:
            history[key] += one[key]
        print(f"epoch {epoch + 1}/{args.epochs}  train {one['train_loss'][0]:.5f}  test {one['test_loss'][0]:.5f}"
              f"  lr {optimizer.lr:.2g}  ({one['seconds'][0]:.0f} s)", flush=True)
        model.save(checkpoint, metadata={"unfinished": True, "history": dict(history)})
        if one.interrupted or (args.minutes and time.perf_counter() - started > 60 * args.minutes):
            break
    wall = sum(history["seconds"])

    x_test, _ = dataset.test
    record = {
        "architecture": model.summary(),
        "parameters": model.num_parameters,
        "test_images": args.test_size,
        "training": {
            "command": " ".join(["python examples/train_denoisers.py", *(argv if argv is not None else sys.argv[1:])]),
            "data": f"MNIST train, {args.train_size} images, Gaussian noise std uniform in {list(TRAIN_NOISE)} per image, clipped",
            "loss": loss_description(args), "optimizer": "FusedAdam", "lr": args.lr, "lr_schedule": "cosine decay over the epochs",
            "batch_size": args.batch_size, "epochs": history.epochs, "seed": args.seed, "wall_seconds": round(wall, 1),
            "blas_threads": args.blas_threads,
            "resumed_from": str(args.resume) if args.resume else None, "note": args.note,
            "estimate_started_from": (shown_path(estimate_from) if estimate_from and args.arch in REFINED and not args.resume
                                      else None),
        },
        # dataset PSNR in dB of the noisy input and the model, per noise kind and level
        "test_psnr": {kind: denoising_scores(model.predict, x_test, levels=TEST_STDS if kind == "gaussian" else (0.1, 0.3),
                                             kind=kind) for kind in NOISE_KINDS},
        "history": dict(history),
    }
    path = model.save(out, metadata=record)
    Path(str(checkpoint) + ".npz").unlink(missing_ok=True)  # the finished model replaces it
    atomic_write_bytes(Path(out).with_suffix(".json"), (json.dumps(record, indent=2) + "\n").encode())
    what = "weighted training loss and test MSE" if args.noise_weight is not None else "MSE"
    history.plot(Path(str(out) + "_loss.png"), title=f"Blind {args.arch} denoiser: {what} per epoch")
    print(json.dumps(record["test_psnr"], indent=2))
    print(f"wrote {path}, {Path(out).with_suffix('.json')} and {out}_loss.png after {wall:.0f} s of training")
    return record


if __name__ == "__main__":
    main()
