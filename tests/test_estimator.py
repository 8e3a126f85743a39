"""Tests of :class:`autorec.AutoEncoderRecommender` (fit, predict, recommend, fold-in).

Everything runs on small synthetic ratings (``make_ratings``) so the whole file takes a
few seconds; the real-data check lives in ``test_estimator_realdata.py``.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_files import reload
from sklearn.base import clone

import autorec._training as training_module
from autorec import AutoEncoderRecommender, NotFittedError, TrainingDivergedError
from autorec._training import WARMUP_STEPS
from autorec._validation import resolve_device
from autorec.baselines import BiasBaseline, GlobalMean
from autorec.datasets import make_ratings, train_test_split
from autorec.metrics import rmse

SMALL = {"hidden_layers": (16,), "epochs": 8, "learning_rate": 1e-2, "random_state": 0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return make_ratings(n_users=60, n_items=40, n_ratings=900, random_state=0)


@pytest.fixture(scope="module")
def model(ratings) -> AutoEncoderRecommender:
    return AutoEncoderRecommender(**SMALL).fit(ratings)


@pytest.fixture(scope="module")
def user_model(ratings) -> AutoEncoderRecommender:
    return AutoEncoderRecommender(kind="user", **SMALL).fit(ratings)


@pytest.fixture(scope="module")
def item_model(ratings) -> AutoEncoderRecommender:
    return AutoEncoderRecommender(kind="item", **SMALL).fit(ratings)


def _rated_items(ratings: pd.DataFrame, user) -> set:
    return set(ratings.loc[ratings["user_id"] == user, "item_id"].tolist())


# ------------------------------------------------------------------ planted structure
# Dense-ish low-rank ratings; the settings were chosen so the margin over the bias
# baseline is about 0.14 RMSE on every seed tried (0-4), far from flaky.
PLANTED = {
    "user": {
        "hidden_layers": (32,),
        "activation": "tanh",
        "learning_rate": 1e-2,
        "epochs": 40,
        "input_dropout": 0.0,
    },
    "item": {
        "hidden_layers": (16,),
        "activation": "tanh",
        "learning_rate": 3e-3,
        "epochs": 30,
        "input_dropout": 0.1,
    },
}


@pytest.fixture(scope="module")
def planted_split():
    df = make_ratings(
        n_users=500,
        n_items=200,
        n_ratings=40000,
        rank=2,
        noise=0.1,
        popularity=0.0,
        activity=0.0,
        random_state=0,
    )
    return train_test_split(df, test_size=0.2, random_state=0)


@pytest.mark.parametrize("kind", ["user", "item"])
def test_beats_baselines_on_planted_low_rank_data(planted_split, kind):
    train, test = planted_split
    global_rmse = rmse(test["rating"], GlobalMean().fit(train).predict(test))
    bias_rmse = rmse(test["rating"], BiasBaseline().fit(train).predict(test))
    # Pin what the defaults might change; the recipe itself (Adam, masked loss, early
    # stopping) is what is under test.
    model = AutoEncoderRecommender(
        kind=kind,
        batch_size=32,
        patience=8,
        dropout=0.0,
        weight_decay=0.0,
        optimizer="adam",
        validation_fraction=0.05,
        random_state=0,
        **PLANTED[kind],
    ).fit(train)
    model_rmse = rmse(test["rating"], model.predict(test))
    assert bias_rmse < global_rmse
    assert model_rmse < bias_rmse - 0.05, (model_rmse, bias_rmse)
    assert model_rmse < global_rmse - 0.2


def test_residual_network_keeps_its_bias_model_when_training_only_overfits():
    # Ratings that are user + item effects plus independent noise: nothing for the network
    # to learn, and at this learning rate every epoch validates worse than the untrained
    # network (the bias model), which epoch 0 keeps.
    rng = np.random.default_rng(0)
    users, items = np.meshgrid(np.arange(80), np.arange(60), indexing="ij")
    keep = rng.random(users.shape) < 0.3
    u, i = users[keep], items[keep]
    effect = rng.normal(0, 0.5, 80)[u] + rng.normal(0, 0.5, 60)[i]
    rating = np.clip(np.rint(3.5 + effect + rng.normal(0, 1.0, u.size)), 1, 5)
    df = pd.DataFrame({"user_id": u, "item_id": i, "rating": rating})
    est = AutoEncoderRecommender(
        hidden_layers=(64,), epochs=6, learning_rate=1e-2, patience=6, random_state=0
    ).fit(df)
    assert est.fit_params_["residual"]
    assert est.best_epoch_ == 0, est.history_
    assert np.nanmin(est.history_["val_rmse"]) > est.history_["val_reference"]
    assert not est.module_.output_weight.detach().any()  # the untrained output layer


# --------------------------------------------------------------------- reproducibility
def test_same_random_state_gives_identical_predictions(ratings):
    a = AutoEncoderRecommender(**SMALL).fit(ratings)
    b = AutoEncoderRecommender(**SMALL).fit(ratings)
    assert np.array_equal(a.predict_matrix(clip=False), b.predict_matrix(clip=False))
    assert np.array_equal(a.predict(ratings), b.predict(ratings))
    assert a.history_["val_rmse"] == b.history_["val_rmse"]


def test_item_mode_is_reproducible_too(ratings, item_model):
    again = AutoEncoderRecommender(kind="item", **SMALL).fit(ratings)
    assert np.array_equal(again.predict_matrix(clip=False), item_model.predict_matrix(clip=False))


def test_different_random_states_differ(ratings, model):
    other = AutoEncoderRecommender(**{**SMALL, "random_state": 1}).fit(ratings)
    assert not np.array_equal(other.predict_matrix(clip=False), model.predict_matrix(clip=False))


def test_fit_leaves_global_rng_state_alone(ratings):
    torch.manual_seed(1234)
    np.random.seed(1234)  # noqa: NPY002 -- the legacy global state is what is checked
    torch_before = torch.get_rng_state().clone()
    numpy_before = np.random.get_state()[1].copy()  # noqa: NPY002
    AutoEncoderRecommender(**SMALL).fit(ratings)
    AutoEncoderRecommender(**{**SMALL, "random_state": None}).fit(ratings)
    assert torch.equal(torch.get_rng_state(), torch_before)
    assert np.array_equal(np.random.get_state()[1], numpy_before)  # noqa: NPY002


def test_numpy_generator_random_state_is_accepted(ratings):
    fitted = AutoEncoderRecommender(**{**SMALL, "random_state": np.random.default_rng(0)}).fit(
        ratings
    )
    assert np.isfinite(fitted.predict_matrix()).all()


# -------------------------------------------------------------------- sklearn contract
def test_init_stores_parameters_unchanged():
    layers = [8, 4]  # a list, not converted to a tuple
    est = AutoEncoderRecommender(layers, "relu", "item", dropout=0.1, epochs=3, device="cpu")
    params = est.get_params()
    assert params["hidden_layers"] is layers
    assert params["activation"] == "relu"
    assert params["kind"] == "item"
    assert params["dropout"] == 0.1
    assert params["epochs"] == 3
    assert params["device"] == "cpu"
    # nothing learned, nothing built
    assert not [name for name in vars(est) if name.endswith("_")]


def test_init_does_not_validate():
    est = AutoEncoderRecommender(activation="foo", epochs=-3)
    assert est.activation == "foo"
    assert est.epochs == -3


def test_clone_copies_params_not_state(model):
    copy = clone(model)
    assert copy is not model
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "module_")


def test_set_params_and_invalid_name():
    est = AutoEncoderRecommender()
    assert est.set_params(epochs=7, kind="item") is est
    assert (est.epochs, est.kind) == (7, "item")
    with pytest.raises(ValueError, match="nonsense"):
        est.set_params(nonsense=1)


def test_get_params_names_every_init_argument():
    import inspect

    names = set(inspect.signature(AutoEncoderRecommender.__init__).parameters) - {"self"}
    assert set(AutoEncoderRecommender().get_params()) == names


def test_fit_returns_self_and_learned_attributes_end_in_underscore(ratings):
    est = AutoEncoderRecommender(**SMALL)
    assert est.fit(ratings) is est
    learned = {name for name in vars(est) if name.endswith("_") and not name.startswith("_")}
    expected = {
        "module_",
        "user_map_",
        "item_map_",
        "n_users_",
        "n_items_",
        "utility_",
        "history_",
        "best_epoch_",
        "rating_scale_",
        "global_mean_",
        "user_mean_",
        "item_mean_",
        "fit_seconds_",
        "device_",
    }
    assert expected <= learned
    params = set(est.get_params())
    assert not {name for name in vars(est) if not name.startswith("_")} - params - learned
    assert est.n_users_ == ratings["user_id"].nunique()
    assert est.n_items_ == ratings["item_id"].nunique()
    assert est.history_["best_epoch"] == est.best_epoch_
    assert 1 <= est.best_epoch_ <= len(est.history_["val_rmse"]) <= SMALL["epochs"]
    assert len(est.history_["train_rmse"]) == len(est.history_["seconds"])
    assert est.device_ == resolve_device("auto")  # CUDA where there is one
    assert est.module_.training is False


def test_repr_shows_changed_params_only():
    assert repr(AutoEncoderRecommender()) == "AutoEncoderRecommender()"
    text = repr(AutoEncoderRecommender(hidden_layers=(8,), kind="item", epochs=3))
    assert text.startswith("AutoEncoderRecommender(")
    assert "hidden_layers=(8,)" in text
    assert "kind='item'" in text
    assert "epochs=3" in text
    assert "activation" not in text


def test_presets():
    default = AutoEncoderRecommender.from_preset("default")
    assert default.get_params() == AutoEncoderRecommender().get_params()
    reference = AutoEncoderRecommender.from_preset("reference").get_params()
    # the reference study's network with autorec 0.1's recipe (the old class defaults)
    assert {k: reference[k] for k in ("hidden_layers", "kind", "input_dropout")} == {
        "hidden_layers": (200, 100, 200),
        "kind": "user",
        "input_dropout": 0.25,
    }
    assert (reference["batch_size"], reference["patience"], reference["residual"]) == (
        256,
        6,
        False,
    )
    item = AutoEncoderRecommender.from_preset("i-autorec", epochs=3)
    assert (item.kind, tuple(item.hidden_layers), item.epochs) == ("item", (500,), 3)
    with pytest.raises(ValueError, match=r"'nope'.*i-autorec"):
        AutoEncoderRecommender.from_preset("nope")


def test_refit_replaces_learned_state(ratings, model):
    est = AutoEncoderRecommender(**SMALL).fit(ratings.head(300))
    n_users = est.n_users_
    est.fit(ratings)
    assert est.n_users_ == model.n_users_ != n_users
    assert np.array_equal(est.predict_matrix(), model.predict_matrix())


# ------------------------------------------------------------------------- not fitted
@pytest.mark.parametrize(
    "call",
    [
        lambda est: est.predict(pd.DataFrame({"user_id": [1], "item_id": [1]})),
        lambda est: est.recommend(1),
        lambda est: est.recommend(None, user_ratings={1: 4.0}),
        lambda est: est.complete(),
        lambda est: est.predict_matrix(),
        lambda est: est.save("never-written.safetensors"),
    ],
    ids=["predict", "recommend", "fold-in", "complete", "predict_matrix", "save"],
)
def test_methods_before_fit_raise_not_fitted(call, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFittedError, match="not fitted"):
        call(AutoEncoderRecommender())
    assert not (tmp_path / "never-written.safetensors").exists()


# ---------------------------------------------------------------- parameter validation
@pytest.mark.parametrize(
    ("params", "error", "names"),
    [
        ({"activation": "foo"}, ValueError, "'foo'"),
        ({"kind": "x"}, ValueError, "'x'"),
        ({"hidden_layers": 200}, TypeError, "200"),
        ({"hidden_layers": ()}, ValueError, r"\(\)"),
        ({"hidden_layers": (0,)}, ValueError, r"\(0,\)"),
        ({"hidden_layers": (8, -2)}, ValueError, "-2"),
        ({"hidden_layers": "200"}, ValueError, "'200'"),
        ({"hidden_layers": (8.5,)}, ValueError, "8.5"),
        ({"dropout": 1.5}, ValueError, "1.5"),
        ({"input_dropout": -0.1}, ValueError, "-0.1"),
        ({"epochs": 0}, ValueError, "epochs.*0"),
        ({"epochs": 2.0}, TypeError, "epochs.*2.0"),
        ({"epochs": True}, TypeError, "epochs.*True"),
        ({"learning_rate": 0}, ValueError, "learning_rate.*0"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate.*nan"),
        ({"batch_size": -1}, ValueError, "batch_size.*-1"),
        ({"optimizer": "lbfgs"}, ValueError, "'lbfgs'"),
        ({"validation_fraction": 1.0}, ValueError, "validation_fraction.*1.0"),
        ({"patience": 0}, ValueError, "patience.*0"),
        ({"weight_decay": -1.0}, ValueError, "weight_decay.*-1.0"),
        ({"rating_scale": (5, 1)}, ValueError, r"\(5, 1\)"),
        ({"rating_scale": (1, 2, 3)}, ValueError, r"\(1, 2, 3\)"),
        ({"duplicates": "first"}, ValueError, "'first'"),
        ({"device": "quantum"}, ValueError, "'quantum'"),
        ({"device": 3}, TypeError, "3"),
        ({"random_state": -1}, ValueError, "-1"),
        ({"random_state": "seed"}, TypeError, "'seed'"),
    ],
)
def test_bad_parameter_is_rejected_at_fit(ratings, params, error, names):
    est = AutoEncoderRecommender(**{**SMALL, **params})  # construction never fails
    with pytest.raises(error, match=names):
        est.fit(ratings)
    assert not hasattr(est, "module_")


def test_cuda_device_without_cuda_is_a_clear_error(ratings):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here; the error is for machines without it")
    with pytest.raises(ValueError, match=r"'cuda'.*CUDA is not available"):
        AutoEncoderRecommender(**{**SMALL, "device": "cuda"}).fit(ratings)


@pytest.mark.parametrize(
    "activation",
    ["sigmoid", "relu", "selu", "silu", "elu", "tanh", "gelu", "leaky_relu", "identity"],
)
def test_every_activation_fits(ratings, activation):
    est = AutoEncoderRecommender(
        hidden_layers=(8, 4), activation=activation, epochs=2, random_state=0
    ).fit(ratings)
    assert np.isfinite(est.predict_matrix(clip=False)).all()


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop", "sgd"])
def test_every_optimizer_fits(ratings, optimizer):
    est = AutoEncoderRecommender(
        hidden_layers=(8,), optimizer=optimizer, epochs=2, weight_decay=1e-4, random_state=0
    ).fit(ratings)
    assert np.isfinite(est.predict_matrix(clip=False)).all()


def test_deep_network_with_dropout_fits(ratings):
    est = AutoEncoderRecommender(
        hidden_layers=(16, 8, 16), dropout=0.2, epochs=2, random_state=0
    ).fit(ratings)
    assert np.isfinite(est.predict_matrix(clip=False)).all()


def test_validation_fraction_zero_runs_every_epoch_and_keeps_the_last(ratings):
    est = AutoEncoderRecommender(**{**SMALL, "validation_fraction": 0.0}).fit(ratings)
    assert est.best_epoch_ == SMALL["epochs"]
    assert len(est.history_["train_rmse"]) == SMALL["epochs"]
    assert all(np.isnan(est.history_["val_rmse"]))


@pytest.mark.parametrize("residual", [False, True])
def test_early_stopping_stops_and_keeps_best_epoch(ratings, residual):
    # A high learning rate makes the validation RMSE bounce: patience=1 must stop early.
    est = AutoEncoderRecommender(
        hidden_layers=(16,),
        epochs=50,
        patience=1,
        learning_rate=0.2,
        residual=residual,
        random_state=0,
    ).fit(ratings)
    val = est.history_["val_rmse"]
    assert len(val) < 50
    # a residual network's untrained state (its bias model) is epoch 0 and competes
    scores = [est.history_["val_reference"] if residual else np.inf, *val]
    assert est.best_epoch_ == int(np.nanargmin(scores))
    # stopped one epoch (patience) after the best trained epoch, once the warm-up is done
    n_rows = est.utility_.shape[0 if est.fit_params_["kind"] == "user" else 1]
    warmup = math.ceil(WARMUP_STEPS / math.ceil(n_rows / est.fit_params_["batch_size"]))
    assert len(val) == max(warmup, int(np.nanargmin(val)) + 2)


def test_a_residual_network_slow_to_overtake_its_bias_model_is_not_stopped():
    # One optimizer step an epoch: the first epochs validate worse than the bias model
    # (epoch 0) and than epoch 1, but patience waits for the warm-up steps, and then the
    # network overtakes the bias model and is kept.
    ratings = make_ratings(n_users=200, n_items=300, n_ratings=8000, random_state=0)
    est = AutoEncoderRecommender(
        kind="item", batch_size=300, patience=2, epochs=400, lr_schedule="plateau", random_state=0
    ).fit(ratings)
    val, reference = est.history_["val_rmse"], est.history_["val_reference"]
    assert min(val[1:4]) > max(val[0], reference)
    assert est.best_epoch_ > 20  # patience alone would have stopped it after epoch 3
    assert val[est.best_epoch_ - 1] < reference - 0.02


class _Terminal:
    """A stderr that says it is a terminal and records what is written."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_progress_bar_on_a_terminal_counts_every_epoch_run(ratings, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    est = AutoEncoderRecommender(**{**SMALL, "epochs": 30, "patience": 1, "verbose": 1})
    est.fit(ratings)
    runs = len(est.history_["val_rmse"])
    assert runs < 30  # stopped early: the bar must still end at the epochs run
    text = "".join(terminal.parts)
    # it ends full at the epochs run, not at the 30 allowed (issue 24)
    assert f"{runs}/{runs} " in text and f"{runs + 1}/" not in text


