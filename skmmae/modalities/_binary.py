"""Binary features (values 0 and 1): MLP encoder and decoder, BCE with logits."""

import numpy as np
import torch
from torch.nn import functional as F

from .._docstrings import fill_doc
from .._layers import mlp_decoder, mlp_encoder
from .._values import as_float_array
from ._base import (
    Modality,
    PassThroughScaler,
    check_values,
    invalid_parameter,
    masked_sample_mean,
)

__all__ = ["Binary"]


#: Keeps the logits of predicted probabilities of 0 or 1 finite (float32).
_EPSILON = 1e-6


class BinaryScaler(PassThroughScaler):
    """Values stay 0/1; decoder logits go back as probabilities or 0/1."""

    def __init__(self, labels):
        super().__init__()
        self.labels = labels

    def inverse(self, logits):
        """Probabilities, or 0/1 labels when ``labels`` is True."""
        if self.labels:
            return (logits > 0).to(torch.float32)
        return torch.sigmoid(logits.float())

    def from_mean(self, mean):
        """The logits whose probabilities are ``mean`` (clipped into (0, 1), so finite)."""
        mean = mean.float().clamp(_EPSILON, 1 - _EPSILON)
        return torch.log(mean) - torch.log1p(-mean)


@fill_doc
class Binary(Modality):
    """Binary features: each value 0 or 1; binary cross-entropy on logits.

    Parameters
    ----------
    inverse : {"probability", "label"}, default="probability"
        What ``inverse_transform`` returns for this modality: the predicted
        probability of a 1, or the most likely value (0. or 1.).
    encoder, decoder : torch.nn.Module, callable or None, default=None
        Custom architectures; see :class:`Modality`. The encoder reads the
        0/1 values ``(n_samples, n_features)``; the decoder returns logits of
        that shape.

    %(feature_attributes)s
    frequency_ : ndarray of shape (n_features,)
        Share of ones per feature in the training data.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae.modalities import Binary
    >>> m = Binary().fit(np.array([[0, 1], [1, 1], [0, 1], [0, 0]]))
    >>> m.frequency_
    array([0.25, 0.75])
    >>> Binary().fit(np.array([[0, 2]]))
    Traceback (most recent call last):
    ...
    ValueError: X must hold only 0 and 1 (a binary modality); other values are in 1 rows (first: 0).
    """

    kind = "binary"
    fits_on_summary = True
    accepts_missing_cells = True
    #: A missing 0/1 value is read as one half, between the two.
    missing_fill = 0.5

    def __init__(self, inverse="probability", *, encoder=None, decoder=None):
        super().__init__(encoder=encoder, decoder=decoder)
        self.inverse = inverse

    def _validate(self, X, label):
        if self.inverse not in ("probability", "label"):
            raise invalid_parameter(
                self, label, "inverse", "'probability' or 'label'", self.inverse
            )
        values = as_float_array(X, label, allow_nan=True)
        is_binary = (values == 0) | (values == 1) | np.isnan(values)
        check_values(
            is_binary.all(),
            label,
            "must hold only 0 and 1 (a binary modality); other values are",
            lambda: ~is_binary.all(axis=1),
        )
        return values

    _reported_statistics = ("frequency_",)

    def _fit(self, summary):
        self.frequency_ = summary.mean

    def build_scaler(self):
        """Return the module that keeps 0/1 values and turns logits into outputs."""
        return BinaryScaler(labels=self.inverse == "label")

    def decoder_output_shape(self):
        """``(n_features,)``: one logit per feature."""
        return (self.n_features_,)

    def sample_loss(self, output, target):
        """Mean binary cross-entropy of each sample's logits ``output``, over its observed values."""
        loss = F.binary_cross_entropy_with_logits(output, target.nan_to_num(), reduction="none")
        return masked_sample_mean(loss, target)

    def _default_encoder(self, hidden_dims):
        return mlp_encoder(self.encoder_input_width(), hidden_dims)

    def _default_decoder(self, encoding_dim, hidden_dims):
        return mlp_decoder(encoding_dim, hidden_dims, self.n_features_)
