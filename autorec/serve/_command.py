"""What ``autorec serve`` runs (its options are in ``autorec.serve._args``): the model,
then the server, whose modules are imported here with a clear error when the extra is
missing."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

import torch

from .._cli_common import CLIError
from .._cli_helpers import _load, _status
from ..evaluation import MODELS, load_model, make_model
from ._args import INSTALL_HINT, is_loopback
from ._workers import can_fork, limit_malloc_arenas, serve_forked

__all__ = ["run"]


def _model_and_movies(args: argparse.Namespace) -> tuple[Any, Any]:
    """The model to serve (loaded, or the default trained on MovieLens-1M with a progress
    bar) and the movies' titles and genres."""
    if args.model is not None:  # a bad model file fails before the data loads
        model = load_model(args.model)
        _status(args, f"loaded model {args.model} ({len(model.user_map_):,} users)")
        data = _load(args)
    else:
        data = _load(args)
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

        from ._app import create_app, usable_cores
    except ImportError as exc:
        raise CLIError(
            f"autorec serve needs FastAPI, uvicorn and threadpoolctl ({exc.name} is missing): "
            f"{INSTALL_HINT}"
        ) from None
    if args.workers > 1 and not can_fork():
        raise CLIError("--workers above 1 needs os.fork (POSIX); run one worker here")
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
    limit_malloc_arenas()
    threads = args.threads or max(1, usable_cores() // args.workers)
    app = create_app(
        model, movies, token=args.token, cors_origins=args.cors_origin, threads=threads
    )
    shown = f"[{args.host}]" if ":" in args.host else args.host
    fragment = f"#token={args.token}" if args.token else ""
    if not args.quiet:
        print(
            f"serving on http://{shown}:{args.port}/{fragment} ({args.workers} worker(s), "
            f"{threads} thread(s) each; Ctrl+C stops)",
            file=sys.stderr,
        )
    options = {
        "host": args.host,
        "port": args.port,
        "log_level": "warning" if args.quiet else "info",
        "access_log": False,
        "server_header": False,
    }
    if args.workers > 1:
        return serve_forked(app, args.workers, **options)
    uvicorn.run(app, **options)
    return 0
