"""The torch model: per-modality encoders, a fusion, per-modality decoders.

This module knows nothing of skorch or sklearn; the modalities supply the
layers and losses, :mod:`skmmae.fusion` supplies the fusion.

A batch is a dict of tensors: one per given modality, plus, for a modality
that some samples lack, a ``(n,)`` mask of 1 (present) and 0 (missing)
under the key ``name + PRESENT_SUFFIX``. Values in missing rows are never
read into a code nor scored.
"""

import contextlib
import dataclasses

import torch
from torch import nn
from torch.func import functional_call

from ._lag_aligner import LagAligner
from ._layers import LayerSpec, dropout
from ._modality_dict import ModalityDict
from .fusion import make_fusion

__all__ = [
    "AutoencoderOutput",
    "MultimodalAutoencoderModule",
    "PRESENT_SUFFIX",
    "split_presence",
]

#: Key suffix of the presence mask of a modality inside a batch.
PRESENT_SUFFIX = "__present"


@contextlib.contextmanager
def _naming(name):
    """Prefix the modality's name to a ``ValueError``/``TypeError`` raised while building it.

    A custom encoder or decoder (a user's factory or module) is checked
    when the model is built, where the kind that checks it knows no name.
    """
    try:
        yield
    except (TypeError, ValueError) as error:
        raise type(error)(f"Modality {name!r}: {error}") from error


def split_presence(inputs):
    """Split a batch into modality values and presence masks (by modality name)."""
    values, present = {}, {}
    for key, tensor in inputs.items():
        if key.endswith(PRESENT_SUFFIX):
            present[key[: -len(PRESENT_SUFFIX)]] = tensor
        else:
            values[key] = tensor
    return values, present


@dataclasses.dataclass
class AutoencoderOutput:
    """What ``forward`` returns: everything the loss needs, nothing recomputed.

    A dataclass rather than a tuple: skorch treats a tuple output as several
    outputs, each to be moved and concatenated on its own, while this one is
    moved whole by :meth:`to` (as skorch's ``to_device`` does for a caching
    scorer).

    Attributes
    ----------
    code : Tensor of shape (n_samples, encoding_dim)
        The fused code (the posterior mean).
    reconstructions : dict of str -> Tensor
        Decoder output per modality, from the code that was decoded.
    targets : dict of str -> Tensor
        The given modalities in model units.
    present : dict of str -> Tensor
        ``(n,)`` presence masks of the modalities some samples lack.
    logvar : Tensor or None
        Log variance of the code, in variational mode.
    expert_decodings : tuple of (reconstructions, weight) or None
        In training, when the loss weighs its decodings (several of them,
        or the cross-modal one, whose weights mask samples): each decoding
        (an expert's, the full code's, a subset's, the cross-modal one) and
        its weight in the loss: a float, an ``(n,)`` tensor, or a dict of
        them by modality.
    experts : tuple or None
        The experts' ``(mean, logvar, weight)``, for their KL terms.
    alignment : Tensor or None
        In training with lags: the lag aligner's objective, a scalar that
        only its projections learn from (see :mod:`skmmae._lag_aligner`).
    """

    code: torch.Tensor
    reconstructions: dict
    targets: dict
    present: dict = dataclasses.field(default_factory=dict)
    logvar: torch.Tensor = None
    expert_decodings: tuple = None
    experts: tuple = None
    alignment: torch.Tensor = None

    def to(self, device):
        """This output with every tensor in it on ``device``."""
        return dataclasses.replace(
            self, **{f.name: _to(getattr(self, f.name), device) for f in dataclasses.fields(self)}
        )


def _lost_steps(series, share):
    """``(n, 1, time)`` bool: one contiguous block of steps per series, of up to ``share`` of them.

    Each block's length is drawn uniformly from 0 to ``share`` of the
    steps, and its start uniformly where it fits (time masking, as in
    SpecAugment: Park et al., 2019). Fixed shapes throughout, no host sync.
    """
    steps = series.shape[-1]
    n = series.shape[0]
    lengths = (torch.rand(n, 1, 1, device=series.device) * (share * steps + 1)).floor()
    starts = (torch.rand(n, 1, 1, device=series.device) * (steps - lengths + 1)).floor()
    position = torch.arange(steps, device=series.device)
    return (position >= starts) & (position < starts + lengths)


