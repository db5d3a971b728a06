"""The contract every data kind fulfils, and what all kinds share.

A modality is an sklearn-style object: its constructor stores parameters
(visible to ``get_params``, so ``GridSearchCV`` can search them through the
estimator's ``modalities`` parameter), :meth:`Modality.validate` turns user
input into the array the model reads, and :meth:`Modality.fit` learns what
the kind needs from training data (per-feature scale, categories, vocabulary,
image size). The torch model only asks a modality for its layers and its
loss, so a new kind of data is one new subclass and nothing else changes.

Data flows through a modality's parts like this::

    user values --validate--> array --scaler--> target --encoder--> features
    code --decoder--> output --loss(output, target)
    output --scaler.inverse--> array --restore--> user values
"""

import copy
import functools
import itertools
import math

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._doc_link import DocLinked
from .._docstrings import fill_doc
from .._disk import DiskBlock
from .._summary import ValueSummary, summarize
from .._values import raise_for_rows

__all__ = ["Modality"]


class Modality(DocLinked, BaseEstimator):
    """Base class of a data kind.

    Subclasses set :attr:`kind` and implement :meth:`_validate` (check user
    values), :meth:`_fit` (learn from them), :meth:`_model_values` when the
    model reads something else than the checked values (e.g. class
    indices), :meth:`build_scaler`, :meth:`_default_encoder`,
    :meth:`_default_decoder`, :meth:`decoder_output_shape` and
    :meth:`sample_loss`;
    :meth:`restore` when outputs must be mapped back on the host (e.g.
    category indices to category values). Every subclass takes ``encoder``
    and ``decoder`` parameters for custom architectures.

    Parameters
    ----------
    encoder : torch.nn.Module, callable or None, default=None
        A custom encoder, or a callable with no arguments returning one
        (e.g. a ``functools.partial``); it maps a batch in model units (see
        :meth:`build_scaler`) to a 2-D batch of features. ``None`` uses the
        kind's own encoder. A module instance is copied at each fit, so refits
        never share weights.
    decoder : torch.nn.Module, callable or None, default=None
        A custom decoder (or a callable returning one) mapping a batch of
        codes ``(n_samples, encoding_dim)`` to a batch of shape
        ``(n_samples, *decoder_output_shape())``. ``None`` uses the kind's own.

    Attributes
    ----------
    input_shape_ : tuple of int
        Shape of one sample, as seen in :meth:`fit`.
    n_features_ : int
        Number of values in one sample (the product of ``input_shape_``).

    Examples
    --------
    >>> from skmmae.modalities import Continuous, Modality
    >>> isinstance(Continuous(), Modality)
    True
    >>> Continuous.kind
    'continuous'

    A custom encoder and decoder for a continuous modality of 5 features,
    with codes of size 3 (the decoder factory is called at fit):

    >>> import functools
    >>> import numpy as np
    >>> from torch import nn
    >>> from skmmae import MultimodalAutoencoder
    >>> custom = Continuous(
    ...     encoder=nn.Sequential(nn.Linear(5, 16), nn.Tanh()),
    ...     decoder=functools.partial(nn.Linear, 3, 5),
    ... )
    >>> X = {"a": np.random.default_rng(0).normal(size=(40, 5))}
    >>> ae = MultimodalAutoencoder(3, modalities={"a": custom}, max_epochs=2).fit(X)
    >>> ae.net_.module_.decoders["a"]
    Linear(in_features=3, out_features=5, bias=True)
    """

    #: Short name accepted in ``MultimodalAutoencoder(modalities=...)``.
    kind = None
    #: Whether ``noise_std`` / ``input_dropout`` may corrupt the encoder's input
    #: (floating-point inputs only; a kind whose encoder reads raw values opts out).
    accepts_input_noise = True
    #: Whether ``noise_std`` (Gaussian noise, in model units) suits the kind's
    #: model units; ``input_dropout`` is governed by ``accepts_input_noise``
    #: alone. A kind whose units are not standardized may opt out.
    takes_gaussian_noise = True
    #: Whether a kernel ridge read-out may replace the decoder after training
    #: (``MultimodalAutoencoder(readout="kernel")``): for kinds scored by the
    #: squared error of the decoder's output against the scaled values, which
    #: is what such a read-out minimizes.
    kernel_readout = False
    #: Whether validating the values (once fitted) only proves them finite, so
    #: that at inference this proof may run on the device after the copy. Such
    #: a kind's ``_validate`` takes ``scan_finite=False`` to skip it.
    finite_check_deferrable = False
    #: Whether a NaN cell inside a present row marks one missing value, to be
    #: learned around and imputed, rather than an error: for kinds whose
    #: values are separate numbers (continuous, binary). Such a kind keeps NaN
    #: through validation and scaling, scores only observed cells in
    #: ``sample_loss``, and its encoder reads ``missing_fill`` in their place.
    accepts_missing_cells = False
    #: What an encoder reads in place of a missing cell, in model units; None
    #: for a kind whose model values mark missing cells themselves (category
    #: index -1).
    missing_fill = 0.0
    #: Whether the kind learns only per-feature moments and the range of its
    #: values (``_fit`` then takes a :class:`~skmmae._summary.ValueSummary`),
    #: which one pass over row chunks gathers: such a kind can be read from
    #: disk (:mod:`skmmae._disk`).
    fits_on_summary = False

    @property
    def kernel_predictor(self):
        """Whether a kernel ridge regression may predict the modality from the codes of the others.

        Used by ``predict_modality``; by default, as :attr:`kernel_readout`.
        A kind may set it True where :attr:`kernel_readout` leaves
        reconstruction to its decoder (images, clips). The regression
        predicts expected values in model units, which its scaler's
        ``from_mean``, where it has one, maps to the decoder's output units.
        """
        return self.kernel_readout

    def __init__(self, *, encoder=None, decoder=None):
        self.encoder = encoder
        self.decoder = decoder

    # -- data -----------------------------------------------------------------

    def validate(self, X, label="X", scan_finite=True):
        """Check X and convert it to the array the model reads.

        Parameters
        ----------
        X : array-like
            The modality's values, one sample per row (first axis).
        label : str, default="X"
            How error messages name this data, e.g. ``"Modality 'image'"``.
        scan_finite : bool, default=True
            False skips the scan for NaN and infinity in kinds whose check
            only proves the values finite (``finite_check_deferrable``): the
            caller proves it elsewhere (on the device, after the copy).
            Other kinds always check.

        Returns
        -------
        ndarray or sparse matrix
            Once fitted: the values in the dtype and layout the kind's model
            part reads (e.g. class indices for categories). Before: the
            checked values. The shape of one sample is compared with the one
            seen in :meth:`fit` by the estimator, which names itself in the
            message.
        """
        if isinstance(X, DiskBlock):
            # Checked and converted a batch at a time, as it is read.
            return X.converted(functools.partial(self.validate, label=label))
        if scan_finite or not self.finite_check_deferrable:
            values = self._validate(X, label)
        else:
            values = self._validate(X, label, scan_finite=False)
        if hasattr(self, "input_shape_"):
            values = self._model_values(values, label)
        return values

    @fill_doc
    def fit(self, X, label="X"):
        """Learn what the kind needs from its training data.

        As :meth:`fit_validate`, without returning the checked values.

        %(modality_fit_parameters)s

        Returns
        -------
        self : Modality
        """
        self.fit_validate(X, label)
        return self

    @fill_doc
    def fit_validate(self, X, label="X"):
        """Fit, and return X as :meth:`validate` would, checking X only once.

        %(modality_fit_parameters)s

        Returns
        -------
        ndarray or sparse matrix
            The values the model reads.
        """
        # A refit starts afresh: no statistic of an earlier fit may steer
        # validation (which checks more once fitted) or linger.
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)
        if isinstance(X, DiskBlock):
            return self._fit_validate_on_disk(X, label)
        values = self._validate(X, label)
        self._learn(values, label)
        return self._model_values(values, label)

    def _fit_validate_on_disk(self, block, label):
        """Fit from a block on disk in one pass over its rows: checked, then summarized."""
        if not self.fits_on_summary:
            raise TypeError(
                f"{label} is an array on disk, which the {self.kind or type(self).__name__} "
                "kind cannot learn from a batch at a time; load it into memory (np.asarray) "
                "or pass it as a kind with per-feature statistics (continuous, binary, "
                "image, video, timeseries, tokens)."
            )
        checked = block.converted(functools.partial(self._validate, label=label)).chunks()
        first = next(checked)  # checking may change a sample's shape (a channel axis)
        summary = summarize(itertools.chain([first], checked))
        self._learn_from(summary, first.shape[1:], label)
        return self.validate(block, label)

    def _learn(self, values, label):
        shape = values.shape[1:]
        if self.fits_on_summary:
            values = summarize(values)
        self._learn_from(values, shape, label)

    def _learn_from(self, values, shape, label):
        """Learn from checked ``values``, or their summary for a kind that ``fits_on_summary``."""
        self.input_shape_ = tuple(int(d) for d in shape)
        self.n_features_ = math.prod(self.input_shape_)
        if self.n_features_ == 0:
            raise ValueError(
                f"{label} has no values in a sample (sample shape {self.input_shape_}); a "
                "modality needs at least one feature."
            )
        if self.accepts_missing_cells:
            self.missing_cells_ = check_observed_features(values, label)
        self._fit(values)

    def restore(self, values):
        """Map the scaler's inverse output to user values, on the host.

        The default returns ``values`` unchanged.
        """
        return values

    # -- model parts ------------------------------------------------------------

    def encoder_reads_flags(self):
        """Whether the encoder reads each cell's observed flag beside the values.

        For a kind that accepts missing cells, fitted on data that had some,
        with its default encoder: the encoder then tells a value filled in
        for a missing cell from one observed.
        """
        return (
            self.accepts_missing_cells
            and self.missing_fill is not None
            and self.encoder is None
            and getattr(self, "missing_cells_", False)
        )

    def encoder_input_width(self):
        """Number of values the default encoder reads per sample, observed flags included."""
        return self.n_features_ * (2 if self.encoder_reads_flags() else 1)

    def build_encoder(self, hidden_dims):
        """Return ``(encoder, out_features)``: the encoder and its output width.

        Parameters
        ----------
        hidden_dims : tuple of int
            The estimator's hidden widths.
        """
        check_is_fitted(self)
        if self.encoder is None:
            return self._default_encoder(hidden_dims)
        encoder = self._custom_module(self.encoder, "encoder")
        with torch.no_grad():
            out = encoder(self.build_scaler()(self._example_batch()))
        if out.ndim != 2:
            raise ValueError(
                f"The custom encoder of {type(self).__name__} must return a 2-D batch "
                f"(n_samples, n_features); it returned shape {tuple(out.shape)}."
            )
        return encoder, int(out.shape[1])

    def build_decoder(self, encoding_dim, hidden_dims):
        """Return the decoder from a code of size ``encoding_dim``.

        Parameters
        ----------
        encoding_dim : int
            Size of the shared code.
        hidden_dims : tuple of int
            The estimator's hidden widths (the default decoder mirrors them).
        """
        check_is_fitted(self)
        if self.decoder is None:
            return self._default_decoder(encoding_dim, hidden_dims)
        decoder = self._custom_module(self.decoder, "decoder")
        expected = tuple(self.decoder_output_shape())
        with torch.no_grad():
            out = decoder(torch.zeros(2, encoding_dim))
        if tuple(out.shape[1:]) != expected:
            raise ValueError(
                f"The custom decoder of {type(self).__name__} must map codes of shape "
                f"(n_samples, {encoding_dim}) to (n_samples, {', '.join(map(str, expected))}); "
                f"it returned shape {tuple(out.shape)} for 2 samples."
            )
        return decoder

    def build_scaler(self):
        """Return an ``nn.Module`` from validated values to model units.

        Its ``forward`` gives the target of the loss (also the encoder's
        input); its ``inverse`` maps decoder output back to values in the
        units of :meth:`validate`'s output. Where the decoder's output is
        not in model units (logits of values in [0, 1]), an optional
        ``from_mean`` maps an expected value in model units to the decoder
        output, for kernel predictors (:attr:`kernel_predictor`).
        """
        raise NotImplementedError

    def decoder_output_shape(self):
        """Shape of one sample of decoder output, as :meth:`loss` expects it."""
        raise NotImplementedError

    def sample_loss(self, output, target):
        """Loss of each sample, ``(n_samples,)``: decoder ``output`` against scaled ``target``.

        Each sample's loss is a mean over its values (features, pixels,
        positions), so it does not grow with the size of the modality. Per
        sample, so that samples lacking the modality can be left out.
        """
        raise NotImplementedError

    def loss(self, output, target):
        """Mean loss of a batch (the mean of :meth:`sample_loss`)."""
        return self.sample_loss(output, target).mean()

    # -- hooks for subclasses ---------------------------------------------------

    def _validate(self, X, label):
        raise NotImplementedError

    def _fit(self, X):
        """Learn kind-specific statistics from checked training values."""

    def _statistics_from_values(self):
        """What the fit learns from the values, not the shape, that the model uses.

        One line per statistic, each saying how to give it publicly
        instead; private training refuses a modality with any.
        """
        return []

    #: Fitted attributes learned from the values only to be reported;
    #: private training removes them.
    _reported_statistics = ()

    def _model_values(self, values, label):
        """Checked values -> what the model reads, once fitted (default: as is)."""
        return values

    def _default_encoder(self, hidden_dims):
        raise NotImplementedError

    def _default_decoder(self, encoding_dim, hidden_dims):
        raise NotImplementedError

    def _example_batch(self):
        """Two samples of validated input, to probe custom encoders."""
        return torch.zeros((2, *self.input_shape_), dtype=torch.float32)

    def _custom_module(self, spec, role):
        if isinstance(spec, nn.Module):
            return copy.deepcopy(spec)
        if callable(spec):
            module = spec()
            if isinstance(module, nn.Module):
                return module
            raise TypeError(
                f"The {role} factory of {type(self).__name__} must return a torch "
                f"nn.Module; it returned {type(module).__name__}."
            )
        raise TypeError(
            f"The '{role}' parameter of {type(self).__name__} must be None, a torch "
            f"nn.Module or a callable returning one. Got {spec!r} instead."
        )


