"""What ``fit`` does, step by step, once the parameters are checked.

:func:`fit_estimator` splits X into modalities, resolves and fits each one
(:func:`fit_modalities`), adds the presence masks the model reads
(:func:`with_presence`), builds and trains the net with each modality's
loss weight (:func:`resolve_weights`), and fits the post-fit components
(:func:`fit_post_steps`).
"""

import contextlib
import warnings
from numbers import Real

import numpy as np
import torch
from sklearn.base import clone
from skorch.callbacks import EarlyStopping

from sklearn.utils import check_random_state

from . import _inference
from ._build import build_net
from ._module import PRESENT_SUFFIX, split_presence
from ._validation import check_some_modality, extract_presence, split_modalities
from ._values import take_rows
from .distributed import shared_seed
from .modalities import infer_modality, make_modality
from .privacy import (
    check_kinds_named,
    forget_training_losses,
    keep_schema_only,
    quiet_training,
    restore_torch_layers,
)
from .readout import TrainingData

__all__ = [
    "check_reserved_names",
    "check_weight_values",
    "fit_estimator",
    "fit_modalities",
    "fit_post_steps",
    "n_rows",
    "named",
    "resolve_weights",
    "restored_on_error",
    "warn_if_interrupted",
    "with_presence",
]


@contextlib.contextmanager
def restored_on_error(estimator):
    """Leave ``estimator`` as it was if the block raises anything, interrupts included.

    Nothing half-built may stay: no new model without its post-fit steps,
    and no loss of the previous fitted model, which keeps working.
    """
    previous = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(previous)
        raise


def n_rows(data):
    return next(iter(data.values())).shape[0]


def with_presence(data, present):
    """The blocks plus a float 0/1 presence mask per modality that some samples lack."""
    masks = {name + PRESENT_SUFFIX: rows.astype(np.float32) for name, rows in present.items()}
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


def fit_modalities(estimator, data, present):
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
        if name in present:
            modality.fit(take_rows(block, present[name]), label)
            checked[name] = modality.validate(block, label)
        else:
            checked[name] = modality.fit_validate(block, label)
        modalities[name] = modality
    return modalities, checked


def input_noise(noise_std, n_samples, modalities):
    """The input noise of training: ``noise_std``, or for ``"auto"`` 0.5 on wide data, else 0.

    Denoising regularizes most where the features outnumber the samples;
    with more samples it only blurs the modalities of few features
    (``benchmarks/README.md``).
    """
    if noise_std != "auto":
        return float(noise_std)
    n_features = sum(modality.n_features_ for modality in modalities.values())
    return 0.5 if n_samples < n_features else 0.0


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


def fit_post_steps(estimator, readout, training, seed):
    """The fitted read-out and the training codes' spread, once training has ended.

    ``readout`` is cloned; an unseeded one takes the fit's ``seed``.
    """
    readout = clone(readout)
    if readout.get_params().get("random_state", 0) is None:
        readout.set_params(random_state=seed)
    readout.fit(estimator.net_.module_, training)
    code = training.code.double()
    spread = code.std(dim=0, unbiased=False).mean() if len(code) > 1 else torch.ones(())
    return readout, float(spread.clamp_min(1e-6))


def start_aligner(net, data, seed):
    """Start the lag aligner, if any, from a sample of the training rows (:mod:`skmmae._lag_aligner`)."""
    module = net.module_
    if module.aligner is None:
        return
    sample = net.get_dataset(_sample_rows(data, 2048, seed)).X
    values, present = split_presence(sample)
    with torch.no_grad():
        module.aligner.initialize(module.scale(values), present)


def _sample_rows(data, n, seed):
    """At most ``n`` random rows of every block, in order (to probe initial losses)."""
    n_samples = n_rows(data)
    if n_samples <= n:
        return data
    rows = np.sort(np.random.RandomState(seed).choice(n_samples, n, replace=False))
    return {name: block[rows] for name, block in data.items()}


