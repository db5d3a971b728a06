"""MultimodalAutoencoder: the sklearn estimator.

The estimator stores its parameters and, in ``fit``, builds a skorch net
(:class:`skmmae._net.MultimodalNet`) around the torch model
(:class:`skmmae._module.MultimodalAutoencoderModule`) and keeps it as
``net_``. Input forms are handled by :mod:`skmmae._validation`, data kinds by
:mod:`skmmae.modalities`, fusion by :mod:`skmmae.fusion`.
"""

import copy
import functools
import inspect
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping, LRScheduler
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._averaging import WeightAverage
from ._compat import Interval, InvalidParameterError, StrOptions, _fit_context
from ._data import TensorValidSplit
from ._loss_terms import LossTerms
from ._layers import HiddenLayers
from ._module import (
    PRESENT_SUFFIX,
    MultimodalAutoencoderModule,
    ReconstructionLoss,
    split_presence,
)
from . import _inference
from ._cuda_graphs import CudaGraphs
from ._inference import NonFiniteOutput
from ._net import KLWarmup, MultimodalNet
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
from .modalities import infer_modality, make_modality
from .readout import DecoderReadout, KernelReadout, TrainingData
from .refine import CodeRefinement

__all__ = ["MultimodalAutoencoder"]


def _n_rows(data):
    return next(iter(data.values())).shape[0]


def _with_presence(data, missing):
    """The blocks plus a float 0/1 presence mask per modality that some samples lack."""
    masks = {name + PRESENT_SUFFIX: (~rows).astype(np.float32) for name, rows in missing.items()}
    return {**data, **masks}


def _check_reserved_names(data):
    """Refuse modality names that the model's batches would confuse with its masks."""
    reserved = [name for name in data if name.endswith(PRESENT_SUFFIX)]
    if reserved:
        raise ValueError(
            f"Modality names must not end in {PRESENT_SUFFIX!r}, which the model uses "
            f"internally for presence masks; rename {reserved}."
        )


def _sample_rows(data, n, seed):
    """At most ``n`` random rows of every block, in order (to probe initial losses)."""
    n_samples = next(iter(data.values())).shape[0]
    if n_samples <= n:
        return data
    rows = np.sort(np.random.RandomState(seed).choice(n_samples, n, replace=False))
    return {name: block[rows] for name, block in data.items()}


