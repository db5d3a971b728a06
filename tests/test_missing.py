"""Missing modalities, fusions, variational mode, cross-modal prediction and noise.

Everything runs on the real data shipped with skmmae (mfeat's views, digits
with their words), on small subsets with small models, seeded: a few
seconds each on two CPU cores.
"""

import functools
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse
from skorch.callbacks import Callback
from skorch.helper import SliceDict
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skmmae import MultimodalAutoencoder
from skmmae.datasets import decode_words, load_digits_words, load_mfeat
from skmmae.fusion import FUSIONS
from skmmae.modalities import Image
from skmmae.options import CrossModal, Variational
from skmmae.refine import CodeRefinement

FUSION_NAMES = sorted(FUSIONS)  # concat, mean, moe, poe, shared_private
VIEWS = ("fou", "kar", "pix")
SMALL = dict(encoding_dim=4, hidden_dims=(16,), max_epochs=3, random_state=0)
#: Every training-time corruption off (the defaults turn some on).
PLAIN = dict(noise_std=0.0, input_dropout=0.0, modality_dropout=0.0)
WORDS = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])


# -- data ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _mfeat():
    return load_mfeat(return_X_y=True)


def mfeat(n=300, views=VIEWS, seed=0):
    """``n`` random rows of some mfeat views, as a dict of float64 copies, and labels."""
    X, y = _mfeat()
    rows = np.random.RandomState(seed).choice(len(y), n, replace=False)
    return {name: X[name][rows].copy() for name in views}, y[rows]


def missing_masks(n, names=("fou", "kar"), fraction=0.3, seed=1):
    """Seeded masks, True where a sample lacks the modality (~``fraction`` each)."""
    rng = np.random.RandomState(seed)
    return {name: rng.rand(n) < fraction for name in names}


def with_nan_rows(X, masks):
    """Copy of X whose masked rows are entirely NaN."""
    out = {name: block.copy() for name, block in X.items()}
    for name, mask in masks.items():
        out[name][mask] = np.nan
    return out


def mfeat_with_missing_rows():
    """300 mfeat samples: complete, with ~30% NaN rows in "fou" and "kar", and the masks."""
    X, _ = mfeat()
    masks = missing_masks(len(X["pix"]))
    return X, with_nan_rows(X, masks), masks


@functools.lru_cache(maxsize=None)
def fitted_on_missing(fusion):
    """(model, complete X, X with NaN rows, masks), the model fitted on the NaN rows."""
    X, X_nan, masks = mfeat_with_missing_rows()
    ae = MultimodalAutoencoder(fusion=fusion, **SMALL).fit(X_nan)
    return ae, X, X_nan, masks


def standardized_mse(pred, true, modality):
    return float((((pred - true) / modality.scale_) ** 2).mean())


# -- 1. fit / transform with every fusion ----------------------------------------------


@pytest.mark.parametrize("fusion", FUSION_NAMES)
def test_each_fusion_fits_and_transforms_complete_and_missing_data(fusion):
    X, _ = mfeat()
    n = len(X["pix"])
    complete = MultimodalAutoencoder(fusion=fusion, **SMALL).fit(X)
    Z = complete.transform(X)
    assert Z.shape == (n, 4) and Z.dtype == np.float32 and np.isfinite(Z).all()

    ae, X, X_nan, masks = fitted_on_missing(fusion)
    assert 0.2 < masks["fou"].mean() < 0.4 and 0.2 < masks["kar"].mean() < 0.4
    assert np.isfinite(ae.net_.history[:, "train_loss"]).all()
    Z_nan = ae.transform(X_nan)
    assert Z_nan.shape == (n, 4) and Z_nan.dtype == np.float32 and np.isfinite(Z_nan).all()
    # Missing rows change the code of exactly the samples that lack something.
    Z_full = ae.transform(X)
    lacking = masks["fou"] | masks["kar"]
    np.testing.assert_allclose(Z_nan[~lacking], Z_full[~lacking], rtol=1e-6, atol=1e-7)
    assert (np.abs(Z_nan[lacking] - Z_full[lacking]).max(axis=1) > 1e-6).all()
    # Every modality is reconstructed for every sample, finite, in fitted shape.
    rec = ae.inverse_transform(Z_nan)
    for name in VIEWS:
        assert rec[name].shape == X[name].shape and np.isfinite(rec[name]).all()
    assert np.isfinite(ae.score(X_nan))


