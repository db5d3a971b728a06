"""Parameters: each rule checked once at the top of fit, naming the parameter."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skmmae.options import EarlyStop, Variational


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"encoding_dim": 0},
            r"The 'encoding_dim' parameter of MultimodalAutoencoder must be .* Got 0 instead\.",
        ),
        ({"lr": 0}, r"The 'lr' parameter of MultimodalAutoencoder must be .* Got 0 instead\."),
        (
            {"batch_size": 0},
            r"The 'batch_size' parameter of MultimodalAutoencoder must be .* Got 0 instead\.",
        ),
        (
            {"max_epochs": 0},
            r"The 'max_epochs' parameter of MultimodalAutoencoder must be .* Got 0 instead\.",
        ),
        (
            {"weight_decay": -1.0},
            r"The 'weight_decay' parameter of MultimodalAutoencoder must be .* "
            r"Got -1\.0 instead\.",
        ),
        (
            {"fusion": "bogus"},
            # A set: its order in the message follows string hashing.
            r"The 'fusion' parameter of MultimodalAutoencoder must be a str among "
            r"\{('(concat|mean|poe|moe|shared_private)'(, )?){5}\}\. Got 'bogus' instead\.",
        ),
        (
            {"optimizer": "bogus"},
            r"The 'optimizer' parameter of MultimodalAutoencoder must be .* "
            r"Got 'bogus' instead\.",
        ),
        (
            {"hidden_dims": (0,)},
            r"The 'hidden_dims' parameter of MultimodalAutoencoder: .*must be a sequence of "
            r"positive ints\. Got \(0,\) instead\.",
        ),
        (
            {"hidden_dims": (8, -1)},
            r"The 'hidden_dims' parameter of MultimodalAutoencoder: .*must be a sequence of "
            r"positive ints\. Got \(8, -1\) instead\.",
        ),
        (
            {"hidden_dims": (8.5,)},
            r"The 'hidden_dims' parameter of MultimodalAutoencoder: .*must be .* "
            r"Got \(8\.5,\) instead\.",
        ),
        (
            {"device": "nonsense-device"},
            r"The 'device' parameter of MultimodalAutoencoder must be 'auto' or a torch "
            r"device .* Got 'nonsense-device' instead\.",
        ),
        (
            {"early_stopping": EarlyStop(validation_fraction=1.5)},
            r"The 'early_stopping' parameter of MultimodalAutoencoder: The "
            r"'validation_fraction' parameter of EarlyStop must be .* Got 1\.5 instead\.",
        ),
        (
            {"early_stopping": EarlyStop(patience=0)},
            r"The 'early_stopping' parameter of MultimodalAutoencoder: The 'patience' "
            r"parameter of EarlyStop must be .* Got 0 instead\.",
        ),
        (
            {"callbacks": "x"},
            r"The 'callbacks' parameter of MultimodalAutoencoder must be .* Got 'x' instead\.",
        ),
        (
            {"device": "meta"},
            r"device='meta' holds no data, so nothing can be trained on it",
        ),
        (
            {"variational": Variational(beta=np.inf)},
            r"The 'variational' parameter of MultimodalAutoencoder: The 'beta' parameter of "
            r"Variational must be",
        ),
        ({"noise_std": np.nan}, r"The 'noise_std' parameter of MultimodalAutoencoder must be"),
        ({"lr": np.inf}, r"The 'lr' parameter of MultimodalAutoencoder must be"),
    ],
    ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, dict)
    else "",
)
def test_invalid_parameter(params, message, tiny_estimator, blocks):
    with pytest.raises(ValueError, match=message):
        tiny_estimator(**params).fit(blocks)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_device_without_cuda(tiny_estimator, blocks):
    with pytest.raises(
        ValueError,
        match=r"device='cuda' was asked for, but CUDA is not available here; "
        r"use device='auto' or 'cpu'\.",
    ):
        tiny_estimator(device="cuda").fit(blocks)


@pytest.mark.parametrize(
    "callbacks, entry",
    [(["oops"], 0), ([("named", Callback()), ("only-a-name",)], 1), ([(1, Callback())], 0)],
)
def test_callbacks_entries_are_checked(callbacks, entry, tiny_estimator, blocks):
    with pytest.raises(TypeError, match=rf"Entry {entry} of the 'callbacks' parameter"):
        tiny_estimator(callbacks=callbacks).fit(blocks)


def test_callbacks_as_instances_classes_and_named_pairs_are_accepted(tiny_estimator, blocks):
    callbacks = [Callback(), Callback, ("mine", Callback())]
    tiny_estimator(callbacks=callbacks).fit(blocks)


def test_parameters_are_checked_before_the_data(tiny_estimator):
    # The data is not even a valid input form: the parameter's error comes first.
    with pytest.raises(ValueError, match=r"The 'early_stopping' parameter"):
        tiny_estimator(early_stopping=EarlyStop(validation_fraction=2.0)).fit("not data")
    with pytest.raises(ValueError, match=r"weight of modality 'a' in 'modality_weights'"):
        tiny_estimator(modality_weights={"a": -1.0}).fit("not data")


def test_a_failed_check_leaves_a_fitted_estimator_as_it_was(tiny_estimator, blocks):
    ae = tiny_estimator().fit(blocks)
    codes = ae.transform(blocks)
    with pytest.raises(ValueError, match=r"The 'variational' parameter"):
        ae.set_params(variational=Variational(beta=-1.0)).fit(blocks)
    np.testing.assert_array_equal(ae.transform(blocks), codes)
