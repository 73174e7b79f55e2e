"""The package as a student meets it: its layout, its names, and no side effects at import."""

import ast
import io
import json
import pkgutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

import tinygrad_ae

PACKAGE = Path(tinygrad_ae.__file__).parent
CONCEPTS = ["tensor", "autograd", "gradcheck", "layers", "nn", "losses", "optim", "training",
            "jit", "dataset", "metrics", "viz", "explain", "conv"]


def code_lines(path: Path) -> int:
    """Lines that hold code: not blank, not comments, not docstrings."""
    source = path.read_text()
    docstring_lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                docstring_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                              tokenize.DEDENT, tokenize.ENDMARKER, tokenize.STRING):
            lines.update(range(token.start[0], token.end[0] + 1))
        elif token.type == tokenize.STRING and token.start[0] not in docstring_lines:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstring_lines)


def test_public_modules_are_the_concepts_and_plumbing_is_private():
    public = sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE)]) if not m.name.startswith("_"))
    assert public == sorted(CONCEPTS)
    assert (PACKAGE / "_support" / "__init__.py").exists()


@pytest.mark.parametrize("name", CONCEPTS)
def test_each_concept_module_opens_with_what_it_is_and_stays_short(name):
    path = PACKAGE / f"{name}.py"
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc and len(doc.split("\n\n")[0]) > 40, f"{name}.py needs an opening paragraph"
    assert code_lines(path) <= 520, f"{name}.py has {code_lines(path)} lines of code"


def test_jit_reads_in_an_evening():
    """The compiled step's module is the trace and its plain replay, about 200-300 lines (the
    speed issue's bound); the code generator behind it lives in _support/jit_codegen.py."""
    assert code_lines(PACKAGE / "jit.py") <= 300


def test_the_seed_import_paths_work():
    from tinygrad_ae.dataset import Dataset
    from tinygrad_ae.layers import Dense
    from tinygrad_ae.nn import MLP

    assert (Dataset, Dense, MLP) == (tinygrad_ae.Dataset, tinygrad_ae.Dense, tinygrad_ae.MLP)


def test_following_backward_takes_two_files():
    """Tensor.__mul__ -> Mul -> backward() -> leaf.grad: tensor.py and autograd.py, nothing else."""
    from tinygrad_ae import autograd, tensor

    assert tensor.Tensor.__mul__.__module__ == tensor.__name__
    for obj in (autograd.Mul, autograd.Function, autograd.backward, autograd.topological_order, autograd.unbroadcast):
        assert obj.__module__ == autograd.__name__
    imported = {node.module for node in ast.walk(ast.parse((PACKAGE / "autograd.py").read_text()))
                if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__"}, "the engine imports nothing of the package"


def test_every_primitive_states_its_derivative():
    from tinygrad_ae import autograd

    primitives = [c for c in vars(autograd).values()
                  if isinstance(c, type) and issubclass(c, autograd.Function) and c is not autograd.Function]
    assert len(primitives) >= 18
    for op in primitives:
        assert op.rule, f"{op.__name__} has no derivative rule"
        first = op.__doc__.split("\n\n")[0]
        assert any(word in first for word in ("d/d", "dA", "grad")), f"{op.__name__}: derivative not in its docstring"


def test_one_name_one_thing():
    from tinygrad_ae import metrics

    assert not hasattr(metrics, "mse"), "the metric is mean_squared_error; mse is the loss"
    assert dir(tinygrad_ae) == sorted(tinygrad_ae.__all__)
    assert "ReLU" not in tinygrad_ae.__all__ and "Linear" not in tinygrad_ae.__all__
    assert tinygrad_ae.Activation("linear").name == "Identity"


IMPORT_PROBE = r"""
import json, sys
import numpy as np
from threadpoolctl import threadpool_info

def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))

threads_before = [p["num_threads"] for p in threadpool_info()]
if sys.argv[1] == "import":
    import tinygrad_ae
elif sys.argv[1] == "fit":
    import tinygrad_ae
    x = np.random.default_rng(0).random((256, 8), dtype=np.float32)
    model = tinygrad_ae.MLP([tinygrad_ae.Dense(8, 4), tinygrad_ae.Dense(4, 8, activation="sigmoid")])
    model.fit(x, x, epochs=1, verbose=False)
threads_after = [p["num_threads"] for p in threadpool_info()]
base = rss()
blocks = [np.ones(1 << 17) for _ in range(400)]  # 400 arrays of 1 MiB, as unrelated numpy code makes
del blocks
print(json.dumps({"kept_mib": (rss() - base) / 2**20, "threads_before": threads_before,
                  "threads_after": threads_after}))
"""


@pytest.mark.parametrize("what", ["import", "fit"])
def test_import_and_fit_leave_malloc_and_blas_threads_as_they_were(what):
    """Freeing 400 MiB gives it back to the system after `import tinygrad_ae`, and after a fit.

    (When import tuned glibc's malloc, this process kept about 436 MiB resident.)
    """
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/self/status")
    run = subprocess.run([sys.executable, "-c", IMPORT_PROBE, what], capture_output=True, text=True, check=True)
    result = json.loads(run.stdout)
    assert result["kept_mib"] < 64, result
    assert result["threads_after"] == result["threads_before"], result
