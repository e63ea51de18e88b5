"""Files, once: content checksums, cache keys and atomic writes.

Every module that checksums a file, keys an artifact by its inputs or writes a file that a
killed process must not leave half-written uses these three helpers (ARCHITECTURE.md, "one of
each"). They sit in the lowest layer and import nothing from the package.

* :func:`sha256_file` — the sha256 of a file's bytes, streamed.
* :func:`cache_key` — a short sha256 of a JSON-serialisable object (sorted keys), the one
  scheme that names artifact folders, run folders and cached arrays.
* :func:`atomic_path` — a context manager that yields a temporary path beside the target and
  renames it over the target only when the block succeeds; a kill or an exception leaves the
  target as it was (absent, or the previous complete version). Temporary names carry the
  process id, so parallel workers never write into each other's temporary files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_CHUNK = 1 << 23


def sha256_file(path: str | Path, *, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``algorithm`` is any :func:`hashlib.new` name)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def cache_key(obj: Any, *, length: int = 16) -> str:
    """Short sha256 of ``obj`` as canonical JSON (sorted keys; non-JSON values via ``str``)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def temp_path_for(path: str | Path) -> Path:
    """A per-process temporary name beside ``path`` that keeps its suffixes.

    ``run/x.tmp-123.npz`` for ``run/x.npz``: numpy and pandas pick formats from the suffix, so
    the last suffix is kept; the leading dot hides the file from globbing readers.
    """
    path = Path(path)
    suffixes = "".join(path.suffixes[-1:])
    stem = path.name[: len(path.name) - len(suffixes)] if suffixes else path.name
    return path.with_name(f".{stem}.tmp-{os.getpid()}{suffixes}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path; on success rename it over ``path``, on failure delete it.

    Works for files and for folders (a folder is renamed whole; an existing target folder is
    removed first).

    Examples
    --------
    >>> with atomic_path(out / "regions.parquet") as tmp:   # doctest: +SKIP
    ...     table.to_parquet(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path: str | Path, data: Any, *, indent: int = 2) -> Path:
    """Write ``data`` as JSON (sorted keys) through :func:`atomic_path`."""
    return write_text_atomic(path, json.dumps(data, indent=indent, sort_keys=True, default=str))
