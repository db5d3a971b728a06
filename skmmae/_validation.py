"""Turn every accepted input form into one dict of per-modality blocks.

The messages a user sees about the form of their data are written here,
together with the converters the modalities use to check their values
(:func:`as_float_array`, :func:`as_integer_array`, :func:`check_finite`).
The accepted forms are:

- a Mapping (``dict``, :class:`skorch.helper.SliceDict`) of modality name ->
  array-like (numpy array of any rank, pandas DataFrame, scipy sparse
  matrix, torch tensor, nested list);
- a pandas DataFrame whose columns are a 2-level MultiIndex
  ``(modality, feature)``;
- a plain 2-D array-like or DataFrame, which is one modality named ``"X"``.

:func:`split_modalities` returns the arrays together with an
:class:`InputLayout` that remembers the form, so that
:func:`restore_layout` can give results back in the same form.
"""

import contextlib
import contextvars
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
    "MISSING_SUFFIX",
    "InputLayout",
    "as_float_array",
    "as_integer_array",
    "check_array_like",
    "check_code",
    "check_finite",
    "check_fitted_modalities",
    "check_some_modality",
    "extract_missing",
    "finite_scan_deferred",
    "raise_for_rows",
    "restore_layout",
    "restore_modality",
    "split_modalities",
    "take_rows",
    "tensor_to_array",
]

#: Name of the single modality when X is a plain array or DataFrame.
ARRAY_MODALITY = "X"

#: ``X["<name>" + MISSING_SUFFIX]``: a boolean mask, True where a sample lacks
#: the modality ``name`` (for kinds whose values cannot be NaN).
MISSING_SUFFIX = "__missing"

#: The largest magnitude accepted in float data: a quarter of float32's
#: largest value, so that centering and scaling (``x - mean``,
#: ``z * scale + mean``) cannot overflow.
LARGEST_VALUE = float(np.finfo(np.float32).max) / 4

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
    names = [name for name in X if not name.endswith(MISSING_SUFFIX)]
    layout = InputLayout(kind, {name: _column_names(X[name]) for name in names})
    data = {name: _as_block(X[name], layout.describe(name)) for name in names}
    # Missing-row masks travel along; extract_missing checks and applies them.
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
    return {ARRAY_MODALITY: as_float_array(X, "X")}, layout


def _column_names(value):
    if isinstance(value, pd.DataFrame):
        return tuple(value.columns)
    return None


def tensor_to_array(value, label):
    """A torch tensor as a numpy array or scipy sparse matrix; anything else as given.

    numpy has no bfloat16 and no sparse layouts: bfloat16 becomes float32
    (which holds every bfloat16 value exactly), a 2-D sparse tensor a CSR
    matrix, and a sparse tensor of another rank a dense array.

    Parameters
    ----------
    value : object
        The value, a tensor or not.
    label : str
        How messages name the data.

    Returns
    -------
    object
        ``value`` itself when it is not a tensor.
    """
    if not torch.is_tensor(value):
        return value
    value = value.detach().cpu()
    if value.layout != torch.strided:
        if value.ndim != 2:
            value = value.to_dense()
        else:
            coo = value.to_sparse_coo().coalesce()
            rows, columns = coo.indices().numpy()
            return sparse.csr_matrix(
                (tensor_to_array(coo.values(), label), (rows, columns)), shape=tuple(coo.shape)
            )
    if value.dtype == torch.bfloat16:
        value = value.float()
    try:
        return value.numpy()
    except (TypeError, RuntimeError) as error:
        raise TypeError(
            f"{label} is a torch tensor of dtype {value.dtype}, which numpy cannot hold: "
            f"{error}"
        ) from error


def check_array_like(value, label):
    """Refuse, before numpy reads it, a value that is no array-like.

    numpy turns any object with ``len`` and item access into an array by
    reading it item by item: an AnnData object then fails deep inside
    numpy, and iterating a MuData object never ends. So only the forms an
    array can come from are read: ndarrays, DataFrames and Series, tensors,
    sparse matrices, lists and tuples, and objects that say how they are an
    array (``__array__``, ``__array_interface__``, ``__dlpack__``).

    Parameters
    ----------
    value : object
        A block, or X itself.
    label : str
        How the message names it.
    """
    if isinstance(value, (np.ndarray, pd.DataFrame, pd.Series, list, tuple)):
        return
    if torch.is_tensor(value) or sparse.issparse(value):
        return
    if any(hasattr(value, name) for name in ("__array__", "__array_interface__", "__dlpack__")):
        return
    kind = type(value)
    hint = _SCVERSE_HINTS.get(kind.__module__.split(".")[0], "")
    raise TypeError(
        f"{label} is a {kind.__module__}.{kind.__qualname__}, which is not an input "
        "form of skmmae: pass a dict of modality name -> array (numpy, pandas, "
        f"torch, scipy sparse), a DataFrame, or one array.{hint}"
    )


