"""Modality kinds shared machinery: choice by name or inference, Binary, Categorical,
custom architectures, per-modality loss weights.

Kinds with their own test files: Image/TimeSeries (test_modalities_conv.py),
Sequence (test_modalities_sequence.py), Counts (test_modalities_counts.py).
"""

import functools
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback
from sklearn.model_selection import GridSearchCV, train_test_split
from torch import nn

from skmmae import MultimodalAutoencoder
from skmmae._inference import loss_totals
from skmmae.modalities import (
    KINDS,
    Binary,
    Categorical,
    Continuous,
    infer_modality,
    make_modality,
)

FAST = dict(encoding_dim=4, hidden_dims=(32,), max_epochs=3, random_state=0)


def binarize(block, train):
    """Real binary features: each column above its training median."""
    return (block > np.median(train, axis=0)).astype(np.float32)


def binned(block, train, labels=("low", "mid", "high")):
    """Real categorical features: each column cut at its training terciles, as strings."""
    edges = np.quantile(train, [1 / 3, 2 / 3], axis=0)
    codes = (block[:, None, :] > edges[None]).sum(axis=1)
    return np.asarray(labels)[codes]


# ------------------------------------------------------------ choosing kinds


def test_kinds_registry_names_each_class_by_its_kind():
    assert KINDS["continuous"] is Continuous
    assert KINDS["binary"] is Binary
    assert KINDS["categorical"] is Categorical
    assert all(cls.kind == name for name, cls in KINDS.items())


@pytest.mark.parametrize(
    "block, kind",
    [
        (np.zeros((4, 3)), Continuous),
        (np.zeros((4, 3), dtype=np.int64), Continuous),  # could be counts or tokens: not guessed
        (np.zeros((4, 3), dtype=bool), Binary),
        (np.array([["a", "b"], ["c", "d"]]), Categorical),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), Categorical),
        (pd.DataFrame({"c": pd.Categorical(["x", "y"]), "d": ["u", "v"]}), Categorical),
        (pd.DataFrame({"c": [True, False]}), Binary),
        (pd.DataFrame({"c": [1.0, 2.0], "d": [1, 2]}), Continuous),
    ],
)
def test_infer_modality(block, kind):
    assert type(infer_modality(block, "Modality 'a'")) is kind


def test_infer_refuses_to_guess_a_3d_block():
    with pytest.raises(ValueError, match=r"Modality 'a' is 3-D .* Say which with modalities="):
        infer_modality(np.zeros((4, 3, 2)), "Modality 'a'")


def test_make_modality_clones_instances_and_rejects_unknown_kinds():
    given = Binary(inverse="label")
    made = make_modality(given, "Modality 'a'")
    assert made is not given and made.get_params() == given.get_params()
    with pytest.raises(
        ValueError,
        match=r"Modality 'a': the modality kind must be one of \[.*'binary'.*\] or a "
        r"Modality instance .* Got 'pixels' instead\.",
    ):
        make_modality("pixels", "Modality 'a'")


def test_estimator_uses_named_kinds_and_infers_the_rest(mfeat):
    X, _ = mfeat
    data = {"fou": X["fou"][:200], "bits": binarize(X["kar"][:200], X["kar"])}
    given = Binary()
    ae = MultimodalAutoencoder(modalities={"bits": given}, **FAST).fit(data)
    assert type(ae.modalities_["fou"]) is Continuous
    assert type(ae.modalities_["bits"]) is Binary
    assert not hasattr(given, "n_features_")  # the user's instance is left unfitted
    assert ae.n_features_in_ == 76 + 64


def test_modalities_naming_an_unknown_modality(mfeat):
    X, _ = mfeat
    with pytest.raises(
        ValueError,
        match=r"The 'modalities' parameter of MultimodalAutoencoder names \['pics'\], "
        r"which X does not have; X has the modalities \['fou'\]\.",
    ):
        MultimodalAutoencoder(modalities={"pics": "binary"}, **FAST).fit({"fou": X["fou"][:50]})


