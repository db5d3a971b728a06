"""Read-outs: how codes are read back into modalities, fitted once training has ended.

A read-out is a post-fit component of
:class:`~skmmae.MultimodalAutoencoder`, chosen by its ``readout``
parameter. When training ends, the estimator fits it from the final model
and the training data and keeps it as ``readout_``. In model units, it
answers two questions:

- :meth:`~DecoderReadout.reconstruct`: each modality from a code of every
  present modality (``inverse_transform``, ``score``);
- :meth:`~DecoderReadout.predict`: one modality from the code of the
  *other* modalities (``predict_modality``).

:class:`DecoderReadout` answers with the trained decoders. The decoders
learned from codes that noise, dropout and modality dropout kept changing,
and an MLP from a small code is a poor smoother of what it saw. Once the
encoders are fixed, a kernel ridge regression from the training codes to a
modality's values predicts it better from new codes. :class:`KernelReadout`
fits one per continuous modality and time series, and one per image or
clip for ``predict_modality`` alone, and keeps the decoders for the rest.
The measurements are in ``benchmarks/README.md``.
"""

import functools
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ._compat import Interval, InvalidParameterError, StrOptions
from ._doc_link import DocLinked
from ._inference import batches, encode
from ._kernel_ridge import fit_kernel_regressions
from ._modality_dict import ModalityDict
from ._module import split_presence

__all__ = ["DecoderReadout", "KernelReadout", "TrainingData"]


class TrainingData:
    """The training data once training has ended, passed over in eval mode.

    What a read-out is fitted from. Iterating gives the batches of the
    training data (dicts of tensors in original units, in order, on the
    model's device); :attr:`codes` encodes them once, for every read-out and
    for the estimator's ``code_scale_``.

    Parameters
    ----------
    net : skmmae._net.MultimodalNet
        The trained net.
    dataset : skmmae._data.TensorDictDataset
        The training data, with presence masks.
    modalities : dict of str -> Modality
        The fitted modalities.

    Examples
    --------
    The codes of a fitted model's training data, computed once for the read-outs:

    >>> import numpy as np
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.readout import TrainingData
    >>> X = {"a": np.random.default_rng(0).normal(size=(50, 3))}
    >>> ae = MultimodalAutoencoder(2, max_epochs=2, random_state=0).fit(X)
    >>> training = TrainingData(ae.net_, ae._inference_data(X), ae.modalities_)
    >>> training.codes[0].shape
    torch.Size([50, 2])
    """

    def __init__(self, net, dataset, modalities):
        self.net, self.dataset, self.modalities = net, dataset, modalities
        self.module = net.module_

    def __iter__(self):
        return batches(self.net, self.dataset)

    @functools.cached_property
    def codes(self):
        """``(code, cross, present, alone)`` of the training data, read in one pass.

        ``code``: the ``(n, encoding_dim)`` code of the present modalities;
        ``cross``: per modality, the code of the other present modalities
        and a ``(n,)`` bool mask of the samples that have any; ``present``:
        per modality, a ``(n,)`` bool mask of the samples that have it, or
        None where all do; ``alone``: per modality, its own ``(n,
        encoding_dim)`` code (meaningful where the sample has it).
        """
        codes, cross, present, alone = [], {}, {}, {}
        with torch.no_grad():
            for batch in self:
                code, others, masks, own = self.module.readout_inputs(**batch)
                codes.append(code.float())
                for name, (others_code, has_others) in others.items():
                    cross.setdefault(name, []).append((others_code.float(), has_others))
                    present.setdefault(name, []).append(masks.get(name))
                    alone.setdefault(name, []).append(own[name].float())
        present = {
            name: None if any(m is None for m in masks) else torch.cat(masks).bool()
            for name, masks in present.items()
        }
        cross = {
            name: (torch.cat([c for c, _ in parts]), torch.cat([h for _, h in parts]))
            for name, parts in cross.items()
        }
        alone = {name: torch.cat(parts) for name, parts in alone.items()}
        return torch.cat(codes), cross, present, alone

    def codes_side_by_side(self, name):
        """The codes of every modality but ``name`` side by side, on the training rows.

        As the model lays them out for a prediction of ``name``
        (``codes_side_by_side`` of the module); a sample lacking a modality
        has the code of the others in its place.
        """
        _, cross, present, alone = self.codes
        masks = {other: mask for other, mask in present.items() if mask is not None}
        return self.module.codes_side_by_side(alone, masks, cross[name][0], name)

    @functools.cached_property
    def code(self):
        """The ``(n, encoding_dim)`` code of the present modalities (from :attr:`codes` if read)."""
        if "codes" in self.__dict__:
            return self.codes[0]
        return torch.as_tensor(encode(self.net, self.dataset))

    def targets(self, names, rows=None):
        """The modalities ``names`` in model units on ``rows`` (None: all), in chunks.

        Re-iterable: each iteration makes a new pass over the data, so no
        copy of it is kept.
        """
        return _ScaledTargets(self, names, rows)


