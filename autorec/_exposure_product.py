"""The exposure term of the hybrid ranking (``autorec._hybrid``): its floor, the product of
the binary and rating-fed exposure models, and the stand-in for a user the rating-fed
model sees no interest in."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["EPS", "exposure_floor", "popular_when_uninterested", "product_exposure"]

#: Exposure scores below this count as "would not rate" before the log.
EPS = 1e-4


def product_exposure(binary: np.ndarray, graded: np.ndarray, gamma: float) -> np.ndarray:
    """``max(binary, EPS) * max(graded, EPS) ** gamma``: both exposure models at once
    (after the log, a weighted sum of their logs). It is at least ``EPS ** (1 + gamma)``,
    the floor its log must use (:func:`exposure_floor`): floored at ``EPS`` again, every
    item of a user whose rating-fed input is empty (someone who gave only the lowest
    rating) would sit at the floor and the binary model's ranking would be lost."""
    floor = np.float32(EPS)
    out = np.maximum(graded, floor)
    if gamma != 1:
        np.power(out, np.float32(gamma), out=out)
    out *= np.maximum(binary, floor)
    return out


def exposure_floor(exposure_params: dict[str, Any] | None) -> float:
    """The least exposure score of a model fed ``exposure_params``: ``EPS``, or
    ``EPS ** (1 + gamma)`` for the product of both models (:func:`product_exposure`)."""
    fed = exposure_params or {}
    if fed.get("input") == "both":
        return float(EPS ** (1.0 + float(fed["gamma"])))
    return EPS


def popular_when_uninterested(
    exposure: np.ndarray, rows: sp.csr_matrix, shift: float, popularity: np.ndarray
) -> None:
    """Give the rows whose rating-fed input is empty (every rating at the scale's lowest
    value, ``shift``) each item's share of the training ratings as their exposure, in
    place: the model fed only ratings sees no interest at all in such a user, and with
    every item at the floor the rating term alone would rank movies one or two people
    loved first."""
    interested = rows.data > shift
    counts = np.bincount(
        np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))[interested],
        minlength=rows.shape[0],
    )
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        share = np.asarray(popularity, dtype=np.float32) / max(float(np.max(popularity)), 1.0)
        exposure[empty] = share[None, :]
