"""Input checks shared by the whole library.

Every check raises an exception whose message names the bad value and says
what is allowed, so a user can fix the input without reading the source.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._pairs import pairs_frame
from ._runtime_checks import check_random_state, resolve_device, seed_from

__all__ = [
    "as_python",
    "check_bool",
    "check_k",
    "check_option",
    "check_pairs",
    "check_random_state",
    "check_rating_scale",
    "check_ratings",
    "check_scalar",
    "resolve_device",
    "seed_from",
]

_ID_COLUMNS = ("user_id", "item_id")
_DUPLICATE_POLICIES = ("error", "last")


def _py(value: object) -> object:
    """NumPy scalar -> Python scalar, so messages read ``nan`` not ``np.float64(nan)``."""
    return value.item() if isinstance(value, np.generic) else value


def as_python(value: object) -> object:
    """NumPy scalar -> Python scalar (for messages and JSON); anything else unchanged."""
    return _py(value)


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
    if getattr(col.dtype, "kind", "") in "mM":
        raise ValueError(
            f"{name}['rating'] has dtype {col.dtype} (dates or durations); ratings must be "
            "finite numbers"
        )
    if col.dtype.kind == "O":
        is_bool = np.fromiter(
            (isinstance(v, bool | np.bool_) for v in col.to_numpy()), bool, len(col)
        )
        if is_bool.any():
            raise ValueError(
                f"{name}['rating'] holds a boolean, {_first_bad(frame, is_bool, 'rating')}; "
                "ratings must be finite numbers"
            )
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


def check_rating_scale(rating_scale: Any, name: str = "rating_scale") -> tuple[float, float] | None:
    """``None`` or a pair of finite numbers ``(low, high)`` with ``low <= high``.

    The one rule for a rating scale everywhere (parameters, fitted state, saved files):
    ``low == high`` is allowed, since a model fitted on ratings that are all equal has
    that scale and must save and load.
    """
    if rating_scale is None:
        return None
    bad = ValueError(
        f"{name} must be None or a pair (low, high) of finite numbers with low <= high, "
        f"got {_py(rating_scale)!r}"
    )
    if isinstance(rating_scale, str | bytes) or not isinstance(rating_scale, Sequence | np.ndarray):
        raise bad
    if len(rating_scale) != 2 or not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_) for v in rating_scale
    ):
        raise bad
    lo, hi = float(rating_scale[0]), float(rating_scale[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise bad
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
    if isinstance(ratings.columns, pd.MultiIndex):
        raise ValueError(
            f"{name} has MultiIndex columns {list(ratings.columns)[:4]}; it needs flat columns "
            "named 'user_id', 'item_id' and 'rating'"
        )
    scale = check_rating_scale(rating_scale)
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
            user, item = (
                _py(out["user_id"].iloc[first]),
                _py(out["item_id"].iloc[first]),
            )
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


def check_scalar(
    value: Any,
    name: str,
    kind: type = float,
    *,
    low: float | None = None,
    high: float | None = None,
    include_low: bool = True,
    include_high: bool = True,
) -> Any:
    """Check a number against bounds and return it as a Python ``int`` or ``float``.

    Like scikit-learn's ``check_scalar``: NumPy scalars are accepted (and converted, so
    the value stays JSON-friendly), booleans and NaN are not.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The parameter's name, for the message.
    kind : {int, float}, default=float
        ``int`` accepts integers only; ``float`` accepts any real number.
    low, high : float, optional
        Bounds; ``include_low`` / ``include_high`` say whether they are allowed.

    Raises
    ------
    TypeError
        If ``value`` is not a number of the right kind.
    ValueError
        If it is NaN or outside the bounds.

    Examples
    --------
    >>> from autorec._validation import check_scalar
    >>> check_scalar(0.5, "dropout", low=0.0, high=1.0, include_high=False)
    0.5
    >>> check_scalar(1.0, "dropout", low=0.0, high=1.0, include_high=False)
    Traceback (most recent call last):
    ...
    ValueError: dropout must be in [0.0, 1.0), got 1.0
    """
    wanted = numbers.Integral if kind is int else numbers.Real
    if isinstance(value, bool | np.bool_) or not isinstance(value, wanted):
        what = "an integer" if kind is int else "a number"
        raise TypeError(f"{name} must be {what}, got {_py(value)!r} of type {type(value).__name__}")
    out = int(value) if kind is int else float(value)
    left = "[" if include_low else "("
    right = "]" if include_high else ")"
    span = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    if kind is not int and not math.isfinite(out):
        raise ValueError(f"{name} must be a finite number in {span}, got {_py(value)!r}")
    too_low = low is not None and (out < low or (out == low and not include_low))
    too_high = high is not None and (out > high or (out == high and not include_high))
    if too_low or too_high:
        raise ValueError(f"{name} must be in {span}, got {_py(value)!r}")
    return out


def check_option(value: Any, name: str, options: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``options``, else raise naming them."""
    try:
        ok = any(type(value) is type(o) and value == o for o in options)
    except Exception:
        ok = False
    if not ok:
        allowed = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name}={_py(value)!r} is not supported; use one of {allowed}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` as a ``bool`` if it is one (``numpy.bool_`` included).

    Strings such as ``"no"`` are truthy in Python: a flag accepts booleans only.
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {_py(value)!r}")
    return bool(value)


def check_pairs(pairs: Any, name: str = "pairs") -> pd.DataFrame:
    """(user_id, item_id) pairs to score, checked, as a DataFrame: a frame with columns
    ``user_id`` and ``item_id`` (returned unchanged), or a list / n x 2 array of pairs. The
    same rule for every model: ids all integers or all strings, no NaN / None, no fractional
    floats (``1.5`` cannot be an id); an empty frame scores to an empty array."""
    pairs = pairs_frame(pairs, name)
    if not isinstance(pairs, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame with columns 'user_id' and 'item_id', "
            f"got {type(pairs).__name__}"
        )
    if isinstance(pairs.columns, pd.MultiIndex):
        raise ValueError(
            f"{name} has MultiIndex columns {list(pairs.columns)[:4]}; it needs flat columns "
            "named 'user_id' and 'item_id'"
        )
    missing = [c for c in _ID_COLUMNS if c not in pairs.columns]
    if missing:
        raise ValueError(
            f"{name} is missing column(s) {missing}; it needs 'user_id' and 'item_id' "
            f"(it has {[str(c) for c in pairs.columns]})"
        )
    if pairs.columns.duplicated().any():
        dup = sorted({str(c) for c in pairs.columns[pairs.columns.duplicated()]})
        raise ValueError(f"{name} has duplicated column name(s) {dup}; column names must be unique")
    if len(pairs):
        for column in _ID_COLUMNS:
            _check_ids(pairs, column, name)
    return pairs