#: Where a scverse container is given, how to pass its matrices instead.
_SCVERSE_HINTS = {
    "anndata": " For an AnnData, pass its matrices by name, e.g. "
    "{'rna': adata.X, 'protein': adata.obsm['protein']}.",
    "mudata": " For a MuData, pass one matrix per modality, e.g. "
    "{name: mod.X for name, mod in mdata.mod.items()}.",
}


def _as_block(value, label):
    """One modality's value as an ndarray, sparse matrix or DataFrame."""
    check_array_like(value, label)
    value = tensor_to_array(value, label)
    if sparse.issparse(value) or isinstance(value, (np.ndarray, pd.DataFrame)):
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


def _rank_phrase(ndims):
    return " or ".join(f"{d}-D" for d in ndims)


def as_float_array(value, label, ndims=(2,)):
    """Convert one modality to a C-contiguous, finite float32 array.

    Parameters
    ----------
    value : array-like
        The modality's values.
    label : str
        How messages name the data, e.g. ``"Modality 'a'"``.
    ndims : tuple of int, default=(2,)
        The accepted ranks.

    Returns
    -------
    ndarray of dtype float32
    """
    value = tensor_to_array(value, label)
    if sparse.issparse(value):
        raise TypeError(
            f"{label} is a sparse matrix; this modality needs dense values (sparse "
            "input is for count data: modalities={name: 'counts'})."
        )
    try:
        # Values too large for float32 become infinity here, and NaN stays:
        # check_finite names them below, so numpy need not warn.
        with np.errstate(over="ignore", invalid="ignore"):
            array = check_array(
                value,
                dtype=np.float32,
                order="C",
                ensure_all_finite=False,
                ensure_2d=ndims == (2,),
                allow_nd=max(ndims) > 2,
                input_name=label,
            )
    except (TypeError, ValueError) as error:
        rank = _rank_phrase(ndims)
        raise type(error)(f"{label} could not be read as a {rank} numeric array: {error}") from error
    if array.ndim not in ndims:
        raise ValueError(
            f"{label} must be a {_rank_phrase(ndims)} array; got shape {array.shape}."
        )
    check_finite(array, label)
    return array


def as_integer_array(value, label, ndims=(2,)):
    """Convert one modality of integer values (codes, token ids) to int64.

    Floats are accepted when every value is a whole number.

    Parameters
    ----------
    value : array-like
        The modality's values.
    label : str
        How messages name the data.
    ndims : tuple of int, default=(2,)
        The accepted ranks.

    Returns
    -------
    ndarray of dtype int64, C-contiguous
    """
    value = tensor_to_array(value, label)
    if sparse.issparse(value):
        raise TypeError(f"{label} is a sparse matrix; this modality needs a dense array.")
    array = np.asarray(value)
    if array.ndim not in ndims:
        raise ValueError(
            f"{label} must be a {_rank_phrase(ndims)} array; got shape {array.shape}."
        )
    if array.dtype.kind in "iub":
        return np.ascontiguousarray(array, dtype=np.int64)
    if array.dtype.kind != "f":
        raise TypeError(f"{label} must hold integers; got values of dtype {array.dtype}.")
    check_finite(array, label)
    whole = np.equal(np.mod(array, 1), 0)
    if not whole.all():
        rows = ~whole.reshape(len(array), -1).all(axis=1)
        raise_for_rows(label, "must hold integers; got non-integer values", rows)
    return np.ascontiguousarray(array, dtype=np.int64)


def extract_missing(data, layout, fitting, unscanned=()):
    """Find the rows where a sample lacks a modality, and fill them.

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

    Returns
    -------
    data : dict of str -> block
        The blocks, filled, without the mask entries.
    missing : dict of str -> ndarray of bool of shape (n_samples,)
        For each modality that some (not all) samples lack: True where lacking.
    """
    masks = {key[: -len(MISSING_SUFFIX)]: data[key] for key in data if key.endswith(MISSING_SUFFIX)}
    blocks = {name: block for name, block in data.items() if not name.endswith(MISSING_SUFFIX)}
    unknown = [name for name in masks if name not in blocks]
    if unknown:
        raise ValueError(
            f"X has missing-row masks for {unknown}, which X has no values for; masks "
            f"must name one of its modalities {list(blocks)}."
        )
    missing, filled = {}, {}
    for name, block in blocks.items():
        lacking = None if name in unscanned else _missing_rows(block)
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
            missing[name] = lacking
            first = int(np.argmin(lacking))
            filled[name] = take_rows(block, np.where(lacking, first, np.arange(len(lacking))))
    return filled, missing


def _missing_rows(block):
    """Rows entirely NaN (None for objects), or None when no row can be."""
    if sparse.issparse(block):
        return None
    if isinstance(block, pd.DataFrame):
        return block.isna().to_numpy().all(axis=1) if block.shape[1] else None
    if block.dtype.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(block.sum()):  # one reduction proves there is no NaN
                return None
        return np.isnan(block.reshape(len(block), -1)).all(axis=1)
    if block.dtype.kind == "O":
        return pd.isna(block.reshape(len(block), -1)).all(axis=1)
    return None


