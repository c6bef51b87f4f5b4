"""Shared fixtures: every device-agnostic test runs once per device present on this machine."""

from __future__ import annotations

import pytest
import torch

from helpers.device import available_devices


@pytest.fixture(params=available_devices(), ids=str)
def device(request) -> torch.device:
    """Each device torch can use here: ``cpu`` always, then ``cuda:0``, ``cuda:1``, ..., ``mps``."""
    return request.param
