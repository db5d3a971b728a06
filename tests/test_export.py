"""ONNX export of the encoder and the decoder, checked by running the graphs in onnxruntime."""

import numpy as np
import onnxruntime
import pytest
from scipy import sparse

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_digits_words


def run(path, feeds):
    return onnxruntime.InferenceSession(str(path)).run(None, feeds)


@pytest.fixture(scope="module")
def mfeat_model(mfeat_small):
    return MultimodalAutoencoder(8, max_epochs=2, random_state=0).fit(mfeat_small)


def test_the_encoder_gives_the_codes_of_transform(mfeat_model, mfeat_small, tmp_path):
    path = mfeat_model.export_onnx(tmp_path / "encoder.onnx")
    feeds = {name: np.asarray(block, dtype=np.float32) for name, block in mfeat_small.items()}
    (codes,) = run(path, feeds)
    np.testing.assert_allclose(codes, mfeat_model.transform(mfeat_small), rtol=0, atol=1e-5)


def test_the_encoder_reads_missing_cells_as_transform_does(tmp_path):
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(60, 4)), "b": rng.normal(size=(60, 3))}
    X = {name: block.astype(np.float32) for name, block in X.items()}
    X["a"][rng.random((60, 4)) < 0.2] = np.nan
    ae = MultimodalAutoencoder(2, max_epochs=2, random_state=0).fit(X)
    (codes,) = run(ae.export_onnx(tmp_path / "cells.onnx"), X)
    np.testing.assert_allclose(codes, ae.transform(X), rtol=0, atol=1e-5)


def test_the_decoder_gives_the_reconstructions_of_inverse_transform(
    mfeat_model, mfeat_small, tmp_path
):
    codes = mfeat_model.transform(mfeat_small)
    path = mfeat_model.export_onnx(tmp_path / "decoder.onnx", part="decoder")
    rebuilt = mfeat_model.inverse_transform(codes)
    for name, values in zip(mfeat_model.modalities_, run(path, {"code": codes})):
        # The kernel read-outs' distances sum in another order in onnxruntime.
        scale = np.abs(rebuilt[name]).max()
        np.testing.assert_allclose(values, rebuilt[name], rtol=0, atol=1e-3 * scale)


def test_images_and_tokens_export_and_a_subset_of_modalities_too(tmp_path):
    X, _ = load_digits_words(return_X_y=True)
    X = X[:300]
    ae = MultimodalAutoencoder(
        4, max_epochs=2, random_state=0, modalities={"image": "image", "text": "tokens"}
    ).fit(X)
    values = {name: m.validate(X[name]) for name, m in ae.modalities_.items()}
    assert values["text"].dtype == np.int64  # token ids, as the graph takes them
    (codes,) = run(ae.export_onnx(tmp_path / "both.onnx"), values)
    np.testing.assert_allclose(codes, ae.transform(X), rtol=0, atol=1e-5)
    image_only = ae.export_onnx(tmp_path / "image.onnx", modalities=["image"])
    (codes,) = run(image_only, {"image": values["image"]})
    np.testing.assert_allclose(codes, ae.transform({"image": X["image"]}), rtol=0, atol=1e-5)
    _, ids = run(ae.export_onnx(tmp_path / "decoder.onnx", part="decoder"), {"code": codes})
    expected = ae.modalities_["text"].validate(ae.inverse_transform(codes)["text"])
    np.testing.assert_array_equal(ids, expected)


def test_what_does_not_export_is_named(tmp_path):
    rng = np.random.default_rng(0)
    X = {"words": sparse.csr_matrix(rng.poisson(1.0, size=(40, 12))), "x": rng.normal(size=(40, 3))}
    ae = MultimodalAutoencoder(2, max_epochs=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"Modality 'words' holds counts.*modalities=\[\.\.\.\]"):
        ae.export_onnx(tmp_path / "e.onnx")
    (codes,) = run(ae.export_onnx(tmp_path / "x.onnx", modalities=["x"]), {"x": X["x"].astype(np.float32)})
    np.testing.assert_allclose(codes, ae.transform({"x": X["x"]}), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match=r"\['y'\] are not fitted modalities"):
        ae.export_onnx(tmp_path / "e.onnx", modalities=["y"])
    with pytest.raises(ValueError, match=r"part must be 'encoder' or 'decoder'"):
        ae.export_onnx(tmp_path / "e.onnx", part="both")
