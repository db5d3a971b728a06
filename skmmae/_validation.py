"""Turn every accepted input form into one dict of per-modality blocks.

The messages a user sees about the form of their data are written here;
the checks of one block's values are :mod:`skmmae._values`'. The accepted
forms are:

- a Mapping (``dict``, :class:`skorch.helper.SliceDict`) of modality name ->
  array-like (numpy array of any rank, pandas DataFrame, scipy sparse
  matrix, torch tensor, nested list);
- a pandas DataFrame whose columns are a 2-level MultiIndex
  ``(modality, feature)``;
- a plain 2-D array-like or DataFrame, which is one modality named ``"X"``.

:func:`split_modalities` returns the arrays together with an
:class:`InputLayout` that remembers the form, so that
:func:`skmmae._output_forms.restore_layout` can give results back in the
same form.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from skorch.helper import SliceDict
from sklearn.utils.validation import check_array, validate_data

from ._disk import DiskBlock, is_on_disk
from ._values import (
    as_float_array,
    check_array_like,
    first_rows,
    take_rows,
    tensor_to_array,
)

__all__ = [
    "ARRAY_MODALITY",
    "LENGTHS_SUFFIX",
    "MISSING_SUFFIX",
    "InputLayout",
    "check_code",
    "check_fitted_modalities",
    "check_some_modality",
    "extract_presence",
    "split_modalities",
]

#: Name of the single modality when X is a plain array or DataFrame.
ARRAY_MODALITY = "X"

#: ``X["<name>" + MISSING_SUFFIX]``: a boolean mask, True where a sample lacks
#: the modality ``name`` (for kinds whose values cannot be NaN).
MISSING_SUFFIX = "__missing"

#: ``X["<name>" + LENGTHS_SUFFIX]``: each sample's number of recorded steps of
#: the series ``name``; the steps after it are read as NaN (not recorded).
LENGTHS_SUFFIX = "__lengths"


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
    """Split X into a dict of per-modality blocks of equal length.

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
    data : dict of str -> ndarray, sparse matrix or DataFrame
        One block per modality, all of the same length, not yet checked
        value by value: each modality's :meth:`~skmmae.modalities.Modality.validate`
        does that. The plain array form is already a float32 2-D array.
    layout : InputLayout
        The form X came in.
    """
    if isinstance(X, Mapping):
        data, layout = _split_mapping(X)
    elif isinstance(X, pd.DataFrame) and isinstance(X.columns, pd.MultiIndex):
        data, layout = _split_multiindex_frame(X)
    else:
        check_array_like(X, "X")
        data, layout = _split_single(X, estimator, reset)
    _check_same_length(data, layout)
    return data, layout


def _split_mapping(X):
    if not X.keys():  # not len(X): a SliceDict's length is its number of rows
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
    names = [name for name in X if not name.endswith((MISSING_SUFFIX, LENGTHS_SUFFIX))]
    layout = InputLayout(kind, {name: _column_names(X[name]) for name in names})
    data = {name: _as_block(X[name], layout.describe(name)) for name in names}
    for key in [key for key in X if key.endswith(LENGTHS_SUFFIX)]:
        name = key[: -len(LENGTHS_SUFFIX)]
        if name not in data:
            raise ValueError(
                f"X[{key!r}] gives series lengths for {name!r}, which X has no values for; "
                f"X has the modalities {names}."
            )
        data[name] = _cut_to_lengths(data[name], X[key], key, layout.describe(name))
    # Missing-row masks travel along; extract_presence checks and applies them.
    data.update({key: _as_mask(X[key], key) for key in X if key.endswith(MISSING_SUFFIX)})
    return data, layout


def _split_multiindex_frame(X):
    if X.shape[1] == 0:
        raise ValueError(
            "X has no modalities: its MultiIndex columns (modality, feature) are empty."
        )
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
        if name.endswith(MISSING_SUFFIX):
            raise ValueError(
                f"Modality names must not end in {MISSING_SUFFIX!r}, which marks a "
                f"missing-row mask in dict input; rename {name!r}."
            )
    blocks = {name: X.loc[:, X.columns.get_level_values(0) == name] for name in names}
    layout = InputLayout(
        _MULTIINDEX,
        {name: tuple(block.columns.get_level_values(1)) for name, block in blocks.items()},
        columns=X.columns,
    )
    return blocks, layout


def _split_single(X, estimator, reset):
    kind = _FRAME if isinstance(X, pd.DataFrame) else _ARRAY
    layout = InputLayout(kind, {ARRAY_MODALITY: _column_names(X)})
    X = tensor_to_array(X, "X")
    if estimator is not None:
        # sklearn's own bookkeeping: n_features_in_, feature_names_in_ and the
        # exact messages its estimator checks look for.
        X = validate_data(
            estimator, X, reset=reset, dtype=np.float32, ensure_all_finite=False
        )
    # NaN may mark missing cells or rows; the modality's own check decides.
    return {ARRAY_MODALITY: as_float_array(X, "X", allow_nan=True)}, layout


def _column_names(value):
    if isinstance(value, pd.DataFrame):
        return tuple(value.columns)
    return None


def _as_block(value, label):
    """One modality's value as an ndarray, sparse matrix or DataFrame."""
    check_array_like(value, label)
    if is_on_disk(value):  # a DiskBlock may also come from skmmae.io, already
        value = DiskBlock(value)
    value = tensor_to_array(value, label)
    if isinstance(value, DiskBlock) or sparse.issparse(value) or isinstance(value, (np.ndarray, pd.DataFrame)):
        block = value
    else:
        try:
            block = np.asarray(value)
        except ValueError as error:  # ragged nested lists
            raise ValueError(f"{label} could not be read as an array: {error}") from error
    if block.ndim < 2:
        raise ValueError(
            f"{label} must have one row per sample and at least 2 dimensions; got an "
            f"array of shape {block.shape}. Reshape a single feature with "
            "values.reshape(-1, 1)."
        )
    return block


