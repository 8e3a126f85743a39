"""Shared test fixtures. Keep this file small."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The real MovieLens-1M lives at ``<repo>/../shared/data/ml-1m`` (never inside the repo);
#: AUTOREC_TEST_DATA_HOME may point at another folder holding ``ml-1m/``.
MOVIELENS_HOME = Path(
    os.environ.get("AUTOREC_TEST_DATA_HOME") or REPO_ROOT.parent / "shared" / "data"
)
HAVE_ML1M = (MOVIELENS_HOME / "ml-1m").is_dir()
ML1M_SKIP_REASON = (
    f"real MovieLens-1M not available: {MOVIELENS_HOME / 'ml-1m'} does not exist "
    "(put the extracted ml-1m/ folder there, or set AUTOREC_TEST_DATA_HOME)"
)

#: Marker for tests that need the real data: ``@requires_ml1m`` or ``pytestmark = requires_ml1m``.
requires_ml1m = pytest.mark.skipif(not HAVE_ML1M, reason=ML1M_SKIP_REASON)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every test marked ``realdata`` when the real data is absent."""
    if HAVE_ML1M:
        return
    skip = pytest.mark.skip(reason=ML1M_SKIP_REASON)
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def movielens_home() -> Path:
    """Folder holding the real ``ml-1m/`` (read-only); skips the test when absent."""
    if not HAVE_ML1M:
        pytest.skip(ML1M_SKIP_REASON)
    return MOVIELENS_HOME


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's torch code on one thread, then restore the setting.

    The test machines share two cores: one thread is faster there and keeps results
    stable for the small models the tests train.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
