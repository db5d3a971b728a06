"""Time series: per-channel standardization, 1-D convolutional encoder and decoder, MSE."""

from numbers import Real

import numpy as np
from torch.nn import functional as F

from ._base import invalid_parameter, masked_sample_mean
from ._continuous import Standardize, positive_scale
from ._conv import ConvModality, MaskedPoolEncoder

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

    NaN marks a value not recorded: a step of a channel (a sensor's
    dropout), or every step after the end of a series shorter than the
    array (padding with NaN, or ``X[name + "__lengths"]``). Such values
    never reach the code: the encoder reads 0 (the mean) in their place,
    and beside each value whether it was recorded (as extra channels) once
    training has seen any. The loss scores recorded values only.

    Parameters
    ----------
    channels : sequence of int, default=(16, 32)
        Output channels of each encoder convolution; each halves the length
        (rounding up). The decoder mirrors them.
    pooling : {"flatten", "recorded"}, default="flatten"
        How the encoder turns the convolutions' output into features:
        ``"flatten"`` keeps every position (with the observed flags, where
        training had values not recorded); ``"recorded"`` takes the mean
        and the maximum over the recorded steps only
        (:class:`~skmmae.modalities._conv.MaskedPoolEncoder`), which reads
        series of any length alike but forgets where in the series a
        feature was.
    step_masking : float, default=0.0
        In training, the encoder reads one contiguous block of steps of
        each series as not recorded, of a random length up to this share
        of the series (time masking, as SpecAugment does: Park et al.,
        2019); the loss still scores them. It teaches the encoder to read
        series with steps lost.
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
        Per-channel mean over the recorded values of all samples and steps.
    scale_ : ndarray of shape (channels,)
        Per-channel standard deviation over the same values (1 for a
        constant channel).
    missing_cells_ : bool
        Whether the training series had values not recorded (NaN).

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
    accepts_missing_cells = True
    _allow_nan = True
    #: Scored by the squared error of standardized values, which a kernel
    #: ridge read-out minimizes; on spectrograms it read codes back far
    #: better than the transposed convolutions (``benchmarks/README.md``).
    kernel_readout = True
    _spatial_ndim = 1
    _layout = "(n_samples, channels, time), or (n_samples, time) for one channel"

    def __init__(
        self, channels=(16, 32), pooling="flatten", step_masking=0.0, *, encoder=None, decoder=None
    ):
        super().__init__(channels, encoder=encoder, decoder=decoder)
        self.pooling = pooling
        self.step_masking = step_masking

    def _check_params(self, label):
        super()._check_params(label)
        if self.pooling not in ("flatten", "recorded"):
            raise invalid_parameter(self, label, "pooling", "'flatten' or 'recorded'", self.pooling)
        masking = self.step_masking
        if not (isinstance(masking, Real) and not isinstance(masking, bool) and 0 <= masking <= 1):
            raise invalid_parameter(self, label, "step_masking", "a share from 0 to 1", masking)
        if self.pooling == "recorded" and not self.channels:
            raise invalid_parameter(
                self, label, "channels", "at least one convolution with pooling='recorded'",
                self.channels,
            )

    def encoder_reads_flags(self):
        """Whether the encoder reads the observed flags: always when pooling over recorded steps."""
        if self.pooling == "recorded" and self.encoder is None:
            return True
        return super().encoder_reads_flags()

    def _default_encoder(self, hidden_dims):
        if self.pooling == "flatten":
            return super()._default_encoder(hidden_dims)
        encoder = MaskedPoolEncoder(self._encoder_input_shape(), tuple(self.channels), hidden_dims)
        return encoder, encoder.out_features

    def _statistics_from_values(self):
        return [
            "per-channel means and standard deviations, which TimeSeries always learns: "
            "standardize with public statistics, flatten each series and pass "
            "Continuous(standardize=False)"
        ]

    def _fit(self, summary):
        # Per (channel, time step) statistics first, then pooled over time,
        # each step weighted by its recorded values: the variance of a
        # channel is the weighted mean of the per-step variances plus the
        # weighted variance of the per-step means.
        count = summary.count.reshape(self.input_shape_).astype(float)
        step_mean = np.nan_to_num(summary.mean.reshape(self.input_shape_))
        step_var = np.nan_to_num(summary.std.reshape(self.input_shape_)) ** 2
        total = count.sum(axis=1)
        self.mean_ = (count * step_mean).sum(axis=1) / total
        spread = step_var + (step_mean - self.mean_[:, np.newaxis]) ** 2
        self.scale_ = positive_scale(self.mean_, np.sqrt((count * spread).sum(axis=1) / total))

    def build_scaler(self):
        """Return a ``Standardize`` module for the per-channel statistics."""
        # (channels, 1) broadcasts over the time axis of (n, channels, time).
        return Standardize(self.mean_[:, np.newaxis], self.scale_[:, np.newaxis])

    def sample_loss(self, output, target):
        """Mean squared error of each series over its recorded values, in standardized units."""
        return masked_sample_mean(F.mse_loss(output, target.nan_to_num(), reduction="none"), target)
