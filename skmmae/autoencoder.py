"""MultimodalAutoencoder: the sklearn estimator.

The estimator stores its parameters and, in ``fit``, builds a skorch net
(:class:`skmmae._net.MultimodalNet`) around the torch model
(:class:`skmmae._module.MultimodalAutoencoderModule`) and keeps it as
``net_``. Input forms are handled by :mod:`skmmae._validation`, data kinds by
:mod:`skmmae.modalities`, fusion by :mod:`skmmae.fusion`.
"""

import copy
import inspect
from numbers import Integral, Real

import numpy as np
import torch
from skorch.callbacks import EarlyStopping
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._compat import Interval, StrOptions, _fit_context
from ._module import MultimodalAutoencoderModule, ReconstructionLoss
from ._net import MultimodalNet, TensorValidSplit
from ._validation import (
    check_code,
    check_fitted_modalities,
    restore_layout,
    split_modalities,
)
from .fusion import FUSIONS
from .modalities import infer_modality, make_modality

__all__ = ["MultimodalAutoencoder"]


def _sample_rows(data, n, seed):
    """At most ``n`` random rows of every block, in order (to probe initial losses)."""
    n_samples = next(iter(data.values())).shape[0]
    if n_samples <= n:
        return data
    rows = np.sort(np.random.RandomState(seed).choice(n_samples, n, replace=False))
    return {name: block[rows] for name, block in data.items()}

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
    hidden_dims : sequence of int, default=(256, 128)
        Hidden layer widths of each modality's encoder; the decoders mirror
        them. An empty sequence gives linear encoders and decoders.
    fusion : {"mean", "concat"}, default="mean"
        How per-modality features become one code: ``"mean"`` maps each
        modality to a code and averages them, ``"concat"`` concatenates the
        modalities' features and maps them to the code with one linear layer.
    max_epochs : int, default=100
        Number of passes over the training data.
    batch_size : int, default=128
        Samples per gradient step (the last partial batch is kept).
    lr : float, default=1e-3
        Learning rate.
    weight_decay : float, default=0.0
        L2 penalty passed to the optimizer.
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
        parameters). ``"auto"`` uses it on CUDA with ``"adam"`` / ``"adamw"``;
        ``True`` asks for it on any device, for any optimizer that takes a
        ``fused`` argument.
    cuda_graphs : bool or "auto", default="auto"
        On CUDA, capture forward, backward and optimizer step of a full batch
        in one CUDA graph and replay it, which removes the per-kernel launch
        cost that dominates small models on a GPU. The last partial batch of
        each epoch runs eagerly, so every sample is used. Inside the graph the
        learning rate is fixed and ``on_grad_computed`` callbacks (e.g.
        gradient clipping) see no replayed step, so ``"auto"`` captures only
        on CUDA, with ``"adam"`` / ``"adamw"`` and no ``callbacks``. ``True``
        raises an error when the device is not CUDA.
    bf16 : bool, default=False
        Run forward passes under bfloat16 autocast (CPU or CUDA); losses are
        still reduced in float32 and outputs are float32. Faster on GPUs with
        bf16 tensor cores when combined with ``cuda_graphs``; slightly less
        precise.
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
        "fusion": [StrOptions(set(FUSIONS))],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "device": [str, torch.device],
        "callbacks": [list, None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "fused_optimizer": [StrOptions({"auto"}), "boolean"],
        "cuda_graphs": [StrOptions({"auto"}), "boolean"],
        "bf16": ["boolean"],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        encoding_dim=16,
        *,
        modalities=None,
        modality_weights=None,
        hidden_dims=(256, 128),
        fusion="mean",
        max_epochs=100,
        batch_size=128,
        lr=1e-3,
        weight_decay=0.0,
        optimizer="adam",
        device="auto",
        callbacks=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        fused_optimizer="auto",
        cuda_graphs="auto",
        bf16=False,
        verbose=0,
        random_state=None,
    ):
        self.encoding_dim = encoding_dim
        self.modalities = modalities
        self.modality_weights = modality_weights
        self.hidden_dims = hidden_dims
        self.fusion = fusion
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.device = device
        self.callbacks = callbacks
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.fused_optimizer = fused_optimizer
        self.cuda_graphs = cuda_graphs
        self.bf16 = bf16
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
            or DataFrame.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : MultimodalAutoencoder
            The fitted estimator.
        """
        hidden_dims = self._check_hidden_dims()
        device = self._resolve_device()
        data, self._layout = split_modalities(X, estimator=self, reset=True)
        data = self._fit_modalities(data)
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
            # partial_fit trains the initialized net (fit would rebuild it).
            self.net_.partial_fit(data)
        return self

    def transform(self, X):
        """Encode X into the shared code.

        Parameters
        ----------
        X : dict of str -> array-like, SliceDict, DataFrame or array-like
            The same modalities, in the same form, as in :meth:`fit`.

        Returns
        -------
        Z : ndarray of shape (n_samples, encoding_dim)
            The codes, float32.
        """
        data = self._check_input(X)
        return self.net_.encode(data)

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
        decoded = self.net_.decode(codes)
        restored = {name: m.restore(decoded[name]) for name, m in self.modalities_.items()}
        return restore_layout(restored, self._layout, index=index)

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
        data = self._check_input(X)
        return -self.net_.reconstruction_loss(data)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The model computes in float32: float32 in gives float32 out.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _check_input(self, X):
        check_is_fitted(self)
        data, layout = split_modalities(X, estimator=self, reset=False)
        return check_fitted_modalities(
            data, layout, self.modalities_, type(self).__name__, self._layout.feature_names
        )

    def _fit_modalities(self, data):
        """Resolve, fit and apply each modality; set ``modalities_``."""
        specs = self._named("modalities", data)
        self.modalities_, checked = {}, {}
        for name, block in data.items():
            label = self._layout.describe(name)
            spec = specs.get(name)
            modality = infer_modality(block, label) if spec is None else make_modality(spec, label)
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
            initial = self.net_.modality_losses(_sample_rows(data, 2048, seed))
            weights = {name: 1.0 / max(loss, 1e-8) for name, loss in initial.items()}
        else:
            given = self._named("modality_weights", data)
            for name, weight in given.items():
                if not (isinstance(weight, Real) and weight >= 0):
                    raise ValueError(
                        f"The weight of modality {name!r} in 'modality_weights' must be a "
                        f"non-negative number. Got {weight!r} instead."
                    )
            weights = {name: float(given.get(name, 1.0)) for name in data}
        total = sum(weights.values())
        if not total > 0:
            raise ValueError("The 'modality_weights' must not all be zero.")
        return {name: weight / total for name, weight in weights.items()}

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
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} was asked for, but CUDA is not available "
                "here; use device='auto' or 'cpu'."
            )
        return device

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
            fused = on_cuda and builtin_adam
        graphs = self.cuda_graphs
        if graphs == "auto":
            graphs = on_cuda and builtin_adam and not self.callbacks
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

    def _build_net(self, hidden_dims, device, seed):
        optimizer = _OPTIMIZERS.get(self.optimizer, self.optimizer)
        optimizer_kwargs, graphs = self._speed_options(optimizer, device)
        callbacks = copy.deepcopy(list(self.callbacks or []))
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
        return MultimodalNet(
            MultimodalAutoencoderModule,
            ReconstructionLoss,
            module__modalities=self.modalities_,
            module__encoding_dim=self.encoding_dim,
            module__hidden_dims=hidden_dims,
            module__fusion=self.fusion,
            criterion__modalities=self.modalities_,
            optimizer=optimizer,
            optimizer__weight_decay=self.weight_decay,
            **{f"optimizer__{key}": value for key, value in optimizer_kwargs.items()},
            cuda_graphs=graphs,
            bf16=self.bf16,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=train_split,
            callbacks=callbacks,
            device=device,
            verbose=self.verbose,
        )