def _where(rows, chosen, otherwise):
    """``chosen`` (a :class:`~skmmae.fusion.Posterior`) on the ``(n,)`` bool ``rows``, else ``otherwise``."""

    def pick(a, b):
        return None if a is None else torch.where(rows[:, None], a, b)

    return chosen._replace(
        mean=pick(chosen.mean, otherwise.mean), logvar=pick(chosen.logvar, otherwise.logvar)
    )


def _to(value, device):
    """``value`` (a tensor, or dicts and tuples of them, or None) on ``device``."""
    if torch.is_tensor(value):
        return value.to(device)
    if isinstance(value, dict):
        return {key: _to(item, device) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_to(item, device) for item in value)
    return value


class MultimodalAutoencoderModule(nn.Module):
    """Encoders, fusion and decoders for a dict of fitted modalities.

    Parameters
    ----------
    modalities : dict of str -> Modality
        Fitted modalities, in a fixed order.
    encoding_dim : int
        Size of the shared code.
    hidden_dims : sequence of int or LayerSpec
        Hidden widths of each encoder; decoders mirror them. A
        :class:`~skmmae._layers.LayerSpec` also sets their normalization
        and dropout.
    fusion : str
        A name registered in :data:`skmmae.fusion.FUSIONS`.
    variational : bool, default=False
        In training, decode a sample of the fusion's Gaussian instead of its
        mean (the KL term is the criterion's).
    modality_dropout : float, default=0.0
        In training, hide each present modality of each sample from the
        encoders with this probability, never all of a sample's modalities;
        hidden modalities are still reconstructed and scored, so the model
        learns to predict them from the others.
    noise_std : float, default=0.0
        In training, add Gaussian noise of this standard deviation (in model
        units) to the encoders' floating-point inputs (denoising).
    input_dropout : float, default=0.0
        In training, zero each floating-point encoder input value with this
        probability (scaling the rest, as ``nn.Dropout`` does).
    subset_weight : float, default=1.0
        With ``modality_dropout``, the share of the reconstruction loss
        scored from the code of the visible subset; the rest is scored from
        the code of all present modalities (decoded separately, from the
        same encoder outputs). 1 scores the subset's code only.
    cross_weight : float, default=0.0
        In training, the share of the loss scored by cross-modal
        reconstruction: each modality decoded from the code of the *other*
        modalities (those left visible by ``modality_dropout``, or all
        others present where it hid them all), so that its own encoder
        cannot help. The rest is split by ``subset_weight`` as above. Not
        used with a single modality, nor with a fusion whose experts are
        decoded one by one (``"moe"``), which already trains every
        modality's code to reconstruct all of them.
    own_subset_encoders : bool, default=False
        Give the codes of incomplete inputs encoders of their own
        (``subset_encoders``, with ``subset_fusion``). In training, the
        encoders and the fusion learn from the code of all present
        modalities alone, scored with weight ``1 - subset_weight``; the
        subset encoders learn, with weight ``subset_weight``, to give the
        visible subset a code that the decoders read back into every
        modality (the decoders take ``subset_decoder_share`` of that
        gradient). Out of training, a sample that has every modality is
        encoded as before, and any other sample by the subset encoders. So
        cross-modal training costs the codes of complete inputs nothing. Only
        with ``modality_dropout`` and several modalities, and not with a
        variational model, ``"moe"`` or ``cross_weight``.
    subset_decoder_share : float, default=0.0
        With subset encoders, the share of the subset codes' gradient that
        reaches the decoders' weights: 0 keeps the decoders to the codes of
        complete inputs; above 0 they also learn to read the subsets'.
    own_cross_decoders : bool, default=False
        Give the cross-modal term decoders of its own (``cross_decoders``,
        one per modality, without dropout), which :meth:`predict`
        then uses; the reconstruction decoders learn from the codes of all
        (or the visible) modalities alone. False: the cross-modal term
        trains the reconstruction decoders too. Only with ``cross_weight``.
    decode_together : bool, default=True
        Decode the full and the subset codes in one pass of the decoders
        (one batch of twice the rows). False decodes each in its own pass,
        so that every layer sees one row per sample, as per-sample
        gradients (private training) need.
    lags : dict or None, default=None
        The arguments of a :class:`~skmmae._lag_aligner.LagAligner`, which
        then aligns time series to a reference before anything reads them
        (:meth:`targets`); None: no alignment.
    """

    def __init__(
        self,
        modalities,
        encoding_dim,
        hidden_dims,
        fusion,
        variational=False,
        modality_dropout=0.0,
        noise_std=0.0,
        input_dropout=0.0,
        subset_weight=1.0,
        own_subset_encoders=False,
        subset_decoder_share=0.0,
        cross_weight=0.0,
        own_cross_decoders=False,
        decode_together=True,
        lags=None,
    ):
        super().__init__()
        if not isinstance(hidden_dims, LayerSpec):
            hidden_dims = LayerSpec(hidden_dims)
        self.scalers = ModalityDict({n: m.build_scaler() for n, m in modalities.items()})
        encoders, widths = {}, {}
        for name, modality in modalities.items():
            with _naming(name):
                encoders[name], widths[name] = modality.build_encoder(hidden_dims)
        self.encoders = ModalityDict(encoders)
        self.fusion = make_fusion(fusion, widths, encoding_dim, variational)
        decoders = {}
        for name, modality in modalities.items():
            with _naming(name):
                decoders[name] = modality.build_decoder(encoding_dim, hidden_dims)
        self.decoders = ModalityDict(decoders)
        self.cross_decoders = None
        if own_cross_decoders and cross_weight and len(modalities) > 1:
            # No dropout here: it cost cross-modal prediction more than it
            # regularized (benchmarks/README.md, quality, fifth pass).
            plain = LayerSpec(hidden_dims, layer_norm=hidden_dims.layer_norm)
            self.cross_decoders = ModalityDict(
                {n: m.build_decoder(encoding_dim, plain) for n, m in modalities.items()}
            )
        self.subset_encoders = self.subset_fusion = None
        if own_subset_encoders and modality_dropout > 0 and len(modalities) > 1:
            # Built last, so that the other layers start as they would without.
            subset = {}
            for name, modality in modalities.items():
                with _naming(name):
                    subset[name] = modality.build_encoder(hidden_dims)[0]
            self.subset_encoders = ModalityDict(subset)
            self.subset_fusion = make_fusion(fusion, widths, encoding_dim, variational)
        # Kinds that accept missing (NaN) cells: what their encoders read in
        # place of one, and whether they also read the observed flags.
        self.cell_inputs = {
            name: (modality.missing_fill, modality.encoder_reads_flags())
            for name, modality in modalities.items()
            if modality.accepts_missing_cells and modality.missing_fill is not None
        }
        # Kinds whose encoder reads raw values (e.g. counts) take no input noise.
        self.noisy = {n for n, m in modalities.items() if m.accepts_input_noise}
        self.gaussian = {n for n in self.noisy if modalities[n].takes_gaussian_noise}
        self.variational = variational
        self.modality_dropout = modality_dropout
        self.noise_std = noise_std
        self.input_dropout = input_dropout
        self.decode_together = decode_together
        self.subset_weight = subset_weight
        self.subset_decoder_share = subset_decoder_share
        self.cross_weight = cross_weight
        self.aligner = None if lags is None else LagAligner(**lags)
        # Series whose encoders learn, in training, to read a block of steps lost.
        self.step_masking = {
            name: modality.step_masking
            for name, modality in modalities.items()
            if getattr(modality, "step_masking", 0) > 0
        }
        self._complete_inputs = False

    def scale(self, inputs):
        """Original units -> model units, per modality."""
        return {name: self.scalers[name](x) for name, x in inputs.items()}

    def targets(self, values, present):
        """What the encoders read and the loss scores: ``values`` in model units, aligned.

        With lags, each aligned series is shifted back by its estimated lag
        (detached: the lags learn from the aligner's own objective only).
        """
        return self._aligned(self.scale(values), present)[0]

    def _aligned(self, scaled, present):
        """``(aligned targets, the aligner's objective or None)``."""
        if self.aligner is None:
            return scaled, None
        scores = self.aligner.correlations(scaled)
        lags = self.aligner.lags(scores, present)
        objective = self.aligner.objective(scores, present) if self.training else None
        return self.aligner.align(scaled, lags), objective

    def estimate_lags(self, **inputs):
        """Each aligned series' ``(n,)`` lags behind the reference, in reference steps.

        NaN for a sample lacking either series; empty without the reference.
        """
        values, present = split_presence(inputs)
        scores = self.aligner.correlations(self.scale(values))
        return self.aligner.lags(scores, present, missing=float("nan"))

    @contextlib.contextmanager
    def complete_inputs(self, complete=True):
        """Within: the inputs are known to hold no missing (NaN) cell, so none is looked for.

        Where training had no missing cells in a modality, its encoder reads
        the values alone; looking for NaN there would only cost time.
        """
        previous, self._complete_inputs = self._complete_inputs, complete
        try:
            yield
        finally:
            self._complete_inputs = previous

    def _may_miss_cells(self):
        """Whether inputs without observed flags may hold NaN in this pass."""
        if self.training:
            # Training data has no NaN there but where input dropout or step
            # masking hides values.
            return self.input_dropout > 0 or bool(self.step_masking)
        return not self._complete_inputs

    def features(self, scaled, encoders=None):
        """Each encoder's output (of ``encoders``; default: the encoders) for inputs in model units.

        A missing (NaN) cell is read as its kind's fill value, with its
        observed flag where the encoder takes flags, so the value under a
        NaN never reaches a code.
        """
        features = {}
        for name, x in scaled.items():
            fill, with_flags = self.cell_inputs.get(name, (None, False))
            # An encoder with flags always reads them; one without looks for
            # NaN only where there may be some.
            if with_flags or (fill is not None and self._may_miss_cells()):
                observed = ~torch.isnan(x)
                x = torch.where(observed, x, fill)
                if with_flags:
                    x = torch.cat([x, observed.to(x.dtype)], dim=1)
            if self.aligner is not None:
                x = self.aligner.encoder_view(name, x)
            features[name] = (encoders or self.encoders)[name](x)
        return features

    def posterior(self, scaled, present):
        """The fusion's :class:`~skmmae.fusion.Posterior` from inputs in model units.

        With subset encoders, a sample that lacks any modality gets its
        code from them.
        """
        if self.subset_encoders is None:
            return self.fusion(self.features(scaled), present)
        complete = self._complete_rows(scaled, present)
        features = None if complete is False else self.features(scaled)
        subset_features = None if complete is True else self.features(scaled, self.subset_encoders)
        return self._code_by_completeness(complete, features, subset_features, present)

    def _code_by_completeness(self, complete, features, subset_features, present):
        """The posterior of complete samples from ``features``, of the others from ``subset_features``.

        ``complete`` is as :meth:`_complete_rows` gives it.
        """
        if complete is True:
            return self.fusion(features, present)
        subset = self.subset_fusion(subset_features, present)
        if complete is False:
            return subset
        return _where(complete, self.fusion(features, present), subset)

    def _complete_rows(self, scaled, present):
        """True if every sample has every modality, False if one is not given, else an ``(n,)`` mask."""
        if any(name not in scaled for name in self.encoders):
            return False
        masks = [present[name].bool() for name in self.encoders if name in present]
        if not masks:
            return True
        return torch.stack(masks, dim=1).all(dim=1)

    def encode(self, **inputs):
        """Code (posterior mean) from a batch in original units."""
        values, present = split_presence(inputs)
        return self.posterior(self.targets(values, present), present).mean

    def encode_with_logvar(self, **inputs):
        """Code and its log variance from a batch in original units."""
        values, present = split_presence(inputs)
        posterior = self.posterior(self.targets(values, present), present)
        return posterior.mean, posterior.logvar

    def decode(self, code, names=None):
        """Decoder output of every modality (or of ``names``), in model units."""
        names = self.decoders.keys() if names is None else names
        return {name: self.decoders[name](code) for name in names}

    def decode_original(self, code):
        """Reconstructions in the units the modalities validated (see ``Modality.validate``)."""
        return {
            name: self.scalers[name].inverse(rec) for name, rec in self.decode(code).items()
        }

    @property
    def predictors(self):
        """The decoders that predict a modality from the code of the others."""
        return self.decoders if self.cross_decoders is None else self.cross_decoders

    def predict(self, code, name):
        """Modality ``name`` predicted from a code of the others, in model units."""
        return self.predictors[name](code)

    def readout_inputs(self, **inputs):
        """What fitting the read-outs needs from a batch (in eval mode).

        Returns the code of the present modalities; per modality, the code
        of the other present ones and a ``(n,)`` bool mask of the samples
        that have any; the presence masks; and each modality's own code
        (:meth:`codes_alone`, as samples lacking a modality are coded).
        """
        values, present = split_presence(inputs)
        targets = self.targets(values, present)
        features = self.features(targets)
        encoders, fusion = self._incomplete_input_parts()
        if self.subset_encoders is None:
            code, subset_features = self.fusion(features, present), features
        else:
            # The codes of the others are the subset encoders', as predict_modality's are.
            subset_features = self.features(targets, encoders)
            complete = self._complete_rows(targets, present)
            code = self._code_by_completeness(complete, features, subset_features, present)
        others = self.codes_of_others(subset_features, present, fusion=fusion)
        cross = {name: (code.mean, has_others) for name, (code, has_others) in others.items()}
        return code.mean, cross, present, self.codes_alone(subset_features, fusion)

    def _incomplete_input_parts(self):
        """The encoders and fusion that code samples lacking a modality."""
        if self.subset_encoders is None:
            return self.encoders, self.fusion
        return self.subset_encoders, self.subset_fusion

    @staticmethod
    def codes_alone(features, fusion):
        """Each modality's own code: ``fusion`` of its ``features`` by themselves."""
        return {name: fusion({name: x}, {}).mean for name, x in features.items()}

    def codes_side_by_side(self, alone, present, fused, target):
        """The codes of every modality but ``target``, side by side: ``(n, (M - 1) * encoding_dim)``.

        Each modality's own code (``alone``, from :meth:`codes_alone`) where
        the sample has it, else ``fused``, the fused code of the modalities
        it has: their best guess of the code it lacks. The model's order of
        modalities fixes the layout, so the codes of training and prediction
        line up.
        """
        parts = []
        for name in self.encoders:
            if name == target:
                continue
            own = alone.get(name, fused)
            if name in present and name in alone:
                own = torch.where(present[name].bool()[:, None], own, fused)
            parts.append(own.to(fused.dtype))
        # A model of one modality has no others: an empty layout.
        return torch.cat(parts, dim=1) if parts else fused[:, :0]

    def codes_of_given(self, scaled, present, target):
        """The fused code of the given modalities, and their codes side by side (no ``target``).

        What ``predict_modality`` reads ``target`` from: as :meth:`posterior`
        codes a sample that lacks ``target``, and as
        :meth:`codes_side_by_side` lays out its modalities.
        """
        encoders, fusion = self._incomplete_input_parts()
        features = self.features(scaled, encoders)
        code = fusion(features, present).mean
        side_by_side = self.codes_side_by_side(
            self.codes_alone(features, fusion), present, code, target
        )
        return code, side_by_side

    def evaluate(self, inputs, reconstruct=None):
        """The eval-mode output for a batch: its code, and its reconstructions from it.

        ``reconstruct(code)`` gives every modality in model units from the
        code; by default, the decoders.
        """
        values, present = split_presence(inputs)
        targets = self.targets(values, present)
        posterior = self.posterior(targets, present)
        reconstructions = (reconstruct or self.decode)(posterior.mean)
        return self._output(posterior, ((reconstructions, None),), targets, present)

    def forward(self, **inputs):
        if not self.training:
            return self.evaluate(inputs)
        values, present = split_presence(inputs)
        targets, alignment = self._aligned(self.scale(values), present)
        corrupted = self._corrupt(targets)
        features = self.features(corrupted)
        hiding = self.modality_dropout > 0
        visible = self._hide_modalities(targets, present) if hiding else present
        if self.subset_encoders is not None:
            full, decodings = self._full_and_subset_decodings(features, corrupted, visible, present)
            return self._output(full, decodings, targets, present, alignment)
        posterior = self.fusion(features, visible)
        if posterior.experts is not None:
            decodings = self._decode_together(
                [(self._draw(mean, logvar), weight) for mean, logvar, weight in posterior.experts]
            )
            return self._output(posterior, tuple(decodings), targets, present, alignment)
        codes = ((posterior, 1.0),)
        if hiding and self.subset_weight < 1:
            # The code of every present modality and the code of the visible
            # subset, each decoded; the encoders ran once for both.
            full = self.fusion(features, present)
            codes = ((full, 1.0 - self.subset_weight), (posterior, self.subset_weight))
            posterior = full
        cross = self.cross_weight if len(features) > 1 else 0.0
        decodings = self._decode_together(
            [
                (self._draw(code.mean, code.logvar), (1.0 - cross) * weight)
                for code, weight in codes
                if (1.0 - cross) * weight > 0
            ]
        )
        if cross:
            reconstructions, has_others = self._cross_reconstructions(features, visible, present)
            weights = {name: cross * has for name, has in has_others.items()}
            decodings.append((reconstructions, weights))
        return self._output(posterior, tuple(decodings), targets, present, alignment)

    def _full_and_subset_decodings(self, features, corrupted, visible, present):
        """The full code, and its decoding and the visible subset's, as ``[(reconstructions, weight)]``.

        The subset's code comes from the subset encoders. Its loss trains
        them, and the decoders by ``subset_decoder_share`` of it
        (:meth:`_decode_damped`); the encoders and the fusion of complete
        inputs learn from the full code only.
        """
        full = self.fusion(features, present)
        subset = self.subset_fusion(self.features(corrupted, self.subset_encoders), visible)
        decodings = (
            (self.decode(full.mean), 1.0 - self.subset_weight),
            (self._decode_damped(subset.mean), self.subset_weight),
        )
        return full, decodings

    def _decode_damped(self, code):
        """Every modality decoded from ``code``, the decoders' weights taking a share of the gradient.

        The values are the decoders' own; the gradient reaching their
        weights is ``subset_decoder_share`` of what it would be (none at 0).
        """
        share = self.subset_decoder_share

        def damped(p):
            return p.detach() if share == 0 else p.detach() + share * (p - p.detach())

        return {
            name: functional_call(
                decoder, {key: damped(p) for key, p in decoder.named_parameters()}, (code,)
            )
            for name, decoder in self.decoders.items()
        }

    def _decode_together(self, weighted_codes):
        """``[(reconstructions, weight)]`` for ``[(code, weight)]``, in one pass of the decoders.

        The codes are decoded as one batch (their concatenation), then split:
        fewer and larger kernels than one pass per code, and the same
        computation row by row, since the decoders treat rows independently
        (dropout draws one mask value per element either way).
        """
        if len(weighted_codes) < 2 or not self.decode_together:
            return [(self.decode(code), weight) for code, weight in weighted_codes]
        sizes = [len(code) for code, _ in weighted_codes]
        decoded = self.decode(torch.cat([code for code, _ in weighted_codes]))
        parts = {name: output.split(sizes) for name, output in decoded.items()}
        return [
            ({name: pieces[i] for name, pieces in parts.items()}, weight)
            for i, (_, weight) in enumerate(weighted_codes)
        ]

    def _cross_reconstructions(self, features, visible, present):
        """Each modality decoded from the code of the other modalities alone.

        The others are those in ``visible``; for a sample where every other
        modality was hidden, those in ``present``. Returns the
        reconstructions and, per modality, a ``(n,)`` float mask of the
        samples that have any other modality (the rest score nothing).
        """
        reconstructions, has_others = {}, {}
        for name, (code, has) in self.codes_of_others(features, present, visible).items():
            reconstructions[name] = self.predictors[name](self._draw(code.mean, code.logvar))
            has_others[name] = has.float()
        return reconstructions, has_others

    def codes_of_others(self, features, present, visible=None, fusion=None):
        """Per modality, the fused code of the *other* modalities.

        The others are those in ``visible`` (default: ``present``); for a
        sample where every other modality is hidden, those present. They
        are fused by ``fusion`` (default: the fusion). Returns
        ``{name: (posterior, has_others)}``, with ``has_others`` a ``(n,)``
        bool mask of the samples that have any other modality.
        """
        names = list(features)
        like = features[names[0]]
        has = self._presence_matrix(names, present, like)
        hidden = visible is not None and visible is not present
        seen = self._presence_matrix(names, visible, like) if hidden else has
        others = self._others(seen, has)
        codes = (fusion or self.fusion).fuse_each(
            features, [{n: mask[:, j] for j, n in enumerate(names)} for mask in others]
        )
        return {name: (code, mask.sum(1) > 0) for name, code, mask in zip(names, codes, others)}

    @staticmethod
    def _others(seen, has):
        """Per modality i, the ``(n, M)`` presence of the others.

        The others seen, or, for a sample that has none seen, those it has.
        """
        # Row i of this matrix keeps every modality but the i-th.
        leave_out = 1.0 - torch.eye(has.shape[1], device=has.device)
        others = []
        for i in range(has.shape[1]):
            others_seen, others_had = seen * leave_out[i], has * leave_out[i]
            any_seen = others_seen.sum(1, keepdim=True) > 0
            others.append(torch.where(any_seen, others_seen, others_had))
        return others

    @staticmethod
    def _presence_matrix(names, present, like):
        """``(n, M)`` float presence of ``names`` (a name absent from ``present``: all 1)."""
        ones = torch.ones(len(like), device=like.device)
        columns = [present[name].float() if name in present else ones for name in names]
        return torch.stack(columns, dim=1)

    def _output(self, posterior, decodings, targets, present, alignment=None):
        return AutoencoderOutput(
            posterior.mean,
            decodings[0][0],
            targets,
            present,
            posterior.logvar if self.variational else None,
            decodings if len(decodings) > 1 or isinstance(decodings[0][1], dict) else None,
            posterior.experts if self.variational else None,
            alignment,
        )

    def _draw(self, mean, logvar):
        """A sample of N(mean, exp(logvar)) in variational mode, else the mean."""
        if not self.variational:
            return mean
        return mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)

    def _corrupt(self, targets):
        if not (self.noise_std or self.input_dropout or self.step_masking):
            return targets
        corrupted = {}
        for name, x in targets.items():
            if name in self.noisy and x.is_floating_point():
                if self.noise_std and name in self.gaussian:
                    x = x + self.noise_std * torch.randn_like(x)
                if self.input_dropout and name in self.cell_inputs:
                    # Hidden as missing cells: the encoder reads them as it reads
                    # cells missing in the data, and learns to fill them in.
                    hide = torch.rand_like(x) < self.input_dropout
                    x = x.masked_fill(hide, float("nan"))
                elif self.input_dropout:
                    x = dropout(x, self.input_dropout)
            if name in self.step_masking:
                x = x.masked_fill(_lost_steps(x, self.step_masking[name]), float("nan"))
            corrupted[name] = x
        return corrupted

    def _hide_modalities(self, targets, present):
        """Presence masks with each present modality hidden with some probability.

        Never hides all of a sample's modalities: a sample left with none
        keeps one of its present modalities, chosen at random. Fixed shapes
        throughout (no boolean indexing), so CUDA graphs can capture it.
        """
        names = list(targets)
        has = self._presence_matrix(names, present, targets[names[0]])
        keep = (torch.rand_like(has) >= self.modality_dropout).float() * has
        # Random scores over the present modalities; the best one is the fallback.
        # (A comparison, not one_hot, which may check its input on the host:
        # no device sync, so a CUDA graph can capture it.)
        best = (torch.rand_like(has) * has).argmax(1, keepdim=True)
        fallback = (torch.arange(len(names), device=has.device) == best).float()
        keep = torch.where(keep.sum(1, keepdim=True) > 0, keep, fallback)
        return {name: keep[:, i] for i, name in enumerate(names)}
