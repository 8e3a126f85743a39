"""The real MovieLens-1M at <repo>/../shared/data/ml-1m (skipped with a reason when absent)."""

from __future__ import annotations

import numpy as np
import pytest

from autorec.datasets import (
    _fetch,
    load_movielens_1m,
    movielens_1m_info,
    train_test_split,
    utility_matrix,
)

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def ml1m(movielens_home):
    return load_movielens_1m(movielens_home, download_if_missing=False, verbose=False)


def snapshot(folder):
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def test_counts_and_histogram(ml1m):
    r = ml1m.ratings
    assert len(r) == 1_000_209
    assert r["user_id"].nunique() == 6_040
    assert r["item_id"].nunique() == 3_706
    counts = r["rating"].value_counts().sort_index()
    assert counts.index.tolist() == [1, 2, 3, 4, 5]
    assert counts.tolist() == [56_174, 107_557, 261_197, 348_971, 226_310]
    assert len(ml1m.movies) == 3_883 and len(ml1m.users) == 6_040
    assert set(r["item_id"]) <= set(ml1m.movies["item_id"])
    assert ml1m.source == "folder"


def test_standard_split(ml1m):
    train, test = train_test_split(ml1m.ratings, random_state=0)
    assert (len(train), len(test)) == (750_121, 250_088)
    assert train["user_id"].nunique() == test["user_id"].nunique() == 6_040
    assert set(train.index).isdisjoint(test.index)
    train2, _ = train_test_split(ml1m.ratings, random_state=0)
    assert train2.index.equals(train.index)
    _, test90 = train_test_split(ml1m.ratings, 0.1, by=None, random_state=0)
    assert len(test90) == 100_021


def test_matrices_with_shared_maps(ml1m):
    train, test = train_test_split(ml1m.ratings, random_state=0)
    tr = utility_matrix(train)
    assert tr.shape[0] == 6_040 and tr.nnz == 750_121
    test_only = set(test["item_id"]) - set(train["item_id"])
    assert test_only  # a few movies are rated only in the test part
    with pytest.warns(UserWarning, match=rf"{len(test_only)} item id\(s\) not in item_map"):
        te = utility_matrix(test, user_map=tr.user_map, item_map=tr.item_map, unknown="drop")
    assert te.nnz + te.n_dropped == 250_088
    assert te.n_dropped == test["item_id"].isin(test_only).sum()
    assert (te.n_unknown_users, te.n_unknown_items) == (0, len(test_only))
    dense = tr.to_dense()
    assert dense.dtype == np.float32 and np.count_nonzero(dense) == 750_121


def test_load_from_read_only_folder_writes_nothing(movielens_home, monkeypatch):
    before = snapshot(movielens_home)
    monkeypatch.setattr(_fetch.tempfile, "mkstemp", lambda *a, **k: pytest.fail("write"))
    data = load_movielens_1m(movielens_home)  # download allowed, but must not be needed
    assert len(data.ratings) == 1_000_209
    assert snapshot(movielens_home) == before
    info = movielens_1m_info(movielens_home)
    assert (info["form"], info["n_ratings"], info["n_users"], info["n_items"]) == (
        "folder",
        1_000_209,
        6_040,
        3_706,
    )
    assert snapshot(movielens_home) == before
