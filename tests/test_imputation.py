"""Missing cells: learned around, never leaking, and imputed (skmmae.imputation)."""

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.helper import SliceDict
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skmmae import MultimodalAutoencoder, load
from skmmae.imputation import MultimodalImputer, impute
from skmmae.modalities import Binary, Categorical, Continuous


def low_rank(n=300, seed=0):
    """Two views of one 3-D signal, with a little noise: each predicts the other."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(n, 3))
    views = {"a": signal @ rng.normal(size=(3, 8)), "b": signal @ rng.normal(size=(3, 5))}
    return {name: view + 0.05 * rng.normal(size=view.shape) for name, view in views.items()}


def hide_cells(X, rate, seed=1):
    rng = np.random.default_rng(seed)
    hidden = {name: block.copy() for name, block in X.items()}
    masks = {}
    for name, block in hidden.items():
        masks[name] = rng.random(block.shape) < rate
        block[masks[name]] = np.nan
    return hidden, masks


# -- the loss ---------------------------------------------------------------------


def test_continuous_loss_is_the_mean_over_observed_cells():
    output = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    target = torch.tensor([[1.5, float("nan"), 1.0], [float("nan"), 2.0, float("nan")]])
    # By hand: sample 0 scores cells 0 and 2, sample 1 cell 1 only.
    expected = torch.tensor([(0.5**2 + 2.0**2) / 2, 2.0**2 / 1])
    loss = Continuous().fit(np.zeros((2, 3))).sample_loss(output, target)
    assert torch.allclose(loss, expected)


def test_binary_loss_is_the_mean_over_observed_cells():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 3.0]])
    target = torch.tensor([[1.0, float("nan")], [0.0, 1.0]])
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = torch.stack(
        [
            bce(logits[0, 0], target[0, 0]),
            (bce(logits[1, 0], target[1, 0]) + bce(logits[1, 1], target[1, 1])) / 2,
        ]
    )
    loss = Binary().fit(np.array([[0.0, 1.0], [1.0, 0.0]])).sample_loss(logits, target)
    assert torch.allclose(loss, expected)


def test_no_nan_reaches_a_gradient():
    # A NaN target cell multiplied by a zero weight would still give NaN
    # gradients; the loss fills before it masks.
    output = torch.zeros(2, 3, requires_grad=True)
    target = torch.tensor([[1.0, float("nan"), 1.0], [float("nan"), 2.0, 3.0]])
    Continuous().fit(np.zeros((2, 3))).sample_loss(output, target).sum().backward()
    assert torch.isfinite(output.grad).all()
    assert (output.grad[target.isnan()] == 0).all()


# -- training and encoding ------------------------------------------------------------


def test_training_around_missing_cells_keeps_the_model_finite():
    # A NaN that reached a gradient would spread to every weight in one step.
    hidden, _ = hide_cells(low_rank(120), 0.3)
    ae = MultimodalAutoencoder(3, hidden_dims=(16,), max_epochs=3, random_state=0).fit(hidden)
    for parameter in ae.net_.module_.parameters():
        assert torch.isfinite(parameter).all()
    assert np.isfinite(ae.transform(hidden)).all()
    assert np.isfinite(ae.score(hidden))


def test_a_sample_code_depends_only_on_its_observed_cells():
    X = low_rank(120)
    hidden, _ = hide_cells(X, 0.3)
    ae = MultimodalAutoencoder(3, hidden_dims=(16,), max_epochs=3, random_state=0).fit(hidden)
    codes = ae.transform(hidden)
    # Changing every other sample (and which of their cells are missing)
    # leaves sample 0's code as it was.
    others, _ = hide_cells(low_rank(120, seed=5), 0.5, seed=7)
    mixed = {name: np.vstack([hidden[name][:1], others[name][1:]]) for name in hidden}
    assert np.allclose(ae.transform(mixed)[0], codes[0], atol=1e-6)
    # A row with some cells missing still has the modality: its code is not
    # the code of the sample without it.
    row = {"a": hidden["a"][:1], "b": hidden["b"][:1]}
    without = {"a": hidden["a"][:1], "b": np.full_like(hidden["b"][:1], np.nan)}
    assert not np.isnan(row["b"]).all()
    assert not np.allclose(ae.transform(row), ae.transform(without))


def test_a_model_fitted_on_complete_data_reads_a_missing_cell_as_the_training_mean():
    X = low_rank(80)
    ae = MultimodalAutoencoder(2, hidden_dims=(8,), max_epochs=2, random_state=0).fit(X)
    holed = {name: block.copy() for name, block in X.items()}
    holed["a"][3, 2] = np.nan
    at_mean = {name: block.copy() for name, block in X.items()}
    at_mean["a"][3, 2] = ae.modalities_["a"].mean_[2]
    np.testing.assert_allclose(ae.transform(holed), ae.transform(at_mean), rtol=0, atol=1e-6)
    # Complete data skips the search for missing cells and gives the same codes.
    np.testing.assert_allclose(ae.transform(X)[:3], ae.transform(holed)[:3], rtol=0, atol=1e-6)


def test_encoder_reads_the_observed_flags_only_when_training_had_missing_cells():
    X = low_rank(60)
    hidden, _ = hide_cells(X, 0.2)
    params = dict(encoding_dim=2, hidden_dims=(8,), max_epochs=1, random_state=0)
    with_cells = MultimodalAutoencoder(**params).fit(hidden).net_.module_
    complete = MultimodalAutoencoder(**params).fit(X).net_.module_
    assert with_cells.encoders["a"][0].in_features == 2 * 8
    assert complete.encoders["a"][0].in_features == 8


def test_input_dropout_hides_cells_as_missing_in_training():
    # Hidden cells become NaN, read as missing (fill and flag 0), not zeros
    # with the others rescaled as dropout would.
    hidden, _ = hide_cells(low_rank(60), 0.2)
    ae = MultimodalAutoencoder(2, hidden_dims=(8,), input_dropout=0.5, noise_std=0.0,
                               max_epochs=1, random_state=0).fit(hidden)
    module = ae.net_.module_.train()
    torch.manual_seed(0)
    corrupted = module._corrupt({"a": torch.ones(400, 8)})["a"]
    assert 0.4 < corrupted.isnan().float().mean() < 0.6
    assert (corrupted[~corrupted.isnan()] == 1).all()


def test_a_feature_never_observed_is_refused_by_name():
    X = low_rank(40)
    X["b"][:, 3] = np.nan
    with pytest.raises(ValueError, match=r"Modality 'b' has features that are NaN in every"):
        MultimodalAutoencoder(2, max_epochs=1).fit(X)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_infinity_is_still_refused_beside_nan_cells():
    X = low_rank(40)
    X["a"][2, 0] = np.nan
    X["a"][5, 1] = np.inf
    with pytest.raises(ValueError, match=r"Modality 'a' contains infinity .* in 1 rows \(first: 5\)"):
        MultimodalAutoencoder(2, max_epochs=1).fit(X)


def test_binary_modality_with_missing_cells():
    rng = np.random.default_rng(0)
    flags = (rng.random((80, 6)) < 0.5).astype(float)
    flags[rng.random(flags.shape) < 0.2] = np.nan
    X = {"flags": flags, "x": rng.normal(size=(80, 3))}
    ae = MultimodalAutoencoder(2, max_epochs=2, random_state=0, modalities={"flags": "binary"})
    filled = impute(ae.fit(X), X)["flags"]
    observed = ~np.isnan(flags)
    assert np.array_equal(filled[observed], flags[observed])
    assert ((filled >= 0) & (filled <= 1)).all()


def test_categorical_loss_is_the_mean_over_observed_columns():
    m = Categorical().fit(np.array([["a", "x"], ["b", "y"], ["a", "y"]], dtype=object))
    logits = torch.tensor([[2.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 3.0]])
    target = torch.tensor([[0, -1], [1, 1]])  # -1: a missing cell
    ce = torch.nn.functional.cross_entropy
    expected = torch.stack(
        [
            ce(logits[:1, :2], target[:1, 0])[None][0],
            (ce(logits[1:, :2], target[1:, 0]) + ce(logits[1:, 2:], target[1:, 1])) / 2,
        ]
    )
    assert torch.allclose(m.sample_loss(logits, target), expected)


def test_categorical_cells_missing_as_none_are_learned_around_and_filled():
    rng = np.random.default_rng(0)
    z = rng.integers(0, 3, 150)
    truth = np.stack(
        [np.array(["red", "green", "blue"], dtype=object)[z], np.array(["s", "m", "l"], dtype=object)[z]],
        axis=1,
    )
    cells = truth.copy()
    cells[rng.random(cells.shape) < 0.2] = None
    X = {"cat": cells, "x": rng.normal(size=(150, 3)) + z[:, None]}
    ae = MultimodalAutoencoder(2, max_epochs=30, random_state=0).fit(X)
    assert ae.modalities_["cat"].kind == "categorical"
    assert [c.tolist() for c in ae.modalities_["cat"].categories_] == [
        ["blue", "green", "red"],
        ["l", "m", "s"],
    ]
    filled = impute(ae, X)["cat"]
    missing = pd.isna(cells)
    assert not pd.isna(filled).any()
    assert (filled[~missing] == cells[~missing]).all()
    # The other column and the continuous view tell the category: most
    # missing cells are filled right.
    assert (filled[missing] == truth[missing]).mean() > 0.8


def test_saved_model_keeps_its_missing_cell_encoders(tmp_path):
    pytest.importorskip("safetensors")
    hidden, _ = hide_cells(low_rank(60), 0.2)
    ae = MultimodalAutoencoder(2, hidden_dims=(8,), max_epochs=2, random_state=0).fit(hidden)
    ae.save(tmp_path / "cells.safetensors")
    loaded = load(tmp_path / "cells.safetensors")
    assert np.array_equal(loaded.transform(hidden), ae.transform(hidden))


# -- imputation -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_on_holes():
    X = low_rank(300)
    hidden, masks = hide_cells(X, 0.2)
    ae = MultimodalAutoencoder(3, max_epochs=40, random_state=0).fit(hidden)
    return ae, X, hidden, masks


def test_imputation_beats_the_mean_on_missing_completely_at_random_cells(fitted_on_holes):
    ae, X, hidden, masks = fitted_on_holes
    filled = impute(ae, hidden)
    for name in X:
        truth = X[name][masks[name]]
        means = np.broadcast_to(np.nanmean(hidden[name], axis=0), X[name].shape)[masks[name]]
        model_mse = np.mean((filled[name][masks[name]] - truth) ** 2)
        mean_mse = np.mean((means - truth) ** 2)
        assert model_mse < 0.5 * mean_mse, name


@pytest.mark.parametrize("form", ["dict", "slicedict", "multiindex"])
def test_observed_cells_come_back_unchanged_in_the_input_form(fitted_on_holes, form):
    ae, _, hidden, _ = fitted_on_holes
    if form == "dict":
        X = hidden
    elif form == "slicedict":
        X = SliceDict(**hidden)
    else:
        X = pd.concat({name: pd.DataFrame(block) for name, block in hidden.items()}, axis=1)
        ae = MultimodalAutoencoder(3, max_epochs=2, random_state=0).fit(X)
    filled = impute(ae, X)
    assert type(filled) is type(X)
    for name in hidden:
        given = np.asarray(X[name], dtype=float)
        got = np.asarray(filled[name], dtype=float)
        observed = ~np.isnan(given)
        assert np.array_equal(got[observed], given[observed])
        assert np.isfinite(got).all()
    if form == "dict":  # the caller's data is not written to
        assert np.isnan(hidden["a"]).any()


@pytest.mark.parametrize("as_frame", [False, True])
def test_single_modality_array_or_frame(as_frame):
    hidden, _ = hide_cells({"X": low_rank(60)["a"]}, 0.2)
    X = pd.DataFrame(hidden["X"]) if as_frame else hidden["X"]
    ae = MultimodalAutoencoder(2, max_epochs=2, random_state=0).fit(X)
    filled = impute(ae, X)
    assert type(filled) is type(X)
    observed = ~np.isnan(hidden["X"])
    assert np.array_equal(np.asarray(filled)[observed], hidden["X"][observed])
    assert not np.isnan(np.asarray(filled)).any()


def test_a_modality_missing_in_a_sample_is_filled_from_the_others(fitted_on_holes):
    ae, X, hidden, _ = fitted_on_holes
    lacking = {name: block.copy() for name, block in hidden.items()}
    lacking["b"][:10] = np.nan
    filled = impute(ae, lacking)["b"][:10]
    assert np.isfinite(filled).all()
    assert np.mean((filled - X["b"][:10]) ** 2) < np.mean(X["b"][:10] ** 2)


def test_multiple_imputation_draws_from_the_posterior():
    hidden, masks = hide_cells(low_rank(80), 0.2)
    ae = MultimodalAutoencoder(2, variational=True, max_epochs=3, random_state=0).fit(hidden)
    draws = impute(ae, hidden, n_draws=3, random_state=0)
    assert len(draws) == 3
    cells = [draw["a"][masks["a"]] for draw in draws]
    assert not np.allclose(cells[0], cells[1])
    again = impute(ae, hidden, n_draws=3, random_state=0)
    assert np.array_equal(again[2]["a"], draws[2]["a"])
    observed = ~masks["a"]
    assert all(np.array_equal(d["a"][observed], hidden["a"][observed]) for d in draws)


def test_multiple_imputation_needs_a_variational_model(fitted_on_holes):
    ae, _, hidden, _ = fitted_on_holes
    with pytest.raises(ValueError, match=r"impute\(\.\.\., n_draws=\.\.\.\) needs a variational"):
        impute(ae, hidden, n_draws=2)


def test_imputer_in_a_pipeline_before_a_classifier():
    X = low_rank(200)
    y = (X["a"][:, 0] > 0).astype(int)
    hidden, _ = hide_cells(X, 0.2)
    frame = pd.concat({name: pd.DataFrame(block) for name, block in hidden.items()}, axis=1)
    imputer = MultimodalImputer(MultimodalAutoencoder(3, max_epochs=5, random_state=0))
    pipeline = make_pipeline(imputer, LogisticRegression()).fit(frame, y)
    assert pipeline.score(frame, y) > 0.8
    filled = pipeline[0].transform(frame)
    assert not filled.isna().any().any()
    assert pipeline[0].estimator_.encoding_dim == 3


def test_imputer_sampling_the_posterior_gives_different_draws():
    hidden, masks = hide_cells(low_rank(80), 0.2)
    imputer = MultimodalImputer(
        MultimodalAutoencoder(2, variational=True, max_epochs=3, random_state=0),
        sample_posterior=True,
        random_state=0,
    ).fit(hidden)
    first, second = imputer.transform(hidden), imputer.transform(hidden)
    assert not np.allclose(first["a"][masks["a"]], second["a"][masks["a"]])
    with pytest.raises(ValueError, match=r"sample_posterior=True\) needs a variational model"):
        MultimodalImputer(MultimodalAutoencoder(2, max_epochs=1), sample_posterior=True).fit(hidden)


def test_default_imputer_hides_cells_in_training_to_learn_to_fill_them():
    hidden, _ = hide_cells(low_rank(60), 0.2)
    estimator = MultimodalImputer(random_state=0).fit(hidden).estimator_
    settings = ("encoding_dim", "input_dropout", "noise_std", "modality_dropout", "readout")
    assert [estimator.get_params()[name] for name in settings] == [128, 0.3, 0.0, 0.0, "decoder"]
    assert estimator.random_state == 0 and estimator.weight_decay == 1e-4
    assert estimator.hidden_dims.widths == (384,) and estimator.hidden_dims.dropout == 0.0
