"""Model files: tensors plus a JSON header in one safetensors file, and back.

This module knows files, tensors and headers, never estimators: each model class says
what its state is (see ``AutoEncoderRecommender._STATE``) and turns it into tensors and
header entries with the codecs here (:func:`encode_ids`, :func:`encode_csr`, ...).
safetensors stores raw tensors and a text header only, so loading cannot execute code.

Layout (format version 2): the safetensors metadata holds ``format`` (which class reads
the file), ``format_version``, ``autorec_version`` and ``header`` (one JSON object);
tensors are named by the class. Version 1 files (autorec 0.1.0) are still read: their
metadata is handed to the class as it is (see :func:`read_model`).
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ._version import __version__
from .datasets import IdMap
from .datasets._fetch import default_file_mode
from .exceptions import ModelFormatError

__all__ = [
    "FORMAT_VERSION",
    "decode_csr",
    "decode_ids",
    "encode_csr",
    "encode_ids",
    "json_safe",
    "read_format",
    "read_model",
    "write_model",
]

FORMAT_VERSION = 2
#: Format versions this autorec reads.
READABLE_VERSIONS = (1, 2)
#: How an id beyond int64 is stored (see :func:`encode_ids`).
_DECIMAL = re.compile(rb"-?(0|[1-9][0-9]*)")
#: Deepest JSON nesting a header may have (a deeper one is refused, not recursed into).
_MAX_DEPTH = 64


def bad_file(path: Path, why: str) -> ModelFormatError:
    """The error for a file that is not a valid autorec model, naming it and why."""
    return ModelFormatError(f"{path} is not a valid autorec model file: {why}")


# ---------------------------------------------------------------------------- codecs
def json_safe(value: Any) -> Any:
    """``value`` with NumPy scalars, arrays and tuples turned into JSON types."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def encode_ids(name: str, ids: np.ndarray) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and a header entry that give back ``ids`` with their exact type.

    int64 ids are one int64 tensor; Python ints in an object array, an int64 tensor
    marked ``object-int`` (``object-int-text``: their decimal digits, stored like bytes,
    when one is beyond int64); strings and bytes, their UTF-8 / raw bytes back to back in a
    uint8 tensor with an int64 tensor of offsets (never the JSON header, which
    safetensors caps at 100 MB).
    """
    ids = np.asarray(ids)
    if ids.dtype.kind in "iu":
        return {name: torch.from_numpy(ids.astype(np.int64))}, {"dtype": "int64"}
    values = ids.tolist()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        if all(-(2**63) <= v < 2**63 for v in values):
            return {name: torch.tensor(values, dtype=torch.int64)}, {"dtype": "object-int"}
        # Python ints beyond int64 (fit accepts them): their decimal digits, as bytes
        values = [str(v).encode("ascii") for v in values]
        kinds = (("object-int-text", bytes),)
    else:
        kinds = (("str", str), ("bytes", bytes))
    for kind, cls in kinds:
        if all(isinstance(v, cls) for v in values):
            raw = [_utf8(name, v) if kind == "str" else v for v in values]
            lengths = np.fromiter((len(b) for b in raw), np.int64, len(raw))
            blob = np.frombuffer(b"".join(raw), dtype=np.uint8).copy()
            offsets = np.concatenate(([0], np.cumsum(lengths)))
            tensors = {
                f"{name}.bytes": torch.from_numpy(blob),
                f"{name}.offsets": torch.from_numpy(offsets),
            }
            return tensors, {"dtype": kind}
    kinds = sorted({type(v).__name__ for v in values})
    raise TypeError(f"{name} holds ids of types {kinds}; a model file stores int, str or bytes ids")


def _utf8(name: str, text: str) -> bytes:
    """``text`` as UTF-8; a string that has none (a lone surrogate) is a ValueError
    naming it, so what ``save`` writes always loads."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"{name} holds the id {text!r}, which is not valid Unicode text (a lone "
            "surrogate) and cannot be stored in a model file; give it a valid name"
        ) from None


