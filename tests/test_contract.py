"""One contract, every model: the behaviour all autorec recommenders share.

The pattern of implicit's ``tests/recommender_base_test.py``: each model class is built
by a factory below and must pass every test here (scikit-learn conventions, recommend
over the shared base, bad input, a failed refit, parameters changed after fit, save and
load). A model-specific test file holds only what is special about that model.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_files import reload
from sklearn.base import clone

from autorec import AutoEncoderRecommender, BlendRecommender, NotFittedError
from autorec.baselines import BiasBaseline, GlobalMean
from autorec.datasets import make_ratings

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"hidden_layers": (8,), "epochs": 3, "learning_rate": 1e-2, "random_state": 0}

#: name -> (factory of an unfitted model, predicts ratings, folds in new users, saves)
MODELS: dict[str, tuple[Callable[[], object], bool, bool, bool]] = {
    "user-autoencoder": (lambda: AutoEncoderRecommender(**TINY), True, True, True),
    "item-autoencoder": (lambda: AutoEncoderRecommender(kind="item", **TINY), True, True, True),
    "blend": (
        lambda: BlendRecommender(
            [AutoEncoderRecommender(**TINY), AutoEncoderRecommender(kind="item", **TINY)],
            random_state=0,
        ),
        True,
        True,
        True,
    ),
    "user-blend": (
        lambda: BlendRecommender(
            [AutoEncoderRecommender(**TINY), AutoEncoderRecommender(hidden_layers=(4,), epochs=2)],
            random_state=0,
        ),
        True,
        True,
        True,
    ),
    "global-mean": (GlobalMean, True, True, False),
    "bias-baseline": (BiasBaseline, True, True, False),
}
NAMES = list(MODELS)


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return make_ratings(n_users=50, n_items=30, n_ratings=700, random_state=0)


@pytest.fixture(scope="module", params=NAMES)
def case(request, ratings):
    factory, predicts, folds_in, saves = MODELS[request.param]
    model = factory().fit(ratings)
    return {
        "name": request.param,
        "factory": factory,
        "model": model,
        "predicts": predicts,
        "folds_in": folds_in,
        "saves": saves,
    }


def _seen(ratings: pd.DataFrame, user) -> set:
    return set(ratings.loc[ratings["user_id"] == user, "item_id"].tolist())


# ------------------------------------------------------------------ estimator conventions
@pytest.mark.parametrize("name", NAMES)
def test_unfitted_methods_raise_not_fitted(name):
    model = MODELS[name][0]()
    with pytest.raises(NotFittedError, match="not fitted"):
        model.recommend(1)
    if MODELS[name][1]:
        with pytest.raises(NotFittedError, match="not fitted"):
            model.predict(pd.DataFrame({"user_id": [1], "item_id": [1]}))


@pytest.mark.parametrize("name", NAMES)
def test_clone_copies_params_not_state_and_set_params_checks_names(name, ratings):
    model = MODELS[name][0]().fit(ratings)
    copy = clone(model)
    assert copy.get_params().keys() == model.get_params().keys()
    assert not hasattr(copy, "user_map_")
    with pytest.raises(ValueError, match="invalid parameter 'no_such'"):
        copy.set_params(no_such=1)


def test_fit_returns_self_and_learned_attributes_end_in_underscore(case, ratings):
    model = case["factory"]()
    assert model.fit(ratings) is model
    for attr in ("user_map_", "item_map_", "n_users_", "n_items_", "utility_"):
        assert hasattr(model, attr), attr
    assert model.n_users_ == ratings["user_id"].nunique()
    assert model.n_items_ == ratings["item_id"].nunique()


# ------------------------------------------------------------------------- recommend
def test_recommend_k_unique_sorted_unseen(case, ratings):
    model = case["model"]
    user = ratings["user_id"].iloc[0]
    recs = model.recommend(user, k=5)
    assert list(recs.columns[:2]) == ["item_id", "score"]
    assert recs.index.tolist() == [1, 2, 3, 4, 5] and recs.index.name == "rank"
    assert recs["item_id"].is_unique
    assert recs["score"].is_monotonic_decreasing
    assert not set(recs["item_id"]) & _seen(ratings, user)


def test_recommend_returns_every_candidate_when_fewer_than_k(case, ratings):
    model = case["model"]
    user = ratings["user_id"].iloc[0]
    n_unseen = model.n_items_ - len(_seen(ratings, user))
    assert len(model.recommend(user, k=1000)) == n_unseen
    assert len(model.recommend(user, k=1000, exclude_seen=False)) == model.n_items_


def test_batch_recommend_equals_single_calls(case, ratings):
    model = case["model"]
    users = list(ratings["user_id"].unique()[:4])
    batch = model.recommend(users, k=4)
    assert batch["user_id"].tolist() == [u for u in users for _ in range(4)]
    for user in users:
        single = model.recommend(user, k=4)
        part = batch[batch["user_id"] == user].drop(columns="user_id")
        pd.testing.assert_frame_equal(part, single)
    # a Series and an array give the same result as a list
    pd.testing.assert_frame_equal(model.recommend(pd.Series(users), k=4), batch)


@pytest.mark.parametrize(
    ("user_id", "error", "message"),
    [
        (-12345, KeyError, r"-12345"),
        ([], ValueError, "empty"),
        ({1, 2}, TypeError, "set"),
        (float("nan"), ValueError, "nan.*cannot be an id"),
        (None, ValueError, "None.*cannot be an id"),
        (1.5, ValueError, "1.5.*cannot be an id"),
    ],
)
def test_recommend_bad_users_are_named(case, user_id, error, message):
    with pytest.raises(error, match=message):
        case["model"].recommend(user_id)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"k": 0}, ValueError), ({"k": 2.0}, TypeError), ({"exclude_seen": "no"}, TypeError)],
)
def test_recommend_bad_arguments(case, ratings, kwargs, error):
    with pytest.raises(error):
        case["model"].recommend(ratings["user_id"].iloc[0], **kwargs)


def test_recommend_joins_movie_titles(case, ratings):
    model = case["model"]
    movies = pd.DataFrame({"item_id": model.item_map_.ids, "title": "t"})
    movies["title"] = [f"movie {i}" for i in movies["item_id"]]
    recs = model.recommend(ratings["user_id"].iloc[0], k=3, movies=movies)
    assert recs["title"].tolist() == [f"movie {i}" for i in recs["item_id"]]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(0, 49), k=st.integers(1, 40), exclude_seen=st.booleans())
def test_recommend_property(case, ratings, position, k, exclude_seen):
    model = case["model"]
    user = model.user_map_.ids[position % model.n_users_]
    recs = model.recommend(user, k=k, exclude_seen=exclude_seen)
    assert recs["item_id"].is_unique and recs["score"].is_monotonic_decreasing
    assert len(recs) <= k
    if exclude_seen:
        assert not set(recs["item_id"]) & _seen(ratings, user)


def test_fold_in_of_a_training_user_ranks_like_recommend(case, ratings):
    model = case["model"]
    user = ratings["user_id"].iloc[0]
    own = ratings[ratings["user_id"] == user]
    own = dict(zip(own["item_id"], own["rating"], strict=True))
    if not case["folds_in"]:
        with pytest.raises(ValueError, match=r"fold|refit"):
            model.recommend(None, k=5, user_ratings=own)
        return
    folded = model.recommend(None, k=5, user_ratings=own)
    assert not set(folded["item_id"]) & set(own)
    if case["name"] in ("user-autoencoder", "user-blend", "bias-baseline", "global-mean"):
        # these models' scores for a user depend on the user's ratings alone (the bias
        # baseline's new user has no bias: same order as a known user, up to a shift)
        expected = model.recommend(user, k=5)
        assert folded["item_id"].tolist() == expected["item_id"].tolist()


def test_fold_in_repeated_item_is_an_error(case, ratings):
    if not case["folds_in"]:
        pytest.skip("this model does not fold in users")
    item = case["model"].item_map_.ids[0]
    frame = pd.DataFrame({"item_id": [item, item], "rating": [5.0, 5.0]})
    with pytest.raises(ValueError, match=rf"item {item.item()!r} more than once"):
        case["model"].recommend(None, user_ratings=frame)


# --------------------------------------------------------------------------- predict
@pytest.mark.parametrize(
    "bad",
    [[float("nan")], [None], [1.5]],
    ids=["nan", "none", "fraction"],
)
def test_predict_rejects_ids_that_cannot_be_ids(case, ratings, bad):
    if not case["predicts"]:
        pytest.skip("a ranking-only model")
    item = ratings["item_id"].iloc[0]
    pairs = pd.DataFrame({"user_id": pd.Series(bad, dtype=object), "item_id": [item]})
    with pytest.raises(ValueError, match="user_id"):
        case["model"].predict(pairs)


def test_predict_flags_are_bools_only(case, ratings):
    if not case["predicts"]:
        pytest.skip("a ranking-only model")
    with pytest.raises(TypeError, match="clip must be True or False"):
        case["model"].predict(ratings.head(2), clip="no")


def test_predict_is_finite_and_within_the_scale(case, ratings):
    if not case["predicts"]:
        pytest.skip("a ranking-only model")
    pred = case["model"].predict(ratings)
    low, high = case["model"].rating_scale_
    assert pred.shape == (len(ratings),) and np.isfinite(pred).all()
    assert pred.min() >= low and pred.max() <= high


def test_complete_keeps_observed_ratings(case, ratings):
    if not case["predicts"]:
        pytest.skip("a ranking-only model")
    full = case["model"].complete()
    row = ratings.iloc[3]
    assert full.loc[row.user_id, row.item_id] == pytest.approx(row.rating)
    assert full.shape == (case["model"].n_users_, case["model"].n_items_)


# ------------------------------------------------------------------- state and files
@pytest.mark.parametrize("name", NAMES)
def test_a_failed_refit_leaves_the_model_as_it_was(name, ratings):
    model = MODELS[name][0]().fit(ratings)
    before = model.recommend(ratings["user_id"].iloc[0], k=5)
    state = dict(vars(model))
    bad = ratings.assign(rating=ratings["rating"].astype(object))
    bad.loc[bad.index[3], "rating"] = "five"
    with pytest.raises(ValueError):
        model.fit(bad)
    assert vars(model).keys() == state.keys()
    assert all(vars(model)[k] is v for k, v in state.items())
    pd.testing.assert_frame_equal(model.recommend(ratings["user_id"].iloc[0], k=5), before)


def test_save_load_round_trip(case, ratings, tmp_path):
    if not case["saves"]:
        pytest.skip("this model has no file format")
    model = case["model"]
    path = model.save(tmp_path / "model.safetensors")
    loaded = reload(model, path)
    user = ratings["user_id"].iloc[0]
    pd.testing.assert_frame_equal(loaded.recommend(user, k=5), model.recommend(user, k=5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(loaded.predict(ratings), model.predict(ratings))