def warn_if_interrupted(estimator):
    """Warn when skorch ended training early on a KeyboardInterrupt.

    skorch catches the interrupt, ends the loop and runs the post-fit
    steps; skorch's early stopping (ours, or one in ``callbacks``) ends
    the loop the same way, which is no interruption.
    """
    completed = dict(estimator.net_.callbacks_)["loss_terms"].epochs_
    if completed == estimator.max_epochs:
        return
    for _, callback in estimator.net_.callbacks_:
        stopped = getattr(callback, "misses_", 0) >= getattr(callback, "patience", np.inf)
        if isinstance(callback, EarlyStopping) and stopped:
            return
    warnings.warn(
        f"Training of {type(estimator).__name__} was interrupted (KeyboardInterrupt) "
        f"after {completed} complete epochs of {estimator.max_epochs}; the model "
        "trained so far is kept as the fitted model, with its post-fit steps.",
        UserWarning,
        stacklevel=3,
    )


def fit_estimator(estimator, X, config):
    """Fit ``estimator`` to X with its resolved ``config``: its fitted attributes are set."""
    data, estimator._layout = split_modalities(X, estimator=estimator, reset=True)
    check_reserved_names(data)
    data, present = extract_presence(data, estimator._layout, fitting=True)
    check_some_modality(present, data, data, n_rows(data))
    private = config.privacy is not None
    if private:
        check_kinds_named(estimator, data)
    estimator.modalities_, data = fit_modalities(estimator, data, present)
    if private:
        keep_schema_only(estimator.modalities_)
    data = with_presence(data, present)
    if estimator._layout.kind not in ("array", "frame") and hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_  # a refit on dict input keeps no names of an array fit
    if estimator._layout.kind not in ("array", "frame"):
        estimator.n_features_in_ = sum(m.n_features_ for m in estimator.modalities_.values())
    if config.data_parallel is not None:
        config.device = config.data_parallel.join(config.device)
    estimator.device_ = config.device
    estimator._n_features_out = estimator.encoding_dim
    estimator.noise_std_ = input_noise(estimator.noise_std, n_rows(data), estimator.modalities_)
    seed = int(check_random_state(estimator.random_state).randint(np.iinfo(np.int32).max))
    if config.data_parallel is not None:
        # One seed for all processes: the same initial weights and batches.
        seed = shared_seed(seed, config.device)
    # Seed a fork of torch's random state: reproducible without touching
    # the user's global state.
    with torch.random.fork_rng(devices=_rng_devices(config.device)):
        torch.manual_seed(seed)
        estimator.net_ = build_net(estimator, config, estimator.modalities_, seed).initialize()
        estimator.modality_weights_ = resolve_weights(estimator, data, seed)
        estimator.net_.criterion_.weights = estimator.modality_weights_
        start_aligner(estimator.net_, data, seed)
        # One copy on the device serves training and the post-fit steps.
        dataset = estimator.net_.get_dataset(data)
        # partial_fit trains the initialized net (fit would rebuild it).
        with quiet_training() if private else contextlib.nullcontext():
            estimator.net_.partial_fit(dataset)
        if private:
            restore_torch_layers(estimator.net_)
            forget_training_losses(estimator.net_.history)
    if private:
        # Nothing more is learned from the training data: the decoders
        # read codes out, and no spread of the training codes is kept.
        estimator.readout_, estimator.code_scale_ = clone(config.readout), None
        estimator.privacy_spent_ = dict(estimator.net_.callbacks_)["privacy"].spent()
    else:
        training = TrainingData(estimator.net_, dataset, estimator.modalities_)
        estimator.readout_, estimator.code_scale_ = fit_post_steps(estimator, config.readout, training, seed)
        if hasattr(estimator, "privacy_spent_"):
            del estimator.privacy_spent_
    warn_if_interrupted(estimator)


def _rng_devices(device):
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]
