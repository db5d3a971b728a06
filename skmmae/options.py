"""Option objects: settings that only matter together, on the object they configure.

Several of :class:`~skmmae.MultimodalAutoencoder`'s parameters take either
a plain value or one of these objects, which carries the settings that only
mean something together with it:

============================  ===========================  ==========================
parameter                     plain value                  object
============================  ===========================  ==========================
``hidden_dims``               widths, e.g. ``(512,)``      :class:`HiddenLayers`
``variational``               ``True`` / ``False``         :class:`Variational`
``modality_dropout``          a rate, e.g. ``0.3``         :class:`ModalityDropout`
``cross_weight``              a weight, e.g. ``0.5``       :class:`CrossModal`
``early_stopping``            ``True`` / ``False``         :class:`EarlyStop`
``speed``                     ``None`` (the defaults)      :class:`Speed`
============================  ===========================  ==========================

A plain value means the object with that value and its other defaults. The
objects are sklearn estimators in form: ``get_params(deep=True)`` and grid
searches see their parameters (``modality_dropout__subset_weight``), and
``clone`` copies them.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator

from ._compat import Interval, InvalidParameterError, StrOptions
from ._doc_link import DocLinked
from ._layers import LayerSpec

__all__ = ["CrossModal", "EarlyStop", "HiddenLayers", "ModalityDropout", "Speed", "Variational"]


class _Option(DocLinked, BaseEstimator):
    """An option object; :meth:`from_value` turns a parameter's value into one (or None: off)."""

    @classmethod
    def from_value(cls, value):
        if isinstance(value, cls):
            return value
        return cls._from_plain(value)

    #: The parameter that a plain value (not an option object) sets; None: a
    #: plain value is a bool that switches the option's defaults on or off.
    _plain_parameter = None

    @classmethod
    def _from_plain(cls, value):
        if cls._plain_parameter is not None:
            return cls(**{cls._plain_parameter: value})
        return cls() if value else None

    def check(self, parameter, owner):
        """Validate this object's parameters; errors name the owner's ``parameter``."""
        try:
            self._validate_params()
            self._check_rules()
        except InvalidParameterError as error:
            raise InvalidParameterError(f"The {parameter!r} parameter of {owner}: {error}") from error

    def _check_rules(self):
        """Rules linking this object's own parameters (none by default)."""


