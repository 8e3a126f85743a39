"""Full-catalogue top-N evaluation (autorec._topn), checked against a pure-Python reference."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autorec._exposure import MostPopular
from autorec._recommender import RecommenderMixin
from autorec._topn import _top_n, evaluate_ranking, exposure_metrics, ranking_metrics
from autorec.datasets import make_ratings, train_test_split, utility_matrix
from autorec.exceptions import NotFittedError, UndefinedMetricWarning

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
METRICS = ("precision", "recall", "ndcg", "hit_rate")


class FixedScores(RecommenderMixin):
    """A 'model' fitted on ``train`` whose scores are a given users x items grid.

    ``grid[u, i]`` scores user id ``u`` and item id ``i``; the model keeps the columns of
    the items in ``train`` (its catalogue, in id order).
    """

    def __init__(self, train: pd.DataFrame, grid: np.ndarray) -> None:
        um = utility_matrix(train)
        self.utility_ = um.matrix
        self.item_map_ = um.item_map
        self.user_map_ = um.user_map
        self.scores_ = np.asarray(grid, dtype=np.float64)[
            np.ix_(um.user_map.ids.astype(int), um.item_map.ids.astype(int))
        ]

    def _user_scores(self, index: np.ndarray) -> np.ndarray:
        return self.scores_[index]


def reference(model, train, test, k, threshold):
    """Every figure of evaluate_ranking, one user at a time in plain Python."""
    items = [int(i) for i in model.item_map_.ids]
    column = {item: c for c, item in enumerate(items)}
    seen = train.groupby("user_id")["item_id"].apply(set).to_dict()
    popularity = train["item_id"].value_counts().to_dict()
    per = {name: [] for name in METRICS}
    per_all = {name: [] for name in METRICS}
    slots = []
    for user, rows in test.groupby("user_id"):
        if user not in model.user_map_:
            continue
        scores = model.scores_[model.user_map_.transform([user])[0]]
        candidates = [i for i in items if i not in seen.get(user, set())]
        top = sorted(candidates, key=lambda i: (-scores[column[i]], column[i]))[:k]
        slots += top
        for target, liked in (
            (per, rows["item_id"][rows["rating"] >= threshold] if threshold else rows["item_id"]),
            (per_all, rows["item_id"]),
        ):
            liked = set(liked.tolist())
            if not liked:
                continue
            ranks = [r for r, i in enumerate(top) if i in liked]
            ideal = min(k, len(liked))
            target["precision"].append(len(ranks) / k)
            target["recall"].append(len(ranks) / ideal)
            target["ndcg"].append(
                sum(1 / math.log2(r + 2) for r in ranks)
                / sum(1 / math.log2(r + 2) for r in range(ideal))
            )
            target["hit_rate"].append(float(len(ranks) > 0))
    out = {}
    for suffix, values in (("", per), ("_all", per_all)):
        for name in METRICS:
            out[f"{name}@{k}{suffix}"] = float(np.mean(values[name])) if values[name] else None
        out[f"n_users{suffix}"] = len(values["precision"])
    pops = [popularity[i] for i in slots]
    out["coverage"] = len(set(slots)) / len(items)
    out["median_popularity"] = float(np.median(pops)) if pops else None
    out["share_lt20"] = float(np.mean([p < 20 for p in pops])) if pops else None
    return out


@st.composite
def problems(draw, max_users=6, max_items=8):
    """(train, test, score grid, k): ids 0.., every user with a training rating; test
    items may be unknown to the model (no training rating); scores with many ties."""
    n_users = draw(st.integers(1, max_users))
    n_items = draw(st.integers(1, max_items))
    # 0: no rating, 1: training rating, 2..6: test rating of value state - 1 (1 to 5).
    state = np.array(
        draw(st.lists(st.integers(0, 6), min_size=n_users * n_items, max_size=n_users * n_items))
    ).reshape(n_users, n_items)
    for user in range(n_users):
        if not (state[user] == 1).any():
            state[user, draw(st.integers(0, n_items - 1))] = 1
    grid = np.array(
        draw(st.lists(st.integers(0, 3), min_size=n_users * n_items, max_size=n_users * n_items))
    ).reshape(n_users, n_items)
    users, items = np.nonzero(state)
    frame = pd.DataFrame(
        {"user_id": users, "item_id": items, "rating": (state[users, items] - 1).astype(float)}
    )
    train = frame[state[users, items] == 1]
    test = frame[state[users, items] >= 2]
    return train, test, grid, draw(st.integers(1, 5))


def evaluate(train, test, grid, k, threshold=4.0, model=None):
    model = model or FixedScores(train, grid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return model, evaluate_ranking(model, train, test, k=k, threshold=threshold)


def assert_matches(result, expected):
    for key, value in expected.items():
        if value is None:
            assert math.isnan(result[key]), key
        else:
            assert result[key] == pytest.approx(value, abs=1e-12), key


# ----------------------------------------------------------------------------- properties
@PROPERTY
@given(problems(), st.sampled_from([4.0, None]))
def test_matches_plain_python_reference(problem, threshold):
    train, test, grid, k = problem
    if test.empty:
        return
    model, result = evaluate(train, test, grid, k, threshold)
    assert_matches(result, reference(model, train, test, k, threshold))


@PROPERTY
@given(problems())
def test_oracle_scores_get_ndcg_recall_and_hit_rate_one(problem):
    train, test, _, k = problem
    test = test[test["item_id"].isin(train["item_id"])]  # only items the model can rank
    grid = np.zeros((train["user_id"].max() + 1, 8))
    liked = test[test["rating"] >= 4.0]
    grid[liked["user_id"], liked["item_id"]] = 1.0
    _, result = evaluate(train, test, grid, k) if not test.empty else (None, None)
    if result is None or result["n_users"] == 0:
        return
    for name in ("ndcg", "recall", "hit_rate"):
        assert result[f"{name}@{k}"] == pytest.approx(1.0)


@PROPERTY
@given(problems())
def test_constant_scores_take_the_first_candidates_in_item_order(problem):
    train, test, grid, k = problem
    if test.empty:
        return
    _, result = evaluate(train, test, np.full_like(grid, 7), k)
    # Expected, independently: each user's first k unseen catalogue items, by id.
    catalogue = sorted(train["item_id"].unique())
    hits, ndcg, recall, counted = [], [], [], 0
    for user, rows in test.groupby("user_id"):
        seen = set(train.loc[train["user_id"] == user, "item_id"])
        top = [i for i in catalogue if i not in seen][:k]
        liked = set(rows.loc[rows["rating"] >= 4.0, "item_id"])
        if liked:
            counted += 1
            gains = [1.0 if i in liked else 0.0 for i in top]
            ideal = sum(1 / np.log2(r + 2) for r in range(min(k, len(liked))))
            hits.append(sum(gains))
            recall.append(sum(gains) / min(k, len(liked)))
            ndcg.append(sum(g / np.log2(r + 2) for r, g in enumerate(gains)) / ideal)
    assert result["n_users"] == counted
    if counted:
        assert result[f"precision@{k}"] == pytest.approx(np.mean(hits) / k)
        assert result[f"recall@{k}"] == pytest.approx(np.mean(recall))
        assert result[f"ndcg@{k}"] == pytest.approx(np.mean(ndcg))


@PROPERTY
@given(problems(), st.sampled_from(["cube", "exp", "affine"]))
def test_invariant_under_strictly_increasing_transforms(problem, transform):
    train, test, grid, k = problem
    if test.empty:
        return
    f = {
        "cube": lambda x: x**3 + 5 * x - 2,
        "exp": lambda x: np.exp(x / 3.0),
        "affine": lambda x: 1e6 * x - 4.0,
    }[transform]
    _, before = evaluate(train, test, grid, k)
    _, after = evaluate(train, test, f(grid.astype(float)), k)
    assert after.keys() == before.keys()
    for key in before:
        assert (after[key] == before[key]) or (
            isinstance(before[key], float) and math.isnan(before[key]) and math.isnan(after[key])
        ), key


@PROPERTY
@given(problems())
def test_precision_recall_ndcg_are_in_the_unit_interval(problem):
    train, test, grid, k = problem
    if test.empty:
        return
    _, result = evaluate(train, test, grid, k)
    for suffix in ("", "_all"):
        for name in METRICS:
            value = result[f"{name}@{k}{suffix}"]
            assert math.isnan(value) or 0.0 <= value <= 1.0
    assert 0.0 <= result["coverage"] <= 1.0


@PROPERTY
@given(problems())
def test_seen_items_are_never_recommended_even_when_scored_highest(problem):
    train, test, grid, k = problem
    boosted = grid.astype(float).copy()
    boosted[train["user_id"], train["item_id"]] += 100.0  # training items score highest
    model = FixedScores(train, boosted)
    index = np.arange(len(model.user_map_))
    mask = sp.csr_matrix(model.utility_.shape, dtype=bool)
    top = _top_n(model, index, k, mask)
    for row, user in enumerate(model.user_map_.ids):
        recommended = set(model.item_map_.inverse_transform(top[row][top[row] >= 0]).tolist())
        assert not recommended & set(train.loc[train["user_id"] == user, "item_id"])
    if not test.empty:
        _, result = evaluate(train, test, boosted, k, model=model)
        assert_matches(result, reference(model, train, test, k, 4.0))


# ----------------------------------------------------------------------------- examples
def small():
    train = pd.DataFrame(
        {"user_id": [1, 1, 2, 2], "item_id": [10, 20, 10, 30], "rating": [5.0, 3, 4, 2]}
    )
    test = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [30, 99, 20], "rating": [5.0, 4, 3]})
    grid = np.zeros((3, 100))
    grid[1, 30] = grid[2, 20] = 1.0
    return train, test, FixedScores(train, grid)


def test_test_items_unknown_to_the_model_stay_relevant_and_are_never_hit():
    train, test, model = small()
    result = evaluate_ranking(model, train, test, k=3)
    # User 1 likes 30 (hit at rank 1) and 99 (unknown to the model); user 2 likes nothing.
    assert result["n_unknown_items"] == 1
    assert result["n_users"] == 1
    assert result["recall@3"] == pytest.approx(0.5)
    assert result["ndcg@3"] == pytest.approx(1 / (1 + 1 / np.log2(3)))
    assert result["precision@3"] == pytest.approx(1 / 3)
    assert result["n_users_all"] == 2 and result["recall@3_all"] == pytest.approx(0.75)


def test_threshold_none_makes_every_test_rating_relevant():
    train, test, model = small()
    result = evaluate_ranking(model, train, test, k=3, threshold=None)
    for name in METRICS:
        assert result[f"{name}@3"] == result[f"{name}@3_all"]
    assert result["n_users"] == 2 and result["threshold"] is None


def test_unknown_test_users_are_left_out_with_a_warning():
    train, test, model = small()
    extra = pd.concat([test, pd.DataFrame({"user_id": [7], "item_id": [10], "rating": [5.0]})])
    with pytest.warns(UserWarning, match="1 test user"):
        result = evaluate_ranking(model, train, extra, k=3)
    assert result["n_unknown_users"] == 1 and result["n_users_scored"] == 2
    assert result["recall@3"] == evaluate_ranking(model, train, test, k=3)["recall@3"]


def test_items_the_model_reports_as_seen_are_masked_too():
    train, test, _ = small()

    class SawEverything(FixedScores):
        def _seen_items(self, index):
            return [np.arange(len(self.item_map_)) for _ in index]

    blind = SawEverything(train, np.ones((3, 100)))
    result = evaluate_ranking(blind, train, test, k=3)
    assert result["hit_rate@3_all"] == 0.0 and result["coverage"] == 0.0


def test_training_ratings_are_masked_even_when_the_model_reports_none():
    train, test, _ = small()

    class SawNothing(FixedScores):
        def _seen_items(self, index):
            return [np.empty(0, np.int64) for _ in index]

    grid = np.zeros((3, 100))
    grid[train["user_id"], train["item_id"]] = 10.0  # training items first, if not masked
    grid[1, 30] = 1.0
    result = evaluate_ranking(SawNothing(train, grid), train, test, k=1)
    assert result["precision@1"] == 1.0  # user 1's only candidate ranked first is 30


def test_train_test_overlap_is_an_error():
    train, test, model = small()
    with pytest.raises(ValueError, match=r"share 1 \(user_id, item_id\) pair.*\(1, 10\)"):
        evaluate_ranking(model, train, pd.concat([test, train.iloc[:1]]), k=3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k": 0}, ValueError, "k must be an integer >= 1, got 0"),
        ({"k": 2.0}, TypeError, "k must be an integer"),
        ({"threshold": float("nan")}, ValueError, "threshold must be a finite number"),
        ({"threshold": "4"}, TypeError, "threshold must be a number"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, error, match):
    train, test, model = small()
    with pytest.raises(error, match=match):
        evaluate_ranking(model, train, test, **kwargs)


def test_model_shape_and_fitted_state_are_checked():
    train, test, _ = small()
    with pytest.raises(TypeError, match=r"lacks \['_user_scores', '_seen_items'\]"):
        evaluate_ranking(object(), train, test)
    with pytest.raises(NotFittedError):
        evaluate_ranking(MostPopular(), train, test)


def test_wrong_score_shape_is_a_clear_error():
    train, test, model = small()
    model.scores_ = model.scores_[:, :1]
    with pytest.raises(ValueError, match=r"_user_scores returned shape \(2, 1\)"):
        evaluate_ranking(model, train, test)


def test_agrees_with_recommend_on_synthetic_data():
    train, test = train_test_split(make_ratings(150, 80, 3000, random_state=1), random_state=1)
    model = MostPopular().fit(train)
    result = evaluate_ranking(model, train, test, k=5)
    users = np.unique(test["user_id"])
    recs = model.recommend(users, k=5)
    index = model.user_map_.transform(users)
    lists = [model.item_map_.transform(recs.loc[recs["user_id"] == u, "item_id"]) for u in users]
    relevant = sp.csr_matrix(
        (
            test["rating"].to_numpy() >= 4.0,
            (np.searchsorted(users, test["user_id"]), model.item_map_.transform(test["item_id"])),
        ),
        shape=(len(users), len(model.item_map_)),
    )
    assert (test["item_id"].isin(train["item_id"])).all() and (index >= 0).all()
    direct = ranking_metrics(lists, relevant, k=5)
    for key, value in direct.items():
        assert result[key] == pytest.approx(value), key
    pop = model.item_popularity_
    assert result["median_popularity"] == np.median(pop[np.concatenate(lists)])


# ----------------------------------------------------------------------------- core functions
def test_ranking_metrics_short_lists_divide_precision_by_k():
    relevant = sp.csr_matrix(np.array([[1, 0, 0]], dtype=bool))
    m = ranking_metrics([np.array([0])], relevant, k=4)
    assert m["precision@4"] == 0.25 and m["recall@4"] == 1.0 and m["ndcg@4"] == 1.0


def test_ranking_metrics_uses_only_the_first_k():
    relevant = sp.csr_matrix(np.array([[0, 0, 1]], dtype=bool))
    assert ranking_metrics(np.array([[0, 1, 2]]), relevant, k=2)["hit_rate@2"] == 0.0
    assert ranking_metrics(np.array([[0, 1, 2]]), relevant, k=3)["hit_rate@3"] == 1.0


def test_ranking_metrics_without_relevant_items_is_nan_with_a_warning():
    with pytest.warns(UndefinedMetricWarning, match="no user has a relevant"):
        m = ranking_metrics(np.array([[0]]), sp.csr_matrix((1, 2), dtype=bool), k=1)
    assert math.isnan(m["ndcg@1"]) and m["n_users"] == 0


@pytest.mark.parametrize(
    ("top", "match"),
    [
        (np.array([[0, 0]]), "row 0 lists an item twice"),
        (np.array([[0, 5]]), "item index 5; item indices must be 0 to 2"),
        (np.array([[0.0, 1.0]]), "must hold integer item indices"),
        (np.array([[0], [1]]), "top_items has 2 rows but relevant has 1"),
    ],
)
def test_ranking_metrics_rejects_bad_lists(top, match):
    relevant = sp.csr_matrix(np.array([[1, 0, 0]], dtype=bool))
    with pytest.raises((TypeError, ValueError), match=match):
        ranking_metrics(top, relevant, k=2)


def test_ranking_metrics_needs_a_sparse_relevance_matrix():
    with pytest.raises(TypeError, match="relevant must be a 2-D scipy sparse matrix"):
        ranking_metrics(np.array([[0]]), np.array([[True]]), k=1)


def test_exposure_metrics_counts_every_slot():
    m = exposure_metrics(
        [np.array([0, 1]), np.array([0]), np.array([], dtype=np.int64)], np.array([30, 5, 100])
    )
    assert m == {"coverage": 2 / 3, "median_popularity": 30.0, "share_lt20": 1 / 3}
    assert exposure_metrics(np.array([[2]]), [1, 1, 50], tail=60)["share_lt60"] == 1.0
    empty = exposure_metrics(np.full((2, 3), -1), [1, 2])
    assert empty["coverage"] == 0.0 and math.isnan(empty["median_popularity"])
    with pytest.raises(ValueError, match="popularity must be a non-empty 1-D array"):
        exposure_metrics(np.array([[0]]), [])
