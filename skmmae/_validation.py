"""Turn every accepted input form into one checked dict of float32 arrays.

Every message a user sees about their data is written here. The accepted
forms are:

- a Mapping (``dict``, :class:`skorch.helper.SliceDict`) of modality name ->
  2-D array-like (numpy array, pandas DataFrame, torch tensor, nested list);
- a pandas DataFrame whose columns are a 2-level MultiIndex
  ``(modality, feature)``;
- a plain 2-D array-like or DataFrame, which is one modality named ``"X"``.

:func:`split_modalities` returns the arrays together with an
:class:`InputLayout` that remembers the form, so that
:func:`restore_layout` can give results back in the same form.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import sparse
from skorch.helper import SliceDict
from sklearn.utils.validation import check_array, validate_data

__all__ = [
    "ARRAY_MODALITY",
    "InputLayout",
    "check_code",
    "check_fitted_modalities",
    "restore_layout",
    "split_modalities",
]

#: Name of the single modality when X is a plain array or DataFrame.
ARRAY_MODALITY = "X"

_MAPPING, _SLICEDICT, _MULTIINDEX, _ARRAY, _FRAME = (
    "mapping",
    "slicedict",
    "multiindex_frame",
    "array",
    "frame",
)


@dataclass(frozen=True)
class InputLayout:
    """The form X came in, so that outputs can be given back in that form.

    Attributes
    ----------
    kind : str
        One of ``"mapping"``, ``"slicedict"``, ``"multiindex_frame"``,
        ``"array"``, ``"frame"``.
    feature_names : dict of str -> tuple or None
        Column labels per modality where the input had them (DataFrames).
    columns : pandas.Index or None
        The full column index of a DataFrame input, to restore column order.
    """

    kind: str
    feature_names: dict
    columns: object = None

    def describe(self, name):
        """How messages refer to modality ``name``."""
        if self.kind in (_ARRAY, _FRAME):
            return "X"
        return f"Modality {name!r}"


def split_modalities(X, estimator=None, reset=True):
    """Split X into a dict of checked 2-D float32 arrays.

    Parameters
    ----------
    X : Mapping, DataFrame or array-like
        Any accepted input form (see the module docstring).
    estimator : estimator instance, default=None
        For the plain array form, passed to sklearn's ``validate_data`` so
        that ``n_features_in_`` and ``feature_names_in_`` follow sklearn's
        rules exactly. Ignored for the other forms.
    reset : bool, default=True
        Whether this is a ``fit`` (True) or a later call (False).

    Returns
    -------
    data : dict of str -> ndarray of shape (n_samples, n_features)
        C-contiguous float32 arrays, all finite, all of the same length.
    layout : InputLayout
        The form X came in.
    """
    if isinstance(X, Mapping):
        data, layout = _split_mapping(X)
    elif isinstance(X, pd.DataFrame) and isinstance(X.columns, pd.MultiIndex):
        data, layout = _split_multiindex_frame(X)
    else:
        data, layout = _split_single(X, estimator, reset)
    _check_same_length(data, layout)
    for name, values in data.items():
        _check_finite(values, layout.describe(name))
    return data, layout


def _split_mapping(X):
    if len(X) == 0:
        raise ValueError(
            "X has no modalities: pass a dict of modality name -> 2-D array "
            "with at least one entry."
        )
    for key in X:
        if not isinstance(key, str):
            raise TypeError(
                f"Modality names must be strings; got the key {key!r} of type "
                f"{type(key).__name__}."
            )
    kind = _SLICEDICT if isinstance(X, SliceDict) else _MAPPING
    layout = InputLayout(kind, {name: _column_names(value) for name, value in X.items()})
    data = {name: _as_float_matrix(value, layout.describe(name)) for name, value in X.items()}
    return data, layout


def _split_multiindex_frame(X):
    if X.columns.nlevels != 2:
        raise ValueError(
            "A DataFrame with MultiIndex columns must have exactly 2 levels "
            f"(modality, feature); got {X.columns.nlevels} levels."
        )
    names = list(dict.fromkeys(X.columns.get_level_values(0)))
    for name in names:
        if not isinstance(name, str):
            raise TypeError(
                "Modality names (the first column level) must be strings; got "
                f"{name!r} of type {type(name).__name__}."
            )
    blocks = {name: X.loc[:, X.columns.get_level_values(0) == name] for name in names}
    layout = InputLayout(
        _MULTIINDEX,
        {name: tuple(block.columns.get_level_values(1)) for name, block in blocks.items()},
        columns=X.columns,
    )
    data = {name: _as_float_matrix(block, layout.describe(name)) for name, block in blocks.items()}
    return data, layout


def _split_single(X, estimator, reset):
    kind = _FRAME if isinstance(X, pd.DataFrame) else _ARRAY
    layout = InputLayout(kind, {ARRAY_MODALITY: _column_names(X)})
    if torch.is_tensor(X):
        X = X.detach().cpu().numpy()
    if estimator is not None:
        # sklearn's own bookkeeping: n_features_in_, feature_names_in_ and the
        # exact messages its estimator checks look for.
        X = validate_data(
            estimator, X, reset=reset, dtype=np.float32, ensure_all_finite=False
        )
    return {ARRAY_MODALITY: _as_float_matrix(X, "X")}, layout


def _column_names(value):
    if isinstance(value, pd.DataFrame):
        return tuple(value.columns)
    return None


def _as_float_matrix(value, label):
    """Convert one modality to a C-contiguous float32 2-D array."""
    if torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    if sparse.issparse(value):
        raise TypeError(
            f"{label} is a sparse matrix; sparse input is not supported for "
            "continuous modalities: pass a dense array."
        )
    try:
        array = check_array(
            value,
            dtype=np.float32,
            order="C",
            ensure_all_finite=False,
            ensure_2d=True,
            input_name=label,
        )
    except (TypeError, ValueError) as error:
        raise type(error)(f"{label} could not be read as a 2-D numeric array: {error}") from error
    return array


def _check_same_length(data, layout):
    lengths = {name: values.shape[0] for name, values in data.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name}: {n}" for name, n in lengths.items())
        raise ValueError(
            f"All modalities must have the same number of samples; got {listed}."
        )


def _check_finite(values, label):
    # One reduction instead of a boolean mask of the whole block: a finite
    # sum proves that every value is finite (NaN and inf propagate).
    with np.errstate(over="ignore", invalid="ignore"):
        total = values.sum()
    if values.size == 0 or np.isfinite(total):
        return
    finite = np.isfinite(values)
    if finite.all():  # the sum overflowed; every value is finite
        return
    nan_rows = np.isnan(values).all(axis=1)
    if nan_rows.any():
        rows = _first_rows(nan_rows)
        raise ValueError(
            f"{label} is entirely NaN in {nan_rows.sum()} rows (first: {rows}). "
            "An all-NaN row will mean 'this sample lacks the modality'; missing "
            "modalities are not supported yet."
        )
    bad = ~finite.all(axis=1)
    what = "NaN" if np.isnan(values).any() else "infinity (or a value too large for float32)"
    raise ValueError(
        f"{label} contains {what} in {bad.sum()} rows (first: {_first_rows(bad)}). "
        "Values must be finite."
    )


def _first_rows(mask, limit=5):
    rows = np.flatnonzero(mask)[:limit].tolist()
    return ", ".join(map(str, rows))


def check_fitted_modalities(data, layout, n_features, estimator_name, fitted_names=None):
    """Check that data has exactly the fitted modalities and widths.

    Parameters
    ----------
    data : dict of str -> ndarray
        Output of :func:`split_modalities`.
    layout : InputLayout
        Its layout.
    n_features : dict of str -> int
        The fitted modalities and their feature counts, in fitted order.
    estimator_name : str
        For the messages.
    fitted_names : dict of str -> tuple or None, default=None
        Column labels per modality seen in fit; where both fit and now have
        labels, they must match (same names, same order).

    Returns
    -------
    data : dict of str -> ndarray
        The same arrays, ordered as in ``n_features``.
    """
    unknown = [name for name in data if name not in n_features]
    if unknown:
        raise ValueError(
            f"X has modalities {unknown} that were not seen in fit; the fitted "
            f"modalities are {list(n_features)}."
        )
    missing = [name for name in n_features if name not in data]
    if missing:
        raise ValueError(
            f"X lacks the modalities {missing} that {estimator_name} was fitted "
            "with; encoding from a subset of modalities is not supported yet."
        )
    for name, expected in n_features.items():
        got = data[name].shape[1]
        if got != expected:
            raise ValueError(
                f"{layout.describe(name)} has {got} features, but {estimator_name} "
                f"is expecting {expected} features as input."
            )
        _check_same_feature_names(name, layout, (fitted_names or {}).get(name))
    return {name: data[name] for name in n_features}


def _check_same_feature_names(name, layout, fitted):
    current = layout.feature_names.get(name)
    if fitted is None or current is None or tuple(current) == tuple(fitted):
        return
    changed = [f"{a!r} -> {b!r}" for a, b in zip(fitted, current) if a != b][:3]
    raise ValueError(
        f"{layout.describe(name)} has other column names than in fit, or another "
        f"order (first differences: {', '.join(changed)}); pass the columns as in fit."
    )


def check_code(X, encoding_dim, estimator_name):
    """Check the codes given to ``inverse_transform``; return a float32 C array."""
    if torch.is_tensor(X):
        X = X.detach().cpu().numpy()
    if np.ndim(X) != 2:
        raise ValueError(
            f"The codes X must be 2-D of shape (n_samples, {encoding_dim}); got an "
            f"array of shape {np.shape(X)}."
        )
    X = check_array(X, dtype=np.float32, order="C", input_name="X")
    if X.shape[1] != encoding_dim:
        raise ValueError(
            f"The codes X have {X.shape[1]} columns, but {estimator_name} encodes to "
            f"{encoding_dim} dimensions (encoding_dim)."
        )
    return X


def restore_layout(data, layout, index=None):
    """Give a dict of per-modality arrays back in the form of ``layout``.

    Parameters
    ----------
    data : dict of str -> ndarray
        One 2-D array per modality.
    layout : InputLayout
        The form to restore.
    index : pandas.Index, default=None
        Row labels for DataFrame outputs.

    Returns
    -------
    dict, SliceDict, DataFrame or ndarray
        ``data`` in the form of ``layout``.
    """
    if layout.kind == _ARRAY:
        return data[ARRAY_MODALITY]
    if layout.kind == _FRAME:
        columns = layout.feature_names[ARRAY_MODALITY]
        return pd.DataFrame(data[ARRAY_MODALITY], columns=columns, index=index)
    if layout.kind == _MULTIINDEX:
        frames = [
            pd.DataFrame(
                values,
                columns=pd.MultiIndex.from_product([[name], layout.feature_names[name]]),
                index=index,
            )
            for name, values in data.items()
        ]
        return pd.concat(frames, axis=1)[layout.columns]
    restored = {}
    for name, values in data.items():
        columns = layout.feature_names.get(name)
        restored[name] = (
            values if columns is None else pd.DataFrame(values, columns=columns, index=index)
        )
    return SliceDict(**restored) if layout.kind == _SLICEDICT else restored
