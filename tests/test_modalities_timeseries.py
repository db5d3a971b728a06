"""Time series of different lengths and with values not recorded: NaN padding, lengths, pooling."""

import numpy as np
import pandas as pd
import pytest
import torch

from skmmae import MultimodalAutoencoder
from skmmae.datasets import make_lagged
from skmmae.lags import Lags
from skmmae.modalities import TimeSeries


@pytest.fixture(scope="module")
def uneven():
    """Recordings of 32 to 64 steps of "a" ("b" at half the rate), NaN after their ends."""
    return make_lagged(200, min_length=32, max_lag=8, random_state=0)


def under_the_padding(values, seed):
    """``values`` with large random numbers where they are NaN."""
    noise = np.random.default_rng(seed).normal(scale=1e3, size=values.shape)
    return np.where(np.isnan(values), noise, values).astype(np.float32)


def with_lengths(lagged, seed):
    """The same recordings as series with garbage after their ends, and their lengths."""
    return {
        "a": under_the_padding(lagged.data["a"], seed),
        "a__lengths": lagged.lengths,
        "b": under_the_padding(lagged.data["b"], seed + 1),
        "b__lengths": lagged.lengths // 2,
    }


@pytest.mark.parametrize("pooling", ["flatten", "recorded"])
def test_values_under_the_padding_never_reach_the_code_nor_the_loss(uneven, pooling):
    kinds = {"a": TimeSeries(pooling=pooling), "b": TimeSeries(pooling=pooling)}
    ae = MultimodalAutoencoder(4, modalities=kinds, max_epochs=2, random_state=0).fit(uneven.data)
    codes = ae.transform(uneven.data)
    assert np.isfinite(codes).all()
    for seed in (0, 1):  # two different garbages under the ends: the same codes and scores
        np.testing.assert_array_equal(ae.transform(with_lengths(uneven, seed)), codes)
        assert ae.score(with_lengths(uneven, seed)) == ae.score(uneven.data)
    # Fitted from the lengths form, the model is the one fitted from NaN padding.
    again = MultimodalAutoencoder(4, modalities=kinds, max_epochs=2, random_state=0)
    np.testing.assert_allclose(again.fit(with_lengths(uneven, 2)).transform(uneven.data), codes, atol=1e-6)


def test_statistics_come_from_recorded_values_only(uneven):
    series = TimeSeries().fit(uneven.data["a"])
    np.testing.assert_allclose(series.mean_, np.nanmean(uneven.data["a"], axis=(0, 2)), rtol=1e-5)
    np.testing.assert_allclose(series.scale_, np.nanstd(uneven.data["a"], axis=(0, 2)), rtol=1e-4)
    assert series.missing_cells_ and series.encoder_reads_flags()


def test_complete_series_keep_the_plain_encoder():
    lagged = make_lagged(50, random_state=0)
    series = TimeSeries().fit(lagged.data["a"])
    assert not series.missing_cells_ and not series.encoder_reads_flags()
    assert TimeSeries(pooling="recorded").fit(lagged.data["a"]).encoder_reads_flags()


def test_pooling_over_recorded_steps_reads_lengths_alike(uneven):
    """A code from the recorded steps only: cutting a series shorter changes it.

    (That padding does not is tested for both poolings above.)
    """
    kinds = {"a": TimeSeries(pooling="recorded")}
    ae = MultimodalAutoencoder(4, modalities=kinds, max_epochs=2, random_state=0)
    ae.fit({"a": uneven.data["a"]})
    shorter = uneven.data["a"].copy()
    shorter[:, :, 20:] = np.nan
    assert not np.allclose(ae.transform({"a": shorter}), ae.transform({"a": uneven.data["a"]}))


def test_a_dropout_inside_a_series_is_a_value_not_recorded(uneven):
    X = {"a": uneven.data["a"].copy(), "b": uneven.data["b"]}
    X["a"][::3, 0, 10:14] = np.nan  # one channel drops out for 4 steps
    ae = MultimodalAutoencoder(4, modalities={"a": "timeseries", "b": "timeseries"}, max_epochs=2)
    assert np.isfinite(ae.fit(X).transform(X)).all()


def test_lags_are_found_in_series_of_different_lengths(uneven):
    ae = MultimodalAutoencoder(
        4, modalities={"a": "timeseries", "b": "timeseries"}, lags=Lags(max_lag=8),
        max_epochs=2, random_state=0,
    ).fit(uneven.data)
    assert np.mean(np.abs(ae.estimate_lags(uneven.data)["b"] - uneven.lags)) < 1.0


