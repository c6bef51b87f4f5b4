"""helpers.device: device choice, seeding and the budget switch."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from helpers import device as hd

ENV_VARS = ("CI", "NBGRADER_EXECUTION", "COURSE_BUDGET", "COURSE_DEVICE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Start every test from an environment without the variables the module reads."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


# ------------------------------------------------------------------------------ devices
def test_available_devices_lists_cpu_first_then_every_gpu():
    devices = hd.available_devices()
    assert devices[0] == torch.device("cpu")
    assert all(isinstance(d, torch.device) for d in devices)
    cuda = [d for d in devices if d.type == "cuda"]
    expected = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert cuda == [torch.device("cuda", i) for i in range(expected)]


def test_device_fixture_yields_a_usable_device(device):
    assert device in hd.available_devices()
    assert torch.ones(2, device=device).device.type == device.type


def test_get_device_honours_course_device_cpu(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert hd.get_device() == torch.device("cpu")


def test_get_device_argument_wins_over_environment(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cuda" if not torch.cuda.is_available() else "cpu")
    assert hd.get_device("cpu") == torch.device("cpu")


def test_get_device_default_prefers_an_accelerator():
    expected = (torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available()
                else torch.device("mps") if hd._mps_available() else torch.device("cpu"))
    assert hd.get_device() == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present, so 'cuda' is a valid choice")
def test_get_device_refuses_cuda_when_absent():
    with pytest.raises(ValueError, match=r"get_device: preferred='cuda'.*CUDA is not available"):
        hd.get_device("cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present, so 'cuda' is a valid choice")
def test_get_device_refuses_cuda_from_environment_when_absent(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cuda:0")
    with pytest.raises(ValueError, match=r"get_device: preferred='cuda:0'.*COURSE_DEVICE"):
        hd.get_device()


@pytest.mark.skipif(hd._mps_available(), reason="MPS is present, so 'mps' is a valid choice")
def test_get_device_refuses_mps_when_absent():
    with pytest.raises(ValueError, match=r"get_device: preferred='mps'.*MPS is not available"):
        hd.get_device("mps")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_get_device_cuda_when_present():
    assert hd.get_device("cuda").type == "cuda"


# ------------------------------------------------------------------------------ seeding
def test_seed_everything_makes_torch_randn_repeatable(device):
    hd.seed_everything(123)
    first = torch.randn(6, device=device)
    hd.seed_everything(123)
    second = torch.randn(6, device=device)
    hd.seed_everything(124)
    other = torch.randn(6, device=device)
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_seed_everything_seeds_python_and_numpy_too():
    hd.seed_everything(7)
    a = (random.random(), np.random.rand(3))
    hd.seed_everything(7)
    b = (random.random(), np.random.rand(3))
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


def test_seed_everything_returns_a_seeded_generator():
    gen = hd.seed_everything(11)
    assert isinstance(gen, torch.Generator)
    expected = torch.randn(4, generator=torch.Generator().manual_seed(11))
    assert torch.equal(torch.randn(4, generator=gen), expected)


@pytest.mark.parametrize("bad", [1.5, "3", None, True])
def test_seed_everything_rejects_a_non_int(bad):
    with pytest.raises(TypeError, match=r"seed_everything: seed must be an int"):
        hd.seed_everything(bad)


# ------------------------------------------------------------------------------- budget
def test_budget_is_full_by_default():
    assert hd.budget() == "full"
    assert hd.is_fast() is False


def test_budget_is_fast_under_nbgrader(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert hd.budget() == "fast"
    assert hd.is_fast() is True


@pytest.mark.parametrize("value, running", [("autograde", True), ("validate", True), ("", False), (None, False)])
def test_under_nbgrader_follows_nbgrader_execution_not_ci(monkeypatch, value, running):
    monkeypatch.setenv("CI", "true")
    if value is not None:
        monkeypatch.setenv("NBGRADER_EXECUTION", value)
    assert hd.under_nbgrader() is running


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes"])
def test_budget_is_fast_in_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert hd.budget() == "fast"


@pytest.mark.parametrize("value", ["", "false", "0"])
def test_budget_stays_full_when_ci_is_off(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert hd.budget() == "full"


def test_course_budget_full_overrides_nbgrader_and_ci(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("COURSE_BUDGET", "full")
    assert hd.budget() == "full"


def test_course_budget_fast_overrides_default(monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", " Fast ")
    assert hd.budget() == "fast"


def test_unknown_course_budget_is_ignored(monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "turbo")
    assert hd.budget() == "full"
    monkeypatch.setenv("CI", "true")
    assert hd.budget() == "fast"


def test_pick_follows_the_budget(monkeypatch):
    assert hd.pick(full=200, fast=20) == 200
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert hd.pick(full=200, fast=20) == 20
    monkeypatch.setenv("COURSE_BUDGET", "full")
    assert hd.pick(full="big", fast="small") == "big"
