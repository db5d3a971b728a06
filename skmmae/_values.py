"""One block's values: conversion to the arrays the model reads, and the checks on them.

The modalities validate their values with these converters
(:func:`as_float_array`, :func:`as_integer_array`), which refuse what is not
array-like (:func:`check_array_like`) and prove float values finite
(:func:`check_finite`). Every message names the data and, through
:func:`raise_for_rows`, the first offending rows.
"""

import contextlib
import contextvars

import numpy as np
import pandas as pd
import torch
from scipy import sparse
from sklearn.utils.validation import check_array

__all__ = [
    "LARGEST_VALUE",
    "as_float_array",
    "as_integer_array",
    "check_array_like",
    "check_finite",
    "first_rows",
    "raise_for_rows",
    "row_numbers",
    "take_rows",
    "tensor_to_array",
]


#: The largest magnitude accepted in float data: a quarter of float32's
#: largest value, so that centering and scaling (``x - mean``,
#: ``z * scale + mean``) cannot overflow.
LARGEST_VALUE = float(np.finfo(np.float32).max) / 4


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
    "mudata": " For a MuData, skmmae.io.from_mudata(mdata) gives that dict, with its "
    "cells aligned across modalities, or pass one matrix per modality, e.g. "
    "{name: mod.X for name, mod in mdata.mod.items()}.",
}


def _rank_phrase(ndims):
    return " or ".join(f"{d}-D" for d in ndims)


def as_float_array(value, label, ndims=(2,), scan_finite=True, allow_nan=False):
    """Convert one modality to a C-contiguous, finite float32 array.

    Parameters
    ----------
    value : array-like
        The modality's values.
    label : str
        How messages name the data, e.g. ``"Modality 'a'"``.
    ndims : tuple of int, default=(2,)
        The accepted ranks.
    scan_finite : bool, default=True
        Scan the values for NaN and infinity (:func:`check_finite`). False
        leaves that proof to the caller.
    allow_nan : bool, default=False
        NaN marks a missing value (a cell the sample lacks); only infinity
        is refused.

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
    if scan_finite:
        check_finite(array, label, allow_nan=allow_nan)
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


def take_rows(block, rows):
    """Rows ``rows`` (indices or a boolean mask) of an ndarray, sparse matrix, DataFrame or DiskBlock.

    A block on disk gives a block of those rows, still unread.
    """
    rows = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
    if isinstance(block, pd.DataFrame):
        return block.iloc[rows]
    from ._disk import DiskBlock  # _disk reads values with this module's checks

    if isinstance(block, DiskBlock):
        return block.take(rows)
    return block[rows]


def check_finite(values, label, allow_nan=False):
    """Raise a ``ValueError`` naming ``label`` if values hold NaN or infinity.

    Parameters
    ----------
    values : ndarray of shape (n_samples, ...)
        Float values, one sample per row.
    label : str
        How the message names the data.
    allow_nan : bool, default=False
        Refuse only infinity: NaN marks a missing cell.
    """
    # One reduction instead of a boolean mask of the whole block: a finite
    # sum proves that every value is finite (NaN and inf propagate).
    with np.errstate(over="ignore", invalid="ignore"):
        total = values.sum()
    if values.size == 0 or np.isfinite(total):
        return
    values = values.reshape(len(values), -1)
    finite = np.isfinite(values) | np.isnan(values) if allow_nan else np.isfinite(values)
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
    has_nan = not allow_nan and np.isnan(values).any()
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
    text = f"{label} {message} in {int(rows.sum())} rows (first: {first_rows(rows)})."
    raise ValueError(f"{text} {hint}".rstrip())


def first_rows(mask, limit=5):
    rows = np.flatnonzero(mask)[:limit]
    numbers = _ROW_NUMBERS.get()
    if numbers is not None:  # a chunk of rows read from disk
        rows = numbers[rows]
    return ", ".join(map(str, rows.tolist()))


#: The row numbers, in the user's block, of the rows being checked; None
#: when they are the positions themselves.
_ROW_NUMBERS = contextvars.ContextVar("row_numbers", default=None)


@contextlib.contextmanager
def row_numbers(rows):
    """Within the block, messages name the checked rows by ``rows`` (their numbers in the user's block)."""
    token = _ROW_NUMBERS.set(np.asarray(rows))
    try:
        yield
    finally:
        _ROW_NUMBERS.reset(token)
