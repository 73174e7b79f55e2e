#!/usr/bin/env python3
"""Set up and run tinygrad_ae's main jobs on a machine that has nothing but Python.

    python3 run.py demo     # the denoising demo: pictures in examples/out/
    python3 run.py test     # the test suite (extra arguments go to pytest)
    python3 run.py bench    # the speed benchmark (installs the optional PyTorch baseline)

Each command creates the virtual environment .venv/ on first use, installs the package and
its test tools into it, and makes sure the Graphviz ``dot`` program is there for the
pictures (installing Debian's ``graphviz`` package when run as root, otherwise saying how);
``test`` also installs Debian's ``chromium`` and ``chromium-driver`` for the browser test.
Only the standard library is used here, because nothing else is installed yet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".installed"
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def say(message: str) -> None:
    print(f"[run.py] {message}", flush=True)


def ensure_venv(extras: str) -> None:
    """Create .venv and install the package with ``extras`` unless it is already current."""
    has_pip = PYTHON.exists() and subprocess.run([str(PYTHON), "-m", "pip", "--version"],
                                                 capture_output=True).returncode == 0
    if not has_pip:  # new, or half-made by an earlier try without ensurepip
        say(f"creating a virtual environment in {VENV}")
        shutil.rmtree(VENV, ignore_errors=True)
        try:
            venv.create(VENV, with_pip=True)
        except Exception as error:  # Debian's python3 without python3-venv lands here
            shutil.rmtree(VENV, ignore_errors=True)
            sys.exit(f"could not create {VENV}: {error}\nOn Debian/Ubuntu: apt-get install python3-venv")
    wanted = f"{extras}\n{(ROOT / 'pyproject.toml').stat().st_mtime}"
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    say(f"installing tinygrad_ae[{extras}] into {VENV} (first run only)")
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[{extras}]"], check=True)
    STAMP.write_text(wanted)


def apt_install(package: str) -> bool:
    """Install a Debian package when we are root on a Debian-like system; True on success."""
    if not (shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0):
        return False
    say(f"installing Debian's {package} package")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env)  # a stale package list, perhaps
        return subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env).returncode == 0
    return True


def ensure_graphviz() -> bool:
    """Make sure ``dot`` exists, installing it when we can. True if present."""
    if shutil.which("dot") or (apt_install("graphviz") and shutil.which("dot")):
        return True
    say("Graphviz 'dot' not found, so pictures are NOT rendered (their DOT text still is) and "
        "rendering tests are skipped. Install it: 'sudo apt-get install graphviz' (Debian/"
        "Ubuntu), 'brew install graphviz' (macOS) or 'conda install graphviz'.")
    return False


def ensure_browser() -> None:
    """The player's browser test drives Debian's headless Chromium; its test fails in CI without it."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    if not (apt_install("chromium") and apt_install("chromium-driver")):
        say("Chromium and its driver not found: the browser test is skipped (CI: it fails). "
            "Debian/Ubuntu: sudo apt-get install chromium chromium-driver")


def ensure_fashion_mnist() -> None:
    """Debian ships Fashion-MNIST as a package; its test is skipped without it."""
    if not Path(FASHION_MNIST).is_dir() and not apt_install("dataset-fashion-mnist"):
        say(f"Fashion-MNIST not found in {FASHION_MNIST}: its test is skipped "
            "(Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist)")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "bench"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv("test,bench" if command == "bench" else "test")
    ensure_graphviz()
    if command == "demo":
        script = ROOT / "examples" / "denoising_demo.py"
        return subprocess.run([str(PYTHON), str(script), *rest], cwd=ROOT).returncode
    if command == "test":
        ensure_fashion_mnist()
        ensure_browser()
        return subprocess.run([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT).returncode
    return subprocess.run([str(PYTHON), str(ROOT / "benchmarks" / "bench_training.py"), *rest], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
