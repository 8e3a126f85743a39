"""The ranking baselines MostPopular and EASE (autorec._exposure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import autorec._exposure as exposure
from autorec._exposure import EASE, MostPopular
from autorec.datasets import make_ratings
from autorec.exceptions import NotFittedError


@pytest.fixture(scope="module")
def ratings():
    frame = make_ratings(60, 40, 900, random_state=0)
    frame.loc[frame.index[:5], "rating"] = 0.0  # a rating of 0 is still an interaction
    return frame


def binary_matrix(frame):
    """The binarised users x items matrix in sorted id order, built with pandas."""
    table = pd.crosstab(frame["user_id"], frame["item_id"])
    return table.to_numpy(dtype=np.float64), table.index.to_numpy(), table.columns.to_numpy()


def test_ease_weights_have_zero_diagonal_and_match_numpy(ratings):
    model = EASE(l2=25.0).fit(ratings)
    x, _, items = binary_matrix(ratings)
    p = np.linalg.inv(x.T @ x + 25.0 * np.eye(x.shape[1]))
    b = np.eye(x.shape[1]) - p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    assert model.weights_.dtype == np.float32
    assert np.all(model.weights_.diagonal() == 0.0)
    np.testing.assert_array_equal(model.item_map_.ids, items)
    np.testing.assert_allclose(model.weights_, b, rtol=1e-5, atol=1e-7)


def test_ease_weights_with_a_dropout_penalty_match_the_closed_form(ratings):
    """``diagonal`` d adds d * G_ii to item i's penalty: EDLAE's (Steck 2020) closed form
    ``B = I - P diagMat(1 / diag P)``, ``P = (G + l2 I + d diagMat(diag G))^-1``."""
    x, _, _ = binary_matrix(ratings)
    x = x * np.arange(1, x.shape[0] + 1)[:, None] % 5  # graded, not all ones
    gram = x.T @ x
    p = np.linalg.inv(gram + np.diag(3.0 + 2.0 * np.diag(gram)))
    b = np.eye(x.shape[1]) - p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    weights = exposure.ease_weights(None, 3.0, gram=gram.astype(np.float32), diagonal=2.0)
    np.testing.assert_allclose(weights, b, rtol=1e-4, atol=1e-6)
    plain = exposure.ease_weights(None, 3.0, gram=gram.astype(np.float32))
    assert np.abs(plain - weights).max() > 1e-3  # the penalty changes the model


def test_ease_ignores_the_rating_values(ratings):
    a = EASE(l2=5.0).fit(ratings)
    b = EASE(l2=5.0).fit(ratings.assign(rating=1.0))
    np.testing.assert_array_equal(a.weights_, b.weights_)


def test_ease_scores_are_the_binary_rows_times_b(ratings):
    model = EASE(l2=10.0).fit(ratings)
    x, _, _ = binary_matrix(ratings)
    index = np.array([3, 0, 17])
    np.testing.assert_allclose(
        model._user_scores(index), x[index] @ model.weights_, rtol=1e-5, atol=1e-6
    )


def test_gram_blocks_give_the_same_weights(ratings, monkeypatch):
    whole = EASE(l2=10.0).fit(ratings).weights_
    monkeypatch.setattr(exposure, "_GRAM_BLOCK", 7)
    np.testing.assert_allclose(EASE(l2=10.0).fit(ratings).weights_, whole, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("make", [MostPopular, lambda: EASE(l2=10.0)])
def test_fold_in_of_a_training_user_ranks_like_recommend(ratings, make):
    model = make().fit(ratings)
    for user in (1, 7, 30):
        own = ratings[ratings["user_id"] == user].set_index("item_id")["rating"]
        direct = model.recommend(user, k=10)
        folded = model.recommend(None, k=10, user_ratings=own)
        assert direct["item_id"].tolist() == folded["item_id"].tolist()
        np.testing.assert_array_equal(direct["score"].to_numpy(), folded["score"].to_numpy())


@pytest.mark.parametrize("make", [MostPopular, lambda: EASE(l2=10.0)])
def test_recommend_excludes_seen_items(ratings, make):
    model = make().fit(ratings)
    users = ratings["user_id"].unique()[:20]
    recs = model.recommend(users, k=15)
    pairs = set(zip(ratings["user_id"], ratings["item_id"], strict=True))
    assert not any((u, i) in pairs for u, i in zip(recs["user_id"], recs["item_id"], strict=True))
    unseen = 40 - ratings.groupby("user_id").size()
    np.testing.assert_array_equal(
        recs.groupby("user_id").size().reindex(users, fill_value=0),
        np.minimum(15, unseen.loc[users]),
    )
    everything = model.recommend(users[0], k=40, exclude_seen=False)
    assert len(everything) == 40  # without the filter, seen items come back


def test_most_popular_ranks_by_count_with_ties_by_item_order():
    frame = pd.DataFrame(
        {"user_id": [1, 2, 3, 1, 2, 4, 3], "item_id": [5, 5, 5, 9, 9, 2, 7], "rating": 3.0}
    )
    model = MostPopular().fit(frame)
    np.testing.assert_array_equal(model.item_popularity_, [1, 3, 1, 2])  # items 2, 5, 7, 9
    assert model.recommend(4, k=3)["item_id"].tolist() == [5, 9, 7]
    assert model.recommend(4, k=3)["score"].tolist() == [3.0, 2.0, 1.0]
    folded = model.recommend(None, k=2, user_ratings={5: 1.0})
    assert folded["item_id"].tolist() == [9, 2]


@pytest.mark.parametrize("make", [MostPopular, EASE])
def test_fitted_attributes(ratings, make):
    model = make().fit(ratings)
    n_users, n_items = ratings["user_id"].nunique(), ratings["item_id"].nunique()
    assert (model.n_users_, model.n_items_) == (n_users, n_items)
    assert sp.issparse(model.utility_) and model.utility_.format == "csr"
    assert model.utility_.dtype == np.float32 and model.utility_.shape == (n_users, n_items)
    assert model.utility_.nnz == len(ratings)  # zero ratings kept as entries
    counts = ratings["item_id"].value_counts().sort_index().to_numpy()
    np.testing.assert_array_equal(model.item_popularity_, counts)
    np.testing.assert_array_equal(model.user_map_.ids, np.sort(ratings["user_id"].unique()))


@pytest.mark.parametrize("make", [MostPopular, EASE])
def test_fit_validates_the_ratings_once(ratings, make, monkeypatch):
    calls = []
    original = exposure.check_ratings
    monkeypatch.setattr(
        exposure, "check_ratings", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    make().fit(ratings)
    assert len(calls) == 1
    with pytest.raises(ValueError, match="NaN or infinite"):
        make().fit(ratings.assign(rating=np.nan))


@pytest.mark.parametrize(
    ("l2", "error", "match"),
    [
        (0.0, ValueError, r"l2 must be in \(0.0, inf\], got 0.0"),
        (-3, ValueError, r"l2 must be in \(0.0, inf\], got -3"),
        (float("nan"), ValueError, "l2 must be a finite number"),
        ("500", ValueError, "l2 must be 'auto' or a number > 0, got '500'"),
        (True, TypeError, "l2 must be a number, got True"),
    ],
)
def test_bad_l2_is_a_clear_error(ratings, l2, error, match):
    with pytest.raises(error, match=match):
        EASE(l2=l2).fit(ratings)


@pytest.mark.parametrize("dense", [True, False])
def test_gram_upper_counts_cooccurrences_exactly_both_ways(dense, monkeypatch):
    # The dense rank-k update (blocks of rows) and the sparse product agree with numpy.
    monkeypatch.setattr(exposure, "_DENSE_ADVANTAGE", 1e12 if dense else 0.0)
    monkeypatch.setattr(exposure, "_DENSE_BLOCK", 7 * 40)  # several row blocks
    x = (np.random.default_rng(1).random((53, 40)) < 0.3).astype(np.float32)
    gram = exposure.gram_upper(sp.csr_matrix(x))
    upper = np.triu_indices(40)
    np.testing.assert_array_equal(gram[upper], (x.T @ x)[upper])
    assert gram.dtype == np.float32 and gram.flags.c_contiguous


def test_gram_upper_mixes_dense_long_rows_and_sparse_short_ones_exactly(monkeypatch):
    # Rows from 2 % to 90 % full, graded values: with an advantage of 2, the rows of at
    # least 29 of 40 items go through ssyrk and the others through the sparse product.
    monkeypatch.setattr(exposure, "_DENSE_ADVANTAGE", 2.0)
    monkeypatch.setattr(exposure, "_DENSE_BLOCK", 3 * 40)  # several dense row blocks
    monkeypatch.setattr(exposure, "_GRAM_BLOCK", 7)  # several sparse column blocks
    rng = np.random.default_rng(3)
    full = rng.random((60, 40)) < np.linspace(0.02, 0.9, 60)[:, None]
    x = (full * rng.integers(1, 5, (60, 40))).astype(np.float32)
    lengths = full.sum(axis=1)
    dense = 2.0 * lengths**2 >= 40 * 41 / 2
    assert 5 < dense.sum() < 55  # both paths taken
    gram = exposure.gram_upper(sp.csr_matrix(x))
    upper = np.triu_indices(40)
    np.testing.assert_array_equal(gram[upper], (x.T @ x)[upper])


def test_add_cross_products_turns_a_gram_matrix_into_that_of_the_sum(monkeypatch):
    monkeypatch.setattr(exposure, "_GRAM_BLOCK", 5)
    rng = np.random.default_rng(5)
    x = ((rng.random((30, 12)) < 0.4) * rng.integers(1, 5, (30, 12))).astype(np.float32)
    extra = x * (rng.random(x.shape) < 0.2)
    base = x - extra
    gram = base.T @ base
    gram[np.tril_indices(12, -1)] = 7.0  # only the upper triangle counts
    exposure.add_cross_products(gram, sp.csr_matrix(base), sp.csr_matrix(extra))
    upper = np.triu_indices(12)
    np.testing.assert_array_equal(gram[upper], (x.T @ x)[upper])


def test_mirror_upper_makes_the_matrix_symmetric_across_blocks():
    a = np.random.default_rng(4).random((1100, 1100)).astype(np.float32)
    expected = np.triu(a) + np.triu(a, 1).T
    exposure._mirror_upper(a)
    np.testing.assert_array_equal(a, expected)


def test_ease_weights_reject_a_gram_matrix_that_is_not_positive_definite():
    gram = np.array([[1.0, 2.0], [2.0, 1.0]], dtype=np.float32)  # eigenvalues 3 and -1
    with pytest.raises(np.linalg.LinAlgError, match=r"not positive definite.*raise l2"):
        exposure.ease_weights(None, 0.5, gram=gram)


def test_add_product_adds_the_cross_products():
    rng = np.random.default_rng(2)
    left, right = ((rng.random((30, 12)) < 0.3).astype(np.float32) for _ in range(2))
    gram = np.ones((12, 12), dtype=np.float32)
    exposure.add_product(gram, sp.csr_matrix(left), sp.csr_matrix(right))
    np.testing.assert_array_equal(gram, 1.0 + left.T @ right)


def test_bad_max_items_is_a_clear_error(ratings):
    with pytest.raises(TypeError, match="max_items must be an integer"):
        EASE(max_items=1e4).fit(ratings)
    with pytest.raises(ValueError, match=r"max_items must be in \[1, inf\]"):
        EASE(max_items=0).fit(ratings)


def test_ease_refuses_a_catalogue_above_max_items_before_allocating(ratings, monkeypatch):
    monkeypatch.setattr(exposure, "ease_weights", lambda *a: pytest.fail("allocated"))
    model = EASE(max_items=39)
    with pytest.raises(ValueError, match=r"40 items, which would take about 0.0 GB.*max_items=39"):
        model.fit(ratings)
    assert not hasattr(model, "user_map_")
    big = pd.DataFrame({"user_id": 1, "item_id": np.arange(25_000), "rating": 1.0})
    with pytest.raises(ValueError, match=r"25,000 items, which would take about 5.0 GB"):
        EASE().fit(big)


def test_params_follow_the_sklearn_contract():
    from sklearn.base import clone

    model = EASE(l2=3.0)
    defaults = {
        "l2": 3.0,
        "input": "binary",
        "shift": None,
        "validation_fraction": 0.1,
        "random_state": 0,
        "max_items": 20_000,
    }
    assert model.get_params() == defaults
    assert repr(model) == "EASE(l2=3.0)" and repr(MostPopular()) == "MostPopular()"
    cloned = clone(model.set_params(max_items=5)).get_params()
    assert cloned == {**defaults, "max_items": 5}
    with pytest.raises(ValueError, match="invalid parameter 'lam'"):
        model.set_params(lam=1.0)


@pytest.mark.parametrize("make", [MostPopular, EASE])
def test_unfitted_models_raise_not_fitted(make):
    with pytest.raises(NotFittedError):
        make().recommend(1)
