"""Every MovieLens size (load_movielens) on archives the tests build in each format, and
the real ML-1M in ../shared/data when it is there."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autorec.datasets import (
    MOVIELENS_DATASETS,
    DatasetNotFoundError,
    MovieLensFormatError,
    cached_datasets,
    download_movielens,
    load_movielens,
    load_movielens_1m,
)

REAL_HOME = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

RATINGS_100K = "196\t242\t3\t881250949\r\n186\t302\t3\t891717742\r\n22\t242\t1\t878887116\r\n"
ITEMS_100K = (
    "242|Kolya (1996)|24-Jan-1997||http://x|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "302|Amélie (2001)|01-Jan-2001||http://x|0|0|0|0|0|1|0|0|1|0|0|0|0|0|1|0|0|0|0\n"
)
USERS_100K = "196|49|M|writer|55105\n186|39|F|executive|00000\n22|25|M|writer|40206\n"
RATINGS_10M = "1::122::5::838985046\n1::185::4.5::838983525\n2::122::0.5::838983421\n"
MOVIES_10M = "122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action\n"
RATINGS_CSV = (
    "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,3.5,964981247\r\n"
    "2,1,0.5,964982224\r\n"
)
MOVIES_CSV = (
    "movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation\r\n"
    '3,"Shawshank Redemption, The (1994)",(no genres listed)\r\n'
)


def _zip(path: Path, folder: str, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(f"{folder}/{name}", content)
    return path


def _members(name: str) -> tuple[str, dict[str, bytes]]:
    if name == "ml-100k":
        return "ml-100k", {
            "u.data": RATINGS_100K.encode(),
            "u.item": ITEMS_100K.encode("latin-1"),
            "u.user": USERS_100K.encode(),
        }
    if name == "ml-10m":
        return "ml-10M100K", {
            "ratings.dat": RATINGS_10M.encode(),
            "movies.dat": MOVIES_10M.encode(),
        }
    return name, {"ratings.csv": RATINGS_CSV.encode(), "movies.csv": MOVIES_CSV.encode()}


def _pin(monkeypatch: pytest.MonkeyPatch, name: str, archive: Path, md5: bool = False) -> None:
    """Point the spec of ``name`` at the checksum and size of a test archive."""
    data = archive.read_bytes()
    digest = "md5:" + hashlib.md5(data).hexdigest() if md5 else hashlib.sha256(data).hexdigest()
    spec = MOVIELENS_DATASETS[name]
    remote = dataclasses.replace(spec.remote, sha256=digest, size=len(data))
    monkeypatch.setitem(MOVIELENS_DATASETS, name, dataclasses.replace(spec, remote=remote))


@pytest.mark.parametrize("name", ["ml-100k", "ml-10m", "ml-20m", "ml-25m", "ml-latest-small"])
def test_each_format_from_its_archive(name, tmp_path, monkeypatch) -> None:
    folder, members = _members(name)
    archive = _zip(tmp_path / f"{name}.zip", folder, members)
    _pin(monkeypatch, name, archive, md5=name == "ml-10m")
    data = load_movielens(name, tmp_path, download_if_missing=False)
    assert data.source == "zip" and data.path == archive and data.name == name
    r = data.ratings
    assert list(r.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert [str(t) for t in r.dtypes] == ["int64", "int64", "float32", "int64"]
    assert len(r) == 3
    assert data.rating_scale == MOVIELENS_DATASETS[name].rating_scale
    movies = data.movies.set_index("item_id")
    if name == "ml-100k":
        assert r["rating"].tolist() == [3.0, 3.0, 1.0]
        assert movies.loc[302, "title"] == "Amélie (2001)"  # latin-1
        assert movies.loc[302, "genres"] == "Comedy|Drama|Romance"
        assert movies.loc[242, "year"] == 1996
        assert data.users["age"].tolist() == [49, 39, 25]
    elif name == "ml-10m":
        assert r["rating"].tolist() == [5.0, 4.5, 0.5]  # half stars
        assert movies.loc[185, "title"] == "Net, The (1995)"
    else:
        assert r["rating"].tolist() == [4.0, 3.5, 0.5]
        assert movies.loc[3, "title"] == "Shawshank Redemption, The (1994)"  # quoted comma
        assert movies.loc[3, "genres"] == ""  # "(no genres listed)"
        assert movies.loc[3, "year"] == 1994
    assert "may not redistribute" in data.DESCR


@pytest.mark.parametrize("name", ["ml-100k", "ml-10m", "ml-25m"])
def test_each_format_from_an_extracted_folder_gzip_too(name, tmp_path) -> None:
    folder, members = _members(name)
    (tmp_path / folder).mkdir()
    for member, content in members.items():
        if member.startswith(("u.data", "ratings")):
            import gzip

            (tmp_path / folder / f"{member}.gz").write_bytes(gzip.compress(content))
        else:
            (tmp_path / folder / member).write_bytes(content)
    data = load_movielens(name, tmp_path, download_if_missing=False)
    assert data.source == "folder" and len(data.ratings) == 3


def test_a_half_star_outside_the_scale_names_the_line(tmp_path, monkeypatch) -> None:
    folder, members = _members("ml-20m")
    members["ratings.csv"] += b"3,1,5.5,964982224\r\n"
    _pin(monkeypatch, "ml-20m", _zip(tmp_path / "ml-20m.zip", folder, members))
    with pytest.raises(MovieLensFormatError, match=r"ratings.csv, line 5: rating 5.5 is outside"):
        load_movielens("ml-20m", tmp_path, download_if_missing=False)


def test_a_bad_value_names_the_line_and_value(tmp_path, monkeypatch) -> None:
    folder, members = _members("ml-10m")
    members["ratings.dat"] = RATINGS_10M.replace("4.5", "four").encode()
    _pin(monkeypatch, "ml-10m", _zip(tmp_path / "ml-10m.zip", folder, members), md5=True)
    with pytest.raises(MovieLensFormatError, match=r"ratings.dat, line 2: .*'four'"):
        load_movielens("ml-10m", tmp_path, download_if_missing=False)


def test_a_truncated_archive_is_not_used_and_named(tmp_path, monkeypatch) -> None:
    folder, members = _members("ml-100k")
    archive = _zip(tmp_path / "ml-100k.zip", folder, members)
    _pin(monkeypatch, "ml-100k", archive)
    archive.write_bytes(archive.read_bytes()[:200])  # cut short after the pin
    with pytest.raises(DatasetNotFoundError) as info:
        load_movielens("ml-100k", tmp_path, download_if_missing=False)
    message = str(info.value)
    assert "fails verification (size 200 bytes" in message
    assert "https://files.grouplens.org/datasets/movielens/ml-100k.zip" in message


def test_a_damaged_archive_whose_checksum_holds_is_a_format_error(tmp_path, monkeypatch) -> None:
    archive = tmp_path / "ml-25m.zip"
    archive.write_bytes(b"PK\x03\x04 not really a zip")
    _pin(monkeypatch, "ml-25m", archive)
    with pytest.raises(MovieLensFormatError, match="not a valid zip archive"):
        load_movielens("ml-25m", tmp_path, download_if_missing=False)


def test_download_through_a_mirror_verifies_the_hash(tmp_path, monkeypatch) -> None:
    folder, members = _members("ml-latest-small")
    source = _zip(tmp_path / "mirror.zip", folder, members)
    home = tmp_path / "home"
    _pin(monkeypatch, "ml-latest-small", source)
    data = load_movielens("ml-latest-small", home, urls=[source.as_uri()], verbose=False)
    assert data.source == "zip" and (home / "ml-latest-small.zip").is_file()
    assert len(data.ratings) == 3
    # a wrong hash: nothing with the final name is left behind
    other = tmp_path / "home2"
    spec = MOVIELENS_DATASETS["ml-latest-small"]
    wrong = dataclasses.replace(spec.remote, sha256="0" * 64)
    monkeypatch.setitem(MOVIELENS_DATASETS, spec.name, dataclasses.replace(spec, remote=wrong))
    with pytest.raises(DatasetNotFoundError, match="checksum mismatch"):
        load_movielens("ml-latest-small", other, urls=[source.as_uri()], verbose=False)
    assert not (other / "ml-latest-small.zip").exists()
    assert [p.name for p in other.iterdir() if not p.name.endswith(".lock")] == []


def test_an_md5_pinned_download_is_verified_with_md5(tmp_path, monkeypatch) -> None:
    folder, members = _members("ml-10m")
    source = _zip(tmp_path / "mirror.zip", folder, members)
    _pin(monkeypatch, "ml-10m", source, md5=True)
    path = download_movielens("ml-10m", tmp_path / "home", urls=[source.as_uri()], verbose=False)
    assert path.read_bytes() == source.read_bytes()
    assert MOVIELENS_DATASETS["ml-10m"].remote.known_hash.startswith("md5:")


def test_offline_error_names_the_url_and_the_manual_step(tmp_path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        load_movielens("ml-25m", tmp_path, urls=[(tmp_path / "absent.zip").as_uri()], verbose=False)
    message = str(info.value)
    assert "https://files.grouplens.org/datasets/movielens/ml-25m.zip" in message
    assert "261,978,986 bytes" in message and str(tmp_path / "ml-25m.zip") in message


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown MovieLens dataset 'ml-2m'.*ml-100k"):
        load_movielens("ml-2m")


def test_every_spec_has_a_checksum_source_and_the_grouplens_url() -> None:
    for name, spec in MOVIELENS_DATASETS.items():
        assert spec.remote.filename == f"{name}.zip"
        assert spec.remote.urls[0] == f"https://files.grouplens.org/datasets/movielens/{name}.zip"
        assert spec.checksum_source
        assert spec.rating_scale in ((1.0, 5.0), (0.5, 5.0))


def test_cached_datasets_lists_what_is_there(tmp_path, monkeypatch) -> None:
    folder, members = _members("ml-100k")
    _pin(monkeypatch, "ml-100k", _zip(tmp_path / "ml-100k.zip", folder, members))
    (tmp_path / "ml-20m.zip").write_bytes(b"junk")
    rows = {row["name"]: row for row in cached_datasets(tmp_path)}
    assert rows["ml-100k"]["found"] and rows["ml-100k"]["form"] == "zip"
    assert rows["ml-20m"]["found"] is False and rows["ml-20m"]["checksum_ok"] is False
    assert rows["ml-1m"]["found"] is False and rows["ml-1m"]["checksum_ok"] is None


@pytest.mark.skipif(
    not (REAL_HOME / "ml-1m").is_dir(), reason="the real MovieLens-1M is not in ../shared/data"
)
def test_ml_1m_equals_load_movielens_1m_frame_for_frame() -> None:
    old = load_movielens_1m(REAL_HOME, download_if_missing=False)
    new = load_movielens("ml-1m", REAL_HOME, download_if_missing=False)
    pd.testing.assert_frame_equal(new.ratings, old.ratings)
    pd.testing.assert_frame_equal(new.users, old.users)
    pd.testing.assert_frame_equal(new.movies.drop(columns="year"), old.movies)
    assert new.movies["year"].notna().all()
    assert new.rating_scale == (1.0, 5.0) and len(new.ratings) == 1_000_209
    assert new.path == old.path and new.DESCR == old.DESCR


def test_the_translating_stream_keeps_separators_split_across_reads() -> None:
    from autorec.datasets._delimited import _Translate

    data = b"1::2::3\n" * 5000
    for size in (1, 2, 3, 7, 4096):
        stream = _Translate(io.BytesIO(data))
        out, buffer = b"", bytearray(size + 1)
        while n := stream.readinto(buffer):
            out += bytes(buffer[:n])
        assert out == data.replace(b"::", b"\x1f"), size


def test_nothing_is_written_when_the_data_is_there(tmp_path, monkeypatch) -> None:
    folder, members = _members("ml-25m")
    _pin(monkeypatch, "ml-25m", _zip(tmp_path / "ml-25m.zip", folder, members))
    os.chmod(tmp_path, 0o555)
    try:
        assert np.isclose(load_movielens("ml-25m", tmp_path).ratings["rating"].sum(), 8.0)
    finally:
        os.chmod(tmp_path, 0o755)