class HiddenLayers(_Option):
    """The hidden layers of each modality's MLP encoder, mirrored by its decoder.

    Parameters
    ----------
    widths : sequence of int, default=(512,)
        Hidden layer widths of each encoder; the decoders mirror them. An
        empty sequence gives linear encoders and decoders.
    layer_norm : bool, default=True
        A ``LayerNorm`` after each hidden layer (before its ReLU).
    dropout : float, default=0.1
        Dropout probability after each hidden layer, during training.

    Examples
    --------
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.options import HiddenLayers
    >>> ae = MultimodalAutoencoder(hidden_dims=HiddenLayers((256, 64), dropout=0.2))
    >>> ae.get_params()["hidden_dims__dropout"]
    0.2
    """

    _plain_parameter = "widths"
    _parameter_constraints = {
        "widths": ["array-like"],
        "layer_norm": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(self, widths=(512,), layer_norm=True, dropout=0.1):
        self.widths = widths
        self.layer_norm = layer_norm
        self.dropout = dropout


    def _check_rules(self):
        widths = np.asarray(self.widths, dtype=object).ravel().tolist()
        if not all(isinstance(w, Integral) and not isinstance(w, bool) and w > 0 for w in widths):
            raise InvalidParameterError(
                "The 'widths' parameter of HiddenLayers must be a sequence of positive ints. "
                f"Got {self.widths!r} instead."
            )

    def spec(self):
        """The widths with their options, as the modalities' layer builders read them."""
        widths = np.asarray(self.widths, dtype=object).ravel().tolist()
        return LayerSpec(widths, self.layer_norm, self.dropout)


class Variational(_Option):
    """Train a variational autoencoder: codes are Gaussians, with a KL term.

    Training decodes samples of the codes and adds ``beta`` times their KL
    divergence from N(0, I) (Kingma & Welling, 2014).
    ``transform`` still returns the posterior means;
    ``transform(X, return_std=True)`` also gives the posterior standard
    deviations, and ``sample`` draws new samples.

    Parameters
    ----------
    beta : float, default=1.0
        Weight of the KL term (averaged over code dimensions and samples).
    kl_warmup_epochs : int, default=0
        Raise the KL weight linearly from ``beta / kl_warmup_epochs`` to
        ``beta`` over this many epochs; 0 keeps ``beta``.

    References
    ----------
    D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.

    Examples
    --------
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.options import Variational
    >>> MultimodalAutoencoder(variational=Variational(beta=0.5)).get_params()["variational__beta"]
    0.5
    """

    _parameter_constraints = {
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup_epochs": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, beta=1.0, kl_warmup_epochs=0):
        self.beta = beta
        self.kl_warmup_epochs = kl_warmup_epochs


class ModalityDropout(_Option):
    """Hide whole modalities from the encoders during training, still scoring them.

    Each modality of each sample is hidden with probability ``rate`` (never
    all of a sample's modalities), so the model learns to predict a
    modality from the others, and codes from a subset stay good.

    Parameters
    ----------
    rate : float, default=0.3
        The probability of hiding a modality of a sample.
    subset_weight : float, default=0.5
        The share of the reconstruction loss scored from the code of the
        modalities left visible; the rest is scored from the code of all
        present modalities, decoded separately. Below 1, full
        reconstructions stop paying for cross-modal training, at the cost
        of a second decoding.
    encoders : {"auto", "own", "shared"}, default="auto"
        Which encoders give the code of an incomplete input, one that lacks
        a modality (``predict_modality``, ``transform`` of a subset).

        - ``"shared"``: the encoders of complete inputs, which then learn
          from the codes of subsets too. Complete inputs' codes pay for it:
          they keep less of what only one modality holds.
        - ``"own"``: a second set of encoders, trained (with
          ``subset_weight`` of the loss) to give the visible modalities a
          code that the decoders read back into every modality (the
          decoders take ``decoder_share`` of that gradient). The encoders
          of complete inputs learn from complete codes only, so their codes
          pay nothing. It costs a second set of encoder weights and one
          more encoder pass per step; it needs ``0 < subset_weight < 1``
          and ``rate > 0``, and is not available with ``variational``,
          ``fusion="moe"``, ``cross_weight`` or ``privacy``.
        - ``"auto"``: ``"own"`` where it is available, else ``"shared"``.
    decoder_share : float, default=0.0
        With encoders of their own, the share of the gradient of the
        subsets' codes that reaches the decoders. 0 keeps the decoders to
        the codes of complete inputs, which serves their reconstructions
        best; above 0 they also learn to read the subsets' codes, which
        serves ``predict_modality`` at some cost to those reconstructions
        (measured in ``benchmarks/README.md``).

    Examples
    --------
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.options import ModalityDropout
    >>> ae = MultimodalAutoencoder(modality_dropout=ModalityDropout(0.5, subset_weight=1.0))
    >>> ae.get_params()["modality_dropout__rate"]
    0.5
    """

    _plain_parameter = "rate"
    _parameter_constraints = {
        "rate": [Interval(Real, 0, 1, closed="left")],
        "subset_weight": [Interval(Real, 0, 1, closed="both")],
        "encoders": [StrOptions({"auto", "own", "shared"})],
        "decoder_share": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, rate=0.3, subset_weight=0.5, encoders="auto", decoder_share=0.0):
        self.rate = rate
        self.subset_weight = subset_weight
        self.encoders = encoders
        self.decoder_share = decoder_share

    @property
    def _trains_both_codes(self):
        """Whether training scores both a subset's code and the full code (own encoders need both).

        One loss trains the subset encoders, the other the model they read through.
        """
        return self.rate > 0 and 0 < self.subset_weight < 1

    def _check_rules(self):
        if self.encoders == "own" and not self._trains_both_codes:
            raise InvalidParameterError(
                "ModalityDropout(encoders='own') trains the subset encoders on hidden "
                "modalities (rate > 0) with subset_weight of the loss, and the rest of the "
                "model with the remainder, which needs rate > 0 and 0 < subset_weight < 1. "
                f"Got rate={self.rate!r}, subset_weight={self.subset_weight!r}."
            )


class CrossModal(_Option):
    """Score cross-modal prediction in training: each modality from the others' code alone.

    Each modality is decoded from the code of the *other* modalities (those
    modality dropout left visible; all the others present where it hid
    every one), so that its own encoder cannot help. This trains exactly
    what ``predict_modality`` does, at the cost of one more decoding per
    step. Not used with a single modality, nor with ``fusion="moe"``,
    whose experts are each trained to reconstruct every modality already.

    Parameters
    ----------
    weight : float, default=0.5
        The share of the training loss scored by this term; the rest is
        split as ``ModalityDropout.subset_weight`` says.
    decoders : {"shared", "own"}, default="shared"
        Which decoders the term trains, and ``predict_modality`` uses.
        ``"shared"``: the reconstruction decoders, which then learn from
        codes with and without their own modality alike. ``"own"``: a
        second decoder per modality (without dropout) that only learns to
        predict its modality from the others' code; it costs one more set
        of decoder weights, and needs ``weight > 0``.

    Examples
    --------
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.options import CrossModal
    >>> ae = MultimodalAutoencoder(cross_weight=CrossModal(0.7, decoders="own"))
    >>> ae.get_params()["cross_weight__decoders"]
    'own'
    """

    _plain_parameter = "weight"
    _parameter_constraints = {
        "weight": [Interval(Real, 0, 1, closed="both")],
        "decoders": [StrOptions({"shared", "own"})],
    }

    def __init__(self, weight=0.5, decoders="shared"):
        self.weight = weight
        self.decoders = decoders


    def _check_rules(self):
        # Own decoders that no loss trains would predict garbage.
        if self.decoders == "own" and self.weight == 0:
            raise InvalidParameterError(
                "CrossModal(decoders='own') trains its own decoders with the cross-modal "
                "term only, which needs weight > 0."
            )


class EarlyStop(_Option):
    """Stop training when the loss of held-out training data stops improving.

    The best epoch's weights are kept.

    Parameters
    ----------
    patience : int, default=10
        Epochs without improvement before training stops.
    validation_fraction : float, default=0.1
        Share of the training data held out.

    Examples
    --------
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.options import EarlyStop
    >>> MultimodalAutoencoder(early_stopping=EarlyStop(patience=3)).get_params()["early_stopping__patience"]
    3
    """

    _parameter_constraints = {
        "patience": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(self, patience=10, validation_fraction=0.1):
        self.patience = patience
        self.validation_fraction = validation_fraction


class Speed(_Option):
    """How the computation runs: fused optimizer, CUDA graphs, bfloat16, CPU threads.

    None of these changes what is learned beyond float rounding.

    Parameters
    ----------
    fused_optimizer : bool or "auto", default="auto"
        Use the optimizer's fused kernel (``fused=True``, one kernel for all
        parameters). ``"auto"`` uses it on CPU and CUDA with ``"adam"`` /
        ``"adamw"``; ``True`` asks for it on any device, for any optimizer
        that takes a ``fused`` argument.
    cuda_graphs : bool or "auto", default="auto"
        On CUDA, capture forward, backward and optimizer step of a full batch
        in one CUDA graph and replay it, which removes the per-kernel launch
        cost that dominates small models on a GPU. The last partial batch of
        each epoch runs eagerly, so every sample is used. Inside the graph the
        learning rate is fixed and ``on_grad_computed`` callbacks (e.g.
        gradient clipping) see no replayed step, so ``"auto"`` captures only
        on CUDA, with ``"adam"`` / ``"adamw"``, without a KL warm-up, and with
        no callback among ``callbacks`` that schedules the learning rate or
        acts on gradients (others, such as ``ProgressBar`` or ``Checkpoint``,
        see every step). ``True`` raises an error when the device is not
        CUDA. With graphs on, ``transform`` also replays a captured encode
        step for its full batches.
    bf16 : bool, default=False
        Run forward passes under bfloat16 autocast (CPU or CUDA); losses are
        still reduced in float32 and outputs are float32. Faster on GPUs with
        bf16 tensor cores when combined with ``cuda_graphs``; slightly less
        precise.
    n_threads : int or None, default=None
        CPU threads torch computes with in the estimator's methods (``fit``,
        ``transform``, ...), in the calling thread only. None uses half the
        CPUs this process may use (at least 1), and never more than the
        limit in force: ``threadpoolctl.threadpool_limits``,
        ``OMP_NUM_THREADS``, or the share of a joblib or Dask worker. torch's
        own default, a thread per core, slows a fit several times over
        beside another busy process.

    Examples
    --------
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.options import Speed
    >>> ae = MultimodalAutoencoder(speed=Speed(n_threads=2))
    >>> ae.set_params(speed__n_threads=1).speed
    Speed(n_threads=1)
    """

    _parameter_constraints = {
        "fused_optimizer": [StrOptions({"auto"}), "boolean"],
        "cuda_graphs": [StrOptions({"auto"}), "boolean"],
        "bf16": ["boolean"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, fused_optimizer="auto", cuda_graphs="auto", bf16=False, n_threads=None):
        self.fused_optimizer = fused_optimizer
        self.cuda_graphs = cuda_graphs
        self.bf16 = bf16
        self.n_threads = n_threads

    @classmethod
    def _from_plain(cls, value):
        return cls()