def _filled(module, code, targets):
    """``targets`` with their missing (NaN) cells filled by the decoders' reconstruction.

    A regression learns from every cell: an unobserved one is what the
    trained model itself imputes there, from the rows' ``code`` (a callable,
    so that complete data never reads it).
    """
    missing = {name: torch.isnan(t) for name, t in targets.items() if t.is_floating_point()}
    missing = {name: mask for name, mask in missing.items() if mask.any()}
    if not missing:
        return targets
    reconstructions = module.decode(code(), list(missing))
    return {
        name: torch.where(missing[name], reconstructions[name].float(), t) if name in missing else t
        for name, t in targets.items()
    }


def _scaled(module, batch, names):
    """The modalities ``names`` of ``batch`` in model units, as the loss scored them.

    Aligned series (with lags) are aligned, which needs the reference's
    values too; otherwise only ``names`` are scaled.
    """
    if module.aligner is None:
        return {name: module.scalers[name](batch[name]) for name in names}
    values, present = split_presence(batch)
    targets = module.targets(values, present)
    return {name: targets[name] for name in names}


def _as_decoder_output(scaler, expected):
    """A regression's expected model-unit values as the decoder would output them.

    The same values, unless the scaler says otherwise (``from_mean``: the
    logits of expected pixels in [0, 1]).
    """
    from_mean = getattr(scaler, "from_mean", None)
    return expected if from_mean is None else from_mean(expected)


class _ScaledTargets:
    def __init__(self, training, names, rows):
        self.training, self.names, self.rows = training, names, rows

    def __iter__(self):
        module, start = self.training.module, 0
        with torch.no_grad():
            for batch in self.training:
                size = len(batch[self.names[0]])
                scaled = _scaled(module, batch, self.names)
                device = scaled[self.names[0]].device
                # The training codes, computed once for every read-out.
                span = slice(start, start + size)
                chunk = _filled(module, lambda: self.training.code[span].to(device), scaled)
                if self.rows is not None:
                    keep = self.rows[start : start + size]
                    chunk = {name: target[keep] for name, target in chunk.items()}
                start += size
                yield chunk


