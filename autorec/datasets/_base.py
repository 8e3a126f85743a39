"""Where datasets live on disk."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["DATA_HOME_ENV", "get_data_home"]

#: Environment variable naming the data folder when ``data_home`` is not given.
DATA_HOME_ENV = "AUTOREC_DATA_HOME"


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder where autorec looks for (and downloads) datasets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. When None, the environment variable
        ``AUTOREC_DATA_HOME`` is used if set and non-empty, else the per-user
        cache folder (``platformdirs.user_cache_dir("autorec")``, e.g.
        ``~/.cache/autorec`` on Linux). ``~`` is expanded.

    Returns
    -------
    pathlib.Path
        The folder. It is not created: loaders create it only when they need
        to download something.

    Examples
    --------
    >>> from autorec.datasets import get_data_home
    >>> get_data_home("/tmp/autorec-data").as_posix()
    '/tmp/autorec-data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV, "").strip() or None
    if data_home is None:
        return Path(platformdirs.user_cache_dir("autorec", appauthor=False))
    if not isinstance(data_home, (str, os.PathLike)):
        raise TypeError(f"data_home must be a str, a path-like object or None, got {data_home!r}")
    return Path(data_home).expanduser()
