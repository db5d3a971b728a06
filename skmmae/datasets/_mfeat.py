"""Loader for the UCI Multiple Features data (mfeat)."""

import numpy as np
import pandas as pd
from skorch.helper import SliceDict

from .._docstrings import fill_doc
from ._files import load_arrays, make_bunch, read_description

__all__ = ["load_mfeat"]

MFEAT_VIEWS = ("pix", "fou", "fac", "kar", "zer", "mor")


@fill_doc
def load_mfeat(*, return_X_y=False, as_frame=False):
    """Load the UCI Multiple Features data: 2,000 digits seen six ways.

    =================  ==========================================
    samples            2,000 (200 per digit 0-9, in class order)
    modalities         pix 240, fou 76, fac 216, kar 64, zer 47,
                       mor 6 (649 features in all)
    target             int, the digit
    =================  ==========================================

    Read more in the ``DESCR`` of the returned Bunch. Licensed CC BY 4.0,
    from the UCI Machine Learning Repository.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Return the data as one pandas DataFrame with 2-level MultiIndex
        columns ``(modality, feature)`` and the target as a Series, instead
        of a :class:`skorch.helper.SliceDict` of float64 arrays and an
        ndarray.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : SliceDict or DataFrame
            The six views. A ``SliceDict`` is a dict that sklearn can index
            by rows, so it works with cross-validation.
        target : ndarray or Series of shape (2000,)
            The digit of each sample.
        feature_names : dict of str -> list of str
            Feature names per view (``"pix_0"``, ...).
        target_names : ndarray of shape (10,)
            The digits 0-9.
        frame : DataFrame or None
            The data and target together, only when ``as_frame=True``.
    %(loader_end)s

    Examples
    --------
    >>> from skmmae.datasets import load_mfeat
    >>> X, y = load_mfeat(return_X_y=True)
    >>> {name: block.shape for name, block in X.items()}["pix"]
    (2000, 240)
    >>> y[:3]
    array([0, 0, 0])
    """
    arrays = load_arrays("mfeat.npz")
    views = {name: arrays[name].astype(np.float64) for name in MFEAT_VIEWS}
    target = arrays["target"].astype(np.int64)
    feature_names = {
        name: [f"{name}_{i}" for i in range(block.shape[1])] for name, block in views.items()
    }
    frame = None
    if as_frame:
        data = pd.concat(
            {name: pd.DataFrame(block, columns=feature_names[name]) for name, block in views.items()},
            axis=1,
        )
        target = pd.Series(target, name="digit")
        frame = data.copy()
        frame[("target", "digit")] = target
    else:
        data = SliceDict(**views)
    return make_bunch(
        data,
        target,
        return_X_y,
        feature_names=feature_names,
        target_names=np.arange(10),
        frame=frame,
        DESCR=read_description("mfeat.rst"),
    )
