"""An exponential moving average of the weights, kept during training (a skorch callback).

Input noise and modality dropout make every gradient step noisy; the
average of the recent weights generalizes better than the last ones (on
mfeat it lowers test reconstruction error, see ``benchmarks/README.md``).
The average replaces the weights when training ends.
"""

import torch
from skorch.callbacks import Callback
from torch.optim.swa_utils import get_ema_multi_avg_fn

__all__ = ["WeightAverage"]


class WeightAverage(Callback):
    """Keep an exponential moving average of the module's weights; use it at the end.

    After every training step the average moves towards the current
    weights: ``average = d * average + (1 - d) * weights``, where the decay
    ``d`` is ``min(decay, (1 + t) / (10 + t))`` after ``t`` earlier steps, so
    that on short runs the first (untrained) weights fade out quickly. When
    training ends, the module's weights become the average. Only floating
    point parameters are averaged; buffers are left as they are.

    Parameters
    ----------
    decay : float
        Decay per training step, in [0, 1); the average spans about
        ``1 / (1 - decay)`` recent steps. 0 keeps the last weights.

    References
    ----------
    B. T. Polyak and A. B. Juditsky, "Acceleration of Stochastic
    Approximation by Averaging", SIAM J. Control Optim. 30(4), 1992 (averaged
    iterates); the exponential form and its warm-up follow common practice
    (e.g. TensorFlow's ``ExponentialMovingAverage`` with ``num_updates``).

    Examples
    --------
    >>> import torch
    >>> from skorch import NeuralNetRegressor
    >>> from skmmae._averaging import WeightAverage
    >>> X = torch.randn(64, 3)
    >>> y = X.sum(1, keepdim=True)
    >>> net = NeuralNetRegressor(torch.nn.Linear(3, 1), max_epochs=5, batch_size=16,
    ...                          train_split=None, verbose=0,
    ...                          callbacks=[WeightAverage(0.9)]).fit(X, y)
    >>> dict(net.callbacks_)["WeightAverage"].n_steps_  # 4 steps an epoch, averaged
    20
    """

    def __init__(self, decay):
        self.decay = decay

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        # Detached views share the parameters' storage, which the optimizer
        # updates in place: made once, they follow every step.
        self._weights = [p.detach() for p in net.module_.parameters() if p.is_floating_point()]
        self._average = [w.clone() for w in self._weights]
        self.n_steps_ = 0

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        decay = min(self.decay, (1 + self.n_steps_) / (10 + self.n_steps_))
        get_ema_multi_avg_fn(decay)(self._average, self._weights, None)
        self.n_steps_ += 1

    def on_train_end(self, net, X=None, y=None, **kwargs):
        with torch.no_grad():
            for weight, average in zip(self._weights, self._average):
                weight.copy_(average)
        # The copies are not needed once used (and would be pickled with the net).
        del self._weights, self._average
