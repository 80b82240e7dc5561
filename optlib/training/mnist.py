"""MNIST's four files, found, downloaded, verified and cached, without torchvision.

:func:`load_mnist` finds the four official IDX files (``.gz`` or decompressed) in
``data_dir/mnist/``, ``$OPTLIB_DATA_DIR/mnist/`` or the user cache, downloads the missing ones
from :data:`MNIST_MIRRORS` into the cache, checks every byte against the official SHA-256
(:data:`MNIST_FILES`), and returns float32 images in ``[0, 1]`` and int64 labels. Parsed files
are kept in memory per process (:func:`clear_cache` forgets them).

Every failure raises :class:`MnistError` with a message that names the file, says what is wrong
and how to fix it. The train/validation/test split is in :mod:`optlib.training.data`.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import math
import os
import struct
import sys
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from optlib.training.files import write_atomically

__all__ = [
    "DATA_DIR_ENV",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "MnistError",
    "MnistFileSpec",
    "clear_cache",
    "load_mnist",
    "load_mnist_uint8",
    "mnist_cache_dir",
    "parse_idx",
    "to_float_pixels",
]

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

DATA_DIR_ENV = "OPTLIB_DATA_DIR"
"""Environment variable naming a data directory; MNIST is read from ``$OPTLIB_DATA_DIR/mnist/``."""


class MnistFileSpec(NamedTuple):
    """Size and SHA-256 of one official MNIST file, *after* gzip decompression."""

    n_bytes: int
    sha256: str


# Sizes and SHA-256 of the *decompressed* official files, as listed in the README of the project's
# shared MNIST copy (its MD5s agree with the ones published by the mirrors).
# Checking the decompressed bytes accepts every faithful copy, whatever gzip settings made the .gz.
MNIST_FILES: dict[str, MnistFileSpec] = {
    "train-images-idx3-ubyte": MnistFileSpec(
        47_040_016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    ),
    "train-labels-idx1-ubyte": MnistFileSpec(
        60_008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    ),
    "t10k-images-idx3-ubyte": MnistFileSpec(
        7_840_016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    ),
    "t10k-labels-idx1-ubyte": MnistFileSpec(
        10_008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    ),
}

# (images file, labels file) of each split.
_SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# Tried in order; each serves ``<mirror><name>.gz``.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_DOWNLOAD_TIMEOUT_S = 20.0  # per socket operation, per mirror
_N_CLASSES_MNIST = 10
_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UNSIGNED_BYTE = 0x08


class MnistError(RuntimeError):
    """MNIST files are missing, corrupt, truncated or malformed (the message says which file)."""


# --------------------------------------------------------------------------------------------
# Parsing and verification (pure functions on bytes)
# --------------------------------------------------------------------------------------------


def parse_idx(data: bytes, *, ndim: int, source: str = "<bytes>") -> np.ndarray:
    """Parse an IDX file of unsigned bytes into a read-only ``uint8`` array.

    The IDX format (LeCun et al.) is a big-endian header followed by the raw values:
    a magic number ``0x0000 | dtype | ndim`` (``0x00000803 = 2051`` for the 3-D image files,
    ``0x00000801 = 2049`` for the 1-D label files; dtype ``0x08`` means unsigned byte), then
    ``ndim`` 32-bit dimension sizes, then ``prod(dims)`` bytes. The length must match exactly.

    Args:
        data: the decompressed file contents.
        ndim: the number of dimensions the caller expects (3 for images, 1 for labels).
        source: a file name or URL, used in error messages.

    Raises:
        MnistError: bad magic number, or a length that does not match the header.
    """
    expected_magic = (_IDX_UNSIGNED_BYTE << 8) | ndim
    if len(data) < 4:
        raise MnistError(f"{source}: truncated: expected an IDX header, got only {len(data)} bytes")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        hint = ""
        if data[:2] == _GZIP_MAGIC:
            hint = " (the data is still gzip-compressed)"
        raise MnistError(
            f"{source}: bad magic number {magic} (0x{magic:08x}); expected {expected_magic} "
            f"(0x{expected_magic:08x}), an IDX file of unsigned bytes with {ndim} "
            f"dimension(s){hint}"
        )
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise MnistError(
            f"{source}: truncated: expected at least {header_bytes} header bytes, got {len(data)}"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header_bytes])
    expected_bytes = header_bytes + math.prod(dims)
    if len(data) != expected_bytes:
        problem = "truncated" if len(data) < expected_bytes else "too long"
        raise MnistError(
            f"{source}: {problem}: the header announces shape {tuple(dims)}, i.e. "
            f"{expected_bytes} bytes, but the data has {len(data)} bytes"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_bytes).reshape(dims)


def _gunzip(raw: bytes, *, source: str) -> bytes:
    """Decompress gzip bytes, turning every low-level failure into one clear MnistError."""
    if raw[:2] != _GZIP_MAGIC:
        raise MnistError(
            f"{source}: not a gzip file (first bytes {raw[:4].hex() or 'none: the file is empty'},"
            f" expected 1f8b...)"
        )
    try:
        return gzip.decompress(raw)
    except EOFError:
        problem = "truncated: the gzip stream ends early (incomplete download or copy?)"
    except (gzip.BadGzipFile, zlib.error) as error:
        problem = f"corrupt gzip data ({error})"
    raise MnistError(f"{source}: {problem}") from None


def _verify_official(data: bytes, name: str, *, source: str) -> None:
    """Check size and SHA-256 of decompressed ``data`` against :data:`MNIST_FILES` ``[name]``."""
    spec = MNIST_FILES[name]
    if len(data) != spec.n_bytes:
        problem = "truncated" if len(data) < spec.n_bytes else "wrong size"
        raise MnistError(
            f"{source}: {problem}: expected {spec.n_bytes} bytes (official {name}), "
            f"got {len(data)} bytes"
        )
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise MnistError(
            f"{source}: corrupt or not the official {name}: SHA-256 of the decompressed data is "
            f"{actual}, expected {spec.sha256}. Delete the file and load again."
        )


def _decode_mnist_file(raw: bytes, name: str, *, ndim: int, source: str) -> np.ndarray:
    """Decompress (if gzip), parse and verify one MNIST file's bytes."""
    is_gz_name = source.endswith(".gz")
    data = _gunzip(raw, source=source) if is_gz_name or raw[:2] == _GZIP_MAGIC else raw
    array = parse_idx(data, ndim=ndim, source=source)
    _verify_official(data, name, source=source)
    return array


