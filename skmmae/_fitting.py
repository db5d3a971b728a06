"""What ``fit`` does with the data before training: modalities, masks, loss weights.

Functions of the estimator and its validated blocks: each modality
resolved and fitted (:func:`fit_modalities`), the presence masks the model
reads (:func:`with_presence`), and the loss weight of each modality
(:func:`resolve_weights`).
"""

from numbers import Real

import numpy as np

from . import _inference
from ._module import PRESENT_SUFFIX
from ._validation import take_rows
from .modalities import infer_modality, make_modality

__all__ = [
    "check_reserved_names",
    "check_weight_values",
    "fit_modalities",
    "n_rows",
    "named",
    "resolve_weights",
    "with_presence",
]


def n_rows(data):
    return next(iter(data.values())).shape[0]


def with_presence(data, missing):
    """The blocks plus a float 0/1 presence mask per modality that some samples lack."""
    masks = {name + PRESENT_SUFFIX: (~rows).astype(np.float32) for name, rows in missing.items()}
    return {**data, **masks}


def check_reserved_names(data):
    """Refuse modality names that the model's batches would confuse with its masks."""
    reserved = [name for name in data if name.endswith(PRESENT_SUFFIX)]
    if reserved:
        raise ValueError(
            f"Modality names must not end in {PRESENT_SUFFIX!r}, which the model uses "
            f"internally for presence masks; rename {reserved}."
        )


def named(estimator, parameter, data):
    """The dict parameter ``parameter``, checked to name only modalities of X."""
    value = getattr(estimator, parameter)
    if not isinstance(value, dict):
        return {}
    unknown = [name for name in value if name not in data]
    if unknown:
        raise ValueError(
            f"The '{parameter}' parameter of {type(estimator).__name__} names {unknown}, "
            f"which X does not have; X has the modalities {list(data)}."
        )
    return value


def fit_modalities(estimator, data, missing):
    """Resolve, fit and apply each modality: ``(modalities, validated blocks)``.

    A modality that some samples lack learns its statistics from the
    samples that have it.
    """
    specs = named(estimator, "modalities", data)
    modalities, checked = {}, {}
    for name, block in data.items():
        label = estimator._layout.describe(name)
        spec = specs.get(name)
        modality = infer_modality(block, label) if spec is None else make_modality(spec, label)
        if name in missing:
            modality.fit(take_rows(block, ~missing[name]), label)
            checked[name] = modality.validate(block, label)
        else:
            checked[name] = modality.fit_validate(block, label)
        modalities[name] = modality
    return modalities, checked


def check_weight_values(weights):
    """Refuse a ``modality_weights`` dict whose values are not finite non-negative numbers."""
    if not isinstance(weights, dict):
        return
    for name, weight in weights.items():
        if not (isinstance(weight, Real) and 0 <= weight < np.inf):
            raise ValueError(
                f"The weight of modality {name!r} in 'modality_weights' must be a "
                f"finite non-negative number. Got {weight!r} instead."
            )


def resolve_weights(estimator, data, seed):
    """Per-modality loss weights summing to one, from ``modality_weights``."""
    modalities = estimator.modalities_
    if estimator.modality_weights == "balanced":
        sample = _sample_rows(data, 2048, seed)
        initial, _ = _inference.loss_totals(estimator.net_, sample)
        weights = {name: 1.0 / max(loss, 1e-8) for name, loss in initial.items()}
    else:
        given = named(estimator, "modality_weights", modalities)
        weights = {name: float(given.get(name, 1.0)) for name in modalities}
    total = sum(weights.values())
    if not total > 0:
        raise ValueError("The 'modality_weights' must not all be zero.")
    return {name: weight / total for name, weight in weights.items()}


def _sample_rows(data, n, seed):
    """At most ``n`` random rows of every block, in order (to probe initial losses)."""
    n_samples = n_rows(data)
    if n_samples <= n:
        return data
    rows = np.sort(np.random.RandomState(seed).choice(n_samples, n, replace=False))
    return {name: block[rows] for name, block in data.items()}
