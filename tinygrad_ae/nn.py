"""``MLP``: a stack of ``Dense`` layers that can be printed, drawn, trained, saved and loaded.

The seed notebook's API (``addLayer``, ``plotGraph``, ``load``, ``predict``, ``print``) with
snake_case aliases. Training lives in ``training.py``, the picture in ``viz.py`` and the file
format in ``_support/serialization.py``; this class ties them together. Read next: ``losses.py``.

Example:
    >>> from tinygrad_ae import MLP, Dense
    >>> nn = MLP()
    >>> nn.addLayer(Dense(6, 3, seed=0))
    >>> nn.addLayer(Dense(3, 6, activation="sigmoid", seed=1))
    >>> nn.predict([0.0] * 6).shape
    (6,)
"""

from __future__ import annotations

import contextlib

import numpy as np

from ._support.checks import whole_number
from ._support.notebook import html_table
from ._support.serialization import load_model as read_model_file, save_model
from ._support.signatures import method_calling
from .autograd import no_grad
from .jit import parameters_replaced
from .layers import Dense, Refinement, Residual, get_activation, layer_from_config
from .losses import get_loss
from .tensor import Tensor
from .training import fit
from .viz import draw_architecture, draw_feature_maps, render

TITLE = " MULTI LAYER PERCEPTRON (MLP) ".center(70, "-")  # the seed's header line


class _NotAnMLP(ValueError):
    """A model file whose architecture is not a stack of Dense layers matching its arrays."""


def _check_mlp_arrays(architecture, specs) -> None:
    """Refuse a file before its arrays are read unless they are exactly what its layers need."""
    layers = architecture.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _NotAnMLP(f"its architecture has no layers: {layers!r:.60}")
    expected, previous = {}, None
    for i, spec in enumerate(layers, 1):
        if not isinstance(spec, dict) or spec.get("type", "Dense") != "Dense":
            raise _NotAnMLP(f"layer {i} is {spec!r:.80}, not a Dense layer")
        sizes = [spec.get(key) for key in ("out_features", "in_features")]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes):
            raise _NotAnMLP(f"layer {i} has sizes {sizes!r:.80}; expected positive whole numbers")
        if not isinstance(spec.get("activation"), str):
            raise _NotAnMLP(f"layer {i} has activation {spec.get('activation')!r:.40}; expected a name")
        try:
            get_activation(spec["activation"])
        except ValueError as error:  # it names the choices
            raise _NotAnMLP(f"layer {i}: {error}") from None
        if previous is not None and sizes[1] != previous:
            raise _NotAnMLP(f"layer {i} takes {sizes[1]} inputs but layer {i - 1} gives {previous}")
        previous = sizes[0]
        expected[f"layer{i}.W"], expected[f"layer{i}.b"] = tuple(sizes), tuple(sizes[:1])
    dtypes = {dtype.name for _, dtype in specs.values()}
    if len(dtypes) != 1 or not dtypes <= {"float32", "float64"}:
        raise _NotAnMLP(f"its arrays have dtypes {sorted(dtypes)}; expected all float32 or all float64")
    found = {name: shape for name, (shape, _) in specs.items()}
    if found != expected:
        wrong = sorted(set(found.items()) ^ set(expected.items()))[:4]
        raise _NotAnMLP(f"its arrays do not match its layers (expected {len(expected)} arrays "
                        f"layerN.W (out, in) and layerN.b (out,); mismatches: {wrong})")