# --------------------------------------------------------------------------------------------
# Finding, downloading, caching
# --------------------------------------------------------------------------------------------


def mnist_cache_dir() -> Path:
    """The user cache for MNIST: ``$XDG_CACHE_HOME/optlib/mnist`` or ``~/.cache/optlib/mnist``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "optlib" / "mnist"


class _SearchDir(NamedTuple):
    path: Path
    origin: str  # why it is searched, for error messages


def _search_dirs(data_dir: str | os.PathLike | None) -> list[_SearchDir]:
    """Directories searched, in order: ``data_dir/mnist``, ``$OPTLIB_DATA_DIR/mnist``, the user
    cache. ``data_dir`` means what ``$OPTLIB_DATA_DIR`` means: the folder whose ``mnist/``
    holds the files."""
    dirs = []
    if data_dir is not None:
        dirs.append(_SearchDir(Path(data_dir).expanduser() / "mnist", "data_dir/mnist"))
    env_dir = os.environ.get(DATA_DIR_ENV, "")
    if env_dir:
        dirs.append(_SearchDir(Path(env_dir).expanduser() / "mnist", f"${DATA_DIR_ENV}/mnist"))
    dirs.append(_SearchDir(mnist_cache_dir(), "user cache"))
    return dirs


def _find_in(directory: Path, name: str) -> Path | None:
    """``directory/name`` (decompressed, faster) or ``directory/name.gz``, whichever exists."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _short_reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"{error.reason}"
    if isinstance(error, TimeoutError):
        return f"timed out after {_DOWNLOAD_TIMEOUT_S:g} s"
    return f"{type(error).__name__}: {error}"


