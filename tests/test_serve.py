"""``autorec serve``: every endpoint through an in-process client, each bad input, the
safety defaults, and the command's arguments (on tiny synthetic data)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autorec import AutoEncoderRecommender, cli
from autorec.datasets import make_ratings
from autorec.serve import _command

pytest.importorskip("fastapi", reason="autorec serve needs the [serve] extra (fastapi)")
pytest.importorskip("httpx", reason="the in-process client needs httpx")
from fastapi.testclient import TestClient

from autorec.serve import create_app
from autorec.serve._app import MAX_BODY, MAX_RATINGS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RATINGS = make_ratings(n_users=120, n_items=60, n_ratings=3000, random_state=1)
ITEMS = np.sort(RATINGS.item_id.unique())
GENRES = ["Comedy", "Drama|Romance", "Animation|Children's|Comedy"]
MOVIES = pd.DataFrame(
    {
        "item_id": ITEMS,
        "title": [f"Film {i} (19{50 + i % 50})" for i in ITEMS],
        "genres": [GENRES[i % 3] for i in ITEMS],
    }
)
MOVIES.loc[0, "title"] = "Toy Story (1995)"


@pytest.fixture(scope="module")
def model(one_torch_thread):
    return AutoEncoderRecommender(hidden_layers=(12,), epochs=8, random_state=0).fit(RATINGS)


@pytest.fixture(scope="module")
def client(model):
    return TestClient(create_app(model, MOVIES), raise_server_exceptions=False)


def _detail(response, status):
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert "Traceback" not in detail and "/" + "autorec/" not in detail
    return detail


# ------------------------------------------------------------------ endpoints
def test_health(client):
    assert client.get("/api/health").json() == {
        "status": "ok",
        "n_users": RATINGS.user_id.nunique(),
        "n_items": len(ITEMS),
    }


def test_movies_search_is_case_insensitive_most_rated_first(client, model):
    found = client.get("/api/movies", params={"q": "FILM 1", "limit": 5}).json()["movies"]
    assert 0 < len(found) <= 5
    assert all("film 1" in m["title"].lower() for m in found)
    counts = [m["n_ratings"] for m in found]
    assert counts == sorted(counts, reverse=True)
    assert set(found[0]) >= {"item_id", "title", "genres", "n_ratings"}
    toy = client.get("/api/movies", params={"q": "toy story"}).json()["movies"]
    assert [m["title"] for m in toy] == ["Toy Story (1995)"]
    assert toy[0]["year"] == 1995 and toy[0]["genres"] == GENRES[ITEMS[0] % 3].split("|")
    assert toy[0]["n_ratings"] == int((RATINGS.item_id == ITEMS[0]).sum())
    everything = client.get("/api/movies", params={"limit": 100}).json()["movies"]
    assert len(everything) == len(ITEMS)


def test_recommend_a_known_user(client, model):
    user = int(RATINGS.user_id.iloc[0])
    body = client.get("/api/recommend", params={"user": user, "k": 5}).json()
    recs = body["recommendations"]
    expected = model.recommend(user, k=5, explain=True)
    assert [r["item_id"] for r in recs] == expected.item_id.tolist()
    mine = RATINGS[RATINGS.user_id == user].set_index("item_id").rating
    for rec in recs:
        assert set(rec) >= {"item_id", "title", "genres", "predicted_rating", "n_ratings"}
        assert rec["item_id"] not in mine.index
        assert 1 <= len(rec["because"]) <= 3
        for b in rec["because"]:
            assert set(b) == {"item_id", "title", "rating"} and mine[b["item_id"]] == b["rating"]
    assert len(client.get("/api/recommend", params={"user": user}).json()["recommendations"]) == 10


def test_recommend_folds_in_posted_ratings(client):
    toy = int(ITEMS[0])
    body = client.post("/api/recommend", json={"ratings": {str(toy): 5}, "k": 10}).json()
    recs = body["recommendations"]
    assert len(recs) == 10 and toy not in [r["item_id"] for r in recs]
    assert all(r["because"] == [{"item_id": toy, "title": "Toy Story (1995)", "rating": 5.0}]
               for r in recs)  # fmt: skip
    two = {str(toy): 5, str(int(ITEMS[1])): 1.5}
    recs = client.post("/api/recommend", json={"ratings": two}).json()["recommendations"]
    assert {b["item_id"] for r in recs for b in r["because"]} <= {toy, int(ITEMS[1])}


def test_similar(client, model):
    item = int(ITEMS[3])
    body = client.get("/api/similar", params={"item": item, "k": 4}).json()
    assert [m["item_id"] for m in body["similar"]] == model.similar_items(
        item, k=4
    ).item_id.tolist()
    assert set(body["similar"][0]) >= {"item_id", "title", "genres", "n_ratings"}


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("params", "status", "named"),
    [
        ({"user": 999999}, 404, "999999"),
        ({"user": "abc"}, 422, "'abc'"),
        ({}, 422, "user is required"),
        ({"user": 1, "k": 0}, 422, "got '0'"),
        ({"user": 1, "k": 1001}, 422, "1 to 1000, got '1001'"),
        ({"user": 1, "k": "ten"}, 422, "'ten'"),
    ],
)
def test_recommend_bad_queries(client, params, status, named):
    if params.get("user") == 1:
        params["user"] = int(RATINGS.user_id.iloc[0])
    assert named in _detail(client.get("/api/recommend", params=params), status)


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"ratings": {"999999": 4}}, 422, "movie 999999"),
        ({"ratings": {"abc": 4}}, 422, "'abc'"),
        ({"ratings": {"ITEM": 7}}, 422, "rating 7 of movie"),
        ({"ratings": {"ITEM": 0}}, 422, "from 1 to 5"),
        ({"ratings": {"ITEM": "5"}}, 422, "must be a number, got '5'"),
        ({"ratings": {"ITEM": True}}, 422, "must be a number, got True"),
        ({"ratings": {"ITEM": 4}, "k": 0}, 422, "got 0"),
        ({"ratings": {"ITEM": 4}, "k": 1001}, 422, "got 1001"),
        ({"ratings": {"ITEM": 4}, "k": "3"}, 422, "got '3'"),
        ({"ratings": {}}, 422, "ratings is empty"),
        ({"ratings": [1, 2]}, 422, "JSON object"),
        ([], 422, "JSON object"),
        ({"ratings": {"ITEM": 4}, "user": 3}, 422, "['user']"),
    ],
)
def test_fold_in_bad_bodies(client, body, status, named):
    text = json.dumps(body).replace("ITEM", str(int(ITEMS[0])))
    response = client.post(
        "/api/recommend", content=text, headers={"Content-Type": "application/json"}
    )
    assert named in _detail(response, status)


def test_fold_in_malformed_json(client):
    response = client.post("/api/recommend", content=b'{"ratings": {"1": 5}')
    assert "not valid JSON" in _detail(response, 400)
    assert "not valid JSON" in _detail(client.post("/api/recommend", content=b"\xff\xfe"), 400)
    deep = b'{"ratings": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert "nested too deeply" in _detail(client.post("/api/recommend", content=deep), 400)


@pytest.mark.parametrize("number", ["1" + "0" * 400, "1e400", "NaN", "-Infinity"])
def test_fold_in_numbers_that_json_allows_but_no_scale_does(client, number):
    text = '{"ratings": {"ITEM": NUMBER}}'.replace("ITEM", str(ITEMS[0])).replace("NUMBER", number)
    assert "off the scale" in _detail(client.post("/api/recommend", content=text), 422)


def test_fold_in_too_many_ratings(client):
    ratings = {str(i): 3 for i in range(MAX_RATINGS + 1)}
    assert "10,001 entries; at most 10,000" in _detail(
        client.post("/api/recommend", json={"ratings": ratings}), 422
    )


def test_fold_in_body_over_a_megabyte(client):
    big = b'{"ratings": {"1": 5}, "pad": "' + b"x" * MAX_BODY + b'"}'
    assert "at most 1,000,000" in _detail(client.post("/api/recommend", content=big), 413)

    def chunks():  # no Content-Length: the stream is cut off as it arrives
        yield b'{"ratings": {"1": 5}, "pad": "'
        for _ in range(20):
            yield b"x" * 100_000
        yield b'"}'

    assert "over 1,000,000" in _detail(client.post("/api/recommend", content=chunks()), 413)


@pytest.mark.parametrize(
    ("params", "status", "named"),
    [
        ({"item": 999999}, 404, "movie 999999"),
        ({"item": "x1"}, 422, "'x1'"),
        ({}, 422, "item is required"),
        ({"item": "ITEM", "k": -1}, 422, "got '-1'"),
    ],
)
def test_similar_bad_queries(client, params, status, named):
    params = {k: str(int(ITEMS[0])) if v == "ITEM" else v for k, v in params.items()}
    assert named in _detail(client.get("/api/similar", params=params), status)


def test_movies_bad_queries(client):
    assert "limit must be an integer from 1 to 100, got '0'" in _detail(
        client.get("/api/movies", params={"limit": 0}), 422
    )
    assert "at most 200 characters" in _detail(
        client.get("/api/movies", params={"q": "a" * 201}), 422
    )


def test_unknown_paths_and_methods_are_4xx(client):
    assert client.get("/api/nothing").status_code == 404
    assert client.put("/api/recommend").status_code == 405
    assert "no file 'notes.txt'" in _detail(client.get("/static/notes.txt"), 404)
    for path in ("/static/..%2F_app.py", "/static/../_app.py", "/static/%2E%2E/_app.py"):
        response = client.get(path)
        assert response.status_code == 404 and "import" not in response.text


def test_an_unexpected_error_is_a_500_without_a_traceback(model):
    broken = TestClient(create_app(model, MOVIES), raise_server_exceptions=False)
    original = model.similar_items
    model.similar_items = lambda *a, **k: 1 / 0
    try:
        response = broken.get("/api/similar", params={"item": int(ITEMS[0])})
    finally:
        model.similar_items = original
    assert _detail(response, 500) == "internal error (see the server's log)"


# ------------------------------------------------------------------ the page, safety
def test_the_page_and_its_files_come_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert 'src="/static/app.js"' in html and 'href="/static/app.css"' in html
    assert (
        "http://" not in html.replace("http://www.w3.org", "")
        and "https://" not in html.split("<footer")[0]
    )
    for name, kind in (("app.js", "javascript"), ("app.css", "css")):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert "http" not in response.text  # nothing fetched from another host
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_cors_is_off_by_default_and_on_for_named_origins(model, client):
    asked = {"Origin": "https://elsewhere.example"}
    assert "access-control-allow-origin" not in client.get("/api/health", headers=asked).headers
    open_client = TestClient(create_app(model, MOVIES, cors_origins=["https://elsewhere.example"]))
    allowed = open_client.get("/api/health", headers=asked).headers
    assert allowed["access-control-allow-origin"] == "https://elsewhere.example"
    other = open_client.get("/api/health", headers={"Origin": "https://evil.example"}).headers
    assert "access-control-allow-origin" not in other


def test_a_token_guards_the_api_not_the_page(model):
    guarded = TestClient(create_app(model, MOVIES, token="s3cret-token"))
    assert "bearer token" in _detail(guarded.get("/api/health"), 401)
    wrong = {"Authorization": "Bearer nope"}
    assert guarded.get("/api/health", headers=wrong).status_code == 401
    right = {"Authorization": "Bearer s3cret-token"}
    assert guarded.get("/api/health", headers=right).json()["status"] == "ok"
    assert guarded.get("/").status_code == 200


def test_movies_without_metadata_are_named_by_id(model):
    bare = TestClient(create_app(model, None))
    movie = bare.get("/api/movies", params={"limit": 1}).json()["movies"][0]
    assert movie["title"] == f"Item {movie['item_id']}" and movie["genres"] == []


# ------------------------------------------------------------------ the command
def _args(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(["serve", *argv])


def test_serve_arguments_and_defaults():
    args = _args()
    assert (args.host, args.port, args.token, args.cors_origin, args.model) == (
        "127.0.0.1",
        8000,
        None,
        [],
        None,
    )
    args = _args("--model", "m.safetensors", "--host", "0.0.0.0", "--port", "9000")
    assert (args.model, args.host, args.port) == (Path("m.safetensors"), "0.0.0.0", 9000)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--port", "70000"], "got '70000'"),
        (["--port", "x"], "got 'x'"),
        (["--token", "short"], "at least 8 characters"),
    ],
)
def test_serve_bad_arguments_are_usage_errors(argv, named, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _args(*argv)
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("::", False)],
)
def test_loopback_hosts(host, loopback):
    assert _command.is_loopback(host) is loopback


def _tiny_home(folder: Path) -> Path:
    ml = folder / "ml-1m"
    ml.mkdir(parents=True)
    lines = [f"{u}::{i}::{int(r)}" for u, i, r in RATINGS.itertuples(index=False)]
    (ml / "ratings.dat").write_text("\n".join(lines) + "\n")
    movies = [f"{i}::{t}::{g}" for i, t, g in MOVIES.itertuples(index=False)]
    (ml / "movies.dat").write_bytes(("\n".join(movies) + "\n").encode("latin-1"))
    return folder


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_serve_runs_uvicorn_with_the_loaded_model(model, tmp_path, monkeypatch, capsys, host):
    uvicorn = pytest.importorskip("uvicorn")
    path = model.save(tmp_path / "model.safetensors")
    home = _tiny_home(tmp_path / "data")
    seen = {}

    def fake_run(app, **kwargs):
        seen.update(kwargs, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    argv = ["serve", "--model", str(path), "--data-home", str(home), "--host", host]
    assert cli.main([*argv, "--port", "8123"]) == 0
    err = capsys.readouterr().err
    assert seen["host"] == host and seen["port"] == 8123
    assert f"serving on http://{host}:8123/" in err
    assert ("no authentication" in err) is (host != "127.0.0.1")
    served = TestClient(seen["app"])
    assert served.get("/api/health").json()["n_items"] == len(ITEMS)


def test_serve_without_a_model_trains_the_default_first(tmp_path, monkeypatch, capsys):
    uvicorn = pytest.importorskip("uvicorn")
    home = _tiny_home(tmp_path / "data")
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(app=app))
    monkeypatch.setattr(_command, "make_model", _small_default)
    saved = tmp_path / "trained.safetensors"
    argv = ["serve", "--data-home", str(home), "--token", "abcdefgh1", "--save", str(saved)]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "no --model given: training the default" in err
    assert AutoEncoderRecommender.load(saved).n_items_ == len(ITEMS)
    assert "#token=abcdefgh1" in err
    served = TestClient(seen["app"], headers={"Authorization": "Bearer abcdefgh1"})
    assert served.get("/api/health").json()["n_users"] == RATINGS.user_id.nunique()


def test_serve_save_needs_a_trained_model(tmp_path, capsys):
    argv = ["serve", "--model", "m.safetensors", "--save", "x.safetensors"]
    assert cli.main([*argv, "--data-home", str(tmp_path)]) == 1
    assert "cannot be used with --model" in capsys.readouterr().err


def _small_default(kind, **kwargs):
    assert kind == "default" and kwargs["verbose"] == 1  # a progress bar
    return AutoEncoderRecommender(hidden_layers=(8,), epochs=3, **kwargs)


def test_serve_says_which_extra_is_missing(monkeypatch, capsys, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_uvicorn(name, *args, **kwargs):
        if name == "uvicorn":
            raise ImportError("No module named 'uvicorn'", name="uvicorn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    assert cli.main(["serve", "--data-home", str(tmp_path)]) == 1
    assert "pip install torch-autorec[serve]" in capsys.readouterr().err
