"""The benchmark scripts run (reduced, ``--quick``) and their helpers do what they say.

Benchmarks are scripts that print tables, not timed tests: here they only have to run to
completion and print what they promise, so that they cannot rot.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from autorec.datasets import make_ratings

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO_ROOT / "benchmarks"


@pytest.fixture(scope="module")
def bench(monkeypatch_module):
    """The benchmarks' private modules, imported from the benchmarks folder."""
    monkeypatch_module.syspath_prepend(str(BENCHMARKS))
    return (
        importlib.import_module("_notebook"),
        importlib.import_module("_common"),
    )


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


#: Only catches a hang: a quick run takes seconds to a few minutes, and a busy 2-core
#: machine must not fail a test for being slow (a 170 s limit once did).
HANG = 1800


def run_script(name: str, *args: str, timeout: float = HANG) -> str:
    # One torch thread: on a shared, busy machine two threads per process can be ~10x slower.
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), "--quick", "--threads", "1", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        check=False,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# ----------------------------------------------------------------------------- notebook
def tiny_ratings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 2, 3],
            "item_id": [1, 3, 2, 3, 5, 4],
            "rating": [5.0, 3.0, 4.0, 1.0, 2.0, 4.0],
        }
    )


def test_notebook_gradients_accumulate_over_the_whole_run(bench):
    """``.grad`` after training is the sum of every step's gradient (no zero_grad)."""
    notebook, _ = bench
    ratings = tiny_ratings()
    model = notebook.train(ratings, epochs=2, random_state=3)

    # Replay: the same network and optimizer, each step's own gradient computed apart.
    torch.manual_seed(3)
    net = notebook.make_network(5)
    params = list(net.parameters())
    opt = torch.optim.RMSprop(params, lr=0.005, weight_decay=1.0)
    matrix = notebook.dense_matrix(ratings, np.array([1, 2, 3]), 5)
    total = [torch.zeros_like(p) for p in params]
    step_grads = []
    for _ in range(2):
        for u in range(3):
            loss = notebook.masked_loss(net(matrix[u : u + 1]), matrix[u : u + 1])
            grads = torch.autograd.grad(loss, params)
            step_grads.append(grads)
            for acc, g in zip(total, grads, strict=True):
                acc += g
            for p, acc in zip(params, total, strict=True):
                p.grad = acc.clone()
            opt.step()

    trained = list(model.network.parameters())
    for p_trained, p_replay, acc in zip(trained, params, total, strict=True):
        torch.testing.assert_close(p_trained.grad, acc)
        torch.testing.assert_close(p_trained, p_replay)
    # The sum really differs from the last step's gradient (what zero_grad would leave).
    assert not torch.allclose(trained[0].grad, step_grads[-1][0])
    assert model.epoch_seconds and len(model.epoch_seconds) == 2


def test_notebook_matrix_loss_and_protocols(bench):
    notebook, _ = bench
    ratings = tiny_ratings()
    matrix = notebook.dense_matrix(ratings, np.array([1, 2, 3]), 5)
    assert matrix.shape == (3, 5)  # users x max movie id; column = movie id - 1
    assert matrix[0, 0] == 5.0 and matrix[1, 4] == 2.0 and matrix[0, 1] == 0.0
    # Only rated entries count: sum of squared errors / number rated.
    output = torch.zeros(1, 5)
    assert notebook.masked_loss(output, matrix[:1]).item() == pytest.approx((25 + 9) / 2)

    model = notebook.train(ratings, epochs=1)
    test = pd.DataFrame({"user_id": [1, 2], "item_id": [2, 1], "rating": [4.0, 5.0]})
    honest = notebook.predict(model, test)
    leaky = notebook.leaky_scores(model, test)
    with torch.no_grad():
        expected = model.network(notebook.dense_matrix(test, model.user_ids, 5))
    np.testing.assert_allclose(leaky, expected[[0, 1], [1, 0]].numpy(), rtol=1e-6)
    assert not np.allclose(honest, leaky)
    assert 0 <= notebook.leaky_top_k_accuracy(model, test, 1) <= 100


