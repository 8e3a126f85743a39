"""The hybrid ranking's exposure model tuned on the fit's validation slice (its input and
ridge penalty), and that dislikes count: no movie predicted below the scale's midpoint is
recommended while movies predicted above it remain (autorec._hybrid)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from autorec import AutoEncoderRecommender
from autorec._hybrid import (
    ALPHAS,
    BETAS,
    EPS,
    EXPOSURE_GAMMAS,
    EXPOSURE_INPUTS,
    EXPOSURE_PENALTIES,
    TOLERANCE,
    combine,
    exposure_floor,
    exposure_unit,
    fit_exposure,
)
from autorec.datasets import make_ratings

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def ratings():
    return make_ratings(300, 120, 9000, random_state=4)


@pytest.fixture(scope="module")
def model(ratings):
    return AutoEncoderRecommender(epochs=4, random_state=0, verbose=0).fit(ratings)


def _key(chosen, alpha, beta):
    if chosen["input"] == "both":
        return f"both{chosen['gamma']:g},{chosen['l2']:g}+{chosen['l2_rating']:g},{alpha},{beta}"
    return f"{chosen['input']},{chosen['l2']:g},{alpha},{beta}"


def test_the_exposure_input_and_weights_are_the_best_on_validation(model):
    chosen = model.exposure_params_
    table = model.ranking_validation_
    assert chosen["input"] in ("rating", "both")
    assert chosen["shift"] == model.rating_scale_[0]
    # The rating-fed model alone and both models at once for every gamma, each with the
    # whole (alpha, beta) grid, and each input's penalty scaled to its input.
    tried = {tuple(key.split(",")[:2]) for key in table}
    assert len(tried) == 1 + len(EXPOSURE_GAMMAS)
    assert {t[0] for t in tried} == {"rating"} | {f"both{g:g}" for g in EXPOSURE_GAMMAS}
    assert len(table) == len(tried) * len(ALPHAS) * len(BETAS)
    both = chosen["input"] == "both"
    rating = "_rating" if both else ""
    penalties = {"rating": (chosen[f"l2{rating}"], chosen[f"diagonal{rating}"])}
    if both:
        penalties["binary"] = (chosen["l2"], chosen["diagonal"])
    assert set(penalties) <= set(EXPOSURE_INPUTS)
    for input, (l2, diagonal) in penalties.items():  # on the fit's part
        unit = exposure_unit(model.utility_, input, 1.0) * (1 - model.validation_fraction)
        ridge, dropout = EXPOSURE_PENALTIES[input]
        assert l2 == pytest.approx(ridge * unit, rel=0.1)
        assert diagonal == dropout
    value = table[_key(chosen, *model.ranking_weights_)]
    assert value >= max(table.values()) - TOLERANCE


def test_both_exposure_models_rank_by_their_product_and_survive_save(model, tmp_path):
    from autorec._hybrid import fit_exposure, product_exposure

    fitted = AutoEncoderRecommender.load(model.save(tmp_path / "m.safetensors"))
    graded = fit_exposure(fitted.utility_, 50.0, input="rating", shift=1.0)
    fitted.exposure_params_ = {
        "input": "both",
        "shift": 1.0,
        "l2": 40.0,
        "l2_rating": 50.0,
        "gamma": 0.5,
    }
    fitted.exposure_weights_ = fit_exposure(fitted.utility_, 40.0).weights
    fitted.exposure_weights_rating_ = graded.weights
    users = np.arange(20)
    binary = fit_exposure(fitted.utility_, 40.0).scores(fitted.utility_[users])
    expected = combine(
        product_exposure(binary, graded.scores(fitted.utility_[users]), 0.5),
        fitted._user_ratings(users),
        fitted.item_popularity_,
        fitted.ranking_weights_,
        fitted.rating_scale_,
        exposure_floor(fitted.exposure_params_),
    )
    np.testing.assert_allclose(fitted._user_scores(users), expected, rtol=1e-5, atol=1e-5)
    again = AutoEncoderRecommender.load(fitted.save(tmp_path / "both.safetensors"))
    assert again.exposure_params_ == fitted.exposure_params_
    np.testing.assert_array_equal(again._user_scores(users), fitted._user_scores(users))


def test_someone_who_gave_only_lowest_ratings_is_ranked_by_the_binary_model(model):
    """Their rating-fed input is empty, so the product's rating factor is the same floor
    for every item: the binary model's order must survive (before the fix, the product
    was floored at EPS again, every item tied, and the rating term alone ranked them,
    which put movies one or two people rated on top)."""
    from autorec._hybrid import fit_exposure, rank_scores

    fitted = model
    binary = fit_exposure(fitted.utility_, 40.0)
    graded = fit_exposure(fitted.utility_, 50.0, input="rating", shift=1.0)
    params = {"input": "both", "shift": 1.0, "l2": 40.0, "l2_rating": 50.0, "gamma": 1.0}
    assert exposure_floor(params) == pytest.approx(EPS**2)
    assert exposure_floor({"input": "rating"}) == EPS
    n_items = fitted.n_items_
    row = sp.csr_matrix((np.ones(3, dtype=np.float32), ([0, 0, 0], [0, 5, 9])), shape=(1, n_items))
    flat = np.full((1, n_items), 4.0, dtype=np.float32)  # no rating term to break ties
    scores = rank_scores(
        "hybrid",
        row,
        flat,
        binary.items,
        binary.weights,
        np.zeros(n_items, np.float32),
        (0.5, 0.0),
        fitted.rating_scale_,
        params,
        graded.weights,
    )[0]
    expected = binary.scores(row)[0]
    assert np.unique(scores).size > n_items // 2  # not all at one floor
    top = np.argsort(-expected)[:10]
    assert expected[top[-1]] > EPS  # the binary model's own top 10 are above its floor
    np.testing.assert_array_equal(np.argsort(-scores, kind="stable")[:10], top)


def test_the_rating_fed_model_alone_ranks_the_uninterested_by_popularity(model):
    """With only the rating-fed model, someone who gave only the lowest rating has no
    exposure anywhere: they get the most-rated items (rating term aside), while a user
    with one higher rating keeps the model's own scores."""
    from autorec._hybrid import fit_exposure, rank_scores

    graded = fit_exposure(model.utility_, 50.0, input="rating", shift=1.0)
    n_items = model.n_items_
    rows = sp.csr_matrix(
        (np.array([1.0, 1.0, 1.0, 4.0], np.float32), ([0, 0, 1, 1], [0, 5, 0, 5])),
        shape=(2, n_items),
    )
    popularity = np.random.default_rng(0).permutation(n_items).astype(np.float32)
    flat = np.full((2, n_items), 4.0, dtype=np.float32)
    params = {"input": "rating", "shift": 1.0, "l2": 50.0}
    scores = rank_scores(
        "hybrid",
        rows,
        flat,
        graded.items,
        graded.weights,
        popularity,
        (0.5, 0.0),
        model.rating_scale_,
        params,
    )
    np.testing.assert_array_equal(np.argsort(-scores[0])[:10], np.argsort(-popularity)[:10])
    expected = combine(
        graded.scores(rows[1]), flat[1:], popularity, (0.5, 0.0), model.rating_scale_
    )
    np.testing.assert_array_equal(scores[1:], expected)


