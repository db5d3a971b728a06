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

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _fitted_input, _inference
from ._compat import _fit_context
from ._config import PARAMETER_CONSTRAINTS, resolve_config
from ._doc_link import DocLinked
from ._fitting import fit_estimator, restored_on_error
from ._inference import NonFiniteOutput
from ._threads import on_thread_budget, thread_budget
from ._output_forms import restore_layout, restore_modality
from ._validation import check_code

__all__ = ["MultimodalAutoencoder"]


class MultimodalAutoencoder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, DocLinked, BaseEstimator
):
    """Learn one shared low-dimensional code from several modalities.

    Each modality (a block of features about the same samples) gets its own
    encoder; the per-modality features are fused into one code of size
    ``encoding_dim``, from which one decoder per modality reconstructs its
    input. Continuous modalities are standardized inside the model, so
    :meth:`inverse_transform` returns original units. Training runs through
    skorch (kept as ``net_``), on a GPU when one is available.

    The defaults hold across every data set shipped with the package
    (``benchmarks/README.md``). Settings that matter only with another live
    on objects (:mod:`skmmae.options`, :mod:`skmmae.readout`,
    :mod:`skmmae.refine`) whose parameters grid searches see.

    Parameters
    ----------
    encoding_dim : int, default=16
        Size of the shared code that :meth:`transform` returns.
    modalities : dict of str -> str or Modality, default=None
        The kind of some or all modalities, by name: a name from
        :data:`skmmae.modalities.KINDS` or a :class:`~skmmae.modalities.Modality`.
        Others are inferred (:func:`~skmmae.modalities.infer_modality`). A
        plain array or DataFrame is one modality named ``"X"``.
    modality_weights : {"balanced"}, dict of str -> float or None, default=None
        Weight of each modality's mean loss: None weighs them equally,
        ``"balanced"`` divides each by its value at initialization, a dict
        gives weights by name (missing names weigh 1).
    hidden_dims : sequence of int or HiddenLayers, default=(512,)
        Hidden widths of each encoder, mirrored by its decoder (empty:
        linear). Widths alone keep :class:`~skmmae.options.HiddenLayers`'
        ``LayerNorm`` and dropout 0.1.
    fusion : {"mean", "concat", "poe", "moe", "shared_private"}, default="mean"
        How per-modality features become one code (:mod:`skmmae.fusion`):
        the mean of per-modality codes, one layer over their concatenation,
        a product or a mixture of Gaussian experts, or a shared mean beside
        a private slice of the code per modality.
    variational : bool or Variational, default=False
        Train a variational autoencoder (:class:`~skmmae.options.Variational`):
        :meth:`transform` gives posterior means (and with ``return_std``
        their standard deviations), :meth:`sample` draws new samples.
    modality_dropout : float or ModalityDropout, default=0.3
        During training, hide each modality of each sample from the encoders
        with this probability while still scoring it, so that one modality
        is predicted from the others
        (:class:`~skmmae.options.ModalityDropout`). By default, incomplete
        inputs get encoders of their own, so this costs the codes of
        complete inputs nothing.
    noise_std : float or "auto", default="auto"
        Gaussian noise added to the encoders' inputs in training, in model
        units (denoising). Integer inputs, raw counts and pixels scored by
        binary cross-entropy take none. ``"auto"``: 0.5 where the training
        data has fewer samples than features, where denoising regularizes
        most, and 0 elsewhere, where it blurs the modalities of few
        features; the value used is ``noise_std_``.
    input_dropout : float, default=0.0
        During training, zero each floating-point input value with this
        probability (denoising by masking); continuous and binary values are
        hidden as missing cells instead, which teaches imputation.
    cross_weight : float or CrossModal, default=0.0
        Share of the training loss scored by decoding each modality from the
        code of the others alone, which trains what :meth:`predict_modality`
        does (:class:`~skmmae.options.CrossModal`).
    readout : {"kernel", "decoder"} or DecoderReadout, default="kernel"
        How codes are read back into modalities, fitted after training as
        ``readout_``: kernel ridge regressions for continuous modalities and
        time series, and for images and clips in :meth:`predict_modality`
        (:class:`~skmmae.readout.KernelReadout`), or the decoders
        (:class:`~skmmae.readout.DecoderReadout`).
    refine : CodeRefinement or None, default=None
        Refine the code of the given modalities in :meth:`predict_modality`
        by gradient steps (:class:`~skmmae.refine.CodeRefinement`); off by
        default for its cost. :meth:`transform` is never refined.
    max_epochs : int, default=100
        Number of passes over the training data.
    batch_size : int, default=128
        Samples per gradient step (the last partial batch is kept).
    lr : float, default=2e-3
        Learning rate.
    weight_decay : float, default=0.0
        L2 penalty passed to the optimizer.
    ema_decay : float, default=0.99
        Keep an exponential moving average of the weights (decay per step);
        0 keeps the last step's. ``early_stopping`` keeps the best epoch's.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        A class is called with the parameters, ``lr`` and ``weight_decay``.
    device : str or torch.device, default="auto"
        ``"auto"``: CUDA when available, else the CPU; or any torch device.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks, copied at fit; the fitted ones are in
        ``net_.callbacks_``.
    early_stopping : bool or EarlyStop, default=False
        Hold out part of the training data and stop when its loss stops
        improving, keeping the best epoch (:class:`~skmmae.options.EarlyStop`).
    speed : Speed or None, default=None
        Fused optimizer, CUDA graphs, bfloat16 and CPU threads
        (:class:`~skmmae.options.Speed`); None takes its defaults.
    privacy : DifferentialPrivacy or None, default=None
        Train with DP-SGD to a differential-privacy budget
        (:class:`~skmmae.privacy.DifferentialPrivacy`, :doc:`/privacy`).
    data_parallel : bool or DataParallel, default=False
        Train as one of the processes of a ``torchrun`` job, each on its
        share of every batch, with the gradients summed
        (:class:`~skmmae.distributed.DataParallel`, :doc:`/scaling`).
    lags : bool, Lags or None, default=None
        Estimate each sample's delay of every time-series modality behind
        a reference one, and align the series to it before encoding
        (:class:`~skmmae.lags.Lags`, :doc:`/timeseries`); True takes its
        defaults. :meth:`estimate_lags` gives the delays.
    verbose : int, default=0
        0 trains silently; 1 prints skorch's table of losses per epoch; 2
        shows a progress bar over the epochs with the latest losses
        (``tqdm``, a widget in notebooks); 3 adds skorch's ``ProgressBar``
        over each epoch's batches.
    random_state : int, RandomState instance or None, default=None
        Seeds every draw: with an int, the same data gives the same codes on
        the CPU. torch's global random state is left as it was.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted skorch net: its ``history`` and its ``module_``.
    modalities_ : dict of str -> Modality
        The fitted modality of each input block, in input order.
    modality_weights_ : dict of str -> float
        Each modality's weight in the training loss (summing to one).
    readout_ : DecoderReadout
        The fitted read-out (see ``readout``).
    code_scale_ : float or None
        The training codes' mean standard deviation: the unit of ``refine``.
        None after a private fit.
    privacy_spent_ : tuple of (float, float)
        ``(epsilon, delta)`` that the training spent; only after a private
        fit.
    n_features_in_ : int
        Total number of features over all modalities.
    noise_std_ : float
        The input noise training used (``noise_std``, with ``"auto"``
        resolved).
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
    >>> ae.inverse_transform(Z)["pix"].shape
    (200, 240)
    """

    _parameter_constraints = PARAMETER_CONSTRAINTS  # each parameter's type and range

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
        noise_std="auto",
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
        privacy=None,
        data_parallel=False,
        lags=None,
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
        self.privacy = privacy
        self.data_parallel = data_parallel
        self.lags = lags
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the autoencoder to X.

        Parameters
        ----------
        X : dict of str -> array-like, SliceDict, DataFrame or array-like
            One block per modality, one sample per row, in a form of
            :doc:`/input_forms`. A sample lacks a modality where its row is
            entirely NaN or the mask ``X[name + "__missing"]`` is True; it is
            left out of the fusion and the loss. Every sample needs one.
            Other NaN (or None) in continuous, binary and categorical
            modalities are missing cells (:mod:`skmmae.imputation`).
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : MultimodalAutoencoder
            The fitted estimator.

        Raises
        ------
        ValueError
            If X or a parameter is invalid, or if training diverges. The
            estimator is then left as it was before ``fit``.

        Warns
        -----
        UserWarning
            When a ``KeyboardInterrupt`` stops training early: the model
            trained so far is kept, with its post-fit steps.
        """
        with restored_on_error(self):
            config = resolve_config(self)  # every parameter rule, before any data is read
            with thread_budget(config.speed.n_threads):
                fit_estimator(self, X, config)
        return self

    @on_thread_budget
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
        if return_std:
            _fitted_input.check_variational(self, "transform(X, return_std=True)")
        data = self._inference_data(X)
        try:
            if not return_std:
                return _inference.encode(self.net_, data)
            mean, logvar = _inference.encode_with_logvar(self.net_, data)
        except NonFiniteOutput as error:
            _fitted_input.explain_nonfinite_transform(self, X, error)
        return mean, np.exp(0.5 * logvar)

    @on_thread_budget
    def predict_modality(self, X, target):
        """Predict the modality ``target`` from the other modalities of X.

        The read-out reads the code of the other modalities into ``target``
        (averaged, with ``refine``, with the read-out of that code refined to
        explain the others best): the decoders read their fused code, and
        the kernel read-out (the default) each other modality's own code,
        side by side (:class:`~skmmae.readout.KernelReadout`). Each
        prediction depends on its sample only.

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
        _fitted_input.check_target(self, target)
        index = getattr(X, "index", None)
        data = self._inference_data(X, leave_out=target)
        try:
            rows = None if self.refine is None else self.refine.batch_rows
            prediction = _inference.cross_prediction(
                self.net_, self.readout_, target, self.refine, self.code_scale_
            )
            values = _inference.predict(self.net_, data, target, prediction, rows)
        except NonFiniteOutput as error:
            _fitted_input.explain_nonfinite_prediction(self, X, target, error)
        return restore_modality(
            self.modalities_[target].restore(values), self._layout, target, index=index
        )

    @on_thread_budget
    def estimate_lags(self, X):
        """Each sample's delay of every aligned series behind the reference.

        Parameters
        ----------
        X : dict of str -> array-like, SliceDict or DataFrame
            Modalities in the form used in :meth:`fit`, with the reference
            series (:class:`~skmmae.lags.Lags`); series not given get no
            lags.

        Returns
        -------
        lags : dict of str -> ndarray of shape (n_samples,)
            For each aligned series given, how far it lags behind the
            reference in each sample (negative: ahead of it), in steps of
            the reference, or in seconds when ``Lags(rates=...)`` gave
            sampling rates; NaN where a sample lacks either series. Shift
            a series back by its lags with :func:`skmmae.lags.shift_series`.

        Examples
        --------
        >>> from skmmae import MultimodalAutoencoder
        >>> from skmmae.datasets import make_lagged
        >>> lagged = make_lagged(200, max_lag=8, random_state=0)
        >>> ae = MultimodalAutoencoder(
        ...     4, modalities={"a": "timeseries", "b": "timeseries"}, lags=True,
        ...     max_epochs=2, random_state=0,
        ... ).fit(lagged.data)
        >>> list(ae.estimate_lags(lagged.data))
        ['b']
        """
        reference, unit = _fitted_input.check_aligned(self)
        data = self._inference_data(X)
        if reference not in data.X:
            raise ValueError(
                f"estimate_lags needs the reference series {reference!r}, which X does not "
                f"have; X has {[name for name in data.X if name in self.modalities_]}."
            )
        lags = _inference.estimate_lags(self.net_, data)
        return {name: values * unit for name, values in lags.items()}

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
        _fitted_input.check_variational(self, "sample")
        rng = check_random_state(random_state)
        codes = rng.standard_normal((n_samples, self.encoding_dim)).astype(np.float32)
        return self.inverse_transform(codes)

    @on_thread_budget
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
            _fitted_input.explain_nonfinite_codes(self, codes, error)
        restored = {name: m.restore(decoded[name]) for name, m in self.modalities_.items()}
        return restore_layout(restored, self._layout, index=index)

    @on_thread_budget
    def score(self, X, y=None):
        """Negative mean reconstruction loss of X (higher is better).

        The training loss (the weighted mean of the modalities' mean losses),
        negated so that ``GridSearchCV`` can compare settings without labels.

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
            _fitted_input.explain_nonfinite_loss(self, X, data, losses)
        return -loss

    def save(self, path):
        """Write the fitted model to ``path`` without pickle (:func:`skmmae.persistence.save`).

        Parameters
        ----------
        path : str or path-like
            A ``.safetensors`` file, which :func:`skmmae.load` reads back.

        Examples
        --------
        >>> import os, tempfile
        >>> from skmmae import MultimodalAutoencoder, load
        >>> from skmmae.datasets import load_penguins
        >>> X, _ = load_penguins(return_X_y=True)
        >>> path = os.path.join(tempfile.mkdtemp(), "penguins.safetensors")
        >>> MultimodalAutoencoder(2, max_epochs=1, random_state=0).fit(X).save(path)
        >>> sorted(load(path).modalities_)
        ['body', 'isotopes', 'sex', 'site']
        """
        from .persistence import save

        save(self, path)

    def export_onnx(self, path, part="encoder", modalities=None):
        """Write the encoder or the decoder as ONNX (:func:`skmmae.export.export_onnx`).

        Parameters
        ----------
        path : str or path-like
            The ``.onnx`` file.
        part : {"encoder", "decoder"}, default="encoder"
            Modalities -> codes, or codes -> modalities.
        modalities : list of str or None, default=None
            The modalities the part takes or gives; None: all.

        Returns
        -------
        path : str

        Examples
        --------
        >>> import os, tempfile
        >>> from skmmae import MultimodalAutoencoder
        >>> from skmmae.datasets import load_mfeat
        >>> X, _ = load_mfeat(return_X_y=True)
        >>> ae = MultimodalAutoencoder(4, max_epochs=1, random_state=0).fit(X[:100])
        >>> os.path.basename(ae.export_onnx(os.path.join(tempfile.mkdtemp(), "dec.onnx"), "decoder"))
        'dec.onnx'
        """
        from .export import export_onnx

        return export_onnx(self, path, part=part, modalities=modalities)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The model computes in float32: float32 in gives float32 out.
        tags.transformer_tags.preserves_dtype = ["float32"]
        # NaN marks missing rows and cells (skmmae.imputation); infinity is refused.
        tags.input_tags.allow_nan = True
        return tags

    # X as the fitted estimator reads it (skmmae._fitted_input).
    _check_input = _fitted_input.check_input
    _inference_data = _fitted_input.inference_data