def test_leaky_scores_equal_fold_in_of_the_test_ratings(bench):
    """The autorec leaky helper = folding in each user's test ratings."""
    _, common = bench
    ratings = make_ratings(n_users=40, n_items=30, n_ratings=500, random_state=0)
    test = ratings.groupby("user_id").head(3)
    train = ratings.drop(test.index)
    model = common.reference_model(0, hidden_layers=(8,), epochs=2, ranking="rating").fit(train)
    scores, keep = common.leaky_scores(model, test)
    assert np.isnan(scores[~keep]).all()
    for user in test["user_id"].unique()[:5]:
        mine = test[(test["user_id"] == user).to_numpy() & keep]
        folded = model.recommend(
            None, k=model.n_items_, exclude_seen=False, user_ratings=mine[["item_id", "rating"]]
        ).set_index("item_id")["score"]
        got = scores[np.flatnonzero((test["user_id"] == user).to_numpy() & keep)]
        np.testing.assert_allclose(got, folded.loc[mine["item_id"]].to_numpy(), rtol=1e-5)


def test_table_plain_and_markdown(bench):
    _, common = bench
    plain = common.table(["Model", "x"], [["a", "1.0"], ["long name", "22.5"]])
    assert plain.splitlines()[0].startswith("Model") and "---------" in plain
    md = common.table(["Model", "x"], [["a|b", "1.0"]], markdown=True)
    assert md.splitlines()[1] == "|:---|---:|" and "a\\|b" in md


# ----------------------------------------------------------------------------- scripts
@pytest.mark.slow
def test_scale_quick_runs_and_prints_its_table():
    out = run_script("scale.py", "--phases")
    assert "Ratings" in out and "epoch s" in out and "peak RSS MB" in out
    assert "100k" in out and "300k" in out
    assert "about linear" in out
    assert "Resident memory by phase, 300k" in out  # --phases: a table per size
    for phase in ("data preparation", "training: epochs", "ranking: weight search"):
        assert phase in out, phase


@pytest.mark.slow
def test_scale_accuracy_holds_out_a_split_and_reports_the_batch_and_test_rmse():
    out = run_script("scale.py", "--accuracy", "--batch-size", "40", "--json")
    results = json.loads(out)["results"]
    assert [r["n_ratings"] for r in results] == [100_000, 300_000]  # --quick's sizes
    for result in results:
        assert result["batch_size"] == 40
        assert 0.3 < result["test_rmse"] < 1.5  # ratings on 1-5, one epoch, planted rank 5
        assert 0.3 < result["bias_test_rmse"] < 1.5


@pytest.mark.slow
@pytest.mark.realdata
def test_profile_fit_quick_prints_both_tables(movielens_home):
    out = run_script("profile_fit.py", "--data-home", str(movielens_home))
    assert "Wall clock by phase" in out and "torch.profiler" in out
    for phase in ("encode", "decode at rated cells", "backward", "optimizer step", "ranking"):
        assert phase in out, phase
    result = json.loads(run_script("profile_fit.py", "--json", "--data-home", str(movielens_home)))
    shares = [p["share_pct"] for p in result["phases"]]
    assert all(s >= 0 for s in shares) and sum(shares) == pytest.approx(100.0, abs=0.5)
    assert result["profile"]["ops"] and result["profile"]["self_cpu_seconds"] > 0