def test_grid_search_over_the_kind_of_a_modality(mfeat):
    X, _ = mfeat
    data = {"fou": X["fou"][:120], "bits": binarize(X["kar"][:120], X["kar"])}
    from skorch.helper import SliceDict

    search = GridSearchCV(
        MultimodalAutoencoder(**FAST),
        {"modalities": [{"bits": Binary()}, {"bits": Continuous()}]},
        cv=2,
    ).fit(SliceDict(**data))
    assert len(search.cv_results_["params"]) == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


# ------------------------------------------------------------------- Binary


def test_binary_rejects_other_values():
    with pytest.raises(
        ValueError,
        match=r"Modality 'b' must hold only 0 and 1 \(a binary modality\); other values "
        r"are in 2 rows \(first: 1, 3\)\.",
    ):
        Binary().fit(np.array([[0, 1], [0.5, 1], [1, 0], [2, 0]]), "Modality 'b'")


def test_binary_rejects_a_bad_inverse_parameter():
    with pytest.raises(ValueError, match=r"the 'inverse' parameter of Binary must be"):
        Binary(inverse="proba").fit(np.zeros((2, 2)))


def test_binary_learns_and_returns_probabilities_or_labels(mfeat):
    X, y = mfeat
    train, test = train_test_split(np.arange(2000), test_size=0.3, stratify=y, random_state=0)
    bits = (X["pix"] >= 3).astype(np.float32)  # the 15x16 digit images as black and white
    data = lambda rows: {"fou": X["fou"][rows], "bits": bits[rows]}  # noqa: E731
    settings = dict(FAST, encoding_dim=10, hidden_dims=(64,), max_epochs=20)
    ae = MultimodalAutoencoder(modalities={"bits": "binary"}, **settings).fit(data(train))
    probabilities = ae.inverse_transform(ae.transform(data(test)))["bits"]
    assert probabilities.dtype == np.float32
    assert probabilities.min() >= 0 and probabilities.max() <= 1
    # Clearly better than always predicting each pixel's training frequency.
    frequency = bits[train].mean(axis=0)
    assert _bce(bits[test], probabilities) < 0.75 * _bce(bits[test], frequency)
    labels_ae = MultimodalAutoencoder(modalities={"bits": Binary(inverse="label")}, **settings)
    labels = labels_ae.fit(data(train)).inverse_transform(labels_ae.transform(data(test)))["bits"]
    assert set(np.unique(labels)) <= {0.0, 1.0}
    majority = (bits[test] == (frequency > 0.5)).mean()  # each pixel's usual value
    assert (labels == bits[test]).mean() > majority + 0.05


def _bce(truth, probability):
    p = np.clip(probability, 1e-6, 1 - 1e-6)
    return -(truth * np.log(p) + (1 - truth) * np.log(1 - p)).mean()


# -------------------------------------------------------------- Categorical


def test_categorical_learns_categories_per_column_and_maps_back():
    m = Categorical().fit(np.array([[3, 10], [1, 10], [3, 20]]))
    assert [c.tolist() for c in m.categories_] == [[1, 3], [10, 20]]
    indices = m.validate(np.array([[1, 20], [3, 10]]))
    np.testing.assert_array_equal(indices, [[0, 1], [1, 0]])
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(m.restore(indices), [[1, 20], [3, 10]])


def test_categorical_rejects_unseen_categories():
    m = Categorical().fit(np.array([["a"], ["b"]]), "Modality 'c'")
    with pytest.raises(
        ValueError,
        match=r"Modality 'c' column 0 has categories not seen in fit \(e\.g\. np\.str_\('z'\)\); "
        r"they are in 1 rows \(first: 1\)\.",
    ):
        m.validate(np.array([["a"], ["z"]]), "Modality 'c'")


def test_categorical_missing_cells_are_index_minus_one():
    # None or NaN is a missing cell (skmmae.imputation), not a category.
    values = np.array([["a", "x"], [None, "y"], ["b", np.nan]], dtype=object)
    m = Categorical().fit(values, "Modality 'c'")
    assert [c.tolist() for c in m.categories_] == [["a", "b"], ["x", "y"]]
    assert m.missing_cells_
    assert m.validate(values, "Modality 'c'").tolist() == [[0, 0], [-1, 1], [1, -1]]


