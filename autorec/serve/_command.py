"""The ``autorec serve`` command: its arguments and what it runs.

Importable without FastAPI (``autorec --help`` lists ``serve`` on a core install); the
server's own modules are imported when it runs, with a clear error if the extra is
missing.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import warnings
from pathlib import Path
from typing import Any

import torch

from .._cli_commands import CLIError, _load, _status
from ..evaluation import MODELS, load_model, make_model

__all__ = ["INSTALL_HINT", "add_arguments", "is_loopback", "run"]

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


def _model_and_movies(args: argparse.Namespace) -> tuple[Any, Any]:
    """The model to serve (loaded, or the default trained on MovieLens-1M with a progress
    bar) and the movies' titles and genres."""
    data = _load(args)
    if args.model is not None:
        model = load_model(args.model)
        _status(args, f"loaded model {args.model} ({len(model.user_map_):,} users)")
    else:
        _status(
            args,
            f"no --model given: training the default {MODELS['default'].title} on all "
            f"{len(data.ratings):,} ratings first (save one with `autorec evaluate --save "
            "PATH` and pass --model next time)",
        )
        model = make_model("default", verbose=0 if args.quiet else 1, random_state=0)
        model.fit(data.ratings)
        if args.save is not None:
            model.save(args.save)
            _status(args, f"saved the model to {args.save} (pass --model {args.save} next time)")
    return model, data.movies


def run(args: argparse.Namespace) -> int:
    """Run ``autorec serve`` until interrupted; the exit status."""
    try:
        import uvicorn
        from threadpoolctl import threadpool_limits

        from ._app import create_app
    except ImportError as exc:
        raise CLIError(
            f"autorec serve needs FastAPI, uvicorn and threadpoolctl ({exc.name} is missing): "
            f"{INSTALL_HINT}"
        ) from None
    if args.save is not None and args.model is not None:
        raise CLIError("--save keeps a model trained by serve; it cannot be used with --model")
    if not is_loopback(args.host) and args.token is None:
        warnings.warn(
            f"serving on {args.host}: anyone who can reach this address can use the API, "
            "which has no authentication; pass --token to require one, or keep the default "
            "--host 127.0.0.1",
            UserWarning,
            stacklevel=2,
        )
    model, movies = _model_and_movies(args)
    # Requests run in parallel on a thread pool, each on one core: BLAS and torch threads
    # per request would oversubscribe the cores (OpenBLAS threads spin while they wait).
    threadpool_limits(1)
    torch.set_num_threads(1)
    app = create_app(model, movies, token=args.token, cors_origins=args.cors_origin)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    fragment = f"#token={args.token}" if args.token else ""
    if not args.quiet:
        print(f"serving on http://{shown}:{args.port}/{fragment} (Ctrl+C stops)", file=sys.stderr)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning" if args.quiet else "info",
        access_log=False,
        server_header=False,
    )
    return 0