@pytest.mark.slow
@pytest.mark.realdata
def test_speed_quick_prints_the_json_keys(movielens_home):
    out = run_script("speed.py", "--json", "--data-home", str(movielens_home), timeout=400)
    result = json.loads(out)
    for key in (
        "epoch_seconds_notebook",
        "epoch_seconds_autorec",
        "speedup",
        "fit_seconds",
        "blend_fit_seconds",
        "predict_all_seconds",
        "recommend_ms",
        "peak_rss_mb",
        "model_file_mb",
        "gemm_gflops",
        "epoch_gflop",
        "flop_ratio",
    ):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["flop_ratio"] == pytest.approx(
        result["epoch_seconds_autorec"] * result["gemm_gflops"] / result["epoch_gflop"]
    )
    assert result["peers"]["EASE (autorec._exposure, l2=500)"]["fit_seconds"] > 0
    assert result["speedup"] == pytest.approx(
        result["epoch_seconds_notebook"] / result["epoch_seconds_autorec"]
    )
    assert result["speedup_reference"] == pytest.approx(
        result["epoch_seconds_notebook"] / result["epoch_seconds_reference"]
    )
    assert result["fit_seconds_rating_only"] > 0 and result["ranking_overhead_pct"] >= 0
    assert result["ranking_overhead_pct"] == pytest.approx(
        100 * max(result["ranking_seconds"], 0.0) / result["fit_seconds_rating_only"]
    )


@pytest.mark.slow
@pytest.mark.realdata
def test_accuracy_quick_prints_both_tables(movielens_home):
    out = run_script("accuracy.py", "--data-home", str(movielens_home))
    header = "train RMSE  test RMSE  top-5  top-10  leaky top-5  leaky top-10  fit s"
    assert out.count(header) == 2  # standard and random 90/10
    for name in (
        "Global mean",
        "BiasBaseline",
        "Reference notebook loop",
        "autorec default",
        "autorec best configuration",
        "I-AutoRec",
        "0.831",
    ):
        assert name in out, name
    assert "CPU:" in out and "torch" in out


# ----------------------------------------------------------------------- generalization
# --quick builds every data set from make_ratings (a small synthetic stand-in for
# MovieLens-1M), so these run without the real data.
@pytest.mark.slow
def test_generalization_quick_prints_its_tables():
    out = run_script("generalization.py", "--datasets", "ml1m-10pct,synth-many-users", "--markdown")
    header = "| Model | test RMSE | Δ vs bias | Δ vs best MF | NDCG@10 | fit s | target met |"
    assert out.count(header) == 2
    for text in (
        "### ml1m-10pct:",
        "### synth-many-users:",
        "NOT representative",
        "BiasBaseline",
        "autorec default (residual I-AutoRec)",
        "autorec reference network (preset)",
        "autorec i-autorec preset",
        "autorec best configuration (blend)",
        "| Data set | bias RMSE |",  # the target table
        "CPU:",
    ):
        assert text in out, text
    if importlib.util.find_spec("cornac") is not None:
        assert "chosen on validation" in out and "Cornac MF grid, mean validation RMSE" in out
        assert "best of grid on test" not in out


@pytest.mark.slow
def test_generalization_quick_json_gaps_are_differences():
    out = run_script(
        "generalization.py",
        "--datasets",
        "synth-many-users",
        "--models",
        "bias,default",
        "--json",
    )
    result = json.loads(out)
    rows = {r["model"]: r for r in result["summary"]["synth-many-users"]["rows"]}
    assert set(rows) == {"bias", "default"}
    gap = rows["default"]["test_rmse"] - rows["bias"]["test_rmse"]
    assert rows["default"]["gap_bias"] == pytest.approx(gap)
    assert rows["default"]["gap_mf"] is None  # no MF row asked for
    assert 0.0 <= rows["default"]["ndcg@10"] <= 1.0
    assert result["settings"]["quick"] and result["settings"]["autorec_epochs"] == 2


# ----------------------------------------------------------------------- top-N, tuned peers
@pytest.fixture(scope="module")
def peers_module(monkeypatch_module):
    monkeypatch_module.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("_peers")