def test_categorical_onehot_input_round_trips():
    onehot = np.eye(4)[[0, 3, 1, 3]]
    m = Categorical(input="onehot").fit(onehot)
    assert m.input_shape_ == (1,) and len(m.categories_[0]) == 4
    np.testing.assert_array_equal(m.validate(onehot).ravel(), [0, 3, 1, 3])
    np.testing.assert_array_equal(m.restore(m.validate(onehot)), onehot)
    with pytest.raises(ValueError, match=r"X must be one-hot .* in 1 rows \(first: 1\)\."):
        m.validate(np.array([[1, 0, 0, 0], [1, 1, 0, 0]]))
    with pytest.raises(ValueError, match=r"X has 3 one-hot columns, but was fitted with 4"):
        m.validate(np.eye(3))


def test_categorical_modality_is_reconstructed_from_a_code(mfeat):
    X, y = mfeat
    train, test = train_test_split(np.arange(2000), test_size=0.3, stratify=y, random_state=0)
    levels = binned(X["kar"][:, :8], X["kar"][train, :8])  # 8 string columns
    data = lambda rows: {"kar": X["kar"][rows], "levels": levels[rows]}  # noqa: E731
    ae = MultimodalAutoencoder(
        encoding_dim=10, hidden_dims=(64,), max_epochs=20, random_state=0
    ).fit(data(train))
    assert type(ae.modalities_["levels"]) is Categorical  # inferred from strings
    predicted = ae.inverse_transform(ae.transform(data(test)))["levels"]
    assert predicted.shape == (len(test), 8) and set(np.unique(predicted)) <= {"low", "mid", "high"}
    accuracy = (predicted == levels[test]).mean()
    majority = max((levels[test] == v).mean() for v in ("low", "mid", "high"))
    assert accuracy > majority + 0.3, (accuracy, majority)


# ---------------------------------------------------- custom architectures


