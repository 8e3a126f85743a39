"""benchmarks/load.py runs (reduced, --quick) and prints what it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_load_benchmark_runs_and_reports_each_reader() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "load.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["reader"] for r in rows] == ["load_ratings", "movielens reader"]
    for r in rows:
        assert r["rows"] == 100_000
        assert r["frame_bytes"] > 0 and r["peak_extra_bytes"] > 0 and r["seconds"] > 0
        assert r["seconds_per_million"] == r["seconds"] / 0.1
