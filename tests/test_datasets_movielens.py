"""load_movielens_1m and friends on tiny synthetic copies (never the real data)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autorec.datasets import (
    MOVIELENS_1M_URLS,
    CacheNotWritableError,
    DatasetNotFoundError,
    MovieLens1M,
    MovieLensFormatError,
    RemoteFile,
    _fetch,
    _movielens,
    download_movielens_1m,
    get_data_home,
    load_movielens_1m,
    movielens_1m_info,
)

RATINGS = b"1::10::5::978300760\n1::20::3::978302109\n2::10::4::978301968\n"
MOVIES = "10::Amélie (2001)::Comedy|Romance\n20::Heat (1995)::Action|Crime|Thriller\n".encode(
    "latin-1"
)
USERS = b"1::F::1::10::48067\n2::M::56::16::70072\n"


def make_zip(ratings: bytes = RATINGS, users: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-1m/ratings.dat", ratings)
        zf.writestr("ml-1m/movies.dat", MOVIES)
        if users:
            zf.writestr("ml-1m/users.dat", USERS)
        zf.writestr("ml-1m/README", "tiny test copy")
    return buf.getvalue()


ZIP = make_zip()


@pytest.fixture(autouse=True)
def tiny_remote(monkeypatch):
    """Point the loader at the tiny zip's checksum; never touch the network."""
    remote = RemoteFile(
        "ml-1m.zip",
        hashlib.sha256(ZIP).hexdigest(),
        len(ZIP),
        ("http://127.0.0.1:9/unreachable/ml-1m.zip",),
    )
    monkeypatch.setattr(_movielens, "ML_1M", remote)
    monkeypatch.setattr(_fetch, "_sleep", lambda s: None)
    monkeypatch.delenv("AUTOREC_MOVIELENS_URLS", raising=False)
    monkeypatch.delenv("AUTOREC_DATA_HOME", raising=False)
    return remote


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def forbid_writes(monkeypatch):
    def fail(*args, **kwargs):
        pytest.fail("the loader tried to write into the data folder")

    monkeypatch.setattr(_movielens, "fetch_remote", fail)
    monkeypatch.setattr(tempfile, "mkstemp", fail)


def extracted(home: Path, *, gz: bool = False, users: bool = True, ratings: bytes = RATINGS):
    folder = home / "ml-1m"
    folder.mkdir(parents=True)
    if gz:
        (folder / "ratings.dat.gz").write_bytes(gzip.compress(ratings))
    else:
        (folder / "ratings.dat").write_bytes(ratings)
    (folder / "movies.dat").write_bytes(MOVIES)
    if users:
        (folder / "users.dat").write_bytes(USERS)
    return folder


# ---------------------------------------------------------------------------


def test_load_extracted_folder_with_gz_and_no_timestamps(tmp_path, monkeypatch):
    no_ts = b"".join(b"::".join(line.split(b"::")[:3]) + b"\n" for line in RATINGS.splitlines())
    folder = extracted(tmp_path, gz=True, ratings=no_ts)
    before = snapshot(tmp_path)
    forbid_writes(monkeypatch)
    data = load_movielens_1m(tmp_path)
    assert isinstance(data, MovieLens1M)
    assert (data.path, data.source) == (folder, "folder")
    assert list(data.ratings.columns) == ["user_id", "item_id", "rating"]
    assert data.ratings.values.tolist() == [[1, 10, 5], [1, 20, 3], [2, 10, 4]]
    assert data.ratings["rating"].dtype == np.float32
    assert data.movies["title"].tolist() == ["Amélie (2001)", "Heat (1995)"]
    assert data.users["zip_code"].tolist() == ["48067", "70072"]
    assert snapshot(tmp_path) == before  # nothing written
    assert repr(data).startswith("MovieLens1M(n_ratings=3, n_users=2, n_items=2, source='folder'")


def test_load_folder_with_timestamps_and_without_users(tmp_path):
    extracted(tmp_path, users=False)
    data = load_movielens_1m(tmp_path, download_if_missing=False)
    assert data.ratings["timestamp"].tolist() == [978300760, 978302109, 978301968]
    assert data.users is None


