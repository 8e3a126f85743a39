"""What every part of the command line shares (its name, its user-error type, status
lines), in a module that imports nothing heavy: the parser is built before torch loads."""

from __future__ import annotations

import argparse
import sys

__all__ = ["PLOT_HINT", "PROG", "CLIError", "status"]

PROG = "autorec"
PLOT_HINT = "pip install torch-autorec[plot]"


class CLIError(Exception):
    """A problem the user can fix; printed as one ``autorec: error:`` line, exit 1."""


def status(args: argparse.Namespace, message: str) -> None:
    """A progress note on stderr (stdout holds only results); silenced by --quiet."""
    if not getattr(args, "quiet", False) and sys.stderr is not None:
        print(message, file=sys.stderr, flush=True)
