"""The estimator's parameters, checked once and resolved into one configuration.

:func:`resolve_config` runs at the top of ``fit``, before any data is
touched: it turns each parameter that takes a plain value or an option
object (:mod:`skmmae.options`) or a component (:mod:`skmmae.readout`,
:mod:`skmmae.refine`) into its object, and checks every rule that links
parameters. Every message names the parameter at fault.
"""

import dataclasses
import inspect
from numbers import Integral, Real

import torch
from skorch.callbacks import Callback, LRScheduler
from sklearn.base import BaseEstimator

from ._compat import Interval, InvalidParameterError, StrOptions
from ._fitting import check_weight_values
from .options import CrossModal, EarlyStop, HiddenLayers, ModalityDropout, Speed, Variational
from .fusion import FUSIONS
from .distributed import DataParallel, check_data_parallel
from .lags import Lags
from .privacy import DifferentialPrivacy
from .readout import DecoderReadout, KernelReadout
from .refine import CodeRefinement

__all__ = ["Config", "OPTIMIZERS", "PARAMETER_CONSTRAINTS", "graph_safe", "resolve_config"]

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}

#: The type and range of each of the estimator's parameters, as scikit-learn
#: checks them (``_parameter_constraints``) before :func:`resolve_config`
#: checks the rules that link them.
PARAMETER_CONSTRAINTS = {
    "encoding_dim": [Interval(Integral, 1, None, closed="left")],
    "modalities": [dict, None],
    "modality_weights": [StrOptions({"balanced"}), dict, None],
    "hidden_dims": ["array-like", HiddenLayers],
    "fusion": [StrOptions(set(FUSIONS))],
    "variational": ["boolean", Variational],
    "modality_dropout": [Interval(Real, 0, 1, closed="left"), ModalityDropout],
    "noise_std": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
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
    "privacy": [DifferentialPrivacy, None],
    "data_parallel": ["boolean", DataParallel],
    "lags": ["boolean", Lags, None],
    "verbose": ["verbose"],
    "random_state": ["random_state"],
}

#: The estimator's parameters that take a plain value or an option object.
_OPTIONS = {
    "hidden_dims": HiddenLayers,
    "variational": Variational,
    "modality_dropout": ModalityDropout,
    "cross_weight": CrossModal,
    "early_stopping": EarlyStop,
    "speed": Speed,
    "privacy": DifferentialPrivacy,
    "data_parallel": DataParallel,
    "lags": Lags,
}


@dataclasses.dataclass
class Config:
    """Everything ``fit`` needs to know about the parameters, resolved.

    ``variational``, ``early_stopping``, ``privacy``, ``data_parallel`` and ``lags`` are None when off; the other
    options are always objects. ``optimizer_kwargs`` holds the fused and
    capturable flags the speed options asked for; ``cuda_graphs`` whether
    the training step is captured; ``subset_encoders`` whether incomplete
    inputs get encoders of their own (``ModalityDropout.encoders``).
    """

    hidden_dims: HiddenLayers
    variational: Variational
    modality_dropout: ModalityDropout
    cross_weight: CrossModal
    early_stopping: EarlyStop
    speed: Speed
    privacy: DifferentialPrivacy
    data_parallel: DataParallel
    lags: Lags
    readout: DecoderReadout
    device: torch.device
    optimizer: type
    optimizer_kwargs: dict
    cuda_graphs: bool
    subset_encoders: bool = False

    @property
    def kl_warmup(self):
        return self.variational is not None and self.variational.kl_warmup_epochs > 0


