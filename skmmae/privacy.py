"""Differentially private training: DP-SGD through Opacus, on skorch's seams.

``MultimodalAutoencoder(privacy=DifferentialPrivacy(epsilon=...))`` trains
with DP-SGD: every step clips each sample's gradient (over all trained
parameters: encoders, fusion and decoders) to ``max_grad_norm``, adds
Gaussian noise calibrated so that ``max_epochs`` of training spend at most
``epsilon``, and draws its batch by Poisson sampling, which the
accountant's guarantee assumes. Opacus computes the per-sample gradients
(its hooks, attached to the model in place), clips and noises them (its
``DPOptimizer``) and accounts for the privacy spent.

Three pieces plug into skorch's documented seams:

- :class:`DifferentialPrivacy`, the estimator's ``privacy`` option;
- :class:`PoissonBatchIterator`, the net's ``iterator_train``;
- :class:`PrivateSGD`, a callback that attaches Opacus at the start of
  training, reports the privacy spent after every epoch and detaches
  Opacus at the end, leaving a plain, picklable model.

Opacus is an optional dependency (``pip install skmmae[privacy]``),
imported only here and only when a private fit starts.
"""

import contextlib
import math
import warnings
from numbers import Real

import numpy as np
import torch
from skorch.callbacks import Callback
from torch import nn

from ._compat import Interval, InvalidParameterError, StrOptions
from ._data import TensorDictDataset
from .fusion import Placeholder
from .modalities._sequence import PositionTable
from .options import _Option

#: The public names; the functions below them serve the estimator's fit.
__all__ = ["DifferentialPrivacy", "PoissonBatchIterator", "PrivateSGD"]


def import_opacus():
    """The ``opacus`` package, with skmmae's own layers registered.

    Raises an ImportError that says how to install it when it is missing.
    """
    try:
        import opacus
        from opacus.grad_sample import register_grad_sampler
    except ImportError as error:
        raise ImportError(
            "privacy=DifferentialPrivacy(...) trains with Opacus, which is not installed; "
            "install it with `pip install skmmae[privacy]` (or `pip install opacus`)."
        ) from error
    register_grad_sampler(PositionTable)(_position_table_grad_sample)
    register_grad_sampler(Placeholder)(_placeholder_grad_sample)
    return opacus


def _position_table_grad_sample(layer, activations, backprops):
    # The table is added to every sample: its per-sample gradient is the
    # gradient of the layer's output.
    return {layer.weight: backprops}


def _placeholder_grad_sample(layer, activations, backprops):
    # Each sample's output is (1 - keep) * weight.
    (keep,) = activations
    return {layer.weight: backprops * (1 - keep)}


class DifferentialPrivacy(_Option):
    """Train with DP-SGD to an (epsilon, delta) differential-privacy budget.

    Each training step clips every sample's gradient to ``max_grad_norm``
    and adds Gaussian noise; batches are drawn by Poisson sampling (each
    sample joins a step's batch with probability ``1 / steps_per_epoch``,
    so batches vary in size around ``batch_size``). The noise is chosen so
    that ``max_epochs`` epochs spend ``epsilon`` at ``delta``, as
    ``accountant`` counts it. What is protected, and what is refused, is
    in the user guide's "Private training" page.

    Parameters
    ----------
    epsilon : float
        The privacy budget: the training spends at most this epsilon.
    delta : float or None, default=None
        The delta of the guarantee; None takes ``min(1e-5, 0.1 / n_samples)``,
        well below ``1 / n_samples`` as the guarantee needs.
    max_grad_norm : float, default=1.0
        Each sample's gradient is clipped to this L2 norm.
    accountant : {"prv", "rdp"}, default="prv"
        How the privacy spent is counted: the privacy random variable
        accountant (tight), or Renyi differential privacy (looser).

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.modalities import Continuous
    >>> from skmmae.privacy import DifferentialPrivacy
    >>> rng = np.random.default_rng(0)
    >>> X = {"a": rng.normal(size=(200, 4)), "b": rng.normal(size=(200, 3))}
    >>> ae = MultimodalAutoencoder(
    ...     2, hidden_dims=(16,), readout="decoder", max_epochs=3, random_state=0,
    ...     modalities={"a": Continuous(standardize=False), "b": Continuous(standardize=False)},
    ...     privacy=DifferentialPrivacy(epsilon=3.0),
    ... ).fit(X)
    >>> epsilon, delta = ae.privacy_spent_
    >>> bool(epsilon <= 3.0), delta
    (True, 1e-05)
    """

    _parameter_constraints = {
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "delta": [Interval(Real, 0, 1, closed="neither"), None],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither")],
        "accountant": [StrOptions({"prv", "rdp"})],
    }

    def __init__(self, epsilon, delta=None, max_grad_norm=1.0, accountant="prv"):
        self.epsilon = epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm
        self.accountant = accountant

    @classmethod
    def _from_plain(cls, value):
        if value is None:
            return None
        raise InvalidParameterError(
            "The 'privacy' parameter must be a DifferentialPrivacy object or None. "
            f"Got {value!r} instead."
        )

    def delta_for(self, n_samples):
        """The delta of the guarantee for a training set of ``n_samples``."""
        if self.delta is not None:
            if self.delta >= 1.0 / n_samples:
                raise ValueError(
                    f"DifferentialPrivacy(delta={self.delta}) is not below 1 / n_samples = "
                    f"{1.0 / n_samples:.3g}; a delta that large allows releasing a whole "
                    "sample. Pass a smaller delta, or None for the default."
                )
            return float(self.delta)
        return min(1e-5, 0.1 / n_samples)


