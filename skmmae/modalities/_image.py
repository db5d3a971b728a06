"""Images: 2-D convolutional encoder and decoder, BCE or standardized MSE.

The pixel losses and scaling are those of :class:`PixelModality`, which
:class:`~skmmae.modalities.Video` shares.
"""

from torch.nn import functional as F

from ._base import check_values, invalid_parameter, per_sample_mean
from ._binary import BinaryScaler
from ._continuous import Standardize, positive_scale
from ._conv import ConvModality

__all__ = ["Image", "PixelModality"]

_LOSSES = ("auto", "bce", "mse")


class PixelModality(ConvModality):
    """Base of the pixel kinds (images, video): BCE on [0, 1] or per-pixel standardized MSE.

    It owns the ``pixel_loss`` parameter: its check, the choice of ``"auto"``,
    the per-pixel statistics, the scaler and the loss. Subclasses set the
    class attributes of :class:`~skmmae.modalities._conv.ConvModality`.

    Parameters
    ----------
    channels : sequence of int, default=(16, 32)
        Output channels of each encoder convolution.
    pixel_loss : {"auto", "bce", "mse"}, default="auto"
        See :class:`~skmmae.modalities.Image`.
    encoder, decoder : torch.nn.Module, callable or None, default=None
        Custom architectures; see :class:`~skmmae.modalities.Modality`.

    Examples
    --------
    >>> from skmmae.modalities import Image, Video
    >>> from skmmae.modalities._image import PixelModality
    >>> issubclass(Image, PixelModality), issubclass(Video, PixelModality)
    (True, True)
    """

    fits_on_summary = True
    #: The convolutional decoder keeps reconstructing from the full code,
    #: but from the code of other modalities (a word, a caption) a kernel
    #: regression predicts the mean image of the codes alike, which the
    #: decoders, trained on full codes, drew less well (``benchmarks/README.md``).
    kernel_predictor = True

    def __init__(self, channels=(16, 32), pixel_loss="auto", *, encoder=None, decoder=None):
        super().__init__(channels=channels, encoder=encoder, decoder=decoder)
        self.pixel_loss = pixel_loss

    def _validate(self, X, label):
        if self.pixel_loss not in _LOSSES:
            raise invalid_parameter(
                self, label, "pixel_loss", f"one of {_LOSSES}", self.pixel_loss
            )
        values = super()._validate(X, label)
        # The fitted loss rules once fitted ("auto" may have become "bce").
        if getattr(self, "loss_", self.pixel_loss) == "bce":
            _check_unit_interval(values, label, self.kind)
        return values

    def _statistics_from_values(self):
        if self.pixel_loss == "bce":
            return []
        learned = {
            "auto": "the pixel loss, chosen from the range of the values (pixel_loss='auto')",
            "mse": "per-value means and standard deviations (pixel_loss='mse')",
        }[self.pixel_loss]
        return [f"{learned}: scale the values to [0, 1] with public bounds and pass pixel_loss='bce'"]

    def _fit(self, summary):
        self.loss_ = self.pixel_loss
        if self.pixel_loss == "auto":
            self.loss_ = "bce" if summary.minimum >= 0 and summary.maximum <= 1 else "mse"
        if self.loss_ == "mse":
            self.mean_ = summary.mean.reshape(self.input_shape_)
            self.scale_ = positive_scale(self.mean_, summary.std.reshape(self.input_shape_))

    @property
    def takes_gaussian_noise(self):
        """False for the ``"bce"`` loss: its inputs are raw intensities in [0, 1].

        ``noise_std`` is in standard deviations for standardized kinds; on
        intensities in [0, 1] the same noise drowns the image. On digits
        images paired with words it cost both the pixel error and the words
        spelled from images (``benchmarks/README.md``, the suite).
        """
        return getattr(self, "loss_", self.pixel_loss) != "bce"

    def build_scaler(self):
        """``"bce"``: values as they are, sigmoid back; ``"mse"``: per-pixel standardization."""
        if self.loss_ == "bce":
            return BinaryScaler(labels=False)
        return Standardize(self.mean_, self.scale_)

    def sample_loss(self, output, target):
        """Mean BCE of the logits (``"bce"``) or standardized MSE (``"mse"``) per sample."""
        if self.loss_ == "bce":
            return per_sample_mean(
                F.binary_cross_entropy_with_logits(output, target, reduction="none")
            )
        return per_sample_mean(F.mse_loss(output, target, reduction="none"))


