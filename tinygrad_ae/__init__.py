"""tinygrad_ae: a small numpy autograd framework you can read in an evening.

Its headline job is a denoising autoencoder on the real MNIST::

    from tinygrad_ae import Dataset, MLP, Dense
    autoencoder = MLP()
    autoencoder.load("mnist_denoising_autoencoder")
    print(autoencoder)

The modules, in reading order (each opens with a paragraph saying what it is):

==============  ===================================================================
``tensor``      ``Tensor``: an array that records how it was computed
``autograd``    every derivative the package knows, and the walk behind ``backward()``
``gradcheck``   checking a gradient against central differences
``conv``        convolution as windows + one matmul; pooling, upsampling, padding
``layers``      ``Dense``, ``Conv2D`` and friends, ``Dropout``, ``BatchNorm``, built from tensor ops
``nn``          ``MLP`` and ``Sequential``: layers in a row, printed, drawn, saved and loaded
``losses``      ``mse``, ``bce``, ``cross_entropy``, ``nll``, ``l1``, ``huber``, ``kl_divergence``
``optim``       ``SGD``, ``Adam``, ``AdamW``, ``RMSprop``; gradient clipping; lr schedules
``training``    ``train_step`` (the four lines) and ``fit`` (the loop around them)
``jit``         a training step traced once, then replayed on numpy arrays (faster)
``dataset``     the real MNIST in noisy mini-batches
``metrics``     how good a denoiser is: MSE, PSNR, PCA as the linear baseline
``viz``         pictures: the compute graph and the network
``explain``     ``explain_backward``: backpropagation step by step, printed, drawn, played
==============  ===================================================================

``_support/`` holds the plumbing (file formats, downloads, thread limits) that none of the
ideas depend on.

Example:
    >>> from tinygrad_ae import Tensor
    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x ** 2).sum().backward()
    >>> x.grad
    array([2., 4., 6.], dtype=float32)
"""

from .tensor import Tensor, concatenate, einsum, hstack, outer, stack, vstack, where
from .autograd import Function, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck
from .conv import avg_pool2d, conv2d, max_pool2d, pad2d, upsample2d
from .layers import (Activation, BatchNorm, ClipWhenPredicting, Conv2D, Dense, DepthToSpace, Dropout, Flatten,
                     LayerNorm, MaxPool2D, Refinement, Reshape, Residual, SpaceToDepth, Upsample2D)
from .nn import MLP, Sequential, load_model
from .losses import bce, cross_entropy, huber, kl_divergence, l1, mse, nll, smooth_l1
from .optim import SGD, Adam, AdamW, FusedAdam, RMSprop, clip_grad_norm, cosine_annealing, step_decay
from .training import History, fit, train_step
from .jit import JitError, jit
from .dataset import Dataset
from .viz import GraphvizNotFoundError, draw_architecture, draw_graph, render
from .explain import BackwardTrace, explain_backward

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "where",
    "outer",
    "einsum",
    "Function",
    "no_grad",
    "is_grad_enabled",
    "gradcheck",
    "GradcheckError",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "upsample2d",
    "pad2d",
    "Dense",
    "Activation",
    "Dropout",
    "BatchNorm",
    "LayerNorm",
    "Conv2D",
    "MaxPool2D",
    "Upsample2D",
    "Reshape",
    "Flatten",
    "SpaceToDepth",
    "DepthToSpace",
    "Residual",
    "Refinement",
    "ClipWhenPredicting",
    "MLP",
    "Sequential",
    "load_model",
    "mse",
    "bce",
    "cross_entropy",
    "nll",
    "l1",
    "huber",
    "smooth_l1",
    "kl_divergence",
    "SGD",
    "Adam",
    "FusedAdam",
    "AdamW",
    "RMSprop",
    "clip_grad_norm",
    "step_decay",
    "cosine_annealing",
    "train_step",
    "fit",
    "History",
    "jit",
    "JitError",
    "Dataset",
    "draw_graph",
    "draw_architecture",
    "render",
    "GraphvizNotFoundError",
    "explain_backward",
    "BackwardTrace",
]


def __dir__():
    """``dir(tinygrad_ae)`` lists the public API only (the modules stay importable)."""
    return list(__all__)
