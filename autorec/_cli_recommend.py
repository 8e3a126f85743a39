"""``autorec recommend``: top-k movies for users of the data, or for a new person given
with ``--rate``, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

import pandas as pd

from ._cli_common import PROG, CLIError
from ._cli_data import data_title
from ._cli_helpers import (
    _check_writable_target,
    _load,
    _status,
    _table,
    _train_options,
    batch_size_override,
)
from .datasets import RatingsDataset
from .evaluation import MODELS, load_model, make_model

__all__ = ["_recommend"]


def _as_id(text: str, ids: Any) -> Any:
    """A user or item id from the command line, typed like ``ids`` (ints stay ints)."""
    if getattr(ids, "dtype", None) is not None and ids.dtype.kind in "iu":
        try:
            return int(text)
        except ValueError:
            return text  # not an integer: unknown, reported as such
    return str(text)


def _trained_on(model: Any) -> str:
    """What a loaded model was trained on, as far as it knows: counts."""
    utility = getattr(model, "utility_", None)
    users, items = len(model.user_map_), int(model.n_items_)
    if utility is None:  # pragma: no cover - every model keeps its utility matrix
        return f"{users:,} users x {items:,} items"
    return f"{utility.nnz:,} ratings of {users:,} users and {items:,} items"


def _recommend(args: argparse.Namespace) -> int:
    if args.model is not None:
        given = [
            f
            for f in ("kind", "epochs", "batch_size", "random_state")
            if getattr(args, f) is not None
        ]
        if given:
            flags = ", ".join("--" + f.replace("_", "-") for f in given)
            raise CLIError(
                f"{flags} {'chooses' if len(given) == 1 else 'choose'} how a model is "
                f"trained, but --model {args.model} is used as it was saved; drop "
                f"{'it' if len(given) == 1 else 'them'}, or drop --model to train a new one"
            )
        if args.save is not None:
            raise CLIError(
                f"--save keeps the model recommend trains, but with --model {args.model} "
                "nothing is trained (the model is already in that file); drop one of them"
            )
    elif args.save is not None:
        _check_writable_target(args.save, "--save")
    data = _load(args)
    title = data_title(data)
    kind, seed = _train_options(args)
    ratings = data.ratings
    if args.model is not None:
        model = load_model(args.model)
        _status(args, f"loaded model {args.model}, trained on {_trained_on(model)}")
        ids = model.user_map_.ids
        users = [_as_id(u, ids) for u in dict.fromkeys(args.user)]
        unknown = [u for u in users if u not in model.user_map_]
        if unknown:
            raise CLIError(
                f"user {unknown[0]} is not in the model's training data "
                f"({len(unknown)} unknown of {len(users)}); pick users the model was trained on"
            )
    else:
        ids = ratings["user_id"]
        users = [_as_id(u, ids) for u in dict.fromkeys(args.user)]
        known = set(ids.unique().tolist())
        unknown = [u for u in users if u not in known]
        if unknown:
            numeric = ids.dtype.kind in "iu"
            span = f"; user ids run from {ids.min()} to {ids.max()}" if numeric else ""
            raise CLIError(
                f"user {unknown[0]} is not in {title} ({len(unknown)} unknown of "
                f"{len(users)}){span}"
            )
        model = make_model(
            kind,
            epochs=args.epochs,
            random_state=seed,
            verbose=0 if args.quiet else 1,
            rating_scale=data.rating_scale,
            **batch_size_override(args),
        )
        _status(
            args,
            f"no --model given: training the default {MODELS[kind].title} on all "
            f"{len(ratings):,} ratings first (keep it with --save PATH)",
        )
        model.fit(ratings)
        if args.save is not None:
            _status(args, f"model saved to {model.save(args.save)}")
    # Leave out every movie each user rated in the data, not only those the model saw:
    # a model saved by `evaluate --save` was trained on the training part of a split.
    user_column, item_column = ratings["user_id"].to_numpy(), ratings["item_id"]
    movies = _movies_like(model, data)
    results = []
    for user in users:
        seen = set(item_column[user_column == user].tolist())
        k = min(args.k + len(seen), model.n_items_)
        recs = model.recommend(user, k=k, movies=movies)
        recs = recs[~recs["item_id"].isin(seen)].head(args.k)
        results.append((user, recs, False))
    if args.rate:  # the person given on the command line: no id, "new" in CSV and JSON
        results.append(("new", _fold_in(args, model, data, movies), True))
    for user, recs, _ in results:
        _warn_untitled(user, recs, data)
    out = sys.stdout
    if out is None:  # started with stdout closed: nothing to print to
        return 0
    if args.format == "json":
        blocks = [_json_block(u, r, new) for u, r, new in results]
        print(json.dumps(blocks, indent=2, allow_nan=False))
    elif args.format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["user_id", *_COLUMNS])
        for user, recs, _ in results:
            for row in _rows_of(recs):
                writer.writerow([user, *row])
    else:
        for i, (user, recs, new) in enumerate(results):
            if i:
                print()
            who = "the new person (--rate)" if new else f"user {user}"
            excluded = "the movies given with --rate" if new else f"movies rated in {title}"
            print(
                f"Top {len(recs)} movies for {who} ({excluded} excluded; predicted: the "
                "predicted rating; ratings: how many people rated it in the model's training "
                "data):"
            )
            header = ["rank", "movie id", "title", "predicted", "ratings", "genres"]
            rows = [
                [rank, item, name, f"{pred:.1f}", f"{count:,}", genres]
                for rank, item, name, pred, count, genres in _rows_of(recs)
            ]
            print(_table(header, rows, align=">><>><"))
    return 0


_COLUMNS = ["rank", "item_id", "title", "predicted_rating", "n_ratings", "genres"]


def _rows_of(recs: Any) -> list[list[Any]]:
    """(rank, item id, title, predicted rating, count, genres) per recommendation."""
    has_titles = "title" in recs.columns
    out = []
    for rank, (row, item) in enumerate(
        zip(recs.itertuples(index=False), recs["item_id"].tolist(), strict=True), 1
    ):
        name = getattr(row, "title", None) if has_titles else None
        genres = getattr(row, "genres", None) if has_titles else None
        out.append(
            [
                rank,
                item,  # as the model stores it: an int for MovieLens, else a string
                name if isinstance(name, str) else "(no title)",
                round(float(row.predicted_rating), 4),  # float32: more digits are noise
                int(row.n_ratings),
                genres if isinstance(genres, str) else "",
            ]
        )
    return out


def _json_block(user: Any, recs: Any, new: bool) -> dict[str, Any]:
    return {
        "user_id": None if new else user,
        "new_user": new,
        "recommendations": [dict(zip(_COLUMNS, row, strict=True)) for row in _rows_of(recs)],
    }


def _warn_untitled(user: Any, recs: Any, data: RatingsDataset) -> None:
    if data.movies is None:
        return
    untitled = int(recs["title"].isna().sum())
    if untitled:
        where = f"{data.path}'s movies.dat" if data.name == "ml-1m" else str(data.path)
        print(
            f"{PROG}: warning: {untitled} of the {len(recs)} movies recommended to user "
            f"{user} are not in {where} (was the model trained on other data?); they are "
            "shown without a title",
            file=sys.stderr,
        )


def _movies_like(model: Any, data: RatingsDataset) -> Any:
    """The data's movies with ids of the model's type (a model trained on string ids
    and MovieLens' integer ids): what matches gets a title, the rest is warned about."""
    movies = data.movies
    if movies is None or len(model.item_map_.ids) == 0:
        return movies
    if isinstance(model.item_map_.ids[0], str):
        return movies.astype({"item_id": str})
    ids = pd.to_numeric(movies["item_id"], errors="coerce")
    keep = ids.notna() & (ids == ids.round())
    return movies[keep].assign(item_id=ids[keep].astype("int64"))


def _fold_in(args: argparse.Namespace, model: Any, data: RatingsDataset, movies: Any = None) -> Any:
    """Recommendations for a person given by --rate ITEM=RATING, without retraining."""
    item_ids = data.ratings["item_id"]
    given: dict[Any, float] = {}
    for text, value in args.rate:
        item = _as_id(text, item_ids)
        if item in given:
            raise CLIError(f"--rate names movie {item} twice; rate each movie once")
        low, high = data.rating_scale
        if not low <= value <= high:
            raise CLIError(
                f"--rate {text}={value:g}: the rating is outside {data_title(data)}'s "
                f"{low:g}-{high:g} scale"
            )
        given[item] = value
    known = set(model.item_map_.ids.tolist()) if hasattr(model, "item_map_") else None
    if known is not None and not any(item in known for item in given):
        raise CLIError(
            f"none of the movies given with --rate ({', '.join(map(str, given))}) is known to "
            "the model; rate movies that are in the data"
        )
    return model.recommend(None, k=args.k, movies=movies, user_ratings=given)
