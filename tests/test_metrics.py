"""Tests for autorec.metrics: hand-worked values, properties, a naive reference, bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autorec.exceptions import UndefinedMetricWarning
from autorec.metrics import mae, ndcg_at_k, precision_at_k, recall_at_k, rmse, top_k_accuracy

RANKING = [top_k_accuracy, precision_at_k, recall_at_k, ndcg_at_k]


# ----------------------------------------------------------------------------- reference
def naive_ranking(users, y_true, y_score, k, threshold=4.0):
    """Per-user Python loop, written from the definitions in the docstrings."""
    users, y_true, y_score = list(users), list(y_true), list(y_score)
    prec, rec, ndcg = [], [], []
    for u in dict.fromkeys(users):
        idx = [j for j in range(len(users)) if users[j] == u]
        idx.sort(key=lambda j: (-y_score[j], j))  # ties: earlier position first
        top = idx[:k]
        rel = [y_true[j] >= threshold for j in top]
        n_rel = sum(y_true[j] >= threshold for j in idx)
        prec.append(sum(rel) / k)
        if n_rel:
            rec.append(sum(rel) / n_rel)
            dcg = sum(1 / math.log2(r + 2) for r, hit in enumerate(rel) if hit)
            idcg = sum(1 / math.log2(r + 2) for r in range(min(k, n_rel)))
            ndcg.append(dcg / idcg)
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    return {
        "top_k_accuracy": 100 * mean(prec),
        "precision_at_k": mean(prec),
        "recall_at_k": mean(rec),
        "ndcg_at_k": mean(ndcg),
    }


# Hand-worked example, threshold 4, k = 2:
#   user 1: scores 0.9 (r5, relevant), 0.8 (r3), 0.7 (r1), 0.1 (r4, relevant)
#           top 2 -> 1 hit; 2 relevant; DCG = 1; IDCG = 1 + 1/log2(3)
#   user 2: 0.6 (r4, relevant), 0.3 (r2) -> 1 hit; 1 relevant; DCG = IDCG = 1
#   user 3: 0.2 (r5, relevant) only      -> 1 hit; 1 relevant; DCG = IDCG = 1
USERS = [1, 1, 1, 1, 2, 2, 3]
TRUE = [5, 3, 4, 1, 2, 4, 5]
SCORE = [0.9, 0.8, 0.1, 0.7, 0.3, 0.6, 0.2]


# ----------------------------------------------------------------------------- hand-worked
def test_rmse_mae_hand_worked():
    # errors 1, 0, 0, 2 -> MSE 5/4, MAE 3/4
    assert rmse([1, 2, 3, 4], [2, 2, 3, 2]) == pytest.approx(math.sqrt(1.25))
    assert mae([1, 2, 3, 4], [2, 2, 3, 2]) == pytest.approx(0.75)
    assert isinstance(rmse([1], [1]), float)


def test_top_k_accuracy_hand_worked():
    # each user: 1 hit / k=2 -> 0.5; mean 0.5 -> 50 %
    assert top_k_accuracy(USERS, TRUE, SCORE, k=2) == pytest.approx(50.0)
    # k=1: every user's best-scored item is relevant
    assert top_k_accuracy(USERS, TRUE, SCORE, k=1) == pytest.approx(100.0)
    # k=4: user 1 has 2/4, users 2 and 3 still divide by 4 (published protocol)
    assert top_k_accuracy(USERS, TRUE, SCORE, k=4) == pytest.approx(100 * (2 + 1 + 1) / 4 / 3)


def test_precision_hand_worked():
    assert precision_at_k(USERS, TRUE, SCORE, k=2) == pytest.approx(0.5)
    assert precision_at_k(USERS, TRUE, SCORE, k=3) == pytest.approx((1 / 3 + 1 / 3 + 1 / 3) / 3)


def test_recall_hand_worked():
    assert recall_at_k(USERS, TRUE, SCORE, k=2) == pytest.approx((0.5 + 1 + 1) / 3)
    assert recall_at_k(USERS, TRUE, SCORE, k=4) == pytest.approx(1.0)


def test_ndcg_hand_worked():
    expected = (1 / (1 + 1 / math.log2(3)) + 1 + 1) / 3
    assert ndcg_at_k(USERS, TRUE, SCORE, k=2) == pytest.approx(expected)
    assert ndcg_at_k(USERS, TRUE, SCORE, k=2) == pytest.approx(0.871049, abs=1e-6)
    # k=4 for user 1: relevant at ranks 1 and 4 -> (1 + 1/log2(5)) / (1 + 1/log2(3))
    user1 = (1 + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(USERS, TRUE, SCORE, k=4) == pytest.approx((user1 + 2) / 3)


def test_ties_are_broken_by_position():
    # All scores equal: the first two entries of user 1 form its top 2.
    users = [1, 1, 1]
    assert precision_at_k(users, [5, 1, 5], [0, 0, 0], k=2) == pytest.approx(0.5)
    assert precision_at_k(users, [1, 5, 5], [0, 0, 0], k=2) == pytest.approx(0.5)
    assert precision_at_k(users, [5, 5, 1], [0, 0, 0], k=2) == pytest.approx(1.0)


def test_k_larger_than_any_user_is_allowed():
    assert precision_at_k(USERS, TRUE, SCORE, k=100) == pytest.approx((2 + 1 + 1) / 100 / 3)
    assert recall_at_k(USERS, TRUE, SCORE, k=100) == pytest.approx(1.0)
    assert ndcg_at_k(USERS, TRUE, SCORE, k=100) <= 1.0


def test_threshold_and_string_users():
    users = ["ann", "ann", "bob", "bob"]
    assert precision_at_k(users, [3, 2, 3, 1], [2, 1, 2, 1], k=1, threshold=3) == 1.0
    assert precision_at_k(users, [3, 2, 3, 1], [2, 1, 2, 1], k=1) == 0.0


def test_pandas_and_numpy_inputs_agree():
    df = pd.DataFrame({"u": USERS, "r": TRUE, "s": SCORE})
    for f in RANKING:
        assert f(df["u"], df["r"], df["s"], k=2) == f(
            np.array(USERS), np.array(TRUE), np.array(SCORE), k=2
        )
    assert rmse(df["r"], df["s"]) == rmse(TRUE, SCORE)


def test_infinite_scores_rank_at_the_ends():
    users = [1, 1, 1]
    assert precision_at_k(users, [1, 5, 1], [np.inf, -np.inf, 0.0], k=2) == 0.0
    assert precision_at_k(users, [1, 5, 1], [-np.inf, np.inf, 0.0], k=1) == 1.0


def test_no_relevant_item_gives_nan_with_warning():
    with pytest.warns(UndefinedMetricWarning, match="no user has a relevant"):
        assert math.isnan(recall_at_k([1, 2], [1, 2], [0.5, 0.1], k=1))
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(ndcg_at_k([1, 2], [1, 2], [0.5, 0.1], k=1))
    # Users without a relevant item count as 0 in precision / top-k accuracy, silently.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert precision_at_k([1, 2], [1, 2], [0.5, 0.1], k=1) == 0.0


def test_users_without_relevant_items_are_skipped_by_recall_and_ndcg():
    # user 9 has no relevant item: recall/ndcg ignore it, precision counts it as 0
    users, y_true, score = [1, 1, 9], [5, 1, 2], [1.0, 0.0, 1.0]
    assert recall_at_k(users, y_true, score, k=1) == 1.0
    assert ndcg_at_k(users, y_true, score, k=1) == 1.0
    assert precision_at_k(users, y_true, score, k=1) == 0.5


# ----------------------------------------------------------------------------- vs naive
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 3, 10])
def test_matches_naive_reference(seed, k):
    rng = np.random.default_rng(seed)
    n = 400
    users = rng.integers(0, 40, n)  # users with 1 .. ~20 test items
    y_true = rng.integers(1, 6, n)
    # few distinct scores -> many ties, which must be broken by position
    y_score = rng.integers(0, 6, n) / 2 if seed % 2 else rng.normal(size=n)
    got = {f.__name__: f(users, y_true, y_score, k) for f in RANKING}
    want = naive_ranking(users, y_true, y_score, k)
    for name in got:
        assert got[name] == pytest.approx(want[name], rel=1e-12, abs=1e-12), name


def test_row_order_does_not_matter_without_ties():
    rng = np.random.default_rng(1)
    n = 300
    users, y_true, y_score = rng.integers(0, 30, n), rng.integers(1, 6, n), rng.normal(size=n)
    perm = rng.permutation(n)
    for f in RANKING:
        assert f(users, y_true, y_score, 5) == pytest.approx(
            f(users[perm], y_true[perm], y_score[perm], 5), abs=1e-12
        )


# ----------------------------------------------------------------------------- properties
ratings = st.lists(st.integers(1, 5), min_size=1, max_size=60)


@given(data=st.data(), y_true=ratings)
def test_error_metrics_nonnegative_and_zero_iff_equal(data, y_true):
    n = len(y_true)
    y_pred = data.draw(
        st.one_of(
            st.just([float(v) for v in y_true]),
            st.lists(
                st.floats(0.5, 5.5, allow_nan=False, allow_subnormal=False),
                min_size=n,
                max_size=n,
            ),
        )
    )
    r, a = rmse(y_true, y_pred), mae(y_true, y_pred)
    assert r >= 0 and a >= 0
    equal = np.array_equal(np.asarray(y_true, float), np.asarray(y_pred, float))
    assert (r == 0.0) == equal
    assert (a == 0.0) == equal
    assert r >= a - 1e-12  # RMSE >= MAE (power-mean inequality)


ranking_data = st.integers(1, 80).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 8), min_size=n, max_size=n),  # users
        st.lists(st.integers(1, 5), min_size=n, max_size=n),  # true ratings
        st.lists(st.integers(-50, 50), min_size=n, max_size=n),  # integer scores (ties!)
    )
)


@settings(max_examples=150, deadline=None)
@given(data=ranking_data, k=st.integers(1, 12))
def test_ranking_bounds_and_monotone_invariance(data, k):
    users, y_true, y_score = (np.asarray(x) for x in data)
    s = y_score.astype(float)
    acc = top_k_accuracy(users, y_true, s, k)
    assert 0.0 <= acc <= 100.0
    assert acc == pytest.approx(100 * precision_at_k(users, y_true, s, k))
    # strictly increasing transforms keep every order and every tie, so nothing changes
    for transformed in (3 * s + 7, np.exp(s / 10), s**3):
        assert top_k_accuracy(users, y_true, transformed, k) == acc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        for f in (precision_at_k, recall_at_k, ndcg_at_k):
            value = f(users, y_true, s, k)
            assert math.isnan(value) or 0.0 <= value <= 1.0 + 1e-12
            assert f(users, y_true, np.exp(s / 10), k) == pytest.approx(value, nan_ok=True)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("f", [rmse, mae])
def test_error_metric_length_mismatch_names_both_lengths(f):
    with pytest.raises(ValueError, match=r"y_true has 3 and y_pred has 2"):
        f([1, 2, 3], [1, 2])


def test_ranking_length_mismatch_names_all_lengths():
    with pytest.raises(ValueError, match=r"users has 3, y_true has 3 and y_score has 2 entries"):
        top_k_accuracy([1, 1, 2], [4, 5, 3], [0.1, 0.2])


@pytest.mark.parametrize("f", [rmse, mae])
def test_error_metric_rejects_nan_and_inf(f):
    with pytest.raises(ValueError, match=r"y_pred contains .*nan at position 1"):
        f([1, 2, 3], [1, float("nan"), 3])
    with pytest.raises(ValueError, match=r"y_true contains .*inf at position 0"):
        f([float("inf"), 2], [1, 2])


def test_ranking_rejects_nan_scores_and_missing_users():
    with pytest.raises(ValueError, match=r"y_score contains NaN: nan at position 2"):
        ndcg_at_k([1, 1, 2], [4, 5, 3], [0.1, 0.2, np.nan])
    with pytest.raises(ValueError, match=r"users contains a missing id"):
        ndcg_at_k([1, None, 2], [4, 5, 3], [0.1, 0.2, 0.3])


@pytest.mark.parametrize("f", [rmse, mae])
def test_error_metric_rejects_empty_and_2d(f):
    with pytest.raises(ValueError, match="empty"):
        f([], [])
    with pytest.raises(ValueError, match=r"1-D.*\(2, 2\)"):
        f([[1, 2], [3, 4]], [[1, 2], [3, 4]])


def test_non_numeric_ratings_are_a_type_error():
    with pytest.raises(TypeError, match="y_true must hold numbers"):
        rmse(["a", "b"], [1, 2])


@pytest.mark.parametrize("f", RANKING)
@pytest.mark.parametrize("k", [0, -3])
def test_k_below_one_names_value(f, k):
    with pytest.raises(ValueError, match=rf"k must be an integer >= 1, got {k}"):
        f(USERS, TRUE, SCORE, k)


@pytest.mark.parametrize("f", RANKING)
@pytest.mark.parametrize("k", [2.5, 2.0, True, "3", None])
def test_non_integer_k_names_value(f, k):
    with pytest.raises(TypeError, match=rf"k must be an integer >= 1, got {k!r}"):
        f(USERS, TRUE, SCORE, k)


def test_numpy_integer_k_accepted():
    assert precision_at_k(USERS, TRUE, SCORE, np.int64(2)) == pytest.approx(0.5)


@pytest.mark.parametrize("threshold", [float("nan"), "4", None])
def test_bad_threshold(threshold):
    with pytest.raises((TypeError, ValueError), match="threshold"):
        precision_at_k(USERS, TRUE, SCORE, 2, threshold=threshold)
