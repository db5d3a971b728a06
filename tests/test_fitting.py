"""The steps of fit: modalities fitted on the rows that have them, presence masks, loss weights."""

import numpy as np
import pytest


def test_a_modality_learns_its_statistics_from_the_rows_that_have_it(tiny_estimator, blocks):
    X = {"a": blocks["a"].copy(), "b": blocks["b"]}
    X["a"][:10] = np.nan  # ten samples lack "a"
    ae = tiny_estimator().fit(X)
    np.testing.assert_allclose(ae.modalities_["a"].mean_, blocks["a"][10:].mean(axis=0), rtol=1e-6)
    # Their presence mask leaves "a" out of their codes.
    np.testing.assert_allclose(
        ae.transform(X)[:10], ae.transform({"b": X["b"][:10]}), rtol=1e-5, atol=1e-6
    )


def test_weights_given_by_name_are_normalized_and_others_weigh_one(tiny_estimator, blocks):
    ae = tiny_estimator(modality_weights={"a": 3.0}).fit(blocks)
    assert ae.modality_weights_ == pytest.approx({"a": 0.75, "b": 0.25})
    assert ae.net_.criterion_.weights == pytest.approx({"a": 0.75, "b": 0.25})


def test_weights_must_name_modalities_of_x(tiny_estimator, blocks):
    with pytest.raises(ValueError, match=r"names \['c'\], which X does not have"):
        tiny_estimator(modality_weights={"c": 1.0}).fit(blocks)
