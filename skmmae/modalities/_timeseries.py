"""Time series: per-channel standardization, 1-D convolutional encoder and decoder, MSE."""

import numpy as np
from torch.nn import functional as F

from ._base import per_sample_mean
from ._continuous import Standardize, positive_scale
from ._conv import ConvModality

__all__ = ["TimeSeries"]


class TimeSeries(ConvModality):
    """Multichannel time series ``(n, channels, time)``, or ``(n, time)`` for one channel.

    Each channel is standardized with its mean and standard deviation over
    all training samples and time steps (a constant channel keeps a scale
    of 1), so the model sees every channel on the same footing while the
    shape of each series is kept. The encoder is a stack of stride-2 1-D
    convolutions (kernel 3, ReLU) and the estimator's MLP; the decoder
    mirrors it with transposed convolutions, cropped to the exact length.
    The loss is the MSE in standardized units; reconstructions are in
    original units.

    A 3-D array is not guessed to be a time series (it could be grayscale
    images): name the kind, ``modalities={name: "timeseries"}``.

    Parameters
    ----------
    channels : sequence of int, default=(16, 32)
        Output channels of each encoder convolution; each halves the length
        (rounding up). The decoder mirrors them.
    encoder, decoder : torch.nn.Module, callable or None, default=None
        Custom architectures; see :class:`Modality`. The encoder reads
        standardized series ``(n_samples, channels, time)``; the decoder
        returns standardized series of that shape.

    Attributes
    ----------
    input_shape_ : tuple of int
        ``(channels, time)``; 2-D input has 1 channel.
    n_features_ : int
        Number of values in one sample (channels times length).
    input_ndim_ : int
        Rank of the array given to :meth:`fit` (2 or 3); reconstructions
        have this rank.
    mean_ : ndarray of shape (channels,)
        Per-channel mean over samples and time.
    scale_ : ndarray of shape (channels,)
        Per-channel standard deviation over samples and time (1 for a
        constant channel).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skmmae.modalities import TimeSeries
    >>> t = np.linspace(0, 1, 25)
    >>> series = np.stack([np.stack([3 + np.sin(6 * t + p), 10 + 2 * t]) for p in range(4)])
    >>> m = TimeSeries(channels=(4,)).fit(series)
    >>> m.input_shape_, m.mean_.round(2)
    ((2, 25), array([ 3., 11.]))
    >>> decoder = m.build_decoder(encoding_dim=3, hidden_dims=(16,))
    >>> decoder(torch.zeros(5, 3)).shape
    torch.Size([5, 2, 25])
    """

    kind = "timeseries"
    fits_on_summary = True
    #: Scored by the squared error of standardized values, which a kernel
    #: ridge read-out minimizes; on spectrograms it read codes back far
    #: better than the transposed convolutions (``benchmarks/README.md``).
    kernel_readout = True
    _spatial_ndim = 1
    _layout = "(n_samples, channels, time), or (n_samples, time) for one channel"

    def _statistics_from_values(self):
        return [
            "per-channel means and standard deviations, which TimeSeries always learns: "
            "standardize with public statistics, flatten each series and pass "
            "Continuous(standardize=False)"
        ]

    def _fit(self, summary):
        # Per (channel, time step) statistics first, then pooled over time:
        # with equal counts per time step, the variance of a channel is the
        # mean of the per-step variances plus the variance of the per-step
        # means.
        step_mean = summary.mean.reshape(self.input_shape_)
        step_std = summary.std.reshape(self.input_shape_)
        self.mean_ = step_mean.mean(axis=1)
        variance = (step_std**2 + (step_mean - self.mean_[:, np.newaxis]) ** 2).mean(axis=1)
        self.scale_ = positive_scale(self.mean_, np.sqrt(variance))

    def build_scaler(self):
        """Return a ``Standardize`` module for the per-channel statistics."""
        # (channels, 1) broadcasts over the time axis of (n, channels, time).
        return Standardize(self.mean_[:, np.newaxis], self.scale_[:, np.newaxis])

    def sample_loss(self, output, target):
        """Mean squared error of each series, in standardized units."""
        return per_sample_mean(F.mse_loss(output, target, reduction="none"))
