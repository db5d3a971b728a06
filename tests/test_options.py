"""Option objects: plain values and objects mean the same, and their parameters are searchable."""

import numpy as np
import pytest
import torch
from skorch.helper import SliceDict
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skmmae import MultimodalAutoencoder
from skmmae.options import (
    CrossModal,
    EarlyStop,
    HiddenLayers,
    ModalityDropout,
    Speed,
    Variational,
)


@pytest.mark.parametrize(
    "kind, plain, expected",
    [
        (HiddenLayers, (32, 8), HiddenLayers((32, 8))),
        (ModalityDropout, 0.5, ModalityDropout(rate=0.5)),
        (CrossModal, 0.7, CrossModal(weight=0.7)),
        (Variational, True, Variational()),
        (EarlyStop, True, EarlyStop()),
        (Speed, None, Speed()),
    ],
)
def test_a_plain_value_is_the_object_with_its_other_defaults(kind, plain, expected):
    option = kind.from_value(plain)
    assert type(option) is kind and option.get_params() == expected.get_params()
    assert kind.from_value(expected) is expected


@pytest.mark.parametrize("kind", [Variational, EarlyStop])
def test_false_turns_an_optional_setting_off(kind):
    assert kind.from_value(False) is None


def test_a_plain_value_and_its_object_train_the_same_model(blocks):
    settings = dict(encoding_dim=2, max_epochs=2, random_state=0)
    plain = MultimodalAutoencoder(
        hidden_dims=(8,), modality_dropout=0.4, cross_weight=0.5, **settings
    ).fit(blocks)
    objects = MultimodalAutoencoder(
        hidden_dims=HiddenLayers((8,)),
        modality_dropout=ModalityDropout(0.4),
        cross_weight=CrossModal(0.5),
        **settings,
    ).fit(blocks)
    np.testing.assert_array_equal(plain.transform(blocks), objects.transform(blocks))


def test_the_objects_configure_the_model(blocks):
    ae = MultimodalAutoencoder(
        2,
        hidden_dims=HiddenLayers((8,), layer_norm=False, dropout=0.0),
        modality_dropout=ModalityDropout(0.2, subset_weight=1.0),
        variational=Variational(beta=0.3),
        max_epochs=1,
        random_state=0,
    ).fit(blocks)
    module = ae.net_.module_
    kinds = {type(m) for m in module.encoders.modules()}
    assert torch.nn.LayerNorm not in kinds and torch.nn.Linear in kinds
    assert module.modality_dropout == 0.2 and module.subset_weight == 1.0
    assert module.variational and ae.net_.criterion_.beta == 0.3


def test_grid_search_reaches_into_the_objects(blocks):
    ae = MultimodalAutoencoder(
        2, hidden_dims=(8,), modality_dropout=ModalityDropout(0.3), max_epochs=1, random_state=0
    )
    grid = {"modality_dropout__subset_weight": [0.0, 1.0]}
    search = GridSearchCV(ae, grid, cv=2).fit(SliceDict(**blocks))
    assert search.best_estimator_.net_.module_.subset_weight in (0.0, 1.0)
    weights = [params["modality_dropout__subset_weight"] for params in search.cv_results_["params"]]
    assert weights == [0.0, 1.0]
    # clone copies the object: the searched estimator's own is left as it was.
    assert ae.modality_dropout.subset_weight == 0.5
    assert clone(ae).modality_dropout is not ae.modality_dropout


@pytest.mark.parametrize(
    "option, message",
    [
        (HiddenLayers((8, 0)), r"'hidden_dims'.*'widths' parameter of HiddenLayers"),
        (HiddenLayers(dropout=1.5), r"'hidden_dims'.*'dropout' parameter of HiddenLayers"),
        (ModalityDropout(subset_weight=2.0), r"'modality_dropout'.*'subset_weight'"),
        (ModalityDropout(encoders="mine"), r"'modality_dropout'.*'encoders' parameter"),
        (
            ModalityDropout(subset_weight=1.0, encoders="own"),
            r"'modality_dropout'.*encoders='own'.*needs rate > 0 and 0 < subset_weight < 1",
        ),
        (CrossModal(decoders="mine"), r"'cross_weight'.*'decoders' parameter of CrossModal"),
        (Variational(kl_warmup_epochs=-1), r"'variational'.*'kl_warmup_epochs'"),
        (EarlyStop(patience=0), r"'early_stopping'.*'patience' parameter of EarlyStop"),
        (Speed(bf16="yes"), r"'speed'.*'bf16' parameter of Speed"),
    ],
)
def test_a_bad_setting_names_the_estimator_parameter_and_the_option(option, message, blocks):
    parameter = {
        HiddenLayers: "hidden_dims", ModalityDropout: "modality_dropout",
        CrossModal: "cross_weight", Variational: "variational", EarlyStop: "early_stopping",
        Speed: "speed",
    }[type(option)]
    with pytest.raises(ValueError, match=message):
        MultimodalAutoencoder(**{parameter: option}).fit(blocks)


def subset_encoders_of(blocks, **params):
    settings = dict(encoding_dim=2, hidden_dims=(8,), max_epochs=1, random_state=0)
    ae = MultimodalAutoencoder(**{**settings, **params}).fit(blocks)
    return ae.net_.module_.subset_encoders is not None


@pytest.mark.parametrize(
    "params, own",
    [
        ({}, True),  # the defaults
        ({"modality_dropout": ModalityDropout(encoders="shared")}, False),
        ({"modality_dropout": ModalityDropout(subset_weight=1.0)}, False),
        ({"modality_dropout": 0.0}, False),
        ({"variational": True}, False),
        ({"fusion": "moe"}, False),
        ({"cross_weight": 0.5}, False),
        ({"fusion": "poe"}, True),
    ],
    ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()) or "defaults"
    if isinstance(value, dict) else str(value),
)
def test_auto_gives_incomplete_inputs_own_encoders_where_they_are_available(params, own, blocks):
    assert subset_encoders_of(blocks, **params) is own


@pytest.mark.parametrize(
    "params, parameter",
    [
        ({"variational": True}, "variational"),
        ({"fusion": "moe"}, "fusion"),
        ({"cross_weight": 0.5}, "cross_weight"),
    ],
)
def test_own_encoders_where_they_are_not_available_are_refused_naming_the_parameter(
    params, parameter, blocks
):
    own = ModalityDropout(encoders="own")
    with pytest.raises(ValueError, match=rf"encoders='own'\)\) refuses this '{parameter}'"):
        subset_encoders_of(blocks, modality_dropout=own, **params)
