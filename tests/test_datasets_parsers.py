"""The ratings.dat / movies.dat / users.dat parsers, including hypothesis fuzzing.

Every input either parses to the expected frame or raises MovieLensFormatError
(a ValueError) naming the line; nothing else may escape.
"""

from __future__ import annotations

import gzip
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from autorec.datasets import MovieLensFormatError
from autorec.datasets._parsers import (
    _parse_ratings_fast,
    _parse_ratings_slow,
    parse_movies,
    parse_ratings,
    parse_users,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INT64_MAX = 2**63 - 1


# ---------------------------------------------------------------------------
# ratings.dat: examples


def test_ratings_with_and_without_timestamp():
    with_ts = parse_ratings(b"1::1193::5::978300760\n1::661::3::978302109\n")
    assert list(with_ts.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert with_ts["timestamp"].tolist() == [978300760, 978302109]
    with pytest.warns(UserWarning, match=r"line 2: the file ends in the middle of a line"):
        no_ts = parse_ratings(b"1::1193::5\n1::661::3")  # no final newline
    assert list(no_ts.columns) == ["user_id", "item_id", "rating"]
    assert no_ts.dtypes.tolist() == [np.int64, np.int64, np.float32]
    assert no_ts.values.tolist() == [[1, 1193, 5], [1, 661, 3]]


def test_blank_lines_crlf_and_spaces_are_accepted():
    data = b"\r\n 1 :: 2 :: 3.5 \r\n\n\t\n2::3::4\r\n\n"
    df = parse_ratings(data)
    assert df.values.tolist() == [[1, 2, 3.5], [2, 3, 4]]


def test_gzip_input_is_recognised():
    data = b"1::2::3\n4::5::1\n"
    pd.testing.assert_frame_equal(parse_ratings(gzip.compress(data)), parse_ratings(data))


def test_corrupt_gzip_is_a_format_error():
    with pytest.raises(MovieLensFormatError, match="corrupt gzip"):
        parse_ratings(gzip.compress(b"1::2::3\n")[:-6], source="ratings.dat.gz")


@pytest.mark.parametrize(
    ("data", "line_number", "pattern"),
    [
        (b"1::2::3\n1::2\n", 2, r"expected 3 '::'-separated fields .*got 2"),
        (b"1::2::3::4::5\n", 1, r"expected 3 or 4 .*got 5"),
        (b"1::2::3\n\n1::2::3::4\n", 3, r"expected 3 .*like the first line.*got 4"),
        (b"1::x::3\n", 1, r"MovieID must be a non-negative integer, got 'x'"),
        (b"-1::2::3\n", 1, r"UserID must be a non-negative integer, got '-1'"),
        (b"1::2::nan\n", 1, r"Rating must be a finite number.*'nan'"),
        (b"1::2::1e999\n", 1, r"Rating must be a finite number.*'1e999'"),
        (b"1::2::3::abc\n", 1, r"Timestamp must be a non-negative integer, got 'abc'"),
        (b"99999999999999999999::2::3\n", 1, r"does not fit in 64 bits"),
        (b"1:2::3\n", 1, r"expected 3 or 4"),
        (b"1::::3\n", 1, r"expected 3 or 4 .*got 4|must be"),
    ],
)
def test_malformed_ratings_name_line_and_content(data, line_number, pattern):
    with pytest.raises(MovieLensFormatError, match=pattern) as info:
        parse_ratings(data, source="r.dat")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.line_number == line_number
    assert str(err).startswith(f"r.dat, line {line_number}: ")
    assert err.line == data.split(b"\n")[line_number - 1].decode("latin-1")
    assert repr(err.line) in str(err)


def test_a_repeated_pair_names_both_lines():
    data = b"1::10::5\n2::10::3\n\n1::11::4\n1::10::2\n2::10::1\n"
    with pytest.raises(MovieLensFormatError, match=r"user 1 rated movie 10 a second time") as info:
        parse_ratings(data, source="r.dat")
    err = info.value
    assert err.line_number == 5 and err.line == "1::10::2"
    assert "first on line 1; 2 repeated pair(s) in all" in str(err)
    assert "duplicates=" not in str(err)  # no advice about a keyword the file cannot take


def test_a_last_line_without_line_end_warns_that_it_may_be_truncated():
    # A copy cut in the timestamp still parses: the warning is the only sign.
    with pytest.warns(UserWarning, match=r"r.dat, line 2: .*no line end after '2::20::4::9783'"):
        df = parse_ratings(b"1::10::5::978300760\n2::20::4::9783", source="r.dat")
    assert df["timestamp"].tolist() == [978300760, 9783]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_ratings(b"1::10::5\n2::20::4\r\n\n")  # line ends (and blank lines): silent


@pytest.mark.parametrize(
    ("rating", "shown"), [(b"1e30", "1e+30"), (b"0", "0"), (b"5.5", "5.5"), (b"-3", "-3")]
)
def test_a_rating_outside_the_scale_names_its_line(rating, shown):
    data = b"1::10::5\n1::11::" + rating + b"\n2::10::" + rating + b"\n"
    outside = rf"Rating {re.escape(shown)} is outside the 1-5 scale"
    with pytest.raises(MovieLensFormatError, match=outside):
        parse_ratings(data, source="r.dat", rating_scale=(1, 5))
    with pytest.raises(MovieLensFormatError, match=r"line 2: .*\(2 rating\(s\) outside it\)"):
        parse_ratings(data, source="r.dat", rating_scale=(1, 5))
    assert len(parse_ratings(data)) == 3  # no scale given: any finite rating


@pytest.mark.parametrize("data", [b"", b"\n\n", b"  \r\n"])
def test_no_ratings_is_a_format_error(data):
    with pytest.raises(MovieLensFormatError, match="no ratings"):
        parse_ratings(data)


def test_not_bytes_is_a_type_error():
    with pytest.raises(TypeError, match="bytes"):
        parse_ratings("1::2::3")


def test_fast_path_is_used_for_clean_files_and_matches_slow_path():
    rng = np.random.default_rng(0)
    table = np.column_stack(
        [rng.integers(1, 7000, 5000), rng.integers(1, 4000, 5000), rng.integers(1, 6, 5000)]
    )
    data = "".join(f"{u}::{i}::{r}\n" for u, i, r in table).encode()
    fast = _parse_ratings_fast(data)
    assert fast is not None
    slow = _parse_ratings_slow(data.decode("latin-1"), "x")
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(parse_ratings(data).to_numpy(), table)


# ---------------------------------------------------------------------------
# ratings.dat: fuzzing

ids = st.integers(0, 10**12)
int_ratings = st.integers(1, 5).map(lambda r: (str(r), float(r)))
dec_ratings = st.sampled_from(["0.5", "3.5", "4.", ".5", "+2", "1e0", "-1"]).map(
    lambda s: (s, float(s))
)
spaces = st.sampled_from(["", " ", "\t", "  "])
blank_lines = st.sampled_from(["", " ", "\t", " \r"])
BAD_ID = ["x", "-1", "1.5", "", "1 2", "١", "0x10", "99999999999999999999"]
BAD_RATING = ["x", "nan", "inf", "-inf", "", "1e999", "--1", "3,5", "1_0"]


@st.composite
def rating_files(draw):
    """(data, expected rows or None, expected error line or None)."""
    n_fields = draw(st.sampled_from([3, 4]))
    kinds = draw(
        st.lists(
            st.sampled_from(["ok"] * 6 + ["blank", "extra", "missing", "bad_id", "bad_rating"]),
            max_size=12,
        )
    )
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    lines, rows, seen = [], [], set()
    first_count = error_line = repeat_line = None
    for number, kind in enumerate(kinds, 1):
        if kind == "blank":
            lines.append(draw(blank_lines))
            continue
        user, item = draw(ids), draw(ids)
        shown, rating = draw(st.one_of(int_ratings, dec_ratings))
        stamp = draw(st.integers(0, 2**40))
        fields = [str(user), str(item), shown, str(stamp)][:n_fields]
        if kind == "bad_id":
            fields[draw(st.sampled_from([0, 1]))] = draw(st.sampled_from(BAD_ID))
        elif kind == "bad_rating":
            fields[2] = draw(st.sampled_from(BAD_RATING))
        elif kind == "extra":
            fields.append("7")
        elif kind == "missing":
            fields.pop()
        pad = draw(spaces)
        lines.append("::".join(pad + f + pad for f in fields))
        count = len(fields)
        if first_count is None:
            first_count = count
        if error_line is None:
            if count not in (3, 4) or count != first_count or kind.startswith("bad"):
                error_line = number
            else:
                values = [user, item, rating, stamp][:n_fields] + ([7] if kind == "extra" else [])
                rows.append(values[:count])
                if (user, item) in seen and repeat_line is None:
                    repeat_line = number  # an error once the whole file has parsed
                seen.add((user, item))
    data = eol.join(lines) + draw(st.sampled_from(["", eol]))
    if error_line is None and not rows:
        error_line = 0  # no ratings at all
    if error_line is None:
        error_line = repeat_line
    return data.encode("utf-8"), rows, error_line


@FUZZ
@given(rating_files())
@example((b"1::2::3\n\n4::5::6::7\n", [[1, 2, 3.0]], 3))
@example((b"\n\n", [], 0))
def test_fuzz_ratings_parse_exactly_or_raise_documented_error(case):
    data, rows, error_line = case
    if error_line is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            df = parse_ratings(data)
        # a warning exactly when the last line has no line end
        assert bool(caught) == (not data.rstrip(b" \t\r").endswith(b"\n"))
        assert len(df) == len(rows)
        expected = np.array(rows, dtype=np.float64).reshape(len(rows), -1)
        assert df.shape[1] == expected.shape[1]
        np.testing.assert_array_equal(df["user_id"].to_numpy(), expected[:, 0].astype(np.int64))
        np.testing.assert_array_equal(df["item_id"].to_numpy(), [r[1] for r in rows])
        np.testing.assert_array_equal(df["rating"].to_numpy(), expected[:, 2].astype(np.float32))
        if expected.shape[1] == 4:
            np.testing.assert_array_equal(df["timestamp"].to_numpy(), [r[3] for r in rows])
    else:
        with pytest.raises(MovieLensFormatError) as info:
            parse_ratings(data)
        assert info.value.line_number == (error_line or None)


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=30),
            st.builds(
                lambda u, i, r: f"{u}::{i}::{r}".encode(),
                st.integers(0, 99),
                st.integers(0, 99),
                st.integers(1, 5),
            ),
            st.sampled_from([b"", b"::", b"1::2::3::", b"\x1f\x8b", b"1::2::3\r", b"\xff::\xe9"]),
        ),
        max_size=10,
    )
)
@pytest.mark.filterwarnings("ignore:.*ends in the middle of a line:UserWarning")
def test_fuzz_arbitrary_bytes_never_raise_anything_else(lines):
    data = b"\n".join(lines)
    try:
        df = parse_ratings(data)
    except MovieLensFormatError as err:
        assert isinstance(err, ValueError)
        if err.line_number is not None:
            assert 1 <= err.line_number <= data.count(b"\n") + 1
            assert f"line {err.line_number}" in str(err)
    else:
        text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        non_blank = [ln for ln in text.split(b"\n") if ln.strip(b" \t\r\x0b\x0c")]
        assert len(df) == len(non_blank)
        assert df["rating"].dtype == np.float32
        assert np.isfinite(df["rating"]).all()
        assert (df["user_id"] >= 0).all() and (df["item_id"] >= 0).all()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10**18 - 1), st.integers(0, 10**12), st.integers(0, 10**6)),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),
)
def test_fuzz_fast_path_agrees_with_slow_path(rows, blank):
    data = ("\n\n" if blank else "\n").join("::".join(map(str, r)) for r in rows).encode()
    fast = _parse_ratings_fast(data)
    assert fast is not None
    slow = _parse_ratings_slow(data.decode(), "x")
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# movies.dat


