"""Shared test setup: hypothesis profiles and the Graphviz check.

Profiles (select with HYPOTHESIS_PROFILE=name; CI uses "ci"):
- "ci": derandomized (the same examples every run), no deadline (timings here are noisy);
- "dev": random examples, for finding new bugs locally;
- "thorough": many more examples, for a long local run.
"""

import os
import shutil

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")  # headless: tests write figures to files, never open windows

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=100, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=40)
settings.register_profile("thorough", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def dot_available() -> bool:
    return shutil.which("dot") is not None


@pytest.fixture
def require_dot():
    """Tests that render real pictures: skipped without Graphviz, but never in CI."""
    if not dot_available():
        if os.environ.get("CI"):
            pytest.fail("CI must render pictures for real, but Graphviz 'dot' is not installed")
        pytest.skip("Graphviz 'dot' not installed; rendering not tested (apt-get install graphviz)")