def decode_ids(name: str, tensors: dict[str, torch.Tensor], entry: Any) -> np.ndarray:
    """Inverse of :func:`encode_ids`."""
    dtype = entry.get("dtype") if isinstance(entry, dict) else None
    if dtype in ("int64", "object-int"):
        ids = tensors[name].numpy()
        if ids.dtype != np.int64 or ids.ndim != 1:
            raise ValueError(f"{name} must be a 1-D int64 tensor")
        if dtype == "int64":
            return ids
        out = np.empty(len(ids), dtype=object)
        out[:] = ids.tolist()
        return out
    if dtype in ("str", "bytes", "object-int-text"):
        blob = tensors[f"{name}.bytes"].numpy()
        offsets = tensors[f"{name}.offsets"].numpy()
        if (
            blob.dtype != np.uint8
            or offsets.ndim != 1
            or len(offsets) == 0
            or offsets[0] != 0
            or offsets[-1] != len(blob)
            or (np.diff(offsets) < 0).any()
        ):
            raise ValueError(f"{name} offsets do not fit its bytes")
        data = blob.tobytes()
        parts = [
            data[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
        ]
        if dtype == "object-int-text":
            if not all(_DECIMAL.fullmatch(p) for p in parts):
                raise ValueError(f"{name} holds integer ids that are not decimal integers")
            values = [int(p) for p in parts]  # over 4300 digits: ValueError
        else:
            values = [p.decode("utf-8") for p in parts] if dtype == "str" else parts
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    raise ValueError(f"{name} has an unknown id encoding {entry!r}")


def encode_csr(name: str, matrix: sp.csr_matrix) -> dict[str, torch.Tensor]:
    """The three arrays of a CSR matrix as tensors ``{name}.indptr/indices/data`` (the
    index arrays int32 when every index fits, else int64)."""
    small = max(matrix.nnz, *matrix.shape) < 2**31
    index = np.int32 if small else np.int64
    return {
        f"{name}.indptr": torch.from_numpy(matrix.indptr.astype(index)),
        f"{name}.indices": torch.from_numpy(matrix.indices.astype(index)),
        f"{name}.data": torch.from_numpy(matrix.data.astype(np.float32)),
    }


def decode_csr(
    name: str, tensors: dict[str, torch.Tensor], shape: tuple[int, int]
) -> sp.csr_matrix:
    """Inverse of :func:`encode_csr`, checked (indices in range, finite values)."""
    data = tensors[f"{name}.data"].numpy()
    indices = tensors[f"{name}.indices"].numpy()
    indptr = tensors[f"{name}.indptr"].numpy()
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{name} holds NaN or infinite ratings")
    if len(indptr) != shape[0] + 1:
        raise ValueError(f"{name} has {len(indptr) - 1} rows, expected {shape[0]}")
    matrix = sp.csr_matrix((data, indices, indptr), shape=shape)
    matrix.check_format(full_check=True)
    return matrix


def decode_array(name: str, tensors: dict[str, torch.Tensor], shape: tuple[int, ...]) -> np.ndarray:
    """A float tensor of the given shape with finite values, as a NumPy array (float32
    for one stored as float16)."""
    tensor = tensors[name]
    if tensor.dtype == torch.float16:
        tensor = tensor.to(torch.float32)  # torch's cast: several times NumPy's speed
    array = tensor.numpy()
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}, expected {shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def decode_index(
    name: str, tensors: dict[str, torch.Tensor], length: int | None, bound: int
) -> np.ndarray:
    """An int64 tensor of indices in ``[0, bound)`` (strictly increasing), checked."""
    array = tensors[name].numpy()
    if array.dtype != np.int64 or array.ndim != 1 or (length is not None and len(array) != length):
        raise ValueError(f"{name} must be a 1-D int64 tensor of {length} indices")
    if len(array) and (array[0] < 0 or array[-1] >= bound or (np.diff(array) <= 0).any()):
        raise ValueError(f"{name} must hold increasing indices in [0, {bound})")
    return array


def decode_id_map(name: str, tensors: dict[str, torch.Tensor], entry: Any) -> IdMap:
    return IdMap(decode_ids(name, tensors, entry))


# ---------------------------------------------------------------------------- files
def _refuse_read_only(path: Path) -> None:
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(
            f"{path} exists and is read-only; autorec will not replace it (make it writable "
            "or save under another name)"
        )


def write_model(
    path: str | os.PathLike[str],
    format_name: str,
    header: dict[str, Any],
    tensors: dict[str, torch.Tensor],
) -> Path:
    """Write tensors and a header atomically; return the path written.

    A temporary file in the target's folder is written, given the usual permission bits
    (0o666 less the umask) and renamed into place, so an interrupted or failed save never
    leaves a half-written file at ``path`` and an older file there survives a failure. A
    symbolic link is written through (its target is replaced, the link kept); a
    read-only existing file is refused, as ``cp`` does.
    """
    if isinstance(path, (str, os.PathLike)) and not os.fspath(path).strip():
        raise ValueError(
            f"path {os.fspath(path)!r} is empty; give a file name, e.g. 'model.safetensors'"
        )
    path = Path(path)
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"cannot save to {str(path)!r}: the path is not valid UTF-8 and model files are "
            "read through UTF-8 paths only; save under a UTF-8 name"
        ) from None
    target = path.resolve() if path.is_symlink() else path
    if target.is_dir():
        raise IsADirectoryError(
            errno.EISDIR, f"{path} is a folder; give a file name, e.g. {path / 'model.safetensors'}"
        )
    _refuse_read_only(target)
    metadata = {
        "format": format_name,
        "format_version": str(FORMAT_VERSION),
        "autorec_version": __version__,
        "header": json.dumps(json_safe(header)),  # NaN allowed: a history may hold it
    }
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        contiguous = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
        try:
            save_file(contiguous, tmp_name, metadata=metadata)
        except SafetensorError as exc:  # a full disk or a file-size limit, say
            raise OSError(f"could not write the model file {path}: {exc}") from exc
        os.chmod(tmp_name, default_file_mode())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _open(path: Path, with_tensors: bool) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    if not path.is_file():
        raise bad_file(path, "it is not a regular file")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"cannot read the model file {path}: permission denied")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            names = handle.keys() if with_tensors else []
            tensors = {name: handle.get_tensor(name) for name in names}
    except PermissionError as exc:
        raise PermissionError(f"cannot read the model file {path}: permission denied") from exc
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise bad_file(
            path,
            f"it cannot be read as a safetensors file ({exc}); was it truncated, "
            "or written by something other than autorec's save?",
        ) from exc
    return metadata, tensors


