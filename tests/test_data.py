"""Tests of optlib.data: the MNIST loader (on small synthetic IDX files, and on the real files
when $OPTLIB_DATA_DIR is set), the train/validation split and the sparse-feature generator."""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from optlib import training
from optlib.training import data

REAL_DATA_DIR = os.environ.get(data.DATA_DIR_ENV, "")
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
        name: data.MnistFileSpec(len(payload), hashlib.sha256(payload).hexdigest())
        for name, payload in payloads.items()
    }
    monkeypatch.setattr(data, "MNIST_FILES", table)


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
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)

    def no_network(url: str, *args: object, **kwargs: object) -> object:
        raise urllib.error.URLError(f"network disabled in tests ({url})")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    data.clear_cache()
    yield
    data.clear_cache()


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
    images = data.parse_idx(idx_bytes(arrays[TRAIN_IMAGES]), ndim=3)
    labels = data.parse_idx(idx_bytes(arrays[TRAIN_LABELS]), ndim=1)
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
    assert data.MNIST_FILES[TRAIN_LABELS].sha256 in message
    assert hashlib.sha256(corrupt).hexdigest() in message


def test_official_table_holds_the_readme_values() -> None:
    # The four files of the official release, decompressed sizes = header + pixels/labels.
    sizes = {name: spec.n_bytes for name, spec in data.MNIST_FILES.items()}
    assert sizes == {
        TRAIN_IMAGES: 16 + 60_000 * 784,
        TRAIN_LABELS: 8 + 60_000,
        TEST_IMAGES: 16 + 10_000 * 784,
        TEST_LABELS: 8 + 10_000,
    }
    assert all(len(spec.sha256) == 64 for spec in data.MNIST_FILES.values())


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
    assert f"{data.DATA_DIR_ENV}=DIR" in message
    assert f"${data.DATA_DIR_ENV}/mnist/{TRAIN_IMAGES}.gz" in message
    assert caught.value.__cause__ is None


def test_missing_files_with_failing_network_list_every_url_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_dir = tmp_path / "data"
    monkeypatch.setenv(data.DATA_DIR_ENV, str(env_dir))
    with pytest.raises(training.MnistError) as caught:
        training.load_mnist("test")
    message = str(caught.value)
    for mirror in data.MNIST_MIRRORS:
        assert f"{mirror}{TEST_IMAGES}.gz: network disabled in tests" in message
    assert str(env_dir / "mnist") in message
    assert data.DATA_DIR_ENV in message
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
    first_mirror = data.MNIST_MIRRORS[0]
    monkeypatch.setattr(urllib.request, "urlopen", serve(gz_files, {first_mirror}, requested))

    images, labels = training.load_mnist("train")

    assert labels.tolist() == arrays[TRAIN_LABELS].tolist()
    assert images.shape == (6, 784)
    assert requested[:2] == [
        f"{first_mirror}{TRAIN_IMAGES}.gz",
        f"{data.MNIST_MIRRORS[1]}{TRAIN_IMAGES}.gz",
    ]
    cached = sorted(path.name for path in cache_dir(tmp_path).iterdir())
    assert cached == [f"{TRAIN_IMAGES}.gz", f"{TRAIN_LABELS}.gz"]  # no temporary files left
    # A second call, even in a fresh process (empty in-memory cache), needs no network.
    data.clear_cache()
    monkeypatch.setattr(urllib.request, "urlopen", serve({}, set(data.MNIST_MIRRORS), requested))
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
    assert message.count("SHA-256") == len(data.MNIST_MIRRORS)
    assert not cache_dir(tmp_path).exists() or not any(cache_dir(tmp_path).iterdir())


def test_search_order_is_root_then_env_then_user_cache(
    tmp_path: Path, payloads: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    corrupt = {name: _flip_one_pixel(payload) for name, payload in payloads.items()}
    root, env_data = tmp_path / "root", tmp_path / "env"
    write_files(root / "mnist", payloads)
    write_files(env_data / "mnist", corrupt)
    write_files(cache_dir(tmp_path), payloads)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(env_data))

    # root (good) wins over the env dir (corrupt).
    assert training.load_mnist("train", root, download=False)[0].shape == (6, 784)
    # Without root, the env dir comes before the (good) cache: its corrupt file is an error.
    with pytest.raises(training.MnistError, match=str(env_data / "mnist")):
        training.load_mnist("train", download=False)
    # An empty variable counts as unset: the cache is used.
    monkeypatch.setenv(data.DATA_DIR_ENV, "")
    assert training.load_mnist("train", download=False)[0].shape == (6, 784)
    # XDG_CACHE_HOME unset: the cache is ~/.cache/optlib/mnist.
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data.mnist_cache_dir() == tmp_path / "home" / ".cache" / "optlib" / "mnist"


