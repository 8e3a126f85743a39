"""Tests for autorec.baselines: GlobalMean and BiasBaseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autorec.baselines import BiasBaseline, GlobalMean
from autorec.datasets._synthetic import make_ratings
from autorec.exceptions import NotFittedError
from autorec.metrics import rmse

ML1M = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-1m"


def random_split(df, test_size=0.2, seed=0):
    test = np.random.default_rng(seed).random(len(df)) < test_size
    return df[~test], df[test]


@pytest.fixture(scope="module")
def synthetic():
    return random_split(make_ratings(400, 300, 20_000, rank=3, random_state=0))


def test_bias_baseline_beats_global_mean_on_planted_biases(synthetic):
    train, test = synthetic
    glob = rmse(test["rating"], GlobalMean().fit(train).predict(test))
    bias = rmse(test["rating"], BiasBaseline().fit(train).predict(test))
    assert bias < 0.9 * glob, (bias, glob)


def test_bias_baseline_recovers_exact_additive_ratings():
    users, items = np.meshgrid(np.arange(30), np.arange(20), indexing="ij")
    b_u = np.linspace(-1, 1, 30)
    b_i = np.linspace(-0.5, 0.7, 20)
    r = 3.0 + b_u[users] + b_i[items]
    df = pd.DataFrame({"user_id": users.ravel(), "item_id": items.ravel(), "rating": r.ravel()})
    model = BiasBaseline(reg_user=0.0, reg_item=0.0, n_iter=3).fit(df)
    np.testing.assert_allclose(model.predict(df), df["rating"], atol=1e-10)
    assert model.global_mean_ == pytest.approx(r.mean())


def test_no_noise_biases_only_fit_is_close(synthetic):
    df = make_ratings(300, 200, 15_000, rank=0, noise=0.0, random_state=1)
    train, test = random_split(df)
    # only rounding and clipping are left to explain
    assert rmse(test["rating"], BiasBaseline().fit(train).predict(test)) < 0.45


def test_unknown_users_and_items_get_zero_bias():
    train = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10], "rating": [5, 4, 2]})
    m = BiasBaseline().fit(train)
    u1 = m.user_bias_[list(m.user_map_.ids).index(1)]
    i10 = m.item_bias_[list(m.item_map_.ids).index(10)]
    pred = m.predict(pd.DataFrame({"user_id": [1, 99, 99], "item_id": [77, 10, 77]}))
    np.testing.assert_allclose(pred, [m.global_mean_ + u1, m.global_mean_ + i10, m.global_mean_])


def test_predictions_are_clipped_to_training_range():
    train = pd.DataFrame(
        {"user_id": [1, 1, 1, 2, 2, 3], "item_id": [1, 2, 3, 1, 2, 3], "rating": [5, 5, 5, 1, 1, 3]}
    )
    m = BiasBaseline(reg_user=0.0, reg_item=0.0).fit(train)
    pred = m.predict(pd.DataFrame({"user_id": [1, 2, 1, 2], "item_id": [1, 1, 3, 3]}))
    assert pred.min() >= 1.0 and pred.max() <= 5.0
    assert m.rating_scale_ == (1.0, 5.0)
    assert pred.dtype == np.float64 and pred.shape == (4,)


def test_string_ids():
    train = pd.DataFrame(
        {"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"], "rating": [4.0, 2.0, 3.0]}
    )
    m = BiasBaseline().fit(train)
    assert list(m.user_map_.ids) == ["a", "b"] and m.n_items_ == 2
    assert np.isfinite(m.predict(train)).all()


@pytest.mark.parametrize("cls", [GlobalMean, BiasBaseline])
def test_not_fitted_error(cls):
    pairs = pd.DataFrame({"user_id": [1], "item_id": [1]})
    with pytest.raises(NotFittedError, match=r"not fitted yet; call .fit."):
        cls().predict(pairs)
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


@pytest.mark.parametrize("cls", [GlobalMean, BiasBaseline])
def test_sklearn_conventions(cls, synthetic):
    from sklearn.base import clone

    train, test = synthetic
    est = cls()
    assert not [a for a in vars(est) if a.endswith("_")]  # nothing learned in __init__
    assert est.fit(train) is est
    assert [a for a in vars(est) if a.endswith("_")]
    fresh = clone(est)
    assert fresh.get_params() == est.get_params() and not hasattr(fresh, "global_mean_")
    # fitting twice, or a clone, gives identical predictions
    np.testing.assert_array_equal(est.predict(test), fresh.fit(train).predict(test))
    assert repr(est).startswith(cls.__name__ + "(")


def test_set_params_and_bad_params():
    m = BiasBaseline().set_params(reg_user=2.0, n_iter=3)
    assert m.get_params() == {"reg_user": 2.0, "reg_item": 5.0, "n_iter": 3}
    with pytest.raises(ValueError, match="invalid parameter 'reg'"):
        m.set_params(reg=1.0)
    train = pd.DataFrame({"user_id": [1], "item_id": [1], "rating": [3.0]})
    with pytest.raises(ValueError, match=r"reg_user must be in \[0.0, inf\], got -1"):
        BiasBaseline(reg_user=-1).fit(train)
    with pytest.raises(ValueError, match=r"n_iter must be in \[1, inf\], got 0"):
        BiasBaseline(n_iter=0).fit(train)
    with pytest.raises(TypeError, match=r"n_iter must be an integer, got 2.5"):
        BiasBaseline(n_iter=2.5).fit(train)


@pytest.mark.parametrize("cls", [GlobalMean, BiasBaseline])
def test_bad_training_frames(cls):
    with pytest.raises(TypeError, match="DataFrame"):
        cls().fit(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['rating'\]"):
        cls().fit(pd.DataFrame({"user_id": [1], "item_id": [1]}))
    with pytest.raises(ValueError, match="duplicate"):
        cls().fit(pd.DataFrame({"user_id": [1, 1], "item_id": [2, 2], "rating": [3, 4]}))
    with pytest.raises(ValueError, match="NaN or infinite"):
        cls().fit(pd.DataFrame({"user_id": [1, 2], "item_id": [2, 2], "rating": [3, np.nan]}))


@pytest.mark.parametrize("cls", [GlobalMean, BiasBaseline])
def test_bad_pairs(cls, synthetic):
    m = cls().fit(synthetic[0])
    with pytest.raises(ValueError, match=r"pairs is missing column\(s\) \['item_id'\]"):
        m.predict(pd.DataFrame({"user_id": [1]}))
    with pytest.raises(ValueError, match="missing value"):
        m.predict(pd.DataFrame({"user_id": [1, None], "item_id": [1, 2]}))


def _standard_split(df, seed):
    """Per-user split: np.round(0.25 * n_u) (round half to even) test ratings per user."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(df))
    users = df["user_id"].to_numpy()[perm]
    order = np.argsort(users, kind="stable")
    rows, users = perm[order], users[order]
    codes, _ = pd.factorize(users)
    counts = np.bincount(codes)
    rank = np.arange(len(users)) - np.repeat(np.cumsum(counts) - counts, counts)
    test = rank < np.round(0.25 * counts).astype(np.int64)[codes]
    return df.iloc[np.sort(rows[~test])], df.iloc[np.sort(rows[test])]


@pytest.mark.realdata
@pytest.mark.skipif(
    not (ML1M / "ratings.dat.gz").exists() and not (ML1M / "ratings.dat").exists(),
    reason=f"real MovieLens-1M not found at {ML1M} (needs ratings.dat or ratings.dat.gz)",
)
def test_bias_baseline_on_movielens_1m_standard_split():
    path = ML1M / "ratings.dat.gz"
    if not path.exists():
        path = ML1M / "ratings.dat"
    # "u::i::r[::t]": splitting on ':' puts the fields in columns 0, 2, 4
    raw = pd.read_csv(path, sep=":", header=None, usecols=[0, 2, 4], dtype=np.int64)
    df = pd.DataFrame({"user_id": raw[0], "item_id": raw[2], "rating": raw[4].astype(float)})
    assert len(df) == 1_000_209
    train, test = _standard_split(df, seed=0)
    assert (len(train), len(test)) == (750_121, 250_088)
    pred = BiasBaseline().fit(train).predict(test)
    score = rmse(test["rating"], pred)
    assert score < 0.92, score  # reference study: 0.911
    assert score < rmse(test["rating"], GlobalMean().fit(train).predict(test)) - 0.15
