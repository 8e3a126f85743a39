"""Tests for the synthetic ratings generator autorec.datasets.make_ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autorec.datasets import _synthetic
from autorec.datasets._synthetic import make_ratings


def check_valid(df, n_users, n_items, n_ratings, scale=(1, 5)):
    assert list(df.columns) == ["user_id", "item_id", "rating"]
    assert df["user_id"].dtype == np.int64 and df["item_id"].dtype == np.int64
    assert df["rating"].dtype == np.float32
    assert len(df) == n_ratings
    assert isinstance(df.index, pd.RangeIndex)
    assert not df.duplicated(["user_id", "item_id"]).any()
    assert df["user_id"].between(1, n_users).all()
    assert df["item_id"].between(1, n_items).all()
    r = df["rating"].to_numpy()
    assert ((r >= scale[0]) & (r <= scale[1])).all()
    assert (r == np.round(r)).all()
    key = df["user_id"].to_numpy() * (n_items + 1) + df["item_id"].to_numpy()
    assert (np.diff(key) > 0).all()  # sorted by user, then item


@pytest.mark.parametrize(
    ("n_users", "n_items", "n_ratings"),
    [
        (1000, 500, 20_000),  # defaults
        (50, 30, 400),
        (10, 10, 100),  # every pair rated
        (10, 10, 97),  # nearly full: dense fallback
        (100, 5, 7),  # fewer ratings than users
        (1, 1, 1),
        (3, 2000, 5000),  # few very active users
    ],
)
def test_exact_counts_no_duplicates_ids_and_scale(n_users, n_items, n_ratings):
    df = make_ratings(n_users, n_items, n_ratings, random_state=0)
    check_valid(df, n_users, n_items, n_ratings)
    per_user = df["user_id"].value_counts()
    assert per_user.max() <= n_items
    if n_ratings >= n_users:
        assert len(per_user) == n_users  # every user has at least one rating


def test_full_matrix():
    df = make_ratings(10, 10, 100, random_state=3)
    assert len(df.groupby(["user_id", "item_id"])) == 100


def test_many_chunks_and_extreme_popularity(monkeypatch):
    # Small chunks exercise the chunk loop; a steep Zipf law forces the dense fallback.
    monkeypatch.setattr(_synthetic, "_CHUNK_RATINGS", 500)
    df = make_ratings(400, 1000, 30_000, popularity=4.0, random_state=2)
    check_valid(df, 400, 1000, 30_000)
    monkeypatch.undo()
    same = make_ratings(400, 1000, 30_000, popularity=4.0, random_state=2)
    assert len(same) == 30_000


def test_other_rating_scale():
    df = make_ratings(200, 100, 5000, rating_scale=(0, 10), random_state=0)
    check_valid(df, 200, 100, 5000, scale=(0, 10))
    assert 5.0 < df["rating"].mean() < 8.0
    assert df["rating"].nunique() >= 8


def test_rating_distribution_looks_like_movielens():
    df = make_ratings(random_state=0)
    assert 3.2 < df["rating"].mean() < 3.9
    assert 0.8 < df["rating"].std() < 1.2
    assert set(np.unique(df["rating"])) == {1.0, 2.0, 3.0, 4.0, 5.0}


def _top_decile_share(df, n_items):
    counts = np.sort(np.bincount(df["item_id"], minlength=n_items + 1)[1:])[::-1]
    return counts[: n_items // 10].sum() / counts.sum()


def test_long_tailed_items_and_users():
    df = make_ratings(2000, 1000, 60_000, random_state=0)
    assert _top_decile_share(df, 1000) > 0.4  # uniform would give 0.1
    per_user = df["user_id"].value_counts()
    assert per_user.max() > 5 * per_user.median()
    flat = make_ratings(2000, 1000, 60_000, popularity=0.0, activity=0.0, random_state=0)
    assert _top_decile_share(flat, 1000) < 0.15
    flat_users = flat["user_id"].value_counts()
    assert flat_users.max() < 2 * flat_users.median()


def test_deterministic_for_a_seed():
    a = make_ratings(300, 100, 4000, random_state=42)
    pd.testing.assert_frame_equal(a, make_ratings(300, 100, 4000, random_state=42))
    pd.testing.assert_frame_equal(
        a, make_ratings(300, 100, 4000, random_state=np.random.default_rng(42))
    )
    assert not a.equals(make_ratings(300, 100, 4000, random_state=43))


def test_planted_structure_is_learnable():
    # Noise-free biases only: users' mean ratings vary a lot more than pure noise would.
    df = make_ratings(300, 200, 15_000, rank=0, noise=0.0, random_state=0)
    user_means = df.groupby("user_id")["rating"].mean()
    assert user_means.std() > 0.25


def test_sampling_without_replacement_follows_popularity():
    # Each user draws 2 of 10 items: P(item i included) for successive sampling is
    # p_i + sum_{j != i} p_j p_i / (1 - p_j). Both samplers must match it.
    n_items, n_users = 10, 20_000
    p = 1.0 / np.arange(1, n_items + 1)
    p /= p.sum()
    expected = p + np.array(
        [sum(p[j] * p[i] / (1 - p[j]) for j in range(n_items) if j != i) for i in range(n_items)]
    )
    rng = np.random.default_rng(0)
    cdf = np.cumsum(p)
    keys = _synthetic._sample_chunk(np.full(n_users, 2), p, cdf, rng)
    dense = _synthetic._dense_top_up(
        np.arange(n_users), np.full(n_users, 2), np.empty(0, np.int64), np.log(p), rng
    )
    for k in (keys, np.sort(dense)):
        assert len(np.unique(k)) == 2 * n_users
        freq = np.bincount(k % n_items, minlength=n_items) / n_users
        np.testing.assert_allclose(freq, expected, atol=0.02)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_ratings": 101, "n_users": 10, "n_items": 10}, ValueError, r"n_ratings=101 .* = 100"),
        ({"n_ratings": 0}, ValueError, "n_ratings must be an int >= 1, got 0"),
        ({"n_users": 10.0}, TypeError, "n_users must be an int >= 1, got 10.0"),
        ({"rank": -1}, ValueError, "rank must be an int >= 0, got -1"),
        ({"noise": -0.5}, ValueError, "noise must be a finite number >= 0, got -0.5"),
        ({"popularity": float("nan")}, ValueError, "popularity"),
        ({"rating_scale": (5, 1)}, ValueError, r"rating_scale .* got \(5, 1\)"),
        ({"rating_scale": (0.5, 5)}, ValueError, "rating_scale"),
        ({"rating_scale": 5}, ValueError, "rating_scale"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_ratings(**kwargs)