def _loads(path: Path, text: Any, what: str) -> Any:
    """JSON from a header entry; deep nesting or bad JSON is a ModelFormatError."""
    if not isinstance(text, str):
        raise bad_file(path, f"its {what} is missing")
    depth = 0
    in_string = escaped = False
    for char in text:  # a cheap nesting check before the recursive parser sees it
        if in_string:  # a backslash escapes the next character, an escaped quote too
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                raise bad_file(path, f"its {what} is nested deeper than {_MAX_DEPTH} levels")
        elif char in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise bad_file(path, f"its {what} is not valid JSON ({exc})") from None


def read_format(path: str | os.PathLike[str]) -> str:
    """The format named in a model file's header, read without loading the tensors."""
    metadata, _ = _open(Path(path), with_tensors=False)
    return str(metadata.get("format"))


def read_model(
    path: str | os.PathLike[str], format_name: str, readers: dict[str, str]
) -> tuple[int, dict[str, Any], dict[str, torch.Tensor]]:
    """Read a model file of format ``format_name``.

    Returns the format version, the header (version 2: the parsed ``header`` object;
    version 1: the raw metadata entries, each JSON-decoded where it is JSON) and the
    tensors. ``readers`` maps other format names to the call that reads them, for the
    message when the wrong class is used.

    Raises
    ------
    FileNotFoundError, PermissionError
        If the file is missing or cannot be read.
    autorec.exceptions.ModelFormatError
        If it is not an autorec file of this format, or of a newer format version.
    """
    path = Path(path)
    metadata, tensors = _open(path, with_tensors=True)
    found = metadata.get("format")
    if found != format_name:
        hint = f"; load it with {readers[found]}" if found in readers else ""
        raise bad_file(path, f"its header names format {found!r}, expected {format_name!r}{hint}")
    try:
        version = int(metadata.get("format_version", ""))
    except ValueError:
        why = f"format_version {metadata.get('format_version')!r} is not an integer"
        raise bad_file(path, why) from None
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{path} uses model format version {version}, newer than this autorec "
            f"({__version__}) reads (version {FORMAT_VERSION}); upgrade torch-autorec"
        )
    if version not in READABLE_VERSIONS:
        raise bad_file(path, f"format_version {version} is not supported")
    if version == 1:
        header = {
            key: _loads(path, value, key) if key not in ("format", "autorec_version") else value
            for key, value in metadata.items()
            if key != "format_version"
        }
    else:
        header = _loads(path, metadata.get("header"), "header")
        if not isinstance(header, dict):
            raise bad_file(path, "its header is not a JSON object")
    return version, header, tensors