# -- 2. absent key == NaN rows == mask -------------------------------------------------


@pytest.mark.parametrize("fusion", FUSION_NAMES)
def test_absent_key_nan_rows_and_mask_give_the_same_code(fusion):
    ae, X, X_nan, masks = fitted_on_missing(fusion)
    lacks_fou = masks["fou"] & ~masks["kar"]
    rows = np.flatnonzero(lacks_fou)
    # NaN rows among complete rows (the batch mixes present and missing samples).
    Z_nan = ae.transform({name: X_nan[name] for name in ("fou", "pix")} | {"kar": X["kar"]})[rows]
    # The mask, over the true values: the values under it are ignored.
    Z_mask = ae.transform({**X, "fou__missing": masks["fou"]})[rows]
    # The key absent, for just those samples.
    Z_absent = ae.transform({"kar": X["kar"][rows], "pix": X["pix"][rows]})
    # And a modality that is NaN in every given row: dropped as if absent.
    Z_all_nan = ae.transform(
        {"fou": np.full((len(rows), 76), np.nan), "kar": X["kar"][rows], "pix": X["pix"][rows]}
    )
    np.testing.assert_allclose(Z_nan, Z_absent, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(Z_mask, Z_absent, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(Z_all_nan, Z_absent)
    # The code does depend on the modality: not a model that ignores it.
    assert not np.allclose(ae.transform({n: X[n][rows] for n in VIEWS}), Z_absent, atol=1e-4)


# -- 3. values under the mask never leak -----------------------------------------------


def digits_three_kinds(n=300):
    """Digits: image as continuous pixels, the word as tokens, the digit as a category."""
    X, y = load_digits_words(return_X_y=True)
    rows = np.random.RandomState(0).choice(len(y), n, replace=False)
    data = {
        "pixels": X["image"][rows].reshape(n, 64).astype(np.float64),
        "text": X["text"][rows].copy(),
        "digit": y[rows].reshape(-1, 1).copy(),
    }
    kinds = {"pixels": "continuous", "text": "tokens", "digit": "categorical"}
    return data, kinds


def under_masks(data, masks, fill):
    """Copy of data with ``fill(name, shape, dtype)`` written into its masked rows."""
    out = {name: block.copy() for name, block in data.items()}
    for name, mask in masks.items():
        block = out[name]
        block[mask] = fill(name, block[mask].shape, block.dtype)
    return out | {name + "__missing": mask for name, mask in masks.items()}


@pytest.mark.parametrize("fusion", FUSION_NAMES)
def test_values_under_the_mask_never_reach_fit_nor_transform(fusion):
    data, kinds = digits_three_kinds()
    n = len(data["digit"])
    masks = missing_masks(n, names=("text", "digit", "pixels"), fraction=0.3, seed=2)
    # No sample may lack everything; give the few such samples their pixels back.
    masks["pixels"] &= ~(masks["text"] & masks["digit"])
    rng = np.random.RandomState(3)

    def garbage(name, shape, dtype):
        if name == "text":
            return rng.randint(50, 500, size=shape)  # far outside the vocabulary
        if name == "digit":
            return rng.randint(100, 200, size=shape)  # categories never seen
        return rng.normal(1e6, 1e5, size=shape)

    zeros = under_masks(data, masks, lambda name, shape, dtype: np.zeros(shape, dtype))
    noise = under_masks(data, masks, garbage)
    params = dict(SMALL, modalities=kinds, fusion=fusion, max_epochs=2)
    ae_zeros = MultimodalAutoencoder(**params).fit(zeros)
    ae_noise = MultimodalAutoencoder(**params).fit(noise)
    Z = ae_zeros.transform(zeros)
    assert np.isfinite(Z).all()
    np.testing.assert_array_equal(ae_noise.transform(noise), Z)
    np.testing.assert_array_equal(ae_noise.transform(zeros), Z)
    np.testing.assert_array_equal(ae_zeros.transform(noise), Z)
    # What the modalities learned comes from present rows only.
    vocab_size = ae_zeros.modalities_["text"].vocab_size_
    assert ae_noise.modalities_["text"].vocab_size_ == vocab_size <= 27
    np.testing.assert_array_equal(ae_noise.modalities_["digit"].categories_[0], np.arange(10))
    np.testing.assert_array_equal(
        ae_noise.modalities_["pixels"].mean_, ae_zeros.modalities_["pixels"].mean_
    )
    # Without the masks those values are data: the codes do change.
    unmasked = {name: block for name, block in zeros.items() if not name.endswith("__missing")}
    assert not np.allclose(ae_zeros.transform(unmasked), Z, atol=1e-4)


def test_transform_ignores_values_in_nan_or_masked_rows():
    ae, X, X_nan, masks = fitted_on_missing("concat")
    Z = ae.transform(X_nan)
    rng = np.random.RandomState(0)
    scribbled = {name: block.copy() for name, block in X.items()}
    for name, mask in masks.items():
        scribbled[name][mask] = rng.normal(0, 1e3, size=scribbled[name][mask].shape)
        # A masked row may even hold some NaN: it is not read.
        scribbled[name][np.flatnonzero(mask)[:3], :5] = np.nan
    masked = scribbled | {name + "__missing": mask for name, mask in masks.items()}
    np.testing.assert_array_equal(ae.transform(masked), Z)


# -- 4. statistics from present rows only ----------------------------------------------


def test_modality_statistics_come_from_present_rows_only():
    ae, X, _, masks = fitted_on_missing("mean")
    for name in ("fou", "kar"):
        # The model reads float32 values; statistics are accumulated in float64.
        present = X[name][~masks[name]].astype(np.float32).astype(np.float64)
        np.testing.assert_allclose(ae.modalities_[name].mean_, present.mean(axis=0), rtol=1e-9)
        np.testing.assert_allclose(ae.modalities_[name].scale_, present.std(axis=0), rtol=1e-9)
        # Not the statistics of all rows (this data would tell them apart).
        assert not np.allclose(ae.modalities_[name].mean_, X[name].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(ae.modalities_["pix"].mean_, X["pix"].mean(axis=0), rtol=1e-5)
    # The same through a mask over huge values.
    huge = {name: block.copy() for name, block in X.items()}
    huge["fou"][masks["fou"]] = 1e9
    ae_mask = MultimodalAutoencoder(**SMALL).fit(huge | {"fou__missing": masks["fou"]})
    np.testing.assert_array_equal(ae_mask.modalities_["fou"].mean_, ae.modalities_["fou"].mean_)
    np.testing.assert_array_equal(ae_mask.modalities_["fou"].scale_, ae.modalities_["fou"].scale_)


# -- 5. errors -------------------------------------------------------------------------


def test_errors_about_missing_modalities():
    X, _ = mfeat(n=60, views=("fou", "kar"))
    ae = MultimodalAutoencoder(**SMALL)
    none = with_nan_rows(X, {"fou": np.arange(60) == 3, "kar": np.arange(60) == 3})
    with pytest.raises(ValueError, match=r"1 samples have no modality at all \(first rows: 3\)"):
        ae.fit(none)
    masked_none = X | {"fou__missing": np.arange(60) < 2, "kar__missing": np.arange(60) < 3}
    with pytest.raises(ValueError, match=r"2 samples have no modality at all \(first rows: 0, 1"):
        ae.fit(masked_none)
    with pytest.raises(ValueError, match=r"masks for \['pix'\], which X has no values for"):
        ae.fit(X | {"pix__missing": np.zeros(60, bool)})
    with pytest.raises(ValueError, match=r"'fou__missing'\] must be a 1-D boolean.*\(60, 1\)"):
        ae.fit(X | {"fou__missing": np.zeros((60, 1), bool)})
    with pytest.raises(ValueError, match=r"'fou__missing'\] must be a 1-D boolean mask.*float64"):
        ae.fit(X | {"fou__missing": np.full(60, 0.5)})
    with pytest.raises(ValueError, match=r"same number of samples.*'fou__missing': 30"):
        ae.fit(X | {"fou__missing": np.zeros(30, bool)})
    with pytest.raises(ValueError, match=r"'fou' is missing \(all NaN or masked\) in every"):
        ae.fit(X | {"fou__missing": np.ones(60, bool)})

    ae.fit(X)
    with pytest.raises(ValueError, match=r"1 samples have no modality at all \(first rows: 3\)"):
        ae.transform(none)
    with pytest.raises(ValueError, match=r"1 samples have no modality at all"):
        ae.transform({"fou": none["fou"]})  # "kar" absent, "fou" missing in row 3
    with pytest.raises(ValueError, match=r"X has none of the modalities MultimodalAutoencoder"):
        ae.transform({"fou": np.full((5, 76), np.nan)})
    with pytest.raises(ValueError, match=r"modalities \['pix'\] that were not seen in fit"):
        ae.transform({"pix": np.zeros((5, 240))})
    with pytest.raises(ValueError, match=r"predict_modality: 'pix' is not a fitted modality"):
        ae.predict_modality(X, "pix")
    with pytest.raises(ValueError, match=r"X has none of the modalities"):
        ae.predict_modality({"fou": X["fou"]}, "fou")  # nothing left to predict from
    with pytest.raises(ValueError, match=r"return_std=True\) needs a variational model"):
        ae.transform(X, return_std=True)
    with pytest.raises(ValueError, match=r"sample needs a variational model"):
        ae.sample(3)


# -- 6. predict_modality ---------------------------------------------------------------


def test_predict_modality_forms_and_ignores_the_target():
    ae, X, X_nan, _ = fitted_on_missing("poe")
    others = {"fou": X_nan["fou"], "kar": X["kar"]}  # some rows lack "fou"
    pred = ae.set_params(refine=CodeRefinement()).predict_modality(others, "pix")
    assert isinstance(pred, np.ndarray) and pred.shape == (300, 240) and np.isfinite(pred).all()
    # The target's values, if given, are ignored, even when garbage or its mask.
    garbage = np.random.RandomState(0).normal(0, 1e3, size=(300, 240))
    np.testing.assert_array_equal(ae.predict_modality(others | {"pix": X["pix"]}, "pix"), pred)
    np.testing.assert_array_equal(ae.predict_modality(others | {"pix": garbage}, "pix"), pred)
    np.testing.assert_array_equal(
        ae.predict_modality(others | {"pix": garbage, "pix__missing": np.zeros(300, bool)}, "pix"),
        pred,
    )
    # Without refined codes, it is the codes of the other modalities read by
    # the read-out fitted on such codes (not the one that reads the code of
    # all modalities): each one's own code side by side, the code of those
    # given in the place of one not given or missing in a sample.
    fused = ae.transform(others)
    has_fou = ~np.isnan(X_nan["fou"]).all(axis=1)
    own = {
        "fou": np.where(has_fou[:, None], ae.transform({"fou": X["fou"]}), fused),
        "kar": ae.transform({"kar": X["kar"]}),
    }
    side_by_side = np.hstack([own.get(name, fused) for name in ae.modalities_ if name != "pix"])
    codes = torch.as_tensor(side_by_side, device=ae.device_)
    module = ae.net_.module_.eval()
    with torch.no_grad():
        expected = module.scalers["pix"].inverse(ae.readout_.predictors_["pix"](codes))
    plain = ae.set_params(refine=None).predict_modality(others, "pix")
    np.testing.assert_allclose(plain, expected.cpu().numpy(), rtol=1e-5, atol=1e-5)
    assert not np.allclose(plain, ae.inverse_transform(ae.transform(others))["pix"], atol=1e-3)
    assert not np.allclose(plain, pred, atol=1e-3)  # the refined codes' share

    # A MultiIndex frame gives the target back as a frame with its own columns.
    frame_X, _ = load_mfeat(return_X_y=True, as_frame=True)
    frame = frame_X.loc[np.arange(0, 2000, 20), ["fou", "kar", "pix"]]
    frame.loc[frame.index[:10], "fou"] = np.nan
    ae_frame = MultimodalAutoencoder(**SMALL).fit(frame)
    kar = ae_frame.predict_modality(frame, "kar")
    assert isinstance(kar, pd.DataFrame)
    expected = pd.MultiIndex.from_product([["kar"], [f"kar_{i}" for i in range(64)]])
    assert kar.columns.equals(expected)
    assert kar.index.equals(frame.index)
    without = ae_frame.predict_modality(frame.drop(columns="kar", level=0), "kar")
    pd.testing.assert_frame_equal(without, kar)


def mfeat_train_test(n=1000):
    """A stratified 70/30 split of ``n`` mfeat samples, as two dicts of views."""
    X, y = mfeat(n=n)
    rows_train, rows_test = train_test_split(
        np.arange(n), test_size=0.3, random_state=0, stratify=y
    )
    train = {name: block[rows_train] for name, block in X.items()}
    test = {name: block[rows_test] for name, block in X.items()}
    return train, test


def test_predict_pix_from_other_views_beats_the_mean():
    train, test = mfeat_train_test()
    ae = MultimodalAutoencoder(
        8, hidden_dims=(64,), modality_dropout=0.3, max_epochs=20, batch_size=64, random_state=0
    ).fit(train)
    pred = ae.predict_modality({"fou": test["fou"], "kar": test["kar"]}, "pix")
    pix = ae.modalities_["pix"]
    mse = standardized_mse(pred, test["pix"], pix)
    baseline = standardized_mse(train["pix"].mean(axis=0), test["pix"], pix)
    # Measured: mse ~0.55 against ~1.0 for the training mean.
    assert baseline > 0.95
    assert mse < 0.75, mse


# -- 7. cross-modal training (the module-level tests are in test_module.py) ----------


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(cross_weight=CrossModal(0.0, decoders="own")), r"'cross_weight'.*needs weight > 0"),
        (dict(cross_weight=CrossModal(0.5, decoders="own"), fusion="moe"), r"fusion='moe' does not"),
    ],
)
def test_own_cross_decoders_need_a_cross_term(params, message):
    X, _ = mfeat(n=50)
    with pytest.raises(ValueError, match=message):
        MultimodalAutoencoder(**SMALL, **params).fit(X)


