"""What keeps ``autorec serve`` fast under load without changing its answers: the
frame-free recommendation path equals ``recommend``, fitted users' answers are cached
(bounded), recommendations run on a bounded thread pool, ``--workers`` forks processes
that share one socket, and the malloc arena cap."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import autorec
from autorec import AutoEncoderRecommender, BlendRecommender, cli
from autorec.baselines import BiasBaseline
from autorec.datasets import make_ratings
from autorec.serve import _workers

pytest.importorskip("fastapi", reason="autorec serve needs the [serve] extra (fastapi)")
pytest.importorskip("httpx", reason="the in-process client needs httpx")
from fastapi.testclient import TestClient

from autorec.serve import create_app
from autorec.serve._app import CACHE_USERS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RATINGS = make_ratings(n_users=90, n_items=50, n_ratings=2200, random_state=4)


def _small(**params):
    return AutoEncoderRecommender(hidden_layers=(10,), epochs=6, random_state=0, **params)


@pytest.fixture(scope="module")
def models(one_torch_thread):
    return {
        "item": _small(kind="item").fit(RATINGS),
        "user": _small(kind="user").fit(RATINGS),
        "rating": _small(kind="item", ranking="rating").fit(RATINGS),
        "blend": BlendRecommender([_small(kind="user"), _small(kind="item")]).fit(RATINGS),
        "baseline": BiasBaseline().fit(RATINGS),
    }


@pytest.mark.parametrize("name", ["item", "user", "rating", "blend", "baseline"])
def test_one_prediction_gives_the_same_scores_as_the_two_hooks(models, name):
    # recommend predicts a block of users once and ranks from it (_rank_scores) where
    # the model's scores are built that way; the result must equal _user_scores.
    model = models[name]
    index = np.arange(7)
    scores, predicted = model._scores_and_ratings(index)
    np.testing.assert_array_equal(scores, np.asarray(model._user_scores(index), np.float64))
    expected = model._user_ratings(index)
    if expected is None:
        assert predicted is None
    else:
        np.testing.assert_array_equal(predicted, expected)


@pytest.mark.parametrize("name", ["item", "user", "blend"])
def test_the_api_answers_what_recommend_returns(models, name):
    model = models[name]
    client = TestClient(create_app(model, None))
    user = int(RATINGS.user_id.iloc[5])
    got = client.get("/api/recommend", params={"user": user, "k": 6}).json()["recommendations"]
    frame = model.recommend(user, k=6, explain=True)
    assert [r["item_id"] for r in got] == frame.item_id.tolist()
    assert [r["predicted_rating"] for r in got] == [round(v, 2) for v in frame.predicted_rating]
    assert [r["score"] for r in got] == [round(v, 4) for v in frame.score]
    assert [[b["item_id"] for b in r["because"]] for r in got] == [
        [b["item_id"] for b in because] for because in frame.because
    ]
    mine = RATINGS[RATINGS.user_id == user].head(9)
    ratings = dict(zip(mine.item_id.astype(str), mine.rating.astype(float), strict=True))
    posted = client.post("/api/recommend", json={"ratings": ratings, "k": 4}).json()
    folded = model.recommend(None, k=4, explain=True, user_ratings=mine.set_index("item_id").rating)
    assert [r["item_id"] for r in posted["recommendations"]] == folded.item_id.tolist()


def test_string_and_unsorted_user_ids_are_found(models):
    ratings = RATINGS.assign(user_id="u" + RATINGS.user_id.astype(str))
    model = _small(kind="item").fit(ratings)
    client = TestClient(create_app(model, None))
    for user in ratings.user_id.unique()[[0, 7, -1]]:
        got = client.get("/api/recommend", params={"user": user, "k": 3}).json()
        assert got["user"] == user
        expected = model.recommend(user, k=3).item_id.tolist()
        assert [r["item_id"] for r in got["recommendations"]] == expected


def test_fitted_answers_are_cached_and_bounded(models, monkeypatch):
    model = models["item"]
    app = create_app(model, None)
    client = TestClient(app)
    calls = []
    original = model._block_columns
    monkeypatch.setattr(
        model, "_block_columns", lambda *a, **k: calls.append(a) or original(*a, **k)
    )
    user = int(RATINGS.user_id.iloc[0])
    first = client.get("/api/recommend", params={"user": user, "k": 5}).json()
    again = client.get("/api/recommend", params={"user": user, "k": 5}).json()
    assert first == again and len(calls) == 1
    client.get("/api/recommend", params={"user": user, "k": 6})
    assert len(calls) == 2  # another k is another answer
    assert 0 < CACHE_USERS <= 10_000


def test_concurrent_fitted_users_are_scored_together_with_the_same_answers(models, monkeypatch):
    import threading

    from autorec.serve import _batch

    monkeypatch.setattr(_batch, "PREDICTIONS_BYTES", 0)  # no table: blocks are decoded
    model = models["item"]
    app = create_app(model, None, threads=1)
    users = [int(u) for u in RATINGS.user_id.unique()[:12]]
    got = {}

    def ask(client, user):
        got[user] = client.get("/api/recommend", params={"user": user, "k": 4}).json()

    with TestClient(app) as client:
        threads = [threading.Thread(target=ask, args=(client, u)) for u in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    sizes = app.state.batcher.sizes
    assert sum(sizes) == len(users) and max(sizes) > 1  # some users were scored together
    for user in users:
        frame = model.recommend(user, k=4, explain=True)
        answer = got[user]["recommendations"]
        assert [r["item_id"] for r in answer] == frame.item_id.tolist()
        assert [r["score"] for r in answer] == [round(v, 4) for v in frame.score]


def test_a_failed_block_fails_each_of_its_requests(models, monkeypatch):
    from autorec.serve import _batch

    monkeypatch.setattr(_batch, "PREDICTIONS_BYTES", 0)
    model = models["item"]
    app = create_app(model, None)
    monkeypatch.setattr(app.state.batcher, "score_rows", lambda rows: 1 / 0)
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/api/recommend", params={"user": int(RATINGS.user_id.iloc[0])})
    assert response.status_code == 500 and "internal error" in response.json()["detail"]


def test_the_answer_cache_keeps_the_most_recent():
    from autorec.serve._batch import LRU

    cache = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (1, None, 3, 2)


def test_threads_must_be_positive(models):
    with pytest.raises(ValueError, match="threads must be at least 1, got 0"):
        create_app(models["item"], None, threads=0)


def test_recommendations_run_at_most_threads_at_once(models, monkeypatch):
    import threading

    model = models["item"]
    app = create_app(model, None, threads=2)
    running, peak, lock = [0], [0], threading.Lock()
    original = model._fold_in_columns

    def slow(*args, **kwargs):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "_fold_in_columns", slow)
    item = str(RATINGS.item_id.iloc[0])

    def post(client):
        assert client.post("/api/recommend", json={"ratings": {item: 4}}).status_code == 200

    with TestClient(app) as client:
        threads = [threading.Thread(target=post, args=(client,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert peak[0] == 2


@pytest.mark.parametrize(
    ("argv", "named"),
    [(["--workers", "0"], "got '0'"), (["--threads", "x"], "got 'x'")],
)
def test_workers_and_threads_must_be_positive_integers(argv, named, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(["serve", *argv])
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err


def test_arena_cap_leaves_an_explicit_setting_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert _workers.limit_malloc_arenas() is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    # glibc accepts the cap (mallopt returns 1); another C library is left alone
    glibc = os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else None
    assert _workers.limit_malloc_arenas() is bool(glibc)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


@pytest.mark.slow
@pytest.mark.skipif(not _workers.can_fork(), reason="--workers needs os.fork")
def test_workers_serve_from_forked_processes_and_stop_on_sigterm(models, tmp_path):
    pytest.importorskip("uvicorn")
    path = models["item"].save(tmp_path / "model.safetensors")
    ml = tmp_path / "ml-1m"
    ml.mkdir()
    lines = [f"{u}::{i}::{int(r)}" for u, i, r in RATINGS.itertuples(index=False)]
    (ml / "ratings.dat").write_text("\n".join(lines) + "\n")
    items = np.sort(RATINGS.item_id.unique())
    (ml / "movies.dat").write_text("".join(f"{i}::Film {i} (2001)::Drama\n" for i in items))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(autorec.__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "autorec", "serve", "--model", str(path),
               "--data-home", str(tmp_path), "--no-download", "--port", str(port),
               "--workers", "2", "--quiet"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert server.poll() is None, "the server exited early"
            try:
                if _get(port, "/api/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
        if children.exists():
            assert len(children.read_text().split()) == 2
        user = int(RATINGS.user_id.iloc[0])
        for _ in range(8):
            status, body = _get(port, f"/api/recommend?user={user}&k=3")
            assert status == 200 and b"recommendations" in body
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=600) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=600)


def test_movies_frame_is_optional_for_the_cache(models):
    # the cache keys on (user, k) only: the same user asked with and without titles in
    # another app keeps each app's own answers
    movies = pd.DataFrame({"item_id": RATINGS.item_id.unique(), "title": "T", "genres": ""})
    named = TestClient(create_app(models["item"], movies))
    bare = TestClient(create_app(models["item"], None))
    user = int(RATINGS.user_id.iloc[2])
    a = named.get("/api/recommend", params={"user": user}).json()["recommendations"][0]
    b = bare.get("/api/recommend", params={"user": user}).json()["recommendations"][0]
    assert a["title"] == "T" and b["title"].startswith("Item ")


def test_the_pool_runs_the_job_of_the_oldest_request_first():
    import asyncio
    import threading

    from autorec.serve._pool import ARRIVED, OldestFirst

    pool = OldestFirst(1)
    ran, gate = [], threading.Event()

    async def job(name, arrived):
        if arrived is not None:
            ARRIVED.set(arrived)
        return await pool.run(lambda: ran.append(name) or name)

    async def main():
        blocked = asyncio.ensure_future(pool.run(gate.wait))  # the one thread is busy
        await asyncio.sleep(0.05)
        # Handed over newest first; the request that arrived first runs first, and a job
        # without an arrival time counts as arriving when it is handed over (now: last).
        tasks = [
            asyncio.ensure_future(job(name, arrived))
            for name, arrived in [("now", None), ("third", 3.0), ("first", 1.0), ("second", 2.0)]
        ]
        await asyncio.sleep(0.05)
        gate.set()
        await blocked
        return await asyncio.gather(*tasks)

    assert asyncio.run(main()) == ["now", "third", "first", "second"]
    assert ran == ["first", "second", "third", "now"]


def test_the_pool_hands_a_jobs_error_to_its_request():
    import asyncio

    from autorec.serve._pool import OldestFirst

    pool = OldestFirst(2)

    async def main():
        with pytest.raises(ZeroDivisionError):
            await pool.run(lambda: 1 / 0)
        return await pool.run(lambda: "still serving")

    assert asyncio.run(main()) == "still serving"


def test_fitted_users_predictions_are_computed_once_within_the_memory_budget(models, monkeypatch):
    from autorec.serve import _batch

    model = models["item"]
    app = create_app(model, None)
    table = app.state.predictions
    assert table.shape == (len(model.user_map_), len(model.item_map_))
    users = [int(u) for u in RATINGS.user_id.unique()[:5]]
    expected = {u: model.recommend(u, k=5, explain=True) for u in users}
    # The server decodes no fitted user any more: its predictions are in the table.
    monkeypatch.setattr(model, "_user_ratings", lambda index: 1 / 0)
    client = TestClient(app)
    for user in users:
        got = client.get("/api/recommend", params={"user": user, "k": 5}).json()
        frame = expected[user]
        assert [r["item_id"] for r in got["recommendations"]] == frame.item_id.tolist()
        assert [r["score"] for r in got["recommendations"]] == [round(v, 4) for v in frame.score]
    monkeypatch.undo()
    assert _batch.fitted_predictions(models["baseline"]) is None  # scores not from ratings
    monkeypatch.setattr(_batch, "PREDICTIONS_BYTES", table.nbytes - 1)
    small = create_app(model, None)  # over the budget: decoded per block, same answers
    assert small.state.predictions is None
    got = TestClient(small).get("/api/recommend", params={"user": users[0], "k": 5}).json()
    assert [r["item_id"] for r in got["recommendations"]] == expected[users[0]].item_id.tolist()
