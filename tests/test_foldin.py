"""The item-model fold-in solve (``autorec._foldin.fold_in``) against the textbook ridge
with an unpenalised bias, in both of the forms it picks between."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from autorec._foldin import L2_GRID, choose_l2, fold_in


def _augmented_ridge(codes, items, ratings, l2):
    """min sum_i (c_i . w + b + o_i - r_i)^2 + l2 |w|^2 (codes = [c, o]), solved on the
    (h + 1) x (h + 1) system."""
    hidden, offset = codes[:, :-1], codes[:, -1]
    design = np.hstack([hidden[items], np.ones((len(items), 1))])
    penalty = np.diag([l2] * hidden.shape[1] + [0.0])
    coef = np.linalg.solve(design.T @ design + penalty, design.T @ (ratings - offset[items]))
    return hidden @ coef[:-1] + coef[-1] + offset


def _codes(rng, n_items, h):
    """Sigmoid-like codes of ``n_items`` items with ``h`` units, then each item's bias."""
    return np.hstack([rng.uniform(0, 1, size=(n_items, h)), rng.normal(0, 0.5, (n_items, 1))])


@pytest.mark.parametrize("n_rated", [1, 2, 7, 19, 20, 21, 60])  # fewer, equal, more than h
@pytest.mark.parametrize("l2", [0.3, 10.0, 100.0])
def test_fold_in_is_the_ridge_with_an_unpenalised_bias(n_rated, l2):
    rng = np.random.default_rng(n_rated)
    codes = _codes(rng, 80, 20)  # 80 items, 20 code units
    items = rng.choice(80, n_rated, replace=False)
    ratings = rng.integers(1, 6, n_rated).astype(np.float64)
    got = fold_in(codes, items, ratings, l2)
    assert got.shape == (80,)
    if n_rated == 1:  # one rating: w = 0, every item gets that rating (plus its bias)
        np.testing.assert_allclose(got, ratings[0] - codes[items[0], -1] + codes[:, -1])
    else:
        np.testing.assert_allclose(got, _augmented_ridge(codes, items, ratings, l2), atol=1e-9)


def test_fold_in_keeps_the_mean_of_the_ratings_it_was_given():
    # With an unpenalised bias the residuals on the rated items sum to zero.
    rng = np.random.default_rng(0)
    codes = _codes(rng, 50, 30)
    items = rng.choice(50, 12, replace=False)
    ratings = rng.integers(1, 6, 12).astype(np.float64)
    got = fold_in(codes, items, ratings, 3.0)
    assert got[items].mean() == pytest.approx(ratings.mean())


def test_choosing_l2_on_users_with_equal_ratings_warns_nothing():
    # Users whose ratings are all equal fold in to a constant row (no rank correlation);
    # they are left out of the choice instead of leaking scipy's ConstantInputWarning.
    rng = np.random.default_rng(0)
    codes = _codes(rng, 40, 6)
    rows, cols = (
        np.repeat(np.arange(10), 8),
        np.concatenate([rng.choice(40, 8, replace=False) for _ in range(10)]),
    )
    values = np.where(rows < 5, 4.0, rng.integers(1, 6, len(rows)))  # users 0-4: all 4s
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(10, 40))
    weight, bias = rng.normal(size=(10, 6)), rng.normal(size=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        best, table = choose_l2(codes, weight, bias, matrix, np.random.default_rng(1))
    assert best in L2_GRID and set(table) == {str(v) for v in L2_GRID}
    assert all(np.isfinite(v) for v in table.values())