def test_no_progress_bar_when_stderr_is_not_a_terminal(ratings, capsys, caplog):
    with caplog.at_level("INFO", logger="autorec"):
        est = AutoEncoderRecommender(**{**SMALL, "epochs": 2, "verbose": 1}).fit(ratings)
    assert est.best_epoch_ >= 1
    assert "\r" not in capsys.readouterr().err  # no carriage-return bar piped into a file
    assert sum("epoch" in r.getMessage() for r in caplog.records) >= 2  # one line per epoch


# --------------------------------------------------------------------- ratings input
BASE = pd.DataFrame(
    {
        "user_id": [1, 1, 2, 2, 3, 3],
        "item_id": [10, 11, 10, 12, 11, 12],
        "rating": [4.0, 5.0, 3.0, 2.0, 1.0, 4.0],
    }
)
TINY = {"hidden_layers": (4,), "epochs": 2, "random_state": 0}


@pytest.mark.parametrize(
    ("frame", "error", "message"),
    [
        (BASE.drop(columns="rating"), ValueError, "missing column.*'rating'"),
        (BASE.rename(columns={"item_id": "movie"}), ValueError, "missing column.*'item_id'"),
        (BASE.assign(rating=[4.0, np.nan, 3.0, 2.0, 1.0, 4.0]), ValueError, "nan.*row 1"),
        (BASE.assign(rating=[4.0, 5.0, np.inf, 2.0, 1.0, 4.0]), ValueError, "inf.*row 2"),
        (BASE.assign(rating=list("abcdef")), ValueError, "non-numeric.*'a'"),
        (BASE.iloc[:0], ValueError, "empty"),
        (BASE.to_numpy(), TypeError, "DataFrame"),
        (
            pd.concat([BASE, BASE.iloc[[1]]], ignore_index=True),
            ValueError,
            r"duplicate.*\(1, 11\).*duplicates='last'",
        ),
    ],
    ids=["no-rating", "misnamed", "nan", "inf", "strings", "empty", "ndarray", "duplicates"],
)
def test_bad_ratings_are_rejected(frame, error, message):
    with pytest.raises(error, match=message):
        AutoEncoderRecommender(**TINY).fit(frame)