class DecoderReadout(DocLinked, BaseEstimator):
    """Read codes back through the trained decoders.

    Reconstructions come from each modality's decoder; predictions of a
    modality from the code of the others come from its decoder too, or from
    its cross-modal decoder where the model has them
    (``cross_weight=CrossModal(decoders="own")``). There is nothing to fit.

    Examples
    --------
    The decoders as the read-out (nothing is fitted):

    >>> import numpy as np
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.readout import DecoderReadout
    >>> rng = np.random.default_rng(0)
    >>> X = {"a": rng.normal(size=(60, 4)), "b": rng.normal(size=(60, 3))}
    >>> ae = MultimodalAutoencoder(2, readout=DecoderReadout(), max_epochs=2, random_state=0)
    >>> ae.fit(X).readout_
    DecoderReadout()
    """

    _parameter_constraints = {}

    def fit(self, module, training):
        """Nothing to fit: the decoders are trained with the model.

        Parameters
        ----------
        module : skmmae._module.MultimodalAutoencoderModule
            The trained model.
        training : TrainingData
            The training data.

        Returns
        -------
        self : DecoderReadout
        """
        return self

    def reconstruct(self, module, code, names=None):
        """Each modality (or those in ``names``) from a code of every present modality.

        Parameters
        ----------
        module : skmmae._module.MultimodalAutoencoderModule
            The trained model, in eval mode.
        code : Tensor of shape (n_samples, encoding_dim)
            The codes.
        names : list of str or None, default=None
            The modalities to give; None gives all.

        Returns
        -------
        dict of str -> Tensor
            Each modality in model units.
        """
        return module.decode(code, names)

    def predict(self, module, code, name, side_by_side=None):
        """Modality ``name`` from the code of the other modalities.

        Parameters
        ----------
        module : skmmae._module.MultimodalAutoencoderModule
            The trained model, in eval mode.
        code : Tensor of shape (n_samples, encoding_dim)
            The code of the other modalities.
        name : str
            The modality to predict.
        side_by_side : Tensor of shape (n_samples, (n_modalities - 1) * encoding_dim) or None
            The other modalities' own codes side by side (the module's
            ``codes_side_by_side``), which ``KernelReadout(others="each")``
            reads instead of ``code`` (there it is required); the decoders
            do not.

        Returns
        -------
        Tensor
            ``name`` in model units.
        """
        return module.predict(code, name)


