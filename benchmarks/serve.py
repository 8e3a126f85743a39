"""A bounded load on ``autorec serve`` on 127.0.0.1: latency, throughput, errors, memory.

Starts ``python -m autorec serve --model PATH`` as a separate process, waits for
``/api/health``, warms it up with a tenth as many requests (at least 100, same
concurrency), reads its resident memory, then sends
``--requests`` requests from ``--clients`` concurrent clients (threads, each with one
keep-alive connection): ``--fold-in`` of them ``POST /api/recommend`` with the ratings of
a person (1 to 50 ratings drawn from a random MovieLens user's), the rest
``GET /api/recommend?user=ID`` for a random user; every response asks for 10
recommendations with their reasons. Prints p50/p95/p99 latency (overall and per kind),
requests per second, errors (anything but a 200) and the server's memory before the
load and after each of ``--rounds`` equal parts of it. Target on 2 cores with the
ML-1M default: p99 <= 100 ms, >= 100 requests/s, 0 errors, memory flat. The load
generator runs on the same machine (and cores) as the server.

Usage::

    python benchmarks/serve.py --model default.safetensors            # 2,000 requests
    python benchmarks/serve.py --model default.safetensors --requests 5000 --markdown
    python benchmarks/serve.py --quick     # synthetic data and model: the script runs
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import _common
import numpy as np
import pandas as pd

import autorec
from autorec import AutoEncoderRecommender
from autorec.datasets import make_ratings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model saved from a fit on all of MovieLens-1M")
    parser.add_argument("--data-home", help="folder holding ml-1m/ (default: ../shared/data)")
    parser.add_argument("--requests", type=int, default=2000, help="requests in all")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument(
        "--rounds", type=int, default=4, help="the requests in rounds; memory after each"
    )
    parser.add_argument("--fold-in", type=float, default=0.5, help="share of fold-in POSTs")
    parser.add_argument("--seed", type=int, default=0, help="random state of the requests")
    parser.add_argument("--workers", type=int, default=1, help="the server's --workers")
    parser.add_argument("--threads", type=int, help="the server's --threads (default: its own)")
    parser.add_argument("--markdown", action="store_true", help="tables as Markdown")
    parser.add_argument(
        "--quick", action="store_true", help="synthetic data and model, 200 requests"
    )
    return parser.parse_args(argv)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes(pid: int) -> list[int]:
    """The server's process and its children (the ``--workers``), Linux /proc."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    extra = children.read_text().split() if children.exists() else []
    return [pid, *(int(c) for c in extra)]


def _memory_mb(pid: int, field: str) -> float:
    """``field`` of /proc/PID/smaps_rollup (Rss, Pss) summed over the server's processes,
    in MB: Pss splits each shared page among the processes that share it."""
    total = 0.0
    for proc in _processes(pid):
        for line in Path(f"/proc/{proc}/smaps_rollup").read_text().splitlines():
            if line.startswith(f"{field}:"):
                total += int(line.split()[1]) / 1024
    return total


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server's processes (Linux /proc), in seconds."""
    total = 0
    for proc in _processes(pid):
        fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _quick_setup(folder: Path, seed: int) -> tuple[Path, Path, pd.DataFrame]:
    """A synthetic ml-1m/ folder and a small model fitted on it."""
    ratings = make_ratings(n_users=300, n_items=150, n_ratings=9000, random_state=seed)
    ml = folder / "ml-1m"
    ml.mkdir(parents=True)
    lines = [f"{u}::{i}::{int(r)}" for u, i, r in ratings.itertuples(index=False)]
    (ml / "ratings.dat").write_text("\n".join(lines) + "\n")
    movies = [f"{i}::Movie {i} (2000)::Drama" for i in sorted(ratings.item_id.unique())]
    (ml / "movies.dat").write_text("\n".join(movies) + "\n")
    model = AutoEncoderRecommender(hidden_layers=(16,), epochs=5, random_state=seed)
    path = model.fit(ratings).save(folder / "model.safetensors")
    return folder, path, ratings


def _requests(ratings: pd.DataFrame, n: int, share: float, seed: int) -> list[tuple]:
    """(method, path, body) of each request, drawn in advance."""
    rng = np.random.default_rng(seed)
    users = ratings["user_id"].unique()
    by_user = {u: g for u, g in ratings.groupby("user_id")[["item_id", "rating"]]}
    out = []
    for _ in range(n):
        user = int(rng.choice(users))
        if rng.random() < share:
            mine = by_user[user]
            size = int(rng.integers(1, min(50, len(mine)) + 1))
            rows = mine.iloc[rng.choice(len(mine), size, replace=False)]
            body = {"ratings": {str(i): float(r) for i, r in rows.itertuples(index=False)}}
            out.append(("POST", "/api/recommend", json.dumps({**body, "k": 10})))
        else:
            out.append(("GET", f"/api/recommend?user={user}&k=10", None))
    return out