def test_rating_outside_declared_scale_is_rejected():
    with pytest.raises(ValueError, match=r"outside the rating scale.*5\.0"):
        AutoEncoderRecommender(**TINY, rating_scale=(1, 4)).fit(BASE)


def test_declared_rating_scale_is_used_for_clipping():
    est = AutoEncoderRecommender(**TINY, rating_scale=(0.5, 10)).fit(BASE)
    assert est.rating_scale_ == (0.5, 10.0)
    inferred = AutoEncoderRecommender(**TINY).fit(BASE)
    assert inferred.rating_scale_ == (1.0, 5.0)


def test_fit_does_not_mutate_the_input():
    frame = BASE.copy()
    AutoEncoderRecommender(**TINY).fit(frame)
    pd.testing.assert_frame_equal(frame, BASE)


def test_duplicates_last_keeps_the_last_rating():
    frame = pd.concat([BASE, BASE.iloc[[1]].assign(rating=2.0)], ignore_index=True)
    est = AutoEncoderRecommender(**TINY, duplicates="last").fit(frame)
    completed = est.complete()
    assert completed.loc[1, 11] == 2.0
    assert est.utility_.nnz == len(BASE)


def test_string_ids():
    frame = BASE.assign(
        user_id="u" + BASE["user_id"].astype(str), item_id="i" + BASE["item_id"].astype(str)
    )
    est = AutoEncoderRecommender(**TINY).fit(frame)
    assert est.user_map_.ids.tolist() == ["u1", "u2", "u3"]
    assert est.predict(frame).shape == (len(frame),)
    top = est.recommend("u1", k=1)
    assert top["item_id"].tolist() == ["i12"]  # the only item u1 has not rated
    assert list(est.complete().columns) == ["i10", "i11", "i12"]