def _download(name: str, ndim: int, cache_dir: Path) -> tuple[Path | None, list[str]]:
    """Try each mirror; on the first verified copy, save it as ``cache_dir/name.gz``.

    Returns the saved path (or None) and one line per failed attempt.
    """
    failures = []
    for mirror in MNIST_MIRRORS:
        url = f"{mirror}{name}.gz"
        print(f"optlib: downloading {url}", file=sys.stderr)
        try:
            with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
                payload = response.read()
            _decode_mnist_file(payload, name, ndim=ndim, source=url)
        except MnistError as error:
            failures.append(str(error))
            continue
        except (OSError, http.client.HTTPException, ValueError) as error:
            failures.append(f"{url}: {_short_reason(error)}")
            continue
        target = cache_dir / f"{name}.gz"
        try:
            write_atomically(target, payload)
        except OSError as error:
            failures.append(f"{url}: downloaded, but could not write {target}: {error}")
            return None, failures
        return target, failures
    return None, failures


def _missing_message(name: str, dirs: list[_SearchDir], download: bool, failures: list[str]) -> str:
    searched = "\n".join(
        f"  {d.path}  ({d.origin}{'' if d.path.is_dir() else '; does not exist'})" for d in dirs
    )
    env_note = "" if os.environ.get(DATA_DIR_ENV) else f" (${DATA_DIR_ENV} is not set)"
    if not download:
        tried = "Download disabled (download=False)."
    else:
        tried = "Download failed; tried:\n" + "\n".join(f"  {line}" for line in failures)
    all_files = ", ".join(f"{n}.gz" for n in MNIST_FILES)
    return (
        f"MNIST file {name}(.gz) not found.\n"
        f"Searched{env_note}:\n{searched}\n"
        f"{tried}\n"
        f"To fix: put the four files ({all_files}) in a directory DIR/mnist/ and set the "
        f"environment variable {DATA_DIR_ENV}=DIR (layout: ${DATA_DIR_ENV}/mnist/{name}.gz), "
        f"or put them in {mnist_cache_dir()}/. (data_dir=DIR, or --data-dir DIR on the command "
        f"line, means the same as {DATA_DIR_ENV}=DIR.)"
    )


def _locate(name: str, ndim: int, data_dir: str | os.PathLike | None, download: bool) -> Path:
    dirs = _search_dirs(data_dir)
    for search_dir in dirs:
        found = _find_in(search_dir.path, name)
        if found is not None:
            return found
    failures: list[str] = []
    if download:
        saved, failures = _download(name, ndim, mnist_cache_dir())
        if saved is not None:
            return saved
    raise MnistError(_missing_message(name, dirs, download, failures))


@functools.lru_cache(maxsize=8)
def _load_verified(
    path: str, name: str, ndim: int, spec: MnistFileSpec, identity: tuple[int, ...]
) -> Tensor:
    """Read, decompress, parse and verify one file; cached on (path, expected spec, file stat).

    ``identity`` (size, mtime, ctime, inode) makes an edited or replaced file miss the cache.
    The cached uint8 tensor never leaves this module: callers receive converted copies.
    """
    del spec, identity  # part of the cache key only
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise MnistError(f"{path}: cannot read: {error.strerror or error}") from None
    array = _decode_mnist_file(raw, name, ndim=ndim, source=path)
    return torch.from_numpy(array.copy())


def _load_file(path: Path, name: str, ndim: int) -> Tensor:
    try:
        resolved = path.resolve()
        stat = resolved.stat()
    except OSError as error:
        raise MnistError(f"{path}: cannot read: {error.strerror or error}") from None
    identity = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    return _load_verified(str(resolved), name, ndim, MNIST_FILES[name], identity)