def test_a_length_of_zero_marks_a_sample_without_the_series(uneven):
    X = with_lengths(uneven, 0)
    X["b__lengths"] = X["b__lengths"].copy()
    X["b__lengths"][:5] = 0
    ae = MultimodalAutoencoder(4, modalities={"a": "timeseries", "b": "timeseries"}, max_epochs=1)
    assert np.isfinite(ae.fit(X).transform(X)).all()
    predicted = ae.predict_modality({"a": uneven.data["a"][:5]}, "b")
    assert predicted.shape == (5, 2, 32) and np.isfinite(predicted).all()


@pytest.mark.parametrize(
    "lengths, message",
    [
        (np.full(200, 65), r"X\['a__lengths'\] must hold one whole number .* from 0 to its 64 steps"),
        (np.full(200, -1), r"from 0 to its 64 steps.*from -1 to -1"),
        (np.full(200, 3.5), r"whole number of recorded steps per sample of Modality 'a'"),
        (np.full(10, 30), r"shape \(10,\)"),
    ],
)
def test_bad_lengths_are_refused_naming_the_modality(uneven, lengths, message):
    X = {"a": uneven.data["a"], "a__lengths": lengths}
    with pytest.raises(ValueError, match=message):
        MultimodalAutoencoder(2, modalities={"a": "timeseries"}, max_epochs=1).fit(X)


def test_lengths_need_the_series_and_an_array(uneven):
    with pytest.raises(ValueError, match=r"X\['c__lengths'\] gives series lengths for 'c'"):
        MultimodalAutoencoder(2, max_epochs=1).fit({"a": uneven.data["a"], "c__lengths": [1]})
    X = {"a": pd.DataFrame([[1.0, 2.0]] * 4), "a__lengths": [1, 2, 2, 1]}
    with pytest.raises(TypeError, match="Modality 'a' has lengths.*numpy array.*got DataFrame"):
        MultimodalAutoencoder(2, max_epochs=1).fit(X)


def test_bad_pooling_is_refused_by_name(uneven):
    kinds = {"a": TimeSeries(pooling="max")}
    with pytest.raises(ValueError, match="Modality 'a': the 'pooling' parameter of TimeSeries"):
        MultimodalAutoencoder(2, modalities=kinds, max_epochs=1).fit({"a": uneven.data["a"]})
    kinds = {"a": TimeSeries(channels=(), pooling="recorded")}
    with pytest.raises(ValueError, match="at least one convolution with pooling='recorded'"):
        MultimodalAutoencoder(2, modalities=kinds, max_epochs=1).fit({"a": uneven.data["a"]})


def test_step_masking_hides_one_block_of_steps_per_series_in_training():
    from skmmae._module import _lost_steps

    torch.manual_seed(0)
    lost = _lost_steps(torch.zeros(500, 3, 40), 0.5)
    assert lost.shape == (500, 1, 40)
    counts = lost.sum(dim=-1).squeeze(1)
    assert counts.max() <= 20 and counts.min() == 0 and counts.float().mean() > 5
    # One contiguous block: the steps lost are those between the first and the last lost.
    for row in lost[:, 0]:
        where = torch.nonzero(row).squeeze(1)
        if len(where):
            assert bool(row[where.min() : where.max() + 1].all())


def test_step_masking_trains_an_encoder_that_reads_lost_steps():
    complete = make_lagged(200, max_lag=8, random_state=0).data
    kinds = {"a": TimeSeries(step_masking=0.5), "b": "timeseries"}
    ae = MultimodalAutoencoder(4, modalities=kinds, max_epochs=2, random_state=0).fit(complete)
    module = ae.net_.module_
    assert module.step_masking == {"a": 0.5}
    # In training, the encoder of "a" reads blocks of its steps as not recorded; "b" is untouched.
    torch.manual_seed(0)
    targets = {name: torch.as_tensor(block[:64]) for name, block in complete.items()}
    module.train()
    corrupted = module._corrupt(targets)
    module.eval()
    hidden = torch.isnan(corrupted["a"]).all(dim=1)  # every channel of a lost step
    assert hidden.any() and torch.equal(torch.isnan(corrupted["a"]).any(dim=1), hidden)
    assert not torch.isnan(corrupted["b"]).any()
    lost = {"a": complete["a"].copy(), "b": complete["b"]}
    lost["a"][:, :, 10:40] = np.nan
    assert np.isfinite(ae.transform(lost)).all()
    with pytest.raises(ValueError, match="the 'step_masking' parameter of TimeSeries must be a share"):
        MultimodalAutoencoder(2, modalities={"a": TimeSeries(step_masking=2)}, max_epochs=1).fit(
            {"a": complete["a"]}
        )
