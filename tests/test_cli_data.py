"""The command line on any ratings data (--dataset, --ratings ...), recommend's --rate,
--format and --save, and the command-line robustness fixes of issue 24."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from cli_run import cli_errors as _errors
from cli_run import run_cli as _run

from autorec import cli
from autorec.datasets import MOVIELENS_DATASETS, make_ratings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A CSV of a shop: string user ids, a header in another order, an extra column."""
    folder = tmp_path_factory.mktemp("shop")
    r = make_ratings(n_users=60, n_items=40, n_ratings=900, random_state=1)
    frame = pd.DataFrame(
        {
            "day": "mon",
            "product": r["item_id"],
            "customer": "c" + r["user_id"].astype(str),
            "stars": r["rating"].astype(int),
        }
    )
    path = folder / "shop.csv"
    frame.to_csv(path, index=False)
    items = pd.DataFrame({"id": range(1, 41), "name": [f"Thing {i}" for i in range(1, 41)]})
    items.to_csv(folder / "items.csv", index=False)
    return path, frame


# -------------------------------------------------------------------- --ratings FILE
def test_evaluate_on_a_100k_row_csv_prints_the_table(tmp_path, capsys) -> None:
    r = make_ratings(n_users=2000, n_items=300, n_ratings=100_000, random_state=0)
    path = tmp_path / "my.csv"
    r.rename(columns={"user_id": "user", "item_id": "item"}).to_csv(path, index=False)
    code, out, err = _run(capsys, "evaluate", "--ratings", path, "--epochs", 1, "-q")
    assert code == 0, err
    assert out.startswith("my.csv, standard split (random_state=0): ")
    for label in ("RMSE, training ratings", "RMSE, test ratings", "top-5 accuracy", "NDCG@10"):
        assert label in out
    assert "Reference notebook" not in out  # only on MovieLens-1M


def test_evaluate_json_names_the_data_and_its_scale(shop, capsys) -> None:
    path, _ = shop
    argv = ("evaluate", "--ratings", path, "--rating-scale", "0,5", "--epochs", 1, "--json")
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    result = json.loads(out)
    assert result["dataset"] == "shop.csv" and result["rating_scale"] == [0.0, 5.0]
    assert result["n_train"] + result["n_test"] == 900


def test_a_bad_row_names_file_line_and_value(tmp_path, capsys) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("user,item,rating\n1,2,4\n1,3,four\n")
    code, out, err = _run(capsys, "evaluate", "--ratings", path)
    assert code == 1 and out == ""
    (line,) = _errors(err)
    assert f"{path}, line 3" in line and "'four'" in line and "--columns" in line
    assert "Traceback" not in err


def test_ratings_all_one_value_get_a_clear_message(tmp_path, capsys) -> None:
    path = tmp_path / "same.csv"
    path.write_text("".join(f"{u},{i},4\n" for u in range(5) for i in range(6)))
    code, _, err = _run(capsys, "evaluate", "--ratings", path)
    assert code == 1
    (line,) = _errors(err)
    assert "every rating in" in line and "is 4" in line and "--rating-scale" in line


def test_a_single_user_is_a_result_not_a_crash(tmp_path, capsys) -> None:
    path = tmp_path / "one.csv"
    path.write_text("".join(f"u1,{i},{1 + i % 5}\n" for i in range(40)))
    code, out, err = _run(capsys, "evaluate", "--ratings", path, "--epochs", 1, "--json")
    assert "Traceback" not in err
    assert code == 0, err
    result = json.loads(out)
    assert result["n_train"] == 30 and result["n_test"] == 10


def test_recommend_string_user_ids_and_an_items_file(shop, capsys) -> None:
    path, frame = shop
    argv = ("recommend", "--ratings", path, "--items", path.with_name("items.csv"))
    code, out, err = _run(capsys, *argv, "--user", "c3", "-k", 4, "--epochs", 1)
    assert code == 0, err
    assert out.startswith("Top 4 movies for user c3 (movies rated in shop.csv excluded")
    rated = set(frame.loc[frame["customer"] == "c3", "product"])
    shown = [int(line.split()[1]) for line in out.splitlines()[2:]]
    assert len(shown) == 4 and not rated & set(shown)
    assert "Thing " in out


