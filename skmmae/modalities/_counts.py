"""Non-negative counts (bag-of-words, k-mers, events): Poisson or negative binomial.

Counts are usually sparse and may be far too large to densify, so sparse
input stays a CSR matrix throughout: it is checked on its stored values,
its statistics come from its stored values, and the data path gathers one
dense batch at a time (:class:`skmmae._sparse.SparseRows`).
"""

import numpy as np
import torch
from scipy import sparse
from sklearn.utils.validation import check_array
from torch import nn
from torch.nn import functional as F

from .._layers import mlp_decoder, mlp_encoder
from .._values import as_float_array, raise_for_rows
from ._base import Modality, PassThroughScaler, invalid_parameter, per_sample_mean
from ._continuous import positive_scale

__all__ = ["Counts", "CountsScaler", "LogStandardize", "NegativeBinomialDecoder"]

_DISTRIBUTIONS = ("poisson", "negative_binomial")

#: Bounds of the log-dispersion: beyond them the NB is a Poisson (below) or
#: puts all mass at 0 (above), and float32 lgamma differences lose precision.
_LOG_DISPERSION_RANGE = (-8.0, 8.0)


class LogStandardize(nn.Module):
    """The default count encoder's input: ``(log1p(counts) - mean) / scale``.

    Parameters
    ----------
    mean, scale : ndarray of shape (n_features,)
        Per-feature statistics of the transformed counts; ``scale`` > 0.
    log : bool, default=True
        Whether to apply ``log1p`` before standardizing.
    """

    def __init__(self, mean, scale, log=True):
        super().__init__()
        self.log = log
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, counts):
        values = torch.log1p(counts) if self.log else counts
        return (values - self.mean) / self.scale


class CountsScaler(PassThroughScaler):
    """Counts stay counts (the loss target); log-rates go back as expected counts.

    Parameters
    ----------
    n_features : int
        Number of count features: the first ``n_features`` decoder outputs
        are the log-rates (a negative binomial decoder appends its
        log-dispersions after them).
    """

    def __init__(self, n_features):
        super().__init__()
        self.n_features = n_features

    def inverse(self, output):
        """Expected counts ``exp(log_rate)``, float32, of shape (n, n_features)."""
        return torch.exp(output[:, : self.n_features].float())


class NegativeBinomialDecoder(nn.Module):
    """Log-rates from a body network, plus one learned log-dispersion per feature.

    The output is ``[log_rate | log_dispersion]`` of shape
    ``(n_samples, 2 * n_features)``: the loss only sees the decoder's output,
    so the per-feature dispersion parameter travels in it (broadcast over the
    batch).

    Parameters
    ----------
    body : torch.nn.Module
        Maps codes to log-rates ``(n_samples, n_features)``.
    n_features : int
        Number of count features.
    """

    def __init__(self, body, n_features):
        super().__init__()
        self.body = body
        # alpha = exp(log_dispersion); variance = rate + alpha * rate**2.
        # alpha = 1 to start: word counts are strongly overdispersed.
        self.log_dispersion = nn.Parameter(torch.zeros(n_features))

    def forward(self, code):
        log_rate = self.body(code)
        dispersion = self.log_dispersion.to(log_rate.dtype).expand_as(log_rate)
        return torch.cat([log_rate, dispersion], dim=1)


def negative_binomial_nll(log_rate, log_dispersion, counts):
    """Negative binomial NLL of each value, up to the constant ``log(counts!)``.

    Parametrized by the log of the mean ``rate`` and the log of the
    dispersion ``alpha`` (variance ``rate + alpha * rate**2``), so that no
    ``exp`` can overflow: ``log(theta + rate)`` with ``theta = 1 / alpha`` is
    a ``logaddexp``. Dropping ``log(counts!)`` (as ``F.poisson_nll_loss``
    with ``full=False`` does) keeps the values comparable with the Poisson
    loss.

    Parameters
    ----------
    log_rate, log_dispersion, counts : torch.Tensor of the same shape

    Returns
    -------
    torch.Tensor
        Of the same shape as the inputs.

    Examples
    --------
    >>> import torch
    >>> from torch.nn import functional as F
    >>> from skmmae.modalities._counts import negative_binomial_nll
    >>> log_rate = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    >>> counts = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    >>> near_poisson = negative_binomial_nll(log_rate, torch.full_like(log_rate, -20.0), counts)
    >>> poisson = F.poisson_nll_loss(log_rate, counts, log_input=True, full=False, reduction="none")
    >>> bool(torch.allclose(near_poisson, poisson, atol=1e-6))
    True
    """
    log_theta = -log_dispersion
    theta = torch.exp(log_theta)
    log_theta_rate = torch.logaddexp(log_theta, log_rate)
    log_likelihood = (
        torch.lgamma(counts + theta)
        - torch.lgamma(theta)
        + theta * (log_theta - log_theta_rate)
        + counts * (log_rate - log_theta_rate)
    )
    return -log_likelihood


