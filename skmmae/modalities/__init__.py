"""One class per kind of data: how it is checked, scaled, encoded, decoded and scored.

Pass instances (or kind names) to ``MultimodalAutoencoder(modalities=...)``;
modalities not named there are inferred from the data by
:func:`infer_modality`. The fitted ones are in the estimator's
``modalities_``.
"""

from ._base import Modality
from ._binary import Binary
from ._categorical import Categorical
from ._continuous import Continuous
from ._counts import Counts
from ._image import Image
from ._registry import KINDS, infer_modality, make_modality
from ._sequence import Sequence
from ._timeseries import TimeSeries
from ._video import Video

__all__ = [
    "Binary",
    "Categorical",
    "Continuous",
    "Counts",
    "Image",
    "KINDS",
    "Modality",
    "Sequence",
    "TimeSeries",
    "Video",
    "infer_modality",
    "make_modality",
]