def clear_cache() -> None:
    """Forget MNIST arrays cached in this process (the next load re-reads and re-verifies)."""
    _load_verified.cache_clear()


def load_mnist(
    split: str = "train", data_dir: str | os.PathLike | None = None, *, download: bool = True
) -> tuple[Tensor, Tensor]:
    r"""Load an MNIST split as ``(images, labels)``, verified against the official SHA-256.

    Images are ``float32`` of shape ``(N, 784)`` (rows of the 28x28 pictures concatenated),
    with values ``pixel / 255`` in :math:`[0, 1]`; no mean/std normalisation is applied.
    Labels are ``int64`` of shape ``(N,)`` with values 0-9. ``N`` is 60,000 for ``"train"`` and
    10,000 for ``"test"``.

    Each file is looked for, as ``name`` or ``name.gz``, in:

    1. ``data_dir/mnist/`` (if ``data_dir`` is given),
    2. ``$OPTLIB_DATA_DIR/mnist/`` (if the variable is set and non-empty),
    3. the user cache ``$XDG_CACHE_HOME/optlib/mnist/`` (default ``~/.cache/optlib/mnist/``).

    If it is nowhere and ``download`` is true, it is downloaded from :data:`MNIST_MIRRORS`, verified
    and saved (atomically) in the user cache. A file that is found but fails verification is an
    error, never skipped: no silently different dataset.

    Repeat calls in the same process reuse the parsed, verified bytes (keyed on the file's path
    and stat), so they cost only the conversion to float (~0.1 s for the training set). The
    returned tensors are fresh copies: modifying them cannot affect later calls.

    Args:
        split: ``"train"`` or ``"test"``.
        data_dir: optional folder whose ``mnist/`` holds the files (the same meaning as
            ``$OPTLIB_DATA_DIR``), searched first.
        download: whether to download missing files.

    Raises:
        ValueError: ``split`` is not ``"train"`` or ``"test"``.
        MnistError: missing files (the message lists the directories searched and the URLs tried),
            or a file that is not gzip, truncated, has a bad IDX header or the wrong SHA-256.

    Example:
        >>> images, labels = load_mnist("test")  # doctest: +SKIP
        >>> images.shape, images.dtype, labels[:3].tolist()  # doctest: +SKIP
        (torch.Size([10000, 784]), torch.float32, [7, 2, 1])
    """
    images_u8, labels_u8 = load_mnist_uint8(split, data_dir, download)
    return to_float_pixels(images_u8), labels_u8.to(torch.int64)


def to_float_pixels(images_u8: Tensor) -> Tensor:
    """uint8 pixels -> float32 ``pixel / 255`` in a new tensor."""
    return images_u8.to(torch.float32).div_(255.0)


def load_mnist_uint8(
    split: str, data_dir: str | os.PathLike | None, download: bool
) -> tuple[Tensor, Tensor]:
    """Verified ``(images (N, 784), labels (N,))`` as uint8 tensors shared with the cache:
    callers must not modify them (the public functions only read them to make copies)."""
    if split not in _SPLIT_FILES:
        raise ValueError(f"Invalid split: {split!r} (expected 'train' or 'test')")
    images_name, labels_name = _SPLIT_FILES[split]
    images_path = _locate(images_name, 3, data_dir, download)
    labels_path = _locate(labels_name, 1, data_dir, download)
    images_u8 = _load_file(images_path, images_name, 3)
    labels_u8 = _load_file(labels_path, labels_name, 1)
    n_images, n_labels = images_u8.shape[0], labels_u8.shape[0]
    if n_images != n_labels:
        raise MnistError(
            f"MNIST {split} split: {images_path} holds {n_images} images but {labels_path} holds "
            f"{n_labels} labels"
        )
    if n_labels and int(labels_u8.max()) >= _N_CLASSES_MNIST:
        raise MnistError(f"{labels_path}: label {int(labels_u8.max())} is not a digit 0-9")
    return images_u8.reshape(n_images, -1), labels_u8
