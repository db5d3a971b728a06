"""Save and load a fitted model without pickle: weights in safetensors, the rest in JSON.

:func:`save` writes one ``.safetensors`` file. Its tensors are the torch
model's weights and the read-out's fitted regressions; its metadata holds,
as JSON, everything else a fitted :class:`~skmmae.MultimodalAutoencoder`
needs: its parameters, the fitted modalities (kind, parameters and learned
statistics), the input layout, the loss weights, the training history and
the versions. :func:`load` rebuilds the estimator from them and never
unpickles anything: a file from someone else cannot run code.

Only what JSON can describe is saved: the built-in modality kinds, option
objects and components of skmmae, optimizers of ``torch.optim``. A custom
``Modality`` or a custom encoder or decoder is refused at :func:`save`,
naming pickle (``joblib.dump``) as the way to keep it. Callbacks are not
saved (they shape training, not the fitted model). The optimizer's state is
not saved either: training a loaded model again starts a new optimizer.

Needs ``safetensors``, an optional extra (``pip install 'skmmae[save]'``).
"""

import importlib
import json
import re
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone
from skorch.history import History

from ._validation import InputLayout
from .options import ModalityDropout

__all__ = ["FORMAT_VERSION", "load", "save"]

#: The version of the file layout this skmmae writes and reads. Version 2
#: named two weights as layers of their own (:func:`_upgrade_weights`);
#: version 3 may hold encoders of incomplete inputs (:func:`_upgrade_params`);
#: version 4's kernel predictors may read the codes side by side (:func:`_readout`).
FORMAT_VERSION = 4

#: The classes a file may name: skmmae's own, and torch's optimizers.
_ALLOWED_MODULES = ("skmmae.", "torch.optim.")


def _safetensors():
    try:
        import safetensors.torch
    except ImportError as error:
        raise ImportError(
            "Saving and loading skmmae models needs safetensors, an optional extra: "
            "pip install 'skmmae[save]' (or pip install safetensors)."
        ) from error
    return safetensors.torch


