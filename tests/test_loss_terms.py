"""A fit whose loss or weights stop being finite stops, names why, and changes nothing."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skmmae import MultimodalAutoencoder
from skmmae._loss_terms import _describe
from skmmae._module import AutoencoderOutput
from skmmae._loss import ReconstructionLoss
from skmmae.modalities import Continuous
from skmmae.options import EarlyStop, Variational


def blocks(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return {"a": rng.normal(size=(n, 4)), "b": rng.normal(size=(n, 3))}


def estimator(**params):
    settings = dict(encoding_dim=2, hidden_dims=(8,), max_epochs=3, random_state=0)
    return MultimodalAutoencoder(**{**settings, **params})


@pytest.mark.parametrize(
    "params, message",
    [
        ({"noise_std": 1e30}, r"Training diverged in epoch 1: the training loss became nan, "
         r"through the losses of modalities 'a' and 'b'\. Lower lr"),
        ({"lr": 1e6}, r"Training diverged"),
        ({"lr": 1e6, "readout": "decoder", "ema_decay": 0.0}, r"Training diverged"),
    ],
)
def test_divergence_stops_fit_and_leaves_the_estimator_unfitted(params, message):
    ae = estimator(**params)
    with pytest.raises(ValueError, match=message):
        ae.fit(blocks())
    with pytest.raises(NotFittedError):
        check_is_fitted(ae)
    assert not hasattr(ae, "net_") and not hasattr(ae, "modalities_")


def test_divergence_on_refit_keeps_the_previous_model():
    X = blocks()
    ae = estimator().fit(X)
    net, codes = ae.net_, ae.transform(X)
    with pytest.raises(ValueError, match=r"Training diverged"):
        ae.set_params(noise_std=1e30).fit(blocks(seed=1))
    assert ae.net_ is net
    np.testing.assert_array_equal(ae.transform(X), codes)


def test_divergence_of_the_validation_loss_stops_fit():
    # Early stopping monitors the validation loss; a non-finite one must
    # stop the fit, not count as one more epoch without improvement.
    with pytest.raises(ValueError, match=r"Training diverged in epoch 1: the \w+ loss"):
        estimator(early_stopping=EarlyStop(patience=5), noise_std=1e30).fit(blocks())


def test_the_criterion_sums_its_terms_per_mode():
    modalities = {name: Continuous().fit(np.ones((2, 1))) for name in ("a", "b")}
    loss = ReconstructionLoss(modalities)
    finite = torch.zeros(2, 1)

    def output(a_value):
        targets = {"a": finite, "b": finite}
        return AutoencoderOutput(finite, {"a": torch.full((2, 1), a_value), "b": finite}, targets)

    loss(output(0.0))
    assert loss.term_sums() == {"a": 0.0, "b": 0.0}
    loss(output(float("inf")))
    loss(output(0.0))  # infinity stays in the sum until reset
    assert loss.term_sums() == {"a": float("inf"), "b": 0.0}
    loss.reset_terms()
    assert loss.term_sums() == {"a": 0.0, "b": 0.0}
    loss.eval()
    assert loss.term_sums(training=False) == {}  # validation keeps its own sums


def test_terms_are_described_in_words():
    assert _describe(["a"]) == "the loss of modality 'a'"
    assert _describe(["a", "b", "c"]) == "the losses of modalities 'a', 'b' and 'c'"
    assert _describe(["a", None]) == "the loss of modality 'a' and the KL term"
    assert _describe([]).startswith("no single term")


@pytest.mark.parametrize(
    "params", [{}, {"variational": Variational(beta=0.5)}, {"early_stopping": True}]
)
def test_the_history_has_each_modality_loss_and_they_make_the_loss(params):
    X = blocks(n=50)
    ae = estimator(**params).fit(X)
    for prefix in ("train", "valid") if params.get("early_stopping") else ("train",):
        for row in ae.net_.history:
            losses = row[f"{prefix}_losses"]
            assert list(losses) == ["a", "b"]
            # The epoch's loss is the weighted sum of the modalities' (plus the
            # KL term): both are averages over the epoch's samples.
            combined = sum(ae.modality_weights_[name] * loss for name, loss in losses.items())
            combined += ae.net_.criterion_.beta * row.get(f"{prefix}_kl", 0.0)
            assert combined == pytest.approx(row[f"{prefix}_loss"], rel=1e-5)
