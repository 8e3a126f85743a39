"""load_ratings: any ratings file (CSV, TSV, '::', gzip, header or not, named columns)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autorec.datasets import RatingsFormatError, load_ratings


def _write(tmp_path, name: str, text: str, compress: bool = False):
    path = tmp_path / name
    data = text.encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize(
    ("text", "kwargs"),
    [
        ("1,10,4\n1,11,3\n2,10,5\n", {}),
        ("user,item,rating\n1,10,4\n1,11,3\n2,10,5\n", {}),
        ("userId\tmovieId\trating\tts\r\n1\t10\t4\t9\r\n1\t11\t3\t9\r\n\r\n2\t10\t5\t9\r\n", {}),
        ("1::10::4::9\n1::11::3::9\n2::10::5::9\n", {}),
        ("ts;r;u;i\n9;4;1;10\n9;3;1;11\n9;5;2;10\n", {"columns": ("u", "i", "r")}),
        ("9|4|1|10\n9|3|1|11\n9|5|2|10\n", {"columns": (2, 3, 1), "sep": "|"}),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_formats_give_the_same_frame(tmp_path, text, kwargs, compress) -> None:
    data = load_ratings(_write(tmp_path, "r.txt", text, compress), **kwargs)
    r = data.ratings
    assert list(r.columns) == ["user_id", "item_id", "rating"]
    assert r["user_id"].tolist() == [1, 1, 2] and r["item_id"].tolist() == [10, 11, 10]
    assert r["rating"].dtype == np.float32 and r["rating"].tolist() == [4.0, 3.0, 5.0]
    assert data.rating_scale == (3.0, 5.0) and data.source == "file"


def test_string_ids_and_an_items_file(tmp_path) -> None:
    ratings = _write(tmp_path, "books.csv", "reader,isbn,score\nann,0-1,8\nbob,0-1,6\nann,0-2,2\n")
    items_text = 'id,title,genres\n0-1,"Emma, a novel",Romance\n0-2,Dune,\n'
    items = _write(tmp_path, "items.csv", items_text)
    data = load_ratings(ratings, items=items, rating_scale=(1, 10))
    assert data.ratings["user_id"].tolist() == ["ann", "bob", "ann"]
    assert data.ratings["item_id"].tolist() == ["0-1", "0-1", "0-2"]
    assert data.rating_scale == (1.0, 10.0)
    assert data.movies.set_index("item_id").loc["0-1", "title"] == "Emma, a novel"


def test_integer_item_ids_in_the_items_file_become_integers(tmp_path) -> None:
    ratings = _write(tmp_path, "r.csv", "1,10,4\n2,11,3\n")
    items = _write(tmp_path, "i.tsv", "10\tTen (1990)\tDrama\n11\tEleven\t\n")
    movies = load_ratings(ratings, items=items).movies
    assert movies["item_id"].tolist() == [10, 11] and movies["title"].tolist()[0] == "Ten (1990)"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("user,item,rating\n1,10,4\n1,11,abc\n", r"r.csv, line 3: .* finite number, got 'abc'"),
        ("1,10,4\n1,11\n", r"r.csv, line 2: expected at least 3 fields"),
        ("1,10,4\n1,11,\n", r"r.csv, line 2: the rating must be a finite number, got ''"),
        ("1,10,4\n\n1,11,nan\n", r"r.csv, line 3: the rating must be a finite number, got 'nan'"),
        ("1,10,4\n,11,3\n", r"r.csv, line 2: the user id is empty"),
        ("1,10,4\n2,10,3\n1,10,5\n", r"line 3: user 1 rated item 10 a second time \(first on"),
        ("", r"no ratings found"),
        ("a b c\n", r"cannot tell the separator"),
    ],
)
def test_a_bad_row_names_the_file_line_and_value(tmp_path, text, match) -> None:
    with pytest.raises(RatingsFormatError, match=match):
        load_ratings(_write(tmp_path, "r.csv", text))


def test_a_rating_outside_the_given_scale_names_its_line(tmp_path) -> None:
    path = _write(tmp_path, "r.csv", "1,10,4\n1,11,6\n")
    with pytest.raises(RatingsFormatError, match=r"line 2: rating 6 is outside the 1-5 scale"):
        load_ratings(path, rating_scale=(1, 5))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sep": ";;"}, ValueError, "one character or '::'"),
        ({"columns": (0, 1)}, ValueError, "3 columns"),
        ({"columns": (0, 1, 7)}, RatingsFormatError, "column 7 does not exist"),
        ({"columns": ("u", "i", "x"), "header": True}, RatingsFormatError, "no column 'x'"),
        ({"rating_scale": (5, 1)}, ValueError, "low < high"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        load_ratings(_write(tmp_path, "r.csv", "u,i,r\n1,10,4\n"), **kwargs)


def test_a_header_without_a_known_user_column_says_how_to_name_it(tmp_path) -> None:
    with pytest.raises(RatingsFormatError, match=r"no user column in the header.*--columns"):
        load_ratings(_write(tmp_path, "r.csv", "who,what,rating\n1,10,4\n"))


def test_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no ratings file"):
        load_ratings(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("users", "items", "expected"),
    [
        ([1, 2, 1], [5, 5, 6], False),
        ([1, 2, 1], [5, 5, 5], True),
        ([2**62, -(2**62), 2**62], [0, 0, 0], True),  # too far apart to pack into one key
        ([2**62, -(2**62), 7], [0, 0, 0], False),
        (["a", "b", "a"], ["x", "x", "y"], False),
        (["a", "b", "a"], ["x", "x", "x"], True),
        ([1], [1], False),
    ],
)
def test_the_repeated_pair_check_agrees_with_pandas(users, items, expected) -> None:
    import pandas as pd

    from autorec.datasets._delimited import _has_repeated_pair

    frame = pd.DataFrame({"u": users, "i": items})
    assert _has_repeated_pair(frame["u"], frame["i"]) is expected
    assert frame.duplicated().any() == expected


@settings(max_examples=40, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=40, unique=True
    ),
    halves=st.data(),
    sep=st.sampled_from([",", "\t", ";", "|", "::"]),
    header=st.booleans(),
    crlf=st.booleans(),
    compress=st.booleans(),
    names=st.booleans(),
)
def test_any_layout_reads_back_exactly(
    tmp_path_factory, pairs, halves, sep, header, crlf, compress, names
) -> None:
    """Property: a frame written with any separator, header or not, CRLF or not, gzip or
    not, with string or integer ids, is read back exactly."""
    ratings = [halves.draw(st.integers(1, 10)) / 2 for _ in pairs]
    user = [f"u{u}" if names else u for u, _ in pairs]
    item = [f"i{i}" if names else i for _, i in pairs]
    end = "\r\n" if crlf else "\n"
    lines = [f"user{sep}item{sep}rating{sep}extra"] if header else []
    lines += [f"{u}{sep}{i}{sep}{r}{sep}x" for u, i, r in zip(user, item, ratings, strict=True)]
    path = _write(tmp_path_factory.mktemp("p"), "r.txt", end.join(lines) + end, compress)
    data = load_ratings(path, header=None if names else header)
    r = data.ratings
    assert r["user_id"].tolist() == user and r["item_id"].tolist() == item
    assert r["rating"].tolist() == ratings
