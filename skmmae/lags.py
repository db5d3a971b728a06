"""Time lags between series: align each sample's series to a reference before encoding.

In multimodal recordings the streams rarely line up: one sensor starts
late, subtitles lag the speech, and the delay differs from one recording
to the next. A model that ignores such a per-sample delay must spread its
code over every alignment it has seen.

With ``MultimodalAutoencoder(lags=Lags(...))`` the model estimates, for
each sample, the delay of every time-series modality behind a reference
one, and shifts the series back by it before anything else reads them:
the encoders, the decoders, the loss and the read-outs all work in the
reference's time frame. :meth:`~skmmae.MultimodalAutoencoder.estimate_lags`
gives the delays; :func:`shift_series` moves a series by them. How the
delays are estimated, and what the design rests on:
:mod:`skmmae._lag_aligner` and :doc:`/timeseries`.
"""

from numbers import Integral, Real

import numpy as np
import torch

from ._compat import Interval
from ._lag_aligner import shift
from .options import _Option

__all__ = ["Lags", "shift_series"]


class Lags(_Option):
    """Align time-series modalities to a reference, sample by sample, before encoding.

    Every modality of the ``"timeseries"`` kind other than the reference
    is aligned: its delay behind the reference is estimated per sample by
    the cross-correlation of learned projections of both series, and the
    series is shifted back by it (:mod:`skmmae._lag_aligner`).
    Reconstructions and predictions of an aligned modality are in the
    reference's time frame (its series as if it had no delay); a series
    given without the reference is not aligned.

    Parameters
    ----------
    reference : str or None, default=None
        The modality the others are aligned to. None takes the time series
        with the most steps (the first of them on a tie).
    max_lag : int or None, default=None
        The largest delay considered, either way, in steps of the
        reference; None takes a quarter of the reference's length.
    rates : dict of str -> float or None, default=None
        Samples per second of each time-series modality; the lags of
        :meth:`~skmmae.MultimodalAutoencoder.estimate_lags` are then in
        seconds. None: every series spans the same time as the reference
        (so a series of half its steps runs at half its rate), and lags
        are in steps of the reference.

    Examples
    --------
    Two series of one signal, the second at half the rate and delayed by
    up to 8 steps of the first:

    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.datasets import make_lagged
    >>> from skmmae.lags import Lags
    >>> lagged = make_lagged(300, max_lag=8, random_state=0)
    >>> ae = MultimodalAutoencoder(
    ...     8, modalities={"a": "timeseries", "b": "timeseries"},
    ...     lags=Lags(reference="a", max_lag=8), max_epochs=5, random_state=0,
    ... ).fit(lagged.data)
    >>> ae.estimate_lags(lagged.data)["b"].shape
    (300,)
    """

    _parameter_constraints = {
        "reference": [str, None],
        "max_lag": [Interval(Integral, 1, None, closed="left"), None],
        "rates": [dict, None],
    }

    def __init__(self, reference=None, max_lag=None, rates=None):
        self.reference = reference
        self.max_lag = max_lag
        self.rates = rates

    def aligner_spec(self, modalities):
        """The :class:`~skmmae._lag_aligner.LagAligner` arguments for fitted ``modalities``.

        Raises ``ValueError`` naming what does not fit them.
        """
        series = {n: m.input_shape_ for n, m in modalities.items() if m.kind == "timeseries"}
        if len(series) < 2:
            raise ValueError(
                "The 'lags' parameter aligns time-series modalities to a reference, and needs "
                f"at least two; the modalities of kind 'timeseries' are {list(series)}. Name "
                "the kind of each series: modalities={name: 'timeseries'}."
            )
        reference = self.reference
        if reference is None:
            reference = max(series, key=lambda name: series[name][1])
        elif reference not in series:
            raise ValueError(
                f"Lags(reference={reference!r}) must name a time-series modality; they are "
                f"{list(series)}."
            )
        length = series[reference][1]
        max_lag = length // 4 if self.max_lag is None else self.max_lag
        if not 1 <= max_lag < length:
            raise ValueError(
                f"Lags(max_lag={max_lag}) must be at least 1 and less than the {length} steps "
                f"of the reference modality {reference!r}."
            )
        return {
            "shapes": series,
            "reference": reference,
            "periods": self._periods(series, reference),
            "max_lag": max_lag,
        }

    def _periods(self, series, reference):
        """How many reference steps one step of each series spans."""
        if self.rates is None:
            return {name: series[reference][1] / shape[1] for name, shape in series.items()}
        missing = [name for name in series if name not in self.rates]
        bad = [
            name for name, rate in self.rates.items()
            if not (isinstance(rate, Real) and 0 < rate < np.inf)
        ]
        if missing or bad:
            raise ValueError(
                "Lags(rates=...) must give a positive sampling rate (samples per second) "
                f"for every time-series modality {list(series)}; "
                + (f"missing {missing}." if missing else f"not positive: {bad}.")
            )
        return {name: self.rates[reference] / self.rates[name] for name in series}

    def unit(self, reference):
        """Seconds per reference step (with ``rates``), or 1 (lags in steps)."""
        return 1.0 if self.rates is None else 1.0 / self.rates[reference]


def shift_series(X, lags):
    """Read each series ``lags`` steps later: undo a delay of ``lags`` (or, negated, apply one).

    ``out[i, ..., t] = X[i, ..., t + lags[i]]``, with linear interpolation
    for fractional lags and the end values held beyond the ends: a series
    that lags behind another by ``lags`` steps, shifted by ``lags``, lines
    up with it. Use it with the lags of
    :meth:`~skmmae.MultimodalAutoencoder.estimate_lags`, divided by the
    series' period (reference steps per step of this series).

    Parameters
    ----------
    X : array-like of shape (n_samples, time) or (n_samples, channels, time)
        The series.
    lags : array-like of shape (n_samples,)
        The shift of each sample, in steps of ``X``; may be fractional.

    Returns
    -------
    ndarray of the shape of X, float32

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae.lags import shift_series
    >>> shift_series(np.arange(6.0).reshape(1, 6), [2])
    array([[2., 3., 4., 5., 5., 5.]], dtype=float32)
    >>> shift_series(np.arange(6.0).reshape(1, 6), [-0.5])
    array([[0. , 0.5, 1.5, 2.5, 3.5, 4.5]], dtype=float32)
    """
    values = np.asarray(X, dtype=np.float32)
    steps = np.asarray(lags, dtype=np.float32).reshape(-1)
    if values.ndim not in (2, 3) or len(steps) != len(values):
        raise ValueError(
            "shift_series needs X of shape (n_samples, time) or (n_samples, channels, time) "
            f"and one lag per sample; got X of shape {values.shape} and {len(steps)} lags."
        )
    if not np.isfinite(steps).all():
        raise ValueError("shift_series needs finite lags; some are NaN or infinite.")
    series = torch.from_numpy(values if values.ndim == 3 else values[:, np.newaxis])
    shifted = shift(series, torch.from_numpy(steps)).numpy()
    return shifted if values.ndim == 3 else shifted[:, 0]