def test_descr_has_license_and_citation(tmp_path):
    extracted(tmp_path)
    descr = load_movielens_1m(tmp_path).DESCR
    assert "may not redistribute" in descr and "commercial" in descr
    assert "F. Maxwell Harper and Joseph A. Konstan. 2015" in descr
    assert "10.1145/2827872" in descr
    assert "Harper" in load_movielens_1m.__doc__ and "license" in load_movielens_1m.__doc__


def test_load_verified_zip_without_extracting(tmp_path, monkeypatch):
    (tmp_path / "ml-1m.zip").write_bytes(ZIP)
    before = snapshot(tmp_path)
    forbid_writes(monkeypatch)
    data = load_movielens_1m(tmp_path, download_if_missing=False)
    assert (data.path, data.source) == (tmp_path / "ml-1m.zip", "zip")
    assert len(data.ratings) == 3 and len(data.movies) == 2 and len(data.users) == 2
    assert snapshot(tmp_path) == before


def test_missing_data_without_download_is_one_clear_error(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_movielens_1m(tmp_path / "empty", download_if_missing=False)
    err = info.value
    assert isinstance(err, FileNotFoundError)
    message = str(err)
    assert str(tmp_path / "empty" / "ml-1m") in message
    assert str(tmp_path / "empty" / "ml-1m.zip") in message
    assert "download_if_missing=False" in message
    assert "by hand" in message and "http://127.0.0.1:9/unreachable/ml-1m.zip" in message
    assert not (tmp_path / "empty").exists()  # not even created


def test_zip_with_bad_checksum_is_not_used(tmp_path, monkeypatch):
    (tmp_path / "ml-1m.zip").write_bytes(make_zip(users=False))
    before = snapshot(tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"fails verification \(size"):
        load_movielens_1m(tmp_path, download_if_missing=False)
    assert snapshot(tmp_path) == before


def test_offline_download_failure_is_one_clear_error(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_movielens_1m(tmp_path, urls=["http://127.0.0.1:9/ml-1m.zip"], verbose=False)
    message = str(info.value)
    assert "Downloading it failed" in message and "http://127.0.0.1:9/ml-1m.zip" in message
    assert str(tmp_path / "ml-1m.zip") in message and "by hand" in message
    assert isinstance(info.value.__cause__, _fetch.DownloadError)
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], [".ml-1m.zip.lock"])


def test_read_only_empty_home_is_one_clear_error(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(DatasetNotFoundError, match=r"cannot write to the data folder") as info:
        load_movielens_1m(tmp_path, verbose=False)
    assert isinstance(info.value.__cause__, CacheNotWritableError)
    assert "by hand" in str(info.value)


def test_download_when_missing_then_load_from_zip(tmp_path):
    source = tmp_path / "mirror" / "ml-1m.zip"
    source.parent.mkdir()
    source.write_bytes(ZIP)
    home = tmp_path / "home"
    data = load_movielens_1m(home, urls=[source.as_uri()], verbose=False)
    assert data.source == "zip" and data.path == home / "ml-1m.zip"
    assert (home / "ml-1m.zip").read_bytes() == ZIP
    assert len(data.ratings) == 3


def test_corrupt_zip_is_redownloaded(tmp_path):
    source = tmp_path / "ml-1m.zip"
    source.write_bytes(ZIP)
    home = tmp_path / "home"
    home.mkdir()
    (home / "ml-1m.zip").write_bytes(ZIP[:100])  # truncated copy
    data = load_movielens_1m(home, urls=source.as_uri(), verbose=False)
    assert data.source == "zip" and (home / "ml-1m.zip").read_bytes() == ZIP


def test_download_movielens_1m_uses_env_mirrors_and_data_home_env(tmp_path, monkeypatch):
    source = tmp_path / "mirror.zip"
    source.write_bytes(ZIP)
    monkeypatch.setenv("AUTOREC_MOVIELENS_URLS", f"http://127.0.0.1:9/x.zip, {source.as_uri()}")
    monkeypatch.setenv("AUTOREC_DATA_HOME", str(tmp_path / "envhome"))
    assert get_data_home() == tmp_path / "envhome"
    path = download_movielens_1m(verbose=False)
    assert path == tmp_path / "envhome" / "ml-1m.zip" and path.read_bytes() == ZIP
    # Present and verified: nothing downloaded, even with no usable URL.
    assert download_movielens_1m(urls=["http://127.0.0.1:9/none.zip"]) == path


def test_get_data_home(monkeypatch, tmp_path):
    assert get_data_home(tmp_path) == tmp_path
    assert get_data_home("~/x") == Path.home() / "x"
    monkeypatch.setenv("AUTOREC_DATA_HOME", "")
    assert get_data_home().name == "autorec"  # per-user cache folder
    assert not (tmp_path / "created").exists()
    with pytest.raises(TypeError, match="data_home"):
        get_data_home(3)


def test_default_urls_are_grouplens_first():
    assert MOVIELENS_1M_URLS[0] == "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
    real = _movielens.RemoteFile(
        "ml-1m.zip",
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        5_917_549,
        MOVIELENS_1M_URLS,
    )
    assert real.urls == MOVIELENS_1M_URLS


def test_incomplete_folder_is_reported(tmp_path):
    folder = extracted(tmp_path)
    (folder / "movies.dat").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"exists but lacks movies.dat"):
        load_movielens_1m(tmp_path, download_if_missing=False)


