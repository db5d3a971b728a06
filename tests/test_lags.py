"""Lag-aware encoding: Lags, estimate_lags and shift_series, on real fits of lagged series."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skmmae import MultimodalAutoencoder, load
from skmmae.datasets import make_lagged
from skmmae.lags import Lags, shift_series
from skmmae.privacy import DifferentialPrivacy

SERIES = {"a": "timeseries", "b": "timeseries"}


@pytest.fixture(scope="module")
def lagged():
    return make_lagged(300, noise=0.1, max_lag=8, random_state=0)


@pytest.fixture(scope="module")
def aware(lagged):
    """A lag-aware model trained briefly on the first 200 samples."""
    X = {name: block[:200] for name, block in lagged.data.items()}
    return MultimodalAutoencoder(
        4, modalities=SERIES, lags=Lags(reference="a", max_lag=8), max_epochs=3, random_state=0
    ).fit(X)


def rows(X, selection):
    return {name: block[selection] for name, block in X.items()}


def test_a_known_lag_is_recovered(lagged, aware):
    test = rows(lagged.data, slice(200, None))
    found = aware.estimate_lags(test)
    assert list(found) == ["b"] and found["b"].shape == (100,)
    assert np.mean(np.abs(found["b"] - lagged.lags[200:])) < 1.0


def test_codes_of_a_series_and_of_it_shifted_by_its_lag_agree(lagged, aware):
    test = rows(lagged.data, slice(200, None))
    lags = aware.estimate_lags(test)["b"]
    # "b" moved back by its lag (in its own steps, half those of "a"): no lag left.
    moved = {"a": test["a"], "b": shift_series(test["b"], lags / lagged.periods["b"])}
    assert np.abs(aware.estimate_lags(moved)["b"]).mean() < 0.2
    codes, codes_moved = aware.transform(test), aware.transform(moved)
    assert np.abs(codes - codes_moved).mean() < 0.05 * codes.std()
    # Without alignment the same move changes the codes far more.
    ignorant = MultimodalAutoencoder(4, modalities=SERIES, max_epochs=3, random_state=0)
    ignorant.fit(rows(lagged.data, slice(0, 200)))
    change = np.abs(ignorant.transform(test) - ignorant.transform(moved)).mean()
    assert change > 5 * np.abs(codes - codes_moved).mean()


def test_rates_give_lags_in_seconds(lagged):
    X = rows(lagged.data, slice(0, 200))
    ae = MultimodalAutoencoder(
        4, modalities=SERIES, lags=Lags(max_lag=8, rates={"a": 100.0, "b": 50.0}),
        max_epochs=2, random_state=0,
    ).fit(X)
    seconds = ae.estimate_lags(X)["b"]
    assert np.mean(np.abs(seconds - lagged.lags[:200] / 100.0)) < 0.01


def test_default_reference_is_the_longest_series_and_max_lag_a_quarter(lagged):
    ae = MultimodalAutoencoder(
        4, modalities=SERIES, lags=True, max_epochs=1, random_state=0
    ).fit(rows(lagged.data, slice(0, 100)))
    aligner = ae.net_.module_.aligner
    assert aligner.reference == "a" and aligner.max_lag == 16 and aligner.periods["b"] == 2.0


def test_a_sample_lacking_a_series_gets_no_lag_and_still_a_code(lagged):
    X = rows(lagged.data, slice(0, 200))
    X["b"] = X["b"].copy()
    X["b"][::10] = np.nan  # every tenth sample lacks "b"
    ae = MultimodalAutoencoder(
        4, modalities=SERIES, lags=Lags(max_lag=8), max_epochs=2, random_state=0
    ).fit(X)
    lags = ae.estimate_lags(X)["b"]
    assert np.isnan(lags[::10]).all() and np.isfinite(np.delete(lags, np.s_[::10])).all()
    assert np.mean(np.abs(np.delete(lags - lagged.lags[:200], np.s_[::10]))) < 1.0
    assert np.isfinite(ae.transform(X)).all()


def test_other_kinds_ride_along_unaligned(lagged):
    X = rows(lagged.data, slice(0, 150))
    X["c"] = np.random.default_rng(0).normal(size=(150, 3))
    ae = MultimodalAutoencoder(
        4, modalities=SERIES, lags=Lags(max_lag=8), max_epochs=2, random_state=0
    ).fit(X)
    assert list(ae.estimate_lags(X)) == ["b"]
    assert ae.predict_modality({"a": X["a"], "c": X["c"]}, "b").shape == X["b"].shape


def test_predictions_of_an_aligned_series_are_in_the_reference_frame(lagged):
    """Predicted from "a", "b" comes as if it had no lag: closer to "b" moved back by its lag."""
    train, test = rows(lagged.data, slice(0, 200)), rows(lagged.data, slice(200, None))
    ae = MultimodalAutoencoder(
        8, modalities=SERIES, lags=Lags(max_lag=8), max_epochs=20, random_state=0
    ).fit(train)
    predicted = ae.predict_modality({"a": test["a"]}, "b")
    aligned = shift_series(test["b"], ae.estimate_lags(test)["b"] / 2)
    assert np.mean((predicted - aligned) ** 2) < 0.5 * np.mean((predicted - test["b"]) ** 2)


def test_lags_survive_clone_pickle_save_and_grid_search(lagged, aware, tmp_path):
    X = rows(lagged.data, slice(200, None))
    expected = aware.estimate_lags(X)["b"]
    assert clone(aware).get_params()["lags"].get_params() == {
        "max_lag": 8, "rates": None, "reference": "a"
    }
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(aware)).estimate_lags(X)["b"], expected)
    path = tmp_path / "lagged.safetensors"
    aware.save(path)
    np.testing.assert_allclose(load(path).estimate_lags(X)["b"], expected, atol=1e-5)
    search = GridSearchCV(
        MultimodalAutoencoder(2, modalities=SERIES, lags=Lags(), max_epochs=1, random_state=0),
        {"lags__max_lag": [4, 8]}, cv=2,
    ).fit(lagged.data[:100])  # a SliceDict, which sklearn splits by rows
    assert search.best_estimator_.net_.module_.aligner.max_lag in (4, 8)


@pytest.mark.parametrize(
    "kwargs, X_names, message",
    [
        ({"lags": True, "modalities": {"a": "timeseries"}}, ["a", "c"], "at least two"),
        ({"lags": Lags(reference="c")}, ["a", "b", "c"], "reference='c'.*must name a time-series"),
        ({"lags": Lags(max_lag=64)}, ["a", "b"], "max_lag=64.*less than the 64 steps"),
        ({"lags": Lags(rates={"a": 10.0})}, ["a", "b"], "rate.*missing \\['b'\\]"),
        ({"lags": Lags(rates={"a": 10.0, "b": -1})}, ["a", "b"], "not positive: \\['b'\\]"),
        ({"lags": Lags(max_lag=0)}, ["a", "b"], "'lags' parameter.*max_lag"),
    ],
)
def test_bad_lag_settings_are_refused_by_name(lagged, kwargs, X_names, message):
    X = rows(lagged.data, slice(0, 40))
    X["c"] = np.random.default_rng(0).normal(size=(40, 3))
    modalities = kwargs.pop("modalities", SERIES)
    with pytest.raises(ValueError, match=message):
        MultimodalAutoencoder(2, modalities=modalities, max_epochs=1, **kwargs).fit(
            {name: X[name] for name in X_names}
        )


def test_estimate_lags_needs_a_lagged_model_and_the_reference(lagged, aware):
    X = rows(lagged.data, slice(0, 40))
    plain = MultimodalAutoencoder(2, modalities=SERIES, max_epochs=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match="fitted with lags.*lags=None"):
        plain.estimate_lags(X)
    with pytest.raises(ValueError, match="reference series 'a'"):
        aware.estimate_lags({"b": X["b"]})


def test_onnx_export_of_the_aligning_encoder_is_refused(aware, tmp_path):
    pytest.importorskip("onnx")
    with pytest.raises(ValueError, match="fitted with lags.*export the decoder"):
        aware.export_onnx(tmp_path / "encoder.onnx")
    assert aware.export_onnx(tmp_path / "decoder.onnx", "decoder").endswith("decoder.onnx")


def test_privacy_refuses_lags(lagged):
    ae = MultimodalAutoencoder(
        2, modalities=SERIES, lags=True, readout="decoder",
        privacy=DifferentialPrivacy(epsilon=10.0), max_epochs=1,
    )
    with pytest.raises(ValueError, match="refuses this 'lags'"):
        ae.fit(rows(lagged.data, slice(0, 40)))


def test_shift_series_moves_each_sample_by_its_lag():
    X = np.stack([np.arange(8.0), 10 + np.arange(8.0)])
    moved = shift_series(X, [1, -2.5])
    np.testing.assert_allclose(moved[0], [1, 2, 3, 4, 5, 6, 7, 7])
    np.testing.assert_allclose(moved[1], [10, 10, 10, 10.5, 11.5, 12.5, 13.5, 14.5])
    with_channels = shift_series(X[:, np.newaxis].repeat(2, axis=1), [1, -2.5])
    np.testing.assert_allclose(with_channels[:, 1], moved)
    with pytest.raises(ValueError, match="one lag per sample"):
        shift_series(X, [1])
    with pytest.raises(ValueError, match="finite lags"):
        shift_series(X, [1, np.nan])


def test_imputation_leaves_the_aligned_series_as_they_are(lagged, aware):
    from skmmae.imputation import impute

    X = rows(lagged.data, slice(0, 20))
    X["a"], X["b"] = X["a"].copy(), X["b"].copy()
    X["a"][0, 0, 5] = X["b"][0, 0, 5] = np.nan
    filled = impute(aware, X)
    # The reference is read back where its cells are; "b" would come back shifted.
    assert np.isfinite(filled["a"]).all() and np.isnan(filled["b"][0, 0, 5])


def test_any_modality_names_work_with_lags(lagged):
    X = {"a.b": lagged.data["a"][:100], "": lagged.data["b"][:100]}
    ae = MultimodalAutoencoder(
        2, modalities={"a.b": "timeseries", "": "timeseries"}, lags=Lags(reference="a.b", max_lag=8),
        max_epochs=1, random_state=0,
    ).fit(X)
    assert np.mean(np.abs(ae.estimate_lags(X)[""] - lagged.lags[:100])) < 1.0
