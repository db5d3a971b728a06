"""The torch part of lag-aware encoding: estimate each sample's delay, align the series.

:class:`LagAligner` sits between the scalers and the encoders of
:class:`~skmmae._module.MultimodalAutoencoderModule`. For each time-series
modality other than the reference it

1. projects both series, their values and their squares, to a few
   components per time step (a learned 1-D convolution), the other one
   resampled to the reference's rate by linear interpolation;
2. scores every candidate lag by the normalized cross-correlation of the
   projections (all lags at once through the FFT), averaged over
   components;
3. takes the best lag, refined to a fraction of a step by a parabola
   through the peak and its neighbours, the classic sub-sample refinement
   of time-delay estimation by cross-correlation (Knapp and Carter, "The
   generalized correlation method for estimation of time delay", IEEE
   Trans. ASSP 24(4), 1976);
4. shifts the series by that lag (linear interpolation, the end values
   held beyond the ends), so that every encoder, decoder and loss sees it
   in the reference's time frame; its encoder reads only the steps that
   every lag in range leaves recorded (:meth:`LagAligner.encoder_view`),
   so that the code does not depend on the lag through the held ends.

The projections learn by their own objective, never by the reconstruction
loss (the lag is detached from the data path): the softmax-weighted peak of
the correlation, which is highest when the projections keep what the two
series share, at the lag where they share it; a shift-invariant relative of
canonical correlation analysis, as canonical time warping (Zhou and De la
Torre, NIPS 2009) pairs CCA with alignment. Detached, the model cannot lower
its loss by choosing lags that make a series easier to reconstruct.
"""

import math

import torch
from torch import nn

from ._modality_dict import ModalityDict

__all__ = ["LagAligner", "ZeroPhaseConv1d", "shift"]

#: Softmax temperature of the projections' objective, in correlation units:
#: low enough that the objective is close to the peak correlation.
_TEMPERATURE = 0.05