class Image(PixelModality):
    """Images ``(n, channels, height, width)``, or ``(n, height, width)`` grayscale.

    The encoder is a stack of stride-2 convolutions (kernel 3, ReLU) and
    the estimator's MLP; the decoder mirrors it with transposed
    convolutions and is cropped to the exact image size, so any height and
    width work (odd ones too).

    Parameters
    ----------
    channels : sequence of int, default=(16, 32)
        Output channels of each encoder convolution; each halves the height
        and width (rounding up). The decoder mirrors them.
    pixel_loss : {"auto", "bce", "mse"}, default="auto"
        ``"bce"``: intensities in [0, 1] are the targets of a binary
        cross-entropy on the decoder's logits, and reconstructions are
        sigmoids (in [0, 1]). ``"mse"``: each pixel is standardized with its
        mean and standard deviation over the training images (constant
        pixels keep a scale of 1), the loss is the MSE in those units, and
        reconstructions are in original units. ``"auto"`` picks ``"bce"``
        when every training value is in [0, 1], else ``"mse"``.
    encoder, decoder : torch.nn.Module, callable or None, default=None
        Custom architectures; see :class:`Modality`. The encoder reads
        ``(n_samples, channels, height, width)`` in model units (as given
        for ``"bce"``, standardized for ``"mse"``); the decoder returns that
        shape (logits for ``"bce"``).

    Notes
    -----
    The loss parameter is named ``pixel_loss``, not ``loss``, because
    every modality has a :meth:`loss` method that an instance attribute
    of that name would hide.

    Attributes
    ----------
    input_shape_ : tuple of int
        ``(channels, height, width)``; grayscale ``(n, height, width)`` input
        has 1 channel.
    n_features_ : int
        Number of values in one image.
    input_ndim_ : int
        Rank of the array given to :meth:`fit` (3 or 4); reconstructions
        have this rank.
    loss_ : {"bce", "mse"}
        The loss in use (``pixel_loss`` resolved).
    mean_ : ndarray of shape (channels, height, width)
        Per-pixel mean; only for the ``"mse"`` loss.
    scale_ : ndarray of shape (channels, height, width)
        Per-pixel standard deviation (1 for constant pixels); only for
        the ``"mse"`` loss.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skmmae.modalities import Image
    >>> images = np.random.default_rng(0).random((6, 15, 16))  # grayscale, in [0, 1]
    >>> m = Image(channels=(4, 8)).fit(images, label="Modality 'img'")
    >>> m.loss_, m.input_shape_
    ('bce', (1, 15, 16))
    >>> decoder = m.build_decoder(encoding_dim=3, hidden_dims=(16,))
    >>> decoder(torch.zeros(2, 3)).shape
    torch.Size([2, 1, 15, 16])
    >>> Image().fit(10 * images).loss_
    'mse'
    >>> m.validate(images + 1, label="Modality 'img'")
    Traceback (most recent call last):
    ...
    ValueError: Modality 'img' must hold values in [0, 1] for the image loss 'bce' (use pixel_loss='mse' for other values); values outside it are in 6 rows (first: 0, 1, 2, 3, 4).
    """

    kind = "image"
    _spatial_ndim = 2
    _layout = "(n_samples, channels, height, width), or (n_samples, height, width) for grayscale"


def _check_unit_interval(values, label, kind):
    flat = values.reshape(len(values), -1)
    # Two reductions for the common case; the per-row mask only for the message.
    check_values(
        values.size == 0 or (values.min() >= 0 and values.max() <= 1),
        label,
        f"must hold values in [0, 1] for the {kind} loss 'bce' (use "
        "pixel_loss='mse' for other values); values outside it are",
        lambda: ((flat < 0) | (flat > 1)).any(axis=1),
    )