@pytest.mark.parametrize("input", ["binary", "rating"])
def test_edlae_without_dropout_is_ease(peers_module, input):
    from autorec.baselines import EASE

    ratings = make_ratings(120, 40, 1600, random_state=4)
    edlae = peers_module.EDLAE(l2=9.0, dropout=0.0, input=input, shift=1.0).fit(ratings)
    ease = EASE(l2=9.0, input=input, shift=1.0).fit(ratings)
    np.testing.assert_allclose(edlae.weights_, ease.weights_, rtol=1e-6, atol=1e-7)
    users = np.arange(20)
    np.testing.assert_allclose(
        edlae._user_scores(users), ease._user_scores(users), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(("input", "dropout"), [("binary", 0.25), ("rating", 0.5)])
def test_edlae_weights_follow_steck_2020(peers_module, input, dropout):
    """``B = I - P diagMat(1/diag P)``, ``P = (G + p/(1-p) diagMat(diag G) + l2 I)⁻¹``,
    computed here in float64 from the ratings themselves."""
    ratings = make_ratings(120, 40, 1600, random_state=5)
    l2 = 6.0
    model = peers_module.EDLAE(l2=l2, dropout=dropout, input=input, shift=1.0).fit(ratings)
    users = model.user_map_.transform(ratings["user_id"])
    items = model.item_map_.transform(ratings["item_id"])
    values = ratings["rating"].to_numpy() - 1.0 if input == "rating" else np.ones(len(ratings))
    x = np.zeros((len(model.user_map_), len(model.item_map_)))
    x[users, items] = values
    gram = x.T @ x
    penalty = dropout / (1 - dropout) * np.diag(np.diag(gram)) + l2 * np.eye(len(gram))
    inverse = np.linalg.inv(gram + penalty)
    expected = -inverse / np.diag(inverse)[None, :]
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.weights_, expected, rtol=1e-4, atol=1e-6)
    # The dropout penalty really changes the weights (it is not EASE at the same l2).
    plain = peers_module.EDLAE(l2=l2, dropout=0.0, input=input, shift=1.0).fit(ratings)
    assert np.abs(plain.weights_ - model.weights_).max() > 1e-2


def test_edlae_rejects_a_dropout_outside_0_1(peers_module):
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.0"):
        peers_module.EDLAE(dropout=1.0).fit(make_ratings(30, 10, 200, random_state=0))


@pytest.mark.slow
@pytest.mark.realdata
def test_topn_quick_tunes_every_peer_on_validation(movielens_home):
    out = run_script(
        "topn.py",
        "--rows",
        "baselines,tuned",
        "--no-cornac",
        "--json",
        "--data-home",
        str(movielens_home),
        timeout=900,
    )
    result = json.loads(out)
    rows = {r["model"]: r for r in result["results"]}
    tuned = [r for name, r in rows.items() if name.endswith(", tuned") and "skipped" not in r]
    names = {r["model"] for r in tuned}
    assert {"EASE, tuned", "EDLAE, tuned", "item kNN (cosine), tuned", "RP3beta, tuned"} <= names
    for row in tuned:
        # The choice is the grid point with the best validation NDCG, and the grid was
        # scored on validation (never test): its figures are not the test figure.
        best = max(row["grid"], key=lambda g: g["validation_ndcg"])
        assert row["chosen"] == best["params"]
        assert row["validation_ndcg"] == best["validation_ndcg"]
        assert 0.0 < row["ndcg@10"] <= 1.0 and row["fit_seconds"] >= 0.0
    ease = rows["EASE, tuned"]
    assert {g["params"]["input"] for g in ease["grid"]} == {"binary", "liked", "rating"}
    edlae = rows["EDLAE, tuned"]
    assert {g["params"]["input"] for g in edlae["grid"]} == {"binary", "rating"}
    assert len({g["params"]["dropout"] for g in edlae["grid"]}) > 1
    for name in ("iALS, tuned", "Mult-VAE (Cornac VAECF), tuned"):
        if name in rows and "skipped" in rows[name]:
            assert "pip install" in rows[name]["skipped"]
    assert "MostPopular" in rows and "autorec default (hybrid ranking)" not in rows