class LagAligner(nn.Module):
    """Estimates per-sample lags of series against a reference, and aligns them to it.

    Parameters
    ----------
    shapes : dict of str -> tuple of int
        ``(channels, time)`` of each time-series modality to align, the
        reference included.
    reference : str
        The modality the others are aligned to; lags are in its steps.
    periods : dict of str -> float
        How many reference steps one step of each modality spans.
    max_lag : int
        The largest lag considered, in reference steps, either way.
    components : int, default=1
        Projected components per time step and pair (at most the channels
        of either series).
    kernel_size : int, default=5
        Width of the projecting convolutions, in each modality's own steps.

    Notes
    -----
    Each pair (reference, other) has its own projections, learned from a
    start that :meth:`initialize` finds in closed form: gradient steps on
    the correlation objective alone, from random projections, settled on
    wrong lags in 6 of 18 starts tried on
    :func:`~skmmae.datasets.make_lagged` (``benchmarks/README.md``).
    """

    def __init__(self, shapes, reference, periods, max_lag, components=1, kernel_size=5):
        super().__init__()
        self.reference = reference
        self.lagged = [name for name in shapes if name != reference]
        self.periods = {name: float(periods[name]) for name in shapes}
        self.max_lag = int(max_lag)
        self.length = int(shapes[reference][1])
        ref_channels = shapes[reference][0]
        widths = {n: min(components, ref_channels, shapes[n][0]) for n in self.lagged}
        # Keyed by the other modality of each pair.
        self.reference_side = ModalityDict(
            {n: ZeroPhaseConv1d(2 * ref_channels, widths[n], kernel_size) for n in self.lagged}
        )
        self.other_side = ModalityDict(
            {n: ZeroPhaseConv1d(2 * shapes[n][0], widths[n], kernel_size) for n in self.lagged}
        )
        lags = torch.arange(-self.max_lag, self.max_lag + 1, dtype=torch.float32)
        self.register_buffer("candidates", lags, persistent=False)

    def correlations(self, scaled):
        """Per lagged modality, ``(n, 2 max_lag + 1)`` correlations over candidate lags.

        Column ``j`` scores the lag ``candidates[j]``: the modality's
        series ``lag`` reference steps behind the reference's.
        """
        if self.reference not in scaled:
            return {}
        scores = {}
        # A step with a value not recorded (NaN: a dropout, or after a
        # series' end) counts in no overlap.
        reference, ref_recorded = _recorded(scaled[self.reference])  # once for every pair
        for name in self.lagged:
            if name not in scaled:
                continue
            other, other_recorded = _recorded(scaled[name])
            scores[name] = _cross_correlation(
                _standardized(self.reference_side[name](reference)),
                _standardized(self._resampled(self.other_side[name](other), name)),
                self.max_lag,
                ref_recorded,
                self._resampled(other_recorded, name) > 0.999,
            )
        return scores

    def _resampled(self, series, name):
        """A series of modality ``name`` read at the reference's steps."""
        # Where each reference step falls on the modality's own steps.
        positions = torch.arange(self.length, device=series.device, dtype=torch.float32)
        return _interpolate(series, positions / self.periods[name])

    @torch.no_grad()
    def initialize(self, scaled, present, rounds=3):
        """Start each pair's projections from canonical correlation analysis of its aligned series.

        The first lags come from the pair of channels whose
        cross-correlation peaks highest on average (either sign); then, for
        ``rounds`` rounds, canonical correlation analysis of the series
        aligned by the lags gives the projections (as the centre taps of
        the kernels), and the projections give the lags again.

        Parameters
        ----------
        scaled : dict of str -> Tensor
            Training series in model units (a sample of rows is enough).
        present : dict of str -> Tensor
            Their presence masks, as in a batch.
        rounds : int, default=3
            Rounds of alignment and analysis.
        """
        for name in self.lagged:
            has = _both_present(present, self.reference, name)
            reference, other = scaled[self.reference].float(), scaled[name].float()
            if has is not None:
                reference, other = reference[has], other[has]
            if len(reference) == 0:
                continue  # no sample has both series: the random start stays
            reference, ref_recorded = _recorded(reference)
            other, other_recorded = _recorded(other)
            other = self._resampled(other, name)
            other_recorded = self._resampled(other_recorded, name) > 0.999
            masks = (ref_recorded, other_recorded)
            lags = _lags_of_best_channels(reference, other, self.max_lag, self._peak, masks)
            width = self.reference_side[name].out_channels
            for _ in range(rounds):
                ref_weights, other_weights = _canonical_weights(
                    reference, shift(other, lags), width,
                    ref_recorded & shift(other_recorded.float(), lags).eq(1),
                )
                scores = _cross_correlation(
                    _standardized(torch.einsum("nct,ck->nkt", reference, ref_weights)),
                    _standardized(torch.einsum("nct,ck->nkt", other, other_weights)),
                    self.max_lag,
                    *masks,
                )
                lags = self._peak(scores)
            for side, weights in ((self.reference_side, ref_weights), (self.other_side, other_weights)):
                conv = side[name]
                conv.weight.zero_()
                conv.weight[:, :, conv.kernel_size[0] // 2] = weights.T
                conv.bias.zero_()

    def lags(self, scores, present, missing=0.0):
        """Per lagged modality in ``scores``: ``(n,)`` lags in reference steps, detached.

        ``missing`` for a sample that lacks either series (0: left as it is).
        """
        lags = {}
        for name, correlation in scores.items():
            lag = self._peak(correlation.detach())
            has = _both_present(present, self.reference, name)
            lags[name] = lag if has is None else torch.where(has, lag, missing)
        return lags

    def objective(self, scores, present):
        """What the projections minimize: one minus the mean soft peak of ``scores``.

        The peak is the softmax-weighted mean correlation over the
        candidate lags, averaged over the samples that have both series.
        """
        peaks = []
        for name, correlation in scores.items():
            peak = (torch.softmax(correlation / _TEMPERATURE, dim=1) * correlation).sum(dim=1)
            has = _both_present(present, self.reference, name)
            peaks.append(peak.mean() if has is None else _masked_mean(peak, has))
        return 1.0 - torch.stack(peaks).mean() if peaks else None

    def align(self, scaled, lags):
        """``scaled`` with each lagged modality shifted back by its ``(n,)`` lags."""
        aligned = dict(scaled)
        for name, lag in lags.items():
            aligned[name] = shift(scaled[name], lag / self.periods[name])
        return aligned

    def encoder_view(self, name, series):
        """What the encoder of ``name`` reads of its aligned ``series``: the steps every lag keeps.

        Aligned by a lag, a series has no recorded values for the first or
        last ``lag`` steps (held end values stand in); how many depends on
        the lag, and so would the code. The encoder reads 0 (the mean, in
        model units) on the first and last ``max_lag`` reference steps
        whatever the lag, so that its input does not depend on the lag.
        The loss still scores every step.
        """
        if name not in self.other_side:
            return series
        edge = math.ceil(self.max_lag / self.periods[name])
        steps = torch.arange(series.shape[-1], device=series.device)
        inner = (steps >= edge) & (steps < series.shape[-1] - edge)
        return torch.where(inner, series, 0.0)

    def _peak(self, scores):
        """The best lag of each row, refined by a parabola through the peak and its neighbours."""
        best = scores.argmax(dim=1, keepdim=True)
        inner = best.clamp(1, scores.shape[1] - 2)
        left, centre, right = (scores.gather(1, inner + d).squeeze(1) for d in (-1, 0, 1))
        curvature = left - 2 * centre + right
        offset = torch.where(curvature < 0, 0.5 * (left - right) / curvature.clamp_max(-1e-6), 0.0)
        # At the edge of the range the peak may lie beyond it: no refinement.
        offset = torch.where(inner == best, offset.unsqueeze(1), 0.0).squeeze(1)
        return self.candidates[best.squeeze(1)] + offset.clamp(-0.5, 0.5)


class ZeroPhaseConv1d(nn.Conv1d):
    """A 1-D convolution whose kernels are symmetric about their centre: it delays nothing.

    A free kernel can move its output in time, and a lag estimated from
    two such outputs is then off by the difference of their delays, which
    the correlation objective cannot see. A symmetric (zero-phase) kernel
    filters without moving anything, so the lag between the projections is
    the lag between the series.

    Parameters
    ----------
    in_channels, out_channels : int
        As for ``torch.nn.Conv1d``.
    kernel_size : int
        An odd width; the end values are held at the ends.
    """

    def __init__(self, in_channels, out_channels, kernel_size):
        if kernel_size % 2 == 0:
            raise ValueError(f"A zero-phase kernel needs an odd width; got {kernel_size}.")
        super().__init__(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2,
            padding_mode="replicate",
        )

    def forward(self, x):
        symmetric = 0.5 * (self.weight + self.weight.flip(-1))
        return self._conv_forward(x, symmetric, self.bias)


def shift(series, steps):
    """Each series of ``(n, channels, time)`` read ``steps`` (``(n,)``, fractional) later.

    ``out[i, :, t] = series[i, :, t + steps[i]]``, linearly interpolated,
    the end values held beyond the ends.
    """
    length = series.shape[-1]
    positions = torch.arange(length, device=series.device, dtype=series.dtype)
    return _interpolate(series, positions + steps.to(series.dtype).unsqueeze(1))


def _interpolate(series, positions):
    """``series`` ``(n, c, t)`` read at fractional ``positions`` (``(t',)`` or ``(n, t')``)."""
    last = series.shape[-1] - 1
    positions = positions.clamp(0, last)
    below = positions.floor().clamp_max(max(last - 1, 0))
    fraction = (positions - below).unsqueeze(-2)
    below = below.long()
    above = (below + 1).clamp_max(last)
    if below.ndim == 1:
        return series[..., below] * (1 - fraction) + series[..., above] * fraction
    index = below.unsqueeze(1).expand(-1, series.shape[1], -1)
    lower = series.gather(2, index)
    upper = series.gather(2, (above.unsqueeze(1).expand_as(index)))
    return lower * (1 - fraction) + upper * fraction


def _standardized(projected):
    """Each component of each sample at zero mean and unit variance over time."""
    centred = projected - projected.mean(dim=-1, keepdim=True)
    return centred / centred.pow(2).mean(dim=-1, keepdim=True).add(1e-6).sqrt()


def _recorded(series):
    """``series`` and its squares, NaN read as 0; and ``(n, 1, time)`` True where every channel was recorded.

    The squares let a projection read a series' energy (its squared norm
    over channels, say), where two sensors share that rather than a sign.
    """
    missing = torch.isnan(series)
    values = series.masked_fill(missing, 0.0)
    return torch.cat([values, values * values], dim=1), ~missing.any(dim=1, keepdim=True)


def _cross_correlation(reference, other, max_lag, ref_recorded=None, other_recorded=None):
    """``(n, 2 max_lag + 1)``: Pearson correlation of ``ref[t]`` and ``other[t + lag]`` over their overlap.

    The overlap holds the steps ``t`` where both are recorded (the masks,
    ``(n, 1, time)``; None: every step). Mean over components. Every sum
    over the overlaps of all lags comes from one FFT each (zero-padded, so
    that nothing wraps around), so that the series' ends, which a lag
    moves out of the overlap, and steps not recorded weigh nothing.
    """
    reference, other = reference.float(), other.float()
    length = reference.shape[-1]
    size = 1 << (2 * length - 1).bit_length()
    ref_mask = _mask(ref_recorded, reference)
    other_mask = _mask(other_recorded, other)

    def correlate(x, y):
        """``sum_t x[t] y[t + lag]`` for every lag in range (x, y masked)."""
        full = torch.fft.irfft(torch.fft.rfft(x, size).conj() * torch.fft.rfft(y, size), size)
        return torch.cat([full[..., size - max_lag :], full[..., : max_lag + 1]], dim=-1)

    ref, oth = reference * ref_mask, other * other_mask
    count = correlate(ref_mask, other_mask).clamp_min(1.0)
    ref_sum, other_sum = correlate(ref, other_mask), correlate(ref_mask, oth)
    ref_squares, other_squares = correlate(ref * reference, other_mask), correlate(ref_mask, oth * other)
    covariance = correlate(ref, oth) - ref_sum * other_sum / count
    ref_variance = (ref_squares - ref_sum**2 / count).clamp_min(0)
    other_variance = (other_squares - other_sum**2 / count).clamp_min(0)
    correlation = covariance / (ref_variance * other_variance + 1e-6).sqrt()
    return correlation.mean(dim=1)


def _mask(recorded, series):
    """A float ``(n, 1, time)`` mask of recorded steps (all ones for None)."""
    if recorded is None:
        return series.new_ones((series.shape[0], 1, series.shape[-1]))
    return recorded.to(series.dtype)


def _lags_of_best_channels(reference, other, max_lag, peak, masks):
    """Lags from the channel pair whose correlation peaks highest on average, either sign."""
    best, lags = -math.inf, None
    for i in range(reference.shape[1]):
        for j in range(other.shape[1]):
            scores = _cross_correlation(
                _standardized(reference[:, i : i + 1]), _standardized(other[:, j : j + 1]),
                max_lag, *masks,
            )
            for signed in (scores, -scores):
                strength = float(signed.max(dim=1).values.mean())
                if strength > best:
                    best, lags = strength, peak(signed)
    return lags


def _canonical_weights(reference, other, k, recorded):
    """The first ``k`` canonical directions ``(channels, k)`` of two series.

    Their time steps where both are recorded (``recorded``, ``(n, 1,
    time)``) are the observations.
    """
    keep = recorded.squeeze(1).reshape(-1)

    def observations(series):
        flat = series.transpose(1, 2).reshape(-1, series.shape[1])[keep].double()
        return flat - flat.mean(dim=0)

    def inverse_sqrt(covariance):
        values, vectors = torch.linalg.eigh(covariance)
        ridge = 1e-6 * values.abs().max().clamp_min(1e-12)
        return vectors @ torch.diag((values.clamp_min(0) + ridge).rsqrt()) @ vectors.T

    x, y = observations(reference), observations(other)
    n = max(len(x), 1)
    whiten_x, whiten_y = inverse_sqrt(x.T @ x / n), inverse_sqrt(y.T @ y / n)
    u, _, vh = torch.linalg.svd(whiten_x @ (x.T @ y / n) @ whiten_y)
    return (whiten_x @ u[:, :k]).float(), (whiten_y @ vh.T[:, :k]).float()


def _both_present(present, reference, name):
    """``(n,)`` bool: the samples that have both modalities; None when all do."""
    masks = [present[key].bool() for key in (reference, name) if key in present]
    if not masks:
        return None
    return masks[0] if len(masks) == 1 else masks[0] & masks[1]


def _masked_mean(values, mask):
    return torch.where(mask, values, 0.0).sum() / mask.sum().clamp_min(1)
