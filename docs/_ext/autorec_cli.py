"""``.. autorec-help:: [SUBCOMMAND]``: the ``autorec`` command's ``--help`` text.

The text is produced at build time from :func:`autorec.cli.build_parser`, so the
command line reference can never drift from the code.
"""

from __future__ import annotations

import argparse
import os

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

WIDTH = "88"


def help_text(subcommand: str | None = None) -> str:
    """``autorec [SUBCOMMAND] --help`` as the parser formats it, 88 columns wide."""
    from autorec.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        parser = build_parser()
        if subcommand:
            actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            choices = actions[0].choices if actions else {}
            if subcommand not in choices:
                raise ValueError(
                    f"autorec has no subcommand {subcommand!r}; it has {sorted(choices)}"
                )
            parser = choices[subcommand]
        return parser.format_help().rstrip()
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


class AutorecHelp(SphinxDirective):
    """Insert the help text of ``autorec`` or of one of its subcommands."""

    optional_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        subcommand = self.arguments[0] if self.arguments else None
        try:
            text = help_text(subcommand)
        except Exception as exc:  # any failure becomes a build error
            raise self.error(f"autorec-help: cannot format the help text: {exc}") from exc
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app):
    app.add_directive("autorec-help", AutorecHelp)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
