"""Sphinx configuration for the autorec documentation.

Build (what CI runs; zero warnings allowed)::

    sphinx-build -W --keep-going -n -q -b html docs docs/_build/html

The build works offline. Intersphinx links to Python, NumPy, SciPy, pandas and
PyTorch are added only for the inventories that can be fetched (or are already
cached under ``docs/_build/.intersphinx``); set ``AUTOREC_DOCS_OFFLINE=1`` to skip
the network entirely. References to those external projects that cannot be
resolved are silenced by ``nitpick_ignore_regex``; every reference to autorec's
own objects is still checked (``-n``).
"""

from __future__ import annotations

import builtins
import os
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(0, str(DOCS / "_ext"))

import autorec  # noqa: E402

# -- Project -----------------------------------------------------------------------------
project = "autorec"
author = "The autorec developers"
copyright = "the autorec developers"
release = autorec.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # MathJax ships with the docs (no CDN): formulas render offline.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "autorec_cli",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"
nitpicky = True

# -- autodoc / autosummary / numpydoc ----------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # types come from the numpydoc Parameters sections
autodoc_preserve_defaults = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = True
# numpydoc "type" fields: only the names below become links ("all": any other word stays
# plain text, so prose such as "array-like of user ids" never makes a broken link). The
# targets are explicit roles with readable titles, so that an unresolved external link
# (offline) still reads "int" or "DataFrame", never "python:int".
_OWN = {
    "AutoEncoderRecommender": "autorec.AutoEncoderRecommender",
    "IdMap": "autorec.datasets.IdMap",
    "UtilityMatrix": "autorec.datasets.UtilityMatrix",
    "MovieLens1M": "autorec.datasets.MovieLens1M",
    "RemoteFile": "autorec.datasets.RemoteFile",
    "DatasetNotFoundError": "autorec.datasets.DatasetNotFoundError",
    "DownloadError": "autorec.datasets.DownloadError",
    "CacheNotWritableError": "autorec.datasets.CacheNotWritableError",
    "MovieLensFormatError": "autorec.datasets.MovieLensFormatError",
    "NotFittedError": "autorec.exceptions.NotFittedError",
    "ModelFormatError": "autorec.exceptions.ModelFormatError",
    "TrainingDivergedError": "autorec.exceptions.TrainingDivergedError",
    "UndefinedMetricWarning": "autorec.exceptions.UndefinedMetricWarning",
    "GlobalMean": "autorec.baselines.GlobalMean",
    "BiasBaseline": "autorec.baselines.BiasBaseline",
}
_EXTERNAL_CLASSES = {
    "DataFrame": "pandas.DataFrame",
    "Series": "pandas.Series",
    "ndarray": "numpy.ndarray",
    "Generator": "numpy.random.Generator",
    "RandomState": "numpy.random.RandomState",
    "SeedSequence": "numpy.random.SeedSequence",
    "csr_matrix": "scipy.sparse.csr_matrix",
    "Path": "pathlib.Path",
    "Tensor": "torch.Tensor",
}
_BUILTINS = ("int", "float", "str", "bool", "dict", "list", "tuple", "bytes", "object")
numpydoc_xref_aliases = {
    **{short: f":class:`~{full}`" for short, full in _OWN.items()},
    **{full: f":class:`~{full}`" for full in _OWN.values()},
    **{short: f":class:`~{full}`" for short, full in _EXTERNAL_CLASSES.items()},
    **{full: f":class:`{full}`" for full in _EXTERNAL_CLASSES.values()},
    **{
        full: f":class:`{full}`"
        for full in ("np.ndarray", "torch.device", "torch.Generator", "torch.nn.Module")
    },
    **{name: f":class:`{name}`" for name in _BUILTINS},
    "string": ":class:`str <str>`",
    "boolean": ":class:`bool <bool>`",
    "None": ":data:`None`",
    "True": ":data:`True`",
    "False": ":data:`False`",
    "callable": ":func:`callable`",
    "sequence": ":term:`sequence <python:sequence>`",
    "iterable": ":term:`iterable <python:iterable>`",
    "mapping": ":term:`mapping <python:mapping>`",
    "path-like": ":term:`path-like <python:path-like object>`",
    "array-like": ":term:`array-like <numpy:array_like>`",
    "array_like": ":term:`array_like <numpy:array_like>`",
}
numpydoc_xref_ignore = "all"

