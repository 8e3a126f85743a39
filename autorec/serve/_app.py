"""The FastAPI application of ``autorec serve``: a JSON API and a page.

Every error a client can cause is a 4xx with ``{"detail": message}`` naming the bad
value; an unexpected failure is a 500 with a fixed message (the traceback goes to the
server's log, never to the client).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from ._batch import LRU, ScoreBatcher, fitted_predictions
from ._catalogue import Catalogue, ClientError, plain
from ._pool import ARRIVED, OldestFirst

__all__ = ["MAX_BODY", "MAX_K", "MAX_RATINGS", "ClientError", "create_app"]

logger = logging.getLogger(__name__)

#: Largest request body (bytes), number of ratings in one request, and k.
MAX_BODY = 1_000_000
MAX_RATINGS = 10_000
MAX_K = 1000
#: Largest ``limit`` of a title search, and longest query.
MAX_LIMIT = 100
MAX_QUERY = 200
#: The page's files: name -> media type. Nothing else is ever read from disk.
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
}
#: Sent with every response: the page loads nothing from another host.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: Fitted users whose GET answers (per k) are kept, most recently asked first.
CACHE_USERS = 2048


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Guard:
    """ASGI middleware: the bearer token on ``/api/`` (when set), :data:`HEADERS` on
    every response and the request's arrival time (``autorec.serve._pool.ARRIVED``) (a
    plain ASGI wrapper: Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per
    request)."""

    def __init__(self, app: Any, token: str | None = None) -> None:
        self.app = app
        self.expected = None if token is None else f"Bearer {token}".encode()
        self.headers = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ARRIVED.set(time.perf_counter())

        async def secured(message: dict) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if self.expected is not None and scope["path"].startswith("/api/"):
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not secrets.compare_digest(given, self.expected):
                response = _error(401, "missing or wrong bearer token")
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, secured)
                return
        await self.app(scope, receive, secured)


def _int_param(value: str | None, name: str, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise ClientError(
            422, f"{name} must be an integer from {low} to {high}, got {value[:50]!r}"
        )
    return number


def _static_files() -> dict[str, bytes]:
    """The page's files, read once from this package's own ``static`` folder."""
    folder = files(__package__).joinpath("static")
    return {name: folder.joinpath(name).read_bytes() for name in STATIC}


def create_app(
    model: Any,
    movies: pd.DataFrame | None = None,
    *,
    token: str | None = None,
    cors_origins: list[str] | tuple[str, ...] = (),
    threads: int | None = None,
) -> FastAPI:
    """The ASGI application serving ``model``.

    Parameters
    ----------
    model : AutoEncoderRecommender or BlendRecommender
        A fitted model.
    movies : pandas.DataFrame, optional
        ``item_id``, ``title`` and ``genres`` of the items (e.g.
        ``load_movielens_1m().movies``); items without a row are named by their id.
    token : str, optional
        When given, every ``/api/`` request needs ``Authorization: Bearer <token>``.
    cors_origins : sequence of str, default=()
        Origins whose pages may call the API from a browser (CORS); none by default.
    threads : int, optional
        Recommendations computed at once, each on its own thread (default: one per usable
        core); more requests wait their turn.

    Returns
    -------
    fastapi.FastAPI
    """
    catalogue = Catalogue(model, movies)
    statics = _static_files()
    slots = usable_cores() if threads is None else int(threads)
    if slots < 1:
        raise ValueError(f"threads must be at least 1, got {threads!r}")
    # A pool of its own (``slots`` threads; a hand-off costs about a third of the CPU of
    # Starlette's run_in_threadpool behind a semaphore) that runs the jobs of the request
    # that arrived first first (a fitted user's request may hand it two: ``_pool``).
    pool = OldestFirst(slots)

    async def work(function: Callable, *args: Any) -> Any:
        """``function(*args)`` on the thread pool, at most ``slots`` at once."""
        return await pool.run(functools.partial(function, *args))

    predictions = fitted_predictions(model)  # None where they would take too much memory

    def score(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        known = None if predictions is None else predictions[rows]
        return model._scores_and_ratings(rows, predicted=known)

    batcher = ScoreBatcher(score, work)
    answers = LRU(CACHE_USERS)  # a fitted user's answer changes only with the model

    def fitted_answer(user_id: Any, row: np.ndarray, count: int, scored: tuple | None) -> bytes:
        # With every fitted user's predictions kept, scoring one costs little: done here,
        # in one job; else the user's block was scored by the batcher.
        scored = score(row) if scored is None else scored
        return answer_fitted(model, catalogue, user_id, row, count, scored)

    def fold_in_answer(ratings: dict[Any, float], count: int) -> bytes:
        return answer_fold_in(model, catalogue, ratings, count)

    app = FastAPI(
        title="autorec",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(Guard, token=token)
    app.state.batcher, app.state.answers = batcher, answers
    app.state.predictions = predictions

    @app.exception_handler(ClientError)
    async def client_error(request: Request, exc: ClientError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
            for e in exc.errors()
        )
        return _error(422, problems or "invalid request")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s", request.url.path)
        return _error(500, "internal error (see the server's log)")

    # Cheap answers run in the event loop; recommendations on the thread pool.
    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(statics["index.html"], media_type=STATIC["index.html"])

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in STATIC:
            raise ClientError(404, f"no file {name[:80]!r}; the page has {sorted(STATIC)}")
        return Response(statics[name], media_type=STATIC[name])

    @app.get("/api/health")
    async def health() -> Response:
        return _ok(
            {"status": "ok", "n_users": len(model.user_map_), "n_items": len(model.item_map_)}
        )

    @app.get("/api/movies")
    async def search(q: str = "", limit: str | None = None) -> Response:
        if len(q) > MAX_QUERY:
            raise ClientError(422, f"q must be at most {MAX_QUERY} characters, got {len(q)}")
        count = _int_param(limit, "limit", 1, MAX_LIMIT, 20)
        return _ok({"movies": catalogue.search(q, count)})

    @app.get("/api/recommend")
    async def recommend_user(user: str | None = None, k: str | None = None) -> Response:
        count = _int_param(k, "k", 1, MAX_K, 10)
        if user is None:
            raise ClientError(
                422,
                "user is required (GET /api/recommend?user=ID); POST ratings instead "
                "to fold in a new person",
            )
        user_id = catalogue.user_id(user)
        body = answers.get((user_id, count))
        if body is None:
            row = catalogue.user_row(user_id)
            scored = None if predictions is not None else await batcher.score(int(row[0]))
            body = await work(fitted_answer, user_id, row, count, scored)
            answers.put((user_id, count), body)
        return _raw(body)

    @app.post("/api/recommend")
    async def recommend_ratings(request: Request) -> Response:
        body = await _read_body(request)
        ratings, count = _parse_fold_in(body, catalogue)
        return _raw(await work(fold_in_answer, ratings, count))

    @app.get("/api/similar")
    async def similar(item: str | None = None, k: str | None = None) -> Response:
        count = _int_param(k, "k", 1, MAX_K, 10)
        if item is None:
            raise ClientError(422, "item is required (GET /api/similar?item=ID)")
        item_id = catalogue.item_id(item)
        frame = await work(functools.partial(model.similar_items, item_id, k=count))
        return _ok({"item": plain(item_id), "similar": catalogue.movies(frame)})

    # Warm the model's caches (item codes, counts) before the first request.
    catalogue.warm()
    return app


def answer_fitted(
    model: Any, catalogue: Catalogue, user_id: Any, row: np.ndarray, count: int, scored: tuple
) -> bytes:
    """The JSON body of ``GET /api/recommend`` for a fitted user at ``row`` (one-element
    array), whose ``model._scores_and_ratings`` are ``scored``."""
    columns = model._block_columns(row, count, True, True, scored=scored)
    user = _json(plain(user_id)).decode()
    return f'{{"user":{user},"recommendations":{catalogue.records_json(columns)}}}'.encode()


def answer_fold_in(
    model: Any, catalogue: Catalogue, ratings: dict[Any, float], count: int
) -> bytes:
    """The JSON body of ``POST /api/recommend`` for checked ``ratings`` (model item ids)."""
    parsed = catalogue.indices(ratings)  # checked by _parse_fold_in
    columns = model._fold_in_columns(None, None, count, True, True, parsed=parsed)
    return f'{{"recommendations":{catalogue.records_json(columns)}}}'.encode()


async def _read_body(request: Request) -> bytes:
    """The request body, refused (413) past :data:`MAX_BODY` bytes before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise ClientError(413, f"the body has {int(declared):,} bytes; at most {MAX_BODY:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ClientError(413, f"the body is over {MAX_BODY:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_fold_in(body: bytes, catalogue: Catalogue) -> tuple[dict[Any, float], int]:
    """``{"ratings": {item_id: rating}, "k": K}`` checked: (ratings by model id, k)."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ClientError(400, f"the body is not valid JSON ({exc})") from None
    except RecursionError:
        raise ClientError(400, "the body is not valid JSON (nested too deeply)") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("ratings"), dict):
        raise ClientError(
            422, 'the body must be a JSON object {"ratings": {"<item_id>": rating, ...}, "k": K}'
        )
    extra = sorted(set(payload) - {"ratings", "k"})
    if extra:
        raise ClientError(422, f"unknown field(s) {extra[:5]}; the body has ratings and k")
    k = payload.get("k", 10)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ClientError(422, f"k must be an integer from 1 to {MAX_K}, got {k!r}")
    given = payload["ratings"]
    if not given:
        raise ClientError(422, "ratings is empty; rate at least one movie")
    if len(given) > MAX_RATINGS:
        raise ClientError(422, f"ratings has {len(given):,} entries; at most {MAX_RATINGS:,}")
    low, high = (float(v) for v in catalogue.scale)
    ratings: dict[Any, float] = {}
    for key, value in given.items():
        item_id = catalogue.item_id(key, status=422)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ClientError(
                422, f"the rating of movie {key[:50]!r} must be a number, got {value!r:.50}"
            )
        if not (math.isfinite(_as_float(value)) and low <= value <= high):
            raise ClientError(
                422,
                f"the rating {value!r} of movie {key[:50]!r} is off the scale; ratings run "
                f"from {low:g} to {high:g}",
            )
        if item_id in ratings:
            raise ClientError(422, f"movie {key[:50]!r} is rated more than once")
        ratings[item_id] = float(value)
    return ratings, k


def _as_float(value: float) -> float:
    """A JSON number as a float (an integer too large for one is infinite)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _raw(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _ok(payload: Any) -> Response:
    """``payload`` as JSON (encoded once here: FastAPI's own encoder walks it twice)."""
    return _raw(_json(payload))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)