@pytest.mark.parametrize("decoders", ["shared", "own"])
def test_cross_weight_trains_prediction_from_the_others(decoders):
    train, test = mfeat_train_test()
    # Without refined codes at prediction: this is about what training learns.
    common = dict(
        hidden_dims=(64,), max_epochs=20, batch_size=64, random_state=0, **PLAIN
    )
    errors = {}
    for cross in (0.0, 0.7):
        options = dict(cross_weight=CrossModal(cross, decoders=decoders)) if cross else {}
        ae = MultimodalAutoencoder(8, **options, **common).fit(train)
        pred = ae.predict_modality({"fou": test["fou"], "kar": test["kar"]}, "pix")
        errors[cross] = standardized_mse(pred, test["pix"], ae.modalities_["pix"])
    # Measured: 0.441 without the cross term, 0.362 with it (shared decoders),
    # 0.360 (own decoders).
    assert errors[0.7] < errors[0.0] - 0.06, errors


def test_predict_modality_uses_the_own_cross_decoders():
    train, test = mfeat_train_test()
    ae = MultimodalAutoencoder(
        6, hidden_dims=(32,), max_epochs=3, random_state=0,
        cross_weight=CrossModal(0.5, decoders="own"), readout="decoder",
    ).fit(train)
    others = {name: block for name, block in test.items() if name != "pix"}
    codes = torch.as_tensor(ae.transform(others), device=ae.device_)
    module = ae.net_.module_.eval()
    with torch.no_grad():
        expected = module.scalers["pix"].inverse(module.cross_decoders["pix"](codes)).cpu().numpy()
        reconstruction = module.decode_original(codes)["pix"].cpu().numpy()
    predicted = np.asarray(ae.predict_modality(others, "pix"))
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(predicted, reconstruction, atol=1e-3)
    # A pickled model predicts the same.
    np.testing.assert_array_equal(
        np.asarray(pickle.loads(pickle.dumps(ae)).predict_modality(others, "pix")), predicted
    )


