"""X as a fitted estimator reads it, and why an output is not finite."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    X = {"a": rng.randn(40, 5), "b": rng.randn(40, 3)}
    from skmmae import MultimodalAutoencoder

    return MultimodalAutoencoder(2, hidden_dims=(8,), max_epochs=2, random_state=0).fit(X), X


def test_the_modality_whose_values_overflow_is_named_with_its_rows(fitted):
    ae, X = fitted
    huge = {"a": X["a"][:6].copy(), "b": X["b"][:6]}
    huge["a"][[1, 4]] = 1e30
    message = r"transform: Modality 'a' has values the model cannot compute with in 2 rows \(first: 1, 4\)"
    with pytest.raises(ValueError, match=message):
        ae.transform(huge)
    # Encoded alone, "b" is fine: the explanation names "a" only.
    assert np.isfinite(ae.transform({"b": huge["b"]})).all()


def test_the_target_of_a_prediction_must_be_fitted_and_have_others(fitted, tiny_estimator):
    ae, X = fitted
    with pytest.raises(ValueError, match=r"'c' is not a fitted modality; the fitted modalities"):
        ae.predict_modality(X, "c")
    alone = tiny_estimator().fit({"a": X["a"]})
    with pytest.raises(ValueError, match=r"needs a model of several modalities"):
        alone.predict_modality({"a": X["a"]}, "a")


def test_a_target_given_anyway_is_left_out(fitted):
    ae, X = fitted
    garbage = {"a": X["a"], "b": np.full_like(X["b"], 1e30)}
    np.testing.assert_array_equal(
        ae.predict_modality(garbage, "b"), ae.predict_modality({"a": X["a"]}, "b")
    )