class Counts(Modality):
    """Non-negative counts, dense or scipy sparse: Poisson or negative binomial.

    Sparse input (any scipy sparse matrix or array) stays sparse: it is
    checked and summarized on its stored values and only one batch at a
    time is made dense for the model. The encoder reads ``log1p`` counts
    standardized per feature; the decoder predicts per-feature log-rates,
    scored by the Poisson or negative binomial likelihood of the counts.
    Rates are absolute (not relative to each sample's total count): the
    code has to carry a document's length along with its content.

    Parameters
    ----------
    distribution : {"poisson", "negative_binomial"}, default="poisson"
        The distribution of the counts given the predicted rate; its
        negative log-likelihood is the loss (the parameter is not called
        ``loss``, the name of the method every modality provides). The
        negative binomial adds a learned dispersion per feature (variance
        ``rate + alpha * rate**2``), for overdispersed counts such as words
        that come in bursts. Both losses leave out the constant
        ``log(counts!)``, so their values are comparable.
    log_transform : bool, default=True
        Whether the encoder reads ``log1p(counts)`` (then standardized) rather
        than the standardized counts themselves; it tames the heavy tail of
        counts.
    integer : bool, default=True
        Whether the values must be whole numbers. Pass False for non-negative
        real values such as tf-idf weights or normalized abundances; the
        losses are then quasi-likelihoods.
    encoder, decoder : torch.nn.Module, callable or None, default=None
        Custom architectures; see :class:`Modality`. The encoder reads the
        raw counts ``(n_samples, n_features)`` (put :class:`LogStandardize`
        before it in an ``nn.Sequential`` to read what the default encoder
        reads); the decoder returns log-rates ``(n_samples, n_features)``,
        followed by as many log-dispersions for
        ``distribution="negative_binomial"`` (see :meth:`decoder_output_shape`).

    Attributes
    ----------
    input_shape_ : tuple of int
        ``(n_features,)``.
    n_features_ : int
        Number of count features seen in :meth:`fit`.
    mean_ : ndarray of shape (n_features,)
        Per-feature mean of ``log1p(counts)`` (of the counts when
        ``log_transform=False``), as the encoder reads them.
    scale_ : ndarray of shape (n_features,)
        Per-feature standard deviation of the same (1 for constant features).
    rate_ : ndarray of shape (n_features,)
        Mean count of each feature; the default decoder starts from these
        rates, so training learns departures from them.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> from skmmae.modalities import Counts
    >>> X = sparse.csr_matrix(np.array([[0, 3], [1, 0], [0, 1], [0, 0]]))
    >>> m = Counts().fit(X)
    >>> m.rate_
    array([0.25, 1.  ])
    >>> checked = m.validate(X)  # still sparse
    >>> checked.format, checked.dtype, checked.nnz
    ('csr', dtype('float32'), 3)
    >>> Counts().fit(np.array([[0, -2], [1, 0]]), "Modality 'words'")
    Traceback (most recent call last):
    ...
    ValueError: Modality 'words' has negative counts in 1 rows (first: 0).
    """

    kind = "counts"
    # The encoder reads raw counts (its log1p is inside it): no Gaussian noise.
    accepts_input_noise = False

    def __init__(
        self,
        distribution="poisson",
        log_transform=True,
        integer=True,
        *,
        encoder=None,
        decoder=None,
    ):
        super().__init__(encoder=encoder, decoder=decoder)
        self.distribution = distribution
        self.log_transform = log_transform
        self.integer = integer

    # -- data -------------------------------------------------------------------

    def _validate(self, X, label):
        if self.distribution not in _DISTRIBUTIONS:
            raise invalid_parameter(
                self, label, "distribution", "'poisson' or 'negative_binomial'",
                self.distribution,
            )
        if sparse.issparse(X):
            matrix = _as_float_csr(X, label)
            values, entry_rows = matrix.data, lambda bad: _rows_of_entries(matrix, bad)
        else:
            matrix = as_float_array(X, label)  # checks finiteness row by row
            values, entry_rows = matrix, lambda bad: bad.any(axis=1)
        _check_counts(values, entry_rows, label, self.integer)
        return matrix

    def _fit(self, X):
        transform = np.log1p if self.log_transform else None
        total, squares = _column_sums(X, transform)
        n = X.shape[0]
        self.mean_ = total / n
        scale = np.sqrt(np.maximum(squares / n - self.mean_**2, 0.0))
        self.scale_ = positive_scale(self.mean_, scale)
        self.rate_ = (total if transform is None else _column_sums(X, None)[0]) / n

    def _statistics_from_values(self):
        return [
            "per-feature means and standard deviations of the (log) counts, and mean "
            "counts, which Counts always learns: scale the counts with public statistics "
            "and pass Continuous(standardize=False)"
        ]

    # -- model parts --------------------------------------------------------------

    def build_scaler(self):
        """Return the module that keeps counts and turns log-rates into counts."""
        return CountsScaler(self.n_features_)

    def decoder_output_shape(self):
        """``(n_features,)`` log-rates; ``(2 * n_features,)`` for the negative binomial.

        The negative binomial decoder appends one log-dispersion per feature
        to the log-rates.
        """
        width = 2 if self.distribution == "negative_binomial" else 1
        return (width * self.n_features_,)

    def sample_loss(self, output, target):
        """Each sample's mean Poisson or negative binomial NLL, up to ``log(counts!)``."""
        n = self.n_features_
        log_rate = output[:, :n]
        if self.distribution == "poisson":
            nll = F.poisson_nll_loss(log_rate, target, log_input=True, full=False, reduction="none")
            return per_sample_mean(nll)
        log_dispersion = output[:, n:].clamp(*_LOG_DISPERSION_RANGE)
        return per_sample_mean(negative_binomial_nll(log_rate, log_dispersion, target))

    def _default_encoder(self, hidden_dims):
        body, width = mlp_encoder(self.n_features_, hidden_dims)
        standardize = LogStandardize(self.mean_, self.scale_, self.log_transform)
        return nn.Sequential(standardize, body), width

    def _default_decoder(self, encoding_dim, hidden_dims):
        body = mlp_decoder(encoding_dim, hidden_dims, self.n_features_)
        with torch.no_grad():
            # Start at each feature's mean rate (the best constant model);
            # unseen features get a tiny rate instead of log(0).
            log_rate = np.log(np.maximum(self.rate_, 1e-6))
            body[-1].bias.copy_(torch.as_tensor(log_rate, dtype=torch.float32))
        if self.distribution == "negative_binomial":
            return NegativeBinomialDecoder(body, self.n_features_)
        return body