# -- 8. noise in training only ---------------------------------------------------------


@pytest.mark.parametrize(
    "noise", [dict(noise_std=0.5), dict(input_dropout=0.3), dict(modality_dropout=0.3)]
)
def test_corruption_changes_training_not_transform(noise):
    X, _ = mfeat(n=200)
    plain = MultimodalAutoencoder(**SMALL, **PLAIN).fit(X).transform(X)
    np.testing.assert_array_equal(
        MultimodalAutoencoder(**SMALL, **PLAIN).fit(X).transform(X), plain
    )
    noisy = MultimodalAutoencoder(**{**SMALL, **PLAIN, **noise}).fit(X)
    Z = noisy.transform(X)
    assert not np.allclose(Z, plain, atol=1e-4)
    np.testing.assert_array_equal(noisy.transform(X), Z)
    assert noisy.score(X) == noisy.score(X)
    np.testing.assert_array_equal(
        noisy.predict_modality(X, "pix"), noisy.predict_modality(X, "pix")
    )


def test_noise_leaves_integer_and_count_inputs_alone():
    # Documented: integer inputs (categories, tokens) and raw counts take no noise.
    X, y = load_digits_words(return_X_y=True)
    counts = sparse.csr_matrix(np.random.RandomState(0).poisson(1.0, size=(300, 20)))
    data = {"text": X["text"][:300], "digit": y[:300].reshape(-1, 1), "counts": counts}
    params = dict(SMALL, modalities={"text": "tokens", "digit": "categorical", "counts": "counts"})
    plain = MultimodalAutoencoder(**params).fit(data)
    noisy = MultimodalAutoencoder(**params, noise_std=1.0, input_dropout=0.5).fit(data)
    np.testing.assert_array_equal(noisy.transform(data), plain.transform(data))


