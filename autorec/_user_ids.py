"""The user ids a caller passes to ``recommend``: one or an ordered array, never a value
that cannot be an id."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._validation import as_python

__all__ = ["_as_user_ids", "_check_id_values"]


def _as_user_ids(user_id: Any) -> tuple[np.ndarray, bool]:
    """The requested users as a 1-D array, and whether a single user was asked for."""
    if isinstance(user_id, set | frozenset | dict | Mapping | Iterator):
        raise TypeError(
            f"user_id must be one id or an ordered array-like of ids (list, array, Series), "
            f"got a {type(user_id).__name__}"
        )
    try:
        if np.ndim(user_id) == 0:
            return np.asarray([user_id], dtype=object if isinstance(user_id, str) else None), True
        ids = (
            user_id.to_numpy() if isinstance(user_id, pd.Series | pd.Index) else np.asarray(user_id)
        )
    except ValueError:  # a ragged list: NumPy's "inhomogeneous shape"
        raise ValueError(
            f"user_id must be one id or a 1-D array of ids, got a nested sequence {user_id!r:.80}"
        ) from None
    if ids.ndim != 1:
        raise ValueError(f"user_id must be one id or a 1-D array of ids, got shape {ids.shape}")
    if ids.size == 0:
        raise ValueError("user_id is empty; pass one user id or at least one in a list")
    return ids, False


def _check_id_values(ids: np.ndarray, name: str) -> None:
    """Ids that cannot be ids (NaN, None, 1.5, booleans) are an error naming the value."""
    for value in ids.tolist() if ids.dtype.kind in "fObc" else ():
        if (
            value is None
            or isinstance(value, bool)
            or (isinstance(value, float) and not (np.isfinite(value) and value == int(value)))
            or isinstance(value, complex)
        ):
            raise ValueError(
                f"{name} {as_python(value)!r} cannot be an id; ids are integers or strings"
            )
