"""Helpers of the command-line tests: run ``autorec`` in-process and read what it wrote.
(Not a test module: imported by ``test_cli*.py``.)"""

from __future__ import annotations

import pytest

from autorec import cli


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``autorec ARGV...`` in this process: (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def cli_errors(err: str) -> list[str]:
    """The ``autorec: error:`` lines of a command's stderr."""
    return [line for line in err.splitlines() if line.startswith("autorec: error:")]