def test_gaussian_noise_spares_intensities_scored_by_bce_but_masking_does_not():
    # Documented: noise_std leaves images in [0, 1] with the BCE loss alone.
    X, _ = load_digits_words(return_X_y=True)
    for loss, spared in (("bce", True), ("mse", False)):
        params = dict(SMALL, modalities={"image": Image(channels=(4,), pixel_loss=loss)})
        data = {"image": X["image"][:200]}
        plain = MultimodalAutoencoder(**params, **PLAIN).fit(data).transform(data)
        noisy = MultimodalAutoencoder(**params, **dict(PLAIN, noise_std=1.0)).fit(data)
        assert np.array_equal(noisy.transform(data), plain) == spared, loss
    params = dict(SMALL, modalities={"image": Image(channels=(4,), pixel_loss="bce")})
    plain = MultimodalAutoencoder(**params, **PLAIN).fit(data).transform(data)
    masked = MultimodalAutoencoder(**params, **dict(PLAIN, input_dropout=0.5)).fit(data)
    assert not np.allclose(masked.transform(data), plain, atol=1e-4)


# -- score with missing rows -----------------------------------------------------------


def expected_score(ae, X_given, X_true):
    """-(mean over modalities of the standardized MSE over the samples that have it)."""
    rec = ae.inverse_transform(ae.transform(X_given))
    losses = []
    for name in ae.modalities_:
        present = ~np.isnan(X_given[name]).all(axis=1)
        error = (rec[name] - X_true[name].astype(np.float32)) / ae.modalities_[name].scale_
        losses.append((error**2).mean(axis=1)[present].mean())
    return -np.mean(losses)  # equal weights


