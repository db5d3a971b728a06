"""The skorch side: whole-batch dataset, iterator, validation split, net."""

import re
import time
import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import (
    BatchScoring,
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochScoring,
    GradientNormClipping,
    LoadInitState,
    LRScheduler,
    ProgressBar,
)

from skmmae import MultimodalAutoencoder
from skmmae._cuda_graphs import CudaGraphs
from skmmae._inference import encode, loss_totals
from skmmae._config import graph_safe as _graph_safe
from skmmae.options import EarlyStop


def test_net_trains_with_input_as_target(tiny_net):
    rng = np.random.RandomState(0)
    data = {"a": rng.normal(size=(37, 4)).astype(np.float32), "b": rng.normal(size=(37, 2)).astype(np.float32)}
    torch.manual_seed(0)
    net = tiny_net(data, max_epochs=20, batch_size=16, lr=0.01).fit(data)
    losses = net.history[:, "train_loss"]
    assert losses[-1] < 0.8 * losses[0]
    assert net.history[-1, "train_batch_count"] == 3  # 16 + 16 + 5: nothing dropped
    # skorch records every batch's own loss and size as it goes.
    sizes = [row["train_batch_size"] for row in net.history[-1, "batches"]]
    assert sizes == [16, 16, 5]
    assert all(np.isfinite(row["train_loss"]) for row in net.history[-1, "batches"])


def test_training_and_inference_modes_reach_every_submodule(tiny_net):
    rng = np.random.RandomState(0)
    data = {"a": rng.normal(size=(20, 4)).astype(np.float32)}
    net = tiny_net(data, max_epochs=1, batch_size=8).fit(data)
    modules = list(net.module_.modules()) + list(net.criterion_.modules())
    encode(net, data)  # inference: eval mode everywhere
    assert not any(m.training for m in modules)
    net.partial_fit(data)  # training steps: train mode everywhere again
    assert all(m.training for m in modules)


def test_the_net_has_no_cuda_graphs_without_their_callback(tiny_net):
    rng = np.random.RandomState(0)
    data = {"a": rng.normal(size=(20, 4)).astype(np.float32)}
    net = tiny_net(data, max_epochs=1).fit(data)
    assert net.cuda_graphs is None
    net = tiny_net(data, max_epochs=1, callbacks=[("graphs", CudaGraphs())]).fit(data)
    assert isinstance(net.cuda_graphs, CudaGraphs)
    assert net.cuda_graphs.n_replays_ == 0  # on the CPU every step runs eagerly


# -- skorch's own callbacks, through the estimator's ``callbacks=`` ----------
# The net extends skorch only through its documented seams, so each of these
# sees every batch and epoch as it would on a plain skorch net.


def two_views(n=90, seed=0):
    rng = np.random.RandomState(seed)
    z = rng.normal(size=(n, 2))
    return {
        "a": (z @ rng.normal(size=(2, 5)) + 0.1 * rng.normal(size=(n, 5))).astype(np.float32),
        "b": (z @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(n, 3))).astype(np.float32),
    }


def fit_with(callbacks, **params):
    settings = dict(encoding_dim=2, hidden_dims=(16,), max_epochs=3, batch_size=32, random_state=0)
    return MultimodalAutoencoder(callbacks=callbacks, **{**settings, **params}).fit(two_views())


class BatchLossLog(Callback):
    """A batch-level logger: reads each batch's loss from the history as it ends."""

    def on_train_begin(self, net, **kwargs):
        self.logged = []

    def on_batch_end(self, net, training=None, **kwargs):
        if training:
            self.logged.append(net.history[-1, "batches", -1, "train_loss"])


def test_batch_level_loggers_read_each_batch_loss_as_it_ends():
    ae = fit_with([BatchLossLog()])
    logged = dict(ae.net_.callbacks_)["BatchLossLog"].logged
    assert len(logged) == 3 * 3  # 90 rows in batches of 32, three epochs
    recorded = [row["train_loss"] for epoch in ae.net_.history for row in epoch["batches"]]
    assert logged == recorded and len(set(logged)) == 9


