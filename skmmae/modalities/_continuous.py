"""Real-valued features: standardized, MLP encoder and decoder, MSE loss."""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._docstrings import fill_doc
from .._layers import mlp_decoder, mlp_encoder
from .._values import as_float_array
from ._base import Modality, masked_sample_mean

__all__ = ["Continuous", "Standardize", "positive_scale"]


class Standardize(nn.Module):
    """``(x - mean) / scale`` with the statistics stored as buffers.

    Parameters
    ----------
    mean, scale : ndarray of shape (n_features,)
        Per-feature statistics; ``scale`` must be positive.
    """

    def __init__(self, mean, scale):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x):
        return (x - self.mean) / self.scale

    def inverse(self, x):
        """Map model units back to original units."""
        return x * self.scale + self.mean


def positive_scale(mean, std):
    """``std`` with (numerically) constant entries replaced by 1.

    Dividing by a zero or round-off deviation would blow up constant pixels
    or channels; a scale of 1 leaves them centred and harmless.
    """
    return np.where(std > 1e-12 * (1 + np.abs(mean)), std, 1.0)


@fill_doc
class Continuous(Modality):
    """Real-valued features: standardized, MLP encoder and decoder, MSE loss.

    Parameters
    ----------
    standardize : bool, default=True
        Scale each feature to zero mean and unit variance inside the model
        (statistics learned in :meth:`fit`). Reconstructions are returned in
        original units either way. Constant features keep a scale of 1.
    encoder, decoder : torch.nn.Module, callable or None, default=None
        Custom architectures; see :class:`Modality`. The encoder reads
        standardized values ``(n_samples, n_features)``; the decoder returns
        standardized values of that shape.

    %(feature_attributes)s
    mean_ : ndarray of shape (n_features,)
        Per-feature mean (zeros when ``standardize=False``).
    scale_ : ndarray of shape (n_features,)
        Per-feature standard deviation (ones when ``standardize=False``).

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae.modalities import Continuous
    >>> X = np.array([[0.0, 10.0], [2.0, 30.0]], dtype=np.float32)
    >>> m = Continuous().fit(X)
    >>> m.mean_, m.scale_
    (array([ 1., 20.]), array([ 1., 10.]))
    """

    kind = "continuous"
    fits_on_summary = True
    finite_check_deferrable = True
    kernel_readout = True
    accepts_missing_cells = True

    def __init__(self, standardize=True, *, encoder=None, decoder=None):
        super().__init__(encoder=encoder, decoder=decoder)
        self.standardize = standardize

    def _validate(self, X, label, scan_finite=True):
        return as_float_array(X, label, scan_finite=scan_finite, allow_nan=True)

    def _fit(self, summary):
        if self.standardize:
            self.mean_ = summary.mean
            self.scale_ = positive_scale(self.mean_, summary.std)
        else:
            self.mean_ = np.zeros(self.n_features_)
            self.scale_ = np.ones(self.n_features_)

    def _statistics_from_values(self):
        if not self.standardize:
            return []
        return [
            "per-feature means and standard deviations (standardize=True): standardize "
            "with public statistics and pass Continuous(standardize=False)"
        ]

    def build_scaler(self):
        """Return a ``Standardize`` module for the fitted statistics."""
        return Standardize(self.mean_, self.scale_)

    def decoder_output_shape(self):
        """``(n_features,)``: one value per feature, in standardized units."""
        return (self.n_features_,)

    def _default_encoder(self, hidden_dims):
        return mlp_encoder(self.encoder_input_width(), hidden_dims)

    def _default_decoder(self, encoding_dim, hidden_dims):
        return mlp_decoder(encoding_dim, hidden_dims, self.n_features_)

    def sample_loss(self, output, target):
        """Mean squared error of each sample over its observed values, in standardized units."""
        return masked_sample_mean(F.mse_loss(output, target.nan_to_num(), reduction="none"), target)
