"""Input forms and user-facing messages of :mod:`skmmae._validation`.

Everything goes through the public estimator where it can; the form round
trips also call :func:`split_modalities` / :func:`restore_layout` directly.
Every message a user can see is matched with ``pytest.raises(match=...)``.
"""

import copy
import re

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse
from skorch.helper import SliceDict
from sklearn.exceptions import NotFittedError

from skmmae import MultimodalAutoencoder
from skmmae._inference import decode, encode
from skmmae._output_forms import restore_layout
from skmmae._validation import split_modalities
from skmmae.modalities import Continuous
from skmmae.options import EarlyStop

N_SAMPLES, ENCODING_DIM = 30, 2


def make_estimator(**params):
    settings = dict(encoding_dim=ENCODING_DIM, hidden_dims=(8,), max_epochs=2, random_state=0)
    settings.update(params)
    return MultimodalAutoencoder(**settings)


def make_blocks(seed=0):
    rng = np.random.RandomState(seed)
    return {"a": rng.randn(N_SAMPLES, 5), "b": rng.randn(N_SAMPLES, 3)}


def multiindex_frame(blocks, order=None):
    frame = pd.concat(
        {
            name: pd.DataFrame(block, columns=[f"{name}{i}" for i in range(block.shape[1])])
            for name, block in blocks.items()
        },
        axis=1,
    )
    return frame if order is None else frame.iloc[:, order]


def _dict_of_frames(blocks):
    return {
        name: pd.DataFrame(block, columns=[f"{name}_f{i}" for i in range(block.shape[1])])
        for name, block in blocks.items()
    }


# Each maker turns the reference blocks into one accepted form of X.
FORMS = {
    "dict_ndarray": lambda blocks: dict(blocks),
    "slicedict": lambda blocks: SliceDict(**blocks),
    "dict_dataframe": _dict_of_frames,
    "dict_tensor": lambda blocks: {n: torch.from_numpy(b) for n, b in blocks.items()},
    "dict_nested_list": lambda blocks: {n: b.tolist() for n, b in blocks.items()},
    "multiindex_frame": multiindex_frame,
    # a, b, a, b, ... : the two modalities' columns interleaved.
    "multiindex_interleaved": lambda blocks: multiindex_frame(blocks, [0, 5, 1, 6, 2, 7, 3, 4]),
    "ndarray": lambda blocks: np.hstack(list(blocks.values())),
    "dataframe": lambda blocks: pd.DataFrame(
        np.hstack(list(blocks.values())), columns=[f"col{i}" for i in range(8)]
    ),
}


def _shapes(X):
    """Per-modality shapes of any accepted form, to compare forms."""
    if isinstance(X, dict):  # dict and SliceDict
        return {name: np.shape(np.asarray(value)) for name, value in X.items()}
    return np.shape(X)


def assert_same_form(restored, original):
    """``restored`` has the form, keys / columns and shapes of ``original``."""
    if isinstance(original, SliceDict):
        assert isinstance(restored, SliceDict)
    elif isinstance(original, dict):
        assert type(restored) is dict
    if isinstance(original, dict):
        assert list(restored) == list(original)
        for name, value in original.items():
            if isinstance(value, pd.DataFrame):
                assert isinstance(restored[name], pd.DataFrame)
                pd.testing.assert_index_equal(restored[name].columns, value.columns)
            else:
                assert isinstance(restored[name], np.ndarray)
    elif isinstance(original, pd.DataFrame):
        assert isinstance(restored, pd.DataFrame)
        pd.testing.assert_index_equal(restored.columns, original.columns)
    else:
        assert isinstance(restored, np.ndarray)
    assert _shapes(restored) == _shapes(original)


# ---------------------------------------------------------------- input forms


