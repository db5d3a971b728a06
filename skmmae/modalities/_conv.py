"""Convolutional encoders and decoders, and what the image, video and series kinds share.

One implementation serves :class:`~skmmae.modalities.TimeSeries` (1-D
convolutions over time), :class:`~skmmae.modalities.Image` (2-D
convolutions over height and width) and :class:`~skmmae.modalities.Video`
(3-D convolutions over time, height and width): the builders read the
number of spatial axes from the sample shape ``(channels, *spatial)`` and
pick ``Conv1d``/``Conv2d``/``Conv3d`` and the transposed convolution of the
same rank accordingly.

The encoder halves every spatial size per convolution (kernel 3, stride 2,
padding 1: a size ``L`` becomes ``ceil(L / 2)``), flattens and ends in the
estimator's MLP. The decoder mirrors it: MLP, reshape, one transposed
convolution per encoder convolution (each doubles the size exactly), a last
size-preserving convolution to the input's channels, and a crop to the
input's exact size, since doubling ``ceil(L / 2)`` overshoots odd sizes.
"""

import math
from numbers import Integral

import numpy as np
import torch
from torch import nn

from .._layers import mlp_decoder, mlp_encoder
from .._values import as_float_array
from ._base import Modality, invalid_parameter

__all__ = ["ConvModality", "Crop", "MaskedPoolEncoder", "conv_decoder", "conv_encoder"]

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_CONV_TRANSPOSE = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


class Crop(nn.Module):
    """Keep the leading ``size`` positions of each spatial axis.

    Parameters
    ----------
    size : tuple of int
        The spatial size to keep, e.g. ``(height, width)``, ``(time,)`` or
        ``(time, height, width)``.
    """

    def __init__(self, size):
        super().__init__()
        self.size = tuple(size)

    def forward(self, x):
        return x[(..., *(slice(0, s) for s in self.size))]

    def extra_repr(self):
        return f"size={self.size}"