class Tanh(nn.Module):
    """A user's encoder: one linear layer and tanh, defined at module level so it pickles."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)

    def forward(self, x):
        return torch.tanh(self.linear(x))


def test_custom_encoder_and_decoder(mfeat):
    X, _ = mfeat
    data = {"fou": X["fou"][:200], "mor": X["mor"][:200]}
    encoder = Tanh(76, 12)
    before = encoder.linear.weight.detach().clone()
    custom = Continuous(encoder=encoder, decoder=functools.partial(nn.Linear, 4, 76))
    ae = MultimodalAutoencoder(modalities={"fou": custom}, **FAST).fit(data)
    module = ae.net_.module_
    assert isinstance(module.encoders["fou"], Tanh)
    assert isinstance(module.decoders["fou"], nn.Linear)
    torch.testing.assert_close(encoder.linear.weight, before)  # the user's module is copied
    again = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(again.transform(data), ae.transform(data))


def test_custom_decoder_of_the_wrong_shape():
    with pytest.raises(
        ValueError,
        match=r"The custom decoder of Continuous must map codes of shape \(n_samples, 4\) to "
        r"\(n_samples, 6\); it returned shape \(2, 5\) for 2 samples\.",
    ):
        Continuous(decoder=nn.Linear(4, 5)).fit(np.zeros((3, 6))).build_decoder(4, (8,))


def test_custom_encoder_factory_must_return_a_module():
    with pytest.raises(TypeError, match=r"The encoder factory of Binary must return a torch"):
        Binary(encoder=lambda: "not a module").fit(np.zeros((3, 2))).build_encoder((8,))
    with pytest.raises(TypeError, match=r"The 'encoder' parameter of Binary must be None"):
        Binary(encoder=3).fit(np.zeros((3, 2))).build_encoder((8,))


# ------------------------------------------------------------ loss weights


def test_modality_weights_given_by_name_are_normalized(mfeat):
    X, _ = mfeat
    data = {"fou": X["fou"][:100], "mor": X["mor"][:100]}
    ae = MultimodalAutoencoder(modality_weights={"fou": 3}, **FAST).fit(data)
    assert ae.modality_weights_ == {"fou": 0.75, "mor": 0.25}
    assert ae.net_.criterion_.weights == ae.modality_weights_


def test_balanced_weights_are_computed_before_training(mfeat):
    X, _ = mfeat
    train = np.arange(300)
    data = {"fou": X["fou"][train], "levels": binned(X["kar"][train, :8], X["kar"][train, :8])}
    ae = MultimodalAutoencoder(modality_weights="balanced", **FAST).fit(data)
    weights = ae.modality_weights_
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights["fou"] != pytest.approx(0.5)  # the two kinds start at different losses
    fresh = clone(ae).set_params(max_epochs=1).fit(data)
    assert fresh.modality_weights_ == pytest.approx(weights)


def test_balanced_weights_equalize_initial_losses(mfeat):
    X, _ = mfeat
    data = {"fou": X["fou"][:300], "levels": binned(X["kar"][:300, :8], X["kar"][:300, :8])}

    class InitialLosses(Callback):
        # The losses of the initialized net, before any step: what the
        # balanced weights were computed from (all 300 rows are probed).
        def on_train_begin(self, net, X=None, **kwargs):
            self.losses = loss_totals(net, X)[0]

    ae = MultimodalAutoencoder(modality_weights="balanced", callbacks=[InitialLosses()], **FAST)
    captured = dict(ae.fit(data).net_.callbacks_)["InitialLosses"].losses
    weighted = [ae.modality_weights_[name] * loss for name, loss in captured.items()]
    assert weighted[0] == pytest.approx(weighted[1], rel=1e-4)
    assert captured["levels"] > captured["fou"] * 0.5  # both are real, nonzero losses


@pytest.mark.parametrize(
    "weights, message",
    [
        ({"pics": 1.0}, r"The 'modality_weights' parameter of MultimodalAutoencoder names \['pics'\]"),
        ({"fou": -1.0}, r"The weight of modality 'fou' in 'modality_weights' must be a finite"),
        ({"fou": np.inf}, r"The weight of modality 'fou' in 'modality_weights' must be a finite"),
        ({"fou": 0, "mor": 0}, r"The 'modality_weights' must not all be zero\."),
    ],
)
def test_bad_modality_weights(mfeat, weights, message):
    X, _ = mfeat
    data = {"fou": X["fou"][:50], "mor": X["mor"][:50]}
    with pytest.raises(ValueError, match=message):
        MultimodalAutoencoder(modality_weights=weights, **FAST).fit(data)


def test_estimator_with_kinds_clones_and_pickles(mfeat):
    X, _ = mfeat
    data = {"fou": X["fou"][:150], "levels": binned(X["kar"][:150, :4], X["kar"][:, :4])}
    ae = MultimodalAutoencoder(modalities={"levels": Categorical()}, **FAST)
    assert clone(ae).get_params()["modalities"]["levels"].get_params() == Categorical().get_params()
    ae.fit(data)
    again = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(again.transform(data), ae.transform(data))
    np.testing.assert_array_equal(
        again.inverse_transform(again.transform(data))["levels"],
        ae.inverse_transform(ae.transform(data))["levels"],
    )


def test_continuous_learns_mean_and_scale_and_keeps_constant_features():
    X = np.array([[1.0, 7.0], [3.0, 7.0]])
    m = Continuous().fit(X)
    np.testing.assert_allclose(m.mean_, [2.0, 7.0])
    np.testing.assert_allclose(m.scale_, [1.0, 1.0])  # the constant column keeps scale 1
    raw = Continuous(standardize=False).fit(X)
    np.testing.assert_allclose(raw.mean_, 0.0)
    np.testing.assert_allclose(raw.scale_, 1.0)
    assert m.get_params() == {"standardize": True, "encoder": None, "decoder": None}


def test_scaler_round_trip():
    m = Continuous().fit(np.array([[0.0, 10.0], [4.0, 30.0]]))
    scaler = m.build_scaler()
    x = torch.tensor([[1.0, 20.0]])
    np.testing.assert_allclose(scaler(x).numpy(), [[-0.5, 0.0]])
    np.testing.assert_allclose(scaler.inverse(scaler(x)).numpy(), x.numpy())


def test_a_modality_without_features_is_refused_by_name():
    # Found by the contract test's random search: strings with no column
    # were taken for a categorical modality and failed inside torch.
    X = {"v": np.array([], dtype="<U2").reshape(2, 0), "w": np.zeros((2, 2))}
    with pytest.raises(ValueError, match="Modality 'v' has no values in a sample"):
        MultimodalAutoencoder(2, max_epochs=1).fit(X)
