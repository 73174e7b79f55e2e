"""Every docstring example in the package runs and prints what it shows.

The examples are the first code a student copies, so they are tested like code.
"""

import doctest
import importlib
import pkgutil

import pytest

import tinygrad_ae

MODULES = sorted(m.name for m in pkgutil.walk_packages(tinygrad_ae.__path__, "tinygrad_ae."))  # _support/ too
USES_MNIST = {"tinygrad_ae.dataset", "tinygrad_ae._support.mnist_files"}


@pytest.mark.parametrize("name", [
    pytest.param(m, marks=pytest.mark.real_data) if m in USES_MNIST else m for m in ["tinygrad_ae"] + MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
