"""Results given back in the form of the data given to ``fit``.

:func:`skmmae._validation.split_modalities` remembers the form of X in an
:class:`~skmmae._validation.InputLayout`; these functions restore it for
``inverse_transform``, ``predict_modality`` and ``sample``.
"""

import pandas as pd
from skorch.helper import SliceDict

from ._validation import _ARRAY, _FRAME, _MULTIINDEX, _SLICEDICT, ARRAY_MODALITY

__all__ = ["restore_layout", "restore_modality"]


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