# -- checks and statistics that never densify sparse input -------------------------


def _as_float_csr(X, label):
    """Any scipy sparse matrix or array as CSR float32, duplicates summed."""
    if X.ndim != 2:
        raise ValueError(f"{label} must be a 2-D sparse matrix; got shape {X.shape}.")
    try:
        matrix = check_array(
            X, accept_sparse="csr", dtype=np.float32, ensure_all_finite=False, input_name=label
        )
    except (TypeError, ValueError) as error:
        message = f"{label} could not be read as a sparse count matrix: {error}"
        raise type(error)(message) from error
    if not matrix.has_canonical_format:
        matrix = matrix.copy()  # never change the caller's matrix in place
        matrix.sum_duplicates()
    return matrix


def _rows_of_entries(matrix, bad):
    """Boolean mask of the CSR rows holding at least one flagged stored value."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return np.bincount(rows[bad], minlength=matrix.shape[0]) > 0


def _check_counts(values, entry_rows, label, integer):
    """Raise a ValueError naming ``label`` and the rows with invalid counts.

    ``values`` are the dense block or a sparse matrix's stored values;
    ``entry_rows(bad)`` maps a mask over them to a mask over rows. Masks are
    only built when a cheap reduction has found a problem.
    """
    if values.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        finite_sum = np.isfinite(values.sum())  # NaN and inf propagate
    if not finite_sum and not np.isfinite(values).all():
        what = "NaN" if np.isnan(values).any() else "infinity (or a value too large for float32)"
        bad = ~np.isfinite(values)
        raise_for_rows(label, f"contains {what}", entry_rows(bad), "Values must be finite.")
    if values.min() < 0:
        raise_for_rows(label, "has negative counts", entry_rows(values < 0))
    if integer:
        fractional = np.mod(values, 1) != 0
        if fractional.any():
            raise_for_rows(
                label,
                "has non-integer counts",
                entry_rows(fractional),
                "Pass Counts(integer=False) for non-negative real values such as tf-idf weights.",
            )


def _column_sums(X, transform, rows_per_chunk=8192):
    """Per-column sums of ``transform(X)`` and of its square, in float64.

    Sparse X: from the stored values only, which is exact because both
    transforms (identity, ``log1p``) map 0 to 0. Dense X: by row chunks, so
    no float64 copy of the whole block is made.
    """
    n_columns = X.shape[1]
    if sparse.issparse(X):
        values = X.data.astype(np.float64)
        if transform is not None:
            values = transform(values)
        total = np.bincount(X.indices, weights=values, minlength=n_columns)
        squares = np.bincount(X.indices, weights=values**2, minlength=n_columns)
        return total, squares
    total, squares = np.zeros(n_columns), np.zeros(n_columns)
    for start in range(0, X.shape[0], rows_per_chunk):
        chunk = X[start : start + rows_per_chunk].astype(np.float64)
        if transform is not None:
            chunk = transform(chunk)
        total += chunk.sum(axis=0)
        squares += (chunk**2).sum(axis=0)
    return total, squares
