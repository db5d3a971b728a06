"""Kind names, and the conservative guess of a kind from the data itself."""

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import clone
from .._disk import DiskBlock

from ._base import Modality
from ._binary import Binary
from ._categorical import Categorical
from ._continuous import Continuous
from ._counts import Counts
from ._image import Image
from ._sequence import Sequence
from ._timeseries import TimeSeries
from ._video import Video

__all__ = ["KINDS", "infer_modality", "make_modality"]

#: Kind name -> Modality class, as accepted in ``modalities={name: "kind"}``.
KINDS = {
    cls.kind: cls
    for cls in (Continuous, Binary, Categorical, Counts, Sequence, Image, Video, TimeSeries)
}


def make_modality(spec, label):
    """An unfitted Modality from a kind name or a Modality instance (cloned).

    Parameters
    ----------
    spec : str or Modality
        A key of :data:`KINDS` or a Modality instance.
    label : str
        How messages name the modality.

    Returns
    -------
    Modality
        A new, unfitted object: the user's instance is never changed.

    Examples
    --------
    >>> from skmmae.modalities import make_modality
    >>> make_modality("binary", "Modality 'a'")
    Binary()
    """
    if isinstance(spec, Modality):
        return clone(spec)
    if isinstance(spec, str) and spec in KINDS:
        return KINDS[spec]()
    raise ValueError(
        f"{label}: the modality kind must be one of {sorted(KINDS)} or a Modality "
        f"instance (e.g. skmmae.modalities.Continuous()). Got {spec!r} instead."
    )


def infer_modality(block, label):
    """Guess the kind of a block from its type, rank and dtype, conservatively.

    Only unambiguous cases are guessed: a scipy sparse matrix is ``"counts"``,
    a 5-D array ``"video"`` (clips ``(n, time, channels, height, width)``), a
    4-D array ``"image"`` (``(n, channels, height, width)``; name the kind
    ``"video"`` for grayscale clips ``(n, time, height, width)``), a boolean
    2-D array ``"binary"``, a 2-D array of strings or a DataFrame with
    non-numeric columns ``"categorical"``, any other numeric 2-D array
    ``"continuous"`` (integer token ids and 0/1 floats included: name their
    kind to use it). A 3-D array could be grayscale images or time series,
    so it raises an error asking which.

    Parameters
    ----------
    block : ndarray, sparse matrix, DataFrame or DiskBlock
        One modality's values.
    label : str
        How messages name the modality.

    Returns
    -------
    Modality
        An unfitted modality of the guessed kind.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae.modalities import infer_modality
    >>> infer_modality(np.zeros((4, 3)), "Modality 'a'")
    Continuous()
    >>> infer_modality(np.zeros((4, 3), dtype=bool), "Modality 'a'")
    Binary()
    >>> infer_modality(np.zeros((4, 6, 3, 8, 8)), "Modality 'clip'")
    Video()
    """
    if sparse.issparse(block):
        return make_modality("counts", label)
    if isinstance(block, pd.DataFrame):
        numeric = all(pd.api.types.is_numeric_dtype(t) for t in block.dtypes)
        bools = all(pd.api.types.is_bool_dtype(t) for t in block.dtypes)
        kind = "binary" if bools else "continuous" if numeric else "categorical"
        return make_modality(kind, label)
    # A block on disk says its dtype without being read.
    dtype = block.dtype if isinstance(block, (np.ndarray, DiskBlock)) else np.asarray(block).dtype
    ndim = np.ndim(block)
    if ndim == 5:
        return make_modality("video", label)
    if ndim == 4:
        return make_modality("image", label)
    if ndim == 3:
        raise ValueError(
            f"{label} is 3-D with samples of shape {np.shape(block)[1:]}: it could be "
            "grayscale images (n, height, width) or time series (n, channels, time). "
            "Say which with modalities={name: 'image'} or {name: 'timeseries'}."
        )
    if ndim == 2 and dtype.kind == "b":
        return make_modality("binary", label)
    if ndim == 2 and (dtype.kind in "US" or dtype.kind == "O" and _all_strings(block)):
        return make_modality("categorical", label)
    return make_modality("continuous", label)


def _all_strings(block):
    """Whether every value is a str or missing (None or NaN: missing cells), some a str."""
    values = np.asarray(block).ravel()
    missing = pd.isna(values)
    return not missing.all() and all(isinstance(v, str) for v in values[~missing])
