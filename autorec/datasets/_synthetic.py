"""Synthetic explicit-ratings generator with planted structure and long tails."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["make_ratings"]

# Ratings handled per chunk of consecutive users: bounds the working memory.
_CHUNK_RATINGS = 1_000_000
# Cells of the (users x items) score block used by the exact dense fallback.
_DENSE_CELLS = 4_000_000
_MAX_ROUNDS = 8


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_real(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number >= 0, got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_scale(rating_scale: Any) -> tuple[int, int]:
    try:
        lo, hi = rating_scale
    except (TypeError, ValueError):
        raise ValueError(
            f"rating_scale must be a pair (low, high) of ints with low < high, got {rating_scale!r}"
        ) from None
    ok = all(
        isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in (lo, hi)
    )
    if not ok or lo >= hi:
        raise ValueError(
            f"rating_scale must be a pair (low, high) of ints with low < high, got {rating_scale!r}"
        )
    return int(lo), int(hi)


def _allocate(total: int, weights: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``total`` ratings over users in proportion to ``weights``, at most ``cap`` each.

    Every user gets at least one rating when ``total >= len(weights)``.
    """
    n = weights.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    if total >= n:
        counts += 1
    remaining = total - int(counts.sum())
    while remaining > 0:
        w = np.where(counts < cap, weights, 0.0)
        add = rng.multinomial(remaining, w / w.sum())
        add = np.minimum(add, cap - counts)
        counts += add
        remaining -= int(add.sum())
    return counts


