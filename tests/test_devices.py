"""digitpad.devices: the device choice as a torch.device, and one clear error for a device this machine lacks."""

import pytest
import torch

from digitpad import devices
from digitpad.config import DEVICES, ConfigError, TrainConfig

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = devices._mps_available()


def test_auto_takes_the_most_preferred_device_there_is():
    found = devices.available()
    assert found[-1] == "cpu" and set(found) <= set(DEVICES)
    expected = "cuda" if HAS_CUDA else "mps" if HAS_MPS else "cpu"
    assert found[0] == expected
    assert devices.resolve("auto").type == expected
    assert devices.resolve("cpu") == torch.device("cpu")


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA")
def test_cuda_without_cuda_is_one_clear_error():
    with pytest.raises(devices.DeviceError, match="'cuda' is not available.*Choose 'cpu' or 'auto'"):
        devices.resolve("cuda")


@pytest.mark.skipif(HAS_MPS, reason="this machine has MPS")
def test_mps_without_mps_is_one_clear_error():
    with pytest.raises(devices.DeviceError, match="'mps' is not available"):
        devices.resolve("mps")


@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_cuda_gives_each_local_rank_its_own_gpu():
    assert devices.resolve("cuda") == torch.device("cuda", 0)
    assert devices.describe(devices.resolve("cuda")).startswith("CUDA GPU 0 (")
    with pytest.raises(devices.DeviceError, match="start fewer processes"):
        devices.resolve("cuda", local_rank=torch.cuda.device_count())


@pytest.mark.skipif(not HAS_MPS, reason="needs MPS")
def test_mps_resolves_when_there():
    assert devices.resolve("mps").type == "mps"
    assert devices.describe(torch.device("mps")) == "Apple GPU (MPS)"


def test_unknown_choices_are_refused():
    with pytest.raises(devices.DeviceError, match="unknown device 'tpu'"):
        devices.resolve("tpu")
    with pytest.raises(ConfigError, match="unknown device"):
        TrainConfig(device="gpu")
    assert TrainConfig().device == "auto"


def test_describe_names_the_cpu():
    assert devices.describe(torch.device("cpu")) == "CPU"
