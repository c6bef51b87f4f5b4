"""helpers.data: the offline digits split and the opt-in torchvision loader (tested offline, with fakes)."""

from __future__ import annotations

import os
import urllib.error

import pytest
import torch

from helpers import data


def test_digits_split_is_stratified_fixed_and_scaled():
    a, b = data.load_digits(seed=0), data.load_digits(seed=0)
    assert (len(a.y_train), len(a.y_val), len(a.y_test)) == (1079, 359, 359)
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_train, b.y_train)
    assert not torch.equal(data.load_digits(seed=1).y_test, a.y_test)
    assert a.x_train.shape[1:] == (1, 8, 8) and a.x_train.dtype == torch.float32 and a.y_train.dtype == torch.long
    assert a.x_train.min() == 0 and a.x_train.max() == 1
    counts = a.y_test.bincount(minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37, "every class in the same proportion"
    every = torch.cat([a.x_train, a.x_val, a.x_test]).reshape(1797, -1)
    assert len(torch.unique(every, dim=0)) > 1700, "no image used twice"


def test_digits_resize():
    s = data.load_digits(size=16, dtype=torch.float64)
    assert s.x_val.shape[1:] == (1, 16, 16) and s.x_val.dtype == torch.float64
    assert 0 <= s.x_val.min() and s.x_val.max() <= 1


def test_stratified_split_refuses_bad_fractions():
    with pytest.raises(ValueError, match="fractions"):
        data.stratified_split(torch.zeros(10, dtype=torch.long), (0.6, 0.5))


class _FakeMNIST:
    """Stands in for torchvision.datasets.MNIST: `download` writes files, or fails like an offline machine."""

    online = True

    def __init__(self, root, train=True, download=False):
        folder = os.path.join(root, "MNIST")
        if download:
            if not self.online:
                raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
            os.makedirs(folder, exist_ok=True)
            open(os.path.join(folder, f"{'train' if train else 'test'}.pt"), "w").close()
        if not os.path.isdir(folder):
            raise RuntimeError("Dataset not found")
        n = 60 if train else 20
        self.data = (torch.arange(n * 28 * 28) % 256).reshape(n, 28, 28).to(torch.uint8)
        self.targets = torch.arange(n) % 10


@pytest.fixture
def fake_torchvision(monkeypatch):
    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "MNIST", _FakeMNIST)
    yield _FakeMNIST
    _FakeMNIST.online = True


def test_torchvision_loader_offline_gives_a_clear_message_and_leaves_nothing(fake_torchvision, tmp_path):
    with pytest.raises(data.DatasetUnavailable, match="download=True"):
        data.load_torchvision("MNIST", root=tmp_path)
    fake_torchvision.online = False
    with pytest.raises(data.DatasetUnavailable, match="offline.*load_digits"):
        data.load_torchvision("MNIST", root=tmp_path, download=True)
    assert os.listdir(tmp_path) == [], "a failed download leaves no partial folder"


def test_torchvision_loader_downloads_atomically_and_splits(fake_torchvision, tmp_path):
    split = data.load_torchvision("MNIST", root=tmp_path, download=True, limit=30)
    assert sorted(os.listdir(tmp_path)) == ["MNIST"] and sorted(os.listdir(tmp_path / "MNIST")) == ["test.pt", "train.pt"]
    assert (len(split.y_train), len(split.y_val), len(split.y_test)) == (30, 10, 20)
    assert split.x_train.shape[1:] == (1, 28, 28) and 0 <= split.x_train.min() and split.x_train.max() <= 1
    again = data.load_torchvision("MNIST", root=tmp_path)   # on disk now: no download needed
    assert torch.equal(again.x_test, split.x_test)


def test_torchvision_loader_refuses_unknown_names():
    with pytest.raises(ValueError, match="name"):
        data.load_torchvision("CIFAR10")


def test_the_digits_are_scikit_learns_read_without_importing_it():
    """The file scikit-learn ships, read as its loader reads it, in a kernel that never imports it."""
    import subprocess
    import sys

    import numpy as np
    from sklearn.datasets import load_digits as sklearn_digits

    images, target = data._digits_arrays()
    bunch = sklearn_digits()
    assert np.array_equal(images, bunch.images) and np.array_equal(target, bunch.target)
    probe = "import sys, helpers.data as d; d.load_digits(); print('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "False"