def test_repeat_loads_hit_the_memory_cache_and_return_independent_copies(
    tmp_path: Path, payloads: dict[str, bytes]
) -> None:
    root = tmp_path / "root"
    write_files(root / "mnist", payloads)
    images, labels = training.load_mnist("train", root, download=False)
    first = images.clone(), labels.clone()
    images.fill_(-1.0)  # a caller scribbling on its copy
    labels.fill_(-1)
    hits_before = data._load_verified.cache_info().hits
    again = training.load_mnist("train", root, download=False)
    assert data._load_verified.cache_info().hits == hits_before + 2
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
            f"{data.DATA_DIR_ENV} is not set (real-MNIST tests read ${data.DATA_DIR_ENV}/mnist)"
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
# Train / validation split
# --------------------------------------------------------------------------------------------


def test_train_val_split_is_deterministic_disjoint_and_complete() -> None:
    ids = torch.arange(1000)
    images, labels = ids[:, None].repeat(1, 3).float(), ids % 10
    split = data.train_val_split(images, labels, val_size=200, seed=3)
    again = data.train_val_split(images, labels, val_size=200, seed=3)
    other = data.train_val_split(images, labels, val_size=200, seed=4)

    assert all(torch.equal(a, b) for a, b in zip(split, again, strict=True))
    assert not torch.equal(split.val_y, other.val_y) or not torch.equal(split.val_x, other.val_x)
    train_ids, val_ids = split.train_x[:, 0].long(), split.val_x[:, 0].long()
    assert len(val_ids) == 200 and len(train_ids) == 800
    assert set(train_ids.tolist()).isdisjoint(val_ids.tolist())
    assert sorted(train_ids.tolist() + val_ids.tolist()) == list(range(1000))
    assert torch.equal(split.train_y, train_ids % 10) and torch.equal(split.val_y, val_ids % 10)


def test_train_val_split_does_not_touch_the_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    data.train_val_split(torch.zeros(50, 2), torch.zeros(50), val_size=10)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    ("images", "labels", "val_size", "match"),
    [
        (torch.zeros(10, 2), torch.zeros(9), 2, "differ in length"),
        (torch.zeros(10, 2), torch.zeros(10), 10, "val_size"),
        (torch.zeros(10, 2), torch.zeros(10), -1, "val_size"),
        (torch.zeros(10, 2), torch.zeros(10), 2.5, "val_size"),
    ],
)
def test_train_val_split_validates_arguments(images, labels, val_size, match) -> None:
    with pytest.raises(ValueError, match=match):
        data.train_val_split(images, labels, val_size=val_size)


def test_mnist_splits_layout(tmp_path: Path, payloads: dict[str, bytes]) -> None:
    write_files(tmp_path / "root" / "mnist", payloads)
    splits = training.mnist_splits(val_size=2, seed=1, data_dir=tmp_path / "root", download=False)
    train = data.train_val_split(*training.load_mnist("train", tmp_path / "root"), 2, 1)
    test = training.load_mnist("test", tmp_path / "root")
    assert splits._fields == (*data.Split._fields, "test_x", "test_y")
    for got, expected in zip(splits, (*train, *test), strict=True):
        assert got.dtype == expected.dtype and torch.equal(got, expected)


# --------------------------------------------------------------------------------------------
# Synthetic sparse features
# --------------------------------------------------------------------------------------------


def test_zipf_frequencies_follow_the_power_law_and_sum_to_mean_active() -> None:
    frequency = training.zipf_feature_frequency(3000, zipf_exponent=1.2, mean_active=15.0).double()
    assert math.isclose(frequency.sum().item(), 15.0, rel_tol=1e-5)
    assert bool((frequency[1:] <= frequency[:-1]).all())
    unclipped = torch.nonzero(frequency < 1).squeeze(1)
    assert len(unclipped) > 2900
    # p_j (j+1)^s is the same constant c for every unclipped feature.
    constant = frequency[unclipped] * (unclipped.double() + 1) ** 1.2
    torch.testing.assert_close(constant, constant.mean().expand_as(constant), rtol=1e-6, atol=0)


def test_sparse_dataset_is_deterministic_and_well_formed() -> None:
    first = training.make_sparse_classification(3000, n_features=400, n_classes=3, seed=7)
    again = training.make_sparse_classification(3000, n_features=400, n_classes=3, seed=7)
    other = training.make_sparse_classification(3000, n_features=400, n_classes=3, seed=8)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first.x, other.x)
    assert first.x.shape == (3000, 400) and first.x.dtype == torch.float32
    assert first.y.shape == (3000,) and first.y.dtype == torch.int64
    assert set(first.x.unique().tolist()) == {0.0, 1.0}
    assert set(first.y.unique().tolist()) == {0, 1, 2}
    # The teacher depends on the seed only, not on the number of samples.
    assert torch.equal(
        training.make_sparse_classification(10, n_features=400, n_classes=3, seed=7).teacher_weight,
        first.teacher_weight,
    )


