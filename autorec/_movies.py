"""The ``movies`` frame ``recommend`` joins titles and genres from: checked once (flat,
unique columns, ids of the model's type) so a bad frame is an error, never NaN titles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["check_movie_ids", "check_movies", "join_movies"]


def check_movies(movies: Any) -> None:
    if (
        not isinstance(movies, pd.DataFrame)
        or isinstance(movies.columns, pd.MultiIndex)
        or "item_id" not in movies.columns
    ):
        got = type(movies).__name__
        if isinstance(movies, pd.DataFrame):
            got = f"columns {[str(c) for c in movies.columns][:6]}"
        raise ValueError(
            "movies must be a DataFrame with a flat 'item_id' column (and title, genres), "
            f"got {got}"
        )
    if movies.columns.duplicated().any():
        dup = sorted({str(c) for c in movies.columns[movies.columns.duplicated()]})
        raise ValueError(f"movies has duplicated column name(s) {dup}; column names must be unique")


def _id_type(ids: np.ndarray) -> str | None:
    """``"int"`` or ``"str"`` when every id is one, else None."""
    if ids.dtype.kind in "iu":
        return "int"
    values = ids.tolist()
    for name, cls in (("int", int | np.integer), ("str", str)):
        if values and all(isinstance(v, cls) and not isinstance(v, bool) for v in values):
            return name
    return None


def check_movie_ids(movies: pd.DataFrame, model_ids: np.ndarray) -> None:
    """Movies whose ids are the model's ids in another type (``"913"`` for ``913``) match
    no item: an error naming the fix, not a column of NaN titles. (Ids that match under no
    type are another data set's: their titles stay missing.)"""
    theirs, ours = _id_type(movies["item_id"].to_numpy()), _id_type(np.asarray(model_ids))
    if theirs and ours and theirs != ours and _match_as(movies["item_id"], ours, model_ids):
        fix = '{"item_id": "int64"}' if ours == "int" else '{"item_id": str}'
        raise ValueError(
            f"movies['item_id'] holds {theirs} ids but the model's item ids are {ours}s, so "
            f"no title would match; convert them first, e.g. movies.astype({fix})"
        )


def _match_as(ids: pd.Series, kind: str, model_ids: np.ndarray) -> bool:
    """Whether some of ``ids``, converted to ``kind``, are model ids."""
    if kind == "int":
        ids = pd.to_numeric(ids, errors="coerce").dropna()
        ids = ids[ids == ids.round()].astype(np.int64)
    else:
        ids = ids.astype(str)
    return bool(pd.Index(ids).isin(pd.Index(np.asarray(model_ids))).any())


def join_movies(result: pd.DataFrame, movies: pd.DataFrame) -> pd.DataFrame:
    extra = [c for c in ("title", "genres") if c in movies.columns]
    meta = movies.drop_duplicates("item_id").set_index("item_id")[extra]
    joined = meta.reindex(result["item_id"].to_numpy())
    out = result.copy()
    for column in extra:
        out[column] = joined[column].to_numpy()
    return out
