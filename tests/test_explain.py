"""recommend(..., explain=True) and similar_items: what the explanations are made of."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from autorec import AutoEncoderRecommender, BlendRecommender, _explain, _leave_one_out
from autorec._explain import (
    BECAUSE,
    MIN_SHARE,
    exposure_effects,
    rating_effects,
    ridge_leave_one_out,
)
from autorec._exposure import EASE, MostPopular
from autorec._hybrid import EPS, Exposure, new_user_row, rank_scores
from autorec.datasets import make_ratings

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RATINGS = make_ratings(n_users=150, n_items=70, n_ratings=4000, random_state=3)
MOVIES = pd.DataFrame(
    {
        "item_id": np.sort(RATINGS.item_id.unique()),
        "title": [f"Movie {i}" for i in np.sort(RATINGS.item_id.unique())],
        "genres": "Drama",
    }
)


def _fit(**params):
    params = {"hidden_layers": (12,), "epochs": 8, "random_state": 0, **params}
    return AutoEncoderRecommender(**params).fit(RATINGS)


@pytest.fixture(scope="module")
def models(one_torch_thread):
    return {
        "item": _fit(kind="item"),
        "user": _fit(kind="user"),
        "user-rating": _fit(kind="user", ranking="rating"),
        "item-exposure": _fit(kind="item", ranking="exposure"),
    }


def _user_rows(user):
    mine = RATINGS[RATINGS.user_id == user]
    return mine.set_index("item_id")["rating"]


def test_exposure_effects_are_the_exact_fall_of_the_log_exposure(models):
    model = models["item"]
    user = RATINGS.user_id.iloc[0]
    mine = _user_rows(user)
    rated = model.item_map_.transform(mine.index.to_numpy())
    targets = np.arange(model.n_items_)
    effects = exposure_effects(model.exposure_items_, model.exposure_weights_, rated, targets)
    exposure = Exposure(model.exposure_items_, model.exposure_weights_, model.n_items_)
    row = model.utility_[model.user_map_.transform(np.array([user]))]
    base = np.log(np.maximum(exposure.scores(row)[0].astype(np.float64), EPS))
    for column in (0, len(rated) // 2, len(rated) - 1):
        without = row.copy()
        without[0, rated[column]] = 0
        without.eliminate_zeros()
        after = np.log(np.maximum(exposure.scores(without)[0].astype(np.float64), EPS))
        np.testing.assert_allclose(effects[:, column], base - after, atol=1e-4)


def test_user_model_effects_are_the_exact_leave_one_out_fall(models):
    model = models["user-rating"]
    mine = _user_rows(RATINGS.user_id.iloc[5])
    rated = model.item_map_.transform(mine.index.to_numpy())
    targets = np.arange(model.n_items_)
    effects = rating_effects(model, rated, mine.to_numpy(float), targets)
    full = model._fold_in_ratings(rated, mine.to_numpy(float))
    for column in range(0, len(rated), 7):
        keep = np.arange(len(rated)) != column
        after = model._fold_in_ratings(rated[keep], mine.to_numpy(float)[keep])
        np.testing.assert_allclose(effects[:, column], full - after, atol=1e-4)


@pytest.mark.parametrize(
    "fed",
    [
        {"input": "binary"},
        {"input": "rating", "shift": 1.0},
        {"input": "both", "shift": 1.0, "gamma": 0.5},
    ],
)
@pytest.mark.parametrize("log", [True, False])
def test_exposure_effects_are_exact_for_every_exposure_input(models, fed, log):
    # The ranking's own exposure (``rank_scores``) with and without each rated item.
    model = copy.copy(models["item"])
    model.exposure_params_ = fed
    weights = model.exposure_weights_
    model.exposure_weights_rating_ = (0.5 * weights.T + 1e-3).astype(np.float32)
    mine = _user_rows(RATINGS.user_id.iloc[4])
    rated = model.item_map_.transform(mine.index.to_numpy())
    values = mine.to_numpy(float)
    targets = np.arange(model.n_items_)
    effects = model._exposure_effects(rated, values, targets, log=log)

    def exposure(keep):
        row = new_user_row(rated[keep], values[keep], model.n_items_)
        score = rank_scores(
            "exposure", row, np.zeros((1, model.n_items_)), model.exposure_items_, weights,
            model.item_popularity_, None, model.rating_scale_, fed, model.exposure_weights_rating_,
        )[0].astype(np.float64)  # fmt: skip
        return np.log(np.maximum(score, EPS)) if log else score

    base = exposure(np.ones(len(rated), dtype=bool))
    for column in (0, len(rated) // 2, len(rated) - 1):
        after = exposure(np.arange(len(rated)) != column)
        np.testing.assert_allclose(effects[:, column], base - after, atol=1e-4)


def test_item_model_effects_follow_the_actual_leave_one_out_fall(models):
    # The closed form ignores how removing a rating moves the centring means, so it is
    # close to, not equal to, the refitted fold-in.
    model = models["item"]
    mine = _user_rows(RATINGS.user_id.iloc[9])
    rated = model.item_map_.transform(mine.index.to_numpy())
    values = mine.to_numpy(float)
    target = np.array([int(np.argmax(model._fold_in_ratings(rated, values)))])
    effects = rating_effects(model, rated, values, target)[0]
    full = model._fold_in_ratings(rated, values)[target[0]]
    actual = []
    for column in range(len(rated)):
        keep = np.arange(len(rated)) != column
        actual.append(full - model._fold_in_ratings(rated[keep], values[keep])[target[0]])
    assert spearmanr(effects, actual).statistic > 0.9
    np.testing.assert_allclose(effects, actual, atol=0.05 * np.abs(actual).max())


@pytest.mark.parametrize("n", [5, 40])
def test_ridge_leave_one_out_is_exact_in_both_forms(n):
    rng = np.random.default_rng(n)
    x, y, d = rng.normal(size=(n, 12)), rng.normal(size=n), rng.normal(size=(12, 3))
    l2 = 0.7

    def predict(rows):
        w = np.linalg.solve(x[rows].T @ x[rows] + l2 * np.eye(12), x[rows].T @ y[rows])
        return d.T @ w

    full = predict(np.arange(n))
    exact = np.stack([full - predict(np.arange(n) != i) for i in range(n)], axis=1)
    for primal in (False, True):
        np.testing.assert_allclose(ridge_leave_one_out(x, y, d, l2, primal), exact, atol=1e-10)


@pytest.mark.parametrize("n", [5, 40])
def test_ridge_leave_one_out_in_single_precision_is_close_in_both_forms(n):
    # The float32 Gram matrix and factor of users with many ratings: close to the float64
    # falls, not equal (float32 rounding).
    rng = np.random.default_rng(n)
    x, y, d = rng.normal(size=(n, 12)), rng.normal(size=n), rng.normal(size=(12, 3))
    for primal in (False, True):
        double = _leave_one_out.RidgeLeaveOneOut(x, y, d, 0.7, primal)
        single = _leave_one_out.RidgeLeaveOneOut(x, y, d, 0.7, primal, single=True)
        assert double.factor.dtype == np.float64 and single.factor.dtype == np.float32
        exact, close = double.falls(), single.falls()
        assert close.dtype == np.float64 and not np.array_equal(close, exact)
        np.testing.assert_allclose(close, exact, rtol=1e-4, atol=1e-5 * np.abs(exact).max())
        rows = np.array([1, 3])  # the leverages of a few rows: triangular solves
        np.testing.assert_allclose(single.scaled(rows), double.scaled(rows), rtol=1e-4)


@pytest.mark.parametrize("prune", [0, 10**9])
def test_single_precision_leave_one_out_names_the_same_reasons(models, monkeypatch, prune):
    model = copy.copy(models["item"])
    model.ranking_weights_ = (0.5, 0.1)  # the rating network's part counts in the ranking
    users = RATINGS.user_id.unique()[:30]
    monkeypatch.setattr(_leave_one_out, "PRUNE_ROWS", prune)
    monkeypatch.setattr(_leave_one_out, "SINGLE_ROWS", 10**9)
    double = model.recommend(users, k=8, explain=True)
    monkeypatch.setattr(_leave_one_out, "SINGLE_ROWS", 0)
    factors = []
    real = _leave_one_out.RidgeLeaveOneOut.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        factors.append(self.factor.dtype)

    monkeypatch.setattr(_leave_one_out.RidgeLeaveOneOut, "__init__", spy)
    single = model.recommend(users, k=8, explain=True)
    assert set(factors) == {np.dtype(np.float32)}  # every user took the float32 path
    assert single.item_id.tolist() == double.item_id.tolist()
    ids = [[[e["item_id"] for e in b] for b in f["because"]] for f in (single, double)]
    assert ids[0] == ids[1]
    effects = [[e["effect"] for b in f["because"] for e in b] for f in (single, double)]
    np.testing.assert_allclose(effects[0], effects[1], rtol=1e-4)


@pytest.mark.parametrize("l2", [None, 0.3])
def test_item_model_bounds_hold_the_exact_falls(models, monkeypatch, l2):
    model = copy.copy(models["item"])
    if l2 is not None:  # a small ridge penalty: loose bounds
        model.fold_in_l2_ = l2
    monkeypatch.setattr(_leave_one_out, "PRUNE_ROWS", 0)
    mine = _user_rows(RATINGS.user_id.iloc[3])
    rated = model.item_map_.transform(mine.index.to_numpy())
    values = mine.to_numpy(float)
    targets = np.arange(model.n_items_)
    falls = _leave_one_out.rating_falls(model, rated, values, targets)
    exact = falls.everything()
    slack = 1e-9 * (1 + np.abs(exact))
    assert (falls.low <= exact + slack).all() and (exact <= falls.high + slack).all()
    assert (falls.high - falls.low).max() > 0  # bounds, not the values again
    monkeypatch.setattr(_leave_one_out, "PRUNE_ROWS", 10**9)
    np.testing.assert_allclose(rating_effects(model, rated, values, targets), exact, rtol=1e-9)


@pytest.mark.parametrize("l2", [None, 0.3])
def test_pruned_reasons_are_the_ones_every_exact_effect_gives(models, monkeypatch, l2):
    model = copy.copy(models["item"])
    if l2 is not None:
        model.fold_in_l2_ = l2
    users = RATINGS.user_id.unique()[:25]
    monkeypatch.setattr(_leave_one_out, "PRUNE_ROWS", 10**9)
    full = model.recommend(users, k=8, explain=True)["because"].tolist()
    monkeypatch.setattr(_leave_one_out, "PRUNE_ROWS", 0)
    kept = []
    real = _explain._candidates
    monkeypatch.setattr(
        _explain, "_candidates", lambda f: kept.append(len(real(f)[0]) / f.low.shape[1]) or real(f)
    )
    pruned = model.recommend(users, k=8, explain=True)["because"].tolist()
    assert min(kept) < 1  # some rated items were ruled out by their bounds
    assert [[e["item_id"] for e in b] for b in pruned] == [[e["item_id"] for e in b] for b in full]
    np.testing.assert_allclose(
        [e["effect"] for b in pruned for e in b], [e["effect"] for b in full for e in b], rtol=1e-9
    )


@pytest.mark.parametrize("name", ["item", "user", "user-rating", "item-exposure"])
def test_because_names_the_users_own_ratings_largest_effect_first(models, name):
    model = models[name]
    user = RATINGS.user_id.iloc[0]
    mine = _user_rows(user)
    recs = model.recommend(user, k=8, explain=True, movies=MOVIES)
    assert recs.columns[-1] == "because"
    assert recs["because"].map(len).gt(0).all()
    for because in recs["because"]:
        assert len(because) <= BECAUSE
        effects = [entry["effect"] for entry in because]
        assert effects == sorted(effects, reverse=True) and min(effects) > 0
        assert min(effects) >= MIN_SHARE * effects[0]
        for entry in because:
            assert mine[entry["item_id"]] == entry["rating"]
            assert entry["title"] == f"Movie {entry['item_id']}"
    plain = model.recommend(user, k=8, movies=MOVIES)
    pd.testing.assert_frame_equal(recs.drop(columns="because"), plain)


@pytest.mark.parametrize("name", ["item", "user"])
def test_a_folded_in_user_gets_reasons_from_their_own_ratings(models, name):
    model = models[name]
    mine = {int(i): float(r) for i, r in _user_rows(RATINGS.user_id.iloc[2]).head(6).items()}
    recs = model.recommend(None, k=5, user_ratings=mine, explain=True)
    assert len(recs) == 5
    named = {entry["item_id"] for because in recs["because"] for entry in because}
    assert named and named <= set(mine)
    assert all(mine[e["item_id"]] == e["rating"] for b in recs["because"] for e in b)


def test_user_model_reasons_are_the_same_fitted_or_folded_in(models):
    model = models["user"]
    user = RATINGS.user_id.iloc[4]
    fitted = model.recommend(user, k=5, explain=True)
    folded = model.recommend(None, k=5, explain=True, user_ratings=_user_rows(user))
    for a, b in zip(fitted["because"], folded["because"], strict=True):
        assert [e["item_id"] for e in a] == [e["item_id"] for e in b]


def test_removing_the_reasons_lowers_the_score_by_about_their_effect(models):
    model = models["item-exposure"]  # exposure alone: the decomposition is exact
    mine = _user_rows(RATINGS.user_id.iloc[1])
    recs = model.recommend(None, k=3, explain=True, user_ratings=mine, exclude_seen=True)
    for row in recs.itertuples():
        first = row.because[0]
        rest = mine.drop(first["item_id"])
        after = model.recommend(None, k=model.n_items_, user_ratings=rest, exclude_seen=False)
        score = after.set_index("item_id").loc[row.item_id, "score"]
        assert row.score - score == pytest.approx(first["effect"], abs=1e-4)


def test_batch_explanations_equal_single_ones(models):
    model = models["item"]
    users = RATINGS.user_id.unique()[:3]
    batch = model.recommend(users, k=4, explain=True)
    for user in users:
        single = model.recommend(user, k=4, explain=True)
        mine = batch[batch.user_id == user].drop(columns="user_id")
        assert mine["because"].tolist() == single["because"].tolist()


def test_a_blend_explains_with_its_members_mixed():
    blend = BlendRecommender(
        [
            AutoEncoderRecommender(hidden_layers=(8,), kind="user", epochs=4),
            AutoEncoderRecommender(hidden_layers=(8,), kind="item", epochs=4),
        ],
        random_state=0,
    ).fit(RATINGS)
    mine = _user_rows(RATINGS.user_id.iloc[0])
    rated = blend.item_map_.transform(mine.index.to_numpy())
    targets = np.arange(5)
    mixed = rating_effects(blend, rated, mine.to_numpy(float), targets)
    parts = [rating_effects(m, rated, mine.to_numpy(float), targets) for m in blend.estimators_]
    expected = sum(w * p for w, p in zip(blend.weights_, parts, strict=True))
    np.testing.assert_allclose(mixed, expected)
    recs = blend.recommend(RATINGS.user_id.iloc[0], k=5, explain=True)
    assert recs["because"].map(len).gt(0).all()
    assert len(blend.similar_items(RATINGS.item_id.iloc[0], k=4)) == 4


@pytest.mark.parametrize("model", [EASE(l2=10.0), MostPopular()])
def test_the_baselines_say_they_cannot_explain(model):
    model.fit(RATINGS)
    with pytest.raises(ValueError, match=f"{type(model).__name__} cannot explain"):
        model.recommend(RATINGS.user_id.iloc[0], explain=True)


def test_explain_must_be_a_bool(models):
    with pytest.raises(TypeError, match="explain"):
        models["item"].recommend(RATINGS.user_id.iloc[0], explain="yes")


def test_similar_items_follow_the_exposure_weights(models):
    model = models["item"]
    item = RATINGS.item_id.iloc[0]
    similar = model.similar_items(item, k=5, movies=MOVIES)
    assert item not in similar.item_id.tolist()
    assert similar.index.tolist() == [1, 2, 3, 4, 5]
    assert similar.score.is_monotonic_decreasing
    assert similar.columns.tolist() == ["item_id", "score", "n_ratings", "title", "genres"]
    index = model.item_map_.transform(np.array([item]))[0]
    row = model.exposure_weights_[np.searchsorted(model.exposure_items_, index)].copy()
    row[np.searchsorted(model.exposure_items_, index)] = -np.inf
    best = model.item_map_.inverse_transform(model.exposure_items_[np.argsort(-row)[:5]])
    assert similar.item_id.tolist() == best.tolist()


def test_similar_items_without_an_exposure_model_use_the_item_vectors(models):
    model = models["user-rating"]
    assert model.exposure_items_ is None
    similar = model.similar_items(RATINGS.item_id.iloc[0], k=5)
    assert similar.score.between(-1, 1).all() and similar.score.is_monotonic_decreasing


def test_similar_items_bad_input(models):
    model = models["item"]
    with pytest.raises(KeyError, match="item id 99999"):
        model.similar_items(99999)
    with pytest.raises(ValueError, match="k"):
        model.similar_items(RATINGS.item_id.iloc[0], k=0)
    with pytest.raises(TypeError, match="one id"):
        model.similar_items([1, 2])
