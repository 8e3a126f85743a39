"""Where the default fit's time goes, on MovieLens-1M (standard split, training part).

Two views of one configuration, in one process:

* a wall-clock breakdown of a whole fit by phase (data preparation, batch cutting,
  encode, decode, backward, optimizer step, the rest of the training step: loss and
  divergence check, validation, early-stopping copies, the fold-in penalty, the ranking
  part and its pieces), measured by timing the library functions that make up each
  phase (when one phase runs inside another, the outer one gets the time);
* a ``torch.profiler`` table of the operators that take the most CPU time, over a few
  epochs of the same network with ``ranking="rating"`` (the training loop only).

Usage::

    python benchmarks/profile_fit.py                 # whole default fit + 3-epoch op table
    python benchmarks/profile_fit.py --epochs 5      # a capped fit (faster)
    python benchmarks/profile_fit.py --quick         # 300 users, 1 epoch (CI; not representative)
    python benchmarks/profile_fit.py --json
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import _common
import torch
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

import autorec._fitting
import autorec._hybrid
import autorec._network
import autorec._optim
import autorec._sparse
import autorec._training
from autorec.evaluation import split

#: (label, module, attribute): the library functions whose time makes each phase. A
#: function called inside another's phase counts to that phase, except those of ``OWN``.
PHASES: list[tuple[str, Any, str]] = [
    ("data preparation (validate, CSR)", autorec._fitting, "prepare"),
    ("validation slice carved", autorec._fitting, "carve_validation"),
    ("batches cut (SparseRows.batch)", autorec._sparse.SparseRows, "batch"),
    ("encode (first layer, hidden)", autorec._network.AutoEncoderNet, "encode_masked"),
    ("decode at rated cells", autorec._network.AutoEncoderNet, "decode_at"),
    ("backward", torch.Tensor, "backward"),
    ("optimizer zero_grad", torch.optim.Optimizer, "zero_grad"),
    ("optimizer zero_grad", autorec._optim.FusedAdam, "zero_grad"),
    ("optimizer step", autorec._optim.FusedAdam, "step"),  # torch's optimizers: hooks below
    ("validation RMSE per epoch", autorec._training, "validation_rmse"),
    ("early-stopping copies", autorec._training.BestWeights, "save"),
    ("best weights restored", autorec._training.BestWeights, "restore"),
    ("codes of every row (fold-in, ranking)", autorec._fitting, "encode_rows"),
    ("fold-in penalty (item rows)", autorec._fitting, "choose_l2"),
    ("ranking: rating rows of validation users", autorec._fitting, "fit_input_rows"),
    ("ranking: exposure models (EASE)", autorec._hybrid, "fit_exposure"),
    ("ranking: exposure models (EASE)", autorec._hybrid, "cooccurrence"),
    ("ranking: exposure models (EASE)", autorec._hybrid, "final_exposure"),
    ("ranking: weight search", autorec._hybrid, "search_weights"),
    ("ranking: rest", autorec._fitting, "fit_ranking"),
]
#: Phases timed on their own even inside another (their time leaves the outer one's).
OWN = {
    "optimizer step",  # each weight's step runs inside backward (StepInBackward)
    "ranking: rating rows of validation users",
    "ranking: exposure models (EASE)",
    "ranking: weight search",
}
OPTIMIZER_STEP = "optimizer step"
REST_OF_STEP = "rest of the training loop (loss, checks)"
OUTSIDE = "rest of fit (module, codes, bookkeeping)"


class PhaseClock:
    """Wall-clock seconds per phase: a phase entered inside another counts to the outer
    one, unless it is one of ``OWN`` (then its time moves from the outer one to it)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[str] = []

    @contextlib.contextmanager
    def phase(self, label: str) -> Iterator[None]:
        if self._stack and label not in OWN:
            yield
            return
        self._stack.append(label)
        _sync()
        tick = time.perf_counter()
        try:
            yield
        finally:
            _sync()
            spent = time.perf_counter() - tick
            self._stack.pop()
            self.seconds[label] += spent
            self.calls[label] += 1
            if self._stack:
                self.seconds[self._stack[-1]] -= spent

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(label):
                return function(*args, **kwargs)

        return timed


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


@contextlib.contextmanager
def timed_phases(clock: PhaseClock) -> Iterator[None]:
    """Every function of ``PHASES`` (and the optimizer's step) timed into ``clock``."""
    saved = [(owner, name, getattr(owner, name)) for _, owner, name in PHASES]
    pending: list[contextlib.AbstractContextManager[None]] = []

    def before(*_: Any) -> None:
        context = clock.phase(OPTIMIZER_STEP)
        context.__enter__()
        pending.append(context)

    def after(*_: Any) -> None:
        pending.pop().__exit__(None, None, None)

    hooks = [
        register_optimizer_step_pre_hook(before),
        register_optimizer_step_post_hook(after),
    ]
    try:
        for label, owner, name in PHASES:
            setattr(owner, name, clock.wrap(label, getattr(owner, name)))
        yield
    finally:
        for owner, name, function in saved:
            setattr(owner, name, function)
        for hook in hooks:
            hook.remove()


