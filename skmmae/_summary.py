"""What a modality learns from its values, gathered in one pass over row chunks.

The kinds whose statistics are per-feature moments and a range
(continuous, binary, images, videos, time series, tokens) learn them from a
:class:`ValueSummary`, whatever holds the values: an array in memory is read
in row chunks, a block on disk (:mod:`skmmae._disk`) chunk by chunk from
the file. Means and variances of chunks are merged exactly (Chan, Golub &
LeVeque, 1979), so one pass serves, and no float64 copy of a whole block is
ever made.
"""

import numpy as np

__all__ = ["ROWS_PER_CHUNK", "ValueSummary", "row_chunks", "summarize"]

#: Rows read, checked or summarized at a time.
ROWS_PER_CHUNK = 8192


class ValueSummary:
    """Per-feature counts, means and squared deviations, and the range, of float values.

    Features are the values of one sample, flattened. NaN cells are missing:
    they count nowhere.

    Attributes
    ----------
    n_rows : int
        Rows summarized.
    count : ndarray of shape (n_features,)
        Observed (not NaN) cells per feature.
    mean : ndarray of shape (n_features,)
        Mean of each feature's observed cells (NaN where none is), float64.
    m2 : ndarray of shape (n_features,)
        Sum of squared deviations from ``mean``, float64.
    minimum, maximum : float
        The smallest and largest observed value (NaN when none is).

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae._summary import summarize
    >>> summary = summarize(np.array([[1.0, np.nan], [3.0, 4.0]]))
    >>> summary.mean, summary.std, summary.count, summary.maximum
    (array([2., 4.]), array([1., 0.]), array([2, 1]), 4.0)
    """

    def __init__(self, n_features):
        self.n_rows = 0
        self.count = np.zeros(n_features, dtype=np.int64)
        self.mean = np.zeros(n_features)
        self.m2 = np.zeros(n_features)
        self.minimum = np.inf
        self.maximum = -np.inf

    def add(self, chunk):
        """Add a chunk of rows: an array of shape ``(n_rows, ...)``."""
        values = chunk.reshape(len(chunk), -1)
        observed = ~np.isnan(values)
        count = observed.sum(axis=0)
        self.n_rows += len(values)
        if not count.any():
            return
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(values, axis=0, dtype=np.float64) / count
            m2 = np.nansum((values - mean) ** 2, axis=0, dtype=np.float64)
        mean, m2 = np.where(count > 0, mean, 0.0), np.where(count > 0, m2, 0.0)
        total = self.count + count
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = mean - self.mean
            share = np.where(total > 0, count / total, 0.0)
            self.m2 = self.m2 + m2 + delta**2 * self.count * share
            self.mean = self.mean + delta * share
        self.count = total
        self.minimum = min(self.minimum, float(np.nanmin(values)))
        self.maximum = max(self.maximum, float(np.nanmax(values)))

    @property
    def std(self):
        """Each feature's (population) standard deviation over its observed cells."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(self.m2 / self.count)

    @property
    def has_missing(self):
        """Whether any cell was missing (NaN)."""
        return bool((self.count < self.n_rows).any())

    def unobserved_features(self):
        """The features with no observed cell, as indices."""
        return np.flatnonzero(self.count == 0)


def row_chunks(values, rows_per_chunk=ROWS_PER_CHUNK):
    """``values`` (an array) in consecutive chunks of rows (views)."""
    for start in range(0, len(values), rows_per_chunk):
        yield values[start : start + rows_per_chunk]


def summarize(values):
    """The :class:`ValueSummary` of an array, or of an iterable of row chunks.

    Parameters
    ----------
    values : ndarray or iterable of ndarray
        The values, one sample per row, or their consecutive chunks (at
        least one).
    """
    chunks = row_chunks(values) if isinstance(values, np.ndarray) else values
    summary = None
    for chunk in chunks:
        if summary is None:
            summary = ValueSummary(int(np.prod(chunk.shape[1:])))
        summary.add(chunk)
    return summary if summary is not None else ValueSummary(int(np.prod(values.shape[1:])))