def _client(port: int, work: list[tuple], results: list, lock: threading.Lock) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while True:
        with lock:
            if not work:
                break
            method, path, body = work.pop()
        headers = {"Content-Type": "application/json"} if body else {}
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            ok = response.status == 200 and len(json.loads(payload)["recommendations"]) == 10
        except Exception:  # a refused or broken connection counts as an error
            ok = False
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        results.append((method, time.perf_counter() - started, ok))
    connection.close()


def _load(port: int, work: list[tuple], clients: int) -> tuple[list, float]:
    """Send ``work`` from ``clients`` threads: (results, wall seconds)."""
    work = work[::-1]
    results: list[tuple[str, float, bool]] = []
    lock = threading.Lock()
    threads = [
        threading.Thread(target=_client, args=(port, work, results, lock)) for _ in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"error: the server exited with status {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    sys.exit("error: the server did not answer /api/health in time")


def _percentiles(values: list[float]) -> list[str]:
    if not values:
        return ["-"] * 3
    return [f"{1000 * np.percentile(values, q):.1f}" for q in (50, 95, 99)]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    temporary = tempfile.TemporaryDirectory()
    if args.quick:
        home, model_path, ratings = _quick_setup(Path(temporary.name), args.seed)
        n_requests = 200
    else:
        if not args.model:
            sys.exit("error: pass --model PATH (a model fitted on all of MovieLens-1M)")
        home, model_path = _common.data_home(args.data_home), Path(args.model)
        ratings = _common.load_ratings(home)
        n_requests = args.requests
    port = _free_port()
    command = [sys.executable, "-m", "autorec", "serve", "--model", str(model_path),
               "--data-home", str(home), "--no-download", "--port", str(port),
               "--quiet"]  # fmt: skip
    if args.workers != 1:
        command += ["--workers", str(args.workers)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    # the server imports the same autorec as this script
    package_root = str(Path(autorec.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": package_root}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        _wait_for(port, process)
        # Warm up with the same concurrency (the server's threads and their memory)
        warm = _requests(ratings, max(100, n_requests // 10), args.fold_in, args.seed + 1)
        _load(port, warm, args.clients)
        memory = [(_memory_mb(process.pid, "Rss"), _memory_mb(process.pid, "Pss"))]
        work = _requests(ratings, n_requests, args.fold_in, args.seed)
        results, elapsed = [], 0.0
        cpu, client_cpu = _cpu_seconds(process.pid), time.process_time()
        for part in np.array_split(np.arange(len(work)), args.rounds):
            done, seconds = _load(port, [work[i] for i in part], args.clients)
            results += done
            elapsed += seconds
            memory.append((_memory_mb(process.pid, "Rss"), _memory_mb(process.pid, "Pss")))
        cpu = _cpu_seconds(process.pid) - cpu
        client_cpu = time.process_time() - client_cpu
    finally:
        process.terminate()
        process.wait(timeout=30)
        temporary.cleanup()
    latencies = [t for _, t, _ in results]
    errors = sum(not ok for _, _, ok in results)
    rows = [
        ["all", len(results), *_percentiles(latencies)],
        ["GET (fitted user)", sum(m == "GET" for m, _, _ in results),
         *_percentiles([t for m, t, _ in results if m == "GET"])],
        ["POST (fold-in)", sum(m == "POST" for m, _, _ in results),
         *_percentiles([t for m, t, _ in results if m == "POST"])],
    ]  # fmt: skip
    print(_common.heading("autorec serve under load", markdown=args.markdown))
    print(
        _common.table(["requests", "n", "p50 ms", "p95 ms", "p99 ms"], rows, markdown=args.markdown)
    )
    print()
    summary = [
        ["requests per second", f"{len(results) / elapsed:.1f}"],
        ["errors", errors],
        ["server CPU per request (ms)", f"{1000 * cpu / max(len(results), 1):.2f}"],
        ["load generator CPU per request (ms)", f"{1000 * client_cpu / max(len(results), 1):.2f}"],
        [
            "server memory RSS (MB): before, after each round",
            ", ".join(f"{rss:.0f}" for rss, _ in memory),
        ],
        [
            "server memory PSS (MB): before, after each round",
            ", ".join(f"{pss:.0f}" for _, pss in memory),
        ],
        ["wall time (s)", f"{elapsed:.1f}"],
    ]
    print(_common.table(["", "value"], summary, markdown=args.markdown))
    print(
        f"\n{len(results)} requests from {args.clients} clients ({100 * args.fold_in:.0f} % "
        f"fold-in) on 127.0.0.1; model {'synthetic (--quick)' if args.quick else model_path}; "
        f"{args.workers} server worker(s); {os.cpu_count()} cores shared by the server and "
        "the load generator. Memory and CPU: summed over the server's processes (PSS "
        "counts a page shared by the workers once)."
    )
    note = _common.busy_note(1)
    if note:
        print(note)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
