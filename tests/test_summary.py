"""One-pass statistics over row chunks (skmmae._summary)."""

import numpy as np

from skmmae._summary import row_chunks, summarize


def test_chunked_moments_equal_numpys_over_observed_cells():
    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 2.0, size=(1000, 4, 5)).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = np.nan
    summary = summarize(row_chunks(values, rows_per_chunk=77))
    flat = values.reshape(1000, -1).astype(np.float64)
    np.testing.assert_allclose(summary.mean, np.nanmean(flat, axis=0), rtol=1e-10)
    np.testing.assert_allclose(summary.std, np.nanstd(flat, axis=0), rtol=1e-9)
    np.testing.assert_array_equal(summary.count, (~np.isnan(flat)).sum(axis=0))
    assert summary.minimum == np.nanmin(values) and summary.maximum == np.nanmax(values)
    assert summary.has_missing and summary.n_rows == 1000


def test_a_feature_never_observed_is_found():
    values = np.array([[1.0, np.nan], [2.0, np.nan]])
    summary = summarize(values)
    assert summary.unobserved_features().tolist() == [1]
    assert not summarize(np.ones((3, 2))).has_missing