@functools.lru_cache(maxsize=None)
def fitted_complete():
    X, _ = mfeat()
    return MultimodalAutoencoder(**SMALL).fit(X), X


def fou_missing_in_the_first_rows(X):
    X_nan = {name: block.copy() for name, block in X.items()}
    X_nan["fou"][:200] = np.nan  # rows 0-199 lack "fou", rows 200-299 have it
    return X_nan


def test_score_is_each_modality_loss_over_the_samples_that_have_it():
    ae, X = fitted_complete()
    assert ae.modality_weights_ == pytest.approx({name: 1 / 3 for name in VIEWS})
    np.testing.assert_allclose(ae.score(X), expected_score(ae, X, X), rtol=1e-5)
    # Evaluated in a single batch, missing rows are left out of "fou"'s mean.
    X_nan = fou_missing_in_the_first_rows(X)
    batch_size = ae.net_.batch_size
    try:
        ae.net_.batch_size = 300
        np.testing.assert_allclose(ae.score(X_nan), expected_score(ae, X_nan, X), rtol=1e-5)
    finally:
        ae.net_.batch_size = batch_size


def test_score_with_missing_rows_does_not_depend_on_the_batch_size():
    ae, X = fitted_complete()
    X_nan = fou_missing_in_the_first_rows(X)
    assert ae.net_.batch_size == 128  # batches 0-127 (no "fou"), 128-255, 256-299
    np.testing.assert_allclose(ae.score(X_nan), expected_score(ae, X_nan, X), rtol=1e-5)