def test_the_penalties_are_scaled_to_the_input(ratings):
    matrix = sp.csr_matrix(
        (
            ratings["rating"].to_numpy(np.float32),
            (ratings["user_id"].to_numpy() - 1, ratings["item_id"].to_numpy() - 1),
        )
    )
    assert exposure_unit(matrix, "binary", 1.0) == pytest.approx(matrix.nnz / matrix.shape[1])
    squares = float(((matrix.data - 1.0) ** 2).sum()) / matrix.shape[1]
    assert exposure_unit(matrix, "rating", 1.0) == pytest.approx(squares, rel=1e-5)


def test_a_lowest_rating_is_no_sign_of_interest_to_the_rating_fed_exposure():
    rng = np.random.default_rng(0)
    dense = (rng.random((200, 30)) < 0.3) * rng.integers(1, 6, (200, 30))
    matrix = sp.csr_matrix(dense.astype(np.float32))
    graded = fit_exposure(matrix, 20.0, input="rating", shift=1.0)
    binary = fit_exposure(matrix, 20.0)
    only_ones = sp.csr_matrix(np.where(dense[:5] > 0, 1.0, 0.0).astype(np.float32))
    assert np.abs(graded.scores(only_ones)).max() == 0.0  # 1 star weighs nothing
    assert np.abs(binary.scores(only_ones)).max() > 0.0  # binarised: interest