def take_rows(block, rows):
    """Rows ``rows`` (indices or a boolean mask) of an ndarray, sparse matrix or DataFrame."""
    rows = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
    if isinstance(block, pd.DataFrame):
        return block.iloc[rows]
    return block[rows]


def check_some_modality(missing, given, fitted, n_samples):
    """Raise if a sample lacks every modality.

    Parameters
    ----------
    missing : dict of str -> ndarray of bool
        Missing rows of the given modalities that lack some.
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
            lacking_all &= missing.get(name, np.zeros(n_samples, dtype=bool))
    if lacking_all.any():
        raise ValueError(
            f"{int(lacking_all.sum())} samples have no modality at all (first rows: "
            f"{_first_rows(lacking_all)}); each sample needs at least one of the "
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


_FINITE_SCAN_DEFERRED = contextvars.ContextVar("skmmae_finite_scan_deferred", default=False)


@contextlib.contextmanager
def finite_scan_deferred():
    """Within this context :func:`check_finite` does not scan the values.

    For inference on a device: the caller proves the values finite there,
    after the copy (one reduction per block), and checks again on the host
    when it cannot (see ``MultimodalAutoencoder._inference_data``).
    """
    token = _FINITE_SCAN_DEFERRED.set(True)
    try:
        yield
    finally:
        _FINITE_SCAN_DEFERRED.reset(token)


def check_finite(values, label):
    """Raise a ``ValueError`` naming ``label`` if values hold NaN or infinity.

    Does nothing inside :func:`finite_scan_deferred`.

    Parameters
    ----------
    values : ndarray of shape (n_samples, ...)
        Float values, one sample per row.
    label : str
        How the message names the data.
    """
    if _FINITE_SCAN_DEFERRED.get():
        return
    # One reduction instead of a boolean mask of the whole block: a finite
    # sum proves that every value is finite (NaN and inf propagate).
    with np.errstate(over="ignore", invalid="ignore"):
        total = values.sum()
    if values.size == 0 or np.isfinite(total):
        return
    values = values.reshape(len(values), -1)
    finite = np.isfinite(values)
    if finite.all():  # the sum overflowed; every value is finite, maybe too large
        too_large = (np.abs(values) > LARGEST_VALUE).any(axis=1)
        if too_large.any():
            raise_for_rows(
                label,
                f"has values too large to compute with (beyond {LARGEST_VALUE:.1e})",
                too_large,
                "float32 holds values up to 3.4e+38, and standardizing or "
                "reconstructing them would overflow. Rescale the data.",
            )
        return
    # Rows entirely NaN never get here from the estimator: they mark a
    # missing modality and are filled before the modality checks its values.
    bad = ~finite.all(axis=1)
    has_nan = np.isnan(values).any()
    what = "NaN" if has_nan else "infinity (or a value too large for float32)"
    hint = " (a row entirely NaN marks a sample that lacks the modality)" if has_nan else ""
    raise_for_rows(label, f"contains {what}", bad, f"Values must be finite{hint}.")


def raise_for_rows(label, message, rows, hint=""):
    """Raise ``ValueError("<label> <message> in N rows (first: ...). <hint>")``.

    Parameters
    ----------
    label : str
        How the message names the data.
    message : str
        What is wrong, completing "``label`` ...".
    rows : ndarray of bool of shape (n_samples,)
        The offending rows.
    hint : str, default=""
        What to do about it, appended.
    """
    rows = np.asarray(rows, dtype=bool)
    text = f"{label} {message} in {int(rows.sum())} rows (first: {_first_rows(rows)})."
    raise ValueError(f"{text} {hint}".rstrip())


def _first_rows(mask, limit=5):
    rows = np.flatnonzero(mask)[:limit].tolist()
    return ", ".join(map(str, rows))


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
        Modalities validated inside :func:`finite_scan_deferred`.

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
        deferred = finite_scan_deferred() if name in unscanned else contextlib.nullcontext()
        with deferred:
            checked[name] = modality.validate(data[name], label)
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


def restore_modality(values, layout, name, index=None):
    """One modality's values in the form it had in ``layout``.

    Parameters
    ----------
    values : ndarray
        The modality's values.
    layout : InputLayout
        The form of the data given to fit.
    name : str
        The modality.
    index : pandas.Index, default=None
        Row labels for DataFrame outputs.

    Returns
    -------
    ndarray or DataFrame
        A DataFrame where the modality had column labels (a DataFrame block,
        or MultiIndex columns ``(name, feature)``), else the array.
    """
    columns = layout.feature_names.get(name)
    if columns is None:
        return values
    if layout.kind == _MULTIINDEX:
        columns = pd.MultiIndex.from_product([[name], columns])
    return pd.DataFrame(values, columns=columns, index=index)