def invalid_parameter(modality, label, parameter, expected, value):
    """The ``ValueError`` for a bad parameter of ``modality``, naming the data it serves.

    Parameters
    ----------
    modality : Modality
        The modality whose parameter is wrong.
    label : str
        How messages name its data, e.g. ``"Modality 'img'"``.
    parameter : str
        The parameter's name.
    expected : str
        What it must be, completing "must be ...".
    value : object
        What it is.

    Returns
    -------
    ValueError
    """
    return ValueError(
        f"{label}: the {parameter!r} parameter of {type(modality).__name__} must be "
        f"{expected}. Got {value!r} instead."
    )


def check_observed_features(values, label):
    """Whether ``values`` (or their ValueSummary) has missing (NaN) cells; raise if a feature has no other.

    A feature never observed in training has no mean, scale or anything to
    learn from.
    """
    if isinstance(values, ValueSummary):
        has_missing, features = values.has_missing, values.unobserved_features()
    else:
        missing = pd.isna(values)
        has_missing = bool(missing.any())
        features = np.flatnonzero(missing.all(axis=0)) if has_missing else []
    if not has_missing:
        return False
    if len(features):
        raise ValueError(
            f"{label} has features that are NaN in every training sample: "
            f"{features[:5].tolist()}{' ...' if len(features) > 5 else ''}. A feature "
            "needs observed values in some samples to be learned; drop it."
        )
    return True


