"""Tests of optlib.training.mnist: the MNIST loader on small synthetic IDX files, and on the real
files when $OPTLIB_DATA_DIR is set; mnist_splits on the synthetic files."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from optlib import training
from optlib.training import data, mnist

REAL_DATA_DIR = os.environ.get(mnist.DATA_DIR_ENV, "")
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


# --------------------------------------------------------------------------------------------
# Synthetic IDX files
# --------------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Encode a uint8 array as an IDX file (big-endian header, then the bytes)."""
    magic = (0x08 << 8) | array.ndim if magic is None else magic
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_arrays(n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        TRAIN_IMAGES: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: rng.integers(0, 10, n_train, dtype=np.uint8),
        TEST_IMAGES: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        TEST_LABELS: rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def make_official(monkeypatch: pytest.MonkeyPatch, payloads: dict[str, bytes]) -> None:
    """Make these (decompressed) payloads the 'official' files, as far as the loader checks."""
    table = {
        name: mnist.MnistFileSpec(len(payload), hashlib.sha256(payload).hexdigest())
        for name, payload in payloads.items()
    }
    monkeypatch.setattr(mnist, "MNIST_FILES", table)


def write_files(directory: Path, payloads: dict[str, bytes], *, compress: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, payload in payloads.items():
        if compress:
            (directory / f"{name}.gz").write_bytes(gzip.compress(payload, mtime=0))
        else:
            (directory / name).write_bytes(payload)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real cache, no real data dir, no network, no cached arrays from other tests."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv(mnist.DATA_DIR_ENV, raising=False)

    def no_network(url: str, *args: object, **kwargs: object) -> object:
        raise urllib.error.URLError(f"network disabled in tests ({url})")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    mnist.clear_cache()
    yield
    mnist.clear_cache()


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    return make_arrays()


@pytest.fixture
def payloads(arrays: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Decompressed synthetic files, registered as the official ones."""
    encoded = {name: idx_bytes(array) for name, array in arrays.items()}
    make_official(monkeypatch, encoded)
    return encoded


def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "xdg-cache" / "optlib" / "mnist"


# --------------------------------------------------------------------------------------------
# Parsing and round trip
# --------------------------------------------------------------------------------------------


def test_parse_idx_round_trips_images_and_labels(arrays: dict[str, np.ndarray]) -> None:
    images = mnist.parse_idx(idx_bytes(arrays[TRAIN_IMAGES]), ndim=3)
    labels = mnist.parse_idx(idx_bytes(arrays[TRAIN_LABELS]), ndim=1)
    np.testing.assert_array_equal(images, arrays[TRAIN_IMAGES])
    np.testing.assert_array_equal(labels, arrays[TRAIN_LABELS])


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "decompressed"])
def test_load_mnist_returns_scaled_float_images_and_int64_labels(
    tmp_path: Path, arrays: dict[str, np.ndarray], payloads: dict[str, bytes], compress: bool
) -> None:
    write_files(tmp_path / "root" / "mnist", payloads, compress=compress)
    for split, images_name, labels_name in [
        ("train", TRAIN_IMAGES, TRAIN_LABELS),
        ("test", TEST_IMAGES, TEST_LABELS),
    ]:
        images, labels = training.load_mnist(split, tmp_path / "root", download=False)
        expected = torch.from_numpy(arrays[images_name].reshape(-1, 784).astype(np.float32)) / 255
        assert images.dtype == torch.float32 and labels.dtype == torch.int64
        assert images.shape == (len(arrays[labels_name]), 784)
        torch.testing.assert_close(images, expected, rtol=0, atol=0)
        assert labels.tolist() == arrays[labels_name].tolist()


def test_invalid_split_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'validation'"):
        training.load_mnist("validation", download=False)


# --------------------------------------------------------------------------------------------
# Every kind of bad file gives one clear MnistError naming the file
# --------------------------------------------------------------------------------------------


def _flip_one_pixel(payload: bytes) -> bytes:
    return payload[:-1] + bytes([payload[-1] ^ 0xFF])


BAD_FILES = {
    # name: (how to make the bytes on disk from the good payload, file suffix, expected phrases)
    "bad magic": (lambda p: gzip.compress(struct.pack(">I", 2049) + p[4:]), ".gz", ["bad magic"]),
    "truncated data": (
        lambda p: gzip.compress(p[:-100]),
        ".gz",
        ["truncated", str(16 + 6 * 784), str(16 + 6 * 784 - 100)],
    ),
    "truncated gzip": (lambda p: gzip.compress(p)[:-50], ".gz", ["truncated", "gzip"]),
    "not gzip": (lambda p: p, ".gz", ["not a gzip file"]),
    "empty": (lambda p: b"", ".gz", ["not a gzip file", "empty"]),
    "wrong checksum": (
        lambda p: gzip.compress(_flip_one_pixel(p)),
        ".gz",
        ["SHA-256", "expected"],
    ),
    "decompressed, bad magic": (lambda p: b"\x00\x00\x09\x03" + p[4:], "", ["bad magic"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_raises_one_clear_error(
    tmp_path: Path, payloads: dict[str, bytes], case: str
) -> None:
    make_bad, suffix, phrases = BAD_FILES[case]
    root = tmp_path / "root"
    write_files(root / "mnist", payloads)
    (root / "mnist" / f"{TRAIN_IMAGES}.gz").unlink()
    bad_path = root / "mnist" / f"{TRAIN_IMAGES}{suffix}"
    bad_path.write_bytes(make_bad(payloads[TRAIN_IMAGES]))

    with pytest.raises(training.MnistError) as caught:
        training.load_mnist("train", root, download=False)
    message = str(caught.value)
    assert str(bad_path) in message
    for phrase in phrases:
        assert phrase in message
    assert caught.value.__cause__ is None  # no chained low-level traceback


def test_wrong_checksum_message_gives_expected_and_actual_hashes(
    tmp_path: Path, payloads: dict[str, bytes]
) -> None:
    corrupt = _flip_one_pixel(payloads[TRAIN_LABELS])
    write_files(tmp_path / "root" / "mnist", {**payloads, TRAIN_LABELS: corrupt})
    with pytest.raises(training.MnistError) as caught:
        training.load_mnist("train", tmp_path / "root", download=False)
    message = str(caught.value)
    assert mnist.MNIST_FILES[TRAIN_LABELS].sha256 in message
    assert hashlib.sha256(corrupt).hexdigest() in message


def test_official_table_holds_the_readme_values() -> None:
    # The four files of the official release, decompressed sizes = header + pixels/labels.
    sizes = {name: spec.n_bytes for name, spec in mnist.MNIST_FILES.items()}
    assert sizes == {
        TRAIN_IMAGES: 16 + 60_000 * 784,
        TRAIN_LABELS: 8 + 60_000,
        TEST_IMAGES: 16 + 10_000 * 784,
        TEST_LABELS: 8 + 10_000,
    }
    assert all(len(spec.sha256) == 64 for spec in mnist.MNIST_FILES.values())


def test_image_and_label_counts_must_agree(
    tmp_path: Path, arrays: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded = {name: idx_bytes(array) for name, array in arrays.items()}
    encoded[TRAIN_LABELS] = idx_bytes(arrays[TRAIN_LABELS][:-1])
    make_official(monkeypatch, encoded)
    write_files(tmp_path / "root" / "mnist", encoded)
    with pytest.raises(training.MnistError, match=r"6 images but .* 5 labels"):
        training.load_mnist("train", tmp_path / "root", download=False)


# --------------------------------------------------------------------------------------------
# Missing files, downloads, search order
# --------------------------------------------------------------------------------------------


def test_missing_files_without_download_explain_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(training.MnistError) as caught:
        training.load_mnist("train", tmp_path / "nowhere", download=False)
    message = str(caught.value)
    assert TRAIN_IMAGES in message
    assert str(tmp_path / "nowhere") in message  # the root searched
    assert str(cache_dir(tmp_path)) in message  # the user cache searched
    assert "download=False" in message
    assert f"{mnist.DATA_DIR_ENV}=DIR" in message
    assert f"${mnist.DATA_DIR_ENV}/mnist/{TRAIN_IMAGES}.gz" in message
    assert caught.value.__cause__ is None


def test_missing_files_with_failing_network_list_every_url_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_dir = tmp_path / "data"
    monkeypatch.setenv(mnist.DATA_DIR_ENV, str(env_dir))
    with pytest.raises(training.MnistError) as caught:
        training.load_mnist("test")
    message = str(caught.value)
    for mirror in mnist.MNIST_MIRRORS:
        assert f"{mirror}{TEST_IMAGES}.gz: network disabled in tests" in message
    assert str(env_dir / "mnist") in message
    assert mnist.DATA_DIR_ENV in message
    assert not cache_dir(tmp_path).exists() or not any(cache_dir(tmp_path).iterdir())


class FakeResponse(io.BytesIO):
    """What urlopen returns: a readable context manager."""


def serve(files: dict[str, bytes], failing_mirrors: set[str], requested: list[str]):
    def fake_urlopen(url: str, timeout: float | None = None) -> FakeResponse:
        assert timeout is not None and timeout > 0
        requested.append(url)
        if any(url.startswith(mirror) for mirror in failing_mirrors):
            raise urllib.error.HTTPError(url, 403, "Forbidden", hdrs=None, fp=None)
        return FakeResponse(files[url.rsplit("/", 1)[1]])

    return fake_urlopen


def test_download_falls_back_to_the_next_mirror_and_fills_the_cache(
    tmp_path: Path,
    arrays: dict[str, np.ndarray],
    payloads: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gz_files = {f"{name}.gz": gzip.compress(payload) for name, payload in payloads.items()}
    requested: list[str] = []
    first_mirror = mnist.MNIST_MIRRORS[0]
    monkeypatch.setattr(urllib.request, "urlopen", serve(gz_files, {first_mirror}, requested))

    images, labels = training.load_mnist("train")

    assert labels.tolist() == arrays[TRAIN_LABELS].tolist()
    assert images.shape == (6, 784)
    assert requested[:2] == [
        f"{first_mirror}{TRAIN_IMAGES}.gz",
        f"{mnist.MNIST_MIRRORS[1]}{TRAIN_IMAGES}.gz",
    ]
    cached = sorted(path.name for path in cache_dir(tmp_path).iterdir())
    assert cached == [f"{TRAIN_IMAGES}.gz", f"{TRAIN_LABELS}.gz"]  # no temporary files left
    # A second call, even in a fresh process (empty in-memory cache), needs no network.
    mnist.clear_cache()
    monkeypatch.setattr(urllib.request, "urlopen", serve({}, set(mnist.MNIST_MIRRORS), requested))
    n_requests = len(requested)
    assert training.load_mnist("train")[1].tolist() == labels.tolist()
    assert len(requested) == n_requests


def test_download_of_corrupt_files_is_rejected_and_not_cached(
    tmp_path: Path, payloads: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    gz_files = {f"{name}.gz": gzip.compress(_flip_one_pixel(p)) for name, p in payloads.items()}
    monkeypatch.setattr(urllib.request, "urlopen", serve(gz_files, set(), []))
    with pytest.raises(training.MnistError) as caught:
        training.load_mnist("train")
    message = str(caught.value)
    assert message.count("SHA-256") == len(mnist.MNIST_MIRRORS)
    assert not cache_dir(tmp_path).exists() or not any(cache_dir(tmp_path).iterdir())


def test_search_order_is_root_then_env_then_user_cache(
    tmp_path: Path, payloads: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    corrupt = {name: _flip_one_pixel(payload) for name, payload in payloads.items()}
    root, env_data = tmp_path / "root", tmp_path / "env"
    write_files(root / "mnist", payloads)
    write_files(env_data / "mnist", corrupt)
    write_files(cache_dir(tmp_path), payloads)
    monkeypatch.setenv(mnist.DATA_DIR_ENV, str(env_data))

    # root (good) wins over the env dir (corrupt).
    assert training.load_mnist("train", root, download=False)[0].shape == (6, 784)
    # Without root, the env dir comes before the (good) cache: its corrupt file is an error.
    with pytest.raises(training.MnistError, match=str(env_data / "mnist")):
        training.load_mnist("train", download=False)
    # An empty variable counts as unset: the cache is used.
    monkeypatch.setenv(mnist.DATA_DIR_ENV, "")
    assert training.load_mnist("train", download=False)[0].shape == (6, 784)
    # XDG_CACHE_HOME unset: the cache is ~/.cache/optlib/mnist.
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert mnist.mnist_cache_dir() == tmp_path / "home" / ".cache" / "optlib" / "mnist"


def test_repeat_loads_hit_the_memory_cache_and_return_independent_copies(
    tmp_path: Path, payloads: dict[str, bytes]
) -> None:
    root = tmp_path / "root"
    write_files(root / "mnist", payloads)
    images, labels = training.load_mnist("train", root, download=False)
    first = images.clone(), labels.clone()
    images.fill_(-1.0)  # a caller scribbling on its copy
    labels.fill_(-1)
    hits_before = mnist._load_verified.cache_info().hits
    again = training.load_mnist("train", root, download=False)
    assert mnist._load_verified.cache_info().hits == hits_before + 2
    assert torch.equal(again[0], first[0]) and torch.equal(again[1], first[1])
    # A replaced file is noticed (new identity), re-read and re-verified.
    (root / "mnist" / f"{TRAIN_LABELS}.gz").unlink()
    (root / "mnist" / f"{TRAIN_LABELS}.gz").write_bytes(
        gzip.compress(_flip_one_pixel(payloads[TRAIN_LABELS]))
    )
    with pytest.raises(training.MnistError, match="SHA-256"):
        training.load_mnist("train", root, download=False)


# --------------------------------------------------------------------------------------------
# Real MNIST (needs $OPTLIB_DATA_DIR; CI must not skip)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_mnist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[torch.Tensor, ...]]:
    if not REAL_DATA_DIR:
        reason = (
            f"{mnist.DATA_DIR_ENV} is not set (real-MNIST tests read ${mnist.DATA_DIR_ENV}/mnist)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true, so this is an error, not a skip")
        pytest.skip(reason)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        root = Path(REAL_DATA_DIR)  # the folder whose mnist/ holds the files
        return {
            "train": training.load_mnist("train", root, download=False),
            "test": training.load_mnist("test", root, download=False),
        }


def test_real_mnist_shapes_and_ranges(real_mnist: dict[str, tuple[torch.Tensor, ...]]) -> None:
    for split, n_examples in [("train", 60_000), ("test", 10_000)]:
        images, labels = real_mnist[split]
        assert images.shape == (n_examples, 784) and images.dtype == torch.float32
        assert labels.shape == (n_examples,) and labels.dtype == torch.int64
        assert images.min() == 0.0 and images.max() == 1.0


def test_real_mnist_matches_published_facts(
    real_mnist: dict[str, tuple[torch.Tensor, ...]],
) -> None:
    images, labels = real_mnist["train"]
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    class_counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert torch.bincount(labels, minlength=10).tolist() == class_counts
    assert abs(images.double().mean().item() * 255 - 33.318) < 0.001


# --------------------------------------------------------------------------------------------
# The splits, from the files
# --------------------------------------------------------------------------------------------


def test_mnist_splits_layout(tmp_path: Path, payloads: dict[str, bytes]) -> None:
    write_files(tmp_path / "root" / "mnist", payloads)
    splits = training.mnist_splits(val_size=2, seed=1, data_dir=tmp_path / "root", download=False)
    train = data.train_val_split(*training.load_mnist("train", tmp_path / "root"), 2, 1)
    test = training.load_mnist("test", tmp_path / "root")
    assert splits._fields == (*data.Split._fields, "test_x", "test_y")
    for got, expected in zip(splits, (*train, *test), strict=True):
        assert got.dtype == expected.dtype and torch.equal(got, expected)
