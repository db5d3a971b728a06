"""MultimodalAutoencoder: the sklearn estimator.

The estimator stores its parameters. ``fit`` checks them once
(:mod:`skmmae._config`), fits the modalities (:mod:`skmmae._fitting`),
builds a skorch net (:mod:`skmmae._build`) around the torch model
(:class:`skmmae._module.MultimodalAutoencoderModule`), trains it, and fits
the post-fit components (:mod:`skmmae.readout`). The other methods run
inference passes (:mod:`skmmae._inference`) and compose the read-out and
refinement visibly. Input forms are handled by :mod:`skmmae._validation`,
data kinds by :mod:`skmmae.modalities`, fusion by :mod:`skmmae.fusion`.
"""

import functools
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from skorch.callbacks import EarlyStopping
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _inference
from ._build import build_net
from ._compat import Interval, StrOptions, _fit_context
from ._config import OPTIMIZERS, resolve_config
from ._fitting import check_reserved_names, fit_modalities, n_rows, resolve_weights, with_presence
from ._inference import NonFiniteOutput
from ._module import PRESENT_SUFFIX, split_presence
from ._threads import thread_budget
from ._validation import (
    MISSING_SUFFIX,
    check_code,
    check_fitted_modalities,
    check_some_modality,
    extract_missing,
    raise_for_rows,
    restore_layout,
    restore_modality,
    split_modalities,
    take_rows,
)
from .fusion import FUSIONS
from .options import CrossModal, EarlyStop, HiddenLayers, ModalityDropout, Speed, Variational
from .readout import DecoderReadout, TrainingData
from .refine import CodeRefinement

__all__ = ["MultimodalAutoencoder"]


