"""fused_optimizer, bf16 and cuda_graphs: each keeps the loss curve of the eager float32 path."""

import contextlib
import pickle

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from torch.overrides import TorchFunctionMode, resolve_name

from skmmae import MultimodalAutoencoder
from skmmae._cuda_graphs import CudaGraphs
from skmmae.options import CrossModal, EarlyStop, Speed

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
# A capture or replay that kept an earlier step's autograd graph alive makes
# torch warn about AccumulateGrad streams; graph mode must not.
no_stream_mismatch = pytest.mark.filterwarnings("error:The AccumulateGrad node")


def data(n=203, seed=0):
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(n, 3))
    return {
        "a": (latent @ rng.normal(size=(3, 12)) + 0.1 * rng.normal(size=(n, 12))).astype(np.float32),
        "b": (latent @ rng.normal(size=(3, 5))).astype(np.float32),
    }


def fit(**params):
    """A small fit; the speed options are given as keywords, gathered into ``speed``."""
    settings = dict(encoding_dim=3, hidden_dims=(32, 16), max_epochs=15, batch_size=32, random_state=0)
    speed = {key: params.pop(key) for key in ("fused_optimizer", "cuda_graphs", "bf16") if key in params}
    return MultimodalAutoencoder(**{**settings, **params}, speed=Speed(**speed)).fit(data())


def losses(ae):
    return np.array(ae.net_.history[:, "train_loss"])


def test_cpu_defaults_fuse_adam_and_nothing_else():
    ae = fit(device="cpu")
    group = ae.net_.optimizer_.param_groups[0]
    assert group["fused"] is True and not group.get("capturable")
    assert ae.net_.cuda_graphs is None and ae.net_.bf16 is False


@pytest.mark.parametrize("optimizer", ["sgd", torch.optim.RMSprop])
def test_auto_leaves_other_optimizers_unfused(optimizer):
    group = fit(device="cpu", optimizer=optimizer, lr=1e-3).net_.optimizer_.param_groups[0]
    assert not group.get("fused")


def test_fused_adam_on_cpu_matches_eager_loss_curve():
    eager, fused = fit(device="cpu", fused_optimizer=False), fit(device="cpu", fused_optimizer=True)
    assert fused.net_.optimizer_.param_groups[0]["fused"] is True
    np.testing.assert_allclose(losses(fused), losses(eager), rtol=1e-3)


def test_bf16_autocast_on_cpu_follows_float32_loss_curve():
    full, half = fit(device="cpu"), fit(device="cpu", bf16=True)
    assert half.transform(data()).dtype == np.float32
    assert half.inverse_transform(half.transform(data()))["a"].dtype == np.float32
    # bf16 keeps ~3 significant digits: the curves agree loosely, and both learn.
    np.testing.assert_allclose(losses(half), losses(full), rtol=0.1)
    assert losses(half)[-1] < 0.5 * losses(half)[0]


def test_cuda_graphs_need_cuda():
    with pytest.raises(ValueError, match=r"Speed\(cuda_graphs=True\) needs a CUDA device; the device is cpu"):
        fit(device="cpu", cuda_graphs=True)


def test_fused_needs_an_optimizer_that_takes_it():
    with pytest.raises(ValueError, match=r"Speed\(fused_optimizer=True\), but the optimizer RMSprop takes no 'fused'"):
        fit(device="cpu", optimizer=torch.optim.RMSprop, fused_optimizer=True)


@needs_cuda
@no_stream_mismatch
def test_cuda_defaults_turn_on_fused_and_graphs():
    ae = fit(device="cuda")
    group = ae.net_.optimizer_.param_groups[0]
    assert group["fused"] is True and group["capturable"] is True
    assert ae.net_.cuda_graphs is not None
    # 203 samples in batches of 32: 6 full batches and one of 11 per epoch;
    # 3 full batches warm up, then every full batch is a replay.
    assert ae.net_.cuda_graphs.n_replays_ == 15 * 6 - 3
    assert ae.net_.history[-1, "train_batch_count"] == 7


@needs_cuda
@no_stream_mismatch
def test_cuda_graphs_follow_the_eager_loss_curve():
    eager = fit(device="cuda", cuda_graphs=False, fused_optimizer=False)
    graphed = fit(device="cuda", cuda_graphs=True, fused_optimizer=True)
    np.testing.assert_allclose(losses(graphed), losses(eager), rtol=1e-3)
    np.testing.assert_allclose(graphed.transform(data()), eager.transform(data()), atol=1e-3)


@needs_cuda
def test_cuda_graphs_with_bf16_follow_float32():
    eager = fit(device="cuda", cuda_graphs=False, fused_optimizer=False)
    fast = fit(device="cuda", cuda_graphs=True, bf16=True)
    np.testing.assert_allclose(losses(fast), losses(eager), rtol=0.1)


@needs_cuda
def test_cuda_graphs_off_with_user_callbacks_under_auto():
    from skorch.callbacks import GradientNormClipping

    ae = fit(device="cuda", callbacks=[GradientNormClipping(1.0)])
    assert ae.net_.cuda_graphs is None


class StepLosses(Callback):
    """Each step's loss as the step returned it to skorch, by phase."""

    def on_train_begin(self, net, **kwargs):
        self.seen = {True: [], False: []}

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        self.seen[training].append(loss.item())


def batch_column(ae, key):
    return [row[key] for epoch in ae.net_.history for row in epoch["batches"] if key in row]