def test_file_options_without_ratings_are_refused(capsys) -> None:
    code, _, err = _run(capsys, "evaluate", "--sep", ";")
    assert code == 1
    (line,) = _errors(err)
    assert "--sep describes a ratings file: use it with --ratings FILE" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--dataset", "ml-2m"],
        ["evaluate", "--dataset", "ml-100k", "--ratings", "x.csv"],
        ["evaluate", "--ratings", "x.csv", "--columns", "a,b"],
        ["evaluate", "--ratings", "x.csv", "--rating-scale", "5,1"],
        ["recommend", "--rate", "260"],
    ],
)
def test_data_usage_errors_exit_2(argv, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2


# ------------------------------------------------------------------- --dataset NAME
def _pinned_archive(monkeypatch, folder: Path, name: str = "ml-latest-small") -> Path:
    r = make_ratings(n_users=30, n_items=20, n_ratings=300, random_state=0)
    ratings = "userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{i},{v / 2 + 0.5 if v < 5 else 5.0},0\n"
        for u, i, v in r[["user_id", "item_id", "rating"]].itertuples(index=False)
    )
    titles = "".join(f"{i},Film {i} (1999),Drama\n" for i in range(1, 21))
    movies = "movieId,title,genres\n" + titles
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/ratings.csv", ratings)
        archive.writestr(f"{name}/movies.csv", movies)
    data = path.read_bytes()
    spec = MOVIELENS_DATASETS[name]
    digest = hashlib.sha256(data).hexdigest()
    remote = dataclasses.replace(spec.remote, sha256=digest, size=len(data))
    monkeypatch.setitem(MOVIELENS_DATASETS, name, dataclasses.replace(spec, remote=remote))
    return path


