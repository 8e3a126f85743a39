"""The training loop of the autoencoders and its small, separately testable pieces.

The loop (:func:`train`) runs epochs of minibatches and asks four helpers what to do
after each epoch, in the spirit of skorch's callbacks:

* :class:`DivergenceGuard`: a loss that is NaN, infinite, or has exploded far above
  where it started (a training loss 100 times its first value, a validation RMSE 1.5
  times that of the untrained network) stops training (an error before the first good
  epoch, a warning and the best weights after it);
* :class:`LearningRateDecay` (``lr_schedule="plateau"``): multiplies the learning rate
  by a factor once the validation score has stalled for two epochs, then after every
  further stalled epoch;
* :class:`OneCycle` (``lr_schedule="one-cycle"``): sets the learning rate before every
  step (a warm-up, then a cosine decay to 0 over the ``epochs``), and validates the
  second half of the epochs only;
* :class:`EarlyStopping`: remembers the best epoch and says when to stop;
* :class:`BestWeights`: keeps a copy of the best epoch's weights and restores them.
"""

from __future__ import annotations

import copy
import logging
import math
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import autonotebook
from tqdm import tqdm as std_tqdm
from tqdm.auto import tqdm

from ._network import AutoEncoderNet, predict_cells
from ._optim import StepInBackward, make_optimizer
from ._sparse import SparseRows
from ._sparse_ops import by_column
from .exceptions import TrainingDivergedError

__all__ = [
    "BestWeights",
    "DivergenceGuard",
    "EarlyStopping",
    "LearningRateDecay",
    "OneCycle",
    "StepInBackward",
    "TrainConfig",
    "make_optimizer",
    "train",
]

logger = logging.getLogger(__name__)

#: Early stopping and the learning-rate decay wait for this many optimizer steps: with a
#: large batch over few rows (a dozen steps an epoch), the first epochs are noisy and a
#: residual network may need several of them to overtake its bias model.
WARMUP_STEPS = 100

#: A best-weights copy larger than this many bytes is kept in a temporary file
#: (:class:`BestWeights`); smaller ones (MovieLens-1M's default: 36 MB) stay in memory.
SPILL_BYTES = 1 << 28

