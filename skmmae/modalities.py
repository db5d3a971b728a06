"""One class per kind of data: how it is scaled, encoded, decoded and scored.

A modality is an sklearn-style object: its constructor stores parameters
(visible to ``get_params``), and :meth:`Modality.fit` learns what it needs
from the training data (e.g. per-feature mean and scale). The torch module
asks each modality for its layers and its loss, so a new kind of data is
one new class here and nothing else changes.
"""

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import nn
from torch.nn import functional as F

from ._layers import mlp

__all__ = ["Continuous", "Modality"]


class Modality(BaseEstimator):
    """Base class of a data kind.

    Subclasses implement :meth:`fit`, :meth:`build_scaler`,
    :meth:`build_encoder`, :meth:`build_decoder` and :meth:`loss`.

    Examples
    --------
    >>> from skmmae.modalities import Continuous, Modality
    >>> isinstance(Continuous(), Modality)
    True
    """

    def fit(self, X):
        """Learn what the modality needs from its training block.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The modality's training data, float32.

        Returns
        -------
        self : Modality
        """
        raise NotImplementedError

    def build_scaler(self):
        """Return an ``nn.Module`` mapping original units to model units.

        It must also provide ``inverse(x)`` for the way back.
        """
        raise NotImplementedError

    def build_encoder(self, hidden_dims):
        """Return ``(encoder, out_features)`` for this modality."""
        raise NotImplementedError

    def build_decoder(self, encoding_dim, hidden_dims):
        """Return a decoder from a code of size ``encoding_dim``."""
        raise NotImplementedError

    def loss(self, reconstruction, target):
        """Mean loss of a batch, in model units."""
        raise NotImplementedError


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


def _mean_std(X, rows_per_chunk=8192):
    """Per-column mean and standard deviation, accumulated in float64.

    Works through row chunks so that no float64 copy of the whole block is
    made (two passes: the mean, then squared deviations from it).
    """
    n = X.shape[0]
    chunks = range(0, n, rows_per_chunk)
    mean = sum(X[i : i + rows_per_chunk].sum(axis=0, dtype=np.float64) for i in chunks) / n
    squares = sum(
        ((X[i : i + rows_per_chunk] - mean) ** 2).sum(axis=0) for i in chunks
    )
    return mean, np.sqrt(squares / n)


class Continuous(Modality):
    """Real-valued features: standardized, MLP encoder and decoder, MSE loss.

    Parameters
    ----------
    standardize : bool, default=True
        Scale each feature to zero mean and unit variance inside the model
        (statistics learned in :meth:`fit`). Reconstructions are returned in
        original units either way. Constant features keep a scale of 1.

    Attributes
    ----------
    n_features_ : int
        Number of features seen in :meth:`fit`.
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

    def __init__(self, standardize=True):
        self.standardize = standardize

    def fit(self, X):
        """Learn the number of features and, if asked, mean and scale.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The modality's training data.

        Returns
        -------
        self : Continuous
        """
        X = np.asarray(X)
        self.n_features_ = X.shape[1]
        if self.standardize:
            self.mean_, scale = _mean_std(X)
            self.scale_ = np.where(scale > 1e-12 * (1 + np.abs(self.mean_)), scale, 1.0)
        else:
            self.mean_ = np.zeros(self.n_features_)
            self.scale_ = np.ones(self.n_features_)
        return self

    def build_scaler(self):
        """Return a ``Standardize`` module for the fitted statistics."""
        return Standardize(self.mean_, self.scale_)

    def build_encoder(self, hidden_dims):
        """Return an MLP ``n_features -> hidden_dims`` and its output width."""
        sizes = (self.n_features_, *hidden_dims)
        return mlp(sizes, final_activation=True), sizes[-1]

    def build_decoder(self, encoding_dim, hidden_dims):
        """Return the mirrored MLP ``encoding_dim -> reversed(hidden_dims) -> n_features``."""
        return mlp((encoding_dim, *reversed(hidden_dims), self.n_features_))

    def loss(self, reconstruction, target):
        """Mean squared error in standardized units."""
        return F.mse_loss(reconstruction, target)