def _on_thread_budget(method):
    """Run ``method`` with torch on the estimator's thread budget (see skmmae._threads)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with thread_budget(self._n_threads()):
            return method(self, *args, **kwargs)

    return wrapper


class MultimodalAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Learn one shared low-dimensional code from several modalities.

    Each modality (a block of features about the same samples) gets its own
    encoder; the per-modality features are fused into one code of size
    ``encoding_dim``, from which one decoder per modality reconstructs its
    input. Continuous modalities are standardized inside the model, so no
    scaler step is needed and :meth:`inverse_transform` returns original
    units. Training runs through skorch (kept as ``net_``), on a GPU when
    one is available.

    The defaults were chosen across every data set shipped with the package
    (``benchmarks/bench_suite.py``; the numbers are in
    ``benchmarks/README.md``): one wide hidden layer per encoder and decoder
    with ``LayerNorm`` and dropout, Gaussian input noise, modality dropout
    (which makes codes from a subset of the modalities, and predictions of
    one modality from the others, good), a moving average of the weights,
    and kernel ridge read-outs of the codes once trained. For a plain
    autoencoder, set ``noise_std=0``, ``modality_dropout=0``,
    ``ema_decay=0``, ``readout="decoder"`` and
    ``hidden_dims=HiddenLayers(dropout=0)``.

    Several parameters take a plain value or an object that carries the
    settings that only matter with them (:mod:`skmmae.options`); the
    post-fit steps are components (:mod:`skmmae.readout`,
    :mod:`skmmae.refine`). Their parameters are seen by
    ``get_params(deep=True)`` and grid searches.

    Parameters
    ----------
    encoding_dim : int, default=16
        Size of the shared code that :meth:`transform` returns.
    modalities : dict of str -> str or Modality, default=None
        The kind of some or all modalities, by name: a kind name from
        :data:`skmmae.modalities.KINDS` (``"continuous"``, ``"binary"``,
        ``"categorical"``, ...) or a :class:`~skmmae.modalities.Modality`
        instance with its own parameters (e.g. a custom encoder). Modalities
        not named are inferred from their data by
        :func:`~skmmae.modalities.infer_modality`; the fitted choice is in
        ``modalities_``. A plain array or DataFrame is one modality named
        ``"X"``.
    modality_weights : {"balanced"}, dict of str -> float or None, default=None
        Relative weight of each modality's loss in the training loss. None
        weighs each modality's mean loss equally; ``"balanced"`` divides each
        one by its value at initialization, so that losses of different
        kinds (MSE, cross-entropy...) start on the same footing; a dict gives
        the weights by name (missing names weigh 1).
    hidden_dims : sequence of int or HiddenLayers, default=(512,)
        Hidden layer widths of each modality's encoder; the decoders mirror
        them, and an empty sequence gives linear ones. Widths alone keep
        :class:`~skmmae.options.HiddenLayers`' ``LayerNorm`` and dropout
        (0.1) after each hidden layer.
    fusion : {"mean", "concat", "poe", "moe"}, default="mean"
        How per-modality features become one code (see
        :mod:`skmmae.fusion`): ``"mean"`` maps each modality to a code and
        averages those of the present modalities; ``"concat"`` concatenates
        the modalities' features (a learned placeholder standing in for a
        missing one) and maps them with one linear layer; ``"poe"`` multiplies
        one Gaussian expert per present modality with a N(0, I) prior;
        ``"moe"`` mixes the experts, and trains each modality's code to
        reconstruct every modality on its own.
    variational : bool or Variational, default=False
        Train a variational autoencoder (:class:`~skmmae.options.Variational`,
        with its KL weight ``beta``); :meth:`transform` still returns the
        posterior means, ``transform(X, return_std=True)`` also their
        standard deviations, and :meth:`sample` draws new samples.
    modality_dropout : float or ModalityDropout, default=0.3
        During training, hide each modality of each sample from the encoders
        with this probability (never all of a sample's modalities) while
        still scoring its reconstruction, so the model learns to predict a
        modality from the others (:class:`~skmmae.options.ModalityDropout`,
        which also splits the loss between the codes of the visible and of
        all modalities).
    noise_std : float, default=0.5
        During training, add Gaussian noise of this standard deviation to the
        encoders' inputs (in model units: standard deviations for continuous
        data), for a denoising autoencoder. Integer inputs (categories,
        tokens), raw counts and intensities in [0, 1] scored by binary
        cross-entropy (images and clips with ``pixel_loss="bce"``) are left
        as they are.
    input_dropout : float, default=0.0
        During training, zero each value of the encoders' floating-point
        inputs with this probability (denoising by masking).
    cross_weight : float or CrossModal, default=0.0
        Share of the training loss scored by cross-modal reconstruction:
        each modality decoded from the code of the other modalities alone,
        which trains exactly what :meth:`predict_modality` does
        (:class:`~skmmae.options.CrossModal`, which can also give that term
        decoders of its own).
    readout : {"kernel", "decoder"} or DecoderReadout, default="kernel"
        How codes are read back into modalities by :meth:`inverse_transform`,
        :meth:`predict_modality` and :meth:`score`: a component fitted when
        training ends, kept as ``readout_``. ``"kernel"``
        (:class:`~skmmae.readout.KernelReadout`): kernel ridge regressions
        from the training codes to each continuous modality and time series,
        which read new codes better than decoders that learned from codes
        training noise kept changing; other kinds keep their decoders.
        ``"decoder"`` (:class:`~skmmae.readout.DecoderReadout`): the trained
        decoders. An instance sets the read-out's own parameters.
    refine : CodeRefinement or None, default=None
        In :meth:`predict_modality`, refine the code of the given modalities
        by gradient steps on the code alone so that it explains them best,
        and average the predictions from the encoders' code and from the
        refined one (:class:`~skmmae.refine.CodeRefinement`). It costs tens
        of times the prediction time, so it is off by default.
        :meth:`transform` is not refined.
    max_epochs : int, default=100
        Number of passes over the training data.
    batch_size : int, default=128
        Samples per gradient step (the last partial batch is kept).
    lr : float, default=2e-3
        Learning rate.
    weight_decay : float, default=0.0
        L2 penalty passed to the optimizer.
    ema_decay : float, default=0.99
        Keep an exponential moving average of the weights during training
        (decay per step; it spans about ``1 / (1 - ema_decay)`` recent
        steps) and use it as the fitted weights: it smooths out the noise
        that input noise and modality dropout put in every step. 0 keeps the
        last step's weights. Not used with ``early_stopping``, which keeps
        the best epoch's weights.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        The optimizer; a class (e.g. ``torch.optim.RMSprop``) is called with
        the module's parameters, ``lr`` and ``weight_decay``.
    device : str or torch.device, default="auto"
        Where to train: ``"auto"`` picks CUDA when available, else the CPU;
        any torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``) is used
        as given.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks (progress bar, checkpointing, LR schedules,
        scoring, logging). They are copied at fit; the fitted ones are in
        ``net_.callbacks_``.
    early_stopping : bool or EarlyStop, default=False
        Hold out part of the training data and stop when its loss stops
        improving, keeping the best epoch's weights
        (:class:`~skmmae.options.EarlyStop`: patience 10 epochs, 10% held
        out).
    speed : Speed or None, default=None
        How the computation runs (:class:`~skmmae.options.Speed`): the fused
        optimizer, CUDA graphs and bfloat16 autocast, and the CPU threads of
        the estimator's methods. None takes its defaults: a fused Adam on CPU
        and CUDA, CUDA graphs where they apply, and half the usable CPUs.
    verbose : int, default=0
        0 trains silently; 1 prints skorch's table of losses per epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling, the validation split and the
        read-out's draws. With an int, the same data gives the same codes on
        the CPU. torch's global random state is left as it was.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted skorch net; its ``history`` holds the losses per epoch and
        its ``module_`` the torch model.
    modalities_ : dict of str -> Modality
        The fitted modality of each input block, in input order: its kind,
        parameters and learned statistics. A plain array or DataFrame is one
        modality named ``"X"``.
    modality_weights_ : dict of str -> float
        The weight of each modality's loss in the training loss (summing to
        one).
    readout_ : DecoderReadout
        The fitted read-out (see ``readout``).
    code_scale_ : float
        The training codes' spread (the mean over code dimensions of their
        standard deviation): the unit of the steps of ``refine``.
    n_features_in_ : int
        Total number of features over all modalities (an image counts its
        pixels times channels).
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names, only when X was a DataFrame with string column names.
    device_ : torch.device
        The device training ran on.

    See Also
    --------
    sklearn.decomposition.PCA : A linear code from a single feature matrix.

    Examples
    --------
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.datasets import load_mfeat
    >>> X, y = load_mfeat(return_X_y=True)
    >>> ae = MultimodalAutoencoder(encoding_dim=8, max_epochs=2, random_state=0)
    >>> Z = ae.fit_transform(X[:200])
    >>> Z.shape
    (200, 8)
    >>> X_rec = ae.inverse_transform(Z)
    >>> X_rec["pix"].shape
    (200, 240)
    """

    _parameter_constraints = {
        "encoding_dim": [Interval(Integral, 1, None, closed="left")],
        "modalities": [dict, None],
        "modality_weights": [StrOptions({"balanced"}), dict, None],
        "hidden_dims": ["array-like", HiddenLayers],
        "fusion": [StrOptions(set(FUSIONS))],
        "variational": ["boolean", Variational],
        "modality_dropout": [Interval(Real, 0, 1, closed="left"), ModalityDropout],
        "noise_std": [Interval(Real, 0, None, closed="left")],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
        "cross_weight": [Interval(Real, 0, 1, closed="both"), CrossModal],
        "readout": [StrOptions({"kernel", "decoder"}), DecoderReadout],
        "refine": [CodeRefinement, None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "ema_decay": [Interval(Real, 0, 1, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "device": [str, torch.device],
        "callbacks": [list, None],
        "early_stopping": ["boolean", EarlyStop],
        "speed": [Speed, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        encoding_dim=16,
        *,
        modalities=None,
        modality_weights=None,
        hidden_dims=(512,),
        fusion="mean",
        variational=False,
        modality_dropout=0.3,
        noise_std=0.5,
        input_dropout=0.0,
        cross_weight=0.0,
        readout="kernel",
        refine=None,
        max_epochs=100,
        batch_size=128,
        lr=2e-3,
        weight_decay=0.0,
        ema_decay=0.99,
        optimizer="adam",
        device="auto",
        callbacks=None,
        early_stopping=False,
        speed=None,
        verbose=0,
        random_state=None,
    ):
        self.encoding_dim = encoding_dim
        self.modalities = modalities
        self.modality_weights = modality_weights
        self.hidden_dims = hidden_dims
        self.fusion = fusion
        self.variational = variational
        self.modality_dropout = modality_dropout
        self.noise_std = noise_std
        self.input_dropout = input_dropout
        self.cross_weight = cross_weight
        self.readout = readout
        self.refine = refine
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.optimizer = optimizer
        self.device = device
        self.callbacks = callbacks
        self.early_stopping = early_stopping
        self.speed = speed
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the autoencoder to X.

        Parameters
        ----------
        X : dict of str -> array-like, SliceDict, DataFrame or array-like
            One block per modality, one sample per row: 2-D arrays or
            DataFrames, scipy sparse matrices for counts, N-D arrays for
            images or time series; as a dict / ``skorch.helper.SliceDict``
            (use the latter for cross-validation), a DataFrame with 2-level
            MultiIndex columns ``(modality, feature)``, or a single 2-D array
            or DataFrame. A sample lacks a modality where its row is entirely
            NaN, or where the boolean mask ``X[name + "__missing"]`` is True
            (for kinds without NaN, e.g. tokens); missing modalities are left
            out of the fusion and the loss. Every sample needs one modality.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : MultimodalAutoencoder
            The fitted estimator.

        Raises
        ------
        ValueError
            If X or a parameter is invalid, or if training diverges (a loss
            or the weights become NaN or infinite). When ``fit`` raises, the
            estimator is left as it was before: unfitted, or with its previous
            fitted model.

        Warns
        -----
        UserWarning
            When a ``KeyboardInterrupt`` stops training early. skorch ends the
            training loop there; the model trained so far is kept, with its
            post-fit steps (weight average, read-outs), as the fitted model.
        """
        previous = dict(self.__dict__)
        try:
            # Every parameter rule, before any data is touched.
            config = resolve_config(self)
            with thread_budget(config.speed.n_threads):
                self._fit(X, config)
        except BaseException:
            # Nothing half-built may stay: no new model without its post-fit
            # steps, and no loss of the previous fitted model.
            self.__dict__.clear()
            self.__dict__.update(previous)
            raise
        return self

    def _fit(self, X, config):
        data, self._layout = split_modalities(X, estimator=self, reset=True)
        check_reserved_names(data)
        data, missing = extract_missing(data, self._layout, fitting=True)
        check_some_modality(missing, data, data, n_rows(data))
        self.modalities_, data = fit_modalities(self, data, missing)
        data = with_presence(data, missing)
        if self._layout.kind not in ("array", "frame") and hasattr(self, "feature_names_in_"):
            del self.feature_names_in_  # a refit on dict input keeps no names of an array fit
        if self._layout.kind not in ("array", "frame"):
            self.n_features_in_ = sum(m.n_features_ for m in self.modalities_.values())
        self.device_ = config.device
        self._n_features_out = self.encoding_dim
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        # Seed a fork of torch's random state: reproducible without touching
        # the user's global state.
        with torch.random.fork_rng(devices=_rng_devices(config.device)):
            torch.manual_seed(seed)
            self.net_ = build_net(self, config, self.modalities_, seed).initialize()
            self.modality_weights_ = resolve_weights(self, data, seed)
            self.net_.criterion_.weights = self.modality_weights_
            # One copy on the device serves training and the post-fit steps.
            dataset = self.net_.get_dataset(data)
            # partial_fit trains the initialized net (fit would rebuild it).
            self.net_.partial_fit(dataset)
        self._fit_post_steps(config, TrainingData(self.net_, dataset, self.modalities_), seed)
        self._warn_if_interrupted()

    def _fit_post_steps(self, config, training, seed):
        """Fit the read-out, and measure the codes' spread, once training has ended."""
        readout = clone(config.readout)
        if readout.get_params().get("random_state", 0) is None:
            readout.set_params(random_state=seed)
        self.readout_ = readout.fit(self.net_.module_, training)
        code = training.code.double()
        spread = code.std(dim=0, unbiased=False).mean() if len(code) > 1 else torch.ones(())
        self.code_scale_ = float(spread.clamp_min(1e-6))

    def _n_threads(self):
        return Speed.from_value(self.speed).n_threads

    def _warn_if_interrupted(self):
        """Warn when skorch ended training early on a KeyboardInterrupt.

        skorch catches the interrupt, ends the loop and runs the post-fit
        steps; skorch's early stopping (ours, or one in ``callbacks``) ends
        the loop the same way, which is no interruption.
        """
        completed = dict(self.net_.callbacks_)["loss_terms"].epochs_
        if completed == self.max_epochs:
            return
        for _, callback in self.net_.callbacks_:
            stopped = getattr(callback, "misses_", 0) >= getattr(callback, "patience", np.inf)
            if isinstance(callback, EarlyStopping) and stopped:
                return
        warnings.warn(
            f"Training of {type(self).__name__} was interrupted (KeyboardInterrupt) "
            f"after {completed} complete epochs of {self.max_epochs}; the model "
            "trained so far is kept as the fitted model, with its post-fit steps.",
            UserWarning,
            stacklevel=3,
        )

    @_on_thread_budget
    def transform(self, X, return_std=False):
        """Encode X into the shared code.

        Parameters
        ----------
        X : dict of str -> array-like, SliceDict, DataFrame or array-like
            Modalities in the form used in :meth:`fit`; any subset of them. A
            modality whose key is absent, or whose row is entirely NaN (or
            masked), is missing in that sample, and the code comes from the
            others: an absent key and all-NaN rows give the same codes.
        return_std : bool, default=False
            Also return the posterior standard deviation of each code value
            (needs ``variational=True``).

        Returns
        -------
        Z : ndarray of shape (n_samples, encoding_dim)
            The codes (posterior means), float32.
        Z_std : ndarray of shape (n_samples, encoding_dim)
            Only with ``return_std=True``: the posterior standard deviations.
        """
        check_is_fitted(self)
        if return_std and not self.net_.module_.variational:
            raise ValueError(
                "transform(X, return_std=True) needs a variational model; this "
                f"{type(self).__name__} has variational=False."
            )
        data = self._inference_data(X)
        if not return_std:
            return self._finite_codes(_inference.encode(self.net_, data), X)
        mean, logvar = _inference.encode_with_logvar(self.net_, data)
        return self._finite_codes(mean, X), np.exp(0.5 * logvar)

    @_on_thread_budget
    def predict_modality(self, X, target):
        """Predict the modality ``target`` from the other modalities of X.

        The code of the other modalities is read into ``target`` by the
        read-out (``readout_.predict``): its kernel regression from the
        others' code (``readout="kernel"``, continuous modalities), else
        its decoder, or its cross-modal decoder with
        ``cross_decoders="own"``. With ``refine``, that prediction is
        averaged with ``target`` reconstructed from the code refined to
        explain the other modalities best. Each sample's prediction depends
        on its own values only.

        Parameters
        ----------
        X : dict of str -> array-like, SliceDict or DataFrame
            Modalities in the form used in :meth:`fit`. ``target`` may be
            absent; its values, if given, are ignored.
        target : str
            The fitted modality to predict.

        Returns
        -------
        ndarray or DataFrame
            The predicted values of ``target``, in its original units and
            form (as :meth:`inverse_transform` gives it).
        """
        check_is_fitted(self)
        if target not in self.modalities_:
            raise ValueError(
                f"predict_modality: {target!r} is not a fitted modality; the fitted "
                f"modalities are {list(self.modalities_)}."
            )
        if len(self.modalities_) < 2:
            raise ValueError(
                f"predict_modality needs a model of several modalities; this one was "
                f"fitted on {list(self.modalities_)} only."
            )
        index = getattr(X, "index", None)
        data = self._inference_data(X, leave_out=target)
        try:
            rows = None if self.refine is None else self.refine.batch_rows
            values = _inference.predict(self.net_, data, target, self._prediction(target), rows)
        except NonFiniteOutput as error:
            self._explain_nonfinite(X, error.rows[target], "predict_modality", leave_out=target)
            raise ValueError(
                f"predict_modality: the prediction of {target!r} is not finite in "
                f"{int(error.rows[target].sum())} rows: the code of the other modalities "
                "lies too far outside the training codes for its read-out."
            ) from error
        return restore_modality(
            self.modalities_[target].restore(values), self._layout, target, index=index
        )

    def _prediction(self, target):
        """Batch of the other modalities -> ``target`` in model units.

        The read-out's prediction from the others' code; with ``refine``,
        averaged with the read-out's reconstruction of ``target`` from that
        code refined to explain the others best.
        """
        net, module, readout, refinement = self.net_, self.net_.module_, self.readout_, self.refine

        def predict(batch):
            values, present = split_presence(batch)
            with torch.no_grad(), net.autocast():
                targets = module.scale(values)
                code = module.posterior(targets, present).mean.float()
                prediction = readout.predict(module, code, target).float()
            if refinement is None:
                return prediction
            loss = net.criterion_.summed_loss(
                lambda c: readout.reconstruct(module, c, list(targets)), targets, present
            )
            refined = refinement.refine(code, loss, self.code_scale_)
            with torch.no_grad():
                return 0.5 * (prediction + readout.reconstruct(module, refined, [target])[target].float())

        return predict

    def _reconstruct(self, code):
        """Every modality in model units from a batch of codes, by the read-out."""
        return self.readout_.reconstruct(self.net_.module_, code)

    def sample(self, n_samples=1, random_state=None):
        """Draw new samples of every modality from the prior N(0, I).

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw of the codes.

        Returns
        -------
        X_new : dict, SliceDict, DataFrame or ndarray
            The decoded samples, in the form of :meth:`inverse_transform`.
        """
        check_is_fitted(self)
        if not self.net_.module_.variational:
            raise ValueError(
                f"sample needs a variational model; this {type(self).__name__} has "
                "variational=False."
            )
        rng = check_random_state(random_state)
        codes = rng.standard_normal((n_samples, self.encoding_dim)).astype(np.float32)
        return self.inverse_transform(codes)

    @_on_thread_budget
    def inverse_transform(self, X):
        """Reconstruct every modality from codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, encoding_dim)
            Codes, e.g. from :meth:`transform` (a DataFrame's index is kept
            for DataFrame outputs).

        Returns
        -------
        X_rec : dict, SliceDict, DataFrame or ndarray
            Reconstructions in the form and original units of the data given
            to :meth:`fit`: a dict for dict input, a MultiIndex DataFrame for
            such input, a 2-D array for array input.
        """
        check_is_fitted(self)
        index = getattr(X, "index", None)
        codes = check_code(X, self.encoding_dim, type(self).__name__)
        try:
            decoded = _inference.decode(self.net_, codes, self._reconstruct)
        except NonFiniteOutput as error:
            name, rows = next(iter(error.rows.items()))
            raise_for_rows(
                f"inverse_transform: the reconstruction of {self._layout.describe(name)}",
                "is not finite",
                rows,
                f"Those codes (largest magnitude {np.abs(codes[rows]).max():.3g}) lie too "
                "far outside the codes seen in training for the model to decode them "
                "in float32.",
            )
        restored = {name: m.restore(decoded[name]) for name, m in self.modalities_.items()}
        return restore_layout(restored, self._layout, index=index)

    @_on_thread_budget
    def score(self, X, y=None):
        """Negative mean reconstruction loss of X (higher is better).

        The loss is the training loss: the mean over modalities of each
        modality's mean loss (MSE in standardized units for continuous
        data). Being a score, it lets ``GridSearchCV`` compare settings
        without labels.

        Parameters
        ----------
        X : dict of str -> array-like, SliceDict, DataFrame or array-like
            Data in the form used in :meth:`fit`.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        data = self._inference_data(X)
        losses, kl = _inference.loss_totals(self.net_, data, self._reconstruct)
        loss = float(self.net_.criterion_.combine(losses, kl))
        if not np.isfinite(loss):
            bad = ~np.isfinite(_inference.encode(self.net_, data)).all(axis=1)
            if bad.any():
                self._explain_nonfinite(X, bad, "score")
            names = [self._layout.describe(n) for n, v in losses.items() if not np.isfinite(v)]
            raise ValueError(
                f"score: the reconstruction loss of {', '.join(names) or 'X'} is not "
                f"finite: the values lie too far outside the training data for the "
                "model to score them in float32. Check their units and scale."
            )
        return -loss

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The model computes in float32: float32 in gives float32 out.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _check_input(self, X, leave_out=None, unscanned=()):
        """Validated blocks of X (any subset of the fitted modalities) with presence masks.

        The modalities named in ``unscanned`` are not scanned for NaN or
        infinity (see :meth:`_inference_data`).
        """
        check_is_fitted(self)
        data, layout = split_modalities(X, estimator=self, reset=False)
        if leave_out is not None:
            dropped = (leave_out, leave_out + MISSING_SUFFIX)
            data = {key: block for key, block in data.items() if key not in dropped}
        data, missing = extract_missing(data, layout, fitting=False, unscanned=unscanned)
        data = check_fitted_modalities(
            data, layout, self.modalities_, type(self).__name__, self._layout.feature_names,
            unscanned=unscanned,
        )
        check_some_modality(missing, data, self.modalities_, n_rows(data))
        return with_presence(data, missing)

    def _finite_codes(self, codes, X):
        """``codes`` of X, or the error that explains why some are not finite."""
        bad = ~np.isfinite(codes).all(axis=1)
        if bad.any():
            self._explain_nonfinite(X, bad, "transform")
            raise_for_rows("transform: the code of X", "is not finite", bad)
        return codes

    def _explain_nonfinite(self, X, rows, method, leave_out=None):
        """Raise a ``ValueError`` naming the modality whose values give non-finite outputs.

        Each modality of X is encoded alone on ``rows`` (the offending
        samples); one whose code alone is not finite has values the model
        cannot compute with. Returns when no single modality is to blame.
        """
        data = self._check_input(X, leave_out)
        for name in [name for name in data if name in self.modalities_]:
            alone = {
                key: take_rows(block, rows)
                for key, block in data.items()
                if key in (name, name + PRESENT_SUFFIX)
            }
            if np.isfinite(_inference.encode(self.net_, alone)).all():
                continue
            magnitude = float(abs(alone[name]).max())  # abs() serves sparse blocks too
            raise_for_rows(
                f"{method}: {self._layout.describe(name)}",
                "has values the model cannot compute with",
                rows,
                f"They reach a magnitude of {magnitude:.3g}, so far outside "
                "the training data that float32 overflows inside the network. Check "
                "their units and scale.",
            )

    def _inference_data(self, X, leave_out=None):
        """X checked and copied to the net's device once, as a dataset for the net.

        Checking that values are finite reads all of them; on the host that
        can cost more than encoding them on a GPU. So the values of kinds
        whose check only proves them finite (continuous) are proven finite
        where they are copied to anyway: one reduction per block on the
        net's device. Where that fails (a NaN, an infinity, or a row of NaN
        marking a missing modality), X is checked again on the host, which
        finds the missing rows or names the bad values, as in ``fit``.
        """
        check_is_fitted(self)
        deferred = [name for name, m in self.modalities_.items() if m.finite_check_deferrable]
        dataset = self.net_.get_dataset(self._check_input(X, leave_out, unscanned=deferred))
        if not dataset.all_finite(deferred):
            del dataset  # free this device copy before the next one is made
            dataset = self.net_.get_dataset(self._check_input(X, leave_out))
        return dataset



def _rng_devices(device):
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]
