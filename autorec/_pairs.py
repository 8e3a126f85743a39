"""Pairs to score given as a list: ``predict([(8, 913)])`` as well as a frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["pairs_frame"]


def pairs_frame(pairs: Any, name: str = "pairs") -> Any:
    """A list (or tuple) of ``(user_id, item_id)`` pairs, or an n x 2 array, as a frame
    with columns ``user_id`` and ``item_id``; anything else is returned as it is (for
    ``autorec._validation.check_pairs`` to check).

    Examples
    --------
    >>> from autorec._pairs import pairs_frame
    >>> pairs_frame([(8, 913), (8, 1)]).to_dict("list")
    {'user_id': [8, 8], 'item_id': [913, 1]}
    """
    if not isinstance(pairs, list | tuple | np.ndarray):
        return pairs
    rows = list(pairs)
    bad = [p for p in rows if not isinstance(p, list | tuple | np.ndarray) or len(p) != 2]
    if bad or (isinstance(pairs, np.ndarray) and pairs.ndim != 2):
        shown = bad[0] if bad else pairs
        raise ValueError(
            f"{name} must be a DataFrame or a list of (user_id, item_id) pairs, got an entry "
            f"{shown!r:.80}"
        )
    return pd.DataFrame([tuple(p) for p in rows], columns=["user_id", "item_id"])
