"""Read-outs: fitted after training, owned by the estimator, composed in its inference."""

import numpy as np
import torch
from sklearn.base import clone

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_digits_words, load_spoken_digits
from skmmae.readout import DecoderReadout, KernelReadout, TrainingData


def standardized_mse(pred, truth, modality):
    return float((((pred - truth) / modality.scale_) ** 2).mean())


def test_readouts_beat_the_decoders_on_new_data(mfeat_split):
    train, test = mfeat_split
    params = dict(encoding_dim=8, max_epochs=15, random_state=0)
    ae = MultimodalAutoencoder(**params).fit(train)
    plain = MultimodalAutoencoder(**params, readout="decoder").fit(train)
    # Same training, same codes: only the read-out differs.
    codes = ae.transform(test)
    np.testing.assert_array_equal(codes, plain.transform(test))
    error = {
        which: np.mean(
            [
                standardized_mse(rec[name], test[name], ae.modalities_[name])
                for name in test
            ]
        )
        for which, rec in (
            ("kernel", ae.inverse_transform(codes)),
            ("decoder", plain.inverse_transform(codes)),
        )
    }
    others = {name: block for name, block in test.items() if name != "pix"}
    cross = {
        "kernel": ae.predict_modality(others, "pix"),
        "decoder": plain.predict_modality(others, "pix"),
    }
    cross = {k: standardized_mse(v, test["pix"], ae.modalities_["pix"]) for k, v in cross.items()}
    # Margins well inside the gaps measured for this split and seed.
    assert error["kernel"] < error["decoder"] - 0.02, error
    assert cross["kernel"] < cross["decoder"] - 0.02, cross
    assert ae.score(test) > plain.score(test)


def test_a_view_is_predicted_better_from_the_others_codes_side_by_side_than_fused(mfeat_split):
    train, test = mfeat_split
    ae = MultimodalAutoencoder(8, max_epochs=15, random_state=0).fit(train)
    assert ae.readout_.others == "each"
    others = {name: block for name, block in test.items() if name != "pix"}
    error = {"each": standardized_mse(
        ae.predict_modality(others, "pix"), test["pix"], ae.modalities_["pix"]
    )}
    # The same model and training codes; only what the predictor reads differs.
    training = TrainingData(ae.net_, ae._inference_data(train), ae.modalities_)
    ae.readout_ = KernelReadout(others="fused", random_state=0).fit(ae.net_.module_, training)
    error["fused"] = standardized_mse(
        ae.predict_modality(others, "pix"), test["pix"], ae.modalities_["pix"]
    )
    assert error["each"] < error["fused"] - 0.02, error


def test_readouts_are_fitted_components_and_the_module_keeps_its_decoders(mfeat_split):
    train, _ = mfeat_split
    small = {name: block[:200] for name, block in train.items()}
    ae = MultimodalAutoencoder(4, max_epochs=2, random_state=0).fit(small)
    readout = ae.readout_
    assert isinstance(readout, KernelReadout) and readout.random_state is not None
    assert sorted(readout.reconstructors_) == sorted(small) == sorted(readout.predictors_)
    assert len(readout.reconstructors_["pix"].centers) == 200
    # The module holds no fitted regression: its decode is its decoders'.
    module = ae.net_.module_.eval()
    assert not any("reconstructors" in name or "centers" in name for name, _ in module.named_buffers())
    codes = torch.as_tensor(ae.transform(small))
    with torch.no_grad():
        torch.testing.assert_close(module.decode(codes)["pix"], module.decoders["pix"](codes))
    # A refit gives a new read-out for the new codes; the old one is left as it was.
    first = readout.reconstructors_["pix"].coef.clone()
    ae.set_params(max_epochs=3).fit(small)
    assert ae.readout_ is not readout and torch.equal(readout.reconstructors_["pix"].coef, first)
    assert not torch.equal(ae.readout_.reconstructors_["pix"].coef, first)
    # readout="decoder": none, and inverse_transform is the decoders'.
    plain = MultimodalAutoencoder(4, max_epochs=2, random_state=0, readout="decoder").fit(small)
    assert type(plain.readout_) is DecoderReadout
    codes = plain.transform(small)
    with torch.no_grad():
        decoded = plain.net_.module_.eval().decoders["pix"](torch.as_tensor(codes))
        expected = plain.net_.module_.scalers["pix"].inverse(decoded).numpy()
    np.testing.assert_allclose(plain.inverse_transform(codes)["pix"], expected, rtol=1e-5, atol=1e-5)


def test_readouts_use_only_the_rows_that_have_the_modality(mfeat_split):
    train, test = mfeat_split
    small = {name: train[name][:300].copy() for name in ("fou", "kar", "pix")}
    small["fou"][:100] = np.nan  # 100 samples lack fou
    ae = MultimodalAutoencoder(4, max_epochs=2, random_state=0).fit(small)
    readout = ae.readout_
    assert len(readout.reconstructors_["fou"].centers) == 200
    assert len(readout.reconstructors_["kar"].centers) == 300
    # pix from the others: every sample has kar, so all 300 rows count.
    assert len(readout.predictors_["pix"].centers) == 300
    assert len(readout.predictors_["fou"].centers) == 200
    pred = ae.predict_modality({"kar": test["kar"][:20]}, "fou")
    assert np.isfinite(pred).all() and pred.shape == (20, 76)