class Model:
    """What every model here shares (``MLP``, ``Sequential``): its ``layers`` in order, their
    parameters by path, and the training / eval modes.

    Example:
        >>> from tinygrad_ae import Dense, Dropout
        >>> model = MLP([Dense(4, 4), Dropout(0.5)]).eval()
        >>> model.training, model.layers[1].training
        (False, False)
        >>> [name for name, _ in model.named_parameters()]
        ['layer1.W', 'layer1.b']
    """

    layers: list  # set by each model's __init__
    _training = True

    def named_parameters(self) -> list:
        """``[("layer1.W", W), ("layer1.b", b), ...]``: every trainable tensor by its path."""
        return [(f"layer{i}.{name}", t) for i, layer in enumerate(self.layers, 1) for name, t in layer.named_parameters()]

    def parameters(self) -> list:
        """Every trainable tensor, for an optimizer: ``Adam(model.parameters())``."""
        return [t for _, t in self.named_parameters()]

    @property
    def num_parameters(self) -> int:
        """Total number of weights and biases: ``MLP([Dense(784, 10)]).num_parameters == 7850``."""
        return sum(t.size for t in self.parameters())

    def zero_grad(self) -> None:
        """Reset every parameter's gradient to zero (``model.zero_grad()``, as in PyTorch)."""
        for t in self.parameters():
            t.zero_grad()

    def train(self, mode: bool = True):
        """Training mode (the default): ``Dropout`` drops, ``BatchNorm`` uses batch statistics.
        Sets ``training`` on every layer (inside a ``Residual`` too); returns the model, as in
        PyTorch. ``fit`` switches to it by itself."""
        for layer in _all_layers(self.layers):
            layer.training = mode
        self._training = mode
        return self

    def eval(self):
        """Eval mode: ``Dropout`` passes everything through, ``BatchNorm`` uses its running
        statistics. ``predict`` and ``evaluate`` switch to it by themselves. Returns the model."""
        return self.train(False)

    @property
    def training(self) -> bool:
        """True in training mode (the default), False after ``eval()``."""
        return self._training

    def forward(self, x) -> Tensor:
        """The output as a Tensor, recording the graph for ``backward``: the layers in order.

        Example:
            >>> from tinygrad_ae import Dense, Tensor
            >>> MLP([Dense(4, 2)]).forward(Tensor.ones(3, 4)).shape
            (3, 2)
        """
        self._require_layers()
        x = x if isinstance(x, Tensor) else Tensor(x)
        for layer in self.layers:
            x = layer(x)
        return x

    __call__ = forward

    def evaluate(self, x, y, loss="mse", batch_size: int = 1000) -> float:
        """The mean loss over ``(x, y)``, in eval mode, computed in batches without recording a graph.

        Example:
            >>> from tinygrad_ae import Dense
            >>> model = MLP([Dense(2, 2, activation="linear")])
            >>> model.evaluate(np.zeros((3, 2)), np.zeros((3, 2)))
            0.0
        """
        loss_fn = get_loss(loss)
        x, y = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)
        if x.ndim == 0 or len(x) == 0 or y.ndim == 0 or len(x) != len(y):
            raise ValueError(f"evaluate needs at least one row and one target per row; got x {x.shape}, y {y.shape}")
        if whole_number(batch_size) is None or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number >= 1 (rows per forward pass), got {batch_size!r}")
        total = 0.0
        with no_grad(), self._in_mode(training=False):
            for start in range(0, len(x), batch_size):
                xb, yb = x[start:start + batch_size], y[start:start + batch_size]
                total += loss_fn(self.forward(Tensor(xb)), Tensor(yb)).item() * len(xb)
        return total / len(x)

    @method_calling(fit)  # help(model.fit) shows training.fit's parameters and docstring
    def fit(self, data, y=None, **options):
        return fit(self, data, y, **options)  # training.fit: it trains in training mode

    @contextlib.contextmanager
    def _in_mode(self, training: bool):
        """The given mode inside the ``with`` block; every layer's own mode restored afterwards."""
        previous = [(layer, getattr(layer, "training", True)) for layer in _all_layers(self.layers)]
        model_previous = self._training
        self.train(training)
        try:
            yield
        finally:
            for layer, mode in previous:
                layer.training = mode
            self._training = model_previous