def _dense_top_up(
    users: np.ndarray,
    need: np.ndarray,
    chosen: np.ndarray,
    log_p: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Exact weighted sampling without replacement (Gumbel top-k) for a few users.

    ``users`` are chunk-local user codes, ``need`` how many new items each still needs,
    ``chosen`` the sorted keys ``user * n_items + item`` already drawn (excluded).
    Returns the new keys.
    """
    n_items = log_p.shape[0]
    rows = max(1, _DENSE_CELLS // n_items)
    out = []
    for start in range(0, users.shape[0], rows):
        u = users[start : start + rows]
        d = need[start : start + rows]
        g = log_p + rng.gumbel(size=(u.shape[0], n_items))
        lo = np.searchsorted(chosen, u * n_items)
        hi = np.searchsorted(chosen, (u + 1) * n_items)
        taken = chosen[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])]
        row_of = np.repeat(np.arange(u.shape[0]), hi - lo)
        g[row_of, taken % n_items] = -np.inf
        order = np.argsort(-g, axis=1, kind="stable")
        keep = np.arange(n_items)[None, :] < d[:, None]
        items = order[keep]
        out.append(np.repeat(u, d) * n_items + items)
    return np.concatenate(out) if out else np.empty(0, dtype=np.int64)


def _sample_chunk(
    counts: np.ndarray, p: np.ndarray, cdf: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``counts[j]`` distinct items for each chunk-local user ``j``.

    Items are drawn with probability ``p``, without replacement per user (successive
    sampling): rounds of draws with replacement, keeping per user the first new distinct
    items in draw order, which is exactly sequential sampling with rejection. Users whose
    remaining draws would cost more than a dense row go to :func:`_dense_top_up`.

    Returns the sorted keys ``user * n_items + item``.
    """
    n_local = counts.shape[0]
    n_items = p.shape[0]
    chosen = np.empty(0, dtype=np.int64)
    deficit = counts.copy()
    mass = np.zeros(n_local)  # probability mass already taken by each user
    dense = np.zeros(n_local, dtype=bool)  # users left to the exact dense fallback
    for round_ in range(_MAX_ROUNDS):
        active = np.flatnonzero((deficit > 0) & ~dense)
        if active.size == 0:
            break
        free_mass = np.maximum(1.0 - mass[active], 1e-12)
        m = np.ceil(deficit[active] * 1.1 / free_mass).astype(np.int64) + 2
        to_dense = m > n_items // 2 if round_ < _MAX_ROUNDS - 1 else np.ones_like(m, bool)
        if to_dense.any():
            dense[active[to_dense]] = True
            active, m = active[~to_dense], m[~to_dense]
            if active.size == 0:
                break
        draw_users = np.repeat(active, m)
        draw_items = np.searchsorted(cdf, rng.random(draw_users.shape[0]), side="right")
        keys = draw_users * n_items + np.minimum(draw_items, n_items - 1)
        if chosen.size:
            pos = np.minimum(np.searchsorted(chosen, keys), chosen.size - 1)
            keys = keys[chosen[pos] != keys]
        _, first = np.unique(keys, return_index=True)
        keys = keys[np.sort(first)]  # distinct new keys in draw order, grouped by user
        user = keys // n_items
        per_user = np.bincount(user, minlength=n_local)
        starts = np.cumsum(per_user) - per_user
        rank = np.arange(keys.shape[0]) - starts[user]
        new = keys[rank < deficit[user]]
        new_user = new // n_items
        deficit -= np.bincount(new_user, minlength=n_local)
        mass += np.bincount(new_user, weights=p[new % n_items], minlength=n_local)
        chosen = np.sort(np.concatenate([chosen, new]))
    if dense.any():
        users = np.flatnonzero(dense)
        extra = _dense_top_up(users, deficit[users], chosen, np.log(p), rng)
        chosen = np.sort(np.concatenate([chosen, extra]))
    return chosen


def make_ratings(
    n_users: int = 1000,
    n_items: int = 500,
    n_ratings: int = 20000,
    *,
    rank: int = 5,
    noise: float = 0.5,
    popularity: float = 1.0,
    activity: float = 1.0,
    rating_scale: tuple[int, int] = (1, 5),
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Generate explicit ratings with planted low-rank structure and long tails.

    Each rating is ``mu + b_u + b_i + <p_u, q_i> + eps`` rounded to the nearest integer and
    clipped to ``rating_scale``, where ``b_u``, ``b_i`` are Gaussian user and item biases,
    ``p_u``, ``q_i`` Gaussian factors of dimension ``rank`` and ``eps`` Gaussian noise with
    standard deviation ``noise``. On the default 1-5 scale the mean rating is about 3.5 and
    the biases and the low-rank term each have a standard deviation of about 0.4-0.5
    (scaled with the width of ``rating_scale``), so a user + item bias model beats the
    global mean and a low-rank model beats both.

    Who rates what is long-tailed, like MovieLens: item popularity follows a Zipf law
    (weight ``1 / rank**popularity`` over a random order of the items) and user activity a
    log-normal law (``sigma = activity``). Each user rates distinct items drawn by
    popularity without replacement, and never more than ``n_items``. Only the sampled
    (user, item) pairs are ever materialized, never a users x items array, so a
    MovieLens-20M-sized set (138,493 users, 26,744 items, 20,000,263 ratings) takes about
    half a minute and under 2 GB.

    Parameters
    ----------
    n_users : int, default=1000
        Number of users, ``>= 1``. User ids are ``1 .. n_users``.
    n_items : int, default=500
        Number of items, ``>= 1``. Item ids are ``1 .. n_items``; unpopular items may end
        up with no rating.
    n_ratings : int, default=20000
        Exact number of rows, ``1 <= n_ratings <= n_users * n_items``. Every user gets at
        least one rating when ``n_ratings >= n_users``.
    rank : int, default=5
        Dimension of the planted user and item factors, ``>= 0`` (0: biases only).
    noise : float, default=0.5
        Standard deviation of the Gaussian noise before rounding, ``>= 0``.
    popularity : float, default=1.0
        Zipf exponent of item popularity, ``>= 0`` (0: uniform; larger: longer tail).
    activity : float, default=1.0
        Log-normal sigma of user activity, ``>= 0`` (0: every user equally active).
    rating_scale : tuple of (int, int), default=(1, 5)
        Inclusive integer bounds ``(low, high)``, ``low < high``.
    random_state : int, numpy.random.Generator or None, default=None
        Seed or generator; the same int gives the same frame.

    Returns
    -------
    pandas.DataFrame
        Columns ``user_id`` (int64), ``item_id`` (int64), ``rating`` (float32, integral
        values in ``rating_scale``), one row per distinct (user, item) pair, sorted by
        user then item, with a default ``RangeIndex``.

    Raises
    ------
    TypeError
        If a count or ``rank`` is not an int, or a float parameter is not a number.
    ValueError
        If a parameter is out of range, or ``n_ratings > n_users * n_items`` (the message
        names both).

    Examples
    --------
    >>> from autorec.datasets import make_ratings
    >>> df = make_ratings(n_users=50, n_items=30, n_ratings=400, random_state=0)
    >>> df.shape
    (400, 3)
    >>> list(df.columns)
    ['user_id', 'item_id', 'rating']
    >>> bool(df.duplicated(["user_id", "item_id"]).any())
    False
    >>> sorted(df["rating"].unique().tolist())
    [1.0, 2.0, 3.0, 4.0, 5.0]
    """
    n_users = _check_int(n_users, "n_users", 1)
    n_items = _check_int(n_items, "n_items", 1)
    n_ratings = _check_int(n_ratings, "n_ratings", 1)
    rank = _check_int(rank, "rank", 0)
    noise = _check_real(noise, "noise")
    popularity = _check_real(popularity, "popularity")
    activity = _check_real(activity, "activity")
    lo, hi = _check_scale(rating_scale)
    if n_ratings > n_users * n_items:
        raise ValueError(
            f"n_ratings={n_ratings} is more than n_users * n_items = {n_users} * {n_items} = "
            f"{n_users * n_items}, the number of distinct (user, item) pairs"
        )
    rng = np.random.default_rng(random_state)

    # Who rates what.
    item_weight = (rng.permutation(n_items) + 1.0) ** -popularity
    p = item_weight / item_weight.sum()
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    user_weight = rng.lognormal(0.0, activity, size=n_users)
    counts = _allocate(n_ratings, user_weight, n_items, rng)

    # Planted structure, on a scale proportional to the width of the rating scale.
    spread = (hi - lo) / 4.0
    mu = lo + 0.625 * (hi - lo)
    user_bias = rng.normal(0.0, 0.4 * spread, size=n_users)
    item_bias = rng.normal(0.0, 0.5 * spread, size=n_items)
    factor_sd = np.sqrt(0.5 * spread) / max(rank, 1) ** 0.25  # <p_u, q_i> has sd 0.5 * spread
    user_factors = rng.normal(0.0, factor_sd, size=(n_users, rank))
    item_factors = rng.normal(0.0, factor_sd, size=(n_items, rank))

    user_id = np.empty(n_ratings, dtype=np.int64)
    item_id = np.empty(n_ratings, dtype=np.int64)
    rating = np.empty(n_ratings, dtype=np.float32)
    ends = np.cumsum(counts)
    offset = 0
    first_user = 0
    while first_user < n_users:
        # Consecutive users holding about _CHUNK_RATINGS ratings (at least one user).
        last_user = int(np.searchsorted(ends, offset + _CHUNK_RATINGS, side="right"))
        last_user = max(last_user, first_user + 1)
        chunk_counts = counts[first_user:last_user]
        keys = _sample_chunk(chunk_counts, p, cdf, rng)
        u = keys // n_items + first_user
        i = keys % n_items
        value = mu + user_bias[u] + item_bias[i]
        value += np.einsum("ij,ij->i", user_factors[u], item_factors[i])
        value += rng.normal(0.0, noise, size=keys.shape[0]) if noise > 0 else 0.0
        stop = offset + keys.shape[0]
        user_id[offset:stop] = u + 1
        item_id[offset:stop] = i + 1
        rating[offset:stop] = np.clip(np.rint(value), lo, hi)
        offset, first_user = stop, last_user
    return pd.DataFrame({"user_id": user_id, "item_id": item_id, "rating": rating}, copy=False)