def resolve_config(estimator):
    """Check every parameter rule of ``estimator`` and resolve its options.

    Raises ``ValueError`` (or ``TypeError``) naming the parameter.
    """
    owner = type(estimator).__name__
    options = {}
    for parameter, kind in _OPTIONS.items():
        option = kind.from_value(getattr(estimator, parameter))
        if option is not None:
            option.check(parameter, owner)
        options[parameter] = option
    readout = _readout(estimator.readout)
    for parameter, component in (("readout", readout), ("refine", estimator.refine)):
        if isinstance(component, BaseEstimator):
            _check_component(component, parameter, owner)
    _check_callbacks(estimator.callbacks, owner)
    check_weight_values(estimator.modality_weights)
    cross = options["cross_weight"]
    if cross.decoders == "own" and estimator.fusion == "moe":
        raise ValueError(
            f"{owner}(cross_weight=CrossModal(decoders='own')) trains its own decoders with "
            "the cross-modal term, which fusion='moe' does not use; use another fusion or "
            "decoders='shared'."
        )
    device = _device(estimator.device, owner)
    optimizer = OPTIMIZERS.get(estimator.optimizer, estimator.optimizer)
    config = Config(
        **options, readout=readout, device=device, optimizer=optimizer,
        optimizer_kwargs={}, cuda_graphs=False,
    )
    if config.data_parallel is not None:
        check_data_parallel(config, owner)
    if config.privacy is not None:
        _check_private(estimator, config, owner)
    config.subset_encoders = _subset_encoders(estimator, config, owner)
    _resolve_speed(config, estimator)
    return config


def _subset_encoders(estimator, config, owner):
    """Whether incomplete inputs get encoders of their own (``ModalityDropout.encoders``)."""
    dropout = config.modality_dropout
    if dropout.encoders == "shared":
        return False
    refused = {
        "variational": (
            config.variational is not None,
            "the subset encoders give codes without the log variance that the KL term trains",
        ),
        "fusion": (
            estimator.fusion == "moe",
            "fusion='moe' decodes each modality's expert, which already trains codes from "
            "subsets",
        ),
        "cross_weight": (
            config.cross_weight.weight > 0,
            "the cross-modal term trains the shared encoders on the codes of the others",
        ),
        "privacy": (
            config.privacy is not None,
            "per-sample gradients would count the decoders' fixed pass as theirs",
        ),
    }
    if dropout.encoders == "auto":
        available = not any(is_refused for is_refused, _ in refused.values())
        return dropout._trains_both_codes and available
    _raise_refused(
        f"{owner}(modality_dropout=ModalityDropout(encoders='own'))", refused,
        " Use encoders='auto' or 'shared'.",
    )
    return True


def _check_private(estimator, config, owner):
    """Refuse the settings that would learn from the data outside DP-SGD, or break it."""
    refused = {
        "readout": (
            type(config.readout) is not DecoderReadout,
            "a read-out other than the decoders fits on the training codes outside DP-SGD; "
            "use readout='decoder'",
        ),
        "refine": (
            estimator.refine is not None,
            "code refinement reads the spread of the training codes; use refine=None",
        ),
        "modality_weights": (
            estimator.modality_weights == "balanced",
            "'balanced' weights are computed from the data's initial losses; give the "
            "weights as a dict, or None",
        ),
        "early_stopping": (
            config.early_stopping is not None,
            "early stopping picks the epoch on a validation split outside DP-SGD; use "
            "early_stopping=False",
        ),
        "speed": (
            config.speed.cuda_graphs is True,
            "CUDA graphs replay fixed batch shapes, which Poisson sampling does not have; "
            "use Speed(cuda_graphs=False) or 'auto'",
        ),
        "lags": (
            config.lags is not None,
            "the lag aligner learns from an objective of its own, which DP-SGD's per-sample "
            "clipping does not cover; use lags=None",
        ),
    }
    _raise_refused(f"{owner}(privacy=DifferentialPrivacy(...))", refused)


def _raise_refused(setting, refused, advice=""):
    """Raise for the first ``{parameter: (is_refused, why)}`` entry that ``setting`` refuses."""
    for parameter, (is_refused, why) in refused.items():
        if is_refused:
            raise ValueError(f"{setting} refuses this {parameter!r}: {why}.{advice}")


def _readout(readout):
    if isinstance(readout, str):
        return KernelReadout() if readout == "kernel" else DecoderReadout()
    return readout


