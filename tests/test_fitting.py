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


@pytest.mark.parametrize(
    "noise_std, n_samples, expected",
    [("auto", 20, 0.5), ("auto", 40, 0.0), (0.3, 20, 0.3), (0.0, 20, 0.0)],
)
def test_auto_input_noise_denoises_wide_data_only(tiny_estimator, noise_std, n_samples, expected):
    # 32 features in all: 20 samples are fewer, 40 are more.
    rng = np.random.RandomState(0)
    X = {"a": rng.normal(size=(n_samples, 24)), "b": rng.normal(size=(n_samples, 8))}
    ae = tiny_estimator(noise_std=noise_std, max_epochs=1).fit(X)
    assert ae.noise_std_ == expected and ae.net_.module_.noise_std == expected
    assert ae.get_params()["noise_std"] == noise_std
