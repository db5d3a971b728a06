"""The moving average of the weights: exact arithmetic, and its use by the estimator."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback

from skmmae import MultimodalAutoencoder
from skmmae._averaging import WeightAverage
from skmmae.options import EarlyStop


class RecordWeights(Callback):
    """The weights after every training step (runs before the average's own update)."""

    def on_train_begin(self, net, **kwargs):
        self.steps = [[p.detach().clone() for p in net.module_.parameters()]]

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.steps.append([p.detach().clone() for p in net.module_.parameters()])


def regression_net(callbacks, max_epochs=3):
    torch.manual_seed(0)
    X = torch.randn(40, 3)
    y = X @ torch.tensor([[1.0], [-2.0], [0.5]])
    net = NeuralNetRegressor(
        torch.nn.Linear(3, 1), max_epochs=max_epochs, batch_size=8, lr=0.05,
        train_split=None, verbose=0, callbacks=callbacks,
    )
    return net.fit(X, y)


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.99])
def test_final_weights_are_the_warmed_up_moving_average(decay):
    record = RecordWeights()
    net = regression_net([record, WeightAverage(decay)])
    expected = [w.clone() for w in record.steps[0]]
    for t, weights in enumerate(record.steps[1:]):
        d = min(decay, (1 + t) / (10 + t))
        expected = [d * e + (1 - d) * w for e, w in zip(expected, weights)]
    assert len(record.steps) == 1 + 3 * 5  # 40 rows in batches of 8, 3 epochs
    for got, want in zip(net.module_.parameters(), expected):
        torch.testing.assert_close(got.detach(), want)


def test_decay_zero_keeps_last_weights_and_average_differs_from_them():
    last = RecordWeights()
    net = regression_net([last, WeightAverage(0.0)])
    for got, want in zip(net.module_.parameters(), last.steps[-1]):
        torch.testing.assert_close(got.detach(), want)
    averaged = regression_net([WeightAverage(0.9)])
    assert not torch.equal(averaged.module_.weight, net.module_.weight)


def test_average_is_not_kept_in_the_fitted_net():
    net = regression_net([WeightAverage(0.9)])
    callback = dict(net.callbacks_)["WeightAverage"]
    assert callback.n_steps_ == 15
    assert not hasattr(callback, "_average")  # no second copy of the weights is pickled


def fit(X, **params):
    return MultimodalAutoencoder(encoding_dim=4, max_epochs=4, random_state=0, **params).fit(X)


def test_estimator_averages_by_default_and_reports_it(mfeat_small):
    ae = fit(mfeat_small)
    callbacks = dict(ae.net_.callbacks_)
    assert callbacks["weight_average"].decay == ae.ema_decay == 0.99
    assert callbacks["weight_average"].n_steps_ == 4 * 3  # 300 rows in batches of 128
    plain = fit(mfeat_small, ema_decay=0.0)
    assert "weight_average" not in dict(plain.net_.callbacks_)
    # Same training run, other final weights.
    np.testing.assert_allclose(
        ae.net_.history[:, "train_loss"], plain.net_.history[:, "train_loss"], rtol=1e-5
    )
    assert not np.allclose(ae.transform(mfeat_small), plain.transform(mfeat_small))


def test_early_stopping_keeps_best_epoch_instead_of_average(mfeat_small):
    ae = fit(mfeat_small, early_stopping=EarlyStop(patience=2))
    callbacks = dict(ae.net_.callbacks_)
    assert "early_stopping" in callbacks and "weight_average" not in callbacks


def test_bad_decay_is_rejected(mfeat_small):
    with pytest.raises(ValueError, match="ema_decay"):
        fit(mfeat_small, ema_decay=1.0)