def test_movies_latin1_titles_with_commas_and_parentheses():
    data = (
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "2::City of Lost Children, The (Cité des enfants perdus, La) (1995)::Adventure|Sci-Fi\r\n"
        "\n"
        "3::Misérables, Les (1995)::Drama\n"
    ).encode("latin-1")
    movies = parse_movies(data)
    assert movies["item_id"].tolist() == [1, 2, 3]
    assert movies["title"][1] == "City of Lost Children, The (Cité des enfants perdus, La) (1995)"
    assert movies["genres"].tolist() == ["Animation|Children's|Comedy", "Adventure|Sci-Fi", "Drama"]


@pytest.mark.parametrize(
    ("data", "line_number", "pattern"),
    [
        (b"1::A (1995)\n", 1, r"expected 3 '::'-separated fields .*got 2"),
        (b"1::A::B (1995)::Drama\n", 1, r"got 4"),
        (b"x::A (1995)::Drama\n", 1, r"MovieID must be a non-negative integer, got 'x'"),
        (b"1:: ::Drama\n", 1, r"title is empty"),
        (b"1::A::Drama\n\n1::B::Drama\n", 3, r"MovieID 1 already appeared on line 1"),
    ],
)
def test_malformed_movies(data, line_number, pattern):
    with pytest.raises(MovieLensFormatError, match=pattern) as info:
        parse_movies(data)
    assert info.value.line_number == line_number