def _downsampled(spatial, n_convs):
    """Spatial size after ``n_convs`` stride-2 convolutions (kernel 3, padding 1)."""
    for _ in range(n_convs):
        spatial = tuple(-(-s // 2) for s in spatial)  # ceil(s / 2)
    return spatial


def _split_shape(sample_shape):
    """``(channels, *spatial)`` -> channels, spatial and the number of spatial axes."""
    in_channels, *spatial = sample_shape
    if len(spatial) not in _CONV:
        raise ValueError(
            f"Convolutions need 1, 2 or 3 spatial axes; got the sample shape {sample_shape}."
        )
    return in_channels, tuple(spatial), len(spatial)


def conv_encoder(sample_shape, channels, hidden_dims):
    """Stride-2 convolutions with ReLU, flatten, then the MLP encoder.

    Parameters
    ----------
    sample_shape : tuple of int
        ``(channels, time)``, ``(channels, height, width)`` or
        ``(channels, time, height, width)`` of one sample.
    channels : sequence of int
        Output channels of each convolution. Empty: the MLP reads the
        flattened values.
    hidden_dims : sequence of int
        Widths of the MLP after the convolutions.

    Returns
    -------
    encoder : torch.nn.Sequential
        Maps ``(n, *sample_shape)`` to ``(n, out_features)``.
    out_features : int
        Width of the encoder's output.

    Examples
    --------
    >>> import torch
    >>> from skmmae.modalities._conv import conv_encoder
    >>> encoder, width = conv_encoder((3, 15, 16), channels=(4, 8), hidden_dims=(10,))
    >>> width, encoder(torch.zeros(2, 3, 15, 16)).shape
    (10, torch.Size([2, 10]))
    """
    in_channels, spatial, ndim = _split_shape(sample_shape)
    layers = _conv_stack(in_channels, channels, ndim)
    top = channels[-1] if channels else in_channels
    flat = top * math.prod(_downsampled(spatial, len(channels)))
    mlp, width = mlp_encoder(flat, hidden_dims)
    return nn.Sequential(*layers, nn.Flatten(), mlp), width


def _conv_stack(in_channels, channels, ndim):
    """Stride-2 convolutions (kernel 3, padding 1), each followed by a ReLU."""
    layers = []
    for n_in, n_out in zip((in_channels, *channels[:-1]), channels):
        layers += [_CONV[ndim](n_in, n_out, kernel_size=3, stride=2, padding=1), nn.ReLU()]
    return layers


class MaskedPoolEncoder(nn.Module):
    """Convolutions over time, then the mean and maximum over the recorded steps only, then the MLP.

    Reads series with observed flags as extra channels, ``(n, 2 C, T)``:
    the first ``C`` channels hold the values (a fill where not recorded),
    the last ``C`` whether each was recorded. A step counts as recorded
    where any channel was; after each stride-2 convolution, an output step
    counts where any input step under its kernel did. Steps after a
    series' end thus never enter the pooled features, whatever the length.

    Parameters
    ----------
    sample_shape : tuple of int
        ``(2 C, time)``: values and flags.
    channels : sequence of int
        Output channels of each convolution (at least one).
    hidden_dims : sequence of int
        Widths of the MLP after the pooling.

    Examples
    --------
    >>> import torch
    >>> from skmmae.modalities._conv import MaskedPoolEncoder
    >>> encoder = MaskedPoolEncoder((4, 30), channels=(8,), hidden_dims=(5,))
    >>> x = torch.randn(3, 4, 30)
    >>> x[:, 2:] = 1.0  # every step recorded
    >>> encoder(x).shape
    torch.Size([3, 5])
    """

    def __init__(self, sample_shape, channels, hidden_dims):
        super().__init__()
        in_channels, _, ndim = _split_shape(sample_shape)
        if ndim != 1 or not channels:
            raise ValueError(
                "MaskedPoolEncoder needs series (channels, time) and at least one convolution."
            )
        self.values = in_channels // 2
        self.convs = nn.Sequential(*_conv_stack(in_channels, channels, 1))
        self.mlp, self.out_features = mlp_encoder(2 * channels[-1], hidden_dims)

    def forward(self, x):
        recorded = x[:, self.values :].amax(dim=1, keepdim=True)
        features = self.convs(x)
        for _ in range(len(self.convs) // 2):
            recorded = nn.functional.max_pool1d(recorded, 3, stride=2, padding=1)
        count = recorded.sum(dim=-1).clamp_min(1)
        mean = (features * recorded).sum(dim=-1) / count
        peak = features.masked_fill(recorded == 0, -torch.inf).amax(dim=-1)
        # A sample with no recorded step has no peak: 0, as its mean.
        peak = torch.where(torch.isfinite(peak), peak, 0.0)
        return self.mlp(torch.cat([mean, peak], dim=1))


def conv_decoder(encoding_dim, hidden_dims, sample_shape, channels):
    """The mirror of :func:`conv_encoder`: MLP, transposed convolutions, crop.

    Parameters
    ----------
    encoding_dim : int
        Size of the code.
    hidden_dims : sequence of int
        The encoder's MLP widths (mirrored here).
    sample_shape : tuple of int
        ``(channels, time)``, ``(channels, height, width)`` or
        ``(channels, time, height, width)`` to produce.
    channels : sequence of int
        The encoder's convolution channels (mirrored here).

    Returns
    -------
    torch.nn.Sequential
        Maps ``(n, encoding_dim)`` to ``(n, *sample_shape)``, with a linear
        last layer (logits or standardized values).

    Examples
    --------
    >>> import torch
    >>> from skmmae.modalities._conv import conv_decoder
    >>> decoder = conv_decoder(5, (10,), (2, 9), channels=(4, 8))
    >>> decoder(torch.zeros(3, 5)).shape
    torch.Size([3, 2, 9])
    """
    out_channels, spatial, ndim = _split_shape(sample_shape)
    reduced = _downsampled(spatial, len(channels))
    top = channels[-1] if channels else out_channels
    layers = [
        mlp_decoder(encoding_dim, hidden_dims, top * math.prod(reduced)),
        nn.Unflatten(1, (top, *reduced)),
    ]
    if channels:
        layers.append(nn.ReLU())
        # Each transposed convolution doubles the size exactly (output_padding=1),
        # so the stack ends at 2**k * reduced >= spatial, cropped below.
        outs = (*reversed(channels[:-1]), channels[0])
        for n_in, n_out in zip(reversed(channels), outs):
            layers += [
                _CONV_TRANSPOSE[ndim](
                    n_in, n_out, kernel_size=3, stride=2, padding=1, output_padding=1
                ),
                nn.ReLU(),
            ]
        layers.append(_CONV[ndim](channels[0], out_channels, kernel_size=3, padding=1))
    layers.append(Crop(spatial))
    return nn.Sequential(*layers)


class ConvModality(Modality):
    """Base of kinds with a channel axis and 1, 2 or 3 spatial axes.

    It validates arrays with a channel axis, also accepting them without it
    (one channel, given back without it by :meth:`restore`), brings the
    channel axis to where the model reads it, ``(n, channels, *spatial)``,
    and builds the convolutional encoder and decoder of this module.
    Subclasses set :attr:`kind`, ``_spatial_ndim``, ``_layout`` (for
    messages) and, where users give the channels after another axis,
    ``_channel_axis``; they implement scaling and the loss.

    Parameters
    ----------
    channels : sequence of int, default=(16, 32)
        Output channels of each stride-2 convolution of the encoder; the
        decoder mirrors them.
    encoder, decoder : torch.nn.Module, callable or None, default=None
        Custom architectures; see :class:`~skmmae.modalities.Modality`.

    Attributes
    ----------
    input_shape_ : tuple of int
        ``(channels, *spatial)``: the shape of one sample as the model reads it.
    n_features_ : int
        Number of values in one sample.
    input_ndim_ : int
        Rank of the array given to :meth:`fit`; :meth:`restore` gives
        reconstructions back with this rank, and in the user's axis order.

    Examples
    --------
    >>> from skmmae.modalities import Image, TimeSeries, Video
    >>> from skmmae.modalities._conv import ConvModality
    >>> all(issubclass(kind, ConvModality) for kind in (Image, TimeSeries, Video))
    True
    """

    #: Number of spatial axes after the channel axis (1: series, 2: images, 3: clips).
    _spatial_ndim = None
    #: The accepted layouts, for messages.
    _layout = ""
    #: Where the channel axis is in the user's full-rank arrays (the model reads it at 1).
    _channel_axis = 1
    #: Whether NaN marks missing values (cells, or the steps after a series' end).
    _allow_nan = False

    def __init__(self, channels=(16, 32), *, encoder=None, decoder=None):
        super().__init__(encoder=encoder, decoder=decoder)
        self.channels = channels

    def fit_validate(self, X, label="X"):
        """Fit, and return X as :meth:`validate` would, checking X only once.

        Parameters
        ----------
        X : array-like
            Training values, with or without the channel axis.
        label : str, default="X"
            How error messages name this data.

        Returns
        -------
        ndarray of shape (n_samples, channels, ...spatial sizes)
            The values the model reads (float32, with the channel axis).
        """
        values = super().fit_validate(X, label)
        # Known valid now; remembered so reconstructions keep the user's rank.
        self.input_ndim_ = X.ndim if hasattr(X, "ndim") else np.ndim(X)
        return values

    def _validate(self, X, label):
        self._check_params(label)
        full = self._spatial_ndim + 2  # samples, channels, spatial axes
        if hasattr(X, "shape") and len(X.shape) not in (full - 1, full):
            raise ValueError(
                f"{label} must be a {full - 1}-D or {full}-D array: {self._layout}; "
                f"got shape {tuple(X.shape)}."
            )
        values = as_float_array(X, label, ndims=(full - 1, full), allow_nan=self._allow_nan)
        if values.ndim == full - 1:
            return values[:, np.newaxis]  # one channel
        if self._channel_axis != 1:  # a copy, so that batches are contiguous slices
            return np.ascontiguousarray(np.moveaxis(values, self._channel_axis, 1))
        return values

    def _check_params(self, label):
        channels = self.channels
        valid = isinstance(channels, (tuple, list)) and all(
            isinstance(c, Integral) and not isinstance(c, bool) and c > 0 for c in channels
        )
        if not valid:
            raise invalid_parameter(
                self, label, "channels", "a tuple of positive ints (one per convolution)",
                channels,
            )

    def restore(self, values):
        """Give values back in the user's layout and rank.

        Without the channel axis when :meth:`fit` was given arrays without
        it, else with the channel axis where the user had it.
        """
        if self.input_ndim_ == self._spatial_ndim + 1:
            return values[:, 0]
        if self._channel_axis != 1:
            return np.ascontiguousarray(np.moveaxis(values, 1, self._channel_axis))
        return values

    def decoder_output_shape(self):
        """``input_shape_``: one value per channel and position, in model units."""
        return self.input_shape_

    def _default_encoder(self, hidden_dims):
        return conv_encoder(self._encoder_input_shape(), tuple(self.channels), hidden_dims)

    def _encoder_input_shape(self):
        """``input_shape_``, with twice the channels where the encoder reads observed flags."""
        channels, *spatial = self.input_shape_
        return (channels * (2 if self.encoder_reads_flags() else 1), *spatial)

    def _default_decoder(self, encoding_dim, hidden_dims):
        return conv_decoder(encoding_dim, hidden_dims, self.input_shape_, tuple(self.channels))
