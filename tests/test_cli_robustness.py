"""The command-line fixes of issue 24 (robustness, round two): each test failed before
its fix. Only names that existed before are imported, so the file runs on the old code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_run import cli_errors as _errors
from cli_run import run_cli as _run

from autorec import cli
from autorec.datasets import make_ratings
from autorec.evaluation import make_model, split

ROOT = Path(__file__).resolve().parents[1]


def _tiny_ml1m(home: Path) -> pd.DataFrame:
    r = make_ratings(n_users=40, n_items=30, n_ratings=600, random_state=0)
    (home / "ml-1m").mkdir(parents=True)
    triples = r[["user_id", "item_id", "rating"]].itertuples(index=False)
    lines = [f"{u}::{i}::{int(v)}" for u, i, v in triples]
    (home / "ml-1m" / "ratings.dat").write_text("\n".join(lines) + "\n")
    movies = [f"{i}::Fake Movie {i} (2000)::Drama" for i in range(1, 31)]
    (home / "ml-1m" / "movies.dat").write_text("\n".join(movies) + "\n")
    return r


def test_recommend_with_a_split_model_excludes_every_movie_rated_in_the_data(
    tmp_path, capsys
) -> None:
    """Issue 24: after `evaluate --save`, recommend listed movies rated in the test part."""
    ratings = _tiny_ml1m(tmp_path)
    train, _ = split(ratings, "standard", random_state=0)
    model = make_model("user", epochs=1, random_state=0).fit(train)
    path = model.save(tmp_path / "m.safetensors")
    counts = ratings.groupby("user_id").size()
    users = counts[counts.between(8, 20)].index[:5].tolist()
    argv = ["recommend", "--data-home", tmp_path, "--model", path, "-k", 8]
    for user in users:
        argv += ["--user", user]
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    assert f"trained on {len(train):,} ratings of 40 users and 30 items" in err
    for user, block in zip(users, out.strip().split("\n\n"), strict=True):
        shown = {int(line.split()[1]) for line in block.splitlines()[2:]}
        rated = set(ratings.loc[ratings["user_id"] == user, "item_id"])
        assert shown and not shown & rated, user
        assert "movies rated in MovieLens-1M excluded" in block
    # before the fix the model's own exclusion (training part only) let test movies in
    leaked = [
        set(model.recommend(u, k=8)["item_id"]) & set(ratings.loc[ratings.user_id == u, "item_id"])
        for u in users
    ]
    assert any(leaked)


@pytest.mark.parametrize(
    "flag",
    [["--kind", "item"], ["--epochs", "3"], ["--batch-size", "16"], ["--random-state", "1"]],
)
def test_training_options_with_model_are_refused(tmp_path, capsys, flag) -> None:
    _tiny_ml1m(tmp_path)
    argv = ["recommend", "--data-home", tmp_path, "--model", tmp_path / "m.st", "--user", 1]
    code, _, err = _run(capsys, *argv, *flag)
    assert code == 1
    (line,) = _errors(err)
    assert f"{flag[0]} chooses how a model is trained" in line and "drop it" in line


def test_recommend_user_given_as_a_name_on_integer_data(tmp_path, capsys) -> None:
    _tiny_ml1m(tmp_path)
    code, _, err = _run(capsys, "recommend", "--data-home", tmp_path, "--user", "eight")
    assert code == 1
    assert "user eight is not in MovieLens-1M" in _errors(err)[0]


# --------------------------------------------------------------- issue 24, the CLI
def test_stdout_closed_is_not_an_error(tmp_path, capsys, monkeypatch) -> None:
    _tiny_ml1m(tmp_path)
    monkeypatch.setattr(sys, "stdout", None)
    code = cli.main(["info", "--data-home", str(tmp_path)])
    assert code == 0  # was: AttributeError 'NoneType' object has no attribute 'flush', 1


def test_stdout_closed_in_a_real_process(tmp_path) -> None:
    _tiny_ml1m(tmp_path)
    proc = subprocess.run(
        f"{sys.executable} -m autorec info --data-home {tmp_path} >&-",
        shell=True,
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "flush" not in proc.stderr and "Traceback" not in proc.stderr


def test_parsing_imports_no_torch() -> None:
    """`autorec --help` took 7 s: torch was imported before the parser ran."""
    code = (
        "import sys\n"
        "from autorec import cli\n"
        "parser = cli.build_parser()\n"
        "for argv in (['evaluate'], ['recommend', '--user', '1'], ['info'], ['download']):\n"
        "    parser.parse_args(argv)\n"
        "import autorec, autorec.datasets\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_help_and_version_import_no_torch() -> None:
    for flag in ("--help", "--version"):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "autorec", flag],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()]
        assert "autorec.cli" in imported and "torch" not in imported, flag


def test_lazy_estimators_are_still_there() -> None:
    import autorec

    assert autorec.AutoEncoderRecommender.__name__ == "AutoEncoderRecommender"
    assert "BlendRecommender" in dir(autorec)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        autorec.Nope  # noqa: B018


def test_a_data_home_that_is_a_file_says_so(tmp_path, capsys) -> None:
    home = tmp_path / "data"
    home.write_text("not a folder")
    code, _, err = _run(capsys, "download", "--data-home", home)
    assert code == 1
    (line,) = _errors(err)
    assert f"{home}" in line and "is a file, not a folder" in line
    assert "free some space" not in line  # the old, wrong advice
    assert "[Errno" not in line and "writable" not in line
    code, _, err = _run(capsys, "download", "--data-home", home / "sub")
    assert "a parent of it, is a file" in _errors(err)[0]


def test_save_to_an_empty_path_or_a_folder_is_a_clear_error(tmp_path) -> None:
    r = make_ratings(n_users=60, n_items=40, n_ratings=900, random_state=0)
    model = make_model("user", epochs=1).fit(r)
    with pytest.raises(ValueError, match="path '' is empty; give a file name"):
        model.save("")  # was: OSError: Device or resource busy
    with pytest.raises(IsADirectoryError, match="is a folder; give a file name"):
        model.save(tmp_path)
    assert os.listdir(tmp_path) == []


def test_recommend_help_wording() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    text = " ".join(sub["recommend"].format_help().split())
    assert "seed of the training" in text and "the split" not in text
    assert "predicted rating" in text  # the columns it prints
    for name in ("recommend", "evaluate"):
        assert "(default: default)" not in " ".join(sub[name].format_help().split())


def test_one_kind_of_unknown_pair_is_counted_once() -> None:
    r = make_ratings(n_users=60, n_items=40, n_ratings=900, random_state=0)
    model = make_model("user", epochs=1).fit(r)
    pairs = pd.DataFrame({"user_id": [1, 1], "item_id": [1, 999]})
    with pytest.warns(UserWarning) as caught:
        model.predict(pairs)
    (message,) = [str(w.message) for w in caught]
    assert message == "1 of 2 pairs with an item not seen in fit (predicted: the user's mean)"
    assert np.isfinite(model.predict(pairs)).all()


def test_a_model_of_named_users_is_queried_by_name(tmp_path, capsys) -> None:
    """Issue 24: --user took integers only, so such a model could not be queried."""
    ratings = _tiny_ml1m(tmp_path)
    named = ratings.assign(user_id="u" + ratings["user_id"].astype(str))
    path = make_model("user", epochs=1, random_state=0).fit(named).save(tmp_path / "n.st")
    argv = ("recommend", "--data-home", tmp_path, "--model", path, "--user", "u3", "-k", 3)
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    assert out.startswith("Top 3 movies for user u3 ") and "Fake Movie" in out


def test_save_with_model_is_refused(tmp_path, capsys) -> None:
    _tiny_ml1m(tmp_path)
    argv = ["recommend", "--data-home", tmp_path, "--model", tmp_path / "m.st", "--user", 1]
    code, _, err = _run(capsys, *argv, "--save", tmp_path / "again.st")
    assert code == 1
    assert "with --model" in _errors(err)[0] and "nothing is trained" in _errors(err)[0]
