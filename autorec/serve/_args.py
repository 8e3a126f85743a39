"""The ``autorec serve`` command's options: importable with neither FastAPI nor torch, so
``autorec --help`` is fast and lists ``serve`` on a core install."""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path

__all__ = ["INSTALL_HINT", "add_arguments", "is_loopback"]

INSTALL_HINT = "pip install torch-autorec[serve]"
#: Hosts that only this machine can reach.
LOOPBACK_NAMES = ("localhost",)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to 256, got {text!r}")
    return value


def _token(text: str) -> str:
    if len(text) < 8 or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError("expected a token of at least 8 characters without spaces")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` subcommand's own options (the data options come from the CLI)."""
    parser.add_argument(
        "--model",
        type=Path,
        metavar="PATH",
        help="a model saved by `autorec evaluate --save PATH` or `model.save(PATH)`, of any "
        "--kind (else the default model is trained first: minutes on a CPU)",
    )
    parser.add_argument(
        "--save",
        type=Path,
        metavar="PATH",
        help="without --model: save the model trained first here (pass it as --model next time)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only; any other "
        "address lets others connect: there is no authentication unless --token)",
    )
    parser.add_argument(
        "--port", type=_port, default=8000, help="port to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--token",
        type=_token,
        default=None,
        help="require `Authorization: Bearer TOKEN` on every /api/ request (the page asks "
        "for it once, or reads it from the address: http://HOST:PORT/#token=TOKEN)",
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="server processes, forked after the model is loaded so they share its memory "
        "(POSIX only; default: %(default)s). Python runs on one core per process: two "
        "workers on two cores answer more requests at once",
    )
    parser.add_argument(
        "--threads",
        type=_positive,
        default=None,
        metavar="N",
        help="recommendations computed at once per process, one core each (default: the "
        "usable cores divided among the workers, at least 1)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let pages from this origin (e.g. https://example.org) call the API from a "
        "browser; repeatable (default: none, CORS off)",
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
