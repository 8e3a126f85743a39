"""What a careful user hit on ordinary data (issue 24): small catalogues, fold-in of
unknown items, history merging, divergence after good epochs, odd validation slices,
and the parameters and frames that used to fail late or silently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autorec import AutoEncoderRecommender, BlendRecommender
from autorec.datasets import make_ratings

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _all_rate_four(n_users: int = 20, n_items: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(n_users), n_items),
            "item_id": np.tile(np.arange(n_items), n_users),
            "rating": 4.0,
        }
    )


@pytest.mark.parametrize(
    "make, data",
    [
        (lambda: AutoEncoderRecommender(epochs=3, random_state=0), (60, 9, 270)),
        (lambda: AutoEncoderRecommender(kind="item", epochs=3, random_state=0), (200, 8, 800)),
        (
            lambda: BlendRecommender(
                [
                    AutoEncoderRecommender(kind="user", epochs=2, random_state=0),
                    AutoEncoderRecommender(kind="item", epochs=2, random_state=0),
                ],
                validation_fraction=0.2,
                random_state=0,
            ),
            (60, 9, 270),
        ),
        (lambda: AutoEncoderRecommender(epochs=3, random_state=0), None),
    ],
    ids=["default-9-items", "item-8-items", "blend-9-items", "all-rate-4-5-items"],
)
def test_catalogues_smaller_than_the_ranking_cutoff_fit_and_recommend(make, data):
    ratings = _all_rate_four() if data is None else make_ratings(*data, random_state=0)
    model = make().fit(ratings)
    user = ratings["user_id"].iloc[0]
    out = model.recommend(user, k=20, exclude_seen=False)
    assert len(out) == ratings["item_id"].nunique()
    assert out["item_id"].is_unique


def _configurations():
    user = AutoEncoderRecommender(kind="user", epochs=2, random_state=0)
    item = AutoEncoderRecommender(kind="item", epochs=2, random_state=0)
    from autorec.baselines import BiasBaseline, GlobalMean

    return {
        "default": AutoEncoderRecommender(epochs=2, random_state=0),
        "user": user,
        "item": item,
        "user-rating": AutoEncoderRecommender(kind="user", epochs=2, ranking="rating"),
        "item-exposure": AutoEncoderRecommender(kind="item", epochs=2, ranking="exposure"),
        "blend": BlendRecommender([user, item], random_state=0),
        "bias": BiasBaseline(),
        "mean": GlobalMean(),
    }


@pytest.fixture(scope="module")
def fitted_models():
    ratings = make_ratings(80, 50, 1500, random_state=0)
    return ratings, {name: model.fit(ratings) for name, model in _configurations().items()}


@pytest.mark.parametrize("name", list(_configurations()))
@pytest.mark.parametrize("user_ratings", [{999: 5}, {}], ids=["unknown-item", "empty"])
def test_fold_in_with_no_known_item_gives_every_model_the_most_rated_items(
    fitted_models, name, user_ratings
):
    ratings, models = fitted_models
    with pytest.warns(UserWarning, match="no item from the training data.*most-rated") as got:
        out = models[name].recommend(None, k=5, user_ratings=user_ratings)
    assert not [w for w in got if issubclass(w.category, RuntimeWarning)]
    counts = ratings["item_id"].value_counts()
    expected = sorted(counts.index, key=lambda item: (-counts[item], item))[:5]
    assert out["item_id"].tolist() == expected
    if "predicted_rating" in out:
        means = ratings.groupby("item_id")["rating"].mean()
        np.testing.assert_allclose(out["predicted_rating"], means[expected], rtol=1e-5)
    if user_ratings:
        assert "999" in str(got[0].message)


@pytest.mark.parametrize("name", list(_configurations()))
def test_fold_in_of_a_training_user_keeps_their_history_out(fitted_models, name):
    ratings, models = fitted_models
    history = set(ratings.loc[ratings["user_id"] == 1, "item_id"])
    new_item = next(i for i in sorted(set(ratings["item_id"]) - history))
    out = models[name].recommend(1, k=50, user_ratings={new_item: 5})
    assert not set(out["item_id"]) & (history | {new_item})
    assert len(out) == ratings["item_id"].nunique() - len(history) - 1
    rows = ratings[ratings["user_id"] == 1]
    spelled_out = {**dict(zip(rows["item_id"], rows["rating"], strict=True)), new_item: 5}
    same = models[name].recommend(None, k=50, user_ratings=spelled_out)
    pd.testing.assert_frame_equal(out, same)


@pytest.fixture(scope="module")
def r():
    return make_ratings(80, 50, 1500, random_state=0)


@pytest.mark.parametrize(
    "params",
    [
        {"optimizer": "sgd", "learning_rate": 10.0, "epochs": 8},
        {"kind": "user", "refine_l2": 1e-9},
    ],
    ids=["sgd-lr-10", "refine-1e-9"],
)
def test_divergence_after_good_epochs_with_the_bias_model_best_keeps_it(r, params):
    with pytest.warns(RuntimeWarning, match="kept the weights of epoch 0"):
        model = AutoEncoderRecommender(random_state=0, **params).fit(r)
    assert model.best_epoch_ == 0
    assert np.isfinite(model.predict(r.head(50))).all()


@pytest.mark.parametrize(
    "params, factor, cause",
    [
        ({"kind": "user"}, 1e-4, r"rating scale \[0.0001, 0.0005\].*rescale"),
        ({"kind": "item"}, 1e29, r"rating scale \[1e\+29, 5e\+29\].*rescale"),
        ({"kind": "user", "refine_l2": 1e-12}, 1.0, r"refine_l2=1e-12.*'auto'"),
    ],
    ids=["ratings-x1e-4", "ratings-x1e29", "refine-1e-12"],
)
def test_divergence_names_the_likely_cause(r, params, factor, cause):
    from autorec.exceptions import TrainingDivergedError

    scaled = r.assign(rating=r["rating"] * factor)
    with pytest.raises(TrainingDivergedError, match=cause) as info:
        AutoEncoderRecommender(random_state=0, epochs=3, **params).fit(scaled)
    assert "lower learning_rate" not in str(info.value)


def test_validation_pairs_must_be_rated_and_leave_something_to_train_on(r):
    rated = set(zip(r["user_id"], r["item_id"], strict=True))
    unrated = [(u, i) for u in range(3) for i in range(50) if (u, i) not in rated][:20]
    pairs = pd.DataFrame(unrated, columns=["user_id", "item_id"])
    model = AutoEncoderRecommender(epochs=2, random_state=0)
    with pytest.raises(ValueError, match=r"user_id=0, item_id=\d+\) is not a rating"):
        model.fit(r, validation=pairs)
    with pytest.raises(ValueError, match="validation holds all 1500 ratings"):
        model.fit(r, validation=r[["user_id", "item_id"]])
    model.fit(r, validation=r[["user_id", "item_id"]].iloc[:100])
    assert max(model.history_["val_rmse"]) < 2.0