# ---------------------------------------------------------------------------- state
def dump_state(
    obj: Any, spec: dict[str, str], prefix: str = ""
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and header of the fitted attributes named in ``spec`` (attribute -> how it
    is stored: ``"module"``, ``"ids"``, ``"csr"``, ``"array"`` (float32), ``"half"``
    (float16 when exact, else float32), ``"index"`` (int64) or ``"json"``); attributes
    that are None are listed in ``header["absent"]``."""
    tensors: dict[str, torch.Tensor] = {}
    header: dict[str, Any] = {"state": {}, "ids": {}}
    for attr, how in spec.items():
        value = getattr(obj, attr)
        name = prefix + attr
        if value is None and how != "json":
            header.setdefault("absent", []).append(attr)
        elif how == "module":  # tables rounded at fit (``round_tables``): stored as float16
            tensors.update(
                {f"{name}.{k}": _half_tensor_if_exact(t) for k, t in value.state_dict().items()}
            )
        elif how == "ids":
            part, entry = encode_ids(name, value.ids)
            tensors.update(part)
            header["ids"][attr] = entry
        elif how == "csr":
            tensors.update(encode_csr(name, value))
        elif how == "array":
            tensors[name] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
        elif how == "half":
            tensors[name] = torch.from_numpy(np.ascontiguousarray(_half_if_exact(value)))
        elif how == "index":
            tensors[name] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.int64))
        else:
            header["state"][attr] = json_safe(value)
    return tensors, header


def _half_if_exact(value: np.ndarray) -> np.ndarray:
    """``value`` as float16 when that loses nothing (every value a float16 value), else
    float32: what a ``"half"`` entry of a state stores."""
    return _half_or_same(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))).numpy()


def _half_or_same(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` (float32) as float16 when every value is a float16 value, else itself."""
    half = tensor.detach().to(torch.float16)
    return half if torch.equal(half.to(tensor.dtype), tensor) else tensor


#: A module's float32 weight tensors of at least this many elements are saved as float16
#: when that loses nothing (``autorec._fitting.round_tables`` makes a fit's tables so);
#: loading casts them back to float32.
HALF_TABLE_ELEMENTS = 65_536


def _half_tensor_if_exact(tensor: torch.Tensor) -> torch.Tensor:
    """A module's weight tensor as float16 when it is a table (``HALF_TABLE_ELEMENTS``)
    whose every value is a float16 value, else the tensor itself."""
    if tensor.dtype != torch.float32 or tensor.numel() < HALF_TABLE_ELEMENTS:
        return tensor
    return _half_or_same(tensor)


def tensors_under(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors whose names start with ``prefix``, the prefix removed."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