def test_sparse_features_appear_with_their_zipf_frequencies() -> None:
    n_samples = 20_000
    dataset = training.make_sparse_classification(
        n_samples, n_features=500, mean_active=10.0, seed=1
    )
    empirical = dataset.x.mean(dim=0).double()
    p = dataset.feature_frequency.double()
    z_scores = (empirical - p) / (p * (1 - p) / n_samples).clamp_min(1e-12).sqrt()
    assert z_scores.abs().max() < 5.5  # 500 features: |z| > 5.5 has probability ~2e-5
    assert abs(dataset.x.sum(dim=1).mean().item() - 10.0) < 0.15  # sd of the mean ~0.02
    # Empirical frequencies of feature ranks 10 vs 100 differ by the law's factor 10^s, s=1.
    ratio = empirical[9:11].sum() / empirical[99:101].sum()
    assert 7 < ratio.item() < 14


def _held_out_accuracy(x: torch.Tensor, y: torch.Tensor, n_train: int) -> float:
    """Accuracy on rows n_train: of a linear student fitted on the first n_train rows.

    The student (binary labels) weights feature j by the difference of its class-conditional
    frequencies divided by its overall frequency: a closed-form, naive-Bayes-like fit.
    """
    x_train, y_train = x[:n_train], y[:n_train]
    frequency = x_train.mean(dim=0)
    difference = x_train[y_train == 1].mean(dim=0) - x_train[y_train == 0].mean(dim=0)
    weight = difference / frequency.clamp_min(1e-6)
    predicted = ((x[n_train:] - frequency) @ weight > 0).long()
    return (predicted == y[n_train:]).double().mean().item()


@pytest.mark.parametrize("seed", [0, 1])
def test_rare_features_carry_the_signal(seed: int) -> None:
    dataset = training.make_sparse_classification(8000, n_features=400, mean_active=10.0, seed=seed)
    common, rare = slice(0, 40), slice(40, 400)  # the 10% most frequent features vs the rest
    # The teacher weights rare features more.
    weight_size = dataset.teacher_weight.abs().mean(dim=1)
    assert weight_size[rare].mean() > 2 * weight_size[common].mean()
    # A student that sees only rare features beats one that sees only common ones by far.
    accuracy_common = _held_out_accuracy(dataset.x[:, common], dataset.y, 6000)
    accuracy_rare = _held_out_accuracy(dataset.x[:, rare], dataset.y, 6000)
    assert accuracy_rare > 0.75
    assert accuracy_rare > accuracy_common + 0.15
    # Control: with equal teacher weights (weight_power=0) rare features lose most of that edge.
    flat = training.make_sparse_classification(
        8000, n_features=400, mean_active=10.0, seed=seed, weight_power=0.0
    )
    flat_common = _held_out_accuracy(flat.x[:, common], flat.y, 6000)
    flat_rare = _held_out_accuracy(flat.x[:, rare], flat.y, 6000)
    assert accuracy_rare - accuracy_common > flat_rare - flat_common + 0.15


def test_label_noise_flips_the_expected_fraction() -> None:
    clean = training.make_sparse_classification(20_000, n_features=300, n_classes=4, seed=5)
    noisy = training.make_sparse_classification(
        20_000, n_features=300, n_classes=4, seed=5, label_noise=0.2
    )
    assert torch.equal(clean.x, noisy.x)
    changed = (clean.y != noisy.y).double().mean().item()
    assert abs(changed - 0.2 * 3 / 4) < 0.015  # a random class equals the old one 1/4 of the time


def test_sparse_splits_share_one_teacher_in_the_mnist_layout() -> None:
    splits = training.sparse_splits(300, 100, 50, n_features=200, seed=4)
    full = training.make_sparse_classification(450, n_features=200, seed=4)
    assert splits._fields == data.MnistSplits._fields
    assert [len(t) for t in splits] == [300, 300, 100, 100, 50, 50]
    assert torch.equal(torch.cat([splits.train_x, splits.val_x, splits.test_x]), full.x)
    assert torch.equal(torch.cat([splits.train_y, splits.val_y, splits.test_y]), full.y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 10, "n_classes": 1}, "n_classes"),
        ({"n_samples": 10, "n_features": 10, "mean_active": 10.0}, "mean_active"),
        ({"n_samples": 10, "zipf_exponent": -1.0}, "zipf_exponent"),
        ({"n_samples": 10, "weight_power": -0.5}, "weight_power"),
        ({"n_samples": 10, "label_noise": 1.5}, "label_noise"),
    ],
)
def test_sparse_generator_validates_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        training.make_sparse_classification(**kwargs)
