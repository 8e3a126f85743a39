"""The named evaluation protocols and model configurations, without importing torch: the
command line builds its parser from these before it knows whether it will train anything.
:mod:`autorec.evaluation` re-exports them and does the work."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BLEND_PRESETS", "MODELS", "SPLITS", "ModelSpec", "SplitSpec"]

#: The presets blended by default (autorec's best configuration; the benchmarks page).
BLEND_PRESETS = ("default", "reference", "i-autorec-1000")


@dataclass(frozen=True)
class SplitSpec:
    """A named train/test protocol (arguments of :func:`autorec.datasets.train_test_split`)."""

    test_size: float
    by: str | None
    description: str


SPLITS: dict[str, SplitSpec] = {
    "standard": SplitSpec(
        0.25, "user", "25% of each user's ratings in test (750,121 / 250,088 on MovieLens-1M)"
    ),
    "random90": SplitSpec(0.1, None, "a random 90/10 split, as in the AutoRec papers"),
}
#: Other names the 90/10 split went by.
_SPLIT_ALIASES = {"random": "random90"}


@dataclass(frozen=True)
class ModelSpec:
    """A named model configuration: the presets it trains and what to call it."""

    presets: tuple[str, ...]
    title: str
    help: str


MODELS: dict[str, ModelSpec] = {
    "default": ModelSpec(
        ("default",),
        "residual autoencoder",
        "the library defaults: a residual I-AutoRec over a bias model (the CLI default)",
    ),
    "user": ModelSpec(
        ("reference",),
        "user-based autoencoder (the reference network)",
        "the reference study's 200-100-200 user network",
    ),
    "item": ModelSpec(
        ("i-autorec",), "item-based autoencoder", "the I-AutoRec preset (500 units, item-based)"
    ),
    "blend": ModelSpec(
        BLEND_PRESETS,
        "autoencoder blend",
        "the default, the reference network and a 1000-unit I-AutoRec, with weights "
        "learned on a held-out slice (the most accurate)",
    ),
}