def save(estimator, path):
    """Write a fitted estimator to ``path``, a single ``.safetensors`` file.

    Parameters
    ----------
    estimator : MultimodalAutoencoder
        A fitted estimator with built-in kinds and components.
    path : str or path-like
        Where to write.

    Raises
    ------
    ValueError
        If part of the model cannot be described in JSON (a custom modality,
        encoder or decoder); pickle or joblib keeps such models.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skmmae import MultimodalAutoencoder, load
    >>> X = {"a": np.random.default_rng(0).normal(size=(40, 3))}
    >>> ae = MultimodalAutoencoder(2, max_epochs=2, random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> ae.save(path)
    >>> bool((load(path).transform(X) == ae.transform(X)).all())
    True
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    safetensors = _safetensors()
    tensors = {f"module.{k}": v for k, v in estimator.net_.module_.state_dict().items()}
    readout, readout_tensors = _readout_state(estimator.readout_)
    tensors.update(readout_tensors)
    state = {
        "format": "skmmae",
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "class": _qualname(type(estimator)),
        "params": _params(estimator),
        "modalities": {
            name: _modality_state(name, modality)
            for name, modality in estimator.modalities_.items()
        },
        "layout": _layout_state(estimator._layout),
        "fitted": {
            "modality_weights_": estimator.modality_weights_,
            "code_scale_": estimator.code_scale_,
            "privacy_spent_": getattr(estimator, "privacy_spent_", None),
            "n_features_in_": int(estimator.n_features_in_),
            "noise_std_": estimator.noise_std_,
            "feature_names_in_": _value(getattr(estimator, "feature_names_in_", None)),
            "device_": str(estimator.device_),
        },
        "readout": readout,
        "history": _value(list(estimator.net_.history)),
    }
    tensors = {key: value.detach().cpu().contiguous() for key, value in tensors.items()}
    safetensors.save_file(tensors, str(path), metadata={"skmmae": json.dumps(state)})


def load(path, device=None):
    """Read a model written by :func:`save`; never unpickles anything.

    Parameters
    ----------
    path : str or path-like
        The ``.safetensors`` file.
    device : str or torch.device, default=None
        Where to put the model. None: where it was trained if that device is
        available here, else the CPU.

    Returns
    -------
    MultimodalAutoencoder
        The fitted estimator, giving the same outputs as the one saved.

    Raises
    ------
    ValueError
        If the file is not a skmmae model, is damaged or edited, or was
        written by a newer format version.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skmmae import MultimodalAutoencoder, load
    >>> X = {"a": np.random.default_rng(0).normal(size=(40, 3))}
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> MultimodalAutoencoder(2, max_epochs=2, random_state=0).fit(X).save(path)
    >>> load(path, device="cpu").transform(X).shape
    (40, 2)
    """
    safetensors = _safetensors()
    state, tensors = _read(safetensors, path)
    try:
        return _rebuild(state, tensors, device, path)
    except (KeyError, TypeError, RuntimeError) as error:
        raise ValueError(
            f"{path} could not be loaded as a skmmae model; it is damaged or was edited: "
            f"{error}"
        ) from error


# -- reading ------------------------------------------------------------------


def _read(safetensors, path):
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:  # one pass over the file
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        state = json.loads(metadata["skmmae"])
    except FileNotFoundError:
        raise
    except Exception as error:  # safetensors' own errors, bad JSON, no metadata
        raise ValueError(
            f"{path} is not a skmmae model file, or it is damaged: {error}"
        ) from error
    if state.get("format") != "skmmae":
        raise ValueError(f"{path} is not a skmmae model file.")
    version = state.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written in format version {version!r} (skmmae "
            f"{state.get('versions', {}).get('skmmae')}); this skmmae reads versions up "
            f"to {FORMAT_VERSION}. Upgrade skmmae to load it."
        )
    return state, tensors


def _rebuild(state, tensors, device, path):
    from ._build import build_net
    from ._config import resolve_config

    from .autoencoder import MultimodalAutoencoder

    cls = _resolve(state["class"], MultimodalAutoencoder)
    params = {key: _object(value) for key, value in state["params"].items()}
    params = _upgrade_params(params, state["format_version"])
    params["device"] = _device(device, params["device"])
    estimator = cls(**params)
    estimator.modalities_ = {
        name: _modality(item) for name, item in state["modalities"].items()
    }
    estimator._layout = _layout(state["layout"])
    fitted = state["fitted"]
    estimator.modality_weights_ = fitted["modality_weights_"]
    estimator.code_scale_ = fitted["code_scale_"]
    if fitted.get("privacy_spent_") is not None:
        estimator.privacy_spent_ = tuple(fitted["privacy_spent_"])
    estimator.n_features_in_ = fitted["n_features_in_"]
    # Before version 3, noise_std was always a number.
    estimator.noise_std_ = fitted.get("noise_std_", params["noise_std"])
    names = _from_value(fitted["feature_names_in_"])
    if names is not None:
        estimator.feature_names_in_ = names
    estimator._n_features_out = estimator.encoding_dim
    config = resolve_config(estimator)
    estimator.device_ = config.device
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten below
        net = build_net(estimator, config, estimator.modalities_, seed=0).initialize()
    weights = {k[len("module."):]: v for k, v in tensors.items() if k.startswith("module.")}
    weights = _upgrade_weights(weights, state["format_version"])
    try:
        net.module_.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise ValueError(
            f"{path}: the weights do not fit the model its parameters describe (the "
            f"file was damaged or edited): {error}"
        ) from error
    net.criterion_.weights = estimator.modality_weights_
    net.history = History(_from_value(state["history"]))
    estimator.net_ = net
    estimator.readout_ = _readout(state["readout"], tensors, config.device, state["format_version"])
    return estimator


def _upgrade_params(params, version):
    """The parameters of a file of an earlier version, as this version reads them.

    Before version 3 incomplete inputs shared the encoders, which
    ``ModalityDropout(encoders="auto")`` no longer does by default: such a
    file's model is described by ``encoders="shared"``.
    """
    if version >= 3 or "modality_dropout" not in params:
        return params
    dropout = params["modality_dropout"]
    if isinstance(dropout, ModalityDropout):
        dropout = clone(dropout).set_params(encoders="shared")
    else:
        dropout = ModalityDropout(dropout, encoders="shared")
    return {**params, "modality_dropout": dropout}


def _upgrade_weights(weights, version):
    """Weight names of a version 1 file, as this version names them.

    Version 2 made ``ConcatFusion``'s placeholders and ``Sequence``'s
    position table layers of their own (so that private training can give
    them per-sample gradients): each tensor became that layer's ``weight``.
    """
    if version >= 2:
        return weights
    renamed = re.compile(r"(^fusion\.placeholders\.\d+|\.positions)$")
    return {
        (key + ".weight" if renamed.search(key) else key): value for key, value in weights.items()
    }


def _device(device, saved):
    """The ``device`` parameter of the loaded estimator: as asked, else as saved if usable here."""
    if device is not None:
        return str(device)
    if saved == "auto":
        return saved
    kind = torch.device(saved).type
    if (kind == "cuda" and not torch.cuda.is_available()) or (
        kind == "mps" and not torch.backends.mps.is_available()
    ):
        return "cpu"  # trained on a GPU, loaded on a machine without one
    return saved


# -- parameters and objects -----------------------------------------------------


def _params(estimator):
    params = estimator.get_params(deep=False)
    callbacks = params.pop("callbacks", None)
    if callbacks:
        warnings.warn(
            f"The callbacks {callbacks!r} are not saved (they shape training, not the "
            "fitted model); the loaded estimator has callbacks=None.",
            UserWarning,
            stacklevel=3,
        )
    params["callbacks"] = None
    random_state = params.get("random_state")
    if random_state is not None and not isinstance(random_state, (int, np.integer)):
        params["random_state"] = None  # a RandomState's stream is not JSON
    return {key: _object_state(key, value) for key, value in params.items()}


def _object_state(where, value):
    """A parameter value as JSON: plain values as they are, estimators by class and params."""
    if isinstance(value, BaseEstimator):
        _check_allowed(type(value), where)
        params = value.get_params(deep=False)
        return {
            "__object__": _qualname(type(value)),
            "params": {k: _object_state(f"{where}.{k}", v) for k, v in params.items()},
        }
    if isinstance(value, type):
        _check_allowed(value, where)
        return {"__class__": _qualname(value)}
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, dict):
        return {"__dict__": [[k, _object_state(f"{where}[{k!r}]", v)] for k, v in value.items()]}
    if callable(value):
        raise ValueError(
            f"{where} is {value!r}, which a JSON file cannot describe; save this model "
            "with pickle or joblib (joblib.dump) instead."
        )
    return _value(value)


def _object(state):
    if isinstance(state, dict) and "__object__" in state:
        cls = _resolve(state["__object__"], BaseEstimator)
        return cls(**{k: _object(v) for k, v in state["params"].items()})
    if isinstance(state, dict) and "__class__" in state:
        return _resolve(state["__class__"], torch.optim.Optimizer)
    if isinstance(state, dict) and "__dict__" in state:
        return {k: _object(v) for k, v in state["__dict__"]}
    return _from_value(state)


def _qualname(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_allowed(cls, where):
    from .modalities import KINDS

    name = _qualname(cls)
    builtin_modality = cls in KINDS.values()
    if not (name.startswith(_ALLOWED_MODULES) and (builtin_modality or "modalities" not in name)):
        raise ValueError(
            f"{where} is a {name}, which this format cannot describe (only skmmae's own "
            "classes and torch's optimizers); save this model with pickle or joblib "
            "(joblib.dump) instead."
        )


def _resolve(name, base):
    """The class a file names: from skmmae or torch.optim, and a subclass of ``base``.

    Only such classes are ever called with the file's parameters: a name of
    any other function or class (one that writes files, say) is refused.
    """
    refused = ValueError(f"The file names the class {name!r}, which skmmae does not load.")
    if not name.startswith(_ALLOWED_MODULES):
        raise refused
    module, _, attribute = name.rpartition(".")
    found = getattr(importlib.import_module(module), attribute, None)
    if not (isinstance(found, type) and issubclass(found, base)):
        raise refused
    return found


# -- modalities and the layout -------------------------------------------------------


def _modality_state(name, modality):
    where = f"Modality {name!r}"
    from .modalities import KINDS

    if type(modality) not in KINDS.values():
        raise ValueError(
            f"{where} is a {_qualname(type(modality))}, a custom kind this format cannot "
            "describe; save this model with pickle or joblib (joblib.dump) instead."
        )
    for part in ("encoder", "decoder"):
        if getattr(modality, part, None) is not None:
            raise ValueError(
                f"{where} has a custom {part}, which this format cannot describe; save "
                "this model with pickle or joblib (joblib.dump) instead."
            )
    fitted = {k: _value(v) for k, v in vars(modality).items() if k.endswith("_")}
    return {"kind": modality.kind, "params": _value(modality.get_params()), "fitted": fitted}


def _modality(state):
    from .modalities import KINDS

    modality = KINDS[state["kind"]](**_from_value(state["params"]))
    for key, value in state["fitted"].items():
        setattr(modality, key, _from_value(value))
    return modality


def _layout_state(layout):
    columns = layout.columns
    if columns is not None:
        columns = {
            "multi": isinstance(columns, pd.MultiIndex),
            "labels": _value(list(columns)),
            "names": _value(list(columns.names)),
        }
    return {
        "kind": layout.kind,
        "feature_names": {
            name: None if labels is None else _value(list(labels))
            for name, labels in layout.feature_names.items()
        },
        "columns": columns,
    }


def _layout(state):
    columns = state["columns"]
    if columns is not None:
        labels = _from_value(columns["labels"])
        names = _from_value(columns["names"])
        columns = (
            pd.MultiIndex.from_tuples(labels, names=names)
            if columns["multi"]
            else pd.Index(labels, name=names[0])
        )
    feature_names = {
        name: None if labels is None else tuple(_from_value(labels))
        for name, labels in state["feature_names"].items()
    }
    return InputLayout(state["kind"], feature_names, columns)


# -- values ------------------------------------------------------------------------


def _value(value):
    """A Python or numpy value as JSON, tagged where JSON would lose its type."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": _value(value.tolist()), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_value(v) for v in value]}
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"__str_dict__": {k: _value(v) for k, v in value.items()}}
        return {"__dict__": [[_value(k), _value(v)] for k, v in value.items()]}
    if isinstance(value, float) and not np.isfinite(value):
        return {"__float__": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"A value of type {type(value).__name__} cannot be saved: {value!r}.")


