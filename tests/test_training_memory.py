"""What keeps a fit's memory down without changing what it learns: the optimizer
stepping each weight during backward, the best-weights copy (in place, or in a
temporary file), and the exposure weights kept and saved at float16 precision."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open

import autorec._training as training
from autorec import AutoEncoderRecommender
from autorec._fitting import half_precision, round_tables
from autorec._network import AutoEncoderNet
from autorec._optim import FusedAdam, StepInBackward, make_optimizer
from autorec._serialization import HALF_TABLE_ELEMENTS, _half_if_exact
from autorec.datasets import make_ratings

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _net(seed: int = 0) -> AutoEncoderNet:
    generator = torch.Generator().manual_seed(seed)
    return AutoEncoderNet(40, [8], residual=True, generator=generator)


def _loss(net: AutoEncoderNet, step: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(step)
    columns = torch.randint(0, 40, (30,), generator=gen)
    offsets = torch.tensor([0, 10, 20])
    values = torch.randint(1, 6, (30,), generator=gen).float()
    rows = torch.repeat_interleave(torch.arange(3), 10)
    code = net.encode(columns, offsets, values)
    return ((net.decode_at(code, rows, columns) - values) ** 2).mean()


@pytest.mark.parametrize("name", ["adam", "adamw", "rmsprop", "sgd"])
def test_step_in_backward_gives_the_updates_of_one_optimizer(name):
    a, b = _net(), _net()
    one = make_optimizer(a, name, 1e-2, 1e-3)
    each = StepInBackward(b, name, 1e-2, 1e-3)
    for step in range(4):
        for group in [*one.param_groups, *each.param_groups]:
            group["lr"] = 1e-2 / (step + 1)  # a schedule reaches every group
        one.zero_grad(set_to_none=True)
        _loss(a, step).backward()
        one.step()
        _loss(b, step).backward()  # b's step happens inside backward
        assert all(p.grad is None for p in b.parameters())  # freed as it goes
    each.close()
    for (name_a, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb), name_a
    before = [p.detach().clone() for p in b.parameters()]
    _loss(b, 9).backward()  # hooks removed: no more steps
    assert all(torch.equal(x, p) for x, p in zip(before, b.parameters(), strict=True))


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_fused_adam_gives_torch_optims_updates_bit_for_bit(name):
    a, b = _net(), _net()
    torch_class = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    groups = lambda net: [  # noqa: E731 - two groups, as make_optimizer builds them
        {"params": net.weight_parameters(), "weight_decay": 1e-2},
        {"params": net.bias_parameters(), "weight_decay": 0.0},
    ]
    theirs = torch_class(groups(a), lr=1e-2, fused=True)
    ours = make_optimizer(b, name, 1e-2, 1e-2)
    assert isinstance(ours, FusedAdam)
    for step in range(5):
        for group in [*theirs.param_groups, *ours.param_groups]:
            group["lr"] = 1e-2 / (step + 1)
        for net, optimizer in ((a, theirs), (b, ours)):
            optimizer.zero_grad(set_to_none=True)
            _loss(net, step).backward()
            if step == 2:  # a parameter without a gradient is left alone, as torch does
                next(net.parameters()).grad = None
            optimizer.step()
    for (key, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb), key
        assert not torch.equal(pa, _net().state_dict()[key]), key  # it did train
    ours.zero_grad(set_to_none=False)
    assert all(p.grad is None or not p.grad.any() for p in b.parameters())


def test_fused_adam_only_where_the_kernel_runs():
    net = _net()
    assert FusedAdam.supports([{"params": list(net.parameters())}])
    half = [torch.zeros(3), torch.zeros(3, dtype=torch.float64)]  # two dtypes
    assert not FusedAdam.supports([{"params": half}])
    assert not isinstance(make_optimizer(net, "rmsprop", 1e-2, 0.0), FusedAdam)


def test_a_fit_does_not_import_torch_dynamo():
    """torch.optim's wrapper imports torch._dynamo on its first step (over a second):
    a fit with the default optimizer never pays it."""
    code = (
        "import sys\n"
        "from autorec import AutoEncoderRecommender\n"
        "from autorec.datasets import make_ratings\n"
        "AutoEncoderRecommender(epochs=2, random_state=0).fit(make_ratings(60, 40, 600,"
        " random_state=0))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr


@pytest.mark.parametrize("spill_bytes", [0, 1 << 30])
def test_best_weights_restore_the_saved_epoch_exactly(spill_bytes):
    net, best = _net(), training.BestWeights(spill_bytes)
    with torch.no_grad():
        best.save(net)
        first = {k: v.clone() for k, v in net.state_dict().items()}
        for p in net.parameters():
            p.add_(1.0)
        best.save(net)  # overwrites the first copy
        second = {k: v.clone() for k, v in net.state_dict().items()}
        for p in net.parameters():
            p.mul_(3.0)
    assert (best.file is not None) == (spill_bytes == 0)
    assert best.saved
    best.restore(net)
    for key, value in net.state_dict().items():
        assert torch.equal(value, second[key]), key
        assert not torch.equal(value, first[key]) or key in ("row_shrink", "input_shift")
    best.close()
    assert best.file is None


def test_a_fit_whose_best_copy_goes_to_a_file_learns_the_same(monkeypatch):
    ratings = make_ratings(300, 80, 4000, random_state=0)
    params = {"random_state": 0, "epochs": 6, "ranking": "rating", "kind": "user"}
    in_memory = AutoEncoderRecommender(**params).fit(ratings)
    monkeypatch.setattr(training, "SPILL_BYTES", 0)
    spilled = AutoEncoderRecommender(**params).fit(ratings)
    assert in_memory.best_epoch_ == spilled.best_epoch_
    np.testing.assert_array_equal(in_memory.predict(ratings), spilled.predict(ratings))


def test_half_precision_rounds_to_float16_values_unless_out_of_range():
    weights = np.array([[0.1, -3e-5], [1.0 / 3.0, 0.0]], dtype=np.float32)
    before = weights.copy()
    rounded = half_precision(weights)
    assert rounded.dtype == np.float32
    np.testing.assert_array_equal(rounded, before.astype(np.float16).astype(np.float32))
    assert not np.array_equal(rounded, before)
    assert np.shares_memory(rounded, weights)  # in place: no second array
    # anything else is rounded into a new float32 array, the input left as it was
    as_float64 = before.astype(np.float64)
    np.testing.assert_array_equal(half_precision(as_float64), rounded)
    np.testing.assert_array_equal(as_float64, before)
    big = np.array([1e6, 0.5], dtype=np.float32)
    assert half_precision(big) is big
    assert _half_if_exact(rounded).dtype == np.float16
    assert _half_if_exact(before).dtype == np.float32  # never a lossy write


def test_saved_exposure_weights_are_float16_and_load_as_the_fitted_float32(tmp_path):
    ratings = make_ratings(300, 80, 4000, random_state=0)
    model = AutoEncoderRecommender(random_state=0, epochs=2).fit(ratings)
    path = model.save(tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        assert handle.get_tensor("exposure_weights_").dtype == torch.float16
        assert handle.get_tensor("utility_.indices").dtype == torch.int32
    loaded = AutoEncoderRecommender.load(path)
    assert loaded.exposure_weights_.dtype == np.float32
    np.testing.assert_array_equal(loaded.exposure_weights_, model.exposure_weights_)
    users = ratings["user_id"].unique()[:20]
    pd.testing.assert_frame_equal(loaded.recommend(users, k=5), model.recommend(users, k=5))


def test_a_networks_tables_are_rounded_saved_as_float16_and_load_as_fitted(tmp_path):
    # Tables (at least HALF_TABLE_ELEMENTS weights) hold float16 values after fit and are
    # stored as float16; biases keep float32 values; the loaded model predicts the same.
    ratings = make_ratings(300, 80, 4000, random_state=0)
    params = dict(random_state=0, epochs=2, kind="item", hidden_layers=(256,))
    model = AutoEncoderRecommender(**params).fit(ratings)
    tables = {
        name
        for name, weight in model.module_.named_parameters()
        if weight.numel() >= HALF_TABLE_ELEMENTS
    }
    assert {"input_weight", "output_weight"} <= tables
    path = model.save(tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        for name, weight in model.module_.named_parameters():
            stored = handle.get_tensor(f"module_.{name}")
            assert stored.dtype == (torch.float16 if name in tables else torch.float32), name
            if name in tables:  # the fitted weights are float16 values already
                assert torch.equal(weight.detach().to(torch.float16).float(), weight.detach())
    loaded = AutoEncoderRecommender.load(path)
    for name, weight in loaded.module_.named_parameters():
        assert weight.dtype == torch.float32
        assert torch.equal(weight, dict(model.module_.named_parameters())[name]), name
    np.testing.assert_array_equal(loaded.predict(ratings), model.predict(ratings))
    # a table beyond float16's range is left as trained (and stored as float32)
    big = torch.nn.Linear(300, 300)
    with torch.no_grad():
        big.weight[0, 0] = 1e6
        before = big.weight.detach().clone()
    round_tables(big)
    assert torch.equal(big.weight.detach(), before)


def _with_a_zero_rating() -> pd.DataFrame:
    ratings = make_ratings(n_users=60, n_items=40, n_ratings=900, random_state=3)
    ratings["rating"] = ratings["rating"].astype(np.float32)
    ratings.loc[5, "rating"] = 0.0  # stored explicitly, as any other rating
    return ratings


@pytest.mark.parametrize("how", ["carved", "given", "none"])
def test_an_item_model_sets_its_users_x_items_matrix_aside_and_rebuilds_it_exactly(
    how, monkeypatch
):
    # Training an item model holds the users x items matrix nowhere (it is rebuilt from
    # the item rows and the validation cells after training); the rebuilt matrix is
    # the one prepare built, bit for bit, explicit zero rating included.
    import autorec._fitting as fitting
    from autorec._prepare import prepare

    ratings = _with_a_zero_rating()
    expected = prepare(ratings, (0.0, 5.0)).matrix
    seen = []
    real_train = fitting.train

    def train(module, rows, val, config, generator):
        seen.append(fitting_data[0].utility.matrix)
        return real_train(module, rows, val, config, generator)

    fitting_data = []
    real_prepare = fitting.prepare

    def prepare_and_keep(*args, **kwargs):
        fitting_data.append(real_prepare(*args, **kwargs))
        return fitting_data[-1]

    monkeypatch.setattr(fitting, "train", train)
    monkeypatch.setattr(fitting, "prepare", prepare_and_keep)
    params = {"validation_fraction": 0.0} if how == "none" else {}
    model = AutoEncoderRecommender(
        kind="item", epochs=2, rating_scale=(0, 5), ranking="rating", random_state=0, **params
    )
    validation = ratings.iloc[::7][["user_id", "item_id"]] if how == "given" else None
    model.fit(ratings, validation=validation)
    assert seen == [None]
    got = model.utility_
    assert got.dtype == np.float32 and got.has_sorted_indices
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    np.testing.assert_array_equal(got.data, expected.data)
    assert got.nnz == len(ratings) and (got.data == 0).sum() == 1


class _Switch:
    """Stands in for NumPy's huge-page switch: records each call, returns the last flag."""

    def __init__(self) -> None:
        self.flag = True
        self.calls: list[bool] = []

    def __call__(self, enabled: bool) -> bool:
        before, self.flag = self.flag, enabled
        self.calls.append(enabled)
        return before


