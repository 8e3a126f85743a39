"""What the API says about items and users: ids as the model stores them, titles,
years, genres, rating counts, title search, and recommendation frames as JSON rows."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Catalogue", "ClientError"]

#: A MovieLens title ends in its year: "Toy Story (1995)".
YEAR = re.compile(r"\s*\((\d{4})\)\s*$")


class ClientError(Exception):
    """A request the client can fix: an HTTP status and a message naming the value."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value


class Catalogue:
    """The served model's items with their metadata, built once.

    Parameters
    ----------
    model : fitted AutoEncoderRecommender or BlendRecommender
    movies : pandas.DataFrame or None
        ``item_id``, ``title``, ``genres``; items without a row are named by their id.
    """

    def __init__(self, model: Any, movies: pd.DataFrame | None) -> None:
        self.model = model
        self.scale = tuple(float(v) for v in model.rating_scale_)
        ids = model.item_map_.ids
        self.int_items = ids.dtype.kind in "iu"
        self.int_users = model.user_map_.ids.dtype.kind in "iu"
        counts = model._item_counts()
        meta = (
            movies.drop_duplicates("item_id").set_index("item_id")
            if movies is not None
            else pd.DataFrame(index=pd.Index([], name="item_id"))
        )
        joined = meta.reindex(ids)
        titles = [
            t if isinstance(t, str) else f"Item {i}"
            for i, t in zip(ids.tolist(), joined.get("title", pd.Series(index=ids)), strict=True)
        ]
        genres = [
            g.split("|") if isinstance(g, str) and g else []
            for g in joined.get("genres", pd.Series(index=ids))
        ]
        years = [int(m.group(1)) if (m := YEAR.search(t)) else None for t in titles]
        self.info: dict[Any, dict[str, Any]] = {
            plain(i): {
                "item_id": plain(i),
                "title": t,
                "year": y,
                "genres": g,
                "n_ratings": int(c),
            }
            for i, t, y, g, c in zip(ids, titles, years, genres, counts, strict=True)
        }
        users = model.user_map_.ids
        # Sorted integer user ids (as fit stores them) are found by binary search, the
        # rest through the id map (a pandas lookup: a fraction of a millisecond).
        self.sorted_users = (
            users if self.int_users and bool(np.all(users[1:] > users[:-1])) else None
        )
        self.index = {plain(i): n for n, i in enumerate(ids)}
        # Each movie's fields as JSON text, encoded once (the object left open): a
        # response is then a few string joins (records_json).
        self.head = {i: _text(row)[:-1] for i, row in self.info.items()}
        self.named = {
            i: _text({"item_id": i, "title": row["title"]})[:-1] for i, row in self.info.items()
        }
        order = np.argsort(-counts, kind="stable")
        self.by_popularity = [plain(ids[i]) for i in order]
        self.lower = {i: self.info[i]["title"].lower() for i in self.by_popularity}

    def warm(self) -> None:
        """Fill the model's lazy caches with one request, so the first person waits no
        longer than the rest."""
        first = self.by_popularity[0]
        self.model.recommend(None, k=1, user_ratings={first: self.scale[1]}, explain=True)
        self.model.similar_items(first, k=1)

    # ----------------------------------------------------------------- ids
    def _convert(self, text: Any, integer: bool, what: str, status: int) -> Any:
        if not integer:
            return str(text)
        try:
            return int(str(text).strip())
        except ValueError:
            raise ClientError(
                status, f"{what} id {str(text)[:50]!r} is not an integer; {what} ids are integers"
            ) from None

    def user_id(self, text: str) -> Any:
        """The model's id of a user given as text; 404 for a user it was not fitted on."""
        user = self._convert(text, self.int_users, "user", 422)
        if user not in self.model.user_map_:
            raise ClientError(
                404,
                f"user {user!r} is not in the model's training data; POST their ratings to "
                "/api/recommend instead",
            )
        return user

    def user_row(self, user: Any) -> np.ndarray:
        """The model's row index of a user it was fitted on (from :meth:`user_id`), as a
        one-element array."""
        if self.sorted_users is not None:
            return np.searchsorted(self.sorted_users, [user]).astype(np.int64)
        return self.model.user_map_.transform(np.asarray([user], dtype=object))

    def indices(self, ratings: dict[Any, float]) -> tuple[np.ndarray, np.ndarray]:
        """Checked fold-in ratings (model item ids) as the model's (item indices, ratings)."""
        items = np.fromiter((self.index[i] for i in ratings), np.int64, len(ratings))
        return items, np.fromiter(ratings.values(), np.float64, len(ratings))

    def item_id(self, text: Any, status: int = 404) -> Any:
        """The model's id of a movie given as text; ``status`` for an unknown one."""
        item = self._convert(text, self.int_items, "movie", 422)
        if item not in self.info:
            raise ClientError(status, f"movie {item!r} is not in the model's catalogue")
        return item

    # ---------------------------------------------------------------- rows
    def search(self, query: str, limit: int) -> list[dict[str, Any]]:
        """Movies whose title contains ``query`` (any case), most rated first."""
        needle = query.strip().lower()
        out = []
        for item in self.by_popularity:
            if needle in self.lower[item]:
                out.append(self.info[item])
                if len(out) == limit:
                    break
        return out

    def movies(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """The items of a result frame, with their metadata."""
        return [self.info[plain(i)] for i in frame["item_id"].tolist()]

    def records_json(self, columns: dict[str, Any]) -> str:
        """:meth:`records` as compact JSON text (the bytes ``json.dumps`` gives for them),
        from each movie's fields encoded once."""
        named = self.named
        out = []
        for item, score, rating, because in _rows(columns):
            reasons = ",".join(
                f'{named[b["item_id"]]},"rating":{_number(b["rating"])}}}' for b in because
            )
            shown = None if rating is None else round(rating, 2)
            out.append(
                f'{self.head[item]},"predicted_rating":{_number(shown)},'
                f'"score":{_number(round(score, 4))},"because":[{reasons}]}}'
            )
        return "[" + ",".join(out) + "]"

    def records(self, columns: dict[str, Any]) -> list[dict[str, Any]]:
        """One user's recommendations with their reasons (the columns of
        ``recommend(..., explain=True)``, as ``model._columns`` gives them) as JSON rows."""
        out = []
        for item, score, rating, because in _rows(columns):
            entry = dict(self.info[item])
            entry["predicted_rating"] = None if rating is None else round(rating, 2)
            entry["score"] = round(score, 4)
            entry["because"] = [
                {
                    "item_id": b["item_id"],
                    "title": self.info[b["item_id"]]["title"],
                    "rating": b["rating"],
                }
                for b in because
            ]
            out.append(entry)
        return out


def _text(value: Any) -> str:
    """Compact JSON, as the API sends it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _number(value: float | None) -> str:
    """A float (or None) as ``json.dumps`` writes it; a value JSON cannot hold is refused
    as ``json.dumps(..., allow_nan=False)`` refuses it."""
    if value is None:
        return "null"
    if not math.isfinite(value):
        raise ValueError(f"out of range float value {value!r} is not JSON compliant")
    return float.__repr__(float(value))


def _rows(columns: dict[str, Any]) -> Any:
    """(item id, score, predicted rating or None, because) of each recommended row."""
    predicted = columns.get("predicted_rating")
    predicted = [None] * len(columns["item_id"]) if predicted is None else predicted.tolist()
    return zip(
        columns["item_id"].tolist(),
        columns["score"].tolist(),
        predicted,
        columns["because"],
        strict=True,
    )
