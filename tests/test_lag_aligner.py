"""The lag aligner's parts: zero-phase projections, the correlation over lags, the closed-form start."""

import numpy as np
import pytest
import torch

from skmmae._lag_aligner import LagAligner, ZeroPhaseConv1d, _cross_correlation, shift
from skmmae.datasets import make_lagged


def standardized(x):
    x = x - x.mean(axis=-1, keepdims=True)
    return x / x.std(axis=-1, keepdims=True)


def test_zero_phase_projection_moves_nothing_in_time():
    torch.manual_seed(0)
    conv = ZeroPhaseConv1d(1, 3, 5)
    impulse = torch.zeros(1, 1, 21)
    impulse[0, 0, 10] = 1.0
    response = (conv(impulse) - conv.bias[:, None]).detach()[0]
    # Symmetric about the impulse: no component is delayed or advanced.
    torch.testing.assert_close(response, response.flip(-1))
    with pytest.raises(ValueError, match="odd width"):
        ZeroPhaseConv1d(1, 1, 4)


def test_correlation_over_lags_is_pearson_over_each_overlap():
    rng = np.random.default_rng(0)
    ref, other = rng.normal(size=(3, 1, 40)), rng.normal(size=(3, 1, 40))
    ref[:, :, 5:] += 2 * other[:, :, :-5]  # "other" 5 steps ahead: lag -5
    scores = _cross_correlation(torch.tensor(ref), torch.tensor(other), max_lag=6).numpy()
    for i in range(3):
        for j, lag in enumerate(range(-6, 7)):
            x, y = (ref[i, 0, -lag:], other[i, 0, : 40 + lag]) if lag < 0 else (
                ref[i, 0, : 40 - lag], other[i, 0, lag:]
            )
            assert scores[i, j] == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-4)
    assert (scores.argmax(axis=1) == 1).all()  # column 1 is lag -5


def test_the_closed_form_start_finds_the_lags_through_mismatched_channels():
    lagged = make_lagged(200, noise=0.05, max_lag=8, random_state=0)
    a, b = (torch.tensor(standardized(lagged.data[name])) for name in ("a", "b"))
    # "b"'s channels swapped and its signal negated: no channel index matches "a"'s.
    b = -b.flip(1)
    aligner = LagAligner({"a": (2, 64), "b": (2, 32)}, "a", {"a": 1.0, "b": 2.0}, max_lag=8)
    aligner.initialize({"a": a, "b": b}, {})
    found = aligner.lags(aligner.correlations({"a": a, "b": b}), {})["b"].numpy()
    assert np.median(np.abs(found - lagged.lags)) < 0.3


def test_lags_of_samples_lacking_a_series_are_the_missing_value():
    aligner = LagAligner({"a": (1, 16), "b": (1, 16)}, "a", {"a": 1.0, "b": 1.0}, max_lag=3)
    scores = aligner.correlations({"a": torch.randn(4, 1, 16), "b": torch.randn(4, 1, 16)})
    present = {"b": torch.tensor([1.0, 0.0, 1.0, 0.0])}
    lags = aligner.lags(scores, present, missing=float("nan"))["b"]
    assert torch.isnan(lags[[1, 3]]).all() and torch.isfinite(lags[[0, 2]]).all()
    assert aligner.correlations({"b": torch.randn(4, 1, 16)}) == {}  # no reference, no lags


def test_shift_reads_each_sample_later_by_its_own_fractional_lag():
    series = torch.arange(10.0).repeat(2, 1, 1)
    moved = shift(series, torch.tensor([0.5, -3.0]))
    torch.testing.assert_close(moved[0, 0, :3], torch.tensor([0.5, 1.5, 2.5]))
    torch.testing.assert_close(moved[1, 0, :5], torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0]))


def test_the_start_keeps_random_projections_when_no_sample_has_both_series():
    torch.manual_seed(0)
    aligner = LagAligner({"a": (1, 16), "b": (1, 16)}, "a", {"a": 1.0, "b": 1.0}, max_lag=3)
    before = aligner.other_side["b"].weight.clone()
    scaled = {"a": torch.randn(4, 1, 16), "b": torch.randn(4, 1, 16)}
    aligner.initialize(scaled, {"b": torch.zeros(4)})
    torch.testing.assert_close(aligner.other_side["b"].weight, before)