def test_modality_weights_name_only_modalities_when_rows_are_missing():
    ae, X, X_nan, _ = fitted_on_missing("mean")
    assert set(ae.modality_weights_) == set(VIEWS)
    assert sum(ae.modality_weights_.values()) == pytest.approx(1.0)
    # The score is then the same mean of modality losses as without missing rows.
    np.testing.assert_allclose(ae.score(X), expected_score(ae, X, X), rtol=1e-5)


# -- 9. variational --------------------------------------------------------------------


class RecordBeta(Callback):
    def initialize(self):
        self.betas = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.betas.append(net.criterion_.beta)


@functools.lru_cache(maxsize=None)
def variational_poe():
    X, X_nan, masks = mfeat_with_missing_rows()
    X_nan = SliceDict(**X_nan)
    ae = MultimodalAutoencoder(
        fusion="poe",
        variational=Variational(beta=0.5, kl_warmup_epochs=4),
        callbacks=[("record_beta", RecordBeta())],
        **(SMALL | dict(max_epochs=6)),
    ).fit(X_nan)
    return ae, X, X_nan, masks


@pytest.mark.parametrize("fusion", FUSION_NAMES)
def test_return_std_gives_the_posterior(fusion):
    _, X_nan, _ = mfeat_with_missing_rows()
    vae = MultimodalAutoencoder(fusion=fusion, variational=True, **SMALL).fit(X_nan)
    mean, std = vae.transform(X_nan, return_std=True)
    assert mean.shape == std.shape == (300, 4)
    assert (std > 0).all() and np.isfinite(std).all()
    np.testing.assert_array_equal(mean, vae.transform(X_nan))


def test_poe_is_less_certain_with_less_evidence():
    ae, X, X_nan, masks = variational_poe()
    _, std = ae.transform(X_nan, return_std=True)
    lacking = masks["fou"] | masks["kar"]
    assert std[lacking].mean() > std[~lacking].mean()
    # Sample by sample: dropping a modality never makes the product more certain.
    _, std_full = ae.transform(X, return_std=True)
    assert (std[lacking] >= std_full[lacking]).all()
    assert (std[lacking] > std_full[lacking] + 1e-4).any(axis=1).all()
    np.testing.assert_allclose(std[~lacking], std_full[~lacking], rtol=1e-6)
    _, std_pix = ae.transform({"pix": X["pix"]}, return_std=True)
    assert (std_pix >= std_full).all() and std_pix.mean() > std_full.mean()


def test_sample_is_in_fitted_form_and_seeded():
    ae, X, _, _ = variational_poe()
    drawn = ae.sample(5, random_state=0)
    assert isinstance(drawn, SliceDict) and list(drawn.keys()) == list(VIEWS)
    for name in VIEWS:
        assert drawn[name].shape == (5, X[name].shape[1]) and np.isfinite(drawn[name]).all()
    again = ae.sample(5, random_state=0)
    other = ae.sample(5, random_state=1)
    for name in VIEWS:
        np.testing.assert_array_equal(again[name], drawn[name])
        assert not np.allclose(other[name], drawn[name])