def _check_component(component, parameter, owner):
    try:
        component._validate_params()
    except InvalidParameterError as error:
        raise InvalidParameterError(f"The {parameter!r} parameter of {owner}: {error}") from error


def _check_callbacks(callbacks, owner):
    """Refuse ``callbacks`` entries skorch would fail on, naming the entry."""
    for i, entry in enumerate(callbacks or []):
        named = isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)
        callback = entry[1] if named else entry
        is_class = isinstance(callback, type) and issubclass(callback, Callback)
        if not (isinstance(callback, Callback) or is_class):
            raise TypeError(
                f"Entry {i} of the 'callbacks' parameter of {owner} must be a skorch "
                f"Callback (an instance or a class) or a (name, Callback) pair. Got "
                f"{entry!r} instead."
            )


def _device(device, owner):
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"The 'device' parameter of {owner} must be 'auto' or a torch device such as "
            f"'cpu' or 'cuda'. Got {device!r} instead."
        ) from error
    if resolved.type == "meta":
        raise ValueError(
            "device='meta' holds no data, so nothing can be trained on it; use "
            "device='auto', 'cpu' or 'cuda'."
        )
    for kind, available in (("cuda", torch.cuda.is_available), ("mps", torch.backends.mps.is_available)):
        if resolved.type == kind and not available():
            raise ValueError(
                f"device={device!r} was asked for, but {kind.upper()} is not available "
                "here; use device='auto' or 'cpu'."
            )
    return resolved


def graph_safe(entry):
    """Whether a user's callback works while CUDA graphs replay the training step.

    Inside the graph the optimizer's hyperparameters are fixed and no
    gradient is seen by the host: learning-rate schedules and callbacks
    acting on gradients (e.g. clipping) would silently do nothing.
    """
    callback = entry[1] if isinstance(entry, tuple) else entry
    kind = callback if isinstance(callback, type) else type(callback)
    return not issubclass(kind, LRScheduler) and kind.on_grad_computed is Callback.on_grad_computed


def _resolve_speed(config, estimator):
    """Resolve the fused optimizer and CUDA graphs into optimizer kwargs and a flag."""
    speed, device, optimizer = config.speed, config.device, config.optimizer
    on_cuda = device.type == "cuda"
    builtin_adam = estimator.optimizer in ("adam", "adamw")
    accepts = inspect.signature(optimizer).parameters
    fused = speed.fused_optimizer
    if fused == "auto":
        # One kernel for all parameters: on CUDA it saves launches, on CPU
        # it stepped the default model faster than the per-tensor loop
        # (benchmarks/README.md).
        fused = device.type in ("cpu", "cuda") and builtin_adam
    graphs = speed.cuda_graphs
    if graphs == "auto":
        # A KL warm-up changes beta between epochs, which a graph would freeze.
        safe = all(graph_safe(entry) for entry in estimator.callbacks or [])
        # Poisson sampling (private training) gives batches of varying size.
        # Data-parallel training sums gradients between backward and step.
        alone = config.privacy is None and config.data_parallel is None
        graphs = on_cuda and builtin_adam and safe and not config.kl_warmup and alone
    if graphs and not on_cuda:
        raise ValueError(
            f"Speed(cuda_graphs=True) needs a CUDA device; the device is {device}. "
            "Use cuda_graphs='auto' or False in the 'speed' parameter."
        )
    if fused:
        if "fused" not in accepts:
            raise ValueError(
                f"Speed(fused_optimizer=True), but the optimizer {optimizer.__name__} takes "
                "no 'fused' argument; use fused_optimizer='auto' or False in the 'speed' "
                "parameter."
            )
        config.optimizer_kwargs["fused"] = True
    if graphs:
        if "capturable" not in accepts:
            raise ValueError(
                "Speed(cuda_graphs=True) needs an optimizer that takes capturable=True; "
                f"{optimizer.__name__} does not. Use 'adam' or 'adamw', or cuda_graphs=False "
                "in the 'speed' parameter."
            )
        config.optimizer_kwargs["capturable"] = True
    config.cuda_graphs = bool(graphs)