def test_numpy_has_the_huge_page_switch_ordinary_pages_uses():
    from autorec._pages import _switch

    switch = _switch()
    assert switch is not None
    before = switch(False)
    assert switch(before) is False  # it sets and returns the previous flag


def test_ordinary_pages_turns_huge_pages_off_in_nested_blocks_and_restores_them(monkeypatch):
    import autorec._pages as pages

    fake = _Switch()
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    monkeypatch.setattr(pages, "_switch", lambda: fake)
    with pytest.raises(RuntimeError), pages.ordinary_pages():
        assert fake.flag is False
        with pages.ordinary_pages():
            assert fake.flag is False
        assert fake.flag is False  # the inner block's end does not restore
        raise RuntimeError
    assert fake.flag is True and fake.calls == [False, True]
    fake.flag = False  # a user who turned them off keeps them off
    with pages.ordinary_pages():
        pass
    assert fake.flag is False
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")  # NumPy's own switch is the user's
    fake.flag, fake.calls = True, []
    with pages.ordinary_pages():
        assert fake.flag is True
    assert fake.calls == []


@pytest.mark.parametrize("what", ["autoencoder", "ease"])
def test_a_fit_runs_on_ordinary_pages_and_restores_numpys_setting(what, monkeypatch):
    import autorec._exposure as exposure
    import autorec._fitting as fitting
    import autorec._pages as pages
    from autorec.baselines import EASE

    fake = _Switch()
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    monkeypatch.setattr(pages, "_switch", lambda: fake)
    flags = []
    if what == "autoencoder":
        real = fitting.train
        monkeypatch.setattr(fitting, "train", lambda *a: (flags.append(fake.flag), real(*a))[1])
        model = AutoEncoderRecommender(epochs=2, random_state=0)
    else:
        real = exposure.ease_weights
        monkeypatch.setattr(
            exposure, "ease_weights", lambda *a, **k: (flags.append(fake.flag), real(*a, **k))[1]
        )
        model = EASE(l2=50.0)
    model.fit(make_ratings(n_users=60, n_items=40, n_ratings=900, random_state=3))
    assert flags and not any(flags)
    assert fake.flag is True and fake.calls == [False, True]


def test_predicting_recommending_and_evaluating_run_on_ordinary_pages(monkeypatch):
    import autorec._pages as pages
    from autorec import BlendRecommender
    from autorec.evaluation import evaluate_ranking

    ratings = make_ratings(n_users=60, n_items=40, n_ratings=900, random_state=3)
    test, ratings = ratings.iloc[::5], ratings.drop(ratings.index[::5])
    model = AutoEncoderRecommender(epochs=2, random_state=0).fit(ratings)
    blend = BlendRecommender(
        [AutoEncoderRecommender(epochs=1, random_state=0, ranking="rating")] * 2, weights=None
    ).fit(ratings)
    fake = _Switch()
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    monkeypatch.setattr(pages, "_switch", lambda: fake)
    calls = [
        lambda: model.predict_matrix(),
        lambda: model.recommend(ratings["user_id"].iloc[:5].tolist(), k=3),
        lambda: evaluate_ranking(model, ratings, test),
        lambda: blend.predict_matrix(),
    ]
    for call in calls:
        fake.calls = []
        call()
        assert fake.calls[0] is False and fake.calls[-1] is True and fake.flag is True