def breakdown(model: Any, clock: PhaseClock) -> list[dict[str, Any]]:
    """Rows (phase, seconds, share of the fit, calls), the remainders included."""
    fit = model.fit_seconds_
    loop = sum(model.history_["seconds"])
    inside = {
        "batches cut (SparseRows.batch)",
        "encode (first layer, hidden)",
        "decode at rated cells",
        "backward",
        "optimizer zero_grad",
        OPTIMIZER_STEP,
        "validation RMSE per epoch",
    }
    seconds = dict(clock.seconds)
    # The loop's own time (history_["seconds"]) holds the training steps and validation.
    seconds[REST_OF_STEP] = max(loop - sum(v for k, v in seconds.items() if k in inside), 0.0)
    seconds[OUTSIDE] = max(fit - sum(seconds.values()), 0.0)
    order = list(dict.fromkeys(label for label, _, _ in PHASES))
    order.remove(OPTIMIZER_STEP)  # placed below, after zero_grad
    order.insert(order.index("optimizer zero_grad") + 1, OPTIMIZER_STEP)
    order.insert(order.index(OPTIMIZER_STEP) + 1, REST_OF_STEP)
    order.append(OUTSIDE)
    return [
        {
            "phase": label,
            "seconds": seconds.get(label, 0.0),
            "share_pct": 100 * seconds.get(label, 0.0) / fit,
            "calls": clock.calls.get(label, 0),
        }
        for label in order
        if seconds.get(label, 0.0) > 0 or clock.calls.get(label, 0)
    ]


def op_table(train: Any, seed: int, epochs: int, top: int) -> dict[str, Any]:
    """``torch.profiler`` over a ``ranking="rating"`` fit of ``epochs`` epochs."""
    model = _common.default_model(seed, ranking="rating", epochs=epochs)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        model.fit(train)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    rows = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return {
        "epochs": len(model.history_["seconds"]),
        "fit_seconds": model.fit_seconds_,
        "self_cpu_seconds": total / 1e6,
        "ops": [
            {
                "op": e.key,
                "self_cpu_seconds": e.self_cpu_time_total / 1e6,
                "share_pct": 100 * e.self_cpu_time_total / total,
                "calls": e.count,
            }
            for e in rows
        ],
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-home",
        help="folder holding ml-1m/ (default: $AUTOREC_DATA_HOME, else ../shared/data)",
    )
    parser.add_argument("--users", type=int, default=None, help="only the first N user ids")
    parser.add_argument(
        "--epochs", type=int, default=None, help="cap the timed fit's epochs (default: none)"
    )
    parser.add_argument(
        "--profile-epochs", type=int, default=3, help="epochs under torch.profiler (default: 3)"
    )
    parser.add_argument("--top", type=int, default=15, help="operators listed (default: 15)")
    parser.add_argument("--seed", type=int, default=0, help="random state of split and model")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: the usable cores)"
    )
    parser.add_argument("--quick", action="store_true", help="CI setting: 300 users, 1 epoch each")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args(argv)
    if args.quick:
        args.users = args.users or 300
        args.epochs = args.epochs or 1
        args.profile_epochs = 1
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    home = _common.data_home(args.data_home)
    ratings = _common.load_ratings(home, args.users)
    train, _ = split(ratings, "standard", random_state=args.seed)
    log(f"standard split, random_state={args.seed}: {len(train):,} training ratings")
    overrides = {} if args.epochs is None else {"epochs": args.epochs}
    clock = PhaseClock()
    with timed_phases(clock):
        model = _common.default_model(args.seed, **overrides).fit(train)
    log(f"default fit: {model.fit_seconds_:.1f}s, {len(model.history_['seconds'])} epochs")
    rows = breakdown(model, clock)
    log(f"torch.profiler: {args.profile_epochs} epoch(s), ranking='rating' ...")
    ops = op_table(train, args.seed, args.profile_epochs, args.top)
    return {
        "n_train": len(train),
        "fit_seconds": model.fit_seconds_,
        "epochs_run": len(model.history_["seconds"]),
        "best_epoch": model.best_epoch_,
        "epoch_seconds": sum(model.history_["seconds"]) / len(model.history_["seconds"]),
        "phases": rows,
        "profile": ops,
    }


def render(r: dict[str, Any], markdown: bool) -> str:
    phases = _common.table(
        ["Phase", "seconds", "% of fit", "calls"],
        [
            [p["phase"], f"{p['seconds']:.2f}", f"{p['share_pct']:.1f}", str(p["calls"] or "")]
            for p in r["phases"]
        ],
        markdown=markdown,
    )
    prof = r["profile"]
    ops = _common.table(
        ["Operator (self CPU)", "seconds", "% of CPU", "calls"],
        [
            [o["op"], f"{o['self_cpu_seconds']:.2f}", f"{o['share_pct']:.1f}", str(o["calls"])]
            for o in prof["ops"]
        ],
        markdown=markdown,
    )
    return "\n".join(
        [
            _common.heading(
                f"Wall clock by phase: one default fit, {r['fit_seconds']:.1f} s, "
                f"{r['epochs_run']} epochs (best {r['best_epoch']}), "
                f"{r['epoch_seconds']:.2f} s an epoch",
                markdown=markdown,
            ),
            "",
            phases,
            "",
            _common.heading(
                f"torch.profiler: {prof['epochs']} epoch(s), ranking='rating', "
                f"{prof['self_cpu_seconds']:.1f} s of CPU",
                markdown=markdown,
            ),
            "",
            ops,
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=r".*not seen in fit", category=UserWarning)
    threads = _common.set_threads(args.threads)
    if note := _common.busy_note(threads):
        log(note)
    log(f"torch threads: {threads}")
    result = measure(args)
    info = _common.machine_info()
    if args.json:
        print(_common.dump_json({**result, "settings": vars(args), "machine": info}))
        return 0
    quick = " [--quick: NOT representative]" if args.quick else ""
    lines = [
        _common.heading(f"Profile of the default fit, MovieLens-1M standard split{quick}"),
        "",
        render(result, args.markdown),
        "",
        "Machine:",
    ]
    bullet = "- " if args.markdown else "  "
    lines += [bullet + line for line in _common.machine_lines(info) if line]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
