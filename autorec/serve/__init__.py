"""``autorec serve``: recommendations for a person, over HTTP and in a page.

An optional part of autorec (``pip install torch-autorec[serve]``: FastAPI and uvicorn);
nothing in the core imports it. :func:`create_app` builds the ASGI application around a
fitted model: a JSON API (``/api/health``, ``/api/movies``, ``/api/recommend``,
``/api/similar``) and a page at ``/`` (plain HTML, CSS and JavaScript shipped in this
package's ``static`` folder) where a person searches movies, rates them and watches the
recommendations, each with the rated movies it comes from. ``autorec serve`` runs it
with uvicorn (``autorec.serve._command``; the argument list, ``autorec.serve._args``, is
importable without FastAPI or torch, so ``autorec --help`` works without the extra).
"""

from __future__ import annotations

from typing import Any

from ._args import add_arguments

__all__ = ["add_arguments", "create_app", "run"]


def run(args: Any) -> int:
    """Run ``autorec serve`` with parsed ``args``: see ``autorec.serve._command.run``."""
    from ._command import run as serve

    return serve(args)


def create_app(*args: Any, **kwargs: Any) -> Any:
    """The ASGI application: see ``autorec.serve._app.create_app`` (needs FastAPI)."""
    from ._app import create_app as build

    return build(*args, **kwargs)