@pytest.mark.parametrize("kind", ["user", "item"])
def test_huge_integer_ids_do_not_allocate_by_value(kind):
    frame = BASE.assign(user_id=BASE["user_id"] * 10**12, item_id=BASE["item_id"] + 10**12 - 20)
    est = AutoEncoderRecommender(**TINY, kind=kind).fit(frame)
    assert (est.n_users_, est.n_items_) == (3, 3)
    assert est.module_.input_weight.shape[0] == 3
    assert est.utility_.shape == (3, 3)
    assert est.recommend(10**12, k=1)["item_id"].tolist() == [10**12 - 8]
    assert est.complete().index.tolist() == [10**12, 2 * 10**12, 3 * 10**12]


@pytest.mark.parametrize("kind", ["user", "item"])
def test_a_single_user(kind):
    frame = pd.DataFrame({"user_id": 7, "item_id": [1, 2, 3, 4], "rating": [1.0, 2.0, 4.0, 5.0]})
    est = AutoEncoderRecommender(**TINY, kind=kind).fit(frame)
    assert est.n_users_ == 1
    pred = est.predict(frame)
    assert np.isfinite(pred).all()
    assert est.recommend(7, k=3, exclude_seen=False).shape[0] == 3
    assert est.recommend(7, k=3).empty  # every item already rated


def test_users_with_a_single_rating(ratings):
    singles = pd.DataFrame(
        {"user_id": [9001, 9002], "item_id": ratings["item_id"].iloc[:2], "rating": [5.0, 1.0]}
    )
    frame = pd.concat([ratings, singles], ignore_index=True)
    est = AutoEncoderRecommender(**SMALL).fit(frame)
    assert est.utility_[est.user_map_.transform([9001])[0]].nnz == 1
    pred = est.predict(singles)
    assert np.isfinite(pred).all()
    assert len(est.recommend(9002, k=5)) == 5


def test_extra_columns_are_ignored(ratings, model):
    est = AutoEncoderRecommender(**SMALL).fit(ratings.assign(timestamp=1, note="x"))
    assert np.array_equal(est.predict_matrix(), model.predict_matrix())


# --------------------------------------------------------------------------- predict
def test_predict_shape_dtype_range(model, ratings):
    pred = model.predict(ratings)
    assert pred.shape == (len(ratings),)
    assert pred.dtype == np.float32
    assert np.isfinite(pred).all()
    low, high = model.rating_scale_
    assert pred.min() >= low
    assert pred.max() <= high


