"""A variational autoencoder on the real MNIST: the PyTorch examples' VAE, recipe for recipe.

The encoder maps an image to the mean ``mu`` and log-variance ``logvar`` of a Gaussian over a
20-dimensional code; a code is sampled as ``z = mu + exp(logvar / 2) * eps`` with eps ~ N(0, 1)
(the reparameterisation trick: the randomness is an input, so gradients flow to mu and
logvar); the decoder maps it back to pixel probabilities. The loss per image is the negative
evidence lower bound, in nats::

    bce(decoder logits, image, reduction="sum") + kl_divergence(mu, logvar, reduction="sum")

Layers 784-400-(20, 20)-400-784 with ReLU, Adam lr 1e-3, batch 128, 10 epochs, exactly as in
``pytorch/examples/vae/main.py``; its test loss after 10 epochs is about 105-106 nats per
image. Our weights start as PyTorch's ``nn.Linear`` weights do (``init="uniform"``); our biases
start at 0. The decoder outputs logits and the loss uses ``bce(from_logits=True)``: the same
sigmoid-then-BCE, without rounding the probabilities first.

Run it from the repository's root (about a minute per epoch on a busy 2-core machine)::

    python examples/vae_mnist.py
    python examples/vae_mnist.py --epochs 1 --train-size 2000 --test-size 500
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from tinygrad_ae import Dataset, Dense, FusedAdam, Tensor, no_grad
from tinygrad_ae._support.threads import limit_blas_threads
from tinygrad_ae.losses import bce, kl_divergence


class VAE:
    """784 -> 400 -> (mu, logvar) of 20 -> 400 -> 784 logits."""

    def __init__(self, latent: int = 20, hidden: int = 400, seed: int = 0):
        seeds = np.random.SeedSequence(seed).spawn(6)
        self.encoder = Dense(784, hidden, init="uniform", seed=seeds[0])
        self.to_mu = Dense(hidden, latent, activation="identity", init="uniform", seed=seeds[1])
        self.to_logvar = Dense(hidden, latent, activation="identity", init="uniform", seed=seeds[2])
        self.decoder = Dense(latent, hidden, init="uniform", seed=seeds[3])
        self.to_logits = Dense(hidden, 784, activation="identity", init="uniform", seed=seeds[4])
        self.rng = np.random.default_rng(seeds[5])  # the eps of the reparameterisation

    def parameters(self) -> list:
        layers = (self.encoder, self.to_mu, self.to_logvar, self.decoder, self.to_logits)
        return [p for layer in layers for p in layer.parameters()]

    def __call__(self, x: Tensor):
        h = self.encoder(x)
        mu, logvar = self.to_mu(h), self.to_logvar(h)
        eps = Tensor(self.rng.standard_normal(mu.shape, dtype=np.float32))
        z = mu + (logvar * 0.5).exp() * eps
        return self.to_logits(self.decoder(z)), mu, logvar


def loss_sum(model: VAE, x: np.ndarray) -> Tensor:
    """The negative ELBO summed over the batch ``x``, in nats."""
    logits, mu, logvar = model(Tensor(x))
    return bce(logits, x, from_logits=True, reduction="sum") + kl_divergence(mu, logvar, reduction="sum")


def test_loss(model: VAE, images: np.ndarray, batch_size: int = 1000) -> float:
    """The mean negative ELBO per test image (one sampled code per image, as PyTorch's test does)."""
    total = 0.0
    with no_grad():
        for start in range(0, len(images), batch_size):
            total += loss_sum(model, images[start:start + batch_size]).item()
    return total / len(images)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--train-size", type=int, default=60000)
    parser.add_argument("--test-size", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0, help="weights, shuffling and sampling")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    """Train and report; returns the per-epoch figures (the test uses them)."""
    args = parse_args(argv)
    data = Dataset(train_size=args.train_size, test_size=args.test_size, seed=args.seed)
    x_train, x_test = data.train[0], data.test[0]
    model = VAE(seed=args.seed)
    optimizer = FusedAdam(model.parameters(), lr=args.lr)
    shuffle = np.random.default_rng(args.seed)
    results = {"untrained_test_loss": test_loss(model, x_test), "train_loss": [], "test_loss": [], "seconds": []}
    print(f"untrained: test loss {results['untrained_test_loss']:.2f} nats per image")
    with limit_blas_threads(1):
        for epoch in range(1, args.epochs + 1):
            started, total = time.perf_counter(), 0.0
            order = shuffle.permutation(len(x_train))
            for start in range(0, len(order), args.batch_size):
                batch = x_train[order[start:start + args.batch_size]]
                optimizer.zero_grad()
                loss = loss_sum(model, batch)
                loss.backward()  # of the batch's sum, as PyTorch's example does (Adam barely minds the scale)
                optimizer.step()
                total += loss.item()
            results["train_loss"].append(total / len(x_train))
            results["test_loss"].append(test_loss(model, x_test))
            results["seconds"].append(time.perf_counter() - started)
            print(f"epoch {epoch}/{args.epochs}  train loss {results['train_loss'][-1]:.2f}  "
                  f"test loss {results['test_loss'][-1]:.2f} nats per image  ({results['seconds'][-1]:.1f} s)",
                  flush=True)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
