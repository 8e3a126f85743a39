"""Id maps and the users x items utility (rating) matrix."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from autorec._validation import check_ratings

__all__ = ["IdMap", "UtilityMatrix", "utility_matrix"]

_UNKNOWN_POLICIES = ("error", "drop")


def _as_id_array(ids: Iterable, name: str = "ids") -> np.ndarray:
    """1-D array of ids: int64 for integers, object (Python str...) otherwise."""
    if isinstance(ids, (pd.Series, pd.Index)):
        arr = ids.to_numpy()
    else:
        arr = np.asarray(ids if not isinstance(ids, (set, frozenset)) else sorted(ids))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got an array of shape {arr.shape}")
    kind = arr.dtype.kind
    if kind == "b":
        raise TypeError(f"{name} must be integers or strings, got booleans")
    if kind == "u":
        if arr.size and arr.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{name} holds {arr.max().item()}, larger than int64 allows")
        return arr.astype(np.int64)
    if kind == "i":
        return arr.astype(np.int64, copy=False)
    if kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise ValueError(
                f"{name} must be integers or strings, got {arr[bad][0].item()!r} among floats"
            )
        return arr.astype(np.int64)
    if kind in "USO":
        return arr.astype(object)
    raise TypeError(f"{name} must be integers or strings, got dtype {arr.dtype}")


class IdMap:
    """A bijection between raw ids and indices 0 to ``n - 1``.

    Parameters
    ----------
    ids : array-like
        The distinct ids, in index order (integers or strings). Use
        :meth:`from_ids` to build a map from ids with repeats (sorted order).

    Attributes
    ----------
    ids : numpy.ndarray
        Read-only array of the ids; ``ids[i]`` is the id with index ``i``.

    Examples
    --------
    >>> from autorec.datasets import IdMap
    >>> m = IdMap.from_ids([30, 10, 20, 10])
    >>> m.ids
    array([10, 20, 30])
    >>> m.transform([20, 99, 10])
    array([ 1, -1,  0])
    >>> m.inverse_transform([2, 0])
    array([30, 10])
    >>> 99 in m, len(m)
    (False, 3)
    >>> IdMap.from_list(m.to_list()) == m
    True
    """

    __slots__ = ("_ids", "_index")

    def __init__(self, ids: Iterable) -> None:
        arr = _as_id_array(ids).copy()
        index = pd.Index(arr, dtype=arr.dtype, tupleize_cols=False)
        if not index.is_unique:
            dup = index[index.duplicated()][0]
            dup = dup.item() if isinstance(dup, np.generic) else dup
            raise ValueError(
                f"IdMap ids must be distinct, but {dup!r} appears more than once; "
                "use IdMap.from_ids to build a map from ids with repeats"
            )
        arr.flags.writeable = False
        self._ids = arr
        self._index = index

    @classmethod
    def from_ids(cls, ids: Iterable) -> IdMap:
        """Map built from the sorted distinct values of ``ids``."""
        arr = _as_id_array(ids)
        try:
            unique = np.sort(pd.unique(arr))
        except TypeError:
            kinds = sorted({type(v).__name__ for v in arr})
            raise TypeError(
                f"ids mix types that cannot be sorted together ({', '.join(kinds)}); "
                "use all integers or all strings"
            ) from None
        return cls(unique)

    @classmethod
    def from_list(cls, ids: list) -> IdMap:
        """Inverse of :meth:`to_list` (keeps the order given)."""
        return cls(ids)

    def to_list(self) -> list:
        """The ids as a list of Python ints or strings (JSON-friendly)."""
        return self._ids.tolist()

    @property
    def ids(self) -> np.ndarray:
        return self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item: object) -> bool:
        try:
            return bool(item in self._index)
        except TypeError:
            return False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdMap):
            return NotImplemented
        return len(self) == len(other) and bool(self._index.equals(other._index))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        head = ", ".join(repr(v) for v in self._ids[:5].tolist())
        more = ", ..." if len(self) > 5 else ""
        return f"IdMap(n={len(self)}, ids=[{head}{more}])"

    def transform(self, ids: Iterable) -> np.ndarray:
        """Indices of ``ids`` (int64), ``-1`` for ids not in the map."""
        arr = np.asarray(ids.to_numpy() if isinstance(ids, (pd.Series, pd.Index)) else ids)
        if arr.ndim != 1:
            raise ValueError(f"ids must be one-dimensional, got an array of shape {arr.shape}")
        if arr.dtype.kind == "b":
            raise TypeError("ids must be integers or strings, got booleans")
        if arr.dtype.kind in "US":
            arr = arr.astype(object)
        return self._index.get_indexer(arr).astype(np.int64, copy=False)

    def inverse_transform(self, index: Iterable[int]) -> np.ndarray:
        """Ids at the given indices.

        Raises
        ------
        IndexError
            If an index is outside ``[0, len(self))``.
        TypeError
            If the indices are not integers.
        """
        idx = np.asarray(index)
        if idx.dtype.kind not in "iu":
            if idx.size == 0:
                idx = idx.astype(np.int64)
            else:
                raise TypeError(f"indices must be integers, got dtype {idx.dtype}")
        bad = (idx < 0) | (idx >= len(self))
        if bad.any():
            raise IndexError(
                f"index {idx[bad].flat[0]} is out of range; allowed indices are 0 to "
                f"{len(self) - 1} ({np.count_nonzero(bad)} out of range in total)"
            )
        return self._ids[idx]


@dataclass(eq=False, repr=False)
class UtilityMatrix:
    """A users x items rating matrix with its id maps.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix
        float32, shape ``(len(user_map), len(item_map))``; stored entries are
        the ratings (a rating of 0 is stored explicitly).
    user_map, item_map : IdMap
        Row and column ids.
    n_unknown_users, n_unknown_items : int
        Distinct user / item ids of the input missing from the given maps.
    n_dropped : int
        Ratings dropped because of unknown ids (``unknown="drop"``).
    """

    matrix: sp.csr_matrix
    user_map: IdMap
    item_map: IdMap
    n_unknown_users: int = 0
    n_unknown_items: int = 0
    n_dropped: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    def __repr__(self) -> str:
        n_users, n_items = self.shape
        return (
            f"UtilityMatrix({n_users} users x {n_items} items, {self.nnz} ratings, "
            f"n_dropped={self.n_dropped})"
        )

    def to_dense(self, dtype: npt.DTypeLike = np.float32) -> np.ndarray:
        """Dense ``(n_users, n_items)`` array, 0 where there is no rating."""
        return self.matrix.toarray().astype(dtype, copy=False)

    def to_frame(self) -> pd.DataFrame:
        """The stored ratings as a ``user_id, item_id, rating`` frame, sorted by row then column."""
        coo = self.matrix.tocoo()
        order = np.lexsort((coo.col, coo.row))
        return pd.DataFrame(
            {
                "user_id": self.user_map.inverse_transform(coo.row[order]),
                "item_id": self.item_map.inverse_transform(coo.col[order]),
                "rating": coo.data[order],
            }
        )


def _describe_ids(values: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(repr(v) for v in values[:limit].tolist())
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


def utility_matrix(
    ratings: pd.DataFrame,
    *,
    user_map: IdMap | None = None,
    item_map: IdMap | None = None,
    unknown: str = "error",
) -> UtilityMatrix:
    """Build the users x items CSR rating matrix of a ratings frame.

    Parameters
    ----------
    ratings : pandas.DataFrame
        Columns ``user_id``, ``item_id``, ``rating`` (checked with
        ``autorec._validation.check_ratings``; duplicate pairs are an error).
    user_map, item_map : IdMap, default=None
        Maps to reuse (e.g. the training matrix's, to build a test matrix with
        the same rows and columns). When None, built from ``ratings`` (sorted ids).
    unknown : {"error", "drop"}, default="error"
        What to do with ratings whose user or item is not in the given maps:
        raise, or drop them with a warning (counted in ``n_dropped``). They
        are never silently dropped or mapped to another row.

    Returns
    -------
    UtilityMatrix

    Raises
    ------
    ValueError
        Invalid ratings, an invalid ``unknown``, or unknown ids with
        ``unknown="error"`` (the message names the first few and counts them).
    TypeError
        If a map is not an :class:`IdMap`.

    Warns
    -----
    UserWarning
        When ``unknown="drop"`` drops ratings.

    Examples
    --------
    >>> import pandas as pd
    >>> from autorec.datasets import utility_matrix
    >>> train = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10],
    ...                       "rating": [4.0, 3.0, 5.0]})
    >>> um = utility_matrix(train)
    >>> um.to_dense()
    array([[4., 3.],
           [5., 0.]], dtype=float32)
    >>> test = pd.DataFrame({"user_id": [2], "item_id": [20], "rating": [1.0]})
    >>> utility_matrix(test, user_map=um.user_map, item_map=um.item_map).to_dense()
    array([[0., 0.],
           [0., 1.]], dtype=float32)
    """
    if unknown not in _UNKNOWN_POLICIES:
        raise ValueError(f"unknown must be one of {list(_UNKNOWN_POLICIES)}, got {unknown!r}")
    for name, value in (("user_map", user_map), ("item_map", item_map)):
        if value is not None and not isinstance(value, IdMap):
            raise TypeError(f"{name} must be an IdMap or None, got {type(value).__name__}")
    return utility_from_checked(
        check_ratings(ratings), user_map=user_map, item_map=item_map, unknown=unknown
    )


def utility_from_checked(
    frame: pd.DataFrame,
    *,
    user_map: IdMap | None = None,
    item_map: IdMap | None = None,
    unknown: str = "error",
) -> UtilityMatrix:
    """:func:`utility_matrix` of a frame that ``autorec._validation.check_ratings``
    already validated (so a ``fit`` validates its ratings once)."""
    users = _as_id_array(frame["user_id"], "user_id")
    items = _as_id_array(frame["item_id"], "item_id")
    if user_map is None:
        user_map = IdMap.from_ids(users)
    if item_map is None:
        item_map = IdMap.from_ids(items)
    rows = user_map.transform(users)
    cols = item_map.transform(items)
    values = frame["rating"].to_numpy(dtype=np.float32)

    bad_users = rows < 0
    bad_items = cols < 0
    bad = bad_users | bad_items
    n_unknown_users = n_unknown_items = n_dropped = 0
    if bad.any():
        unknown_users = pd.unique(users[bad_users])
        unknown_items = pd.unique(items[bad_items])
        n_unknown_users, n_unknown_items = len(unknown_users), len(unknown_items)
        n_dropped = int(bad.sum())
        parts = []
        if n_unknown_users:
            parts.append(
                f"{n_unknown_users} user id(s) not in user_map {_describe_ids(unknown_users)}"
            )
        if n_unknown_items:
            parts.append(
                f"{n_unknown_items} item id(s) not in item_map {_describe_ids(unknown_items)}"
            )
        what = " and ".join(parts)
        if unknown == "error":
            raise ValueError(
                f"{n_dropped} rating(s) have ids unseen when the maps were built: {what}. Pass "
                "unknown='drop' to drop them (counted in n_dropped), or build the maps "
                "from data that contains them"
            )
        warnings.warn(
            f"utility_matrix dropped {n_dropped} rating(s) with unknown ids: {what}",
            UserWarning,
            stacklevel=3,
        )
        keep = ~bad
        rows, cols, values = rows[keep], cols[keep], values[keep]

    matrix = sp.csr_matrix(
        (values, (rows, cols)), shape=(len(user_map), len(item_map)), dtype=np.float32
    )
    matrix.sort_indices()
    return UtilityMatrix(
        matrix=matrix,
        user_map=user_map,
        item_map=item_map,
        n_unknown_users=n_unknown_users,
        n_unknown_items=n_unknown_items,
        n_dropped=n_dropped,
    )