def test_predict_fits_the_training_ratings_better_than_the_mean(model, ratings):
    assert rmse(ratings["rating"], model.predict(ratings)) < ratings["rating"].std()


def test_predict_accepts_extra_columns_and_any_index(model, ratings):
    pairs = ratings.sample(20, random_state=0)
    expected = model.predict(pairs[["user_id", "item_id"]].reset_index(drop=True))
    assert np.array_equal(model.predict(pairs), expected)


def test_predict_matches_predict_matrix(model, ratings):
    matrix = model.predict_matrix()
    rows = model.user_map_.transform(ratings["user_id"].to_numpy())
    cols = model.item_map_.transform(ratings["item_id"].to_numpy())
    np.testing.assert_allclose(model.predict(ratings), matrix[rows, cols], rtol=1e-5, atol=1e-5)


def test_item_model_predict_matches_predict_matrix(item_model, ratings):
    matrix = item_model.predict_matrix(clip=False)
    rows = item_model.user_map_.transform(ratings["user_id"].to_numpy())
    cols = item_model.item_map_.transform(ratings["item_id"].to_numpy())
    np.testing.assert_allclose(
        item_model.predict(ratings, clip=False), matrix[rows, cols], rtol=1e-5, atol=1e-5
    )


def test_predict_rejects_bad_pairs(model):
    with pytest.raises(TypeError, match="DataFrame"):
        model.predict({1: 2})
    with pytest.raises(ValueError, match=r"\(user_id, item_id\) pairs, got an entry \(1, 2, 3\)"):
        model.predict([(1, 2, 3)])
    with pytest.raises(ValueError, match="item_id"):
        model.predict(pd.DataFrame({"user_id": [1]}))


def test_unknown_ids_get_fallbacks_and_a_counting_warning(model, ratings):
    user = ratings["user_id"].iloc[0]
    item = ratings["item_id"].iloc[0]
    pairs = pd.DataFrame({"user_id": [user, -1, user, -2, -3], "item_id": [item, item, -5, -5, -6]})
    fresh = AutoEncoderRecommender(**SMALL).fit(ratings)
    with pytest.warns(UserWarning) as caught:
        pred = fresh.predict(pairs)
    (message,) = [str(w.message) for w in caught]
    assert message == (
        "4 of 5 pairs: 1 with an item not seen in fit (predicted: the user's mean); "
        "1 with a user not seen in fit (predicted: the item's mean); "
        "2 with neither seen in fit (predicted: the global mean)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once per fitted model, not on every call
        fresh.predict(pairs)
    assert not np.isnan(pred).any()
    u = model.user_map_.transform([user])[0]
    i = model.item_map_.transform([item])[0]
    assert pred[1] == pytest.approx(model.item_mean_[i])  # unknown user: item mean
    assert pred[2] == pytest.approx(model.user_mean_[u])  # unknown item: user mean
    assert pred[3] == pred[4] == pytest.approx(model.global_mean_)  # both unknown
    assert pred[0] == model.predict(pairs.iloc[:1])[0]
    assert model.item_mean_[i] == pytest.approx(
        ratings.loc[ratings["item_id"] == item, "rating"].mean()
    )
    assert model.global_mean_ == pytest.approx(ratings["rating"].mean())


def test_known_pairs_do_not_warn(model, ratings):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(ratings.head(10))


def test_clip_false_can_exceed_the_scale(ratings):
    est = AutoEncoderRecommender(**SMALL).fit(ratings)
    low, high = est.rating_scale_
    with torch.no_grad():  # push half of the raw outputs above the scale, half below
        est.module_.output_bias[::2] += 10.0
        est.module_.output_bias[1::2] -= 10.0
    raw = est.predict(ratings, clip=False)
    clipped = est.predict(ratings)
    assert (raw > high).any()
    assert (raw < low).any()
    assert np.array_equal(clipped, np.clip(raw, low, high))
    assert set(np.unique(clipped)) == {low, high}
    matrix = est.predict_matrix(clip=False)
    assert matrix.max() > high
    assert matrix.min() < low
    assert np.array_equal(est.predict_matrix(), np.clip(matrix, low, high))


# ------------------------------------------------------------------------- recommend
@pytest.fixture(scope="module")
def rating_model(ratings) -> AutoEncoderRecommender:
    """The reference study's order: recommend ranks by predicted rating."""
    return AutoEncoderRecommender(ranking="rating", **SMALL).fit(ratings)


def test_predicted_rating_column_is_the_clipped_prediction(model):
    user = model.user_map_.ids[3]
    top = model.recommend(user, k=8)
    row = model.predict_matrix([user])[0]
    assert np.allclose(top["predicted_rating"], row[model.item_map_.transform(top["item_id"])])
    counts = np.bincount(model.utility_.indices, minlength=model.n_items_)
    assert top["n_ratings"].tolist() == counts[model.item_map_.transform(top["item_id"])].tolist()


def test_recommend_ids_match_predict_matrix_columns(rating_model):
    model = rating_model
    for position in (0, 5, 17):
        user = model.user_map_.ids[position]
        top = model.recommend(user, k=5)
        row = model.predict_matrix([user], clip=False)[0]
        for item, score in zip(top["item_id"], top["score"], strict=True):
            column = model.item_map_.transform([item])[0]
            assert score == pytest.approx(row[column], abs=1e-6)
        # the top item is the best of the unrated ones
        unrated = np.ones(model.n_items_, dtype=bool)
        unrated[model.utility_[position].indices] = False
        assert top["score"].iloc[0] == pytest.approx(row[unrated].max(), abs=1e-6)


def test_recommend_scores_are_raw_not_clipped(rating_model):
    model = rating_model
    top = model.recommend(model.user_map_.ids[0], k=model.n_items_, exclude_seen=False)
    raw = model.predict_matrix([model.user_map_.ids[0]], clip=False)[0]
    assert top["score"].max() == pytest.approx(raw.max(), abs=1e-6)


@pytest.mark.parametrize("fixture", ["model", "item_model"])
def test_batch_recommend_equals_single_calls(fixture, request):
    est = request.getfixturevalue(fixture)
    users = est.user_map_.ids[[4, 0, 33, 1, 12, 59, 7]]
    batch = est.recommend(users, k=6)
    assert list(batch.columns) == ["user_id", "item_id", "score", "predicted_rating", "n_ratings"]
    assert batch["user_id"].tolist() == np.repeat(users, 6).tolist()
    for user in users:
        single = est.recommend(user, k=6)
        part = batch[batch["user_id"] == user].drop(columns="user_id")
        pd.testing.assert_frame_equal(part, single, check_exact=True)


@pytest.mark.parametrize("fixture", ["model", "item_model"])
def test_predict_matrix_subset_rows_equal_the_full_matrix(fixture, request):
    est = request.getfixturevalue(fixture)
    full = est.predict_matrix(clip=False)
    assert full.shape == (est.n_users_, est.n_items_)
    assert full.dtype == np.float32
    for positions in ([3], [3, 9], [59, 0, 2], list(range(5, 26))):
        subset = est.predict_matrix(est.user_map_.ids[positions], clip=False)
        assert np.array_equal(subset, full[positions])


def test_recommend_joins_movie_metadata_for_the_right_ids(model):
    movies = pd.DataFrame({"item_id": model.item_map_.ids[::-1]})
    movies["title"] = "Movie " + movies["item_id"].astype(str)
    movies["genres"] = np.where(movies["item_id"] % 2 == 0, "Drama", "Comedy")
    movies["year"] = 1999
    user = model.user_map_.ids[0]
    top = model.recommend(user, k=5, movies=movies)
    assert list(top.columns) == [
        "item_id",
        "score",
        "predicted_rating",
        "n_ratings",
        "title",
        "genres",
    ]
    assert (top["title"] == "Movie " + top["item_id"].astype(str)).all()
    assert (top["genres"] == np.where(top["item_id"] % 2 == 0, "Drama", "Comedy")).all()
    plain = model.recommend(user, k=5)
    pd.testing.assert_frame_equal(top.drop(columns=["title", "genres"]), plain)
    batch = model.recommend(model.user_map_.ids[:2], k=3, movies=movies)
    assert (batch["title"] == "Movie " + batch["item_id"].astype(str)).all()


def test_recommend_movies_without_item_id_is_an_error(model):
    with pytest.raises(ValueError, match="item_id"):
        model.recommend(model.user_map_.ids[0], movies=pd.DataFrame({"title": ["x"]}))


@pytest.mark.parametrize(
    ("k", "error"),
    [(0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError), ("3", TypeError)],
)
def test_recommend_bad_k(model, k, error):
    with pytest.raises(error, match="k"):
        model.recommend(model.user_map_.ids[0], k=k)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    position=st.integers(0, 59),
    k=st.integers(1, 60),
    exclude_seen=st.booleans(),
)
def test_recommend_property(model, position, k, exclude_seen):
    user = model.user_map_.ids[position]
    top = model.recommend(user, k=k, exclude_seen=exclude_seen)
    seen = set(model.item_map_.inverse_transform(model.utility_[position].indices).tolist())
    n_candidates = model.n_items_ - (len(seen) if exclude_seen else 0)
    assert len(top) == min(k, n_candidates)
    assert top["item_id"].is_unique
    assert np.all(np.diff(top["score"].to_numpy()) <= 0)
    assert np.isfinite(top["score"]).all()
    if exclude_seen:
        assert not set(top["item_id"]) & seen


