"""A generator of two time series offset by a known delay per sample, at two rates."""

import numpy as np
from skorch.helper import SliceDict
from sklearn.utils import Bunch, check_random_state

__all__ = ["make_lagged"]


def make_lagged(
    n_samples=500,
    *,
    n_classes=3,
    length=64,
    rate_ratio=2,
    max_lag=8,
    noise=0.1,
    min_length=None,
    random_state=None,
    return_X_y=False,
):
    """Two time series of one hidden signal, the second delayed by a known lag per sample.

    Each sample draws a hidden signal: two sinusoids whose frequencies
    depend on its class, with random phases and amplitudes, plus a slow
    random drift. Modality ``"a"`` records it at the reference rate:
    ``length`` steps of 2 channels (the signal and its square). Modality
    ``"b"`` records it ``lag`` steps of ``"a"`` later, at ``1 /
    rate_ratio`` of the rate: ``length // rate_ratio`` steps of 2 channels
    (the delayed signal and its negated hyperbolic tangent). The lag of each
    sample is drawn uniformly from ``-max_lag`` to ``max_lag`` steps of
    ``"a"``; a positive lag means that ``"b"`` lags behind ``"a"``. Both
    modalities get Gaussian noise of standard deviation ``noise``.

    With ``min_length``, recordings differ in length: each sample's
    recording stops after a number of steps of ``"a"`` drawn uniformly
    from ``min_length`` to ``length`` (a multiple of ``rate_ratio``), and
    both series are NaN from there on (``"b"`` after that many steps over
    ``rate_ratio``).

    Parameters
    ----------
    n_samples : int, default=500
        Number of samples.
    n_classes : int, default=3
        Number of classes (frequency pairs).
    length : int, default=64
        Steps of modality ``"a"``.
    rate_ratio : int, default=2
        How many steps of ``"a"`` one step of ``"b"`` spans.
    max_lag : int, default=8
        Largest delay, in steps of ``"a"``.
    noise : float, default=0.1
        Standard deviation of the noise added to every value.
    min_length : int or None, default=None
        The shortest recording, in steps of ``"a"``; None: every recording
        has ``length`` steps.
    random_state : int, RandomState instance or None, default=None
        Seeds every draw.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data``: a :class:`skorch.helper.SliceDict` with ``"a"`` of shape
        ``(n_samples, 2, length)`` and ``"b"`` of shape ``(n_samples, 2,
        length // rate_ratio)`` (name their kind ``"timeseries"``);
        ``target``: the class of each sample; ``lags``: each sample's
        delay of ``"b"`` behind ``"a"``, in steps of ``"a"``; ``periods``:
        how many steps of ``"a"`` one step of each modality spans;
        ``lengths``: each sample's recorded steps of ``"a"``.
    (data, target) : tuple
        With ``return_X_y=True``.

    Examples
    --------
    >>> from skmmae.datasets import make_lagged
    >>> lagged = make_lagged(100, random_state=0)
    >>> lagged.data["a"].shape, lagged.data["b"].shape, lagged.periods
    ((100, 2, 64), (100, 2, 32), {'a': 1.0, 'b': 2.0})
    >>> int(lagged.lags.min()) >= -8 and int(lagged.lags.max()) <= 8
    True
    """
    rng = check_random_state(random_state)
    if length % rate_ratio:
        raise ValueError(f"length={length} must be a multiple of rate_ratio={rate_ratio}.")
    if min_length is not None and not rate_ratio <= min_length <= length:
        raise ValueError(
            f"min_length={min_length} must lie between rate_ratio={rate_ratio} and "
            f"length={length}."
        )
    target = rng.randint(n_classes, size=n_samples)
    lags = rng.randint(-max_lag, max_lag + 1, size=n_samples)
    # Class c: frequencies 1 + c and 2.5 + 1.5 c cycles per `length` steps.
    frequencies = np.stack([1.0 + np.arange(n_classes), 2.5 + 1.5 * np.arange(n_classes)], axis=1)
    phases = rng.uniform(0, 2 * np.pi, size=(n_samples, 2))
    amplitudes = rng.uniform(0.5, 1.5, size=(n_samples, 2))
    drift = rng.normal(scale=0.3, size=(n_samples, 2))

    def signal(steps):
        """The hidden signal at ``steps`` of "a" (one row per sample)."""
        t = steps / length
        waves = amplitudes[:, :, None] * np.sin(
            2 * np.pi * frequencies[target][:, :, None] * t[:, None, :] + phases[:, :, None]
        )
        return waves.sum(axis=1) + drift[:, :1] * t + drift[:, 1:] * t**2

    steps_a = np.broadcast_to(np.arange(length, dtype=float), (n_samples, length))
    steps_b = np.arange(0, length, rate_ratio, dtype=float)[None, :] - lags[:, None]
    s_a, s_b = signal(steps_a), signal(steps_b)
    a = np.stack([s_a, s_a**2], axis=1)
    b = np.stack([s_b, -np.tanh(s_b)], axis=1)
    a = (a + noise * rng.normal(size=a.shape)).astype(np.float32)
    b = (b + noise * rng.normal(size=b.shape)).astype(np.float32)
    lengths = np.full(n_samples, length)
    if min_length is not None:
        shortest = -(-min_length // rate_ratio)
        lengths = rate_ratio * rng.randint(shortest, length // rate_ratio + 1, size=n_samples)
        a[np.broadcast_to(np.arange(length) >= lengths[:, None, None], a.shape)] = np.nan
        after_b = np.arange(0, length, rate_ratio) >= lengths[:, None, None]
        b[np.broadcast_to(after_b, b.shape)] = np.nan
    data = SliceDict(a=a, b=b)
    if return_X_y:
        return data, target
    periods = {"a": 1.0, "b": float(rate_ratio)}
    return Bunch(data=data, target=target, lags=lags, periods=periods, lengths=lengths)
