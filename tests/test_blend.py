"""Tests of :class:`autorec.BlendRecommender` (the weighted average of autoencoders).

Small synthetic ratings and one-layer sub-models keep the whole file to a few seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from autorec import AutoEncoderRecommender, BlendRecommender, NotFittedError
from autorec._blend import _MAX_AUTO, _convex_least_squares, _default_estimators
from autorec._estimator import PRESETS
from autorec._prepare import held_out_cells, hold_out, prepare
from autorec.datasets import make_ratings, train_test_split, utility_matrix

TINY = {"hidden_layers": (8,), "epochs": 3, "learning_rate": 1e-2}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _user(**params) -> AutoEncoderRecommender:
    return AutoEncoderRecommender(**{**TINY, **params})


def _item(**params) -> AutoEncoderRecommender:
    return AutoEncoderRecommender(kind="item", **{**TINY, **params})


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return make_ratings(n_users=60, n_items=40, n_ratings=900, random_state=0)


@pytest.fixture(scope="module")
def blend(ratings) -> BlendRecommender:
    return BlendRecommender([_user(), _item()], weights=[3, 1], random_state=0).fit(ratings)


@pytest.fixture(scope="module")
def user_blend(ratings) -> BlendRecommender:
    return BlendRecommender([_user(), _user(hidden_layers=(6,))], random_state=1).fit(ratings)


def _rated_items(ratings: pd.DataFrame, user) -> set:
    return set(ratings.loc[ratings["user_id"] == user, "item_id"].tolist())


# ----------------------------------------------------------------- estimator contract
def test_init_stores_parameters_unchanged() -> None:
    estimators, weights = [_user()], (2.0,)
    blend = BlendRecommender(estimators, weights=weights, random_state=5)
    assert blend.estimators is estimators and blend.weights is weights
    assert blend.random_state == 5
    assert blend.get_params() == {
        "estimators": estimators,
        "weights": weights,
        "validation_fraction": 0.05,
        "ranking": "hybrid",
        "random_state": 5,
    }


def test_init_does_not_validate() -> None:
    blend = BlendRecommender(estimators="nonsense", weights=[-1], random_state="x")
    assert blend.estimators == "nonsense"


def test_set_params_and_invalid_name() -> None:
    blend = BlendRecommender()
    assert blend.set_params(weights=[1, 2], random_state=3) is blend
    assert blend.weights == [1, 2] and blend.random_state == 3
    with pytest.raises(ValueError, match="invalid parameter 'nope'"):
        blend.set_params(nope=1)


def test_clone_copies_params_not_state(blend) -> None:
    copy = clone(blend)
    assert not hasattr(copy, "estimators_")
    assert copy.weights == blend.weights and copy.random_state == blend.random_state
    assert len(copy.estimators) == 2
    for original, cloned in zip(blend.estimators, copy.estimators, strict=True):
        assert cloned is not original
        assert cloned.get_params() == original.get_params()


def test_fit_returns_self_and_learned_attributes(ratings) -> None:
    templates = [_user(), _item()]
    blend = BlendRecommender(templates, random_state=0)
    assert blend.fit(ratings) is blend
    assert len(blend.estimators_) == 2
    assert all(m is not t for m, t in zip(blend.estimators_, templates, strict=True))
    assert not any(hasattr(t, "module_") for t in templates)  # templates stay unfitted
    assert blend.weights_.shape == (2,) and (blend.weights_ >= 0).all()
    assert blend.weights_.sum() == pytest.approx(1.0)
    assert blend.validation_rmse_.shape == (3,)
    assert blend.rating_scale_ == (1.0, 5.0)
    assert blend.fit_seconds_ > 0


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.predict(pd.DataFrame({"user_id": [1], "item_id": [1]})),
        lambda b: b.recommend(1, k=3),
    ],
    ids=["predict", "recommend"],
)
def test_methods_before_fit_raise_not_fitted(call) -> None:
    with pytest.raises(NotFittedError, match="BlendRecommender"):
        call(BlendRecommender([_user()]))


def test_default_estimators_are_the_three_presets(ratings) -> None:
    templates = _default_estimators()
    assert [t.kind for t in templates] == ["auto", "user", "item"]
    presets = ("default", "reference", "i-autorec-1000")
    for template, preset in zip(templates, presets, strict=True):
        assert template.get_params() == AutoEncoderRecommender.from_preset(preset).get_params()
    assert PRESETS["i-autorec-1000"]["kind"] == "item"
    blend = BlendRecommender(random_state=0).fit(ratings)
    assert blend.estimators is None  # fit does not write the defaults back
    assert [m.fit_params_["kind"] for m in blend.estimators_] == ["item", "user", "item"]
    assert [m.fit_params_["residual"] for m in blend.estimators_] == [True, False, False]
    widths = [m.fit_params_["hidden_layers"] for m in blend.estimators_]
    assert widths[1:] == [(200, 100, 200), (1000,)]


# ------------------------------------------------------------------------ predict
def test_predict_is_the_weighted_average_of_the_sub_models(blend, ratings) -> None:
    pairs = ratings.head(50)
    user, item = (m.predict(pairs, clip=False) for m in blend.estimators_)
    raw = blend.predict(pairs, clip=False)
    assert raw.dtype == np.float32 and raw.shape == (50,)
    assert np.allclose(raw, 0.75 * user + 0.25 * item, atol=1e-6)
    assert np.allclose(blend.predict(pairs), np.clip(raw, 1.0, 5.0))


def test_predict_clips_unless_asked_not_to(ratings) -> None:
    # A linear network trained hard on data piled at the top of the scale overshoots it.
    top = ratings.assign(rating=np.where(ratings["rating"] >= 4, 5.0, 1.0))
    blend = BlendRecommender(
        [_user(activation="identity", epochs=20, validation_fraction=0.0)], random_state=0
    ).fit(top)
    raw = blend.predict(top, clip=False)
    assert raw.max() > 5.0 or raw.min() < 1.0
    clipped = blend.predict(top)
    assert clipped.min() >= 1.0 and clipped.max() <= 5.0
    assert np.allclose(clipped, np.clip(raw, 1.0, 5.0))


def test_rating_scale_is_the_widest_of_the_sub_models(ratings) -> None:
    blend = BlendRecommender([_user(), _item(rating_scale=(0.5, 5.5))], random_state=0)
    assert blend.fit(ratings).rating_scale_ == (0.5, 5.5)


# ------------------------------------------------------------------------ weights
@pytest.mark.parametrize(
    ("weights", "error", "shown"),
    [
        ([1.0], ValueError, "[1.0]"),
        ([1.0, 2.0, 3.0], ValueError, "[1.0, 2.0, 3.0]"),
        ([1.0, -0.5], ValueError, "-0.5"),
        ([0, 0], ValueError, "[0, 0]"),
        ([1.0, float("nan")], ValueError, "nan"),
        (["heavy", "light"], TypeError, "heavy"),
        ([1.0, None], TypeError, "None"),
        ([True, True], TypeError, "True"),
        (2.0, TypeError, "2.0"),
        ("ab", ValueError, "'ab'"),
        ("AUTO", ValueError, "'AUTO'"),
        (b"auto", TypeError, "b'auto'"),
    ],
)
def test_bad_weights_are_rejected_at_fit(ratings, weights, error, shown) -> None:
    blend = BlendRecommender([_user(), _item()], weights=weights)
    with pytest.raises(error, match="weights") as info:
        blend.fit(ratings)
    assert shown in str(info.value)
    assert not hasattr(blend, "estimators_")


def test_one_zero_weight_is_allowed(ratings) -> None:
    blend = BlendRecommender([_user(), _item()], weights=[0, 2], random_state=0).fit(ratings)
    assert np.array_equal(blend.weights_, [0.0, 1.0])
    pairs = ratings.head(20)
    expected = blend.estimators_[1].predict(pairs, clip=False)
    assert np.allclose(blend.predict(pairs, clip=False), expected, atol=1e-6)


def test_weights_may_be_an_array(ratings) -> None:
    blend = BlendRecommender([_user(), _item()], weights=np.array([1, 3]), random_state=0)
    assert np.allclose(blend.fit(ratings).weights_, [0.25, 0.75])


# -------------------------------------------------------------------- estimators
def test_empty_estimators_is_an_error(ratings) -> None:
    with pytest.raises(ValueError, match="at least one"):
        BlendRecommender([]).fit(ratings)


def test_a_foreign_estimator_is_a_type_error(ratings) -> None:
    from autorec.baselines import BiasBaseline

    with pytest.raises(TypeError, match="BiasBaseline"):
        BlendRecommender([_user(), BiasBaseline()]).fit(ratings)


def test_bad_sub_model_parameter_is_reported(ratings) -> None:
    with pytest.raises(ValueError, match="kind='diagonal'"):
        BlendRecommender([_user(kind="diagonal")]).fit(ratings)


def test_duplicates_follow_the_sub_models_policy(ratings) -> None:
    doubled = pd.concat([ratings, ratings.head(1).assign(rating=1.0)], ignore_index=True)
    with pytest.raises(ValueError, match="duplicate"):
        BlendRecommender([_user()]).fit(doubled)
    blend = BlendRecommender([_user(duplicates="last"), _item(duplicates="last")])
    assert len(blend.fit(doubled).estimators_) == 2


def test_bad_ratings_fail_before_any_training(ratings) -> None:
    with pytest.raises(ValueError, match="rating"):
        BlendRecommender([_user()]).fit(ratings.drop(columns="rating"))


# ------------------------------------------------------------------ random_state
def test_random_state_overrides_sub_model_seeds_and_is_reproducible(ratings) -> None:
    templates = [_user(random_state=11), _item(random_state=12)]
    first = BlendRecommender(templates, random_state=7).fit(ratings)
    second = BlendRecommender(templates, random_state=7).fit(ratings)
    assert [m.random_state for m in first.estimators_] == [7, 7]
    assert [t.random_state for t in templates] == [11, 12]  # templates untouched
    assert np.array_equal(first.predict(ratings), second.predict(ratings))
    other = BlendRecommender(templates, random_state=8).fit(ratings)
    assert not np.array_equal(first.predict(ratings), other.predict(ratings))


def test_without_random_state_the_sub_model_seeds_are_kept(ratings) -> None:
    blend = BlendRecommender([_user(random_state=11), _item(random_state=12)]).fit(ratings)
    assert [m.random_state for m in blend.estimators_] == [11, 12]


def test_bad_random_state_is_rejected(ratings) -> None:
    with pytest.raises(ValueError, match="random_state"):
        BlendRecommender([_user()], random_state=-1).fit(ratings)


# ---------------------------------------------------------------------- recommend
def test_recommend_scores_are_the_weighted_sub_model_scores(blend, ratings) -> None:
    user = ratings["user_id"].iloc[3]
    blend = BlendRecommender([_user(), _item()], weights=[3, 1], ranking="rating", random_state=0)
    recs = blend.fit(ratings).recommend(user, k=6)
    matrices = [m.predict_matrix([user], clip=False)[0] for m in blend.estimators_]
    item_map = blend.estimators_[0].item_map_
    columns = item_map.transform(recs["item_id"].to_numpy())
    expected = 0.75 * matrices[0][columns] + 0.25 * matrices[1][columns]
    assert np.allclose(recs["score"].to_numpy(), expected, atol=1e-6)
    assert np.allclose(recs["predicted_rating"], np.clip(expected, *blend.rating_scale_))
    # and they are the best unseen columns of the blended row
    row = 0.75 * matrices[0].astype(np.float64) + 0.25 * matrices[1]
    row[item_map.transform(np.array(sorted(_rated_items(ratings, user))))] = -np.inf
    assert np.isclose(recs["score"].iloc[0], row.max())


def test_fold_in_with_user_models(user_blend, ratings) -> None:
    user = ratings["user_id"].iloc[0]
    mine = ratings[ratings["user_id"] == user][["item_id", "rating"]]
    recs = user_blend.recommend(None, k=5, user_ratings=mine)
    assert len(recs) == 5
    assert not set(recs["item_id"]) & set(mine["item_id"])
    # folding in a training user's own ratings ranks like recommend(user)
    assert recs["item_id"].tolist() == user_blend.recommend(user, k=5)["item_id"].tolist()
    new = user_blend.recommend("newcomer", k=3, user_ratings={1: 5.0, 2: 1.0})
    assert len(recs) == 5 and not {1, 2} & set(new["item_id"])


def test_the_blend_folds_in_as_a_whole(blend, ratings) -> None:
    # A user + item blend folds in a new user: the weighted mix of both fold-ins.
    mine = {1: 5.0, 2: 1.0, 3: 4.0}
    items = blend.item_map_.transform(list(mine))
    values = np.array(list(mine.values()))
    expected = sum(
        w * m._fold_in_ratings(items, values)
        for w, m in zip(blend.weights_, blend.estimators_, strict=True)
    )
    recs = blend.recommend(None, k=5, user_ratings=mine)
    columns = blend.item_map_.transform(recs["item_id"])
    assert np.allclose(recs["predicted_rating"], np.clip(expected[columns], *blend.rating_scale_))
    assert not set(recs["item_id"]) & set(mine)


# ---------------------------------------------------------------- learned weights
def test_equal_weights_with_none(ratings) -> None:
    blend = BlendRecommender([_user(), _item()], weights=None, random_state=0).fit(ratings)
    assert np.allclose(blend.weights_, [0.5, 0.5])
    assert blend.validation_rmse_ is None


def test_auto_weights_are_the_best_convex_mix_on_the_shared_slice(ratings) -> None:
    blend = BlendRecommender([_user(), _item(), _user(hidden_layers=(4,))], random_state=0)
    blend.fit(ratings)
    parts = blend.estimators_
    data = prepare(ratings)
    users, items = held_out_cells(data, 0.05, 0)
    target = np.asarray(data.matrix[users, items], dtype=np.float64).ravel()
    assert len(target) > 0
    # Every estimator early-stopped on the same held-out cells, in the same order.
    for model in parts:
        assert model.validation_predictions_.shape == target.shape
    preds = np.column_stack([m.validation_predictions_ for m in parts]).astype(np.float64)

    def loss(w) -> float:
        return float(np.sum((preds @ w - target) ** 2))

    w = blend.weights_
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0)
    # No other convex mix does better: the corners and a grid of the simplex.
    steps = np.linspace(0, 1, 21)
    grid = [np.array([a, b, 1 - a - b]) for a in steps for b in steps]
    assert all(loss(w) <= loss(g) + 1e-6 for g in grid if g[2] >= -1e-12)
    # The reported validation RMSEs are those of the early-stopping history's best epoch.
    for j, model in enumerate(parts):
        kept = model.history_["val_rmse"][model.best_epoch_ - 1]
        assert blend.validation_rmse_[j] == pytest.approx(kept, abs=1e-5)
    blended = np.clip(preds @ w, 1, 5)
    assert blend.validation_rmse_[-1] == pytest.approx(np.sqrt(np.mean((blended - target) ** 2)))


def test_auto_weights_are_reproducible(ratings) -> None:
    first = BlendRecommender([_user(), _item()], random_state=3).fit(ratings)
    second = BlendRecommender([_user(), _item()], random_state=3).fit(ratings)
    assert np.array_equal(first.weights_, second.weights_)
    pairs = ratings.head(30)
    assert np.array_equal(first.predict(pairs), second.predict(pairs))


def test_auto_weights_ignore_an_uninformative_model(ratings) -> None:
    # A model trained for one epoch at a tiny learning rate predicts ~the global mean;
    # the learned weights must prefer the trained one by far.
    useless = _user(epochs=1, learning_rate=1e-7)
    trained = _user(epochs=30, lr_schedule="plateau")  # a constant 1e-2, as TINY means
    blend = BlendRecommender([trained, useless], random_state=0).fit(ratings)
    assert blend.weights_[0] > 0.8


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, float("nan"), "0.1", None, True])
def test_bad_validation_fraction_is_rejected_before_training(ratings, fraction) -> None:
    blend = BlendRecommender([_user()], validation_fraction=fraction)
    with pytest.raises((TypeError, ValueError), match="validation_fraction") as info:
        blend.fit(ratings)
    assert repr(fraction) in str(info.value)
    assert not hasattr(blend, "estimators_")


def test_validation_fraction_is_ignored_with_fixed_weights_and_rating_order(ratings) -> None:
    blend = BlendRecommender(
        [_user()], weights=[1], validation_fraction=7, ranking="rating", random_state=0
    )
    assert np.array_equal(blend.fit(ratings).weights_, [1.0])


def test_nothing_to_hold_out_gives_equal_weights_and_a_warning() -> None:
    few = make_ratings(n_users=40, n_items=30, n_ratings=200, random_state=0)
    assert few.groupby("user_id").size().max() < 50  # 1% of each user rounds to 0
    blend = BlendRecommender([_user(), _item()], validation_fraction=0.01, random_state=0)
    with pytest.warns(UserWarning, match="equal weights"):
        blend.fit(few)
    assert np.allclose(blend.weights_, [0.5, 0.5]) and blend.validation_rmse_ is None


def test_too_many_estimators_for_auto(ratings) -> None:
    blend = BlendRecommender([_user() for _ in range(_MAX_AUTO + 1)])
    with pytest.raises(ValueError, match=f"at most {_MAX_AUTO} estimators, got {_MAX_AUTO + 1}"):
        blend.fit(ratings)


def test_convex_least_squares_recovers_a_planted_mix() -> None:
    rng = np.random.default_rng(0)
    preds = rng.normal(size=(200, 4))
    planted = np.array([0.5, 0.0, 0.2, 0.3])
    assert np.allclose(_convex_least_squares(preds, preds @ planted), planted, atol=1e-9)
    # An optimum outside the simplex lands on its boundary.
    assert np.allclose(_convex_least_squares(preds, 2 * preds[:, 1]), [0, 1, 0, 0])


def test_hold_out_removes_exactly_the_named_cells() -> None:
    frame = pd.DataFrame(
        {"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 30, 20], "rating": [5, 4, 3, 2, 1.0]}
    )
    utility = utility_matrix(frame)
    matrix = utility.matrix.tocsr()
    users = utility.user_map.transform([2, 1])
    items = utility.item_map.transform([30, 10])
    for kind, rows_matrix in [("user", matrix), ("item", matrix.T.tocsr())]:
        fit_rows, (rows, cols, target) = hold_out(rows_matrix, users, items, kind)
        assert fit_rows.nnz == 3 and np.array_equal(target, [2.0, 5.0])
        assert np.all(fit_rows[rows, cols] == 0)
        assert np.array_equal(rows_matrix[rows, cols].A1, target)
    with pytest.raises(ValueError, match="pairs of the ratings"):
        _user(random_state=0).fit(frame, validation=pd.DataFrame({"user_id": [9], "item_id": [10]}))


def test_hold_out_keeps_explicit_zero_ratings() -> None:
    # On a 0-5 scale a stored 0 is a rating; holding out another cell must not drop it.
    frame = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1], "rating": [0.0, 3, 4]})
    utility = utility_matrix(frame)
    users, items = utility.user_map.transform([1]), utility.item_map.transform([2])
    fit_rows, _ = hold_out(utility.matrix.tocsr(), users, items, "user")
    assert fit_rows.nnz == 2 and sorted(fit_rows.data.tolist()) == [0.0, 4.0]


def test_held_out_cells_are_those_of_train_test_split(ratings) -> None:
    data = prepare(ratings)
    users, items = held_out_cells(data, 0.05, 7)
    _, test = train_test_split(ratings, 0.05, by="user", random_state=7)
    assert np.array_equal(data.utility.user_map.inverse_transform(users), test["user_id"])
    assert np.array_equal(data.utility.item_map.inverse_transform(items), test["item_id"])


def test_a_plain_refit_drops_held_out_predictions(ratings) -> None:
    model = _user(random_state=0)
    held = ratings.head(10)
    model.fit(ratings, validation=held)
    assert len(model.validation_predictions_) == 10
    model.fit(ratings)
    assert model.validation_predictions_ is None