def test_each_batch_loss_reaches_the_history():
    # The history must hold every batch's own loss, in order, per phase.
    ae = fit(device="cpu", max_epochs=3, early_stopping=EarlyStop(validation_fraction=0.2),
             callbacks=[StepLosses()])
    steps = dict(ae.net_.callbacks_)["StepLosses"]  # the fitted copy
    np.testing.assert_array_equal(batch_column(ae, "train_loss"), steps.seen[True])
    np.testing.assert_array_equal(batch_column(ae, "valid_loss"), steps.seen[False])
    assert len(steps.seen[True]) == 3 * 6 and len(set(steps.seen[True])) == 18
    # 162 training rows in batches of 32: five full ones and one of 2.
    assert batch_column(ae, "train_batch_size")[:6] == [32] * 5 + [2]
    assert ae.net_.history[:, "train_batch_count"] == [6, 6, 6]
    epoch_means = [
        np.average([b["train_loss"] for b in epoch["batches"] if "train_loss" in b],
                   weights=[b["train_batch_size"] for b in epoch["batches"] if "train_loss" in b])
        for epoch in ae.net_.history
    ]
    np.testing.assert_allclose(losses(ae), epoch_means, rtol=1e-6)


@needs_cuda
@no_stream_mismatch
def test_cuda_graph_replays_record_each_batch_loss():
    # Every replay overwrites the graph's static loss; each batch's value
    # must still be its own, and match the eager path's batch by batch.
    eager = fit(device="cuda", cuda_graphs=False, fused_optimizer=False, max_epochs=3)
    graphed = fit(device="cuda", cuda_graphs=True, fused_optimizer=True, max_epochs=3)
    replayed = batch_column(graphed, "train_loss")
    assert len(set(replayed)) == len(replayed) == 21
    np.testing.assert_allclose(replayed, batch_column(eager, "train_loss"), rtol=1e-3)


@contextlib.contextmanager
def graphs_off(ae):
    """The fitted estimator with its net's CudaGraphs callback taken out for a while."""
    saved = ae.net_.callbacks_
    ae.net_.callbacks_ = [(n, c) for n, c in saved if not isinstance(c, CudaGraphs)]
    try:
        yield ae
    finally:
        ae.net_.callbacks_ = saved


@needs_cuda
def test_transform_replays_a_captured_encode_graph():
    ae = fit(device="cuda")
    X = data(n=300, seed=1)  # 9 full batches of 32 and one of 12
    graphed = ae.transform(X)
    assert ae.net_.cuda_graphs._encode is not None
    with graphs_off(ae):
        eager = ae.transform(X)
    np.testing.assert_allclose(graphed, eager, atol=1e-5)
    # Another set of modalities is another layout: captured anew, still right.
    alone = ae.transform({"a": X["a"]})
    with graphs_off(ae):
        np.testing.assert_allclose(alone, ae.transform({"a": X["a"]}), atol=1e-5)


@needs_cuda
def test_encode_graph_follows_training_and_pickling():
    ae = fit(device="cuda")
    X = data(n=300, seed=1)
    before = ae.transform(X)
    # More steps on the same module (the estimator's fit would build a new
    # one): the weights change in place, and the graph reads them.
    ae.net_.partial_fit(data())
    after = ae.transform(X)
    assert np.abs(after - before).max() > 1e-3
    with graphs_off(ae):
        np.testing.assert_allclose(after, ae.transform(X), atol=1e-5)
    restored = pickle.loads(pickle.dumps(ae))
    np.testing.assert_allclose(restored.transform(X), after, atol=1e-5)


# Calls that copy between host and device or make the host wait for the
# device: a CUDA graph capture refuses them, so the training step must make
# none. Checked on the CPU, where every call still goes through torch.
HOST_BOUND = {
    "torch.tensor", "torch.as_tensor", "torch.Tensor.new_tensor", "torch.Tensor.item",
    "torch.Tensor.tolist", "torch.Tensor.__bool__", "torch.Tensor.__int__",
    "torch.Tensor.__float__", "torch.Tensor.cpu", "torch.Tensor.numpy", "torch.nonzero",
    "torch.Tensor.nonzero", "torch.masked_select", "torch.Tensor.masked_select",
}


class HostBoundCalls(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = resolve_name(func) or repr(func)
        masked = name == "torch.Tensor.__getitem__" and any(
            torch.is_tensor(i) and i.dtype == torch.bool for i in _flat(args[1:])
        )
        if name in HOST_BOUND or masked:
            self.calls.append(name)
        return func(*args, **(kwargs or {}))


def _flat(items):
    for item in items:
        yield from (_flat(item) if isinstance(item, (tuple, list)) else (item,))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"fusion": "concat", "modality_dropout": 0.0},
        {"fusion": "poe", "variational": True},
        {"fusion": "moe", "variational": True},
        {"cross_weight": CrossModal(0.5, decoders="own")},
        {"variational": True, "cross_weight": 0.5},
    ],
    ids=["defaults", "concat", "poe", "moe", "own-cross", "variational-cross"],
)
@pytest.mark.parametrize("lacking", [False, True], ids=["complete", "lacking"])
def test_training_and_encode_steps_make_no_host_copy_or_sync(params, lacking):
    X = data()
    if lacking:  # samples lacking a modality bring presence masks into the step
        X["b"][::4] = np.nan
    ae = fit(device="cpu", max_epochs=1, **params)
    net = ae.net_
    dataset = net.get_dataset(ae._check_input(X))
    Xi = next(iter(net.get_iterator(dataset, training=True)))[0]
    net._set_training(True)
    with HostBoundCalls() as mode:
        loss = net.criterion_(net.module_(**Xi))
        loss.backward()
    assert mode.calls == []
    # The encode step that transform captures, too.
    net._set_training(False)
    with torch.inference_mode(), HostBoundCalls() as mode:
        net.module_.encode(**Xi)
    assert mode.calls == []