def _on_thread_budget(method):
    """Run ``method`` with torch on the estimator's ``n_threads`` (see skmmae._threads)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with thread_budget(self.n_threads):
            return method(self, *args, **kwargs)

    return wrapper


def _graph_safe(entry):
    """Whether a user's callback works while CUDA graphs replay the training step.

    Inside the graph the optimizer's hyperparameters are fixed and no
    gradient is seen by the host: learning-rate schedules and callbacks
    acting on gradients (e.g. clipping) would silently do nothing.
    """
    callback = entry[1] if isinstance(entry, tuple) else entry
    kind = callback if isinstance(callback, type) else type(callback)
    return not issubclass(kind, LRScheduler) and kind.on_grad_computed is Callback.on_grad_computed


_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}


class MultimodalAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Learn one shared low-dimensional code from several modalities.

    Each modality (a block of features about the same samples) gets its own
    encoder; the per-modality features are fused into one code of size
    ``encoding_dim``, from which one decoder per modality reconstructs its
    input. Continuous modalities are standardized inside the model, so no
    scaler step is needed and :meth:`inverse_transform` returns original
    units. Training runs through skorch (kept as ``net_``), on a GPU when
    one is available.

    The defaults are those that worked best on real multi-view data
    (``benchmarks/bench_quality.py``): one wide hidden layer per encoder and
    decoder (``hidden_dims=(512,)``) with ``LayerNorm`` and dropout 0.1,
    Gaussian input noise (``noise_std=0.5``), modality dropout
    (``modality_dropout=0.3``), which also makes codes from a subset of the
    modalities, and predictions of one modality from the others, good, half
    the reconstruction loss scored from the code of all modalities
    (``subset_weight=0.5``), a moving average of the weights
    (``ema_decay=0.99``), and, once trained, kernel ridge read-outs of the
    codes (``readout="kernel"``). Set the regularizers to 0 / False (and
    ``subset_weight=1``) for a plain autoencoder.

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
    hidden_dims : sequence of int, default=(512,)
        Hidden layer widths of each modality's encoder; the decoders mirror
        them. An empty sequence gives linear encoders and decoders.
    layer_norm : bool, default=True
        Put a ``LayerNorm`` after each hidden layer of the encoders' and
        decoders' MLPs (before the ReLU).
    dropout : float, default=0.1
        Dropout probability after each hidden layer of those MLPs, during
        training.
    fusion : {"mean", "concat", "poe", "moe"}, default="mean"
        How per-modality features become one code (see
        :mod:`skmmae.fusion`): ``"mean"`` maps each modality to a code and
        averages those of the present modalities; ``"concat"`` concatenates
        the modalities' features (a learned placeholder standing in for a
        missing one) and maps them with one linear layer; ``"poe"`` multiplies
        one Gaussian expert per present modality with a N(0, I) prior;
        ``"moe"`` mixes the experts, and trains each modality's code to
        reconstruct every modality on its own.
    variational : bool, default=False
        Train a variational autoencoder: codes are Gaussians, training
        decodes samples of them and adds ``beta`` times their KL divergence
        from N(0, I). :meth:`transform` still returns the posterior means;
        ``transform(X, return_std=True)`` also gives the posterior standard
        deviations, and :meth:`sample` draws new samples.
    beta : float, default=1.0
        Weight of the KL term (averaged over code dimensions and samples)
        when ``variational=True``.
    kl_warmup_epochs : int, default=0
        Raise the KL weight linearly from ``beta / kl_warmup_epochs`` to
        ``beta`` over this many epochs (a skorch callback); 0 keeps ``beta``.
    modality_dropout : float, default=0.3
        During training, hide each modality of each sample from the encoders
        with this probability (never all of a sample's modalities) while
        still scoring its reconstruction: the model learns to predict a
        modality from the others, and codes from a subset stay good.
    subset_weight : float, default=0.5
        With ``modality_dropout``, the share of the reconstruction loss
        scored from the code of the modalities left visible; the rest is
        scored from the code of all present modalities, decoded separately
        (the encoders run once). Below 1, full reconstructions stop paying
        for cross-modal training, at the cost of a second decoding.
    cross_weight : float, default=0.0
        Share of the training loss scored by cross-modal reconstruction:
        each modality decoded from the code of the other modalities alone
        (those that ``modality_dropout`` left visible; all the others
        present where it hid every one), so that its own encoder cannot
        help. This trains exactly what :meth:`predict_modality` does; the
        rest of the loss is split by ``subset_weight``. It costs one more
        decoding per step. Not used with a single modality, nor with
        ``fusion="moe"``, whose experts are each trained to reconstruct
        every modality already.
    cross_decoders : {"shared", "own"}, default="shared"
        Which decoders the cross-modal term trains, and
        :meth:`predict_modality` uses. ``"shared"``: the reconstruction
        decoders, which then learn from codes with and without their own
        modality alike. ``"own"``: a second decoder per modality (without
        dropout) that only learns to predict its modality from the others'
        code, leaving the reconstruction decoders to the codes of all (or
        the visible) modalities; it costs one more set of decoder weights.
        ``"own"`` needs ``cross_weight > 0`` and a fusion other than
        ``"moe"``.
    readout : {"kernel", "decoder"} or DecoderReadout, default="kernel"
        How codes are read back into modalities by :meth:`inverse_transform`,
        :meth:`predict_modality` and :meth:`score`: a post-fit component
        (:mod:`skmmae.readout`), fitted when training ends and kept as
        ``readout_``. ``"kernel"`` (:class:`~skmmae.readout.KernelReadout`
        with its defaults): kernel ridge regressions from the training codes
        to each continuous modality and time series, one from the code of
        all present modalities and one from the code of the others; other
        kinds keep their decoders. Once the encoders are fixed, these
        regressions predict better than decoders that learned from codes
        that training noise kept changing, for a few seconds more per fit.
        ``"decoder"`` (:class:`~skmmae.readout.DecoderReadout`): the trained
        decoders (and ``cross_decoders``). An instance sets the read-out's
        own parameters, which ``get_params(deep=True)`` and grid searches
        see (e.g. ``readout__max_centers``).
    refine : CodeRefinement or None, default=None
        In :meth:`predict_modality`, refine the code of the given modalities
        by gradient steps on the code alone (the model fixed), so that the
        model reconstructs those modalities as well as it can (the training
        loss restricted to them), and average two predictions of the
        target: the read-out's prediction from the encoders' code, and its
        reconstruction from the refined code
        (:class:`~skmmae.refine.CodeRefinement`). It costs these steps at
        prediction time, tens of times the time of the read-out alone, so
        it is off by default; it helped on some data and hurt on other
        (``benchmarks/README.md``). :meth:`transform` is not refined.
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
        that input noise and modality dropout put in every step, and lowers
        reconstruction error on new data. 0 keeps the last step's weights.
        Not used with ``early_stopping``, which keeps the best epoch's
        weights.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        The optimizer; a class (e.g. ``torch.optim.RMSprop``) is called with
        the module's parameters, ``lr`` and ``weight_decay``.
    device : str or torch.device, default="auto"
        Where to train: ``"auto"`` picks CUDA when available, else the CPU;
        any torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``) is used
        as given.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks (checkpointing, LR schedules, logging). They
        are copied at fit; the fitted ones are in ``net_.callbacks_``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data and stop when
        its loss has not improved for ``n_iter_no_change`` epochs; the best
        epoch's weights are kept.
    validation_fraction : float, default=0.1
        Share of the training data held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
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
        on CUDA, with ``"adam"`` / ``"adamw"``, and with no callback among
        ``callbacks`` that schedules the learning rate or acts on gradients
        (others, such as ``ProgressBar`` or ``Checkpoint``, see every step). ``True``
        raises an error when the device is not CUDA. With graphs on,
        :meth:`transform` also replays a captured encode step for its full
        batches.
    bf16 : bool, default=False
        Run forward passes under bfloat16 autocast (CPU or CUDA); losses are
        still reduced in float32 and outputs are float32. Faster on GPUs with
        bf16 tensor cores when combined with ``cuda_graphs``; slightly less
        precise.
    n_threads : int or None, default=None
        CPU threads torch computes with in this estimator's methods (``fit``,
        ``transform``, ...), in the calling thread only. None uses half the
        CPUs this process may use (at least 1), and never more than the
        limit in force: ``threadpoolctl.threadpool_limits``,
        ``OMP_NUM_THREADS``, or the share of a joblib or Dask worker. torch's
        own default, a thread per core, slows a fit several times over
        beside another busy process, and half of them much less; on a quiet
        machine, all cores can be faster (``benchmarks/README.md``,
        ``bench_contention.py``). Set an int to choose.
    verbose : int, default=0
        0 trains silently; 1 prints skorch's table of losses per epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling, and the validation split.
        With an int, the same data gives the same codes on the CPU. torch's
        global random state is left as it was.

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
    n_features_in_ : int
        Total number of features over all modalities (an image counts its
        pixels times channels).
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names, only when X was a DataFrame with string column names.
    device_ : torch.device
        The device training ran on.
    readout_ : DecoderReadout
        The fitted read-out (see ``readout``).
    code_scale_ : float
        The training codes' spread: the mean over code dimensions of their
        standard deviation. The unit of the steps of ``refine``.

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
        "hidden_dims": ["array-like"],
        "layer_norm": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "fusion": [StrOptions(set(FUSIONS))],
        "variational": ["boolean"],
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "modality_dropout": [Interval(Real, 0, 1, closed="left")],
        "noise_std": [Interval(Real, 0, None, closed="left")],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
        "subset_weight": [Interval(Real, 0, 1, closed="both")],
        "cross_weight": [Interval(Real, 0, 1, closed="both")],
        "cross_decoders": [StrOptions({"shared", "own"})],
        "readout": [StrOptions({"kernel", "decoder"}), DecoderReadout],
        "refine": [CodeRefinement, None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "ema_decay": [Interval(Real, 0, 1, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "device": [str, torch.device],
        "callbacks": [list, None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "fused_optimizer": [StrOptions({"auto"}), "boolean"],
        "cuda_graphs": [StrOptions({"auto"}), "boolean"],
        "bf16": ["boolean"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
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
        layer_norm=True,
        dropout=0.1,
        fusion="mean",
        variational=False,
        beta=1.0,
        kl_warmup_epochs=0,
        modality_dropout=0.3,
        noise_std=0.5,
        input_dropout=0.0,
        subset_weight=0.5,
        cross_weight=0.0,
        cross_decoders="shared",
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
        validation_fraction=0.1,
        n_iter_no_change=10,
        fused_optimizer="auto",
        cuda_graphs="auto",
        bf16=False,
        n_threads=None,
        verbose=0,
        random_state=None,
    ):
        self.encoding_dim = encoding_dim
        self.modalities = modalities
        self.modality_weights = modality_weights
        self.hidden_dims = hidden_dims
        self.layer_norm = layer_norm
        self.dropout = dropout
        self.fusion = fusion
        self.variational = variational
        self.beta = beta
        self.kl_warmup_epochs = kl_warmup_epochs
        self.modality_dropout = modality_dropout
        self.noise_std = noise_std
        self.input_dropout = input_dropout
        self.subset_weight = subset_weight
        self.cross_weight = cross_weight
        self.cross_decoders = cross_decoders
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
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.fused_optimizer = fused_optimizer
        self.cuda_graphs = cuda_graphs
        self.bf16 = bf16
        self.n_threads = n_threads
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
            with thread_budget(self.n_threads):
                self._fit(X)
        except BaseException:
            # Nothing half-built may stay: no new model without its post-fit
            # steps, and no loss of the previous fitted model.
            self.__dict__.clear()
            self.__dict__.update(previous)
            raise
        return self

    def _fit(self, X):
        self._check_components()
        hidden_dims = self._check_hidden_dims()
        self._check_cross_decoders()
        self._check_callbacks()
        device = self._resolve_device()
        data, self._layout = split_modalities(X, estimator=self, reset=True)
        _check_reserved_names(data)
        data, missing = extract_missing(data, self._layout, fitting=True)
        check_some_modality(missing, data, data, _n_rows(data))
        data = _with_presence(self._fit_modalities(data, missing), missing)
        if self._layout.kind not in ("array", "frame"):
            self._forget_array_feature_names()
            self.n_features_in_ = sum(m.n_features_ for m in self.modalities_.values())
        self.device_ = device
        self._n_features_out = self.encoding_dim
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        # Seed a fork of torch's random state: reproducible without touching
        # the user's global state.
        with torch.random.fork_rng(devices=self._rng_devices(device)):
            torch.manual_seed(seed)
            self.net_ = self._build_net(hidden_dims, device, seed).initialize()
            self.modality_weights_ = self._resolve_weights(data, seed)
            self.net_.criterion_.weights = self.modality_weights_
            # One copy on the device serves training and the post-fit steps.
            dataset = self.net_.get_dataset(data)
            # partial_fit trains the initialized net (fit would rebuild it).
            self.net_.partial_fit(dataset)
        self._fit_post_steps(TrainingData(self.net_, dataset, self.modalities_), seed)
        self._warn_if_interrupted()

    def _fit_post_steps(self, training, seed):
        """Fit the read-out, and measure the codes' spread, once training has ended."""
        if isinstance(self.readout, str):
            readout = KernelReadout() if self.readout == "kernel" else DecoderReadout()
        else:
            readout = clone(self.readout)
        if readout.get_params().get("random_state", 0) is None:
            readout.set_params(random_state=seed)
        self.readout_ = readout.fit(self.net_.module_, training)
        code = training.code.double()
        spread = code.std(dim=0, unbiased=False).mean() if len(code) > 1 else torch.ones(())
        self.code_scale_ = float(spread.clamp_min(1e-6))

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
        if return_std and not self.variational:
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
        if not self.variational:
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
        check_some_modality(missing, data, self.modalities_, _n_rows(data))
        return _with_presence(data, missing)

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

    def _fit_modalities(self, data, missing):
        """Resolve, fit and apply each modality; set ``modalities_``.

        A modality that some samples lack learns its statistics from the
        samples that have it.
        """
        specs = self._named("modalities", data)
        self.modalities_, checked = {}, {}
        for name, block in data.items():
            label = self._layout.describe(name)
            spec = specs.get(name)
            modality = infer_modality(block, label) if spec is None else make_modality(spec, label)
            if name in missing:
                modality.fit(take_rows(block, ~missing[name]), label)
                checked[name] = modality.validate(block, label)
            else:
                checked[name] = modality.fit_validate(block, label)
            self.modalities_[name] = modality
        return checked

    def _named(self, parameter, data):
        """The dict parameter ``parameter``, checked to name only modalities of X."""
        value = getattr(self, parameter)
        if not isinstance(value, dict):
            return {}
        unknown = [name for name in value if name not in data]
        if unknown:
            raise ValueError(
                f"The '{parameter}' parameter of {type(self).__name__} names {unknown}, "
                f"which X does not have; X has the modalities {list(data)}."
            )
        return value

    def _resolve_weights(self, data, seed):
        """Per-modality loss weights summing to one, from ``modality_weights``."""
        if self.modality_weights == "balanced":
            initial, _ = _inference.loss_totals(self.net_, _sample_rows(data, 2048, seed))
            weights = {name: 1.0 / max(loss, 1e-8) for name, loss in initial.items()}
        else:
            given = self._named("modality_weights", self.modalities_)
            for name, weight in given.items():
                if not (isinstance(weight, Real) and 0 <= weight < np.inf):
                    raise ValueError(
                        f"The weight of modality {name!r} in 'modality_weights' must be a "
                        f"finite non-negative number. Got {weight!r} instead."
                    )
            weights = {name: float(given.get(name, 1.0)) for name in self.modalities_}
        total = sum(weights.values())
        if not total > 0:
            raise ValueError("The 'modality_weights' must not all be zero.")
        return {name: weight / total for name, weight in weights.items()}

    def _check_components(self):
        """Validate the parameters of the post-fit components, naming the estimator's parameter."""
        for parameter in ("readout", "refine"):
            component = getattr(self, parameter)
            if not isinstance(component, BaseEstimator):
                continue
            try:
                component._validate_params()
            except InvalidParameterError as error:
                raise InvalidParameterError(
                    f"The {parameter!r} parameter of {type(self).__name__}: {error}"
                ) from error

    def _check_cross_decoders(self):
        # Own cross decoders that no loss trains would predict garbage.
        if self.cross_decoders == "own" and (self.cross_weight == 0 or self.fusion == "moe"):
            raise ValueError(
                "MultimodalAutoencoder(cross_decoders='own') trains its own decoders "
                "with the cross-modal term only, which needs cross_weight > 0 and a "
                f"fusion other than 'moe'; got cross_weight={self.cross_weight!r}, "
                f"fusion={self.fusion!r}."
            )

    def _check_hidden_dims(self):
        dims = tuple(np.asarray(self.hidden_dims).ravel().tolist())
        if not all(isinstance(d, Integral) and not isinstance(d, bool) and d > 0 for d in dims):
            raise ValueError(
                "The 'hidden_dims' parameter of MultimodalAutoencoder must be a "
                f"sequence of positive ints. Got {self.hidden_dims!r} instead."
            )
        return dims

    def _resolve_device(self):
        if isinstance(self.device, str) and self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as error:
            raise ValueError(
                "The 'device' parameter of MultimodalAutoencoder must be 'auto' or a "
                f"torch device such as 'cpu' or 'cuda'. Got {self.device!r} instead."
            ) from error
        if device.type == "meta":
            raise ValueError(
                "device='meta' holds no data, so nothing can be trained on it; use "
                "device='auto', 'cpu' or 'cuda'."
            )
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} was asked for, but CUDA is not available "
                "here; use device='auto' or 'cpu'."
            )
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(
                f"device={self.device!r} was asked for, but MPS is not available "
                "here; use device='auto' or 'cpu'."
            )
        return device

    def _check_callbacks(self):
        """Refuse ``callbacks`` entries skorch would fail on, naming the entry."""
        for i, entry in enumerate(self.callbacks or []):
            named = isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)
            callback = entry[1] if named else entry
            is_class = isinstance(callback, type) and issubclass(callback, Callback)
            if not (isinstance(callback, Callback) or is_class):
                raise TypeError(
                    f"Entry {i} of the 'callbacks' parameter of {type(self).__name__} "
                    "must be a skorch Callback (an instance or a class) or a (name, "
                    f"Callback) pair. Got {entry!r} instead."
                )

    @staticmethod
    def _rng_devices(device):
        if device.type != "cuda":
            return []
        return [device.index if device.index is not None else torch.cuda.current_device()]

    def _forget_array_feature_names(self):
        # A refit on dict input must not keep names from an earlier array fit.
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _speed_options(self, optimizer, device):
        """Resolve ``fused_optimizer`` and ``cuda_graphs`` to optimizer kwargs and a flag."""
        on_cuda = device.type == "cuda"
        builtin_adam = self.optimizer in ("adam", "adamw")
        accepts = inspect.signature(optimizer).parameters
        fused = self.fused_optimizer
        if fused == "auto":
            # One kernel for all parameters: on CUDA it saves launches, on CPU
            # it stepped the default model 3x faster than the per-tensor loop.
            fused = device.type in ("cpu", "cuda") and builtin_adam
        graphs = self.cuda_graphs
        if graphs == "auto":
            # A KL warm-up changes beta between epochs, which a graph would freeze.
            graphs = (
                on_cuda
                and builtin_adam
                and all(_graph_safe(entry) for entry in self.callbacks or [])
                and not self._kl_warmup()
            )
        if graphs and not on_cuda:
            raise ValueError(
                f"cuda_graphs=True needs a CUDA device; the device is {device}. "
                "Use cuda_graphs='auto' or False."
            )
        kwargs = {}
        if fused:
            if "fused" not in accepts:
                raise ValueError(
                    f"fused_optimizer=True, but the optimizer {optimizer.__name__} takes no "
                    "'fused' argument; use fused_optimizer='auto' or False."
                )
            kwargs["fused"] = True
        if graphs:
            if "capturable" not in accepts:
                raise ValueError(
                    f"cuda_graphs=True needs an optimizer that takes capturable=True; "
                    f"{optimizer.__name__} does not. Use 'adam' or 'adamw', or cuda_graphs=False."
                )
            kwargs["capturable"] = True
        return kwargs, bool(graphs)

    def _kl_warmup(self):
        return self.variational and self.kl_warmup_epochs > 0

    def _build_net(self, hidden_dims, device, seed):
        optimizer = _OPTIMIZERS.get(self.optimizer, self.optimizer)
        optimizer_kwargs, graphs = self._speed_options(optimizer, device)
        # First: no other callback may act on a diverged loss or model.
        callbacks = [("loss_terms", LossTerms())]
        callbacks += copy.deepcopy(list(self.callbacks or []))
        if self._kl_warmup():
            callbacks.append(("kl_warmup", KLWarmup(self.beta, self.kl_warmup_epochs)))
        train_split = None
        if self.early_stopping:
            train_split = TensorValidSplit(self.validation_fraction, seed)
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss", patience=self.n_iter_no_change, load_best=True
                    ),
                )
            )
        elif self.ema_decay > 0:
            callbacks.append(("weight_average", WeightAverage(self.ema_decay)))
        if graphs:
            callbacks.append(("cuda_graphs", CudaGraphs()))
        return MultimodalNet(
            MultimodalAutoencoderModule,
            ReconstructionLoss,
            module__modalities=self.modalities_,
            module__encoding_dim=self.encoding_dim,
            module__hidden_dims=HiddenLayers(hidden_dims, self.layer_norm, self.dropout),
            module__fusion=self.fusion,
            module__variational=self.variational,
            module__modality_dropout=self.modality_dropout,
            module__noise_std=self.noise_std,
            module__input_dropout=self.input_dropout,
            module__subset_weight=self.subset_weight,
            module__cross_weight=self.cross_weight,
            module__own_cross_decoders=self.cross_decoders == "own",
            criterion__modalities=self.modalities_,
            criterion__beta=self.beta,
            optimizer=optimizer,
            optimizer__weight_decay=self.weight_decay,
            **{f"optimizer__{key}": value for key, value in optimizer_kwargs.items()},
            bf16=self.bf16,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=train_split,
            callbacks=callbacks,
            device=device,
            verbose=self.verbose,
        )
