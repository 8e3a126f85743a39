"""What a careful user hit on ordinary data (issue 24): small catalogues, fold-in of
unknown items, history merging, divergence after good epochs, odd validation slices,
and the parameters and frames that used to fail late or silently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autorec import AutoEncoderRecommender, BlendRecommender
from autorec.datasets import make_ratings

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _all_rate_four(n_users: int = 20, n_items: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(n_users), n_items),
            "item_id": np.tile(np.arange(n_items), n_users),
            "rating": 4.0,
        }
    )


@pytest.mark.parametrize(
    "make, data",
    [
        (lambda: AutoEncoderRecommender(epochs=3, random_state=0), (60, 9, 270)),
        (lambda: AutoEncoderRecommender(kind="item", epochs=3, random_state=0), (200, 8, 800)),
        (
            lambda: BlendRecommender(
                [
                    AutoEncoderRecommender(kind="user", epochs=2, random_state=0),
                    AutoEncoderRecommender(kind="item", epochs=2, random_state=0),
                ],
                validation_fraction=0.2,
                random_state=0,
            ),
            (60, 9, 270),
        ),
        (lambda: AutoEncoderRecommender(epochs=3, random_state=0), None),
    ],
    ids=["default-9-items", "item-8-items", "blend-9-items", "all-rate-4-5-items"],
)
def test_catalogues_smaller_than_the_ranking_cutoff_fit_and_recommend(make, data):
    ratings = _all_rate_four() if data is None else make_ratings(*data, random_state=0)
    model = make().fit(ratings)
    user = ratings["user_id"].iloc[0]
    out = model.recommend(user, k=20, exclude_seen=False)
    assert len(out) == ratings["item_id"].nunique()
    assert out["item_id"].is_unique


def _configurations():
    user = AutoEncoderRecommender(kind="user", epochs=2, random_state=0)
    item = AutoEncoderRecommender(kind="item", epochs=2, random_state=0)
    from autorec.baselines import EASE, BiasBaseline, GlobalMean, MostPopular

    return {
        "default": AutoEncoderRecommender(epochs=2, random_state=0),
        "user": user,
        "item": item,
        "user-rating": AutoEncoderRecommender(kind="user", epochs=2, ranking="rating"),
        "item-exposure": AutoEncoderRecommender(kind="item", epochs=2, ranking="exposure"),
        "blend": BlendRecommender([user, item], random_state=0),
        "bias": BiasBaseline(),
        "mean": GlobalMean(),
        "ease": EASE(),
        "most-popular": MostPopular(),
    }


@pytest.fixture(scope="module")
def fitted_models():
    ratings = make_ratings(80, 50, 1500, random_state=0)
    return ratings, {name: model.fit(ratings) for name, model in _configurations().items()}


@pytest.mark.parametrize("name", list(_configurations()))
@pytest.mark.parametrize("user_ratings", [{999: 5}, {}], ids=["unknown-item", "empty"])
def test_fold_in_with_no_known_item_gives_every_model_the_most_rated_items(
    fitted_models, name, user_ratings
):
    ratings, models = fitted_models
    with pytest.warns(UserWarning, match="no item from the training data.*most-rated") as got:
        out = models[name].recommend(None, k=5, user_ratings=user_ratings)
    assert not [w for w in got if issubclass(w.category, RuntimeWarning)]
    counts = ratings["item_id"].value_counts()
    expected = sorted(counts.index, key=lambda item: (-counts[item], item))[:5]
    assert out["item_id"].tolist() == expected
    if "predicted_rating" in out:
        means = ratings.groupby("item_id")["rating"].mean()
        np.testing.assert_allclose(out["predicted_rating"], means[expected], rtol=1e-5)
    if user_ratings:
        assert "999" in str(got[0].message)


@pytest.mark.parametrize("name", list(_configurations()))
def test_fold_in_of_a_training_user_keeps_their_history_out(fitted_models, name):
    ratings, models = fitted_models
    history = set(ratings.loc[ratings["user_id"] == 1, "item_id"])
    new_item = next(i for i in sorted(set(ratings["item_id"]) - history))
    out = models[name].recommend(1, k=50, user_ratings={new_item: 5})
    assert not set(out["item_id"]) & (history | {new_item})
    assert len(out) == ratings["item_id"].nunique() - len(history) - 1
    rows = ratings[ratings["user_id"] == 1]
    spelled_out = {**dict(zip(rows["item_id"], rows["rating"], strict=True)), new_item: 5}
    same = models[name].recommend(None, k=50, user_ratings=spelled_out)
    pd.testing.assert_frame_equal(out, same)


@pytest.fixture(scope="module")
def r():
    return make_ratings(80, 50, 1500, random_state=0)


@pytest.mark.parametrize(
    "params",
    [
        # a constant rate of 10 (one-cycle warms up to it and decays again)
        {"optimizer": "sgd", "learning_rate": 10.0, "epochs": 8, "lr_schedule": "plateau"},
        {"kind": "user", "refine_l2": 1e-9},
    ],
    ids=["sgd-lr-10", "refine-1e-9"],
)
def test_divergence_after_good_epochs_with_the_bias_model_best_keeps_it(r, params):
    with pytest.warns(RuntimeWarning, match="kept the weights of epoch 0"):
        model = AutoEncoderRecommender(random_state=0, **params).fit(r)
    assert model.best_epoch_ == 0
    assert np.isfinite(model.predict(r.head(50))).all()


@pytest.mark.parametrize(
    "params, factor, cause",
    [
        ({"kind": "user"}, 1e-4, r"rating scale \[0.0001, 0.0005\].*rescale"),
        ({"kind": "item"}, 1e29, r"rating scale \[1e\+29, 5e\+29\].*rescale"),
        ({"kind": "user", "refine_l2": 1e-12}, 1.0, r"refine_l2=1e-12.*'auto'"),
    ],
    ids=["ratings-x1e-4", "ratings-x1e29", "refine-1e-12"],
)
def test_divergence_names_the_likely_cause(r, params, factor, cause):
    from autorec.exceptions import TrainingDivergedError

    scaled = r.assign(rating=r["rating"] * factor)
    with pytest.raises(TrainingDivergedError, match=cause) as info:
        AutoEncoderRecommender(random_state=0, epochs=3, **params).fit(scaled)
    assert "lower learning_rate" not in str(info.value)


def test_validation_pairs_must_be_rated_and_leave_something_to_train_on(r):
    rated = set(zip(r["user_id"], r["item_id"], strict=True))
    unrated = [(u, i) for u in range(3) for i in range(50) if (u, i) not in rated][:20]
    pairs = pd.DataFrame(unrated, columns=["user_id", "item_id"])
    model = AutoEncoderRecommender(epochs=2, random_state=0)
    with pytest.raises(ValueError, match=r"user_id=0, item_id=\d+\) is not a rating"):
        model.fit(r, validation=pairs)
    with pytest.raises(ValueError, match="validation holds all 1500 ratings"):
        model.fit(r, validation=r[["user_id", "item_id"]])
    model.fit(r, validation=r[["user_id", "item_id"]].iloc[:100])
    assert np.nanmax(model.history_["val_rmse"]) < 2.0


@pytest.mark.parametrize(
    "layers, message",
    [
        ((10**8,), r"a layer of 100,000,000 units; a layer has at most 100,000"),
        ((90_000, 90_000), r"weight matrix of 8,100,000,000 weights \(30.2 GiB\)"),
    ],
    ids=["one-huge-layer", "two-wide-layers"],
)
def test_layer_widths_are_bounded_before_anything_is_allocated(r, layers, message):
    with pytest.raises(ValueError, match=message):
        AutoEncoderRecommender(hidden_layers=layers, epochs=1).fit(r)


def test_the_first_layer_is_bounded_against_the_catalogue(r):
    from autorec._config import check_layer_sizes

    check_layer_sizes((1000,), 6040, "item")  # the widest preset on MovieLens-1M
    with pytest.raises(ValueError, match=r"over 6,040 users needs a weight matrix"):
        check_layer_sizes((60_000,), 6040, "item")


def test_a_utility_matrix_whose_shape_disagrees_with_its_maps_is_refused(r):
    from autorec.datasets import IdMap, utility_matrix

    good = utility_matrix(r)
    bad = type(good)(good.matrix[:, :-1], good.user_map, good.item_map)
    with pytest.raises(ValueError, match=r"shape \(80, 49\).*80 users and 50 items"):
        AutoEncoderRecommender(epochs=1).fit(bad)
    fewer = type(good)(good.matrix, IdMap(good.user_map.ids[:-1]), good.item_map)
    with pytest.raises(ValueError, match="UtilityMatrix"):
        AutoEncoderRecommender(epochs=1).fit(fewer)


def test_a_gzip_bomb_in_the_data_folder_stops_decompressing(tmp_path):
    import gzip

    from autorec.datasets import load_movielens_1m
    from autorec.datasets._parsers import GZIP_MIN_LIMIT, MovieLensFormatError

    folder = tmp_path / "ml-1m"
    folder.mkdir()
    bomb = gzip.compress(b"\0" * (GZIP_MIN_LIMIT + 2**20), compresslevel=9)
    (folder / "ratings.dat.gz").write_bytes(bomb)
    (folder / "movies.dat").write_bytes(b"10::Heat (1995)::Action\n")
    with pytest.raises(MovieLensFormatError, match="decompression stopped"):
        load_movielens_1m(tmp_path, download_if_missing=False)
    ratings = b"".join(b"%d::10::5::978300760\n" % user for user in range(1, 1001))
    (folder / "ratings.dat.gz").write_bytes(gzip.compress(ratings))  # a real file's ratio
    assert len(load_movielens_1m(tmp_path, download_if_missing=False).ratings) == 1000


@pytest.fixture(scope="module")
def m(r):
    return AutoEncoderRecommender(epochs=1, random_state=0).fit(r)


def _movies(n: int = 50) -> pd.DataFrame:
    return pd.DataFrame({"item_id": np.arange(n), "title": [f"movie {i}" for i in range(n)]})


@pytest.mark.parametrize(
    "movies, message",
    [
        (_movies().astype({"item_id": str}), r"holds str ids but the model's item ids are ints"),
        (pd.concat([_movies(), _movies()[["title"]]], axis=1), r"duplicated column.*\['title'\]"),
        (
            pd.DataFrame(
                _movies().to_numpy(),
                columns=pd.MultiIndex.from_tuples([("item_id", ""), ("t", "")]),
            ),
            "a flat 'item_id' column",
        ),
    ],
    ids=["string-ids-for-int-model", "duplicate-columns", "multiindex-columns"],
)
def test_movies_frames_that_cannot_be_joined_are_named(m, movies, message):
    with pytest.raises(ValueError, match=message):
        m.recommend(1, k=3, movies=movies)
    assert m.recommend(1, k=3, movies=_movies())["title"].notna().all()


def test_predict_with_a_duplicated_column_is_named(m, r):
    pairs = pd.concat([r[["user_id", "item_id"]].head(3), r[["user_id"]].head(3)], axis=1)
    with pytest.raises(ValueError, match=r"duplicated column name\(s\) \['user_id'\]"):
        m.predict(pairs)


@pytest.mark.parametrize(
    "users, error, message",
    [
        ((u for u in [1, 2]), TypeError, "got a generator"),
        (iter([1, 2]), TypeError, "got a list_iterator"),
        ([[1, 2], [3]], ValueError, r"1-D array of ids, got a nested sequence \[\[1, 2\], \[3\]\]"),
    ],
    ids=["generator", "iterator", "ragged"],
)
def test_recommend_users_that_are_not_an_array_are_named(m, users, error, message):
    with pytest.raises(error, match=message):
        m.recommend(users)


def test_rating_scores_keys_are_the_integer_cutoffs(m, r):
    from autorec.evaluation import rating_scores

    scores = rating_scores(m, r, r.head(200))
    assert set(scores["top_k_accuracy"]) == {5, 10}
    assert 0 <= scores["top_k_accuracy"][10] <= 100


def test_predict_accepts_a_list_of_pairs_and_an_array(m, r):
    frame = r[["user_id", "item_id"]].head(5)
    expected = m.predict(frame)
    pairs = list(frame.itertuples(index=False, name=None))
    np.testing.assert_array_equal(m.predict(pairs), expected)
    np.testing.assert_array_equal(m.predict(frame.to_numpy()), expected)
    assert m.predict([(8, 13)]).shape == (1,)


def test_score_is_the_negative_rmse_and_drives_model_selection(r):
    from autorec.baselines import BiasBaseline
    from autorec.metrics import rmse

    model = BiasBaseline().fit(r)
    assert model.score(r) == pytest.approx(-rmse(r["rating"], model.predict(r)))
    sklearn = pytest.importorskip("sklearn.model_selection")
    search = sklearn.GridSearchCV(
        AutoEncoderRecommender(epochs=2, random_state=0), {"hidden_layers": [(4,), (8,)]}, cv=2
    )
    with pytest.warns(UserWarning):  # folds hold users and items the other fold lacks
        search.fit(r)
    assert np.all(search.cv_results_["mean_test_score"] < 0)
    assert search.best_params_["hidden_layers"] in [(4,), (8,)]


def test_set_params_on_a_fitted_model_says_it_waits_for_the_next_fit(m, r):
    from sklearn.base import clone

    before = m.recommend(1, k=5)
    with pytest.warns(UserWarning, match=r"set_params\(ranking='rating'\).*next fit"):
        m.set_params(ranking="rating")
    pd.testing.assert_frame_equal(m.recommend(1, k=5), before)
    with pytest.warns(UserWarning, match="next fit"):
        m.set_params(ranking="hybrid")  # back as it was fitted
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.set_params(ranking="hybrid")  # unchanged: no warning
        clone(m).set_params(ranking="rating")  # unfitted: no warning


def test_progress_in_a_log_is_a_line_an_epoch_and_ends_where_training_stopped(r, capsys):
    model = AutoEncoderRecommender(random_state=0, verbose=1, epochs=200, patience=2).fit(r)
    run = len(model.history_["val_rmse"])
    assert run < 200  # early stopping ended it
    lines = capsys.readouterr().err.splitlines()
    assert "\r" not in "".join(lines)
    epochs = [line for line in lines if "fit item-autoencoder" in line and "val_rmse=" in line]
    assert len(epochs) == run + 1  # one line an epoch, then the closing one
    assert "100%" in epochs[-1] and f"{run}/{run} " in epochs[-1]


def test_no_progress_with_verbose_0(r, capsys):
    AutoEncoderRecommender(random_state=0, epochs=3).fit(r)
    assert capsys.readouterr().err == ""


#: The least wall-clock limit a test may put on a child process: enough to catch a hang,
#: never so little that a slow, busy machine fails the test.
LEAST_LIMIT = 600


def _wall_clock_limits(source: str):
    """(line, value) of each numeric ``timeout`` given to a child process (``run``,
    ``communicate``, ``wait``) or defaulted in a helper that starts one."""
    import ast

    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in (
            "run",
            "communicate",
            "wait",
            "check_output",
        ):
            for keyword in node.keywords:
                if keyword.arg == "timeout" and isinstance(keyword.value, ast.Constant):
                    yield node.lineno, keyword.value.value
        if isinstance(node, ast.FunctionDef) and "subprocess" in ast.unparse(node):
            arguments = node.args.args + node.args.kwonlyargs
            defaults = [None] * (len(node.args.args) - len(node.args.defaults))
            defaults += node.args.defaults + node.args.kw_defaults
            for arg, default in zip(arguments, defaults, strict=True):
                if arg.arg == "timeout" and isinstance(default, ast.Constant):
                    yield node.lineno, default.value


def test_no_test_gives_a_child_process_a_tight_wall_clock_limit():
    from pathlib import Path

    tight = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        for line, value in _wall_clock_limits(path.read_text()):
            if isinstance(value, int | float) and value < LEAST_LIMIT:
                tight.append(f"{path.name}:{line} timeout={value}")
    assert not tight, f"limits that a slow machine can hit: {tight}"
    assert list(_wall_clock_limits("def f(timeout=5):\n    subprocess.run(['x'], timeout=9)"))


def test_the_learning_curve_plot_says_what_each_line_measures(r, tmp_path):
    pytest.importorskip("matplotlib")
    from autorec._cli_commands import _write_plot

    model = AutoEncoderRecommender(epochs=3, random_state=0).fit(r)
    path = tmp_path / "curves.png"
    labels = _write_plot(path, [model], 0.91, 0.95, "AutoEncoderRecommender")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "validation RMSE (a slice held out of the training ratings)" in labels
    assert "autorec test RMSE (test split, kept epoch)" in labels  # the autoencoder's own
    assert "BiasBaseline test RMSE (test split)" in labels


def _code_lines(block: str) -> list[str]:
    """A code block's statements: comments and blank lines dropped, whitespace stripped."""
    lines = (line.split("  #")[0].strip() for line in block.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _rst_python_blocks(path) -> list[str]:
    import re

    text = path.read_text()
    found = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text)
    return [re.sub(r"^   ", "", block, flags=re.M) for block in found]