def test_movies_wrong_encoding_is_a_format_error():
    with pytest.raises(MovieLensFormatError, match=r"line 2: bytes that are not valid utf-8"):
        parse_movies(b"1::A::B\n2::Am\xe9lie::C\n", encoding="utf-8")


latin1_text = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\n:"),
    max_size=40,
)


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, 30), latin1_text, latin1_text, st.booleans()),
        max_size=10,
    )
)
def test_fuzz_movies_parse_exactly_or_raise_documented_error(records):
    ws = " \t\r\x0b\x0c"
    lines, expected, error_line, seen = [], [], None, set()
    for number, (item, title, genres, extra_field) in enumerate(records, 1):
        lines.append(f"{item}::{title}::{genres}" + ("::x" if extra_field else ""))
        if error_line is None:
            if extra_field or not title.strip(ws) or item in seen:
                error_line = number
            seen.add(item)
            expected.append((item, title.strip(ws), genres.strip(ws)))
    data = "\n".join(lines).encode("latin-1")
    if error_line is None and not expected:
        error_line = 0
    if error_line is None:
        movies = parse_movies(data)
        assert list(movies.itertuples(index=False, name=None)) == expected
    else:
        with pytest.raises(MovieLensFormatError) as info:
            parse_movies(data)
        assert info.value.line_number == (error_line or None)


@FUZZ
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_fuzz_movies_arbitrary_bytes(lines):
    try:
        movies = parse_movies(b"\n".join(lines))
    except MovieLensFormatError:
        return
    assert movies["item_id"].is_unique
    assert movies["title"].map(len).min() > 0


# ---------------------------------------------------------------------------
# users.dat


def test_users():
    users = parse_users(b"1::F::1::10::48067\n2::M::56::16::70072\n\n3::M::25::15::55117-1234\n")
    assert users["user_id"].tolist() == [1, 2, 3]
    assert users["gender"].tolist() == ["F", "M", "M"]
    assert users["age"].tolist() == [1, 56, 25]
    assert users["zip_code"].tolist() == ["48067", "70072", "55117-1234"]


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (b"1::F::1::10\n", r"line 1: expected 5"),
        (b"1::F::old::10::48067\n", r"line 1: Age must be a non-negative integer, got 'old'"),
        (b"1::F::1::10::1\n1::M::1::10::1\n", r"line 2: UserID 1 already appeared on line 1"),
        (b"", r"no users"),
    ],
)
def test_malformed_users(data, pattern):
    with pytest.raises(MovieLensFormatError, match=pattern):
        parse_users(data)