class MLP(Model):
    """A multi-layer perceptron: ``Dense`` layers applied one after another.

    Example:
        >>> from tinygrad_ae import Dense
        >>> model = MLP([Dense(784, 10, seed=0), Dense(10, 784, activation="sigmoid", seed=0)])
        >>> model.num_parameters
        16474
    """

    def __init__(self, layers=None):
        self.layers: list[Dense] = []
        self.metadata: dict = {}  # what load() found in the file: how it was trained, its scores
        self._training = True
        for layer in layers or []:
            self.addLayer(layer)

    # ------------------------------------------------------------------ building

    def addLayer(self, layer: Dense) -> None:
        """Append a layer; its input size must equal the previous layer's output size.

        ``Dropout``, ``BatchNorm`` and ``LayerNorm`` keep the size and may go between Dense
        layers (``save`` then refuses the model: its file format holds Dense layers only).

        Example:
            >>> from tinygrad_ae import Dense
            >>> nn = MLP(); nn.addLayer(Dense(6, 3))
            >>> nn.addLayer(Dense(4, 6))
            Traceback (most recent call last):
            ...
            ValueError: layer 2 (Dense(4, 6, activation='ReLU')) takes 4 inputs, but layer 1 gives 3 outputs; use Dense(3, ...)
        """
        if not all(hasattr(layer, a) for a in ("in_features", "out_features", "named_parameters")):
            raise TypeError(f"addLayer needs a layer such as Dense(in, out), got {layer!r}")
        previous = self._output_size()
        if previous is not None and layer.in_features is not None and layer.in_features != previous:
            raise ValueError(
                f"layer {len(self.layers) + 1} ({layer!r}) takes {layer.in_features} inputs, but layer "
                f"{len(self.layers)} gives {previous} outputs; use Dense({previous}, ...)"
            )
        self.layers.append(layer)
        if hasattr(layer, "training"):
            layer.training = self.training
        for name, tensor in layer.named_parameters():  # names like "layer2.W", for pictures
            tensor.name = f"layer{len(self.layers)}.{name}"

    add_layer = addLayer

    def _output_size(self, upto=None):
        """The size layer ``upto`` (default: the last) gives; a Dropout passes on what it gets."""
        layers = self.layers[:upto]
        return next((layer.out_features for layer in reversed(layers) if layer.out_features is not None), None)

    def _dense_layers(self) -> list:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    @property
    def layer_sizes(self) -> list:
        """``[inputs, outputs of layer 1, ..., outputs of the last layer]``, e.g. ``[784, 10, 784]``."""
        dense = self._dense_layers()
        if not dense:
            return []
        return [dense[0].in_features] + [layer.out_features for layer in dense]

    # ------------------------------------------------------------------ computing

    def _require_layers(self):
        if not self.layers:
            raise RuntimeError("this MLP has no layers yet: add some with addLayer(Dense(...)) or load(...) a model")

    def predict(self, x) -> np.ndarray:
        """Numpy in, numpy out, no graph recorded: one input ``(features,)`` or a batch ``(n, features)``.

        Example:
            >>> from tinygrad_ae import Dense
            >>> model = MLP([Dense(4, 2)])
            >>> model.predict([1, 2, 3, 4]).shape, model.predict(np.ones((5, 4))).shape
            ((2,), (5, 2))
        """
        self._require_layers()
        data = x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)
        expected = self.layer_sizes[0]
        if data.ndim not in (1, 2) or data.shape[-1] != expected:
            hint = " (flatten a 28x28 image with .reshape(-1) or a batch with .reshape(len(x), -1))" if data.size % expected == 0 else ""
            raise ValueError(f"predict expects shape ({expected},) or (n, {expected}), got {data.shape}{hint}")
        with no_grad(), self._in_mode(training=False):
            out = self.forward(Tensor(data.reshape(1, -1) if data.ndim == 1 else data))
        return out.data[0] if data.ndim == 1 else out.data

    # ------------------------------------------------------------------ describing

    def __str__(self) -> str:
        """The seed notebook's text block: a header, then one block per layer."""
        lines = [TITLE, f"HIDDEN LAYERS = {max(len(self._dense_layers()) - 2, 0)}", f"TOTAL PARAMETERS = {self.num_parameters}"]
        for i, layer in enumerate(self.layers, 1):
            if not isinstance(layer, Dense):
                lines += [f"*** {i}. Layer: ***", repr(layer), f"Total parameters: {layer.num_parameters}"]
                continue
            title = f"DENSE {layer.in_features} -> {layer.out_features} [{layer.activation.name}]"
            rule = "-" * (len(title) + 1)
            lines += [
                f"*** {i}. Layer: ***", rule, title, rule,
                f"Total parameters: {layer.num_parameters}",
                f"---> WEIGHTS: {layer.W.shape}",
                f"---> BIASES: {layer.b.shape}",
                rule,
            ]
        lines.append("-" * 70)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"MLP({self.layers!r})"

    def _repr_html_(self) -> str:
        """Jupyter's view: a table of the layers with their parameter shapes and counts."""
        rows = [[f"layer{i}", f"Dense {l.in_features} -> {l.out_features}", l.activation.name, l.W.shape, l.b.shape,
                 f"{l.num_parameters:,}"] for i, l in enumerate(self.layers, 1)]
        return html_table(["layer", "type", "activation", "weights W", "biases b", "parameters"], rows,
                          caption=f"MLP {' -> '.join(map(str, self.layer_sizes)) or '(no layers yet)'}: "
                                  f"{self.num_parameters:,} parameters")

    def summary(self) -> str:
        """A Keras-style table: one row per layer with its output shape and parameter count.

        Example:
            >>> from tinygrad_ae import Dense
            >>> print(MLP([Dense(4, 2)]).summary().splitlines()[2])
            layer1  Dense 4 -> 2 (ReLU) (None, 2)           10
        """
        kinds = [f"Dense {l.in_features} -> {l.out_features} ({l.activation.name})" if isinstance(l, Dense)
                 else repr(l) for l in self.layers]
        width = max([len("Type")] + [len(k) for k in kinds])
        header = f"{'Layer':<7} {'Type':<{width}} {'Output shape':<13} {'Params':>8}"
        rows = [header, "=" * len(header)]
        for i, (layer, kind) in enumerate(zip(self.layers, kinds), 1):
            shape = str((None, self._output_size(i)))
            rows.append(f"{'layer' + str(i):<7} {kind:<{width}} {shape:<13} {layer.num_parameters:>8}")
        rows += ["=" * len(header), f"Total params: {self.num_parameters:,}"]
        return "\n".join(rows)

    def plotGraph(self, filename: str = "", max_units: int = 12):
        """The network's architecture as a picture: input red, hidden (latent) blue, output green.

        Returns a ``graphviz.Digraph`` (Jupyter shows it). With a ``filename``, also renders
        it there (format from the suffix, SVG by default).

        Example:
            >>> from tinygrad_ae import Dense
            >>> nn = MLP([Dense(6, 3), Dense(3, 6)])
            >>> "digraph" in nn.plotGraph("").source
            True
        """
        self._require_layers()
        graph = draw_architecture(self.layer_sizes, [layer.activation.name for layer in self._dense_layers()],
                                  max_units=max_units)
        if filename:
            render(graph, filename)
        return graph

    plot_graph = plotGraph

    # ------------------------------------------------------------------ training and files

    def save(self, path, metadata: dict | None = None) -> str:
        """Write the model to one ``.npz`` file (arrays plus the architecture as JSON), atomically.

        Example:
            >>> import os, tempfile
            >>> from tinygrad_ae import Dense
            >>> path = MLP([Dense(2, 2)]).save(os.path.join(tempfile.mkdtemp(), "tiny"))
            >>> path.endswith("tiny.npz")
            True
        """
        self._require_layers()
        others = [repr(layer) for layer in self.layers if not isinstance(layer, Dense)]
        if others:
            raise ValueError(f"MLP.save stores Dense layers only, and this model also has {', '.join(others)}; "
                             "save the weights yourself (np.savez with model.named_parameters())")
        architecture = {"layers": [
            {"type": "Dense", "in_features": layer.in_features, "out_features": layer.out_features,
             "activation": layer.activation.name} for layer in self.layers]}
        arrays = {name: t.data for name, t in self.named_parameters()}
        return str(save_model(path, architecture, arrays, metadata or {}))

    def load(self, name_or_path) -> "MLP":
        """Replace this model's layers with a saved model: a shipped one by name, or any path.

        Nothing changes if the file is missing, corrupt or not a model. If this model already
        has the same layers, the weights are copied into its tensors (an optimizer made for
        it keeps working); otherwise its layers are replaced. Returns ``self``; the file's
        metadata (how it was trained, its test metrics) is in ``self.metadata``.

        Example:
            >>> import os, tempfile
            >>> from tinygrad_ae import Dense
            >>> path = MLP([Dense(2, 3, seed=0)]).save(os.path.join(tempfile.mkdtemp(), "m"))
            >>> MLP().load(path).layer_sizes
            [2, 3]
        """
        try:
            architecture, arrays, metadata = read_model_file(name_or_path, check=_check_mlp_arrays)
            candidate = MLP([Dense.from_arrays(arrays[f"layer{i}.W"], arrays[f"layer{i}.b"], spec["activation"])
                             for i, spec in enumerate(architecture["layers"], 1)])
        except _NotAnMLP as error:
            raise ValueError(f"{name_or_path}: not a valid tinygrad_ae MLP file ({error})") from None
        def kinds(layers):
            return [(l.W.shape, l.W.dtype, l.activation.name) if isinstance(l, Dense) else repr(l) for l in layers]
        same_shape = kinds(self.layers) == kinds(candidate.layers)
        if same_shape:
            # Copy into the tensors we already have, so that an optimizer holding them (and
            # its flat buffers) goes on training this model rather than the old weights.
            for (_, mine), (_, loaded) in zip(self.named_parameters(), candidate.named_parameters()):
                mine.data[...] = loaded.data
        else:
            self.layers = candidate.layers
            parameters_replaced()  # compiled steps hold the old tensors: they must trace again
        self.metadata = metadata
        return self