def test_the_three_quickstarts_use_one_api():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    reference = set(_code_lines(block))
    landing = _rst_python_blocks(root / "docs" / "index.rst")[0]
    quickstart = _rst_python_blocks(root / "docs" / "quickstart.rst")[0]
    for name, code in (("docs/index.rst", landing), ("docs/quickstart.rst", quickstart)):
        foreign = [line for line in _code_lines(code) if line not in reference]
        assert not foreign, f"{name}'s quickstart differs from the README's: {foreign}"
        assert 'split(data.ratings, "standard", random_state=0)' in code
    assert _code_lines("x = 1  # a comment\n# only a comment\n") == ["x = 1"]


def test_the_new_user_example_describes_the_default_model():
    from pathlib import Path

    from autorec._config import resolve_auto

    root = Path(__file__).resolve().parents[1]
    text = (root / "examples" / "new_user.py").read_text()
    params = AutoEncoderRecommender()._validate_params()
    kind = resolve_auto(params, 6040, 3706, 1_000_209)["kind"]  # MovieLens-1M's shape
    assert kind == "item"
    assert 'kind="user": fold-in works' not in text
    assert "default model is item-based" in text and "# the default: item-based" in text


def test_the_readme_ranking_hint_names_the_constructor():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert '`ranking="rating"`' not in readme  # read as a recommend() argument
    assert '`AutoEncoderRecommender(ranking="rating")`' in readme