#: Validation cells: (row codes, column codes, ratings).
Validation = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class TrainConfig:
    """What :func:`train` needs from the estimator's (validated) parameters."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    optimizer: str
    input_dropout: float
    patience: int
    lr_decay: float
    rating_scale: tuple[float, float]
    lr_schedule: str = "plateau"
    verbose: int = 0
    description: str = "fit autoencoder"


class EarlyStopping:
    """Track the best (lowest) score and stop after ``patience`` epochs without a better one.

    Without validation data every epoch counts as an improvement (the last one is kept).
    """

    def __init__(self, patience: int) -> None:
        self.patience = int(patience)
        self.best_score = math.inf
        self.best_epoch = 0

    def stalled_for(self, epoch: int) -> int:
        """Epochs since the best one."""
        return epoch - self.best_epoch

    def update(self, epoch: int, score: float) -> bool:
        """Record ``score`` of ``epoch``; True when it is the best so far."""
        if score < self.best_score:
            self.best_score, self.best_epoch = score, epoch
            return True
        return False

    def should_stop(self, epoch: int) -> bool:
        return self.stalled_for(epoch) >= self.patience


class LearningRateDecay:
    """Multiply every learning rate by ``factor`` when an epoch did not improve and the
    best epoch is at least two epochs back (like scikit-learn's ``"adaptive"``)."""

    def __init__(self, optimizer: Any, factor: float) -> None:
        self.optimizer = optimizer
        self.factor = float(factor)

    def step(self, score: float, stopping: EarlyStopping, epoch: int) -> None:
        """Call before ``stopping.update(epoch, score)``."""
        if score >= stopping.best_score and stopping.stalled_for(epoch) >= 2:
            for group in self.optimizer.param_groups:
                group["lr"] *= self.factor


class OneCycle:
    """Set the learning rate before every optimizer step: a linear warm-up from
    ``peak / 25`` to ``peak`` over the first ``warmup`` fraction of ``total`` steps, then
    a cosine decay to 0 at the last step (Smith's one-cycle policy)."""

    def __init__(self, optimizer: Any, peak: float, total: int, warmup: float = 0.3) -> None:
        self.optimizer = optimizer
        self.peak, self.total = float(peak), max(int(total), 1)
        self.warm = max(round(warmup * self.total), 1)
        self.done = 0

    def rate(self, step: int) -> float:
        """The learning rate of optimizer step ``step`` (0-based)."""
        if step < self.warm:
            return self.peak * (1 + 24 * step / self.warm) / 25
        progress = min((step - self.warm) / max(self.total - self.warm, 1), 1.0)
        return self.peak * 0.5 * (1 + math.cos(math.pi * progress))

    @staticmethod
    def validates(epoch: int, epochs: int) -> bool:
        """Whether ``epoch`` (of ``epochs``) is validated: those of the second half only,
        where the decaying rate makes each epoch a candidate for the best."""
        return epoch > epochs // 2

    def step(self) -> None:
        """Set the rate of the next optimizer step."""
        rate = self.rate(self.done)
        for group in self.optimizer.param_groups:
            group["lr"] = rate
        self.done += 1


class BestWeights:
    """A copy of the module's weights at its best epoch.

    The copy is made once and overwritten in place by later saves (a new copy beside
    the old would hold the weights three times over for a moment). A copy of more than
    ``spill_bytes`` of CPU tensors goes to an anonymous temporary file instead of memory
    (on the MovieLens-20M shape, 0.83 GB that the training's peak no longer holds; the
    file vanishes when closed), written from and read back into the tensors' own memory.
    """

    def __init__(self, spill_bytes: int | None = None) -> None:
        self.spill_bytes = SPILL_BYTES if spill_bytes is None else spill_bytes
        self.state: dict[str, torch.Tensor] | None = None
        self.file: Any = None

    def save(self, module: torch.nn.Module) -> None:
        current = module.state_dict()
        size = sum(t.numel() * t.element_size() for t in current.values())
        if self.file is not None or (
            size > self.spill_bytes and all(t.device.type == "cpu" for t in current.values())
        ):
            if self.file is None:
                self.file = tempfile.TemporaryFile()  # closed by close()
            self.file.seek(0)
            for tensor in current.values():
                self.file.write(_raw(tensor.contiguous()))
            self.file.flush()
            return
        if self.state is None:
            self.state = copy.deepcopy(current)
            return
        with torch.no_grad():
            for name, tensor in current.items():
                self.state[name].copy_(tensor)

    def restore(self, module: torch.nn.Module) -> None:
        if self.file is not None:
            self.file.seek(0)
            for tensor in module.state_dict().values():  # the module's own memory
                self.file.readinto(_raw(tensor))
            return
        if self.state is None:  # pragma: no cover - train() raises before this
            raise RuntimeError("no weights were saved")
        module.load_state_dict(self.state)

    @property
    def saved(self) -> bool:
        return self.state is not None or self.file is not None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _raw(tensor: torch.Tensor) -> np.ndarray:
    """The bytes of a contiguous CPU tensor, as a NumPy view of its memory."""
    return tensor.detach().reshape(-1).view(torch.uint8).numpy()


class DivergenceGuard:
    """Decide whether a loss means training has diverged.

    A loss diverges when it is NaN or infinite, or when it exceeds ``factor`` times the
    first loss seen (an exploding but finite loss, e.g. a huge learning rate that drives
    every output to the ends of the scale).
    """

    def __init__(self, factor: float = 100.0, validation_factor: float = 1.5) -> None:
        self.factor = float(factor)
        self.validation_factor = float(validation_factor)
        self.reference: float | None = None
        self.validation_reference: float | None = None

    def diverged(self, loss: float) -> bool:
        """True when a training batch's loss is not finite or exploded."""
        if not math.isfinite(loss):
            return True
        if self.reference is None:
            self.reference = max(loss, 1e-12)
            return False
        return loss > self.factor * self.reference

    def validation_diverged(self, rmse: float) -> bool:
        """True when the validation RMSE is not finite, or is ``validation_factor`` times
        that of the untrained network (which predicts about the mean rating): a step so
        large that every output sits at an end of the scale."""
        if not math.isfinite(rmse):
            return True
        return self.validation_reference is not None and rmse > (
            self.validation_factor * self.validation_reference
        )

    @staticmethod
    def fail(
        epoch: int,
        learning_rate: float,
        best_epoch: int | None,
        advice: str = "lower learning_rate",
    ) -> None:
        """Raise (no good epoch yet) or warn (the best weights are kept)."""
        what = "the loss became NaN, infinite or exploded"
        if best_epoch is None:
            raise TrainingDivergedError(
                f"training diverged in epoch {epoch}: {what} (learning_rate="
                f"{learning_rate!r}); {advice}"
            )
        warnings.warn(
            f"training diverged in epoch {epoch} ({what}, learning_rate={learning_rate!r}); "
            f"stopped and kept the weights of epoch {best_epoch}",
            RuntimeWarning,
            stacklevel=5,
        )


def divergence_advice(config: TrainConfig, refine_l2: float) -> str:
    """What most likely made training diverge: ratings on an extreme scale, a refinement
    step with almost no penalty, else the learning rate."""
    low, high = config.rating_scale
    span, size = high - low, max(abs(low), abs(high))
    if not (1e-2 <= span and size <= 1e4):
        return (
            f"the likely cause is the rating scale [{low:g}, {high:g}]: the network trains "
            "on ratings of ordinary size (about 1 to 100); rescale the ratings (e.g. to 1-5)"
        )
    if 0 < refine_l2 < 1e-4:
        return (
            f"the likely cause is refine_l2={refine_l2!r}, a refinement step with almost no "
            "penalty; use refine_l2='auto' (1.0) or at least 1e-2"
        )
    return "lower learning_rate"


def _run_epoch(
    module: AutoEncoderNet,
    rows: SparseRows,
    optimizer: StepInBackward,
    config: TrainConfig,
    generator: torch.Generator,
    guard: DivergenceGuard,
    cycle: OneCycle | None = None,
) -> float:
    """One pass over the rows in random order; the training RMSE (NaN if it diverged)."""
    module.train()
    device = rows.device
    keep = 1.0 - config.input_dropout
    order = torch.randperm(rows.shape[0], generator=generator).to(device)
    total, count = 0.0, 0
    for start in range(0, rows.shape[0], config.batch_size):
        b = rows.batch(order[start : start + config.batch_size])
        if b.values.numel() == 0:
            continue
        mask = None
        if keep < 1.0:  # denoising: hide some ratings from the input, not from the loss
            mask = torch.rand(b.values.shape, generator=generator).to(device) < keep
            mask = mask.to(b.values.dtype)
        # The cells by column, sorted once for the step's three weight gradients.
        cells = by_column(b.columns, b.rows, module.n_columns)
        code = module.encode_masked(b.columns, b.offsets, b.values, mask, keep, cells)
        pred = module.decode_at(code, b.rows, b.columns, cells)
        loss = torch.mean((pred - b.values) ** 2)
        if guard.diverged(float(loss.detach())):
            return math.nan
        if cycle is not None:
            cycle.step()  # the rate of this step
        loss.backward()  # steps each weight as its gradient is done (StepInBackward)
        total += loss.item() * b.values.numel()
        count += b.values.numel()
    return math.sqrt(total / count) if count else math.nan


def validation_rmse(
    module: AutoEncoderNet, rows: SparseRows, val: Validation, scale: tuple[float, float]
) -> float:
    """RMSE of the clipped outputs at the validation cells, inputs from ``rows``."""
    module.eval()
    pred = predict_cells(module, rows, val[0], val[1])
    return float(np.sqrt(np.mean((np.clip(pred, *scale).astype(np.float64) - val[2]) ** 2)))


class _Lines:
    """A stream for a tqdm bar written to a file or pipe (a log): one line per update
    instead of carriage returns, so the log shows each epoch."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def _progress(config: TrainConfig) -> Any:
    """A tqdm bar over epochs with ``verbose >= 1``: on a terminal, in a notebook (a
    widget, through ``tqdm.auto``), and in a log (stderr a file or pipe: a line an
    epoch). Each epoch is logged at INFO too."""
    notebook = autonotebook.tqdm is not std_tqdm  # tqdm.auto shows a notebook widget
    terminal = bool(getattr(sys.stderr, "isatty", lambda: False)())
    log = not (notebook or terminal)
    return tqdm(
        total=config.epochs,
        desc=config.description,
        unit="epoch",
        disable=not config.verbose,
        leave=config.verbose > 1 or log,
        file=_Lines(sys.stderr) if log else None,
        mininterval=0 if log else 0.1,
        miniters=1,
    )


def train(
    module: AutoEncoderNet,
    rows: SparseRows,
    val: Validation | None,
    config: TrainConfig,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Train ``module`` on ``rows``, early-stopping on ``val``; return the history.

    The module ends with the weights of the best epoch (the last one without ``val``).
    A residual network's untrained state (its bias model) is epoch 0 and competes too: on
    data too sparse for the network to add anything, the bias model is what is kept. It
    competes only for being kept: patience and the learning-rate decay count from the
    best trained epoch, and start after ``WARMUP_STEPS`` optimizer steps, so a network
    that needs a few epochs to overtake its bias model (large batches, few steps an
    epoch) is not stopped before it has trained.
    """
    optimizer = StepInBackward(module, config.optimizer, config.learning_rate, config.weight_decay)
    best = BestWeights()
    try:
        return _train(module, rows, val, config, generator, optimizer, best)
    finally:  # the hooks off the weights, the best-weights file deleted
        optimizer.close()
        best.close()


def _train(
    module: AutoEncoderNet,
    rows: SparseRows,
    val: Validation | None,
    config: TrainConfig,
    generator: torch.Generator,
    optimizer: StepInBackward,
    best: BestWeights,
) -> dict[str, Any]:
    decay = LearningRateDecay(optimizer, config.lr_decay)
    stopping, guard = EarlyStopping(config.patience), DivergenceGuard()
    history: dict[str, Any] = {"train_rmse": [], "val_rmse": [], "seconds": []}
    kept_score, kept_epoch = math.inf, 0  # the weights ``best`` holds, and their score
    if val is not None:
        guard.validation_reference = validation_rmse(module, rows, val, config.rating_scale)
        history["val_reference"] = guard.validation_reference
        if module.residual:  # the untrained network is the bias model: a candidate too
            kept_score, kept_epoch = guard.validation_reference, 0
            best.save(module)
    bar = _progress(config)
    steps = max(1, math.ceil(rows.shape[0] / config.batch_size))
    cycle = None
    if config.lr_schedule == "one-cycle":
        cycle = OneCycle(optimizer, config.learning_rate, steps * config.epochs)
    warmup = math.ceil(WARMUP_STEPS / steps)  # epochs
    for epoch in range(1, config.epochs + 1):
        tick = time.perf_counter()
        train_rmse = _run_epoch(module, rows, optimizer, config, generator, guard, cycle)
        checked = val is not None and math.isfinite(train_rmse)
        checked = checked and (cycle is None or cycle.validates(epoch, config.epochs))
        val_rmse = validation_rmse(module, rows, val, config.rating_scale) if checked else math.nan
        seconds = time.perf_counter() - tick
        for key, value in (("train_rmse", train_rmse), ("val_rmse", val_rmse)):
            history[key].append(value)
        history["seconds"].append(seconds)
        bar.set_postfix(train_rmse=f"{train_rmse:.4f}", val_rmse=f"{val_rmse:.4f}", refresh=False)
        bar.update(1)
        if not math.isfinite(train_rmse) or (checked and guard.validation_diverged(val_rmse)):
            held = kept_epoch if best.saved and epoch > 1 else None
            advice = divergence_advice(config, module.refine_l2)
            DivergenceGuard.fail(epoch, config.learning_rate, held, advice)
            break
        if val is not None and not checked:  # one-cycle: the first half is not validated
            logger.info("epoch %d: train RMSE %.4f (%.2fs)", epoch, train_rmse, seconds)
            continue
        score = val_rmse if val is not None else -epoch
        if epoch > warmup and cycle is None:
            decay.step(score, stopping, epoch)
        stopping.update(epoch, score)
        if score < kept_score:
            kept_score, kept_epoch = score, epoch
            best.save(module)
        logger.info(
            "epoch %d: train RMSE %.4f, validation RMSE %.4f (%.2fs)",
            epoch,
            train_rmse,
            val_rmse,
            seconds,
        )
        if val is not None and epoch >= warmup and stopping.should_stop(epoch):
            logger.info("early stopping after epoch %d; best epoch %d", epoch, kept_epoch)
            break
    bar.total = bar.n  # stopped early (or diverged): the bar ends where training did
    if not bar.leave:  # shown full before it is cleared (a kept bar shows it on close)
        bar.refresh()
    bar.close()
    best.restore(module)
    history["best_epoch"] = kept_epoch
    return history
