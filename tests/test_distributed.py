"""Data-parallel training (skmmae.distributed): real torchrun processes on the gloo backend."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from skmmae import MultimodalAutoencoder
from skmmae.distributed import DataParallel
from skmmae.options import Speed
from skmmae.privacy import DifferentialPrivacy

import torchrun_fit

SCRIPT = Path(__file__).with_name("torchrun_fit.py")


def torchrun(n_processes, out, device="cpu"):
    """Run tests/torchrun_fit.py as ``n_processes`` processes; their output is in ``out``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={n_processes}", str(SCRIPT), str(out), device,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("torchrun")
    torchrun(2, out)
    return out


@pytest.fixture(scope="module")
def one_process():
    """The same estimators, fitted in this process without data parallelism."""
    X = torchrun_fit.training_data()
    return {case: torchrun_fit.estimator(verbose=0, **params).fit(X) for case, params in torchrun_fit.CASES.items()}


@pytest.mark.parametrize("case", list(torchrun_fit.CASES))
def test_two_processes_follow_the_loss_curve_of_one(two_processes, one_process, case):
    histories = [json.loads((two_processes / f"rank{r}_{case}.json").read_text()) for r in (0, 1)]
    # Every process ends with the same history, of the global batches.
    assert histories[0] == histories[1]
    expected = torchrun_fit.history_of(one_process[case])
    sizes = [torchrun_fit.BATCH_SIZE] * 6 + [1]
    for row, single in zip(histories[0], expected, strict=True):
        assert row["batch_sizes"] == single["batch_sizes"] == sizes
        np.testing.assert_allclose(row["train_loss"], single["train_loss"], rtol=1e-5)
        for name in ("fou", "kar"):  # "kar" is missing in some samples
            np.testing.assert_allclose(row["train_losses"][name], single["train_losses"][name], rtol=1e-5)


@pytest.mark.parametrize("case", list(torchrun_fit.CASES))
def test_the_fitted_estimator_of_rank_0_is_usable(two_processes, one_process, case):
    X, single = torchrun_fit.training_data(), one_process[case]
    ae = pickle.loads((two_processes / f"{case}.pkl").read_bytes())
    np.testing.assert_allclose(ae.transform(X), single.transform(X), atol=1e-5)
    predicted = ae.predict_modality({"fou": X["fou"]}, "kar")
    np.testing.assert_allclose(predicted, single.predict_modality({"fou": X["fou"]}, "kar"), atol=1e-4)


def test_only_rank_0_prints(two_processes):
    assert "train_loss" in (two_processes / "rank0.log").read_text()
    assert (two_processes / "rank1.log").read_text() == ""


@pytest.fixture
def group_of_one():
    """A gloo process group of this process alone, as ``torchrun --nproc_per_node 1`` gives."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_one_process_group_trains_as_without_data_parallel(group_of_one, blocks):
    # The defaults' dropout, noise and modality dropout draw the same
    # numbers: one process of a group changes nothing.
    params = dict(encoding_dim=2, hidden_dims=(8,), max_epochs=3, batch_size=8, random_state=0)
    plain = MultimodalAutoencoder(**params).fit(blocks)
    parallel = MultimodalAutoencoder(**params, data_parallel=DataParallel()).fit(blocks)
    assert parallel.net_.history[:, "train_loss"] == plain.net_.history[:, "train_loss"]
    np.testing.assert_array_equal(parallel.transform(blocks), plain.transform(blocks))
    # The net counts locally again after the fit.
    assert parallel.net_.criterion_.sum_over_processes is None


def test_outside_torchrun_is_a_clear_error(monkeypatch, blocks):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    ae = MultimodalAutoencoder(2, max_epochs=1, data_parallel=True)
    with pytest.raises(RuntimeError, match="not started by torchrun"):
        ae.fit(blocks)
    assert not hasattr(ae, "net_")


@pytest.mark.parametrize(
    "params, match",
    [
        ({"privacy": DifferentialPrivacy(3.0)}, "cannot train privately"),
        ({"speed": Speed(cuda_graphs=True)}, "cuda_graphs"),
    ],
)
def test_settings_that_cannot_be_distributed_are_refused(blocks, params, match):
    with pytest.raises(ValueError, match=match):
        MultimodalAutoencoder(2, max_epochs=1, data_parallel=True, **params).fit(blocks)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_one_process_per_gpu_on_nccl(tmp_path):
    # As many processes as GPUs, each on cuda:LOCAL_RANK, the group on NCCL.
    torchrun(torch.cuda.device_count(), tmp_path, device="cuda")
    ae = pickle.loads((tmp_path / "mean.pkl").read_bytes())
    assert ae.device_.type == "cuda" and ae.device_.index == 0
    single = torchrun_fit.estimator(verbose=0, device="cuda").fit(torchrun_fit.training_data())
    expected = [row["train_loss"] for row in torchrun_fit.history_of(single)]
    history = json.loads((tmp_path / "rank0_mean.json").read_text())
    np.testing.assert_allclose([row["train_loss"] for row in history], expected, rtol=1e-4)