class SlowBatches(Callback):
    """Make each batch outlast tqdm's shortest redraw interval (0.1 s)."""

    def on_batch_end(self, net, **kwargs):
        time.sleep(0.12)


def test_progress_bar_shows_the_batch_loss(capsys):
    fit_with([SlowBatches(), ProgressBar()], max_epochs=1)
    err = capsys.readouterr().err
    assert re.search(r"3/3 .*train_loss=\d", err)


def batch_loss_of_a(net, X, y):
    # The step's own output (cached by BatchScoring), scored as the criterion does.
    output = next(iter(net.forward_iter(X)))
    return float(net.criterion_.per_modality(output)["a"].detach())


def test_batch_scoring_sees_each_training_step_output():
    scoring = BatchScoring(batch_loss_of_a, on_train=True, name="train_a")
    ae = fit_with([scoring])
    history = ae.net_.history
    assert all(len(row["batches"]) == 3 and "train_a" in row["batches"][0] for row in history)
    # Its batch-weighted mean per epoch is the epoch's own loss of "a".
    np.testing.assert_allclose(
        history[:, "train_a"], [row["train_losses"]["a"] for row in history], rtol=1e-5
    )


def validation_loss(net, X, y):
    losses, kl = loss_totals(net, X)
    return float(net.criterion_.combine(losses, kl))


def test_epoch_scoring_scores_the_validation_data_every_epoch():
    scoring = EpochScoring(validation_loss, name="valid_rec", use_caching=False)
    ae = fit_with([scoring], early_stopping=EarlyStop(patience=50, validation_fraction=0.3))
    history = ae.net_.history
    # The validation loss, scored once over the held-out rows: skorch's
    # batch-weighted valid_loss is the same mean.
    np.testing.assert_allclose(history[:, "valid_rec"], history[:, "valid_loss"], rtol=1e-5)
    assert isinstance(history[-1, "valid_rec_best"], bool)


def test_lr_scheduler_steps_the_learning_rate():
    ae = fit_with([LRScheduler(policy="StepLR", step_size=1, gamma=0.5)], lr=0.01)
    assert ae.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**3)
    assert ae.net_.history[:, "event_lr"] == pytest.approx([0.01, 0.005, 0.0025])


def test_checkpoint_and_load_init_state_resume_training(tmp_path):
    first = fit_with([Checkpoint(monitor=None, dirname=str(tmp_path))])
    assert (tmp_path / "params.pt").exists() and (tmp_path / "history.json").exists()
    resume = LoadInitState(Checkpoint(monitor=None, dirname=str(tmp_path)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a resumed run is no interrupted one
        second = fit_with([resume], max_epochs=1)
    losses = second.net_.history[:, "train_loss"]
    assert len(losses) == 4  # the three epochs loaded, and one more
    np.testing.assert_allclose(losses[:3], first.net_.history[:, "train_loss"])
    # Training went on from the loaded weights, not from new ones.
    fresh = fit_with(None, max_epochs=1)
    assert losses[3] < fresh.net_.history[0, "train_loss"]


def test_early_stopping_among_the_callbacks_ends_training_quietly():
    # No epoch improves the loss by 10: patience 2 ends training after 3 epochs.
    stop = EarlyStopping(monitor="train_loss", patience=2, threshold=10.0, threshold_mode="abs")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ae = fit_with([stop], max_epochs=20)
    assert len(ae.net_.history) == 3


def test_callbacks_that_a_cuda_graph_would_bypass_are_recognized():
    assert _graph_safe(ProgressBar()) and _graph_safe(("save", Checkpoint(dirname="x")))
    assert _graph_safe(EarlyStopping) and _graph_safe(BatchLossLog())
    assert not _graph_safe(LRScheduler(policy="StepLR", step_size=1))
    assert not _graph_safe(GradientNormClipping(1.0))
    assert not _graph_safe(("clip", GradientNormClipping))
