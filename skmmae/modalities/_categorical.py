"""Categorical features: one-hot MLP encoder, one softmax per column, cross-entropy."""

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from .._layers import mlp_decoder, mlp_encoder
from .._values import as_float_array, check_finite
from ._base import Modality, PassThroughScaler, check_values, invalid_parameter

__all__ = ["Categorical"]


class CategoricalScaler(PassThroughScaler):
    """Category indices stay indices; logits go back as the most likely index."""

    def __init__(self, n_categories):
        super().__init__()
        self.n_categories = list(n_categories)

    def inverse(self, logits):
        """Per column, the index of the largest logit: ``(n_samples, n_columns)``."""
        groups = torch.split(logits, self.n_categories, dim=1)
        return torch.stack([group.argmax(dim=1) for group in groups], dim=1)


class OneHot(nn.Module):
    """Category indices ``(n, n_columns)`` -> concatenated one-hot floats."""

    def __init__(self, n_categories):
        super().__init__()
        offsets = np.concatenate([[0], np.cumsum(n_categories)[:-1]])
        self.register_buffer("offsets", torch.as_tensor(offsets, dtype=torch.long))
        self.width = int(sum(n_categories))

    def forward(self, x):
        # A missing cell (index -1) is a column of zeros: no category.
        observed = x >= 0
        out = torch.zeros(len(x), self.width, device=x.device)
        return out.scatter_(1, x.clamp_min(0) + self.offsets, observed.to(out.dtype))