class PoissonBatchIterator:
    """Poisson-sampled batches ``(X_batch, None)``: what the DP accountant assumes.

    An epoch has ``ceil(n / batch_size)`` steps; in each, every sample joins
    the batch independently with probability ``1 / steps``, so batches
    average ``n / steps`` rows (at most ``batch_size``) and may even be
    empty. The draws come from torch's current random state, which the
    estimator seeds from ``random_state``.

    Parameters
    ----------
    dataset : TensorDictDataset
        The training data.
    batch_size : int, default=128
        The largest expected batch size.
    shuffle : bool, default=True
        Ignored: Poisson sampling draws anew at every step. Accepted because
        skorch passes it to every training iterator.

    Examples
    --------
    >>> import torch
    >>> from skmmae._data import TensorDictDataset
    >>> from skmmae.privacy import PoissonBatchIterator
    >>> data = TensorDictDataset({"a": torch.zeros(1000, 3)})
    >>> batches = PoissonBatchIterator(data, batch_size=100)
    >>> len(batches), batches.sample_rate
    (10, 0.1)
    """

    def __init__(self, dataset, batch_size=128, shuffle=True):
        if not isinstance(dataset, TensorDictDataset):
            raise TypeError(
                "Private training draws Poisson batches from the estimator's own data path; "
                f"got a {type(dataset).__name__}."
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    @property
    def sample_rate(self):
        """The probability that a sample joins a step's batch."""
        return 1.0 / len(self)

    def __iter__(self):
        dataset, rate = self.dataset, self.sample_rate
        for _ in range(len(self)):
            chosen = torch.rand(len(dataset), device=dataset.device) < rate
            yield dataset[chosen.nonzero().flatten()]


class PrivateSGD(Callback):
    """Train the net with DP-SGD while it fits; record the privacy spent.

    At the start of training it makes the model Opacus-ready (GRUs become
    Opacus's ``DPGRU``, which it can differentiate per sample, and the
    optimizer is rebuilt for them), refuses layers Opacus cannot handle,
    attaches Opacus's per-sample gradient hooks to the model in place, and
    wraps the optimizer in a ``DPOptimizer``. After every epoch the
    history's ``epsilon`` column holds the privacy spent so far. At the end
    the hooks and the wrapper are removed; :func:`restore_torch_layers`
    then puts the GRUs back, once every callback has written the weights.

    Must come before callbacks that hold on to the model's parameters
    from the start of training (the weight average).

    Parameters
    ----------
    privacy : DifferentialPrivacy
        The budget and the clipping norm.

    Attributes
    ----------
    noise_multiplier_ : float
        The noise's standard deviation, in units of ``max_grad_norm``.
    sample_rate_ : float
        The probability that a sample joins a step's batch.
    delta_ : float
        The delta of the guarantee.
    accountant_ : opacus accountant
        Opacus's accountant of the noisy steps taken so far.
    steps_ : int
        The noisy steps taken so far.

    Examples
    --------
    The estimator adds it to its net as ``"privacy"`` for a private fit:

    >>> import numpy as np
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.modalities import Continuous
    >>> from skmmae.privacy import DifferentialPrivacy
    >>> X = {"a": np.random.default_rng(0).normal(size=(256, 3))}
    >>> ae = MultimodalAutoencoder(
    ...     2, hidden_dims=(8,), readout="decoder", max_epochs=2, batch_size=64,
    ...     modalities={"a": Continuous(standardize=False)},
    ...     privacy=DifferentialPrivacy(epsilon=1.0), random_state=0,
    ... ).fit(X)
    >>> private = dict(ae.net_.callbacks_)["privacy"]
    >>> private.sample_rate_, private.steps_
    (0.25, 8)
    >>> bool(private.noise_multiplier_ > 1)
    True
    """

    def __init__(self, privacy):
        self.privacy = privacy

    def initialize(self):
        self.accountant_ = None
        self._hooks = None
        return self

    @property
    def steps_(self):
        """The noisy steps the accountant has seen."""
        history = [] if self.accountant_ is None else self.accountant_.history
        return sum(steps for _, _, steps in history)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        import_opacus()
        from opacus.accountants import create_accountant
        from opacus.accountants.utils import get_noise_multiplier
        from opacus.grad_sample import GradSampleHooks
        from opacus.optimizers import DPOptimizer

        privacy, n_samples = self.privacy, len(X)
        self.delta_ = privacy.delta_for(n_samples)
        batches = net.get_iterator(X, training=True)
        self.sample_rate_ = batches.sample_rate
        self.noise_multiplier_ = get_noise_multiplier(
            target_epsilon=privacy.epsilon,
            target_delta=self.delta_,
            sample_rate=self.sample_rate_,
            steps=len(batches) * net.max_epochs,
            accountant=privacy.accountant,
        )
        _make_opacus_ready(net)
        # The hooks attach to the model in place: net.module_ stays our module.
        self._hooks = GradSampleHooks(net.module_, batch_first=True, loss_reduction="mean")
        net.optimizer_ = DPOptimizer(
            net.optimizer_,
            noise_multiplier=self.noise_multiplier_,
            max_grad_norm=privacy.max_grad_norm,
            expected_batch_size=n_samples * self.sample_rate_,
            loss_reduction="mean",
        )
        # Every noisy step, empty batches included, goes to the accountant.
        self.accountant_ = create_accountant(mechanism=privacy.accountant)
        net.optimizer_.attach_step_hook(self.accountant_.get_optimizer_hook_fn(self.sample_rate_))

    def spent(self):
        """``(epsilon, delta)`` spent by the steps taken so far."""
        if self.steps_ == 0:
            return 0.0, self.delta_
        with quiet_training():
            return float(self.accountant_.get_epsilon(delta=self.delta_)), self.delta_

    def on_epoch_end(self, net, **kwargs):
        net.history.record("epsilon", self.spent()[0])

    def on_train_end(self, net, **kwargs):
        if self._hooks is not None:
            self._hooks.cleanup()  # the hooks, and what they left on the parameters
            self._hooks = None
        if hasattr(net.optimizer_, "original_optimizer"):
            net.optimizer_ = net.optimizer_.original_optimizer
            for parameter in net.module_.parameters():  # the DPOptimizer's own leftover
                if hasattr(parameter, "summed_grad"):
                    del parameter.summed_grad


@contextlib.contextmanager
def quiet_training():
    """Silence two warnings of every Opacus training that say nothing about this one.

    torch warns that the first layers' backward hooks see no input
    gradient (the data needs none), and the accountant's search for the
    noise warns when a trial noise is far too small for its orders; the
    PRV accountant takes the log of 0 where every sample is in every batch
    (one batch per epoch), a case it then handles.
    """
    with warnings.catch_warnings(), np.errstate(divide="ignore"):
        warnings.filterwarnings("ignore", message="Full backward hook is firing when gradients")
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
        yield


def forget_training_losses(history):
    """Remove the training losses from a private fit's history, in place.

    They are computed on the private data without noise, so keeping them
    in the fitted estimator (and in its saved file) would publish a
    statistic of the data outside DP-SGD. The epochs, their durations, the
    batch sizes (drawn independently of the data) and the epsilon spent stay.
    """
    for row in history:
        for key in [key for key in row if key.startswith("train_loss")]:
            del row[key]
        for batch in row.get("batches", ()):
            batch.pop("train_loss", None)


def restore_torch_layers(net):
    """Put plain ``nn.GRU`` layers, with the trained weights, back in place of Opacus's.

    The fitted model is then the same model a non-private fit gives, which
    saving, export and inference expect. Run after every callback that
    writes the final weights (the weight average).
    """
    from opacus.layers import DPGRU

    if _swap_layers(net.module_, DPGRU, _plain_gru):
        net.initialize_optimizer()


def _plain_gru(layer):
    gru = nn.GRU(
        layer.input_size, layer.hidden_size, num_layers=layer.num_layers, bias=layer.bias,
        batch_first=layer.batch_first, dropout=layer.dropout, bidirectional=layer.bidirectional,
    )
    trained = layer.state_dict()  # holds nn.GRU's names for its weights too
    gru.load_state_dict({key: trained[key] for key in gru.state_dict()})
    return gru.to(next(layer.parameters()).device)


def _swap_layers(module, kind, convert):
    """Replace every layer of type ``kind`` in ``module`` by ``convert(layer)``; how many."""
    names = [name for name, layer in module.named_modules() if type(layer) is kind]
    for name in names:
        parent, _, child = name.rpartition(".")
        setattr(module.get_submodule(parent), child, convert(module.get_submodule(name)))
    return len(names)


def _make_opacus_ready(net):
    """Swap the GRUs for Opacus's drop-in ``DPGRU``; refuse layers Opacus cannot handle.

    Only the GRUs (skmmae's own text layers) are swapped: Opacus's other
    fixes change what a layer computes (BatchNorm to GroupNorm), which a
    user's custom architecture must choose itself.
    """
    from opacus.validators import ModuleValidator

    module = net.module_
    if _swap_layers(module, nn.GRU, ModuleValidator.FIXERS[nn.GRU]):
        net.initialize_optimizer()
    was_training = module.training
    module.train()  # the validator checks training mode, which fit sets anyway
    errors = ModuleValidator.validate(module, strict=False)
    module.train(was_training)
    if errors:
        raise ValueError(
            "privacy=DifferentialPrivacy(...) cannot compute per-sample gradients of "
            "this model: " + "; ".join(str(error) for error in errors)
        )


def check_kinds_named(estimator, data):
    """Refuse a modality whose kind would be inferred: inference reads the values."""
    given = estimator.modalities if isinstance(estimator.modalities, dict) else {}
    unnamed = [name for name in data if name not in given]
    if unnamed:
        raise ValueError(
            f"privacy=DifferentialPrivacy(...) needs the kind of every modality given in "
            f"'modalities', since inferring it reads the values outside DP-SGD; give one "
            f"for {unnamed}."
        )


def keep_schema_only(modalities):
    """Make the fitted modalities learn nothing from the values, or refuse them.

    A modality may keep what its data's shape says (sizes, public
    categories); a statistic of the values that the model uses is refused
    with the public alternative, and one only reported is removed. Every
    kind that accepts missing cells reads observed flags, so that the
    model's shape does not tell whether the training data had any.
    """
    problems = [
        f"modality {name!r} learns {statistic}"
        for name, modality in modalities.items()
        for statistic in modality._statistics_from_values()
    ]
    if problems:
        raise ValueError(
            "privacy=DifferentialPrivacy(...) refuses statistics learned from the data "
            "outside DP-SGD: " + "; ".join(problems) + "."
        )
    for modality in modalities.values():
        for name in modality._reported_statistics:
            delattr(modality, name)
        if modality.accepts_missing_cells:
            modality.missing_cells_ = True