# --------------------------------------------------------------------------- fold-in
def _user_ratings(ratings: pd.DataFrame, user) -> dict:
    rows = ratings[ratings["user_id"] == user]
    return dict(zip(rows["item_id"].tolist(), rows["rating"].tolist(), strict=True))


@pytest.mark.parametrize("position", [0, 11, 42])
def test_fold_in_of_a_training_user_ranks_like_recommend(user_model, ratings, position):
    # a user model encodes the folded-in row exactly as a training row
    model = user_model
    user = model.user_map_.ids[position]
    own = _user_ratings(ratings, user)
    folded = model.recommend(None, k=20, user_ratings=own)
    direct = model.recommend(user, k=20)
    assert folded["item_id"].tolist() == direct["item_id"].tolist()
    np.testing.assert_allclose(folded["score"], direct["score"], rtol=1e-5, atol=1e-5)
    # the same ratings as a Series and as a DataFrame
    series = pd.Series(own)
    assert model.recommend(None, k=20, user_ratings=series)["item_id"].tolist() == (
        direct["item_id"].tolist()
    )
    frame = pd.DataFrame({"item_id": list(own), "rating": list(own.values())})
    assert model.recommend("new", k=20, user_ratings=frame)["item_id"].tolist() == (
        direct["item_id"].tolist()
    )


def test_fold_in_excludes_the_given_items(model, ratings):
    own = dict(list(_user_ratings(ratings, model.user_map_.ids[3]).items())[:4])
    top = model.recommend(None, k=model.n_items_, user_ratings=own)
    assert len(top) == model.n_items_ - 4
    assert not set(top["item_id"]) & set(own)
    everything = model.recommend(None, k=model.n_items_, user_ratings=own, exclude_seen=False)
    assert set(own) <= set(everything["item_id"])


def test_fold_in_differs_for_different_ratings(model):
    items = model.item_map_.ids[:6]
    lovers = model.recommend(None, k=10, user_ratings=dict.fromkeys(items, 5.0), exclude_seen=False)
    haters = model.recommend(None, k=10, user_ratings=dict.fromkeys(items, 1.0), exclude_seen=False)
    assert not np.allclose(lovers["score"], haters["score"])


