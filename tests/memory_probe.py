"""Measure what a piece of code costs in memory: run it in a fresh Python, report its peak growth.

``ru_maxrss`` is a process's peak resident memory; measured in a subprocess after the imports
and the setup, its growth is what the action itself needed at its worst moment. Tests use
it to assert that hostile files are refused without allocating what they declare.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PROGRAM = """
import json, resource, sys
{setup}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
{action}
    outcome = "ok"
except BaseException as error:
    outcome = type(error).__name__ + ": " + str(error)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
print(json.dumps({{"outcome": outcome, "growth_mib": (after - before) * scale / 2**20}}))
"""


def peak_growth(setup: str, action: str, timeout: float = 300, env: dict | None = None):
    """``(outcome, MiB)``: "ok" or "ErrorType: message", and how far the peak memory grew."""
    program = _PROGRAM.format(setup=textwrap.dedent(setup),
                              action=textwrap.indent(textwrap.dedent(action), "    "))
    environment = dict(os.environ if env is None else env)
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), environment.get("PYTHONPATH", "")])
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         timeout=timeout, env=environment, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    return result["outcome"], result["growth_mib"]