def _cut_to_lengths(block, lengths, key, label):
    """A float copy of the series ``block`` with NaN after each sample's length (last axis)."""
    if not isinstance(block, np.ndarray):
        raise TypeError(
            f"{label} has lengths in X[{key!r}], which need its series as a numpy array "
            f"(n_samples, channels, time) or (n_samples, time); got {type(block).__name__}."
        )
    lengths = tensor_to_array(lengths, f"X[{key!r}]")
    lengths = np.asarray(lengths)
    steps = block.shape[-1]
    whole = lengths.dtype.kind in "iu" or (
        lengths.dtype.kind == "f" and np.isfinite(lengths).all() and (lengths == np.round(lengths)).all()
    )
    if lengths.shape != (len(block),) or not whole or not ((lengths >= 0) & (lengths <= steps)).all():
        raise ValueError(
            f"X[{key!r}] must hold one whole number of recorded steps per sample of {label}, "
            f"from 0 to its {steps} steps; got an array of shape {lengths.shape} and dtype "
            f"{lengths.dtype}" + (
                f" with values from {lengths.min()} to {lengths.max()}."
                if lengths.size and lengths.dtype.kind in "iuf" else "."
            )
        )
    cut = np.array(block, dtype=np.float32)  # a copy: the user's array is never changed
    after = np.arange(steps) >= lengths.astype(np.int64)[:, np.newaxis]
    if cut.ndim == 3:
        after = np.broadcast_to(after[:, np.newaxis], cut.shape)
    elif cut.ndim != 2:
        raise ValueError(
            f"{label} has lengths in X[{key!r}], which need series of shape "
            f"(n_samples, channels, time) or (n_samples, time); got shape {cut.shape}."
        )
    cut[after] = np.nan
    return cut


