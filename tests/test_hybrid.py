"""The hybrid ranking (:mod:`autorec._hybrid`): the exposure model, the weights chosen on
validation, and that ``recommend`` with it finds what people go on to like."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from autorec import AutoEncoderRecommender
from autorec._exposure_model import exposure_items
from autorec._hybrid import (
    ALPHAS,
    BETAS,
    choose_weights,
    combine,
    cooccurrence,
    fit_exposure,
)
from autorec._recommender import top_k_items
from autorec._topn import ranking_metrics
from autorec.datasets import make_ratings, train_test_split
from autorec.evaluation import evaluate_ranking

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _random_case(seed: int = 0, n: int = 300, m: int = 120):
    rng = np.random.default_rng(seed)
    exposure = rng.random((n, m)).astype(np.float32)
    ratings = (rng.random((n, m)) * 4 + 1).astype(np.float32)
    seen = sp.random(n, m, density=0.1, format="csr", random_state=seed)
    relevant = sp.random(n, m, density=0.05, format="csr", random_state=seed + 1)
    relevant = relevant - relevant.multiply(seen > 0)  # a relevant item is not seen
    popularity = rng.integers(0, 500, m).astype(np.float32)
    return exposure, ratings, popularity, seen, sp.csr_matrix(relevant)


def test_the_validation_grid_scores_what_the_exact_metric_gives():
    exposure, ratings, popularity, seen, relevant = _random_case()
    _, table = choose_weights(exposure, ratings, popularity, seen, relevant, (1.0, 5.0))
    assert len(table) == len(ALPHAS) * len(BETAS)
    for pair in ((0.0, 0.0), (0.5, 0.05), (1.5, 0.1)):
        scores = combine(exposure, ratings, popularity, pair, (1.0, 5.0))
        mask = seen.tocoo()
        scores[mask.row, mask.col] = -np.inf
        columns, _ = top_k_items(scores, 10)
        exact = ranking_metrics(np.stack(columns), relevant, k=10)["ndcg@10"]
        assert table[f"{pair[0]},{pair[1]}"] == pytest.approx(exact, abs=1e-9)


def test_the_weights_follow_the_signal_that_finds_the_liked_items():
    exposure, _, popularity, seen, relevant = _random_case(3)
    dense = relevant.toarray() > 0
    # Ratings that know the answer: alpha > 0 wins.
    oracle = np.where(dense, 5.0, 1.0).astype(np.float32)
    (alpha, _), _ = choose_weights(exposure, oracle, popularity, seen, relevant, (1.0, 5.0))
    assert alpha > 0
    # Exposure that knows the answer (a log gap of 0.69) and ratings that are noise: only
    # a small alpha (noise of at most alpha * 2 below the gap) keeps a perfect ranking.
    knows = np.where(dense, 1.0, 0.5).astype(np.float32)
    noise = (np.random.default_rng(0).random(dense.shape) * 4 + 1).astype(np.float32)
    pair, table = choose_weights(knows, noise, popularity, seen, relevant, (1.0, 5.0))
    assert pair[0] <= 0.3 and table[f"{pair[0]},{pair[1]}"] == max(table.values())
    assert table["1.5,0.0"] < max(table.values()) - 0.05


def test_cooccurrence_from_a_part_of_the_ratings_equals_a_fresh_count():
    # The final exposure model reuses the validation model's Gram matrix: the same
    # counts as computing it again, and the weights of a fresh fit.
    matrix = sp.random(80, 30, density=0.3, format="csr", random_state=3)
    matrix.data[:] = 4.0
    part = matrix.copy()
    part.data[::7] = 0.0
    part.eliminate_zeros()
    base = cooccurrence(part)
    kept = base.gram.copy()
    reused = cooccurrence(matrix, base=base)
    fresh = cooccurrence(matrix)
    upper = np.triu_indices(30)
    np.testing.assert_array_equal(reused.gram[upper], fresh.gram[upper])
    np.testing.assert_array_equal(base.gram, kept)  # the base is left as it was
    np.testing.assert_array_equal(
        fit_exposure(matrix, counts=reused).weights, fit_exposure(matrix).weights
    )
    # consume=True (the final model's way): the same counts, in the base's own array.
    consumed = cooccurrence(matrix, base=base, consume=True)
    np.testing.assert_array_equal(consumed.gram[upper], fresh.gram[upper])
    assert consumed.gram is base.gram
    # Not a part of the ratings (one missing from the larger matrix): counted afresh.
    other = cooccurrence(part, base=cooccurrence(matrix))
    np.testing.assert_array_equal(other.gram[upper], cooccurrence(part).gram[upper])


def test_the_exposure_model_covers_the_most_rated_items_holding_the_share():
    counts = np.array([50, 1, 30, 2, 30, 0])  # 113 ratings; 90 %: 101.7
    np.testing.assert_array_equal(exposure_items(counts, share=0.9), [0, 2, 4])  # ties kept
    np.testing.assert_array_equal(exposure_items(counts, share=0.3), [0])
    np.testing.assert_array_equal(exposure_items(counts, share=1.0), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(exposure_items(counts, max_items=2, share=0.9), [0, 2])


def test_a_long_tail_is_left_out_and_the_final_model_updates_the_validation_ones(monkeypatch):
    # 40 items with many ratings and 30 with one each (0.7 % of the ratings): the
    # exposure models cover the 40; the final ones reuse the validation models' Gram
    # matrices (one full count per input, not two) and score the tail at the floor.
    import autorec._exposure_model as exposure_model

    ratings = make_ratings(n_users=120, n_items=40, n_ratings=4000, random_state=5)
    tail = pd.DataFrame(
        {"user_id": ratings["user_id"].iloc[:30].to_numpy(), "item_id": np.arange(1000, 1030)}
    ).assign(rating=4.0)
    ratings = pd.concat([ratings, tail], ignore_index=True)
    counted = []
    real = exposure_model.gram_upper
    monkeypatch.setattr(exposure_model, "gram_upper", lambda x: (counted.append(x), real(x))[1])
    model = AutoEncoderRecommender(hidden_layers=(8,), epochs=2, random_state=0).fit(ratings)
    assert len(counted) == 2  # the two validation models' counts only
    covered = model.item_map_.inverse_transform(model.exposure_items_)
    assert set(covered) == set(range(1, 41)) and model.exposure_weights_.shape == (40, 40)
    exposure = exposure_model.Exposure(
        model.exposure_items_, model.exposure_weights_, model.n_items_
    ).scores(model.utility_[:5])
    tail = np.setdiff1d(np.arange(model.n_items_), model.exposure_items_)
    assert len(tail) == 30 and np.all(exposure[:, tail] == 0) and exposure.any()


@pytest.mark.parametrize("input", ["binary", "rating"])
def test_the_reused_gram_matrix_of_graded_input_equals_a_fresh_one(input):
    # The hybrid's exposure models may be fed the ratings minus the lowest one: the
    # final model's Gram matrix, built on the validation model's, is that of a fresh fit
    # of the same input.
    rng = np.random.default_rng(4)
    matrix = sp.random(90, 25, density=0.3, format="csr", random_state=4)
    matrix.data[:] = rng.integers(1, 6, matrix.nnz)
    part = matrix.copy()
    part.data[::5] = 0.0
    part.eliminate_zeros()
    base = cooccurrence(part, input=input, shift=1.0)
    reused = cooccurrence(matrix, base=base, input=input, shift=1.0)
    fresh = cooccurrence(matrix, input=input, shift=1.0)
    upper = np.triu_indices(25)
    np.testing.assert_allclose(reused.gram[upper], fresh.gram[upper], rtol=1e-6)
    # A base of the other input (every rating 5: its cells are a part of these, with
    # other values) still gives the Gram matrix of this input.
    fives, fives_part = matrix.copy(), part.copy()
    fives.data[:], fives_part.data[:] = 5.0, 5.0
    other = "binary" if input == "rating" else "rating"
    mixed = cooccurrence(
        fives, base=cooccurrence(fives_part, input=other, shift=1.0), input=input, shift=1.0
    )
    np.testing.assert_array_equal(
        mixed.gram[upper], cooccurrence(fives, input=input, shift=1.0).gram[upper]
    )
    np.testing.assert_allclose(
        fit_exposure(matrix, 5.0, counts=reused).weights,
        fit_exposure(matrix, 5.0, input=input, shift=1.0).weights,
        rtol=1e-4,
        atol=1e-6,
    )


def test_an_exposure_model_solves_in_the_array_it_is_given():
    # The validation models share one items x items array: a solve in another model's
    # weights gives the fresh solve's weights, in that array, the Gram matrix untouched.
    matrix = sp.random(80, 20, density=0.3, format="csr", random_state=6)
    counts = cooccurrence(matrix)
    gram = counts.gram.copy()
    first = fit_exposure(matrix, 4.0, counts=counts)
    second = fit_exposure(matrix, 9.0, counts=counts, out=first.weights)
    assert np.shares_memory(second.weights, first.weights)
    np.testing.assert_array_equal(second.weights, fit_exposure(matrix, 9.0).weights)
    np.testing.assert_array_equal(counts.gram, gram)
    wrong = np.zeros((3, 3), dtype=np.float32)  # not the Gram matrix's shape: a new array
    assert not np.shares_memory(fit_exposure(matrix, 9.0, counts=counts, out=wrong).weights, wrong)


def test_exposure_over_a_large_catalogue_keeps_only_the_most_rated_items():
    matrix = sp.random(200, 50, density=0.2, format="csr", random_state=0)
    matrix.data[:] = 3.0
    exposure = fit_exposure(matrix, max_items=10)
    counts = np.diff(matrix.tocsc().indptr)
    assert exposure.weights.shape == (10, 10)
    assert set(exposure.items) == set(np.argsort(-counts, kind="stable")[:10])
    scores = exposure.scores(matrix[:5])
    others = np.setdiff1d(np.arange(50), exposure.items)
    assert scores.shape == (5, 50) and np.all(scores[:, others] == 0)


def test_hybrid_recommend_finds_more_liked_items_than_rating_order():
    # Popular items are the ones people rate; a rating model alone pushes rarely rated
    # items with extreme ratings to the top (the missing-not-at-random failure).
    ratings = make_ratings(n_users=300, n_items=150, n_ratings=9000, random_state=1)
    train, test = train_test_split(ratings, 0.25, random_state=0)
    params = {"hidden_layers": (16,), "epochs": 15, "learning_rate": 1e-2, "random_state": 0}
    hybrid = AutoEncoderRecommender(**params).fit(train)
    by_rating = AutoEncoderRecommender(ranking="rating", **params).fit(train)
    assert np.array_equal(hybrid.predict(test), by_rating.predict(test))  # ratings unchanged
    assert hybrid.ranking_weights_ is not None and hybrid.ranking_validation_
    ndcg = evaluate_ranking(hybrid, train, test)["ndcg@10"]
    assert ndcg > evaluate_ranking(by_rating, train, test)["ndcg@10"] + 0.02


def test_ranking_exposure_is_the_exposure_model_alone():
    ratings = make_ratings(n_users=100, n_items=60, n_ratings=2500, random_state=2)
    params = {"hidden_layers": (8,), "epochs": 3, "random_state": 0}
    model = AutoEncoderRecommender(ranking="exposure", **params).fit(ratings)
    user = ratings["user_id"].iloc[0]
    scores = model.recommend(user, k=5)["score"].to_numpy()
    row = model.utility_[model.user_map_.transform([user])]
    binary = (row > 0).astype(np.float32)[:, model.exposure_items_]
    full = np.zeros(model.n_items_, dtype=np.float32)  # the long tail sits at 0
    full[model.exposure_items_] = np.asarray(binary @ model.exposure_weights_).ravel()
    unseen = np.setdiff1d(np.arange(model.n_items_), row.indices)
    best = np.sort(full[unseen])[::-1][:5]
    assert np.allclose(scores, best, atol=1e-5) and len(unseen) >= 5


def test_no_validation_slice_warns_and_ranks_by_exposure():
    frame = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1], "rating": [4.0, 3, 5]})
    with pytest.warns(UserWarning, match="exposure model alone"):
        model = AutoEncoderRecommender(epochs=1, validation_fraction=0.0).fit(frame)
    assert model.ranking_weights_ == (0.0, 0.0)


def test_the_candidate_cut_keeps_the_validation_grid(monkeypatch):
    # The grid ranks each user's CANDIDATES best items under its middle point only: on a
    # catalogue larger than that, every grid point's NDCG is (nearly) the full ranking's.
    import autorec._hybrid as hybrid

    exposure, ratings, popularity, seen, relevant = _random_case(5, n=200, m=900)
    exposure = exposure**4  # a skewed exposure, as real ones are
    assert hybrid.CANDIDATES < 900  # the first search cuts
    cut = choose_weights(exposure, ratings, popularity, seen, relevant, (1.0, 5.0))[1]
    monkeypatch.setattr(hybrid, "CANDIDATES", 10**6)
    full = choose_weights(exposure, ratings, popularity, seen, relevant, (1.0, 5.0))[1]
    assert cut.keys() == full.keys()
    assert max(abs(cut[key] - full[key]) for key in full) < 0.01


@pytest.mark.parametrize("max_items", [30, 12])
def test_exposure_scores_spread_over_threads_agree_with_scipys_product(max_items):
    # The validation users' exposure scores are computed as an embedding bag (the rows
    # on torch's threads): the same scores as the SciPy product up to float32 rounding,
    # also when only the most rated items have weights.
    matrix = sp.random(60, 30, density=0.3, format="csr", random_state=5)
    matrix.data[:] = np.random.default_rng(5).integers(1, 6, matrix.nnz)
    model = fit_exposure(matrix, l2=3.0, max_items=max_items, input="rating", shift=1.0)
    rows = matrix[::3]
    single, spread = model.scores(rows), model.scores(rows, parallel=True)
    assert spread.dtype == np.float32 and spread.shape == (20, 30)
    np.testing.assert_allclose(spread, single, rtol=1e-5, atol=1e-6)
    assert np.abs(single).max() > 0.1  # not a comparison of zeros