def _two_tastes(n_users: int = 120, seed: int = 0) -> pd.DataFrame:
    """Half the users love items 0-19 and dislike 20-39; the other half the reverse."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        loved = range(20) if user % 2 == 0 else range(20, 40)
        for item in rng.choice(40, 24, replace=False):
            rating = 5.0 if item in loved else 1.0
            rows.append((user, int(item), rating if rng.random() > 0.1 else 3.0))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


@pytest.mark.parametrize("kind", ["user", "item"])
def test_a_new_users_recommendations_follow_what_they_rated(kind):
    # "A horror fan and a children's-film fan get different lists", without retraining.
    ratings = _two_tastes()
    params = {"hidden_layers": (16,), "epochs": 60, "learning_rate": 1e-2, "random_state": 0}
    model = AutoEncoderRecommender(kind=kind, ranking="rating", **params).fit(ratings)
    fan_a = model.recommend(None, k=8, user_ratings={0: 5, 1: 5, 2: 5, 25: 1, 26: 1})
    fan_b = model.recommend(None, k=8, user_ratings={20: 5, 21: 5, 22: 5, 5: 1, 6: 1})
    assert (fan_a["item_id"] < 20).mean() >= 0.75
    assert (fan_b["item_id"] >= 20).mean() >= 0.75
    assert fan_a["predicted_rating"].mean() > 3.5 and fan_b["predicted_rating"].mean() > 3.5


def test_item_model_fold_in_ranks_like_the_users_fitted_row(planted_split):
    # Folding in a training user's own ratings (no retraining) must rank the catalogue
    # like that user's fitted output unit and predict their test ratings as well.
    # Measured on like data: median Spearman 0.64, test RMSE 0.59 folded in, 0.72 fitted.
    from scipy.stats import spearmanr

    train, test = planted_split
    model = AutoEncoderRecommender(kind="item", random_state=0, **PLANTED["item"]).fit(train)
    assert model.fold_in_l2_ is not None
    correlations, folded_err, fitted_err = [], [], []
    for user in train["user_id"].unique()[:60]:
        own, theirs = train[train["user_id"] == user], test[test["user_id"] == user]
        items = model.item_map_.transform(own["item_id"])
        folded = model._fold_in_ratings(items, own["rating"].to_numpy(np.float64))
        fitted = model.predict_matrix([user], clip=False)[0]
        correlations.append(spearmanr(folded, fitted).statistic)
        cols = model.item_map_.transform(theirs["item_id"])
        truth = theirs["rating"].to_numpy()[cols >= 0]
        folded_err.append(np.mean((np.clip(folded[cols[cols >= 0]], 1, 5) - truth) ** 2))
        fitted_err.append(np.mean((np.clip(fitted[cols[cols >= 0]], 1, 5) - truth) ** 2))
    assert np.median(correlations) > 0.5, np.median(correlations)
    assert np.sqrt(np.mean(folded_err)) <= 1.05 * np.sqrt(np.mean(fitted_err))


def test_item_model_fold_in_is_the_ridge_solution(item_model, ratings):
    from autorec._foldin import BIAS_SHRINK

    own = ratings[ratings["user_id"] == ratings["user_id"].iloc[0]]
    items = item_model.item_map_.transform(own["item_id"])
    values = own["rating"].to_numpy(np.float64)
    codes = item_model._codes().cpu().numpy().astype(np.float64)
    hidden, offset = codes[:, :-1], codes[:, -1]  # the code, then the item's own bias
    design = np.hstack([hidden[items], np.ones((len(items), 1))])
    penalty = np.diag([item_model.fold_in_l2_] * hidden.shape[1] + [0.0])
    target = values - offset[items]
    coef = np.linalg.lstsq(design.T @ design + penalty, design.T @ target, rcond=None)[0]
    # The bias is then shrunk toward a typical person's by BIAS_SHRINK pseudo-ratings.
    prior = item_model.global_mean_ - offset.mean()
    bias = (len(items) * coef[-1] + BIAS_SHRINK * prior) / (len(items) + BIAS_SHRINK)
    expected = hidden @ coef[:-1] + bias + offset
    assert np.allclose(item_model._fold_in_ratings(items, values), expected, atol=1e-4)


def test_fold_in_ignores_unknown_items_with_a_warning(model, ratings):
    own = _user_ratings(ratings, model.user_map_.ids[0])
    with pytest.warns(UserWarning, match=r"2 item\(s\).*ignored"):
        top = model.recommend(None, k=10, user_ratings={**own, -7: 5.0, -8: 1.0})
    expected = model.recommend(None, k=10, user_ratings=own)
    pd.testing.assert_frame_equal(top, expected)
    assert not {-7, -8} & set(top["item_id"])


@pytest.mark.parametrize("bad", [0.0, 6.0, float("nan"), float("inf")])
def test_fold_in_out_of_scale_rating_is_an_error(model, bad):
    item = model.item_map_.ids[0]
    with pytest.raises(ValueError, match="rating scale"):
        model.recommend(None, user_ratings={item: bad})


def test_fold_in_needs_a_single_user_and_a_known_container(model):
    item = model.item_map_.ids[0]
    with pytest.raises(ValueError, match="single"):
        model.recommend([1, 2], user_ratings={item: 4.0})
    with pytest.raises(TypeError, match="user_ratings"):
        model.recommend(None, user_ratings=[(item, 4.0)])
    with pytest.raises(ValueError, match=r"'great'.*number"):
        model.recommend(None, user_ratings={item: "great"})
    with pytest.raises(ValueError, match="rating"):
        model.recommend(None, user_ratings=pd.DataFrame({"item_id": [item]}))


# -------------------------------------------------------------------------- complete
@pytest.mark.parametrize("fixture", ["model", "item_model"])
def test_complete_keeps_observed_ratings(fixture, request, ratings):
    est = request.getfixturevalue(fixture)
    completed = est.complete()
    assert completed.shape == (est.n_users_, est.n_items_)
    assert completed.index.tolist() == est.user_map_.ids.tolist()
    assert completed.columns.tolist() == est.item_map_.ids.tolist()
    assert (completed.dtypes == np.float32).all()
    observed = completed.stack().loc[list(zip(ratings["user_id"], ratings["item_id"], strict=True))]
    assert np.array_equal(observed.to_numpy(), ratings["rating"].to_numpy(np.float32))
    # empty cells hold the (clipped) prediction
    predicted = est.predict_matrix()
    empty = est.utility_.toarray() == 0
    assert np.array_equal(completed.to_numpy()[empty], predicted[empty])
    assert not completed.isna().any().any()


def test_complete_for_a_subset_of_users(model):
    users = model.user_map_.ids[[8, 2, 30]]
    part = model.complete(users)
    assert part.index.tolist() == users.tolist()
    pd.testing.assert_frame_equal(part, model.complete().loc[users])
    with pytest.raises(KeyError, match="31337"):
        model.complete([31337])


# ------------------------------------------------------------------------ divergence
def test_divergence_before_a_good_epoch_raises(ratings, monkeypatch):
    real = training_module.AutoEncoderNet.decode_at

    def nan_decode_at(self, code, rows, columns, *cells):
        return real(self, code, rows, columns, *cells) * float("nan")

    monkeypatch.setattr(training_module.AutoEncoderNet, "decode_at", nan_decode_at)
    est = AutoEncoderRecommender(**SMALL)
    with pytest.raises(TrainingDivergedError, match=r"epoch 1.*learning_rate"):
        est.fit(ratings)
    assert not hasattr(est, "module_")


def test_divergence_after_good_epochs_warns_and_keeps_the_best_weights(ratings, monkeypatch):
    calls = {"validations": 0}
    real_predict_at = training_module.predict_cells
    real_decode_at = training_module.AutoEncoderNet.decode_at

    def counting_predict_at(*args, **kwargs):  # once before training, then once per epoch
        calls["validations"] += 1
        return real_predict_at(*args, **kwargs)

    def decode_at(self, code, rows, columns, *cells):  # training loss turns NaN in epoch 3
        out = real_decode_at(self, code, rows, columns, *cells)
        return out * float("nan") if self.training and calls["validations"] >= 3 else out

    monkeypatch.setattr(training_module, "predict_cells", counting_predict_at)
    monkeypatch.setattr(training_module.AutoEncoderNet, "decode_at", decode_at)
    # every epoch validated, and a two-epoch run the start of a longer one: the plateau
    params = {**SMALL, "patience": 100, "lr_schedule": "plateau"}
    with pytest.warns(RuntimeWarning, match="diverged in epoch 3"):
        diverged = AutoEncoderRecommender(**params).fit(ratings)
    monkeypatch.undo()
    assert diverged.best_epoch_ in (1, 2)
    assert np.isnan(diverged.history_["train_rmse"][2])
    assert np.isfinite(diverged.predict_matrix(clip=False)).all()
    # the kept weights are exactly those of an undisturbed two-epoch run
    two = AutoEncoderRecommender(**{**params, "epochs": 2}).fit(ratings)
    assert two.best_epoch_ == diverged.best_epoch_
    assert np.array_equal(diverged.predict_matrix(clip=False), two.predict_matrix(clip=False))


def test_nan_validation_rmse_counts_as_divergence(ratings, monkeypatch):
    calls = {"n": 0}
    real_predict_at = training_module.predict_cells

    def predict_at(*args, **kwargs):
        calls["n"] += 1
        out = real_predict_at(*args, **kwargs)
        return out * np.float32("nan") if calls["n"] == 5 else out  # epoch 4

    monkeypatch.setattr(training_module, "predict_cells", predict_at)
    params = {**SMALL, "patience": 100, "lr_schedule": "plateau"}  # every epoch validated
    with pytest.warns(RuntimeWarning, match="diverged in epoch 4"):
        est = AutoEncoderRecommender(**params).fit(ratings)
    assert est.best_epoch_ <= 3
    assert np.isfinite(est.predict_matrix(clip=False)).all()


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_huge_learning_rate_never_leaks_nan(ratings, optimizer):
    est = AutoEncoderRecommender(
        hidden_layers=(16,), epochs=10, learning_rate=1e6, optimizer=optimizer, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            est.fit(ratings)
        except TrainingDivergedError as exc:
            assert "learning_rate" in str(exc)
            assert not hasattr(est, "module_")
            return
    assert np.isfinite(est.predict_matrix(clip=False)).all()
    assert np.isfinite(est.predict(ratings)).all()
    assert np.isfinite(est.recommend(est.user_map_.ids[0])["score"]).all()


def test_public_names_are_exported():
    import autorec

    assert re.fullmatch(r"\d+\.\d+\.\d+.*", autorec.__version__)
    assert {
        "AutoEncoderRecommender",
        "NotFittedError",
        "TrainingDivergedError",
        "ModelFormatError",
    } <= set(autorec.__all__)


# ------------------------------------------------------------- state after a failed fit
@pytest.mark.parametrize("failure", ["diverged", "interrupted"])
def test_a_refit_that_raises_leaves_the_old_model_intact(ratings, monkeypatch, failure):
    model = AutoEncoderRecommender(**SMALL).fit(ratings)
    before = model.predict(ratings)
    state = {k: v for k, v in vars(model).items() if k.endswith("_")}
    other = make_ratings(n_users=30, n_items=25, n_ratings=300, random_state=5)
    if failure == "interrupted":
        calls = {"n": 0}
        real = training_module._run_epoch

        def interrupt(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(training_module, "_run_epoch", interrupt)
        with pytest.raises(KeyboardInterrupt):
            model.fit(other)
    else:
        with pytest.raises(TrainingDivergedError):
            model.set_params(learning_rate=1e6, optimizer="sgd").fit(other)
    assert all(vars(model)[k] is v for k, v in state.items())
    assert np.array_equal(model.predict(ratings), before)
    assert len(model.user_mean_) == model.n_users_


def test_parameters_changed_after_fit_do_not_change_the_fitted_model(ratings, tmp_path):
    model = AutoEncoderRecommender(**SMALL).fit(ratings)
    before = model.predict(ratings)
    model.set_params(kind="user", hidden_layers=(3, 3))
    assert np.array_equal(model.predict(ratings), before)
    model.set_params(kind="nonsense")
    loaded = reload(model, model.save(tmp_path / "m.safetensors"))
    assert loaded.kind == "item" and np.array_equal(loaded.predict(ratings), before)


@pytest.mark.parametrize(("optimizer", "learning_rate"), [("adam", 1e6), ("sgd", 1e3)])
def test_an_exploding_but_finite_loss_is_divergence(ratings, optimizer, learning_rate):
    # Before: validation RMSE ~1.9 (the mean predictor's ~0.95), outputs only 1 and 5, no
    # warning. The validation RMSE is now compared with the untrained network's.
    params = {**SMALL, "learning_rate": learning_rate, "optimizer": optimizer}
    with pytest.raises(TrainingDivergedError, match="exploded"):
        AutoEncoderRecommender(**params).fit(ratings)
