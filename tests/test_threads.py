"""The estimator's thread budget: torch's CPU threads in its methods, per calling thread."""

import contextlib
import threading

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed, parallel_config
from skorch.callbacks import Callback
from threadpoolctl import threadpool_limits

import skmmae._threads as threads_module
from skmmae import MultimodalAutoencoder
from skmmae._threads import default_threads, thread_budget, usable_cpus
from skmmae.options import Speed


def blocks(n=40):
    rng = np.random.default_rng(0)
    return {"a": rng.normal(size=(n, 4)), "b": rng.normal(size=(n, 3))}


class RecordThreads(Callback):
    def __init__(self):
        self.seen = []

    def on_epoch_begin(self, net, **kwargs):
        self.seen.append(torch.get_num_threads())


def threads_in_fit_and_transform(**params):
    """torch's threads seen in training and in an encoder's forward pass."""
    callbacks = [RecordThreads()]
    ae = MultimodalAutoencoder(2, max_epochs=2, callbacks=callbacks, random_state=0, **params)
    ae.fit(blocks())
    recorder = dict(ae.net_.callbacks_)["RecordThreads"]
    seen = []
    ae.net_.module_.encoders["a"].register_forward_pre_hook(
        lambda module, args: seen.append(torch.get_num_threads())
    )
    ae.transform(blocks())
    return set(recorder.seen), set(seen)


def test_the_default_is_half_the_cpus_within_the_limit_in_force():
    expected = max(1, min(torch.get_num_threads(), usable_cpus() // 2))
    assert default_threads() == expected
    with threadpool_limits(1, user_api="openmp"):
        assert default_threads() == 1


@pytest.mark.parametrize("n_threads", [None, 1, 2])
def test_fit_and_transform_run_on_the_budget_and_restore_it(n_threads):
    before = torch.get_num_threads()
    expected = default_threads() if n_threads is None else n_threads
    threads = threads_in_fit_and_transform(speed=Speed(n_threads=n_threads))
    assert threads == ({expected}, {expected})
    assert torch.get_num_threads() == before


def test_a_threadpoolctl_limit_is_respected():
    with threadpool_limits(1, user_api="openmp"):
        assert threads_in_fit_and_transform() == ({1}, {1})


def test_the_budget_is_per_calling_thread():
    # Another thread's budget does not change this one's threads.
    inside, outside = [], []
    started, done = threading.Event(), threading.Event()

    def worker():
        with thread_budget(1):
            inside.append(torch.get_num_threads())
            started.set()
            done.wait(5)

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait(5)
    with thread_budget(2):
        outside.append(torch.get_num_threads())
    done.set()
    thread.join()
    assert inside == [1] and outside == [2]


def _threads_in_worker():
    import torch

    from skmmae._threads import default_threads

    return torch.get_num_threads(), default_threads()


@pytest.mark.parametrize("share", [1, 2])
def test_a_loky_worker_stays_within_its_share(share):
    # joblib gives each loky worker its share through the environment, which
    # torch reads as its limit; the default never exceeds it.
    with parallel_config(backend="loky", inner_max_num_threads=share):
        seen = Parallel(n_jobs=2)(delayed(_threads_in_worker)() for _ in range(2))
    for torch_threads, default in seen:
        assert torch_threads == share and 1 <= default <= share


def test_n_threads_is_validated():
    with pytest.raises(
        ValueError, match=r"The 'speed' parameter of MultimodalAutoencoder: The 'n_threads'"
    ):
        MultimodalAutoencoder(speed=Speed(n_threads=0)).fit(blocks())


def test_without_openmp_the_budget_falls_back_to_torch_and_restores(monkeypatch):
    # Where torch does not compute with OpenMP, the OpenMP limit changes
    # nothing (a stand-in for such a build); the budget then sets torch's
    # threads for the call and back.
    class NoOpenMP:
        def limit(self, **kwargs):
            return contextlib.nullcontext()

    monkeypatch.setattr(threads_module, "_openmp_controller", lambda: NoOpenMP())
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with thread_budget(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