@pytest.mark.parametrize("form", list(FORMS))
def test_estimator_accepts_form_and_gives_it_back(form):
    X = FORMS[form](make_blocks())
    ae = make_estimator().fit(X)
    Z = ae.transform(X)
    assert Z.shape == (N_SAMPLES, ENCODING_DIM)
    assert Z.dtype == np.float32
    assert np.isfinite(Z).all()
    assert_same_form(ae.inverse_transform(Z), X)
    assert np.isfinite(ae.score(X))


@pytest.mark.parametrize("form", list(FORMS))
def test_split_then_restore_round_trips(form):
    blocks = make_blocks()
    X = FORMS[form](blocks)
    blocks_split, layout = split_modalities(X)
    # The form is split here; each modality then converts its own block.
    data = {name: Continuous().validate(block) for name, block in blocks_split.items()}
    for values in data.values():
        assert values.dtype == np.float32
        assert values.flags.c_contiguous
    restored = restore_layout(data, layout)
    assert_same_form(restored, X)
    if isinstance(X, pd.DataFrame):
        np.testing.assert_allclose(restored.to_numpy(), X.to_numpy(), rtol=1e-6)
    elif isinstance(X, dict):
        for name in X:
            np.testing.assert_allclose(np.asarray(restored[name]), blocks[name], rtol=1e-6)
    else:
        np.testing.assert_allclose(restored, X, rtol=1e-6)


def test_split_names_the_modalities():
    data, _ = split_modalities(multiindex_frame(make_blocks(), [0, 5, 1, 6, 2, 7, 3, 4]))
    assert list(data) == ["a", "b"]
    assert {name: block.shape for name, block in data.items()} == {"a": (30, 5), "b": (30, 3)}
    data, _ = split_modalities(np.zeros((4, 3)))
    assert list(data) == ["X"]


def test_interleaved_multiindex_frame_keeps_column_order():
    X = multiindex_frame(make_blocks(), [0, 5, 1, 6, 2, 7, 3, 4])
    ae = make_estimator().fit(X)
    assert list(ae.modalities_) == ["a", "b"]
    X_rec = ae.inverse_transform(ae.transform(X))
    assert X_rec.columns.tolist() == X.columns.tolist()
    assert X_rec.columns.tolist()[:4] == [("a", "a0"), ("b", "b0"), ("a", "a1"), ("b", "b1")]
    # Each column holds its own modality's reconstruction, in original units.
    rec = ae.inverse_transform(ae.transform(X))
    by_dict = decode(ae.net_, ae.transform(X), ae._reconstruct)
    np.testing.assert_array_equal(rec["b"].to_numpy(), by_dict["b"])
    np.testing.assert_array_equal(rec[("a", "a3")].to_numpy(), by_dict["a"][:, 3])


def test_interleaved_multiindex_frame_gives_same_codes_as_dict():
    blocks = make_blocks()
    X = multiindex_frame(blocks, [0, 5, 1, 6, 2, 7, 3, 4])
    Z_frame = make_estimator().fit_transform(X)
    Z_dict = make_estimator().fit_transform(blocks)
    np.testing.assert_allclose(Z_frame, Z_dict, rtol=1e-5, atol=1e-6)


def test_plain_dataframe_records_feature_names():
    X = FORMS["dataframe"](make_blocks())
    ae = make_estimator().fit(X)
    assert ae.n_features_in_ == 8
    assert ae.feature_names_in_.tolist() == list(X.columns)
    assert list(ae.modalities_) == ["X"]
    assert ae.get_feature_names_out().tolist() == [
        "multimodalautoencoder0",
        "multimodalautoencoder1",
    ]


def test_dict_input_counts_all_features():
    ae = make_estimator().fit(make_blocks())
    assert ae.n_features_in_ == 8
    assert list(ae.modalities_) == ["a", "b"]
    assert not hasattr(ae, "feature_names_in_")


