"""``benchmarks/explain.py`` and ``benchmarks/serve.py`` run (``--quick``, synthetic data)
and print what they promise; their figures are not checked here (benchmarks are
scripts, not timed tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import autorec

REPO_ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(name: str, *args: str) -> subprocess.CompletedProcess:
    # the scripts import the autorec under test (the one this process imported)
    package_root = str(Path(autorec.__file__).resolve().parents[1])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": package_root}
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / name), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )


def test_the_faithfulness_benchmark_runs():
    done = _run("explain.py", "--threads", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Faithfulness of the reasons" in done.stdout
    rows = [line for line in done.stdout.splitlines() if "synthetic, small" in line]
    assert len(rows) == 2 and "fitted" in rows[0] and "folded-in" in rows[1]
    assert all("%" in row for row in rows)


def test_the_load_benchmark_runs_without_errors():
    pytest.importorskip("fastapi", reason="the load benchmark serves with the [serve] extra")
    pytest.importorskip("uvicorn", reason="the load benchmark serves with the [serve] extra")
    done = _run("serve.py")
    assert done.returncode == 0, done.stdout + done.stderr  # exit 1 on any error
    assert "requests per second" in done.stdout and "p99 ms" in done.stdout
    errors = [line for line in done.stdout.splitlines() if line.startswith("errors")]
    assert errors and errors[0].split()[-1] == "0"