class Sequential(Model):
    """Any layers applied one after another: ``Dense``, ``Conv2D``, ``MaxPool2D``, ``Upsample2D``,
    ``Reshape``, ``Flatten``, ``Residual``, ``Refinement``. Everything ``MLP`` has: fit, predict, evaluate,
    parameters, a summary, a picture, save and load.

    ``input_shape`` is one sample's shape, e.g. ``(784,)``; ``predict`` takes one sample of
    that shape or a batch ``(n, *input_shape)`` and returns the same leading shape.

    Example:
        >>> from tinygrad_ae import Conv2D, Flatten, Reshape
        >>> model = Sequential([Reshape(1, 28, 28), Conv2D(1, 4, 3, seed=0),
        ...                     Conv2D(4, 1, 3, activation="sigmoid", seed=1), Flatten()], input_shape=(784,))
        >>> model.predict(np.zeros((2, 784))).shape, model.predict(np.zeros(784)).shape
        ((2, 784), (784,))
    """

    def __init__(self, layers=None, input_shape=None):
        self.layers: list = []
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.metadata: dict = {}
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        """Append a layer; its parameters are named ``layer<i>.<name>`` (for pictures and files)."""
        if not callable(layer) or not hasattr(layer, "named_parameters"):
            raise TypeError(f"Sequential.add needs a layer such as Conv2D(...) or Dense(...), got {layer!r}")
        if self.input_shape is None and not self.layers and hasattr(layer, "in_features"):
            self.input_shape = (layer.in_features,)
        self.layers.append(layer)
        for name, tensor in layer.named_parameters():
            tensor.name = f"layer{len(self.layers)}.{name}"

    addLayer = add_layer = add

    # ------------------------------------------------------------------ computing

    def _require_layers(self):
        if not self.layers:
            raise RuntimeError("this Sequential has no layers yet: add some with add(...) or load a model")

    def predict(self, x) -> np.ndarray:
        """Numpy in, numpy out, in eval mode, no graph: one sample or a batch of them.

        Example:
            >>> from tinygrad_ae import Dense
            >>> Sequential([Dense(4, 2)]).predict(np.ones((3, 4))).shape
            (3, 2)
        """
        data = x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)
        single = self.input_shape is not None and data.shape == self.input_shape
        if self.input_shape is not None and not single and data.shape[1:] != self.input_shape:
            raise ValueError(f"predict expects shape {self.input_shape} or (n, *{self.input_shape}), got {data.shape}")
        with no_grad(), self._in_mode(training=False):
            out = self.forward(Tensor(data[None] if single else data))
        return out.data[0] if single else out.data

    # ------------------------------------------------------------------ describing

    def shapes(self) -> list:
        """One sample's shape before the first layer and after each layer.

        Example:
            >>> from tinygrad_ae import Flatten, Reshape
            >>> Sequential([Reshape(1, 2, 2), Flatten()], input_shape=(4,)).shapes()
            [(4,), (1, 2, 2), (4,)]
        """
        if self.input_shape is None:
            raise ValueError("this model does not know its input shape: Sequential(layers, input_shape=(784,))")
        shapes = [self.input_shape]
        for layer in self.layers:
            shapes.append(tuple(layer.output_shape(shapes[-1])))
        return shapes

    def summary(self) -> str:
        """A Keras-style table: one row per layer with its kind, output shape and parameters.

        Example:
            >>> from tinygrad_ae import Dense
            >>> print(Sequential([Dense(4, 2)]).summary().splitlines()[2])
            layer1  Dense 4 -> 2 (ReLU)  (None, 2)          10
        """
        # (name, kind, output shape, parameters); a Residual's or Refinement's layers get
        # indented rows of their own, and so do the layers of a block inside a block
        def rows_of(layer, shape, name, depth):  # inside layer2: .c3; inside .c3: .c3.1
            entries.append((" " * 2 * depth + name, " " * 2 * depth + _describe(layer), layer.output_shape(shape),
                            layer.num_parameters))
            for label, part, inner in _inner_layers_with_shapes(layer, shape):
                rows_of(part, inner, f"{name if depth else ''}.{label}", depth + 1)

        entries, shape = [], self.shapes()[0]
        for i, layer in enumerate(self.layers, 1):
            rows_of(layer, shape, f"layer{i}", 0)
            shape = layer.output_shape(shape)
        name_width = max([7] + [len(e[0]) for e in entries])
        width = max([4] + [len(e[1]) for e in entries])
        shape_width = max([12] + [len(str((None,) + tuple(e[2]))) for e in entries])
        header = f"{'Layer':<{name_width}} {'Type':<{width}}  {'Output shape':<{shape_width}} {'Params':>8}"
        rows = [header, "=" * len(header)]
        for name, kind, out, count in entries:
            rows.append(f"{name:<{name_width}} {kind:<{width}}  {str((None,) + tuple(out)):<{shape_width}} {count:>8}")
        rows += ["=" * len(header), f"Total params: {self.num_parameters:,}"]
        return "\n".join(rows)

    __str__ = summary

    def plotGraph(self, filename: str = "", title: str | None = None):
        """The feature maps after each layer, drawn as stacks: input red, inside blue, output green.

        A ``Residual`` block is drawn step by step, ending in "+ input". Returns a
        ``graphviz.Digraph``; with a ``filename``, also renders it there.

        Example:
            >>> from tinygrad_ae import Conv2D, Flatten, Reshape
            >>> model = Sequential([Reshape(1, 4, 4), Conv2D(1, 2, 3), Flatten()], input_shape=(16,))
            >>> "2 x 4 x 4" in model.plotGraph().source
            True
        """
        captions, shapes = [], [self.shapes()[0]]
        for layer in self.layers:
            for caption, shape in _steps(layer, shapes[-1]):
                captions.append(caption)
                shapes.append(shape)
        graph = draw_feature_maps(shapes, captions, title=title)
        if filename:
            render(graph, filename)
        return graph

    plot_graph = plotGraph

    def __repr__(self) -> str:
        return f"Sequential({self.layers!r}, input_shape={self.input_shape})"

    # ------------------------------------------------------------------ files

    def save(self, path, metadata: dict | None = None) -> str:
        """Write the model to one ``.npz`` file (the same safe format as ``MLP.save``), atomically.

        Example:
            >>> import os, tempfile
            >>> from tinygrad_ae import Dense
            >>> Sequential([Dense(2, 2)]).save(os.path.join(tempfile.mkdtemp(), "m")).endswith("m.npz")
            True
        """
        architecture = {"model": "Sequential", "input_shape": list(self.input_shape or ()),
                        "layers": [layer.config() for layer in self.layers]}
        arrays = {name: t.data for name, t in self.named_parameters()}
        return str(save_model(path, architecture, arrays, metadata or {}))

    @classmethod
    def from_file(cls, name_or_path) -> "Sequential":
        """A new model from a file written by ``save`` (a shipped model by name, or a path).

        Example:
            >>> import os, tempfile
            >>> from tinygrad_ae import Dense
            >>> path = Sequential([Dense(2, 3)]).save(os.path.join(tempfile.mkdtemp(), "m"))
            >>> Sequential.from_file(path).shapes()
            [(2,), (3,)]
        """
        architecture, arrays, metadata = read_model_file(name_or_path)
        try:
            model = cls([layer_from_config(spec) for spec in architecture["layers"]],
                        input_shape=architecture.get("input_shape") or None)
            for name, tensor in model.named_parameters():
                if arrays[name].shape != tensor.shape:
                    raise ValueError(f"{name} has shape {arrays[name].shape}, expected {tensor.shape}")
                tensor.data = np.array(arrays[name], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{name_or_path}: not a valid tinygrad_ae Sequential file ({error})") from None
        model.metadata = metadata
        return model


def _all_layers(layers):
    """The layers and, inside a Residual or Refinement, their own layers."""
    for layer in layers:
        yield layer
        if hasattr(layer, "inner_layers"):
            yield from _all_layers(layer.inner_layers())


def _inner_groups(layer, shape) -> list:
    """``[(label prefix, layers, their input shape)]`` inside a Residual (its body) or a
    Refinement (the estimate, e; the correction, c, which sees the 2C stacked channels)."""
    if isinstance(layer, Residual):
        return [("", layer.body, tuple(shape))]
    if isinstance(layer, Refinement):
        return [("e", layer.estimate, tuple(shape)), ("c", layer.correction, (2 * shape[0],) + tuple(shape[1:]))]
    return []


def _inner_layers_with_shapes(layer, shape) -> list:
    """``[(label, inner layer, its input shape)]``: the summary's indented rows (.1, .e1, .c1 ...)."""
    return [(f"{prefix}{j}", part, inner) for prefix, parts, start in _inner_groups(layer, shape)
            for j, (part, inner) in enumerate(_chained(parts, start), 1)]


def _steps(layer, shape):
    """``[(caption, output shape)]`` of one layer for the picture; a Residual or Refinement, step by step."""
    groups = _inner_groups(layer, shape)
    steps = [[step for part, inner in _chained(parts, start) for step in _steps(part, inner)] for _, parts, start in groups]
    if isinstance(layer, Residual):
        return steps[0] + [("+ input (residual)", tuple(shape))]
    if isinstance(layer, Refinement):
        stacked = groups[1][2]
        return steps[0] + [("stack [input, estimate]", stacked)] + steps[1] + [("+ estimate", tuple(shape))]
    return [(_describe(layer).split(" (")[0] if hasattr(layer, "in_channels") else type(layer).__name__,
             tuple(layer.output_shape(shape)))]


def _chained(layers, shape):
    """``[(layer, its input shape)]`` for layers applied one after another to ``shape``."""
    pairs = []
    for layer in layers:
        pairs.append((layer, tuple(shape)))
        shape = layer.output_shape(shape)
    return pairs


def _describe(layer) -> str:
    """A layer's kind in a summary row, e.g. ``Conv2D 1 -> 32, 3x3 (ReLU)``."""
    if isinstance(layer, Dense):
        return f"Dense {layer.in_features} -> {layer.out_features} ({layer.activation.name})"
    if hasattr(layer, "in_channels"):
        (sh, sw) = layer.stride
        stride = "" if (sh, sw) == (1, 1) else f", stride {sh}" if sh == sw else f", stride {sh}x{sw}"
        return (f"Conv2D {layer.in_channels} -> {layer.out_channels}, "
                f"{layer.kernel_size[0]}x{layer.kernel_size[1]}{stride} ({layer.activation.name})")
    if isinstance(layer, Residual):
        return "Residual: x + body(x)"
    if isinstance(layer, Refinement):
        return "Refinement: m + correction([x, m]), m = estimate(x)"
    return repr(layer)


def load_model(name_or_path):
    """Any saved or shipped model, as the right class: an ``MLP`` or a ``Sequential``.

    Example:
        >>> load_model("mnist_denoising_autoencoder").layer_sizes
        [784, 10, 784]
    """
    architecture, _, _ = read_model_file(name_or_path)
    if architecture.get("model") == "Sequential":
        return Sequential.from_file(name_or_path)
    return MLP().load(name_or_path)