@pytest.mark.parametrize(
    "convert",
    [
        lambda b: (b * 10).astype(np.int64),
        lambda b: (b * 10).astype(np.int32),
        lambda b: b > 0,
        lambda b: b.astype(np.float64),
        lambda b: b.astype(np.float32),
    ],
    ids=["int64", "int32", "bool", "float64", "float32"],
)
def test_numeric_dtypes_are_accepted(convert):
    X = {name: convert(block) for name, block in make_blocks().items()}
    ae = make_estimator().fit(X)
    Z = ae.transform(X)
    assert Z.shape == (N_SAMPLES, ENCODING_DIM)
    assert Z.dtype == np.float32
    X_rec = ae.inverse_transform(Z)
    assert {name: block.shape for name, block in X_rec.items()} == {"a": (30, 5), "b": (30, 3)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_and_transform_leave_dict_input_untouched(dtype):
    # float32 C arrays are used without a copy: the case most at risk.
    X = {name: block.astype(dtype) for name, block in make_blocks().items()}
    X_before = copy.deepcopy(X)
    ids_before = {name: id(block) for name, block in X.items()}
    ae = make_estimator().fit(X)
    ae.transform(X)
    ae.score(X)
    assert list(X) == list(X_before)
    assert {name: id(block) for name, block in X.items()} == ids_before
    for name, block in X.items():
        assert block.dtype == dtype
        assert block.flags.writeable
        np.testing.assert_array_equal(block, X_before[name])


def test_fit_leaves_frame_and_tensor_input_untouched():
    blocks = make_blocks()
    frame = multiindex_frame(blocks, [0, 5, 1, 6, 2, 7, 3, 4])
    frame_before = frame.copy(deep=True)
    make_estimator().fit(frame)
    pd.testing.assert_frame_equal(frame, frame_before)

    tensors = {name: torch.from_numpy(b.astype(np.float32)) for name, b in blocks.items()}
    tensors_before = {name: t.clone() for name, t in tensors.items()}
    make_estimator().fit(tensors)
    for name, tensor in tensors.items():
        assert tensor.dtype == torch.float32
        assert torch.equal(tensor, tensors_before[name])


def test_read_only_input_is_accepted():
    X = {name: block.astype(np.float32) for name, block in make_blocks().items()}
    for block in X.values():
        block.flags.writeable = False
    Z = make_estimator().fit_transform(X)
    assert Z.shape == (N_SAMPLES, ENCODING_DIM)


def test_inverse_transform_of_dataframe_codes_keeps_index():
    X = make_blocks()
    ae = make_estimator().fit(_dict_of_frames(X))
    index = pd.Index([f"s{i}" for i in range(N_SAMPLES)])
    Z = pd.DataFrame(ae.transform(_dict_of_frames(X)), index=index)
    X_rec = ae.inverse_transform(Z)
    pd.testing.assert_index_equal(X_rec["a"].index, index)


# ---------------------------------------------------------------- data errors


def test_modalities_of_different_lengths():
    X = make_blocks()
    X["a"] = X["a"][:20]
    with pytest.raises(
        ValueError, match=r"same number of samples; got 'a': 20, 'b': 30\."
    ):
        make_estimator().fit(X)


def _cells_stay_nan_filled(ae, X, codes):
    assert np.isfinite(codes).all()
    assert np.isfinite(ae.score(X))


def test_nan_cells_are_accepted_in_every_input_form():
    # A NaN inside an otherwise observed row of a continuous modality is one
    # missing value (skmmae.imputation), in a dict, a MultiIndex frame and a
    # plain array alike.
    X = make_blocks()
    X["b"][3, 0] = np.nan
    X["b"][7, 2] = np.nan
    ae = make_estimator().fit(X)
    assert ae.modalities_["b"].missing_cells_ and not ae.modalities_["a"].missing_cells_
    _cells_stay_nan_filled(ae, X, ae.transform(X))
    frame = multiindex_frame(X, [0, 5, 1, 6, 2, 7, 3, 4])
    ae = make_estimator().fit(frame)
    _cells_stay_nan_filled(ae, frame, ae.transform(frame))
    array = np.hstack(list(X.values()))
    ae = make_estimator().fit(array)
    _cells_stay_nan_filled(ae, array, ae.transform(array))


def test_nan_cells_at_transform_of_a_model_fitted_without():
    X = make_blocks()
    ae = make_estimator().fit(X)
    X["a"][5, 0] = np.nan
    _cells_stay_nan_filled(ae, X, ae.transform(X))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("value", [np.inf, -np.inf, 1e300], ids=["inf", "-inf", "too_large"])
def test_infinity_names_modality(value):
    X = make_blocks()
    X["b"][3, 0] = value
    with pytest.raises(
        ValueError,
        match=r"Modality 'b' contains infinity \(or a value too large for float32\) "
        r"in 1 rows \(first: 3\)\. Values must be finite\.",
    ):
        make_estimator().fit(X)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("value", [np.inf, 1e300], ids=["inf", "too_large"])
def test_infinity_at_transform_and_predict_modality(value):
    # At inference the finiteness proof runs after the copy to the device;
    # when it fails, the host check must still name the modality and rows.
    X = make_blocks()
    ae = make_estimator().fit(X)
    X["b"] = X["b"].astype(np.float64)
    X["b"][6, 1] = value
    message = r"Modality 'b' contains infinity \(or a value too large for float32\) in 1 rows \(first: 6\)"
    with pytest.raises(ValueError, match=message):
        ae.transform(X)
    with pytest.raises(ValueError, match=message):
        ae.predict_modality(X, "a")


def test_inference_leaves_continuous_values_to_the_device_check():
    # With the scan deferred, the host check neither fills a row of NaN nor
    # masks it; the device check must catch it, and the host check then
    # finds the row as a missing modality.
    X = make_blocks()
    ae = make_estimator().fit(X)
    X["b"][4] = np.nan
    unchecked = ae._check_input(X, unscanned=["a", "b"])
    assert np.isnan(unchecked["b"][4]).all() and not any(k.endswith("__present") for k in unchecked)
    dataset = ae._inference_data(X)
    assert dataset.all_finite(["a", "b"])
    np.testing.assert_array_equal(ae.transform(X), encode(ae.net_, ae._check_input(X)))


def test_large_finite_values_at_transform_are_checked_on_the_host():
    # A block whose float32 sum overflows is not proven finite on the
    # device, so the host check runs and finds every value finite: the
    # values pass the input checks, and the model's overflow on them is
    # reported by name, never returned as NaN codes.
    X = make_blocks()
    ae = make_estimator().fit(X)
    big = {**X, "b": np.full_like(X["b"], 1e37)}
    assert not ae.net_.get_dataset(ae._check_input(big)).all_finite(["b"])
    with pytest.raises(ValueError, match=r"transform: Modality 'b' has values the model cannot"):
        ae.transform(big)


def test_a_sample_without_any_modality():
    X = make_blocks()
    X["a"][[4, 7]] = np.nan
    X["b"][[4, 7, 9]] = np.nan
    with pytest.raises(
        ValueError,
        match=r"^2 samples have no modality at all \(first rows: 4, 7\); each sample needs "
        r"at least one of the modalities \['a', 'b'\] to be encoded\.$",
    ):
        make_estimator().fit(X)


def test_a_modality_missing_everywhere_cannot_be_fitted():
    X = make_blocks()
    X["b"][:] = np.nan
    with pytest.raises(
        ValueError,
        match=r"Modality 'b' is missing \(all NaN or masked\) in every sample; a modality "
        r"must be present in some samples to be fitted\.",
    ):
        make_estimator().fit(X)


def test_strings_in_a_continuous_modality_are_rejected():
    X = make_blocks()
    X["b"] = np.full((N_SAMPLES, 3), "abc")
    with pytest.raises(
        ValueError,
        match=r"Modality 'b' could not be read as a 2-D numeric array: "
        r"could not convert string to float",
    ):
        make_estimator(modalities={"b": "continuous"}).fit(X)


def test_dict_inside_object_array_is_rejected():
    X = make_blocks()
    block = X["b"].astype(object)
    block[2, 1] = {"x": 1}
    X["b"] = block
    with pytest.raises(
        TypeError,
        match=r"Modality 'b' could not be read as a 2-D numeric array: .*not 'dict'",
    ):
        make_estimator().fit(X)


def test_non_string_key():
    X = make_blocks()
    X[0] = X.pop("b")
    with pytest.raises(
        TypeError, match=r"Modality names must be strings; got the key 0 of type int\."
    ):
        make_estimator().fit(X)


def test_empty_dict():
    with pytest.raises(ValueError, match=r"X has no modalities: pass a dict"):
        make_estimator().fit({})


@pytest.mark.parametrize("container", [dict, SliceDict])
def test_zero_samples_in_dict(container):
    # A SliceDict's len() is its number of rows: 0 rows is not "no modalities".
    X = container(**{name: block[:0] for name, block in make_blocks().items()})
    with pytest.raises(ValueError, match=r"X has 0 samples \(modalities \['a', 'b'\]\)"):
        make_estimator().fit(X)


def test_zero_samples_in_array():
    with pytest.raises(
        ValueError,
        match=r"Found array with 0 sample\(s\) \(shape=\(0, 5\)\) while a minimum of 1 "
        r"is required by MultimodalAutoencoder\.",
    ):
        make_estimator().fit(np.zeros((0, 5)))


def test_zero_features_in_modality():
    X = make_blocks()
    X["b"] = X["b"][:, :0]
    with pytest.raises(
        ValueError, match=r"Modality 'b' could not be read .*Found array with 0 feature\(s\)"
    ):
        make_estimator().fit(X)


def test_one_dimensional_modality():
    X = make_blocks()
    X["b"] = X["b"][:, 0]
    with pytest.raises(
        ValueError,
        match=r"Modality 'b' must have one row per sample and at least 2 dimensions; got "
        r"an array of shape \(30,\)\. Reshape a single feature with values\.reshape\(-1, 1\)\.",
    ):
        make_estimator().fit(X)


def test_three_dimensional_modality_must_name_its_kind():
    X = make_blocks()
    X["b"] = X["b"][:, :, None]
    with pytest.raises(
        ValueError,
        match=r"Modality 'b' is 3-D with samples of shape \(3, 1\): it could be grayscale "
        r"images \(n, height, width\) or time series \(n, channels, time\)\. Say which "
        r"with modalities=\{name: 'image'\} or \{name: 'timeseries'\}\.",
    ):
        make_estimator().fit(X)


def test_three_dimensional_continuous_modality():
    X = make_blocks()
    X["b"] = X["b"][:, :, None]
    with pytest.raises(
        ValueError,
        match=r"Modality 'b' could not be read as a 2-D numeric array: "
        r"Found array with dim 3, while dim <= 2 is required",
    ):
        make_estimator(modalities={"b": "continuous"}).fit(X)


def test_three_dimensional_array():
    with pytest.raises(
        ValueError,
        match=r"Found array with dim 3, while dim <= 2 is required by MultimodalAutoencoder",
    ):
        make_estimator().fit(np.zeros((N_SAMPLES, 4, 2)))


def test_sparse_modality():
    X = make_blocks()
    X["b"] = sparse.csr_matrix(X["b"])
    with pytest.raises(
        TypeError,
        match=r"Modality 'b' is a sparse matrix; this modality needs dense values \(sparse "
        r"input is for count data: modalities=\{name: 'counts'\}\)\.",
    ):
        make_estimator(modalities={"b": "continuous"}).fit(X)


def test_sparse_array():
    X = sparse.csr_matrix(np.hstack(list(make_blocks().values())))
    with pytest.raises(TypeError, match=r"Sparse data was passed for X, but dense data"):
        make_estimator().fit(X)


def test_multiindex_first_level_must_be_strings():
    X = pd.DataFrame(
        np.hstack(list(make_blocks().values())),
        columns=pd.MultiIndex.from_tuples([(i // 5, f"f{i}") for i in range(8)]),
    )
    with pytest.raises(
        TypeError,
        match=r"Modality names \(the first column level\) must be strings; "
        r"got 0 of type int\.",
    ):
        make_estimator().fit(X)


def test_multiindex_must_have_two_levels():
    X = pd.DataFrame(
        np.hstack(list(make_blocks().values())),
        columns=pd.MultiIndex.from_tuples(
            [("a" if i < 5 else "b", f"f{i}", "x") for i in range(8)]
        ),
    )
    with pytest.raises(
        ValueError,
        match=r"MultiIndex columns must have exactly 2 levels \(modality, feature\); "
        r"got 3 levels\.",
    ):
        make_estimator().fit(X)


# ------------------------------------------------------- errors after fitting


@pytest.fixture(scope="module")
def fitted():
    """An estimator fitted on the dict {'a': 5 features, 'b': 3 features}."""
    return make_estimator().fit(make_blocks())


@pytest.fixture(scope="module")
def fitted_on_array():
    return make_estimator().fit(np.hstack(list(make_blocks().values())))


@pytest.mark.parametrize("method", ["transform", "score"])
def test_unknown_modality(fitted, method):
    X = make_blocks(seed=1)
    X["c"] = X["b"]
    with pytest.raises(
        ValueError,
        match=re.escape(
            "X has modalities ['c'] that were not seen in fit; the fitted modalities "
            "are ['a', 'b']."
        ),
    ):
        getattr(fitted, method)(X)


@pytest.mark.parametrize("method", ["transform", "score"])
def test_none_of_the_fitted_modalities(fitted, method):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "X has none of the modalities MultimodalAutoencoder was fitted with "
            "(['a', 'b']); it needs at least one."
        ),
    ):
        # The only modality given is missing in every sample: as if absent.
        getattr(fitted, method)({"a": np.full((N_SAMPLES, 5), np.nan)})


@pytest.mark.parametrize("method", ["transform", "score"])
def test_changed_feature_count_in_dict(fitted, method):
    X = make_blocks(seed=1)
    X["a"] = X["a"][:, :4]
    with pytest.raises(
        ValueError,
        match=r"^Modality 'a' has 4 features, but MultimodalAutoencoder is expecting "
        r"5 features as input\.$",
    ):
        getattr(fitted, method)(X)


def test_changed_feature_count_in_multiindex_frame(fitted):
    X = make_blocks(seed=1)
    X["a"] = X["a"][:, :4]
    with pytest.raises(
        ValueError,
        match=r"^Modality 'a' has 4 features, but MultimodalAutoencoder is expecting "
        r"5 features as input\.$",
    ):
        fitted.transform(multiindex_frame(X))


def test_changed_feature_count_in_array(fitted_on_array):
    with pytest.raises(
        ValueError,
        match=r"X has 4 features, but MultimodalAutoencoder is expecting 8 features as input\.",
    ):
        fitted_on_array.transform(np.zeros((3, 4)))


def test_transform_accepts_slicedict_after_dict_fit(fitted):
    Z = fitted.transform(SliceDict(**make_blocks(seed=1)))
    assert Z.shape == (N_SAMPLES, ENCODING_DIM)


def test_inverse_transform_wrong_width(fitted):
    with pytest.raises(
        ValueError,
        match=r"^The codes X have 3 columns, but MultimodalAutoencoder encodes to 2 dimensions "
        r"\(encoding_dim\)\.$",
    ):
        fitted.inverse_transform(np.zeros((4, 3)))


def test_inverse_transform_1d_code_is_rejected(fitted):
    with pytest.raises(ValueError, match=r"The codes X must be 2-D of shape \(n_samples, 2\); got .* \(2,\)"):
        fitted.inverse_transform(np.zeros(ENCODING_DIM))


def test_inverse_transform_accepts_tensor_codes(fitted):
    X_rec = fitted.inverse_transform(torch.zeros(4, ENCODING_DIM))
    assert {name: block.shape for name, block in X_rec.items()} == {"a": (4, 5), "b": (4, 3)}


# ------------------------------------------------------------ parameter errors


def test_early_stopping_with_too_few_samples():
    X = {name: block[:4] for name, block in make_blocks().items()}
    with pytest.raises(
        ValueError,
        match=r"validation_fraction=0\.1 leaves no training or no validation sample "
        r"out of 4",
    ):
        make_estimator(early_stopping=True).fit(X)


def test_early_stopping_runs():
    ae = make_estimator(early_stopping=EarlyStop(validation_fraction=0.2)).fit(make_blocks())
    assert "valid_loss" in ae.net_.history[-1]


# ------------------------------------------------------------------ not fitted


@pytest.mark.parametrize(
    "method, args",
    [
        ("transform", (make_blocks(),)),
        ("inverse_transform", (np.zeros((3, ENCODING_DIM)),)),
        ("score", (make_blocks(),)),
        ("get_feature_names_out", ()),
    ],
    ids=["transform", "inverse_transform", "score", "get_feature_names_out"],
)
def test_not_fitted(method, args):
    with pytest.raises(NotFittedError, match=r"This MultimodalAutoencoder instance is not fitted"):
        getattr(make_estimator(), method)(*args)


def test_reordered_columns_within_a_modality_are_an_error():
    blocks = make_blocks()
    frames = {name: pd.DataFrame(block, columns=[f"{name}{i}" for i in range(block.shape[1])])
              for name, block in blocks.items()}
    ae = make_estimator().fit(frames)
    shuffled = dict(frames, a=frames["a"][frames["a"].columns[::-1]])
    with pytest.raises(ValueError, match=r"Modality 'a' has other column names than in fit, or another order"):
        ae.transform(shuffled)
    # Plain arrays carry no names: nothing to compare, the codes are computed.
    assert ae.transform({name: f.to_numpy() for name, f in frames.items()}).shape[0] == len(frames["a"])


def test_a_sparse_tensor_for_a_dense_kind_names_the_modality():
    X = {**make_blocks(), "b": torch.from_numpy(make_blocks()["b"]).to_sparse()}
    with pytest.raises(TypeError, match=r"Modality 'b' is a sparse matrix"):
        make_estimator(modalities={"b": "continuous"}).fit(X)


@pytest.mark.parametrize(
    "mask",
    [
        pd.array([False] * (N_SAMPLES - 1) + [pd.NA], dtype="boolean"),
        pd.Series([False] * (N_SAMPLES - 1) + [None], dtype=object),
        np.array([0.0] * (N_SAMPLES - 1) + [np.nan]),
    ],
    ids=["boolean-NA", "object-None", "float-NaN"],
)
def test_a_mask_with_missing_values_names_the_mask(mask):
    X = {**make_blocks(), "a__missing": mask}
    with pytest.raises(ValueError, match=r"X\['a__missing'\] has missing values"):
        make_estimator().fit(X)


def test_a_nullable_boolean_mask_without_missing_values_works():
    lacking = np.zeros(N_SAMPLES, dtype=bool)
    lacking[:3] = True
    X = make_blocks()
    ae = make_estimator().fit({**X, "a__missing": pd.array(lacking, dtype="boolean")})
    codes = ae.transform({**X, "a__missing": pd.array(lacking, dtype="boolean")})
    np.testing.assert_array_equal(codes, ae.transform({**X, "a__missing": lacking}))


def test_a_multiindex_frame_without_columns():
    frame = pd.DataFrame(index=range(5), columns=pd.MultiIndex.from_tuples([], names=["m", "f"]))
    with pytest.raises(ValueError, match=r"X has no modalities: its MultiIndex columns"):
        make_estimator().fit(frame)