def test_the_readme_test_command_gets_its_own_fresh_environment():
    import re
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    section = readme.split("## Two commands from a fresh clone", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    folders = [
        re.search(r"python3 -m venv (\S+) && \. \1/bin/activate", b).group(1) for b in blocks
    ]
    assert len(folders) == 2 and len(set(folders)) == 2, folders
    assert "pytest" in blocks[1] and blocks[1].startswith(f"python3 -m venv {folders[1]} ")
    if (root / ".git").exists():
        ignored = subprocess.run(
            ["git", "check-ignore", *[f"{folder}/x" for folder in folders]],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        assert len(ignored) == 2, f"not git-ignored: {folders}"


def test_every_footnote_of_the_readme_results_table_says_what_its_rows_are():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Results on MovieLens-1M", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    notes = {m.group(1): m.group(2) for m in re.finditer(r"^([¹²³⁴⁵⁶]) (.*)$", section, re.M)}
    used = set(re.findall(r"[¹²³⁴⁵⁶]", "\n".join(rows)))
    assert used <= set(notes), f"markers without a note: {used - set(notes)}"
    assert "except the rows marked" not in section  # a claim no note backed
    marked = [row for row in rows if "⁵" in row]
    assert marked and all("blend" in row for row in marked)
    assert notes["⁵"].startswith("The blend rows")


def test_the_readme_user_8_table_names_its_command_and_says_if_it_reproduces():
    """Text only: regenerating the table takes a full MovieLens-1M fit (minutes), which
    the suite does not run; this keeps the table tied to the command that printed it."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("User 8's top 10", 1)[1].split("\n## ", 1)[0]
    assert "`OMP_NUM_THREADS=1 autorec recommend --user 8 --random-state 0` printed" in section
    assert "Are the lists reproducible? On one machine, yes" in section
    assert "Across machines" in section


def test_a_training_user_with_only_unknown_items_keeps_their_own_history(fitted_models, r):
    model = fitted_models[1]["item"]
    with pytest.warns(UserWarning, match=r"ignored \(e.g. \[999\]\)") as got:
        out = model.recommend(1, k=5, user_ratings={999: 5})
    assert not [w for w in got if "most-rated" in str(w.message)]
    history = set(r.loc[r["user_id"] == 1, "item_id"])
    assert not set(out["item_id"]) & history


@pytest.mark.parametrize("label", [None, "alice", 1.5, 10**9])
def test_a_new_user_label_that_is_no_training_user_folds_in_only_the_ratings(m, label):
    out = m.recommend(label, k=5, user_ratings={1: 5, 2: 4})
    same = m.recommend(None, k=5, user_ratings={1: 5, 2: 4})
    pd.testing.assert_frame_equal(out, same)
