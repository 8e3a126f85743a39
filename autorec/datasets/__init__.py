"""Datasets: every MovieLens size and any ratings file; id maps, utility matrices, splits.

The MovieLens data is never shipped with autorec: it is read from a folder you
point at, or downloaded from GroupLens and verified against its SHA-256. See
:func:`load_movielens_1m` for its license and the citation it asks for.
"""

from autorec.datasets._base import DATA_HOME_ENV, get_data_home
from autorec.datasets._fetch import CacheNotWritableError, DownloadError, RemoteFile
from autorec.datasets._matrix import IdMap, UtilityMatrix, utility_matrix
from autorec.datasets._movielens import (
    MOVIELENS_1M_URLS,
    MOVIELENS_URLS_ENV,
    DatasetNotFoundError,
    MovieLens1M,
    download_movielens_1m,
    load_movielens_1m,
    movielens_1m_info,
)
from autorec.datasets._parsers import MovieLensFormatError
from autorec.datasets._split import train_test_split

__all__ = [
    "DATA_HOME_ENV",
    "MOVIELENS_1M_URLS",
    "MOVIELENS_URLS_ENV",
    "CacheNotWritableError",
    "DatasetNotFoundError",
    "DownloadError",
    "IdMap",
    "MovieLens1M",
    "MovieLensFormatError",
    "RemoteFile",
    "UtilityMatrix",
    "download_movielens_1m",
    "get_data_home",
    "load_movielens_1m",
    "movielens_1m_info",
    "train_test_split",
    "utility_matrix",
]

# Synthetic data (autorec/datasets/_synthetic.py): its re-export lines go below.
# Every MovieLens size and any ratings file (_movielens_family.py, _ratings_file.py).
from autorec.datasets._movielens_family import (
    MOVIELENS_DATASETS,
    MovieLensSpec,
    cached_datasets,
    download_movielens,
    load_movielens,
)
from autorec.datasets._ratings_file import RatingsDataset, RatingsFormatError, load_ratings
from autorec.datasets._synthetic import make_ratings

__all__ += ["make_ratings"]
__all__ += [
    "MOVIELENS_DATASETS",
    "MovieLensSpec",
    "RatingsDataset",
    "RatingsFormatError",
    "cached_datasets",
    "download_movielens",
    "load_movielens",
    "load_ratings",
]