def masked_sample_mean(per_value, target):
    """Mean of ``per_value`` over each sample's observed cells (those not NaN in ``target``).

    ``per_value`` must be finite where ``target`` is NaN (computed from a
    filled target), so that no NaN reaches a gradient.
    """
    observed = ~torch.isnan(target)
    total = torch.where(observed, per_value, 0.0).flatten(1).sum(dim=1)
    return total / observed.flatten(1).sum(dim=1).clamp_min(1)


def per_sample_mean(values):
    """Mean over every axis but the first: ``(n, ...) -> (n,)``."""
    return values.flatten(1).mean(dim=1)


def check_values(condition, label, message, rows):
    """Raise ``ValueError`` naming ``label`` and the first offending rows.

    Parameters
    ----------
    condition : bool
        True when the values are fine.
    label : str
        How the message names the data.
    message : str
        What is wrong, completing "``label`` ...".
    rows : callable returning an ndarray of bool of shape (n_samples,)
        Which rows are wrong (called only when ``condition`` is False).
    """
    if not condition:
        raise_for_rows(label, message, rows())


class PassThroughScaler(nn.Module):
    """A scaler for values the model reads as they are (0/1, counts, category ids).

    Subclasses only say how the decoder's output goes back (``inverse``).
    """

    def forward(self, values):
        return values
