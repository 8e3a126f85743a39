"""Every script in examples/ runs end to end on the real MovieLens-1M, with 2 epochs.

Skipped (with the reason) when ``../shared/data/ml-1m`` is absent. Each example is a
subprocess with ``AUTOREC_DATA_HOME`` pointing at the real data and
``AUTOREC_EXAMPLE_EPOCHS=2``, so none can rot without CI noticing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# example -> (fragments its stdout must contain, regexes it must match)
EXPECTED = {
    "movielens_1m.py": (
        [
            "750,121 training and 250,088 test ratings",
            "RMSE train",
            "top-5 accuracy",
            "top-10 accuracy",
            *(f"user {u}: rank, movie id, title, genres" for u in (8, 9, 13, 15, 18, 20)),
        ],
        [r"epochs run: [12],", r"test 0\.\d{4}", r"\n   5 +\d+  .+ \(\d{4}\)  \(.+\)\n"],
    ),
    "new_user.py": (
        [
            "The new user rated:",
            "Toy Story (1995)",
            "Matrix, The (1999)",
            "Ten recommendations for the new user",
        ],
        [r"no retraining\):\n(?: +[1-9] +\d+  .+\n){9}  10 +\d+  .+ \(\d{4}\)  \(.+\)\n"],
    ),
    "compare_baselines.py": (
        [
            "750,121 train / 250,088 test ratings",
            "GlobalMean",
            "BiasBaseline",
            "AutoEncoderRecommender",
            "RMSE test",
            "top-10 acc. %",
        ],
        [],
    ),
}


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, movielens_home: Path) -> None:
    env = dict(
        os.environ,
        AUTOREC_DATA_HOME=str(movielens_home),
        AUTOREC_EXAMPLE_EPOCHS="2",
        MPLBACKEND="Agg",
    )
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stderr[-3000:]}"
    fragments, patterns = EXPECTED[name]
    for fragment in fragments:
        assert fragment in proc.stdout, f"{fragment!r} not in the output of {name}"
    for pattern in patterns:
        assert re.search(pattern, proc.stdout), f"{pattern!r} not in the output of {name}"