class KernelReadout(DecoderReadout):
    """Kernel ridge regressions from the training codes to each continuous modality.

    Each modality whose kind allows it (continuous data and time series,
    ``Modality.kernel_readout``) gets two regressions, fitted on the
    training rows that have it: one from the code of every present modality
    (used by :meth:`reconstruct`) and one from the code of the other present
    modalities (used by :meth:`predict`). Images and clips
    (``Modality.kernel_predictor``) get the second alone: their decoders
    reconstruct, and the regression predicts their expected pixels from the
    code of the others. The regressions use a Matern 3/2
    kernel (Rasmussen & Williams, 2006), exact up to ``max_centers`` training
    rows and from that many centers beyond; the kernel's length and the
    ridge penalty are chosen per modality by leave-one-out error. Other
    kinds keep their decoders. The codes themselves do not change.

    Parameters
    ----------
    max_centers : int, default=500
        Most training codes used as kernel centers. The fit's cost grows
        with its cube, and with the training rows times its square.
    loo_rows : int, default=500
        Most training rows whose leave-one-out error chooses the kernel's
        length and penalty.
    length_factors : sequence of float, default=(0.5, 1.0, 2.0, 4.0)
        Kernel lengths tried, as multiples of the training codes' typical
        distance (the square root of twice their total variance).
    alphas : sequence of float, default=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
        Ridge penalties tried (targets in model units).
    min_rows : int, default=5
        A modality with fewer training rows keeps its decoder.
    others : {"each", "fused"}, default="each"
        What a prediction reads. ``"each"``: every other modality's own
        code, side by side (the code of the other modalities a sample has
        stands in for one it lacks), so that what the views do not share
        still informs the prediction; with two modalities that is the one
        other's code. ``"fused"``: the other modalities' fused code, as the
        decoders read it.
    random_state : int, RandomState instance or None, default=None
        Draws the centers and the leave-one-out rows on large data. None
        takes the estimator's ``random_state``.

    Attributes
    ----------
    reconstructors_ : ModalityDict of str -> KernelRegression
        The regressions from the code of every present modality.
    predictors_ : ModalityDict of str -> KernelRegression
        The regressions from the code of the other modalities.

    References
    ----------
    C. E. Rasmussen and C. K. I. Williams, *Gaussian Processes for Machine
    Learning*, MIT Press, 2006.

    Examples
    --------
    Kernel ridge read-outs on 40 centres, for two random modalities:

    >>> import numpy as np
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.readout import KernelReadout
    >>> rng = np.random.default_rng(0)
    >>> X = {"a": rng.normal(size=(60, 4)), "b": rng.normal(size=(60, 3))}
    >>> ae = MultimodalAutoencoder(2, readout=KernelReadout(max_centers=40), max_epochs=2,
    ...                            random_state=0).fit(X)
    >>> sorted(ae.readout_.reconstructors_), len(ae.readout_.predictors_["a"].centers)
    (['a', 'b'], 40)
    """

    _parameter_constraints = {
        "max_centers": [Interval(Integral, 1, None, closed="left")],
        "loo_rows": [Interval(Integral, 1, None, closed="left")],
        "length_factors": ["array-like"],
        "alphas": ["array-like"],
        "min_rows": [Interval(Integral, 1, None, closed="left")],
        "others": [StrOptions({"each", "fused"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        max_centers=500,
        loo_rows=500,
        length_factors=(0.5, 1.0, 2.0, 4.0),
        alphas=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
        min_rows=5,
        others="each",
        random_state=None,
    ):
        self.max_centers = max_centers
        self.loo_rows = loo_rows
        self.length_factors = length_factors
        self.alphas = alphas
        self.min_rows = min_rows
        self.others = others
        self.random_state = random_state

    def fit(self, module, training):
        """Fit the regressions from the training codes (arguments as :meth:`DecoderReadout.fit`)."""
        readable = [name for name, m in training.modalities.items() if m.kernel_readout]
        predictable = [name for name, m in training.modalities.items() if m.kernel_predictor]
        self.reconstructors_, self.predictors_ = ModalityDict(), ModalityDict()
        if not predictable:
            return self
        codes, cross, present, _ = training.codes
        generator = torch.Generator().manual_seed(self._seed())
        reconstructors, predictors = {}, {}
        # Modalities every sample has share one pass over the data.
        always = [name for name in readable if present[name] is None]
        groups = [(always, None)] if always else []
        groups += [([name], present[name]) for name in readable if name not in always]
        for names, rows in groups:
            reconstructors.update(self._fit_rows(training, codes, names, rows, generator))
        for name in predictable:
            others_code, has_others = cross[name]
            if self.others == "each":
                others_code = training.codes_side_by_side(name)
            rows = has_others if present[name] is None else has_others & present[name]
            # The length chosen for the reconstruction serves its prediction too.
            lengths = (reconstructors[name].length_factor,) if name in reconstructors else None
            predictors.update(
                self._fit_rows(training, others_code, [name], rows, generator, lengths)
            )
        self.reconstructors_ = ModalityDict(reconstructors)
        self.predictors_ = ModalityDict(predictors)
        return self

    def _validate_params(self):
        super()._validate_params()
        for name in ("length_factors", "alphas"):
            values = np.asarray(getattr(self, name), dtype=object).ravel()
            if not (
                len(values)
                and all(isinstance(v, Real) and not isinstance(v, bool) for v in values)
                and all(0 < v < np.inf for v in values)
            ):
                raise InvalidParameterError(
                    f"The {name!r} parameter of KernelReadout must be a non-empty "
                    f"sequence of positive finite numbers. Got {getattr(self, name)!r} instead."
                )

    def _seed(self):
        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _fit_rows(self, training, codes, names, rows, generator, lengths=None):
        """Regressions of ``names`` from ``codes``, on the rows where ``rows`` is True (None: all)."""
        if rows is not None:
            codes = codes[rows]
        if len(codes) < self.min_rows:
            return {}
        with torch.no_grad():
            return fit_kernel_regressions(
                codes,
                training.targets(names, rows),
                length_factors=lengths or self.length_factors,
                alphas=self.alphas,
                max_centers=self.max_centers,
                loo_rows=self.loo_rows,
                generator=generator,
            )

    def reconstruct(self, module, code, names=None):
        names = list(module.decoders.keys()) if names is None else names
        kernels = self.reconstructors_
        decoded = module.decode(code, [name for name in names if name not in kernels])
        return {name: kernels[name](code) if name in kernels else decoded[name] for name in names}

    reconstruct.__doc__ = DecoderReadout.reconstruct.__doc__

    def predict(self, module, code, name, side_by_side=None):
        if name in self.predictors_:
            inputs = side_by_side if self.others == "each" else code
            return _as_decoder_output(module.scalers[name], self.predictors_[name](inputs))
        return module.predict(code, name)

    predict.__doc__ = DecoderReadout.predict.__doc__
