"""EASE's input weighting (binary / rating minus a shift / liked only) and ``l2="auto"``
(autorec._exposure, autorec._tuning)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from autorec._tuning import ndcg_at_k, search_l2
from autorec.baselines import EASE, MostPopular
from autorec.datasets import make_ratings
from autorec.evaluation import evaluate_ranking, ranking_table, split, tuned_ease


@pytest.fixture(scope="module")
def ratings():
    return make_ratings(80, 30, 1200, random_state=1)


def dense(frame, value):
    """Users x items matrix (sorted ids) holding ``value(rating)``, 0 where unrated."""
    table = frame.assign(v=value(frame["rating"].to_numpy(np.float64))).pivot_table(
        index="user_id", columns="item_id", values="v", fill_value=0.0
    )
    return table.to_numpy(np.float64)


def closed_form(x, l2):
    p = np.linalg.inv(x.T @ x + l2 * np.eye(x.shape[1]))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


@pytest.mark.parametrize(
    ("params", "value"),
    [
        ({"input": "binary"}, lambda r: np.ones_like(r)),
        ({"input": "rating", "shift": 1.5}, lambda r: r - 1.5),
        ({"input": "rating"}, lambda r: r - 1.0),  # shift None: the smallest rating
        ({"input": "liked"}, lambda r: (r >= 4.0).astype(float)),
    ],
)
def test_weights_are_the_closed_form_of_the_weighted_input(ratings, params, value):
    model = EASE(l2=7.0, **params).fit(ratings)
    assert ratings["rating"].min() == 1.0 and model.rating_scale_ == (1.0, 5.0)
    x = dense(ratings, value)
    np.testing.assert_allclose(model.weights_, closed_form(x, 7.0), rtol=1e-4, atol=1e-6)
    # A fitted user's scores are that user's weighted row times the weights.
    np.testing.assert_allclose(
        model._user_scores(np.arange(3)), x[:3] @ model.weights_, rtol=1e-4, atol=1e-5
    )


def test_the_input_changes_the_ranking(ratings):
    binary = EASE(l2=7.0).fit(ratings)._user_scores(np.arange(80))
    graded = EASE(l2=7.0, input="rating").fit(ratings)._user_scores(np.arange(80))
    assert not np.allclose(binary, graded)


@pytest.mark.parametrize("params", [{"input": "rating", "shift": 1.0}, {"input": "liked"}])
def test_fold_in_matches_the_fitted_user(ratings, params):
    model = EASE(l2=7.0, **params).fit(ratings)
    user = ratings["user_id"].iloc[0]
    own = ratings[ratings["user_id"] == user][["item_id", "rating"]]
    fitted = model.recommend(user, k=8)
    folded = model.recommend(None, user_ratings=own.sample(frac=1.0, random_state=0), k=8)
    assert fitted["item_id"].tolist() == folded["item_id"].tolist()
    np.testing.assert_allclose(fitted["score"], folded["score"], rtol=1e-5)


def test_auto_l2_is_the_best_of_the_penalties_it_tried(ratings):
    model = EASE(l2="auto", input="rating", random_state=3).fit(ratings)
    table = model.l2_validation_
    assert len(table) >= 5 and model.l2_ in table
    assert table[model.l2_] == max(table.values())
    # Refitted on every rating with the chosen penalty.
    np.testing.assert_allclose(
        model.weights_, EASE(l2=model.l2_, input="rating").fit(ratings).weights_, rtol=1e-5
    )
    again = EASE(l2="auto", input="rating", random_state=3).fit(ratings)
    assert again.l2_ == model.l2_  # the validation slice is seeded
    assert EASE(l2=5.0).fit(ratings).l2_validation_ is None


def test_search_l2_refines_around_the_best_factor():
    calls = []

    def evaluate(l2):
        calls.append(l2)
        return -abs(np.log2(l2 / 24.0))  # peaks at 24 = 3 * 8

    best, table = search_l2(evaluate, 3.0, (1.0, 4.0, 16.0, 64.0))
    assert best == 24.0 and table[24.0] == 0.0
    assert calls[:4] == [3.0, 12.0, 48.0, 192.0] and len(calls) == len(set(calls))


def test_ndcg_at_k_against_a_hand_count():
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.0, 0.0]])
    seen = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]))
    relevant = sp.csr_matrix(np.array([[0, 0, 1, 0], [1, 0, 0, 1], [0, 0, 0, 0]]))
    # User 0: seen item 0 masked, ranks 1, 2, 3 -> the relevant item 2 at position 2.
    # User 1: ranks 3, 2, 1, 0 -> hits at positions 1 and 4 (only 2 counted with k=2).
    first = (1 / np.log2(3)) / 1.0
    second = 1.0 / (1.0 + 1 / np.log2(3))
    assert ndcg_at_k(scores, seen, relevant, k=2) == pytest.approx((first + second) / 2)
    assert np.isnan(ndcg_at_k(scores, seen, sp.csr_matrix(scores.shape), k=2))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"input": "graded"}, "input='graded' is not supported; use one of 'binary', 'rating'"),
        ({"l2": "best"}, "l2 must be 'auto' or a number > 0, got 'best'"),
        ({"shift": "one"}, "shift must be a number"),
        ({"l2": "auto", "validation_fraction": 1.0}, r"validation_fraction must be in \(0.0"),
    ],
)
def test_bad_parameters_are_clear_errors(ratings, params, match):
    with pytest.raises((TypeError, ValueError), match=match):
        EASE(**params).fit(ratings)


def test_auto_without_a_liked_held_out_rating_is_a_clear_error():
    # The only liked rating (5) is its user's only one, which never goes to validation.
    frame = pd.DataFrame(
        {"user_id": [1, 1, 1, 1, 2], "item_id": [1, 2, 3, 4, 1], "rating": [1, 2, 1, 2, 5]}
    )
    with pytest.raises(ValueError, match="l2='auto' found no held-out rating"):
        EASE(l2="auto", validation_fraction=0.5).fit(frame)


def test_ranking_table_puts_a_tuned_ease_beside_the_model(ratings):
    train, test = split(ratings, "standard", random_state=0)
    table = ranking_table(MostPopular().fit(train), train, test)
    params = table["EASE"]["params"]
    assert params["tuned"] and params["input"] == "rating" and params["shift"] == 1.0
    assert params["validation_fraction"] == EASE().validation_fraction
    tried = {float(l2): score for l2, score in params["l2_validation"].items()}
    assert len(tried) >= 5 and tried[params["l2"]] == max(tried.values())
    # The row is EASE at the chosen penalty, refitted on every training rating.
    peer = EASE(l2=params["l2"], input="rating").fit(train)
    assert table["EASE"]["ndcg@10"] == pytest.approx(evaluate_ranking(peer, train, test)["ndcg@10"])
    assert table["EASE"]["fit_seconds"] > 0 and set(table) == {"autorec", "MostPopular", "EASE"}


def test_tuned_ease_falls_back_to_the_untuned_one_and_says_why():
    frame = pd.DataFrame(
        {"user_id": [1, 1, 1, 1, 2], "item_id": [1, 2, 3, 4, 1], "rating": [1, 2, 1, 2, 5]}
    )
    model, params = tuned_ease(frame)
    assert params["tuned"] is False and params["input"] == "binary" and params["l2"] == 500.0
    assert "l2='auto'" in params["reason"] and model.l2_ == 500.0
