"""What is packaged: declared dependencies match the imports, the sdist is enough to run
the tests (and holds no MovieLens data or caches), the wheel holds only ``autorec``."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import autorec

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(autorec.__file__).resolve().parent
#: Imports that are optional, with the extra that provides them.
OPTIONAL = {"matplotlib": "plot", "fastapi": "serve", "uvicorn": "serve", "threadpoolctl": "serve"}
#: The page of ``autorec serve``: package data, in the sdist and the wheel.
STATIC = ("autorec/serve/static/index.html", "autorec/serve/static/app.css",
          "autorec/serve/static/app.js")  # fmt: skip
#: Folders the sdist carries beside the package, for the tests, examples and docs.
SHIPPED = ("tests", "examples", "benchmarks", "docs")


def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    """The normalized distribution name of a requirement string."""
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level modules the package imports (function-level imports included) that are
    not the standard library or autorec itself -> the files importing them."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "autorec":
                    found.setdefault(top, set()).add(path.relative_to(PACKAGE.parent).as_posix())
    return found


def _distribution(module: str) -> str:
    """The distribution that provides an importable top-level module."""
    dists = importlib.metadata.packages_distributions().get(module)
    assert dists, f"{module} is imported by autorec but not installed"
    return _name(dists[0])


def test_every_import_is_declared_and_every_dependency_imported():
    project = _pyproject()["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    extras = {k: {_name(r) for r in v} for k, v in project["optional-dependencies"].items()}
    imports = _third_party_imports()
    assert {"torch", "numpy", "requests"} <= set(imports)  # the scan sees imports
    undeclared, imported = [], set()
    for module, files in sorted(imports.items()):
        dist = _distribution(module)
        imported.add(dist)
        declared = extras[OPTIONAL[module]] if module in OPTIONAL else runtime
        if dist not in declared:
            where = f"the [{OPTIONAL[module]}] extra" if module in OPTIONAL else "dependencies"
            undeclared.append(f"{dist} (imported in {', '.join(sorted(files))}) not in {where}")
    assert not undeclared, "\n".join(undeclared)
    assert not runtime - imported, f"declared but never imported by autorec: {runtime - imported}"


def test_the_serve_extra_brings_uvicorns_fast_parts_that_autorec_never_imports():
    serve = _pyproject()["project"]["optional-dependencies"]["serve"]
    assert {"fastapi", "uvicorn", "httptools", "uvloop"} <= {_name(r) for r in serve}
    uvloop = next(r for r in serve if _name(r) == "uvloop")
    assert "sys_platform != 'win32'" in uvloop  # uvloop has no Windows build
    assert not {"httptools", "uvloop"} & set(_third_party_imports())  # uvicorn picks them


def test_the_test_extra_has_what_the_tests_import():
    project = _pyproject()["project"]
    test_extra = {_name(r) for r in project["optional-dependencies"]["test"]}
    assert {"pytest", "hypothesis", "scikit-learn", "matplotlib"} <= test_extra
    assert "scikit-learn" not in {_name(r) for r in project["dependencies"]}


def _git_files() -> list[str] | None:
    """Tracked files under SHIPPED plus the root files, or None outside a git checkout."""
    if not (REPO_ROOT / ".git").exists() or shutil.which("git") is None:
        return None
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", *SHIPPED, "README.md", "LICENSE", "pyproject.toml"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [f for f in out.split("\0") if f]


FORBIDDEN = re.compile(
    r"(^|/)(__pycache__|\.ci-venv|\.venv|\.venv-test|\.hypothesis|\.pytest_cache|ml-1m)(/|$)"
    r"|^docs/_build/|^docs/api/generated/|\.py[cod]$|\.dat(\.gz)?$|ml-1m\.zip$|\.pt$"
)


@pytest.mark.slow
def test_the_sdist_is_self_contained_and_the_wheel_holds_only_autorec(tmp_path):
    pytest.importorskip("build")
    pytest.importorskip("setuptools")
    # --no-isolation: the offline environment's setuptools; -x: no check of build-system
    # requires (wheel is not needed by modern setuptools). Builds the wheel from the sdist.
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "-x", "--outdir", str(tmp_path), "."],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,) = tmp_path.glob("*.tar.gz")
    (wheel,) = tmp_path.glob("*.whl")

    with tarfile.open(sdist) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    top = {n.split("/", 1)[0] for n in names}
    assert len(top) == 1, top
    files = {n.split("/", 1)[1] for n in names}
    needed = {"README.md", "LICENSE", "pyproject.toml", "PKG-INFO", "tests/conftest.py"}
    needed |= {p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "tests").glob("*.py")}
    needed |= {f"tests/data/{p.name}" for p in (REPO_ROOT / "tests" / "data").glob("*.json")}
    needed |= {f"tests/data/{p.name}" for p in (REPO_ROOT / "tests" / "data").glob("*.safetensors")}
    needed |= {"docs/conf.py", "docs/index.rst", "examples/new_user.py", "benchmarks/README.md"}
    needed |= {p.relative_to(PACKAGE.parent).as_posix() for p in PACKAGE.rglob("*.py")}
    needed |= set(STATIC)
    tracked = _git_files()
    if tracked is not None:
        needed |= set(tracked)
    assert not needed - files, f"missing from the sdist: {sorted(needed - files)}"
    assert any(f.startswith("tests/data/") and f.endswith(".safetensors") for f in files)
    bad = sorted(f for f in files if FORBIDDEN.search(f))
    assert not bad, f"the sdist must not ship: {bad}"

    with zipfile.ZipFile(wheel) as zf:
        entries = zf.namelist()
    dist_info = re.compile(r"^torch_autorec-[^/]+\.dist-info/")
    stray = [e for e in entries if not (e.startswith("autorec/") or dist_info.match(e))]
    assert not stray, f"the wheel must hold only the autorec package: {stray}"
    assert "autorec/__init__.py" in entries and "autorec/datasets/__init__.py" in entries
    assert not set(STATIC) - set(entries), f"the page is missing: {set(STATIC) - set(entries)}"
    assert not [e for e in entries if FORBIDDEN.search(e)]


def test_the_forbidden_pattern_catches_data_and_caches():
    for path in (
        "tests/__pycache__/x.cpython-311.pyc",
        "docs/_build/html/index.html",
        "ml-1m/ratings.dat",
        "data/ml-1m.zip",
        "tests/data/ratings.dat.gz",
        ".ci-venv/bin/python",
        "model.pt",
    ):
        assert FORBIDDEN.search(path), path
    for path in ("tests/data/v1_blend.safetensors", "docs/dataset.rst", "autorec/_fetch.py"):
        assert not FORBIDDEN.search(path), path