def test_combine_puts_every_disliked_item_after_the_others():
    rng = np.random.default_rng(1)
    exposure = rng.random((50, 40)).astype(np.float32) * 3.0
    ratings = (rng.random((50, 40)) * 4 + 1).astype(np.float32)
    scores = combine(exposure, ratings, rng.random(40) * 100, (0.5, 0.1), (1.0, 5.0))
    disliked = ratings < 3.0
    for row in range(50):
        assert scores[row][disliked[row]].max() < scores[row][~disliked[row]].min()


def _check_no_dislike_in_top(result, candidates_above, k=10):
    below = result["predicted_rating"] < 3.0
    if below.any():  # only once fewer than k candidates are predicted at 3 or more
        assert candidates_above < k, result
        assert not below.iloc[:candidates_above].any()


def test_fitted_users_get_no_disliked_movie_while_liked_ones_remain(model):
    every = model.recommend(model.user_map_.ids, k=model.n_items_)  # every candidate
    for _, candidates in every.groupby("user_id", sort=False):
        above = int((candidates["predicted_rating"] >= 3.0).sum())
        _check_no_dislike_in_top(candidates.iloc[:10], above)


@pytest.mark.parametrize("rating", [1.0, 2.0, 5.0])
def test_a_new_user_with_one_rating_gets_no_disliked_movie(model, ratings, rating):
    item = ratings["item_id"].value_counts().index[0]
    every = model.recommend(None, k=model.n_items_, user_ratings={item: rating})
    above = int((every["predicted_rating"] >= 3.0).sum())
    _check_no_dislike_in_top(every.iloc[:10], above)


@pytest.fixture(scope="module")
def item_model(ratings):
    return AutoEncoderRecommender(kind="item", epochs=3, random_state=0, verbose=0).fit(ratings)


def test_a_one_rating_fold_in_is_shrunk_toward_typical_ratings(item_model):
    from autorec._foldin import BIAS_SHRINK, fold_in

    model = item_model
    codes = model._codes().cpu().numpy().astype(np.float64)
    offset = codes[:, -1]
    prior = model.global_mean_ - float(offset.mean())
    # One rating: no taste to learn (w = 0), the bias is 1 part the rating, BIAS_SHRINK
    # parts a typical person's: each movie is predicted near its own typical rating.
    shrunk = model._fold_in_ratings(np.array([7]), np.array([5.0]))
    bias = (5.0 - offset[7] + BIAS_SHRINK * prior) / (1.0 + BIAS_SHRINK)
    np.testing.assert_allclose(shrunk, offset + bias, atol=1e-4)
    # Many ratings: the shrinkage shifts every prediction by the same small amount.
    items = np.arange(60)
    values = np.where(items % 3 == 0, 2.0, 5.0)
    shift = fold_in(codes, items, values, model.fold_in_l2_) - model._fold_in_ratings(items, values)
    np.testing.assert_allclose(shift, shift[0], atol=1e-4)


def test_one_five_star_rating_does_not_predict_five_everywhere(item_model, ratings):
    item = ratings["item_id"].value_counts().index[-1]
    every = item_model.recommend(None, k=item_model.n_items_, user_ratings={item: 5.0})
    assert (every["predicted_rating"] >= 4.99).mean() < 0.1
