"""Checks of what a fit runs with: the random state and the device (re-exported by
``autorec._validation``, the one vocabulary of checks)."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["check_random_state", "resolve_device", "seed_from"]


def _py(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


#: Largest seed accepted from an int ``random_state`` (numpy and torch both take 64 bits,
#: but torch's manual_seed takes signed 64-bit values only).
_MAX_SEED = 2**63 - 1


def check_random_state(random_state: Any) -> None:
    """Raise unless ``random_state`` is None, an int in [0, 2**63), or a NumPy Generator or
    RandomState."""
    if random_state is None or isinstance(
        random_state, np.random.Generator | np.random.RandomState
    ):
        return
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool | np.bool_):
        if not 0 <= int(random_state) <= _MAX_SEED:
            raise ValueError(
                f"random_state must be an int in [0, 2**63 - 1], got {_py(random_state)!r}"
            )
        return
    raise TypeError(
        "random_state must be None, a non-negative int, or a numpy Generator / RandomState, "
        f"got {_py(random_state)!r}"
    )


def seed_from(random_state: Any) -> int:
    """An integer seed from None (fresh entropy), an int, or a NumPy Generator/RandomState."""
    check_random_state(random_state)
    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    return int(random_state)


def resolve_device(device: Any) -> torch.device:
    """The torch device for ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a
    :class:`torch.device`; a clear error for anything this machine cannot use."""
    import torch  # here, not at the top: the command line parses its options without torch

    if isinstance(device, str):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            resolved = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(
                f"device={device!r} is not a device torch knows; use 'auto', 'cpu', 'cuda' "
                "or 'cuda:N'"
            ) from exc
    elif isinstance(device, torch.device):
        resolved = device
    else:
        raise TypeError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device, got {device!r}"
        )
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was asked for but CUDA is not available on this machine; "
                "use 'auto' or 'cpu'"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    elif resolved.type != "cpu":
        raise ValueError(
            f"device={device!r} is not supported; use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        )
    return resolved
