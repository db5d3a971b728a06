"""Loader for BasicMotions: a smart watch's accelerometer and gyroscope, optionally offset by known lags."""

import numpy as np
from skorch.helper import SliceDict
from sklearn.utils import check_random_state

from ._files import load_arrays, make_bunch, read_description

__all__ = ["load_basic_motions"]

ACTIVITIES = ("Standing", "Walking", "Running", "Badminton")
STEPS = 100


def load_basic_motions(*, max_lag=0, random_state=None, return_X_y=False):
    """Load BasicMotions: 80 recordings of a smart watch's accelerometer and gyroscope.

    =================  ==============================================
    samples            80 (20 per activity)
    modalities         accelerometer (80, 3, 100) float32, gyroscope
                       (80, 3, 100) float32: 3 axes, 100 steps of
                       0.1 s (fewer with ``max_lag``)
    target             int, the activity
    =================  ==============================================

    Four students wore a smart watch while standing, walking, running and
    playing badminton, five times each; the watch recorded its 3-D
    accelerometer and 3-D gyroscope every tenth of a second for ten
    seconds. From the UEA multivariate time series classification archive
    (Bagnall et al. 2018), as the aeon package ships it; ``DESCR`` has the
    source and attribution. Name both kinds: ``modalities={"accelerometer":
    "timeseries", "gyroscope": "timeseries"}``.

    With ``max_lag``, the gyroscope lags behind the accelerometer by a
    known number of steps drawn per recording, as if the two sensors'
    clocks were offset: each recording keeps the ``100 - 2 max_lag``
    steps of the accelerometer from step ``max_lag`` on, and the
    gyroscope's steps ``lag`` earlier, ``lag`` drawn uniformly from
    ``-max_lag`` to ``max_lag``.

    Parameters
    ----------
    max_lag : int, default=0
        The largest delay of the gyroscope, in steps (0: the recordings as
        they are, every lag 0).
    random_state : int, RandomState instance or None, default=None
        Seeds the draw of the lags.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : SliceDict
            ``"accelerometer"`` and ``"gyroscope"``: (80, 3, 100 - 2
            max_lag) float32, three axes each (the archive's first and
            last three dimensions).
        target : ndarray of shape (80,)
            The activity of each recording, an index into ``target_names``.
        target_names : ndarray of shape (4,)
            "Standing", "Walking", "Running", "Badminton".
        lags : ndarray of shape (80,)
            How many steps the gyroscope lags behind the accelerometer.
        archive_test : ndarray of shape (80,), bool
            Whether the archive puts the recording in its test split (the
            last 40).
        DESCR : str
            Description, source and attribution.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skmmae.datasets import load_basic_motions
    >>> motions = load_basic_motions(max_lag=10, random_state=0)
    >>> motions.data["accelerometer"].shape, motions.data["gyroscope"].shape
    ((80, 3, 80), (80, 3, 80))
    >>> int(abs(motions.lags).max()) <= 10, motions.target_names[motions.target[:2]].tolist()
    (True, ['Standing', 'Standing'])
    """
    if not (isinstance(max_lag, (int, np.integer)) and 0 <= max_lag < STEPS // 2):
        raise ValueError(f"max_lag must be an int from 0 to {STEPS // 2 - 1}; got {max_lag!r}.")
    arrays = load_arrays("basic_motions.npz")
    accelerometer, gyroscope = arrays["accelerometer"], arrays["gyroscope"]
    n = len(accelerometer)
    lags = check_random_state(random_state).randint(-max_lag, max_lag + 1, size=n)
    kept = STEPS - 2 * max_lag
    window = np.arange(max_lag, max_lag + kept)
    data = SliceDict(
        accelerometer=np.ascontiguousarray(accelerometer[:, :, window]),
        gyroscope=np.stack([gyroscope[i][:, window - lag] for i, lag in enumerate(lags)]),
    )
    return make_bunch(
        data,
        arrays["activity"].astype(np.int64),
        return_X_y,
        target_names=np.array(ACTIVITIES),
        lags=lags,
        archive_test=arrays["archive_test"],
        DESCR=read_description("basic_motions.rst"),
    )