def test_kl_warmup_raises_beta_and_kl_is_in_the_score():
    ae, X, X_nan, _ = variational_poe()
    assert ae.net_.criterion_.beta == 0.5
    betas = dict(ae.net_.callbacks_)["record_beta"].betas
    np.testing.assert_allclose(betas, [0.125, 0.25, 0.375, 0.5, 0.5, 0.5])
    # score = -(reconstruction + beta * KL), KL of the posteriors from N(0, I).
    mean, std = ae.transform(X_nan, return_std=True)
    mean, var = mean.astype(np.float64), std.astype(np.float64) ** 2
    kl = np.mean(0.5 * (mean**2 + var - 1.0 - np.log(var)))
    assert kl > 1e-3
    criterion = ae.net_.criterion_
    with_kl = ae.score(X_nan)
    try:
        criterion.beta = 0.0
        without = ae.score(X_nan)
        criterion.beta = 2.0
        heavier = ae.score(X_nan)
    finally:
        criterion.beta = 0.5
    np.testing.assert_allclose(without - with_kl, 0.5 * kl, rtol=1e-3)
    np.testing.assert_allclose(without - heavier, 2.0 * kl, rtol=1e-3)


# -- 10. persistence -------------------------------------------------------------------


def test_pickle_and_clone_of_a_variational_poe_model():
    ae, X, X_nan, _ = variational_poe()
    mean, std = ae.transform(X_nan, return_std=True)
    loaded = pickle.loads(pickle.dumps(ae))
    loaded_mean, loaded_std = loaded.transform(X_nan, return_std=True)
    np.testing.assert_array_equal(loaded_mean, mean)
    np.testing.assert_array_equal(loaded_std, std)
    for name in VIEWS:
        np.testing.assert_array_equal(
            loaded.sample(3, random_state=0)[name], ae.sample(3, random_state=0)[name]
        )
    refit = clone(ae).fit(X_nan)
    np.testing.assert_array_equal(refit.transform(X_nan), mean)
    np.testing.assert_array_equal(refit.transform(X_nan, return_std=True)[1], std)


# -- 11. model selection ---------------------------------------------------------------


def test_grid_search_over_fusion_and_encoding_dim_with_missing_rows():
    X, y = mfeat(n=300, views=("fou", "kar"))
    masks = missing_masks(300, names=("fou",), seed=4)
    # "fou" as NaN rows, "kar" through a mask (never both for one sample): CV slices both.
    kar_missing = missing_masks(300, names=("kar",), seed=5)["kar"] & ~masks["fou"]
    X = SliceDict(**with_nan_rows(X, masks), kar__missing=kar_missing)
    pipe = make_pipeline(
        MultimodalAutoencoder(
            hidden_dims=(16,), max_epochs=15, batch_size=32, lr=3e-3, random_state=0
        ),
        LogisticRegression(max_iter=1000),
    )
    grid = {
        "multimodalautoencoder__fusion": FUSION_NAMES,
        "multimodalautoencoder__encoding_dim": [2, 8],
    }
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 2 * len(FUSION_NAMES) and np.isfinite(scores).all()
    assert search.best_params_["multimodalautoencoder__fusion"] in FUSION_NAMES
    # Measured: ~0.57-0.61 with 8 dimensions, ~0.33-0.37 with 2; chance is 0.1.
    assert search.best_score_ == scores.max() > 0.45
    dims = search.cv_results_["param_multimodalautoencoder__encoding_dim"]
    assert scores[dims == 8].min() > scores[dims == 2].max()
    assert search.best_params_["multimodalautoencoder__encoding_dim"] == 8
    best = search.best_estimator_[0]
    assert best.fusion == search.best_params_["multimodalautoencoder__fusion"]
    assert best.encoding_dim == search.best_params_["multimodalautoencoder__encoding_dim"]
    assert search.score(X, y) > 0.6


# -- 12. words from images -------------------------------------------------------------


def test_word_predicted_from_the_image_alone():
    X, y = load_digits_words(return_X_y=True)
    X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    ae = MultimodalAutoencoder(
        8,
        modalities={"image": Image(channels=(8,)), "text": "tokens"},
        hidden_dims=(32,),
        modality_dropout=0.5,
        max_epochs=20,
        lr=1e-2,
        batch_size=64,
        random_state=0,
    ).fit(X_train)
    tokens = ae.predict_modality({"image": X_test["image"]}, "text")
    assert tokens.shape == (len(y_test), 6) and tokens.dtype == np.int64
    accuracy = (decode_words(tokens) == WORDS[y_test]).mean()
    # Measured: 0.79, 0.82, 0.83 for seeds 0-2 (0.58-0.73 after 10 epochs); chance is 0.1.
    assert accuracy > 0.6, accuracy