# -- Intersphinx, offline-safe -----------------------------------------------------------
INTERSPHINX = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "pandas": "https://pandas.pydata.org/docs/",
    "torch": "https://docs.pytorch.org/docs/stable/",
}
_INV_CACHE = DOCS / "_build" / ".intersphinx"
_INV_MAX_AGE = 7 * 24 * 3600  # seconds a cached inventory is reused without the network


def _inventory(name: str, url: str) -> str | None:
    """Path of a local copy of ``url``'s objects.inv, fetched if needed; None if unreachable.

    Sphinx warns (and ``-W`` fails the build) when it cannot fetch an inventory, so
    conf.py fetches each one itself, with a short timeout, and hands Sphinx only local
    files that are known to be good.
    """
    path = _INV_CACHE / f"{name}.inv"
    if path.is_file() and time.time() - path.stat().st_mtime < _INV_MAX_AGE:
        return str(path)
    if os.environ.get("AUTOREC_DOCS_OFFLINE", "") not in ("", "0"):
        return str(path) if path.is_file() else None
    try:
        request = urllib.request.Request(url + "objects.inv", headers={"User-Agent": "sphinx"})
        with urllib.request.urlopen(request, timeout=5) as response:
            data = response.read()
    except Exception:  # offline, DNS, TLS, HTTP errors: all mean "skip it"
        return str(path) if path.is_file() else None
    if not data.startswith(b"# Sphinx inventory version"):
        return str(path) if path.is_file() else None
    _INV_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return str(path)


with ThreadPoolExecutor(max_workers=len(INTERSPHINX)) as _pool:
    _found = dict(
        zip(INTERSPHINX, _pool.map(_inventory, INTERSPHINX, INTERSPHINX.values()), strict=True)
    )
intersphinx_mapping = {
    name: (url, _found[name]) for name, url in INTERSPHINX.items() if _found[name] is not None
}
intersphinx_timeout = 5
intersphinx_disabled_reftypes = ["std:doc"]

# External objects that cannot be resolved (offline, or missing from an inventory) are
# not errors; autorec's own references are never ignored.
_EXTERNAL = (
    "numpy|np|pandas|pd|scipy|sp|torch|sklearn|pathlib|os|collections|typing|logging|"
    "warnings|json|tqdm|platformdirs|safetensors|filelock|pooch|matplotlib|urllib|http|"
    "zipfile|argparse|dataclasses|numbers|io|datetime|abc|enum|tempfile"
)
nitpick_ignore_regex = [
    (r"py:.*", rf"(~?)({_EXTERNAL})(\..*)?"),
    (r"py:.*", r"array-like|path-like|file-like|scalar|optional|default.*"),
    # numpydoc's built-in aliases (str, None, bool, array_like...) point into these
    # inventories with an explicit prefix.
    (r"py:.*", r"(python|numpy|scipy|pandas|torch):.*"),
    (r"std:(term|ref|label|doc)", r"(python|numpy|scipy|pandas|torch):.*"),
]
nitpick_ignore = [
    (role, name)
    for name in dir(builtins)
    if not name.startswith("_")
    for role in ("py:class", "py:exc", "py:obj", "py:func", "py:data", "py:meth")
]


# -- Substitutions kept in sync with the code -------------------------------------------
# |default_epochs| etc. are the current defaults of AutoEncoderRecommender and
# |item_preset| is the recommended configuration (the "i-autorec" preset, which
# `autorec evaluate --kind item` trains), so the user guide never quotes a stale default.
def _substitutions() -> str:
    import inspect

    from autorec import AutoEncoderRecommender

    lines = []
    signature = inspect.signature(AutoEncoderRecommender.__init__)
    for name, parameter in signature.parameters.items():
        if parameter.default is not inspect.Parameter.empty:
            lines.append(f".. |default_{name}| replace:: ``{parameter.default!r}``")
    item = repr(AutoEncoderRecommender.from_preset("i-autorec"))
    lines.append(f".. |item_preset| replace:: ``{item}``")
    return "\n".join(lines) + "\n"


rst_epilog = _substitutions()

# -- HTML --------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"autorec {release}"
html_short_title = "autorec"
html_static_path: list[str] = []
html_show_sourcelink = False
html_theme_options = {
    "source_repository": "https://github.com/autorec/torch-autorec",
    "source_branch": "main",
    "source_directory": "docs/",
}