class Categorical(Modality):
    """Categorical features: one cross-entropy per column.

    Each column holds the categories of one variable (integers, strings or
    any sortable values, e.g. a pandas ``category`` column); the categories
    of each column are learned in :meth:`fit`. The encoder reads one-hot
    vectors, the decoder gives one set of logits per column.

    Parameters
    ----------
    input : {"codes", "onehot"}, default="codes"
        ``"codes"``: one column per variable, holding its category values.
        ``"onehot"``: the one-hot matrix of a single variable (exactly one 1
        per row); :meth:`fit` learns the number of categories from its width
        and ``inverse_transform`` returns one-hot rows again.
    encoder, decoder : torch.nn.Module, callable or None, default=None
        Custom architectures; see :class:`Modality`. The encoder reads
        category indices ``(n_samples, n_columns)`` (int64); the decoder
        returns ``(n_samples, sum of n_categories)`` logits, column after
        column.

    Attributes
    ----------
    input_shape_ : tuple of int
        ``(n_columns,)`` (``(1,)`` for one-hot input).
    n_features_ : int
        Number of categorical columns.
    categories_ : list of ndarray
        The sorted categories of each column; a value's index in it is its
        class index.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae.modalities import Categorical
    >>> m = Categorical().fit(np.array([["red", "s"], ["blue", "m"], ["red", "m"]]))
    >>> [c.tolist() for c in m.categories_]
    [['blue', 'red'], ['m', 's']]
    >>> m.validate(np.array([["blue", "s"]]))
    array([[0, 1]])
    >>> m.restore(np.array([[1, 0]]))
    array([['red', 'm']], dtype='<U4')
    """

    kind = "categorical"
    accepts_missing_cells = True
    #: A missing cell is index -1, read as a one-hot column of zeros.
    missing_fill = None

    def __init__(self, input="codes", *, encoder=None, decoder=None):
        super().__init__(encoder=encoder, decoder=decoder)
        self.input = input

    def _validate(self, X, label):
        if self.input not in ("codes", "onehot"):
            raise invalid_parameter(self, label, "input", "'codes' or 'onehot'", self.input)
        if self.input == "onehot":
            return self._read_onehot(X, label)
        return _read_codes(X, label)

    def _model_values(self, values, label):
        if self.input == "onehot":
            return values.argmax(axis=1).reshape(-1, 1)
        return self._indices(values, label)

    def _read_onehot(self, X, label):
        values = as_float_array(X, label)
        if hasattr(self, "categories_") and values.shape[1] != len(self.categories_[0]):
            raise ValueError(
                f"{label} has {values.shape[1]} one-hot columns, but was fitted with "
                f"{len(self.categories_[0])} categories."
            )
        is_onehot = ((values == 0) | (values == 1)).all(axis=1) & (values.sum(axis=1) == 1)
        check_values(
            is_onehot.all(),
            label,
            "must be one-hot (input='onehot': one 1 per row, zeros elsewhere); it is not",
            lambda: ~is_onehot,
        )
        return values

    def _fit(self, X):
        if self.input == "onehot":
            # Column positions are the categories; the model reads one index.
            self.categories_ = [np.arange(X.shape[1])]
            self.input_shape_, self.n_features_ = (1,), 1
        else:
            self.categories_ = [np.unique(column[~pd.isna(column)]) for column in X.T]

    def _statistics_from_values(self):
        if self.input == "onehot":
            return []
        return [
            "the categories seen (input='codes'): give one-hot columns over the public "
            "categories and pass Categorical(input='onehot')"
        ]

    def _indices(self, values, label):
        indices = np.empty(values.shape, dtype=np.int64)
        for j, categories in enumerate(self.categories_):
            column = values[:, j]
            missing = pd.isna(column)
            # Missing cells look up a stand-in category, then become index -1.
            looked_up = np.where(missing, categories[0], column)
            found = np.searchsorted(categories, looked_up).clip(max=len(categories) - 1)
            known = (categories[found] == looked_up) | missing
            found[missing] = -1
            if not known.all():
                check_values(
                    False,
                    label,
                    f"column {j} has categories not seen in fit "
                    f"(e.g. {column[~known][0]!r}); they are",
                    lambda: ~known,
                )
            indices[:, j] = found
        return indices

    def restore(self, values):
        """Class indices -> category values (one-hot rows for ``input='onehot'``)."""
        values = np.asarray(values)
        if self.input == "onehot":
            return np.eye(len(self.categories_[0]), dtype=np.float32)[values[:, 0]]
        columns = [categories[values[:, j]] for j, categories in enumerate(self.categories_)]
        return np.stack(columns, axis=1)

    def build_scaler(self):
        """Return the module that turns logits into class indices."""
        return CategoricalScaler(self._n_categories())

    def decoder_output_shape(self):
        """``(sum of n_categories,)``: the logits of every column, concatenated."""
        return (sum(self._n_categories()),)

    def sample_loss(self, output, target):
        """Mean over each sample's observed columns of their cross-entropy."""
        groups = torch.split(output, self._n_categories(), dim=1)
        losses = [
            F.cross_entropy(group, target[:, j].clamp_min(0), reduction="none")
            for j, group in enumerate(groups)
        ]
        observed = target >= 0
        total = torch.where(observed, torch.stack(losses, dim=1), 0.0).sum(dim=1)
        return total / observed.sum(dim=1).clamp_min(1)

    def _n_categories(self):
        return [len(categories) for categories in self.categories_]

    def _example_batch(self):
        return torch.zeros((2, *self.input_shape_), dtype=torch.long)

    def _default_encoder(self, hidden_dims):
        onehot = OneHot(self._n_categories())
        body, width = mlp_encoder(onehot.width, hidden_dims)
        return nn.Sequential(onehot, body), width

    def _default_decoder(self, encoding_dim, hidden_dims):
        return mlp_decoder(encoding_dim, hidden_dims, sum(self._n_categories()))


def _read_codes(X, label):
    """Category values as a 2-D array (numbers stay numbers, others become str)."""
    values = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
    if values.ndim != 2:
        raise ValueError(f"{label} must be a 2-D array of category values; got shape {values.shape}.")
    if values.dtype.kind == "f":
        check_finite(values, label, allow_nan=True)  # NaN: a missing cell
    elif values.dtype.kind == "O":
        # None and NaN are missing cells; every other value becomes a str.
        missing = pd.isna(values)
        values = values.astype(str).astype(object)
        values[missing] = None
    return values
