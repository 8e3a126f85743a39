"""The ``autorec`` command line, on a tiny synthetic MovieLens-format dataset.

The dataset is written as an extracted ``ml-1m/`` folder in a temporary data home, so
every command goes through the real loader. Commands run in-process through
``autorec.cli.main`` (fast); one test runs ``python -m autorec`` as a subprocess.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_run import run_cli as _run

import autorec
import autorec._cli_commands as cli_commands
from autorec import cli
from autorec.datasets import DownloadError, make_ratings
from autorec.evaluation import make_model

N_USERS, N_ITEMS, N_RATINGS = 40, 30, 600
ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(Fake Movie \d+ \(2000\))\s+(\d\.\d)\s+([\d,]+)\s+(\S+)\s*$")


def _write_dataset(folder: Path) -> pd.DataFrame:
    ratings = make_ratings(n_users=N_USERS, n_items=N_ITEMS, n_ratings=N_RATINGS, random_state=0)
    ml = folder / "ml-1m"
    ml.mkdir(parents=True)
    lines = [
        f"{u}::{i}::{int(r)}"
        for u, i, r in ratings[["user_id", "item_id", "rating"]].itertuples(index=False)
    ]
    (ml / "ratings.dat").write_text("\n".join(lines) + "\n")
    genres = ["Comedy", "Drama|Romance", "Action|Sci-Fi"]
    movies = [f"{i}::Fake Movie {i} (2000)::{genres[i % 3]}" for i in range(1, N_ITEMS + 1)]
    (ml / "movies.dat").write_bytes(("\n".join(movies) + "\n").encode("latin-1"))
    return ratings


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """(data home holding a synthetic ml-1m/ folder, its ratings)."""
    home = tmp_path_factory.mktemp("data")
    return home, _write_dataset(home)


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOREC_DATA_HOME", raising=False)


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("autorec: error:")]


def _unrated(model, user, ratings: pd.DataFrame, k: int) -> list:
    """The model's top k for ``user`` leaving out every movie the user rated in
    ``ratings`` (what recommend --model shows), not only those rated in training."""
    rated = set(ratings.loc[ratings["user_id"] == user, "item_id"])
    ranked = model.recommend(user, k=k + len(rated))["item_id"].tolist()
    return [item for item in ranked if item not in rated][:k]


def _rows(out: str) -> list[tuple[int, int, str]]:
    return [
        (int(m.group(1)), int(m.group(2)), m.group(3))
        for m in map(ROW.match, out.splitlines())
        if m
    ]


# ------------------------------------------------------------------------ evaluate
def test_evaluate_json_keys_and_types(tiny, capsys) -> None:
    home, ratings = tiny
    code, out, err = _run(capsys, "evaluate", "--data-home", home, "--epochs", 2, "--json")
    assert code == 0, err
    result = json.loads(out)  # stdout is pure JSON
    for key in ("n_train", "n_test", "epochs_run", "best_epoch", "random_state"):
        assert isinstance(result[key], int), key
    for key in ("rmse_train", "rmse_test", "baseline_rmse_test", "fit_seconds"):
        assert isinstance(result[key], float), key
        assert result[key] >= 0
    assert result["n_train"] + result["n_test"] == len(ratings)
    n_test = sum(min(round(0.25 * n), n - 1) for n in ratings.groupby("user_id").size().tolist())
    assert result["n_test"] == n_test
    for key in ("top_k_accuracy", "baseline_top_k_accuracy"):
        assert set(result[key]) == {"5", "10"}
        assert all(0.0 <= v <= 100.0 for v in result[key].values())
    assert 1 <= result["epochs_run"] <= 2
    assert 0 <= result["best_epoch"] <= result["epochs_run"]  # 0: the bias model
    assert result["kind"] == "default"
    assert result["split"] == "standard"
    assert result["random_state"] == 0
    assert result["autorec_version"] == autorec.__version__
    assert "Traceback" not in err


def test_evaluate_batch_size_trains_at_that_batch_and_reports_it(tiny, capsys) -> None:
    home, _ = tiny
    argv = ("evaluate", "--data-home", home, "--epochs", 1, "--json")
    code, out, err = _run(capsys, *argv, "--batch-size", 7)
    assert code == 0, err
    assert json.loads(out)["batch_size"] == 7
    code, out, err = _run(capsys, *argv, "--batch-size", "auto")
    assert code == 0, err
    auto = json.loads(out)["batch_size"]
    code, out, _ = _run(capsys, *argv)  # not given: the estimator's default, "auto"
    assert json.loads(out)["batch_size"] == auto != 7
    for bad in ("0", "-3", "2.5", "big"):
        with pytest.raises(SystemExit) as info:
            cli.main(["evaluate", "--batch-size", bad])
        assert info.value.code == 2
        assert f"expected a positive integer or auto, got '{bad}'" in capsys.readouterr().err


def test_evaluate_random90_and_seed(tiny, capsys, no_env) -> None:
    home, ratings = tiny
    args = ("evaluate", "--data-home", home, "--epochs", 1, "--split", "random90", "--json")
    code, out, _ = _run(capsys, *args, "--random-state", 3)
    assert code == 0
    result = json.loads(out)
    assert result["n_test"] == round(0.1 * len(ratings))
    assert result["split"] == "random90"
    assert result["random_state"] == 3


def test_evaluate_table(tiny, capsys) -> None:
    home, _ = tiny
    code, out, err = _run(capsys, "evaluate", "--data-home", home, "--epochs", 2, "-q")
    assert code == 0, err
    assert "BiasBaseline" in out and "AutoEncoder (default)" in out
    for label in ("RMSE, training ratings", "RMSE, test ratings", "top-5 accuracy"):
        assert label in out
    assert "top-10 accuracy" in out and "epochs run" in out and "fit time" in out
    # The EASE peer is tuned on a validation slice, and the table says with what.
    assert "EASE, tuned" in out and "EASE, tuned: fed the rating minus 1" in out
    assert out.count("(chosen)") == 1 and "l2 tried: " in out
    assert err == ""  # --quiet: no progress, no status lines


def test_evaluate_item_kind_uses_the_item_preset(tiny, capsys) -> None:
    home, _ = tiny
    code, out, _ = _run(
        capsys, "evaluate", "--data-home", home, "--epochs", 1, "--kind", "item", "--json"
    )
    assert code == 0
    assert json.loads(out)["kind"] == "item"
    model = make_model("item", epochs=7, random_state=1)
    assert model.kind == "item" and model.epochs == 7 and model.random_state == 1
    assert make_model("user").kind == "user"


def test_estimator_for_blend_uses_the_blend_presets() -> None:
    model = make_model("blend", epochs=7, random_state=1, verbose=1)
    assert isinstance(model, autorec.BlendRecommender)
    assert model.random_state == 1 and model.weights == "auto"
    assert [m.kind for m in model.estimators] == ["auto", "user", "item"]
    presets = ("default", "reference", "i-autorec-1000")
    for sub, preset in zip(model.estimators, presets, strict=True):
        expected = autorec.AutoEncoderRecommender.from_preset(
            preset, epochs=7, random_state=1, verbose=1
        )
        assert sub.get_params() == expected.get_params()
    with pytest.raises(ValueError, match="blend"):
        make_model("both")


def test_evaluate_blend_json_reports_each_sub_model(tiny, capsys) -> None:
    home, ratings = tiny
    argv = ("evaluate", "--data-home", home, "--epochs", 2, "--kind", "blend", "--json")
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    result = json.loads(out)
    assert result["kind"] == "blend"
    assert result["n_train"] + result["n_test"] == len(ratings)
    assert result["max_epochs"] == [2, 2, 2]
    for key in ("epochs_run", "best_epoch"):
        assert isinstance(result[key], list) and len(result[key]) == 3, key
        assert all(isinstance(v, int) for v in result[key]), key
    assert all(1 <= e <= 2 for e in result["epochs_run"])
    # epoch 0: the residual member's bias model
    assert all(0 <= b <= e for b, e in zip(result["best_epoch"], result["epochs_run"], strict=True))
    for key in ("rmse_train", "rmse_test", "fit_seconds"):
        assert isinstance(result[key], float) and result[key] > 0, key
    weights = result["blend_weights"]
    assert len(weights) == 3 and all(w >= 0 for w in weights)
    assert sum(weights) == pytest.approx(1.0)


def test_evaluate_blend_table(tiny, capsys) -> None:
    home, _ = tiny
    argv = ("evaluate", "--data-home", home, "--epochs", 2, "--kind", "blend", "-q")
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    assert "AutoEncoder (blend)" in out
    (line,) = [line for line in out.splitlines() if line.startswith("epochs run (kept)")]
    assert re.search(r"\s[12]\+[12]\+[12] \([0-2]\+[0-2]\+[0-2]\)\s", line), line
    (line,) = [line for line in out.splitlines() if line.startswith("blend weights")]
    weights = map(float, re.search(r"(\d\.\d\d)\+(\d\.\d\d)\+(\d\.\d\d)", line).groups())
    assert sum(weights) == pytest.approx(1.0, abs=0.016)
    members = "blend members, in order: residual item 10 + user 200-100-200 + item 1000"
    assert members in out


def test_evaluate_blend_save_then_recommend_with_it(tiny, capsys, tmp_path) -> None:
    home, ratings = tiny
    path = tmp_path / "blend.safetensors"
    argv = ["evaluate", "--data-home", home, "--epochs", 1, "--kind", "blend", "--json"]
    argv += ["--save", path]
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    result = json.loads(out)
    assert result["model_path"] == str(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blend.safetensors"]
    blend = autorec.BlendRecommender.load(path)
    assert [m.fit_params_["kind"] for m in blend.estimators_] == ["item", "user", "item"]
    assert np.allclose(blend.weights_, result["blend_weights"])
    user = int(blend.estimators_[0].user_map_.ids[0])
    argv = ("recommend", "--data-home", home, "--model", path, "--user", user, "-k", 3)
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    assert [r[1] for r in _rows(out)] == _unrated(blend, user, ratings, 3)


def test_evaluate_blend_plot_writes_png(tiny, capsys, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    home, _ = tiny
    path = tmp_path / "blend.png"
    argv = ("evaluate", "--data-home", home, "--epochs", 2, "--kind", "blend", "--plot", path)
    code, _, err = _run(capsys, *argv, "-q")
    assert code == 0, err
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_blend_save_into_missing_folder_fails_before_training(tiny, capsys, tmp_path) -> None:
    home, _ = tiny
    target = tmp_path / "no" / "model.safetensors"
    argv = ("evaluate", "--data-home", home, "--kind", "blend", "--save", target)
    code, out, err = _run(capsys, *argv)
    assert code == 1 and out == ""
    (line,) = _error_lines(err)
    assert "does not exist" in line and "model.safetensors" in line


def test_data_home_from_environment(tiny, capsys, monkeypatch) -> None:
    home, ratings = tiny
    monkeypatch.setenv("AUTOREC_DATA_HOME", str(home))
    code, out, _ = _run(capsys, "evaluate", "--epochs", 1, "--json")
    assert code == 0
    assert json.loads(out)["n_train"] + json.loads(out)["n_test"] == len(ratings)


def test_evaluate_save_then_recommend_with_model(tiny, capsys, tmp_path) -> None:
    home, ratings = tiny
    path = tmp_path / "model.safetensors"
    args = ("evaluate", "--data-home", home, "--epochs", 2, "--json", "--save", path)
    code, out, _ = _run(capsys, *args)
    assert code == 0 and path.is_file()
    assert json.loads(out)["model_path"] == str(path)

    model = autorec.AutoEncoderRecommender.load(path)
    user = int(model.user_map_.ids[0])
    code, out, err = _run(
        capsys, "recommend", "--data-home", home, "--model", path, "--user", user, "-k", 3
    )
    assert code == 0, err
    rows = _rows(out)
    assert [r[0] for r in rows] == [1, 2, 3]
    expected = _unrated(model, user, ratings, 3)
    assert [r[1] for r in rows] == expected


def test_evaluate_plot_writes_png(tiny, capsys, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    home, _ = tiny
    path = tmp_path / "curves.png"
    code, _, err = _run(capsys, "evaluate", "--data-home", home, "--epochs", 2, "--plot", path)
    assert code == 0, err
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_hint_when_matplotlib_missing(tiny, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    home, _ = tiny
    code, out, err = _run(
        capsys, "evaluate", "--data-home", home, "--plot", tmp_path / "c.png", "-q"
    )
    assert code == 1
    assert out == ""  # failed before loading data or training
    assert err.strip().splitlines() == [
        "autorec: error: --plot needs matplotlib, which is not installed: "
        "pip install torch-autorec[plot]"
    ]


def test_save_into_missing_folder_fails_before_training(tiny, capsys, tmp_path) -> None:
    home, _ = tiny
    target = tmp_path / "no" / "such" / "model.safetensors"
    code, out, err = _run(capsys, "evaluate", "--data-home", home, "--save", target)
    assert code == 1 and out == ""
    (line,) = _error_lines(err)
    assert "does not exist" in line


@pytest.mark.parametrize(
    ("option", "name", "message"),
    [
        ("--plot", "curves.notanext", "the file name must end in .png"),
        ("--plot", "a-folder", "is a folder; give a file name"),
        ("--save", "a-folder", "is a folder; give a file name"),
    ],
)
def test_outputs_that_cannot_be_written_fail_before_training(
    tiny, capsys, monkeypatch, tmp_path, option, name, message
) -> None:
    if option == "--plot":
        pytest.importorskip("matplotlib")
    (tmp_path / "a-folder").mkdir()

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the output path")

    monkeypatch.setattr(cli_commands, "split", no_training)
    home, _ = tiny
    code, out, err = _run(capsys, "evaluate", "--data-home", home, option, tmp_path / name)
    assert code == 1 and out == ""
    (line,) = _error_lines(err)
    assert f"{option} {tmp_path / name}" in line and message in line


def test_a_plot_that_fails_to_write_leaves_the_old_file_and_no_temporary(
    tiny, capsys, monkeypatch, tmp_path
) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    path = tmp_path / "curves.png"
    path.write_bytes(b"the previous plot")

    def disk_full(self, fname, **kwargs):
        fname.write(b"\x89PNG half")  # part of the image, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", disk_full)
    home, _ = tiny
    code, _, err = _run(capsys, "evaluate", "--data-home", home, "--epochs", 1, "--plot", path)
    assert code == 1
    assert "No space left on device" in _error_lines(err)[0]
    assert path.read_bytes() == b"the previous plot"  # not a 0-byte or half PNG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]


# ----------------------------------------------------------------------- recommend
def test_recommend_prints_k_unrated_movies(tiny, capsys) -> None:
    home, ratings = tiny
    counts = ratings.groupby("user_id").size()
    users = counts[counts.between(3, N_ITEMS - 10)].index[:2].tolist()
    argv = ["recommend", "--data-home", home, "--epochs", 2, "-k", 5]
    for user in users:
        argv += ["--user", user]
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    assert "training the default residual autoencoder on all" in err  # said on stderr
    blocks = out.strip().split("\n\n")
    assert len(blocks) == len(users)
    for user, block in zip(users, blocks, strict=True):
        assert block.splitlines()[0].startswith(f"Top 5 movies for user {user}")
        assert "rank" in block and "movie id" in block and "title" in block
        rows = _rows(block)
        assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
        items = [r[1] for r in rows]
        assert len(set(items)) == 5
        rated = set(ratings.loc[ratings.user_id == user, "item_id"].tolist())
        assert not rated & set(items)
        assert all(title == f"Fake Movie {item} (2000)" for _, item, title in rows)


def test_recommend_blend_without_model(tiny, capsys) -> None:
    home, ratings = tiny
    counts = ratings.groupby("user_id").size()
    user = int(counts[counts.between(3, N_ITEMS - 10)].index[0])
    argv = ("recommend", "--data-home", home, "--kind", "blend", "--epochs", 2, "-k", 4)
    code, out, err = _run(capsys, *argv, "--user", user)
    assert code == 0, err
    assert "training the default autoencoder blend on all" in err
    rows = _rows(out)
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert not {r[1] for r in rows} & set(ratings.loc[ratings.user_id == user, "item_id"])
    # the same seed in-process gives the same blend, hence the same movies
    blend = make_model("blend", epochs=2, random_state=0).fit(ratings)
    assert [r[1] for r in rows] == blend.recommend(user, k=4)["item_id"].tolist()


def test_recommend_with_a_model_of_string_ids_trained_on_other_data(tiny, capsys, tmp_path) -> None:
    home, ratings = tiny
    # user ids as digit strings (what a CSV read with dtype=str gives), movie ids as names
    other = ratings.assign(
        user_id=ratings["user_id"].astype(str), item_id="m" + ratings["item_id"].astype(str)
    )
    path = make_model("user", epochs=2, random_state=0).fit(other).save(tmp_path / "s.safetensors")
    user = int(ratings["user_id"].iloc[0])
    code, out, err = _run(
        capsys, "recommend", "--data-home", home, "--model", path, "--user", user, "-k", 3
    )
    assert code == 0, err  # was: a header, then "invalid literal for int()"
    assert f"Top 3 movies for user {user} " in out
    assert len(re.findall(r"^\s*\d+\s+m\d+\s+\(no title\)", out, re.M)) == 3
    assert "nan" not in out
    assert "warning: 3 of the 3 movies recommended to user" in err
    assert "movies.dat (was the model trained on other data?)" in err


def test_recommend_piped_into_a_closed_reader_exits_quietly(tiny, tmp_path) -> None:
    """``autorec recommend ... | head -1``: no "[Errno 32] Broken pipe", exit 0."""
    home, ratings = tiny
    path = make_model("user", epochs=2, random_state=0).fit(ratings).save(tmp_path / "m.st")
    command = [sys.executable, "-m", "autorec", "recommend", "--data-home", str(home)]
    command += ["--model", str(path), "-k", "20"]
    for user in ratings["user_id"].unique()[:30].tolist():
        command += ["--user", str(user)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()  # the reader goes away after one line, as head does
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=600)
    assert code == 0, err
    assert "Broken pipe" not in err and "Traceback" not in err


def test_recommend_unknown_user(tiny, capsys) -> None:
    home, _ = tiny
    code, out, err = _run(capsys, "recommend", "--data-home", home, "--user", 99999)
    assert code == 1 and out == ""
    (line,) = _error_lines(err)
    assert "user 99999 is not in MovieLens-1M" in line
    assert "Traceback" not in err


@pytest.mark.parametrize("content", [None, b"not a model at all"])
def test_recommend_bad_model_file(tiny, capsys, tmp_path, content) -> None:
    home, _ = tiny
    path = tmp_path / "model.safetensors"
    if content is not None:
        path.write_bytes(content)
    code, _, err = _run(capsys, "recommend", "--data-home", home, "--model", path, "--user", 1)
    assert code == 1
    (line,) = _error_lines(err)
    assert str(path.name) in line
    assert "Traceback" not in err


# ------------------------------------------------------------ usage and data errors
@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["evaluate", "--split", "bogus"],
        ["evaluate", "--kind", "both"],
        ["evaluate", "--epochs", "0"],
        ["evaluate", "--epochs", "many"],
        ["evaluate", "--random-state", "-1"],
        ["evaluate", "--random-state", str(2**64)],  # was exit 1, "Overflow when unpacking"
        ["recommend"],
        ["recommend", "--user", "8", "--rate", "x"],
        ["recommend", "--user", "8", "-k", "0"],
    ],
)
def test_usage_errors_exit_2(argv, capsys) -> None:
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert "usage: autorec" in err and "autorec" in err and "error" in err


def _damaged_copy(tiny, tmp_path: Path, edit) -> Path:
    """A data home whose ratings.dat is the tiny one passed through ``edit(lines)``."""
    home, _ = tiny
    ml = tmp_path / "ml-1m"
    ml.mkdir()
    lines = (home / "ml-1m" / "ratings.dat").read_text().splitlines()
    (ml / "ratings.dat").write_text(edit(lines))
    (ml / "movies.dat").write_bytes((home / "ml-1m" / "movies.dat").read_bytes())
    return tmp_path


def test_a_repeated_pair_in_ratings_dat_names_the_file_and_lines(tiny, capsys, tmp_path) -> None:
    home = _damaged_copy(tiny, tmp_path, lambda lines: "\n".join([*lines, lines[2]]) + "\n")
    code, _, err = _run(capsys, "evaluate", "--data-home", home, "--epochs", 1)
    assert code == 1
    (line,) = _error_lines(err)
    assert str(home / "ml-1m" / "ratings.dat") in line
    assert f"line {N_RATINGS + 1}:" in line and "first on line 3" in line
    assert "duplicates=" not in line  # no advice about a keyword the CLI has no flag for


def test_a_huge_rating_in_ratings_dat_is_a_data_error(tiny, capsys, tmp_path) -> None:
    def huge(lines):
        user, item, _ = lines[4].split("::")
        lines[4] = f"{user}::{item}::1e30"
        return "\n".join(lines) + "\n"

    code, _, err = _run(capsys, "evaluate", "--data-home", _damaged_copy(tiny, tmp_path, huge))
    assert code == 1
    (line,) = _error_lines(err)
    assert "line 5: Rating 1e+30 is outside the 1-5 scale" in line
    assert "learning_rate" not in line  # was: "training diverged ... lower learning_rate"


def test_a_ratings_dat_cut_mid_line_warns(tiny, capsys, tmp_path) -> None:
    def stamped_and_cut(lines):  # a copy cut inside the last timestamp still parses
        return "\n".join(f"{line}::978300760" for line in lines)[:-3]

    home = _damaged_copy(tiny, tmp_path, stamped_and_cut)
    code, _, err = _run(capsys, "evaluate", "--data-home", home, "--epochs", 1, "--json")
    assert code == 0, err
    assert f"line {N_RATINGS}: the file ends in the middle of a line" in err


def test_missing_data_one_line_error(capsys, tmp_path) -> None:
    code, out, err = _run(capsys, "evaluate", "--data-home", tmp_path, "--no-download")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    (line,) = _error_lines(err)
    assert str(tmp_path) in line and "--data-home" in line and "autorec download" in line
    assert "Traceback" not in err


def test_missing_data_traceback_with_debug(capsys, tmp_path) -> None:
    code, _, err = _run(capsys, "--debug", "evaluate", "--data-home", tmp_path, "--no-download")
    assert code == 1
    assert "Traceback" in err and "DatasetNotFoundError" in err
    assert len(_error_lines(err)) == 1
    # global options are also accepted after the command
    code, _, err = _run(capsys, "evaluate", "--data-home", tmp_path, "--no-download", "--debug")
    assert code == 1 and "Traceback" in err


def test_failed_download_while_loading(capsys, tmp_path, monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise DownloadError("offline", attempts=[("https://example.invalid/ml-1m.zip", "down")])

    monkeypatch.setattr("autorec.datasets._movielens.fetch_remote", offline)
    code, _, err = _run(capsys, "recommend", "--data-home", tmp_path, "--user", 8)
    assert code == 1
    (line,) = _error_lines(err)
    assert "downloading it failed" in line and str(tmp_path) in line
    assert "Traceback" not in err


# --------------------------------------------------------------- info and download
def test_info_on_present_data(tiny, capsys) -> None:
    home, ratings = tiny
    code, out, err = _run(capsys, "info", "--data-home", home)
    assert code == 0, err
    assert str(home / "ml-1m") in out
    assert f"{len(ratings):,} ratings" in out
    code, out, _ = _run(capsys, "info", "--data-home", home, "--json")
    info = json.loads(out)
    assert info["found"] and info["form"] == "folder" and info["n_ratings"] == len(ratings)


def test_info_on_absent_data(capsys, tmp_path) -> None:
    code, out, err = _run(capsys, "info", "--data-home", tmp_path)
    assert code == 1
    assert "found" in out and "no" in out
    (line,) = _error_lines(err)
    assert str(tmp_path) in line and "autorec download" in line
    assert list(tmp_path.iterdir()) == []  # info never writes


def test_download_when_present_does_nothing(tiny, capsys, monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("must not download")

    monkeypatch.setattr(cli_commands, "download_movielens_1m", fail)
    home, _ = tiny
    code, out, _ = _run(capsys, "download", "--data-home", home)
    assert code == 0 and "already" in out


def test_download_offline(capsys, tmp_path, monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise DownloadError("every mirror failed", attempts=[("https://x/ml-1m.zip", "timeout")])

    monkeypatch.setattr(cli_commands, "download_movielens_1m", offline)
    code, _, err = _run(capsys, "download", "--data-home", tmp_path)
    assert code == 1
    (line,) = _error_lines(err)
    assert "could not download MovieLens-1M" in line and "by hand" in line
    assert "Traceback" not in err


# ------------------------------------------------------------------------- module
def test_python_m_autorec_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "autorec", "--version"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"autorec {autorec.__version__}"
