"""IdMap and utility_matrix: round trips keep every rating, unknown ids are reported."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from autorec.datasets import IdMap, UtilityMatrix, utility_matrix


@st.composite
def ratings_frames(draw):
    id_kind = draw(st.sampled_from(["small", "huge", "str"]))

    def make_id(i):
        return {"small": i, "huge": 10**12 - 7 * i, "str": f"id-{i}é"}[id_kind]

    cells = draw(st.sets(st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=1))
    cells = list(cells)
    ratings = draw(
        st.lists(
            st.one_of(st.integers(-5, 5).map(float), st.floats(-1e6, 1e6, width=32)),
            min_size=len(cells),
            max_size=len(cells),
        )
    )
    return pd.DataFrame(
        {
            "user_id": [make_id(u) for u, _ in cells],
            "item_id": [make_id(i) for _, i in cells],
            "rating": np.array(ratings, dtype=np.float32),
        }
    )


@settings(max_examples=100, deadline=None)
@given(ratings_frames())
def test_matrix_round_trip_keeps_every_rating(df):
    um = utility_matrix(df)
    assert isinstance(um.matrix, sp.csr_matrix)
    assert um.matrix.dtype == np.float32
    assert um.shape == (df["user_id"].nunique(), df["item_id"].nunique())
    assert um.nnz == len(df)  # zero ratings are stored explicitly
    back = um.to_frame()
    expected = (
        df.assign(_u=um.user_map.transform(df["user_id"]), _i=um.item_map.transform(df["item_id"]))
        .sort_values(["_u", "_i"])
        .drop(columns=["_u", "_i"])
        .reset_index(drop=True)
    )
    assert back["user_id"].tolist() == expected["user_id"].tolist()
    assert back["item_id"].tolist() == expected["item_id"].tolist()
    np.testing.assert_array_equal(back["rating"].to_numpy(), expected["rating"].to_numpy())
    dense = um.to_dense()
    assert dense.dtype == np.float32
    rows = um.user_map.transform(df["user_id"])
    cols = um.item_map.transform(df["item_id"])
    np.testing.assert_array_equal(dense[rows, cols], df["rating"].to_numpy())
    mask = np.ones(dense.shape, dtype=bool)
    mask[rows, cols] = False
    assert not dense[mask].any()


def test_maps_reused_for_test_data_keep_rows_and_columns():
    train = pd.DataFrame({"user_id": [5, 5, 9], "item_id": [1, 2, 2], "rating": [4.0, 2.0, 5.0]})
    test = pd.DataFrame({"user_id": [9, 5], "item_id": [1, 1], "rating": [3.0, 1.0]})
    tr = utility_matrix(train)
    te = utility_matrix(test, user_map=tr.user_map, item_map=tr.item_map)
    assert te.shape == tr.shape == (2, 2)
    np.testing.assert_array_equal(te.to_dense(), [[1.0, 0.0], [3.0, 0.0]])
    assert (te.n_unknown_users, te.n_unknown_items, te.n_dropped) == (0, 0, 0)


def test_unknown_ids_raise_by_default_naming_them():
    train = pd.DataFrame({"user_id": [1, 2], "item_id": [10, 20], "rating": [4.0, 5.0]})
    test = pd.DataFrame(
        {"user_id": [1, 3, 4, 2], "item_id": [10, 10, 30, 99], "rating": [1.0, 2.0, 3.0, 4.0]}
    )
    tr = utility_matrix(train)
    with pytest.raises(
        ValueError,
        match=r"3 rating\(s\) .*2 user id\(s\) not in user_map "
        r"\[3, 4\] and 2 item id\(s\) not in item_map \[30, 99\].*unknown='drop'",
    ):
        utility_matrix(test, user_map=tr.user_map, item_map=tr.item_map)


def test_unknown_ids_dropped_with_warning_and_counted():
    train = pd.DataFrame({"user_id": [1, 2], "item_id": [10, 20], "rating": [4.0, 5.0]})
    test = pd.DataFrame(
        {"user_id": [1, 3, 3, 2], "item_id": [10, 10, 20, 20], "rating": [1.0, 2.0, 3.0, 4.0]}
    )
    tr = utility_matrix(train)
    with pytest.warns(UserWarning, match=r"dropped 2 rating\(s\).*1 user id\(s\).*\[3\]"):
        te = utility_matrix(test, user_map=tr.user_map, item_map=tr.item_map, unknown="drop")
    assert (te.n_unknown_users, te.n_unknown_items, te.n_dropped) == (1, 0, 2)
    assert te.nnz == 2
    np.testing.assert_array_equal(te.to_dense(), [[1.0, 0.0], [0.0, 4.0]])


def test_many_unknown_ids_are_abbreviated_with_count():
    tr = utility_matrix(pd.DataFrame({"user_id": [0], "item_id": [0], "rating": [1.0]}))
    test = pd.DataFrame({"user_id": range(1, 101), "item_id": 0, "rating": 1.0})
    with pytest.raises(
        ValueError,
        match=r"100 user id\(s\) not in user_map \[1, 2, 3, 4, 5, "
        r"\.\.\.\]",
    ):
        utility_matrix(test, user_map=tr.user_map, item_map=tr.item_map)


def test_utility_matrix_rejects_bad_arguments():
    df = pd.DataFrame({"user_id": [1, 1], "item_id": [1, 1], "rating": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"duplicate .*duplicates='last'"):
        utility_matrix(df)
    ok = df.iloc[:1]
    with pytest.raises(ValueError, match=r"unknown must be one of \['error', 'drop'\], got 'skip'"):
        utility_matrix(ok, unknown="skip")
    with pytest.raises(TypeError, match="user_map must be an IdMap or None, got list"):
        utility_matrix(ok, user_map=[1])
    with pytest.raises(ValueError, match="NaN or infinite"):
        utility_matrix(ok.assign(rating=np.nan))


def test_utility_matrix_with_huge_ids_does_not_allocate_by_value():
    df = pd.DataFrame({"user_id": [10**12, 1], "item_id": [10**12 - 1, 10**12], "rating": [1, 2]})
    um = utility_matrix(df)
    assert um.shape == (2, 2)
    assert um.user_map.ids.tolist() == [1, 10**12]


def test_repr():
    um = utility_matrix(pd.DataFrame({"user_id": [1], "item_id": [2], "rating": [3.0]}))
    assert isinstance(um, UtilityMatrix)
    assert repr(um) == "UtilityMatrix(1 users x 1 items, 1 ratings, n_dropped=0)"


# ---------------------------------------------------------------------------
# IdMap


def test_idmap_basics():
    m = IdMap.from_ids(np.array([30, 10, 20, 10, 30]))
    assert m.ids.tolist() == [10, 20, 30]
    assert len(m) == 3
    assert m.transform([20, 99, 10, 30]).tolist() == [1, -1, 0, 2]
    assert m.transform(pd.Series([30])).dtype == np.int64
    assert m.inverse_transform([2, 0]).tolist() == [30, 10]
    assert 10 in m and 99 not in m and "10" not in m and [1] not in m
    with pytest.raises(ValueError, match="read-only"):
        m.ids[0] = 5


def test_idmap_string_ids_and_json_round_trip():
    m = IdMap.from_ids(["b", "a", "c", "a"])
    assert m.ids.tolist() == ["a", "b", "c"]
    assert m.transform(["c", "zz", 3]).tolist() == [2, -1, -1]
    saved = json.dumps(m.to_list())
    assert IdMap.from_list(json.loads(saved)) == m
    big = IdMap.from_ids([10**12, 3])
    assert IdMap.from_list(json.loads(json.dumps(big.to_list()))) == big
    assert big != m


def test_idmap_errors():
    with pytest.raises(ValueError, match=r"distinct.*2"):
        IdMap([1, 2, 2])
    with pytest.raises(ValueError, match="distinct, but 2 appears"):
        IdMap(np.array([1, 2, 2]))
    with pytest.raises(IndexError, match=r"index 3 is out of range; allowed indices are 0 to 2"):
        IdMap([1, 2, 3]).inverse_transform([0, 3])
    with pytest.raises(IndexError, match="index -1"):
        IdMap([1, 2, 3]).inverse_transform([-1])
    with pytest.raises(TypeError, match="indices must be integers"):
        IdMap([1, 2, 3]).inverse_transform([0.5])
    with pytest.raises(TypeError, match="mix types"):
        IdMap.from_ids(np.array([1, "a"], dtype=object))
    with pytest.raises(ValueError, match="one-dimensional"):
        IdMap.from_ids(np.zeros((2, 2), dtype=int))
    with pytest.raises(TypeError, match="booleans"):
        IdMap.from_ids([True, False])
    with pytest.raises(ValueError, match=r"must be integers or strings, got 1\.5"):
        IdMap.from_ids([1.0, 1.5])


def test_idmap_repr_and_integral_floats():
    m = IdMap.from_ids([3.0, 1.0, 2.0, 4.0, 5.0, 6.0])
    assert m.ids.dtype == np.int64
    assert repr(m) == "IdMap(n=6, ids=[1, 2, 3, 4, 5, ...])"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert m.transform(np.array([], dtype=np.int64)).tolist() == []
        assert m.inverse_transform([]).tolist() == []