def test_data_home_pointing_at_the_ml1m_folder_itself_gets_a_hint(tmp_path):
    folder = extracted(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="pass its parent as data_home"):
        load_movielens_1m(folder, download_if_missing=False)


def test_malformed_file_names_file_and_line(tmp_path):
    extracted(tmp_path, ratings=RATINGS + b"3::oops::4::1\n")
    with pytest.raises(MovieLensFormatError, match=r"ratings.dat, line 4: MovieID") as info:
        load_movielens_1m(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_zip_missing_member(tmp_path, monkeypatch, tiny_remote):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ml-1m/movies.dat", MOVIES)
    data = buf.getvalue()
    (tmp_path / "ml-1m.zip").write_bytes(data)
    monkeypatch.setattr(
        _movielens,
        "ML_1M",
        RemoteFile("ml-1m.zip", hashlib.sha256(data).hexdigest(), len(data), tiny_remote.urls),
    )
    with pytest.raises(MovieLensFormatError, match=r"no member ml-1m/ratings\.dat"):
        load_movielens_1m(tmp_path)


def test_info_on_folder_zip_and_nothing(tmp_path):
    info = movielens_1m_info(tmp_path / "none")
    assert info["found"] is False and info["form"] is None and info["n_ratings"] is None
    assert info["searched"] == [
        str(tmp_path / "none" / "ml-1m"),
        str(tmp_path / "none" / "ml-1m.zip"),
    ]
    assert info["error"] and info["urls"] == ["http://127.0.0.1:9/unreachable/ml-1m.zip"]

    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "ml-1m.zip").write_bytes(ZIP)
    info = movielens_1m_info(tmp_path / "z")
    assert (
        info["form"],
        info["zip_checksum_ok"],
        info["n_ratings"],
        info["n_users"],
        info["n_items"],
        info["has_timestamps"],
    ) == ("zip", True, 3, 2, 2, True)

    extracted(tmp_path / "f", gz=True)
    (tmp_path / "f" / "ml-1m.zip").write_bytes(b"corrupt")
    info = movielens_1m_info(tmp_path / "f")
    assert (info["form"], info["zip_present"], info["zip_checksum_ok"], info["n_ratings"]) == (
        "folder",
        True,
        False,
        3,
    )
    assert info["path"] == str(tmp_path / "f" / "ml-1m")


def test_info_reports_unparsable_data(tmp_path):
    extracted(tmp_path, ratings=b"garbage\n")
    info = movielens_1m_info(tmp_path)
    assert info["found"] is True and info["n_ratings"] is None
    assert "line 1" in info["error"]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="file permissions do not stop root"
)
def test_read_only_folder_for_real(tmp_path):
    extracted(tmp_path)
    for p in [tmp_path / "ml-1m", *(tmp_path / "ml-1m").iterdir()]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    tmp_path.chmod(0o555)
    try:
        assert len(load_movielens_1m(tmp_path).ratings) == 3
    finally:
        tmp_path.chmod(0o755)
        (tmp_path / "ml-1m").chmod(0o755)