def test_other_kinds_keep_their_decoders():
    rng = np.random.RandomState(0)
    X = {"x": rng.normal(size=(50, 4)), "c": rng.randint(0, 3, size=(50, 1)).astype(str)}
    ae = MultimodalAutoencoder(2, max_epochs=2, random_state=0).fit(X)
    assert ae.modalities_["c"].kind == "categorical"
    assert sorted(ae.readout_.reconstructors_) == ["x"]
    assert set(np.unique(ae.inverse_transform(ae.transform(X))["c"])) <= {"0", "1", "2"}


def test_images_keep_their_decoders_and_are_predicted_as_the_mean_image_of_alike_codes():
    X, y = load_digits_words(return_X_y=True)
    train = {n: b[:600] for n, b in X.items()}
    test = {n: b[1200:1500] for n, b in X.items()}
    ae = MultimodalAutoencoder(
        8, modalities={"image": "image", "text": "tokens"}, max_epochs=15, random_state=0
    ).fit(train)
    assert sorted(ae.readout_.reconstructors_) == [] and sorted(ae.readout_.predictors_) == ["image"]
    kernel = ae.predict_modality({"text": test["text"]}, "image")
    fitted, ae.readout_ = ae.readout_, DecoderReadout()
    decoder = ae.predict_modality({"text": test["text"]}, "image")
    ae.readout_ = fitted
    assert kernel.shape == test["image"].shape and 0 <= kernel.min() and kernel.max() <= 1
    # One spelling per digit: the word says only the class, so the best
    # guess of the image in squared error is its class's mean image.
    means = np.stack([train["image"][y[:600] == digit].mean(0) for digit in range(10)])
    best = means[y[1200:1500]]
    off = {k: float(((p - best) ** 2).mean()) for k, p in [("kernel", kernel), ("decoder", decoder)]}
    assert off["kernel"] < 0.01 * off["decoder"], off


def test_time_series_get_readouts_that_beat_their_decoders():
    X, y = load_spoken_digits(return_X_y=True)
    rows = np.random.RandomState(0).permutation(len(y))
    train = {n: b[rows[:500]] for n, b in X.items()}
    test = {n: b[rows[500:700]] for n, b in X.items()}
    params = dict(
        encoding_dim=8, modalities={"audio": "timeseries", "text": "tokens"}, max_epochs=10,
        random_state=0,
    )
    ae = MultimodalAutoencoder(**params).fit(train)
    plain = MultimodalAutoencoder(**params, readout="decoder").fit(train)
    assert sorted(ae.readout_.reconstructors_) == ["audio"]
    codes = ae.transform(test)
    rec = {"kernel": ae.inverse_transform(codes), "decoder": plain.inverse_transform(codes)}
    assert rec["kernel"]["audio"].shape == test["audio"].shape
    error = {k: float(np.mean((r["audio"] - test["audio"]) ** 2)) for k, r in rec.items()}
    # Measured (squared dB): 32.5 against 189.3 for seed 0, 29.9 against 191.2 for seed 1.
    assert error["kernel"] < 0.5 * error["decoder"], error


def test_the_readout_parameters_are_grid_searchable_and_used(mfeat_split):
    train, _ = mfeat_split
    small = {name: train[name][:300] for name in ("fou", "kar")}
    ae = MultimodalAutoencoder(3, readout=KernelReadout(max_centers=50), max_epochs=2, random_state=0)
    assert ae.get_params(deep=True)["readout__max_centers"] == 50
    ae.set_params(readout__max_centers=40, readout__alphas=(0.1,))
    copy = clone(ae).fit(small)
    assert copy.readout is not ae.readout  # cloned, not shared with the unfitted one
    assert len(copy.readout_.reconstructors_["fou"].centers) == 40
    assert copy.readout_.alphas == (0.1,) and not hasattr(ae.readout, "reconstructors_")


def test_the_readout_draws_its_centers_with_its_own_seed_or_the_estimators(mfeat_split):
    train, _ = mfeat_split
    small = {name: train[name][:300] for name in ("fou", "kar")}

    def centers(random_state):
        readout = KernelReadout(max_centers=20, random_state=random_state)
        ae = MultimodalAutoencoder(3, readout=readout, max_epochs=1, random_state=0).fit(small)
        return ae.readout_, ae.readout_.reconstructors_["fou"].centers

    seven, drawn = centers(7)
    assert seven.random_state == 7
    torch.testing.assert_close(centers(7)[1], drawn)
    assert not torch.equal(centers(8)[1], drawn)
    # None: the estimator's seed, fixed at fit.
    unseeded, _ = centers(None)
    assert isinstance(unseeded.random_state, int)
