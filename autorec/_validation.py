"""Input checks shared by the whole library.

Every check raises an exception whose message names the bad value and says
what is allowed, so a user can fix the input without reading the source.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["check_k", "check_ratings"]

_ID_COLUMNS = ("user_id", "item_id")
_DUPLICATE_POLICIES = ("error", "last")


def _py(value: object) -> object:
    """NumPy scalar -> Python scalar, so messages read ``nan`` not ``np.float64(nan)``."""
    return value.item() if isinstance(value, np.generic) else value


def _row_label(frame: pd.DataFrame, position: int) -> str:
    """Describe the row at ``position`` by position and, if different, index label."""
    label = _py(frame.index[position])
    if isinstance(label, numbers.Integral) and int(label) == position:
        return f"row {position}"
    return f"row {position} (index label {label!r})"


def _first_bad(frame: pd.DataFrame, mask: np.ndarray, column: str) -> str:
    """Name the first offending value of ``column`` where ``mask`` is true."""
    position = int(np.flatnonzero(mask)[0])
    value = _py(frame[column].iloc[position])
    return f"{value!r} at {_row_label(frame, position)}"


def _check_ids(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    """Return the id column, cast to int64 when it holds integral floats."""
    col = frame[column]
    if col.isna().any():
        mask = col.isna().to_numpy()
        raise ValueError(
            f"{name}[{column!r}] has {int(mask.sum())} missing value(s), first at "
            f"{_row_label(frame, int(np.flatnonzero(mask)[0]))}; ids must be integers or "
            "strings with no NaN/None"
        )
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise ValueError(f"{name}[{column!r}] has boolean values; ids must be integers or strings")
    if pd.api.types.is_float_dtype(dtype):
        values = col.to_numpy()
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            raise ValueError(
                f"{name}[{column!r}] holds non-integral float id "
                f"{_first_bad(frame, bad, column)}; ids must be integers or strings"
            )
        if np.abs(values).max() >= 2.0**53:
            raise ValueError(
                f"{name}[{column!r}] holds float ids as large as {_py(values.max())!r}, which "
                "floats cannot store exactly; read the ids as int64 or strings"
            )
        return col.astype(np.int64)
    if dtype.kind == "O":
        kind = pd.api.types.infer_dtype(col, skipna=False)
        if kind not in ("string", "integer", "bytes", "categorical"):
            values = col.to_numpy()
            first_type = type(values[0])
            bad = np.fromiter((type(v) is not first_type for v in values), bool, len(values))
            where = f", e.g. {_first_bad(frame, bad, column)}" if bad.any() else ""
            raise ValueError(
                f"{name}[{column!r}] holds ids of mixed or unsupported types ({kind}){where}; "
                "ids must be all integers or all strings"
            )
    return col


def _check_rating_values(
    frame: pd.DataFrame,
    name: str,
    rating_scale: tuple[float, float] | None,
) -> pd.Series:
    col = frame["rating"]
    if pd.api.types.is_bool_dtype(col.dtype):
        raise ValueError(f"{name}['rating'] has boolean values; ratings must be finite numbers")
    if not pd.api.types.is_numeric_dtype(col.dtype):
        converted = pd.to_numeric(col, errors="coerce")
        bad = (converted.isna() & col.notna()).to_numpy()
        if bad.any():
            raise ValueError(
                f"{name}['rating'] has {int(bad.sum())} non-numeric value(s), first "
                f"{_first_bad(frame, bad, 'rating')}; ratings must be finite numbers"
            )
        col = converted.astype(np.float64)
    values = col.to_numpy()
    if np.iscomplexobj(values):
        raise ValueError(f"{name}['rating'] is complex; ratings must be finite real numbers")
    finite = np.isfinite(values.astype(np.float64, copy=False))
    if not finite.all():
        bad = ~finite
        position = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name}['rating'] has {int(bad.sum())} NaN or infinite value(s), first "
            f"{_py(values[position])!r} at {_row_label(frame, position)}; ratings must be "
            "finite numbers (drop or fill the missing ones first)"
        )
    if rating_scale is not None:
        lo, hi = rating_scale
        bad = (values < lo) | (values > hi)
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name}['rating'] has {int(bad.sum())} value(s) outside the rating scale "
                f"[{lo}, {hi}], first {_py(values[position])!r} at {_row_label(frame, position)}"
            )
    return col


def _check_scale(rating_scale: Sequence[float] | None) -> tuple[float, float] | None:
    if rating_scale is None:
        return None
    if isinstance(rating_scale, (str, bytes)):
        raise ValueError(
            f"rating_scale must be None or a pair (low, high) of numbers, got {rating_scale!r}"
        )
    try:
        lo, hi = rating_scale
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ValueError(
            f"rating_scale must be None or a pair (low, high) of numbers, got {rating_scale!r}"
        ) from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise ValueError(
            f"rating_scale must be a pair of finite numbers with low <= high, got {rating_scale!r}"
        )
    return lo, hi


def check_ratings(
    ratings: pd.DataFrame,
    *,
    require_rating: bool = True,
    rating_scale: Sequence[float] | None = None,
    duplicates: str = "error",
    name: str = "ratings",
) -> pd.DataFrame:
    """Validate a ratings frame and return a cleaned copy.

    Parameters
    ----------
    ratings : pandas.DataFrame
        One row per rating with columns ``user_id``, ``item_id`` and ``rating``.
        Ids may be integers (any size, e.g. up to ``10**12``: nothing is
        allocated by id value) or strings. Extra columns (``timestamp``...) are kept.
    require_rating : bool, default=True
        Whether the ``rating`` column must be present. When it is absent and
        not required (e.g. a frame of (user, item) pairs to score) only the ids
        are checked; when present it is always checked.
    rating_scale : tuple of (float, float) or None, default=None
        Inclusive ``(low, high)`` bounds; ratings outside raise ``ValueError``.
    duplicates : {"error", "last"}, default="error"
        What to do with repeated ``(user_id, item_id)`` pairs: raise, or keep
        the last row of each pair (earlier rows are dropped).
    name : str, default="ratings"
        Name used for the frame in error messages.

    Returns
    -------
    pandas.DataFrame
        A new frame (the input is never modified). Integral float ids are cast
        to int64 and numeric strings in ``rating`` are converted to float64.

    Raises
    ------
    TypeError
        If ``ratings`` is not a DataFrame.
    ValueError
        If a required column is missing, the frame is empty, an id is missing
        (NaN/None), a rating is NaN, infinite, non-numeric or outside
        ``rating_scale``, a pair is duplicated and ``duplicates="error"``, or
        ``duplicates`` is not one of the allowed values.

    Examples
    --------
    >>> import pandas as pd
    >>> from autorec._validation import check_ratings
    >>> df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10],
    ...                    "rating": [4.0, 3.0, 5.0]})
    >>> check_ratings(df, rating_scale=(1, 5)).shape
    (3, 3)
    >>> check_ratings(df.assign(rating=[4.0, float("nan"), 5.0]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ratings['rating'] has 1 NaN or infinite value(s), first nan at row 1; ...
    """
    if not isinstance(ratings, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame with columns user_id, item_id, rating; "
            f"got {type(ratings).__name__}"
        )
    if duplicates not in _DUPLICATE_POLICIES:
        raise ValueError(
            f"duplicates must be one of {list(_DUPLICATE_POLICIES)}, got {duplicates!r}"
        )
    scale = _check_scale(rating_scale)
    required = list(_ID_COLUMNS) + (["rating"] if require_rating else [])
    missing = [c for c in required if c not in ratings.columns]
    if missing:
        raise ValueError(
            f"{name} is missing column(s) {missing}; it has columns "
            f"{[str(c) for c in ratings.columns]}. Expected columns {required} "
            "(rename yours with DataFrame.rename(columns={...}))"
        )
    if ratings.columns.duplicated().any():
        dup = sorted({str(c) for c in ratings.columns[ratings.columns.duplicated()]})
        raise ValueError(f"{name} has duplicated column name(s) {dup}; column names must be unique")
    if len(ratings) == 0:
        raise ValueError(f"{name} is empty (0 rows); at least one rating is needed")

    out = ratings.copy()
    for column in _ID_COLUMNS:
        out[column] = _check_ids(ratings, column, name)
    if "rating" in out.columns:
        out["rating"] = _check_rating_values(ratings, name, scale)

    dup_mask = out.duplicated(list(_ID_COLUMNS), keep="last").to_numpy()
    if dup_mask.any():
        if duplicates == "error":
            first = int(np.flatnonzero(dup_mask)[0])
            user, item = _py(out["user_id"].iloc[first]), _py(out["item_id"].iloc[first])
            raise ValueError(
                f"{name} has {int(dup_mask.sum())} duplicate (user_id, item_id) row(s); the "
                f"first is ({user!r}, {item!r}) at {_row_label(ratings, first)}. Each pair "
                "may be rated once: remove the repeats, or pass duplicates='last' to keep "
                "the last rating of each pair"
            )
        out = out.loc[~dup_mask]
    return out


def check_k(k: int, *, name: str = "k") -> int:
    """Check that ``k`` is an integer >= 1 and return it as ``int``.

    Parameters
    ----------
    k : int
        The value to check. Python and NumPy integers are accepted; ``bool``
        and floats (even ``3.0``) are rejected.
    name : str, default="k"
        Name used in error messages.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``k`` is not an integer (or is a bool).
    ValueError
        If ``k < 1``.

    Examples
    --------
    >>> from autorec._validation import check_k
    >>> check_k(10)
    10
    >>> check_k(0)
    Traceback (most recent call last):
    ...
    ValueError: k must be an integer >= 1, got 0
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer >= 1, got {_py(k)!r} of type {type(k).__name__}"
        )
    if k < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {_py(k)!r}")
    return int(k)
