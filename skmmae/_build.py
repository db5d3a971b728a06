"""The skorch net an estimator trains: module, criterion, optimizer and callbacks.

:func:`build_net` assembles :class:`~skmmae._net.MultimodalNet` from the
estimator's parameters, as resolved by :func:`skmmae._config.resolve_config`,
and the fitted modalities. The order of the callbacks matters, and is set
here only: the loss terms come first, so that no other callback acts on a
diverged loss or model; those that set the final weights (early stopping's
best epoch, the weight average) come after the user's.
"""

import copy

from skorch.callbacks import EarlyStopping, ProgressBar

from ._averaging import WeightAverage
from ._cuda_graphs import CudaGraphs
from ._data import TensorBatchIterator, TensorValidSplit
from ._loss_terms import LossTerms
from ._module import MultimodalAutoencoderModule
from ._loss import ReconstructionLoss
from ._net import KLWarmup, MultimodalNet
from ._progress import EpochProgress
from .distributed import DataParallelTraining, ShardedBatchIterator, rank
from .privacy import PoissonBatchIterator, PrivateSGD

__all__ = ["build_net"]


def build_net(estimator, config, modalities, seed):
    """The (uninitialized) net for ``estimator``'s parameters and fitted ``modalities``."""
    variational, dropout, cross = config.variational, config.modality_dropout, config.cross_weight
    private = config.privacy is not None
    verbose = _verbosity(estimator, config)
    # Private training: Poisson batches, and a model and loss whose
    # per-sample gradients each involve one sample (see skmmae.privacy).
    return MultimodalNet(
        MultimodalAutoencoderModule,
        ReconstructionLoss,
        module__modalities=modalities,
        module__encoding_dim=estimator.encoding_dim,
        module__hidden_dims=config.hidden_dims.spec(),
        module__fusion=estimator.fusion,
        module__variational=variational is not None,
        module__modality_dropout=dropout.rate,
        module__noise_std=estimator.noise_std_,
        module__input_dropout=estimator.input_dropout,
        module__subset_weight=dropout.subset_weight,
        module__own_subset_encoders=config.subset_encoders,
        module__subset_decoder_share=dropout.decoder_share,
        module__cross_weight=cross.weight,
        module__own_cross_decoders=cross.decoders == "own",
        module__decode_together=not private,
        module__lags=None if config.lags is None else config.lags.aligner_spec(modalities),
        criterion__modalities=modalities,
        criterion__beta=1.0 if variational is None else variational.beta,
        criterion__mean_over="batch" if private else "present",
        optimizer=config.optimizer,
        optimizer__weight_decay=estimator.weight_decay,
        **{f"optimizer__{key}": value for key, value in config.optimizer_kwargs.items()},
        bf16=config.speed.bf16,
        lr=estimator.lr,
        max_epochs=estimator.max_epochs,
        batch_size=estimator.batch_size,
        train_split=None if config.early_stopping is None else TensorValidSplit(
            config.early_stopping.validation_fraction, seed
        ),
        callbacks=_callbacks(estimator, config, verbose),
        device=config.device,
        # skorch's table of losses per epoch at verbose=1 only; above, bars.
        verbose=int(verbose == 1),
        iterator_train=_train_iterator(config),
    )


def _verbosity(estimator, config):
    """The estimator's ``verbose``; in data-parallel training, rank 0's only."""
    if config.data_parallel is not None and rank() != 0:
        return 0
    return estimator.verbose


def _train_iterator(config):
    if config.privacy is not None:
        return PoissonBatchIterator
    if config.data_parallel is not None:
        return ShardedBatchIterator
    return TensorBatchIterator


def _callbacks(estimator, config, verbose):
    # First: no other callback may act on a diverged loss or model.
    callbacks = [("loss_terms", LossTerms())]
    if config.data_parallel is not None:
        # Before any callback that reads the weights, the gradients or the
        # batch's loss: they are the global ones from here on.
        callbacks.append(("data_parallel", DataParallelTraining()))
    if config.privacy is not None:
        # Before any callback that holds the model's parameters from the
        # start of training: it may replace layers (GRUs) with Opacus's.
        callbacks.append(("privacy", PrivateSGD(config.privacy)))
    callbacks += copy.deepcopy(list(estimator.callbacks or []))
    if config.kl_warmup:
        variational = config.variational
        callbacks.append(("kl_warmup", KLWarmup(variational.beta, variational.kl_warmup_epochs)))
    if config.early_stopping is not None:
        stop = EarlyStopping(
            monitor="valid_loss", patience=config.early_stopping.patience, load_best=True
        )
        callbacks.append(("early_stopping", stop))
    elif estimator.ema_decay > 0:
        callbacks.append(("weight_average", WeightAverage(estimator.ema_decay)))
    if config.cuda_graphs:
        callbacks.append(("cuda_graphs", CudaGraphs()))
    if verbose >= 2:
        callbacks.append(("epoch_progress", EpochProgress()))
    if verbose >= 3:
        callbacks.append(("batch_progress", ProgressBar()))
    return callbacks