def _as_mask(value, key):
    value = tensor_to_array(value, f"X[{key!r}]")
    if sparse.issparse(value):
        value = value.toarray()
    # Boolean and integer arrays cannot hold missing values; others (floats,
    # objects, pandas' nullable arrays) are scanned for them.
    can_be_missing = not (isinstance(value, np.ndarray) and value.dtype.kind in "biu")
    if can_be_missing and pd.isna(np.asarray(value, dtype=object)).any():
        raise ValueError(
            f"X[{key!r}] has missing values (NaN, None or pd.NA); a missing-row mask "
            "must be True or False for every sample."
        )
    mask = np.asarray(value)
    if mask.ndim != 1 or not (mask.dtype == bool or np.isin(mask, (0, 1)).all()):
        raise ValueError(
            f"X[{key!r}] must be a 1-D boolean mask (True where a sample lacks the "
            f"modality); got an array of shape {mask.shape} and dtype {mask.dtype}."
        )
    return mask.astype(bool)


def extract_presence(data, layout, fitting, unscanned=()):
    """Find the rows where a sample has each modality; fill the rows where it lacks one.

    The boundary between the user's convention (a row entirely NaN, or a
    boolean mask ``X[name + MISSING_SUFFIX]`` True where missing) and the
    package's: a presence mask, True where present.

    A sample lacks a modality where its row is entirely NaN (or None, for
    object values), or where the mask ``X[name + MISSING_SUFFIX]`` is True.
    Those rows are replaced by a copy of the modality's first present row,
    so that every later check and conversion sees valid values; the masks
    keep them out of every code and loss. At ``transform``, a modality
    missing in every row is dropped, as if its key were absent.

    Parameters
    ----------
    data : dict of str -> block
        Output of :func:`split_modalities` (masks included).
    layout : InputLayout
        Its layout, for messages.
    fitting : bool
        Whether this is ``fit`` (a modality missing everywhere is an error).
    unscanned : collection of str, default=()
        Modalities whose values are not scanned for rows of NaN here (only
        masks mark their missing rows): the caller proves them finite later.
        Blocks on disk are scanned all the same.

    Returns
    -------
    data : dict of str -> block
        The blocks, filled, without the mask entries.
    present : dict of str -> ndarray of bool of shape (n_samples,)
        For each modality that some (not all) samples lack: True where present.
    """
    masks = {key[: -len(MISSING_SUFFIX)]: data[key] for key in data if key.endswith(MISSING_SUFFIX)}
    blocks = {name: block for name, block in data.items() if not name.endswith(MISSING_SUFFIX)}
    unknown = [name for name in masks if name not in blocks]
    if unknown:
        raise ValueError(
            f"X has missing-row masks for {unknown}, which X has no values for; masks "
            f"must name one of its modalities {list(blocks)}."
        )
    present, filled = {}, {}
    for name, block in blocks.items():
        # A block on disk is never copied to the device, where the scan of
        # the others is deferred to: its rows are scanned here.
        deferred = name in unscanned and not isinstance(block, DiskBlock)
        lacking = None if deferred else _missing_rows(block)
        if name in masks:
            lacking = masks[name] if lacking is None else lacking | masks[name]
        if lacking is None or not lacking.any():
            filled[name] = block
        elif lacking.all():
            if fitting:
                raise ValueError(
                    f"{layout.describe(name)} is missing (all NaN or masked) in every "
                    "sample; a modality must be present in some samples to be fitted."
                )
        else:
            present[name] = ~lacking
            first = int(np.argmin(lacking))
            filled[name] = take_rows(block, np.where(lacking, first, np.arange(len(lacking))))
    return filled, present


def _missing_rows(block):
    """Rows entirely NaN (None for objects), or None when no row can be."""
    if sparse.issparse(block):
        return None
    if isinstance(block, DiskBlock):
        if block.dtype.kind != "f":
            return None
        # One pass over the file, a chunk of rows at a time.
        lacking = np.concatenate([_rows_all_nan(chunk) for chunk in block.chunks()])
        return lacking if lacking.any() else None
    if isinstance(block, pd.DataFrame):
        return block.isna().to_numpy().all(axis=1) if block.shape[1] else None
    if block.dtype.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(block.sum()):  # one reduction proves there is no NaN
                return None
        return _rows_all_nan(block)
    if block.dtype.kind == "O":
        return pd.isna(block.reshape(len(block), -1)).all(axis=1)
    return None


def _rows_all_nan(values):
    return np.isnan(values.reshape(len(values), -1)).all(axis=1)


