"""helpers.data.load_fashion_mnist and scripts/build_fashion_subset.py: Fashion-MNIST offline.

The shipped subset is always tested; the tests that need the Debian package's files
(``dataset-fashion-mnist``) skip where it is not installed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys

import numpy as np
import pytest
import torch

from helpers import data as d
from test_conv import refusals

REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
debian = pytest.mark.skipif(not d._debian_present(), reason="the Debian package dataset-fashion-mnist is not installed")


@pytest.mark.parametrize("split,n", [("train", 12_000), ("test", 2_000)])
def test_subset_shapes_range_balance_and_source(split, n, capsys):
    f = d.load_fashion_mnist(split, source="subset")
    assert "the subset shipped with the course" in capsys.readouterr().out
    assert f.source == "subset" and f.classes == d.FASHION_CLASSES and len(f.classes) == 10
    assert f.images.shape == (n, 1, 28, 28) and f.images.dtype == torch.float32
    assert f.labels.shape == (n,) and f.labels.dtype == torch.int64
    assert f.images.min() == 0 and f.images.max() == 1
    assert f.labels.bincount().tolist() == [n // 10] * 10
    assert f.labels[:50].unique().numel() > 5, "the subset is shuffled, so a prefix holds every class"


def test_manifest_records_the_shipped_file_and_the_licence_ships():
    with open(d.FASHION_MANIFEST) as fh:
        manifest = json.load(fh)
    assert manifest["output"]["sha256"] == d.sha256_file(d.FASHION_SUBSET)
    assert manifest["output"]["bytes"] == os.path.getsize(d.FASHION_SUBSET) < 8_000_000
    assert set(manifest["sources_sha256"]) == {name for pair in d.FASHION_FILES.values() for name in pair}
    with open(os.path.join(d.FASHION_SUBSET_DIR, "LICENSE")) as fh:
        licence = fh.read()
    assert "MIT" in licence and "Zalando SE" in licence and "zalandoresearch/fashion-mnist" in licence


def test_per_class_is_a_seeded_stratified_choice():
    a = d.load_fashion_mnist("train", source="subset", per_class=10, seed=3, verbose=False)
    b = d.load_fashion_mnist("train", source="subset", per_class=10, seed=3, verbose=False)
    c = d.load_fashion_mnist("train", source="subset", per_class=10, seed=4, verbose=False)
    assert a.images.shape == (100, 1, 28, 28) and a.labels.bincount().tolist() == [10] * 10
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    assert d.load_fashion_mnist("test", source="subset", dtype=torch.float64, verbose=False).images.dtype == torch.float64


def test_damaged_subset_is_refused(tmp_path, monkeypatch):
    damaged = tmp_path / "fashion_subset.npz"
    damaged.write_bytes(open(d.FASHION_SUBSET, "rb").read()[:-1] + b"x")
    monkeypatch.setattr(d, "FASHION_SUBSET", str(damaged))
    d._fashion_arrays.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="does not match the SHA-256"):
            d.load_fashion_mnist("test", source="subset")
    finally:
        d._fashion_arrays.cache_clear()


def test_auto_uses_the_subset_without_the_debian_files(monkeypatch, capsys):
    monkeypatch.setattr(d, "FASHION_DEBIAN_DIR", "/nonexistent/fashion-mnist")
    assert d.load_fashion_mnist("test").source == "subset"
    with pytest.raises(d.DatasetUnavailable, match="apt-get install dataset-fashion-mnist"):
        d.load_fashion_mnist("test", source="debian")


def _idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">i4").tobytes()
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_round_trip_and_bad_files(tmp_path):
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    _idx(str(tmp_path / "x.gz"), images)
    assert np.array_equal(d.read_idx(str(tmp_path / "x.gz")), images)
    (tmp_path / "bad").write_bytes(b"\0\0\x0d\x01" + bytes(8))
    with pytest.raises(ValueError, match="not a uint8 idx file"):
        d.read_idx(str(tmp_path / "bad"))
    (tmp_path / "short").write_bytes(b"\0\0\x08\x01" + np.asarray([5], ">i4").tobytes() + bytes(3))
    with pytest.raises(ValueError, match="declares shape"):
        d.read_idx(str(tmp_path / "short"))


@debian
def test_debian_full_set_is_used_when_present(capsys):
    f = d.load_fashion_mnist("test")
    assert f.source == "debian" and "Debian package" in capsys.readouterr().out
    assert f.images.shape == (10_000, 1, 28, 28) and f.labels.bincount().tolist() == [1000] * 10


@debian
def test_subset_images_are_the_recorded_debian_images():
    with open(d.FASHION_MANIFEST) as fh:
        manifest = json.load(fh)
    for name, digest in manifest["sources_sha256"].items():
        with open(os.path.join(d.FASHION_DEBIAN_DIR, name), "rb") as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == digest, name
    full = d.load_fashion_mnist("test", source="debian", verbose=False)
    with np.load(d.FASHION_SUBSET) as arrays:
        index = torch.from_numpy(arrays["index_test"].astype(np.int64))
        assert torch.equal(full.images[index], torch.from_numpy(arrays["x_test"]).float()[:, None] / 255)
        assert torch.equal(full.labels[index], torch.from_numpy(arrays["y_test"].astype(np.int64)))


@debian
def test_build_script_selects_the_shipped_subset():
    """The script's seeded choice gives the shipped arrays (``--check`` also compares the bytes)."""
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    try:
        import build_fashion_subset as script
    finally:
        sys.path.pop(0)
    arrays, sources = script.select()
    with open(d.FASHION_MANIFEST) as fh:
        assert json.load(fh)["sources_sha256"] == sources
    with np.load(d.FASHION_SUBSET) as shipped:
        assert sorted(shipped.files) == sorted(arrays)
        for name, array in arrays.items():
            assert np.array_equal(shipped[name], array) and shipped[name].dtype == array.dtype, name


BAD_INPUTS = [
    (lambda: d.load_fashion_mnist("val"), ValueError, "load_fashion_mnist: split must be one of"),
    (lambda: d.load_fashion_mnist(source="web"), ValueError, "load_fashion_mnist: source must be one of"),
    (lambda: d.load_fashion_mnist(per_class=0), ValueError, "load_fashion_mnist: per_class must be >= 1"),
    (lambda: d.load_fashion_mnist(dtype=torch.int64), TypeError, "load_fashion_mnist: dtype must be a floating"),
    (lambda: d.load_fashion_mnist(verbose=1), TypeError, "load_fashion_mnist: verbose must be True or False"),
]


@refusals(BAD_INPUTS)
def test_bad_input_is_refused_with_a_message_naming_function_and_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
