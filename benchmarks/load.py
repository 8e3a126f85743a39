"""Loading a large ratings CSV: seconds per million rows, and peak memory against the
memory of the frame it gives.

Writes a synthetic CSV shaped like MovieLens-20M's ``ratings.csv`` (``userId,movieId,
rating,timestamp`` with a header, half-star ratings, 150 distinct movies per user) into a
temporary folder, then loads it, each reader in a fresh process:

* ``load_ratings``: :func:`autorec.datasets.load_ratings` on the file (ids inferred,
  the timestamp ignored): the ``--ratings FILE`` path of the command line;
* ``movielens reader``: the reader behind ``load_movielens("ml-20m")`` (integer ids, the
  timestamp kept).

Peak memory is the process's peak RSS (``VmHWM``, Linux) less its RSS just before the
load (after the imports); "frame" is ``DataFrame.memory_usage(deep=True)`` of the
result. The issue's target: the peak stays within 2x the final frame.

    python benchmarks/load.py [--rows 20000000] [--json]
    python benchmarks/load.py --quick          # 100,000 rows: checks that it runs
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PER_USER, N_ITEMS = 150, 30_000
_CHUNK_USERS = 5_000


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` ratings, 150 distinct items a user, written in chunks."""
    rng = np.random.default_rng(seed)
    n_users = -(-rows // PER_USER)
    with open(path, "w") as out:
        out.write("userId,movieId,rating,timestamp\n")
        for first in range(0, n_users, _CHUNK_USERS):
            users = np.arange(first, min(first + _CHUNK_USERS, n_users))
            u = np.repeat(users, PER_USER)
            j = np.tile(np.arange(PER_USER), len(users))
            keep = u * PER_USER + j < rows
            u, j = u[keep], j[keep]
            items = (u * 7919 + j * 13) % N_ITEMS + 1  # distinct within a user
            stars = rng.integers(1, 11, size=len(u)) / 2
            stamps = rng.integers(789_652_009, 1_427_784_002, size=len(u))
            lines = [
                f"{a},{b},{c:.1f},{d}\n"
                for a, b, c, d in zip(u + 1, items, stars, stamps, strict=True)
            ]
            out.write("".join(lines))


def _worker(path: str, reader: str) -> dict:
    from autorec.datasets import load_ratings
    from autorec.datasets._delimited import open_maybe_gzip, read_ratings_table

    before = _rss_now()
    started = time.perf_counter()
    if reader == "load_ratings":
        frame = load_ratings(path).ratings
    else:
        frame = read_ratings_table(
            lambda: open_maybe_gzip(path),
            source=path,
            sep=",",
            header=True,
            columns=(0, 1, 2),
            timestamp=3,
            int_ids=True,
            rating_scale=(0.5, 5.0),
        )
    seconds = time.perf_counter() - started
    peak = _status_bytes("VmHWM")
    return {
        "reader": reader,
        "rows": len(frame),
        "seconds": seconds,
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
        "peak_extra_bytes": int(peak - before),
    }


def _status_bytes(field: str) -> int:
    """A size from /proc/self/status (Linux). VmHWM, the peak RSS, belongs to this
    process image: unlike getrusage's ru_maxrss it does not carry the peak of the parent
    that started it (the process that wrote the CSV)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def _rss_now() -> int:
    return _status_bytes("VmRSS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="ignored (no torch here)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(*args.worker)))
        return 0
    rows = 100_000 if args.quick else args.rows
    results = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ratings.csv"
        started = time.perf_counter()
        write_csv(path, rows)
        print(
            f"wrote {rows:,} rows ({path.stat().st_size / 1e6:,.0f} MB) in "
            f"{time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        for reader in ("load_ratings", "movielens reader"):
            done = subprocess.run(
                [sys.executable, __file__, "--worker", str(path), reader],
                capture_output=True,
                text=True,
                check=True,
            )
            results.append(json.loads(done.stdout))
    for r in results:
        r["seconds_per_million"] = r["seconds"] / (r["rows"] / 1e6)
        r["peak_over_frame"] = r["peak_extra_bytes"] / r["frame_bytes"]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"Loading a {rows:,}-row ratings CSV (MovieLens-20M layout), one process each")
    header = ("reader", "rows", "s", "s / 1M rows", "frame MB", "peak extra MB", "peak/frame")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in results:
        cells = (
            r["reader"],
            f"{r['rows']:,}",
            f"{r['seconds']:.1f}",
            f"{r['seconds_per_million']:.2f}",
            f"{r['frame_bytes'] / 1e6:,.0f}",
            f"{r['peak_extra_bytes'] / 1e6:,.0f}",
            f"{r['peak_over_frame']:.2f}",
        )
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