def _from_value(state):
    if isinstance(state, list):
        return [_from_value(v) for v in state]
    if not isinstance(state, dict):
        return state
    if "__ndarray__" in state:
        dtype = np.dtype(state["dtype"])
        values = _from_value(state["__ndarray__"])
        if dtype.kind == "O":
            array = np.empty(len(values), dtype=object)
            array[:] = values
            return array
        return np.array(values, dtype=dtype)
    if "__tuple__" in state:
        return tuple(_from_value(v) for v in state["__tuple__"])
    if "__str_dict__" in state:
        return {k: _from_value(v) for k, v in state["__str_dict__"].items()}
    if "__dict__" in state:
        return {_from_value(k): _from_value(v) for k, v in state["__dict__"]}
    if "__float__" in state:
        return float(state["__float__"])
    return {k: _from_value(v) for k, v in state.items()}


# -- the read-out --------------------------------------------------------------------


def _readout_state(readout):
    state = _object_state("readout_", readout)
    tensors, parts = {}, {}
    for part in ("reconstructors_", "predictors_"):
        regressions = getattr(readout, part, None)
        if regressions is None:
            continue
        entries = []
        for i, (name, regression) in enumerate(regressions.items()):
            entries.append({
                "name": name, "length": regression.length,
                "length_factor": getattr(regression, "length_factor", None),
            })
            for buffer in ("centers", "coef", "offset"):
                tensors[f"readout.{part}{i}.{buffer}"] = getattr(regression, buffer)
        parts[part] = entries
    return {"object": state, "parts": parts}, tensors


def _readout(state, tensors, device, version):
    """The fitted read-out; before version 4, kernel predictors read the fused code."""
    from ._kernel_ridge import KernelRegression
    from ._modality_dict import ModalityDict
    from .readout import KernelReadout

    readout = _object(state["object"])
    if version < 4 and isinstance(readout, KernelReadout):
        readout.set_params(others="fused")
    for part, entries in state["parts"].items():
        regressions = {}
        for i, entry in enumerate(entries):
            buffers = {b: tensors[f"readout.{part}{i}.{b}"] for b in ("centers", "coef", "offset")}
            regression = KernelRegression(
                buffers["centers"], buffers["coef"], entry["length"], buffers["offset"]
            ).to(device)
            regression.length_factor = entry["length_factor"]
            regressions[entry["name"]] = regression
        setattr(readout, part, ModalityDict(regressions))
    return readout


def _versions():
    import skmmae

    return {"skmmae": skmmae.__version__, "torch": torch.__version__, "numpy": np.__version__}
