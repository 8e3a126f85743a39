"""Checks of the Sphinx sources that a docs build with -W does not catch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
SOURCES = sorted([*DOCS.glob("**/*.rst"), *DOCS.glob("**/*.inc")])


def _sources() -> list[Path]:
    found = [p for p in SOURCES if "_build" not in p.parts]
    if not found:
        pytest.skip(f"no Sphinx sources under {DOCS} (an installed copy without docs/)")
    return found


def bare_dash_cells(text: str) -> list[int]:
    """Line numbers of list-table cells that hold a lone "-" (reST reads a bullet list)."""
    return [
        n for n, line in enumerate(text.splitlines(), 1) if re.fullmatch(r"\s*(\* )?- -\s*", line)
    ]


def test_bare_dash_cells_are_found():
    table = "   * - model\n     - -\n     - 0.1\n   * - -\n"
    assert bare_dash_cells(table) == [2, 4]
    assert bare_dash_cells("     - —\n     - a - b\n") == []


def test_no_table_cell_is_a_lone_dash():
    bad = {str(p.relative_to(DOCS)): bare_dash_cells(p.read_text()) for p in _sources()}
    assert {k: v for k, v in bad.items() if v} == {}


def private_references(text: str) -> list[str]:
    """autosummary entries (``   _module.Name``) and roles (``:func:`autorec._x.f```) that
    point into a private module."""
    entry = re.compile(r"^\s+~?(?:autorec\.)?_\w+\.\w+\s*$", re.MULTILINE)
    role = re.compile(r":\w+:`~?autorec(?:\.\w+)*\._\w+[^`]*`")
    return [m.group(0).strip() for m in (*entry.finditer(text), *role.finditer(text))]


def test_private_references_are_found():
    page = "   _hybrid.combine\n   AutoEncoderRecommender\nsee :func:`~autorec._hybrid.combine`\n"
    assert private_references(page) == ["_hybrid.combine", ":func:`~autorec._hybrid.combine`"]
    assert private_references("``autorec._hybrid`` is private\n") == []


def test_the_api_reference_documents_no_private_module():
    pages = {
        p.name: private_references(p.read_text()) for p in _sources() if p.parent.name == "api"
    }
    assert pages, "no API reference pages found"
    assert {k: v for k, v in pages.items() if v} == {}


def test_math_renders_without_a_cdn():
    conf = (DOCS / "conf.py").read_text() if (DOCS / "conf.py").is_file() else None
    if conf is None:
        pytest.skip("no docs/conf.py")
    assert "sphinx-mathjax-offline" in conf, "formulas would load MathJax from a CDN"