def check_some_modality(present, given, fitted, n_samples):
    """Raise if a sample lacks every modality.

    Parameters
    ----------
    present : dict of str -> ndarray of bool
        Presence of the given modalities that some samples lack.
    given : iterable of str
        The modalities X has values for.
    fitted : iterable of str
        All modalities (a fitted one not given is missing everywhere).
    n_samples : int
        Number of samples.
    """
    given = set(given)
    lacking_all = np.ones(n_samples, dtype=bool)
    for name in fitted:
        if name in given:
            lacking_all &= ~present.get(name, np.ones(n_samples, dtype=bool))
    if lacking_all.any():
        raise ValueError(
            f"{int(lacking_all.sum())} samples have no modality at all (first rows: "
            f"{first_rows(lacking_all)}); each sample needs at least one of the "
            f"modalities {list(fitted)} to be encoded."
        )


def _check_same_length(data, layout):
    lengths = {name: values.shape[0] for name, values in data.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name!r}: {n}" for name, n in lengths.items())
        raise ValueError(
            f"All modalities must have the same number of samples; got {listed}."
        )
    if not any(lengths.values()):
        raise ValueError(
            f"X has 0 samples (modalities {list(lengths)}); at least one sample is "
            "needed."
        )


def check_fitted_modalities(
    data, layout, modalities, estimator_name, fitted_names=None, unscanned=()
):
    """Check that data has only fitted modalities; validate each one given.

    Parameters
    ----------
    data : dict of str -> block
        Output of :func:`split_modalities`.
    layout : InputLayout
        Its layout.
    modalities : dict of str -> Modality
        The fitted modalities, in fitted order.
    estimator_name : str
        For the messages.
    fitted_names : dict of str -> tuple or None, default=None
        Column labels per modality seen in fit; where both fit and now have
        labels, they must match (same names, same order).
    unscanned : collection of str, default=()
        Modalities whose values are not scanned for NaN and infinity (see
        ``Modality.validate``'s ``scan_finite``).

    Returns
    -------
    data : dict of str -> ndarray
        Each given modality's validated values, ordered as in ``modalities``;
        fitted modalities absent from X are absent here too.
    """
    unknown = [name for name in data if name not in modalities]
    if unknown:
        raise ValueError(
            f"X has modalities {unknown} that were not seen in fit; the fitted "
            f"modalities are {list(modalities)}."
        )
    if not data:
        raise ValueError(
            f"X has none of the modalities {estimator_name} was fitted with "
            f"({list(modalities)}); it needs at least one."
        )
    checked = {}
    for name, modality in modalities.items():
        if name not in data:
            continue  # a modality absent from X is missing in every sample
        label = layout.describe(name)
        _check_same_feature_names(name, layout, (fitted_names or {}).get(name))
        checked[name] = modality.validate(data[name], label, scan_finite=name not in unscanned)
        _check_sample_shape(checked[name], modality.input_shape_, label, estimator_name)
    return checked


def _check_sample_shape(values, expected, label, estimator_name):
    got = tuple(values.shape[1:])
    if got == tuple(expected):
        return
    if len(got) == len(expected) == 1:
        raise ValueError(
            f"{label} has {got[0]} features, but {estimator_name} is expecting "
            f"{expected[0]} features as input."
        )
    raise ValueError(
        f"{label} has samples of shape {got}, but {estimator_name} was fitted on "
        f"samples of shape {tuple(expected)}."
    )


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
    X = tensor_to_array(X, "The codes X")
    if sparse.issparse(X):
        X = X.toarray()
    if np.ndim(X) != 2:
        raise ValueError(
            f"The codes X must be 2-D of shape (n_samples, {encoding_dim}); got an "
            f"array of shape {np.shape(X)}."
        )
    with np.errstate(over="ignore", invalid="ignore"):  # check_array names what is wrong
        X = check_array(X, dtype=np.float32, order="C", input_name="X")
    if X.shape[1] != encoding_dim:
        raise ValueError(
            f"The codes X have {X.shape[1]} columns, but {estimator_name} encodes to "
            f"{encoding_dim} dimensions (encoding_dim)."
        )
    return X
