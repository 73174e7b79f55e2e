"""tinygrad_ae: a small numpy autograd framework you can read in an evening.

Its headline job is a denoising autoencoder on the real MNIST::

    from tinygrad_ae import Dataset, MLP, Dense
    autoencoder = MLP()
    autoencoder.load("mnist_denoising_autoencoder")
    print(autoencoder)

The pieces, in the order data flows through them: ``Tensor`` (tensor.py, tensor_ops.py) on
top of the engine (autograd.py) and the primitive ops (ops.py, array_ops.py); ``gradcheck``
to verify gradients; ``draw_graph`` to see a compute graph.

Example:
    >>> from tinygrad_ae import Tensor
    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x ** 2).sum().backward()
    >>> x.grad
    array([2., 4., 6.], dtype=float32)
"""

from . import memory
from .autograd import Function, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck
from .tensor import Tensor
from .tensor_ops import concatenate, stack
from .viz import GraphvizNotFoundError, draw_graph, render
from .layers import Dense, ReLU, Sigmoid, Softmax, Tanh, Linear
from .losses import bce, cross_entropy, mse
from .optim import SGD, Adam
from .nn import MLP
from .dataset import Dataset
from .threads import blas_threads

__version__ = "0.1.0"

# Keep the freed blocks of a training step's temporaries for reuse (see memory.py: 2-3x
# faster steps at batch 32-128 on Linux); TINYGRAD_AE_MALLOC=default opts out.
memory.apply_default()

__all__ = [
    "Tensor",
    "Function",
    "no_grad",
    "is_grad_enabled",
    "concatenate",
    "stack",
    "gradcheck",
    "GradcheckError",
    "draw_graph",
    "render",
    "GraphvizNotFoundError",
    "Dense",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "Linear",
    "mse",
    "bce",
    "cross_entropy",
    "SGD",
    "Adam",
    "MLP",
    "Dataset",
    "blas_threads",
]