def test_download_then_evaluate_and_info_on_another_size(tmp_path, capsys, monkeypatch) -> None:
    mirror = _pinned_archive(monkeypatch, tmp_path)
    home = tmp_path / "home"
    monkeypatch.setenv("AUTOREC_MOVIELENS_URLS", mirror.as_uri())
    code, out, err = _run(capsys, "download", "--dataset", "ml-latest-small", "--data-home", home)
    assert code == 0, err
    assert "MovieLens latest, small downloaded and verified (SHA-256)" in out
    code, out, _ = _run(capsys, "download", "--dataset", "ml-latest-small", "--data-home", home)
    assert code == 0 and "already in" in out
    argv = ("evaluate", "--dataset", "ml-latest-small", "--data-home", home, "--epochs", 1)
    code, out, err = _run(capsys, *argv, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["dataset"] == "ml-latest-small" and result["rating_scale"] == [0.5, 5.0]
    code, out, _ = _run(capsys, "info", "--data-home", home, "--json")
    cached = {row["name"]: row for row in json.loads(out)["cached"]}
    assert cached["ml-latest-small"]["found"] and cached["ml-latest-small"]["checksum_ok"]
    assert not cached["ml-25m"]["found"]
    code, out, _ = _run(capsys, "info", "--data-home", home)
    assert code == 1  # MovieLens-1M is not there; the table still lists what is
    assert any(line.split()[:3] == ["ml-latest-small", "yes", "zip"] for line in out.splitlines())


def test_missing_dataset_names_it_and_the_download_command(tmp_path, capsys) -> None:
    argv = ("evaluate", "--dataset", "ml-20m", "--data-home", tmp_path, "--no-download")
    code, _, err = _run(capsys, *argv)
    assert code == 1
    (line,) = _errors(err)
    assert "MovieLens-20M is not in" in line and "autorec download --dataset ml-20m" in line


# ------------------------------------------------------------------------ recommend
def test_rate_folds_in_a_new_person(shop, capsys, tmp_path) -> None:
    path, _ = shop
    model_path = tmp_path / "m.safetensors"
    argv = ["recommend", "--ratings", path, "--epochs", 1, "-q", "--save", model_path]
    code, out, err = _run(capsys, *argv, "--rate", "1=5", "--rate", "2=1", "-k", 3)
    assert code == 0, err
    assert out.startswith("Top 3 movies for the new person (--rate) (the movies given with")
    shown = [int(line.split()[1]) for line in out.splitlines()[2:]]
    assert len(shown) == 3 and not {1, 2} & set(shown)
    # the saved model gives the same without training (and the same fold-in)
    argv = ["recommend", "--ratings", path, "--model", model_path, "-q", "-k", 3]
    code, again, err = _run(capsys, *argv, "--rate", "1=5", "--rate", "2=1")
    assert code == 0, err
    assert again == out


def test_rate_checks_the_scale_and_repeats(shop, capsys) -> None:
    path, _ = shop
    base = ("recommend", "--ratings", path, "--epochs", 1, "-q")
    code, _, err = _run(capsys, *base, "--rate", "1=9")
    assert code == 1 and "outside shop.csv's 1-5 scale" in _errors(err)[0]
    code, _, err = _run(capsys, *base, "--rate", "1=4", "--rate", "1=5")
    assert code == 1 and "names movie 1 twice" in _errors(err)[0]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_output_a_program_can_read(shop, capsys, tmp_path, fmt) -> None:
    path, _ = shop
    argv = ["recommend", "--ratings", path, "--epochs", 1, "-q", "-k", 2, "--format", fmt]
    code, out, err = _run(capsys, *argv, "--user", "c1", "--user", "c2", "--rate", "3=4")
    assert code == 0, err
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert [r["user_id"] for r in rows] == ["c1", "c1", "c2", "c2", "new", "new"]
        assert list(rows[0]) == [
            "user_id", "rank", "item_id", "title", "predicted_rating", "n_ratings", "genres",
        ]  # fmt: skip
        assert [r["rank"] for r in rows[:2]] == ["1", "2"]
    else:
        blocks = json.loads(out)
        assert [b["user_id"] for b in blocks] == ["c1", "c2", None]
        assert [b["new_user"] for b in blocks] == [False, False, True]
        rec = blocks[0]["recommendations"][0]
        assert rec["rank"] == 1 and isinstance(rec["item_id"], int)
        assert isinstance(rec["predicted_rating"], float) and isinstance(rec["n_ratings"], int)


def test_the_data_page_worked_example_runs(tmp_path, capsys, monkeypatch) -> None:
    """docs/data.rst: a book club's CSV with named columns, string ids and an items file."""
    r = make_ratings(n_users=50, n_items=30, n_ratings=700, random_state=2)
    names = {u: f"m{u}" for u in r["user_id"].unique()}
    names[r["user_id"].iloc[0]] = "ann"
    isbn = {i: f"0-14-{i:06d}-3" for i in range(1, 31)}
    club = pd.DataFrame(
        {
            "member": r["user_id"].map(names),
            "isbn": r["item_id"].map(isbn),
            "stars": r["rating"].astype(int),
            "date": "2024-01-03",
        }
    )
    club.to_csv(tmp_path / "club.csv", index=False)
    books = pd.DataFrame({"isbn": list(isbn.values()), "title": [f"Book {i}" for i in isbn]})
    books.assign(genres="Classic").to_csv(tmp_path / "books.csv", index=False)
    monkeypatch.chdir(tmp_path)
    data = ["--ratings", "club.csv", "--columns", "member,isbn,stars"]
    code, out, err = _run(capsys, "evaluate", *data, "--rating-scale", "1,5", "--epochs", 1)
    assert code == 0, err
    assert "RMSE, test ratings" in out
    data += ["--items", "books.csv"]
    argv = ("recommend", *data, "--user", "ann", "--save", "club.safetensors", "--epochs", 1)
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    assert out.startswith("Top 10 movies for user ann") and "Book " in out
    first = isbn[r["item_id"].iloc[0]]
    argv = ("recommend", *data, "--model", "club.safetensors", "--rate", f"{first}=5")
    code, out, err = _run(capsys, *argv, "--format", "json")
    assert code == 0, err
    (block,) = json.loads(out)
    assert block["new_user"] and len(block["recommendations"]) == 10
    assert all(rec["item_id"] != first for rec in block["recommendations"])
