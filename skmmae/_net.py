"""The skorch side: an X-is-the-target net on the whole-batch data path.

:class:`MultimodalNet` is a skorch ``NeuralNet`` whose input is also its
target, fed by the data path of :mod:`skmmae._data`. It extends skorch only
through its documented seams (``get_dataset``, ``iterator_train`` /
``iterator_valid``, ``train_split``, ``train_step_single``, ``train_step``,
``infer``, ``get_loss`` and callbacks), so every skorch callback sees each
batch's loss as skorch records it. It only trains: the inference passes
are :mod:`skmmae._inference`'s, the CUDA graphs :mod:`skmmae._cuda_graphs`'s.
Nothing here knows about the sklearn estimator.
"""

import contextlib

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from skorch.utils import is_dataset, to_tensor

from ._cuda_graphs import CudaGraphs
from ._data import TensorBatchIterator, TensorDictDataset
from .distributed import DataParallelTraining

__all__ = ["KLWarmup", "MultimodalNet"]


class KLWarmup(Callback):
    """Raise the criterion's KL weight linearly to ``beta`` over the first epochs.

    At the start of epoch ``e`` (from 1) the weight is
    ``beta * min(1, e / epochs)``.

    Parameters
    ----------
    beta : float
        The final KL weight.
    epochs : int
        Length of the warm-up, in epochs.
    """

    def __init__(self, beta, epochs):
        self.beta = beta
        self.epochs = epochs

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history)  # the net has already opened this epoch's row
        net.criterion_.beta = self.beta * min(1.0, epoch / self.epochs)


class MultimodalNet(NeuralNet):
    """A skorch ``NeuralNet`` whose input is also its target.

    The module's ``forward`` returns everything the criterion needs (see
    :class:`skmmae._module.AutoencoderOutput`), so no ``y`` is ever built or
    moved. Defaults to the whole-batch data path; any skorch parameter can
    still be overridden. With a :class:`~skmmae._cuda_graphs.CudaGraphs`
    among its callbacks, full training batches replay a captured CUDA graph.

    Parameters
    ----------
    module, criterion, *args, **kwargs
        As for :class:`skorch.NeuralNet`.
    bf16 : bool, default=False
        Run forward passes under bfloat16 autocast (on CPU and CUDA); the
        loss is still reduced in float32.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skmmae._loss import ReconstructionLoss
    >>> from skmmae._module import MultimodalAutoencoderModule
    >>> from skmmae._net import MultimodalNet
    >>> from skmmae.modalities import Continuous
    >>> X = {"a": np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)}
    >>> modalities = {"a": Continuous().fit(X["a"])}
    >>> net = MultimodalNet(
    ...     MultimodalAutoencoderModule, ReconstructionLoss,
    ...     module__modalities=modalities, module__encoding_dim=2,
    ...     module__hidden_dims=(8,), module__fusion="mean",
    ...     criterion__modalities=modalities, optimizer=torch.optim.Adam,
    ...     train_split=None, max_epochs=2, verbose=0,
    ... ).fit(X)
    >>> len(net.history)
    2
    """

    def __init__(
        self,
        module,
        criterion,
        *args,
        iterator_train=TensorBatchIterator,
        iterator_valid=TensorBatchIterator,
        iterator_train__shuffle=True,
        bf16=False,
        **kwargs,
    ):
        # Each modality's loss per epoch (skmmae._loss_terms) is a dict per
        # row: kept in the history, left out of the printed table.
        kwargs.setdefault("callbacks__print_log__keys_ignored", ["train_losses", "valid_losses"])
        super().__init__(
            module,
            criterion,
            *args,
            iterator_train=iterator_train,
            iterator_valid=iterator_valid,
            iterator_train__shuffle=iterator_train__shuffle,
            **kwargs,
        )
        self.bf16 = bf16

    @property
    def cuda_graphs(self):
        """The net's :class:`~skmmae._cuda_graphs.CudaGraphs` callback, or None."""
        for _, callback in getattr(self, "callbacks_", ()):
            if isinstance(callback, CudaGraphs):
                return callback
        return None

    @property
    def data_parallel(self):
        """The net's :class:`~skmmae.distributed.DataParallelTraining` callback while it trains, or None."""
        for _, callback in getattr(self, "callbacks_", ()):
            if isinstance(callback, DataParallelTraining) and callback.module is not None:
                return callback
        return None

    def get_dataset(self, X, y=None):
        if is_dataset(X):
            return X
        return TensorDictDataset(X, device=self.device)

    def train_step_single(self, batch, **fit_params):
        # skorch's own switches every submodule's mode on every batch (a
        # walk of the module tree); only a module whose mode differs is
        # switched here.
        for module in (self.module_, self.criterion_):
            if not module.training:
                module.train()
        Xi, _ = unpack_data(batch)
        output = self.infer(Xi, **fit_params)
        loss = self.get_loss(output, None, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": output}

    def train_step(self, batch, **fit_params):
        graphs = self.cuda_graphs
        if graphs is None or fit_params:
            return super().train_step(batch, **fit_params)
        Xi, _ = unpack_data(batch)
        # Graph mode gives callbacks no y_pred, and only detached losses: an
        # eager loss still tied to its autograd graph would keep that step's
        # gradient accumulators (and their CUDA stream) alive into the
        # capture or the replays.
        loss = graphs.train_step(self, Xi, lambda: NeuralNet.train_step(self, batch)["loss"])
        return {"loss": loss, "y_pred": None}

    def get_loss(self, y_pred, y_true=None, X=None, training=False):
        return self.criterion_(y_pred)

    def infer(self, x, **fit_params):
        with self.autocast():
            data_parallel = self.data_parallel
            if data_parallel is not None and self.module_.training:
                # Through DistributedDataParallel, which averages the
                # gradients over the processes while backward runs.
                return data_parallel.module(**to_tensor(x, device=self.device), **fit_params)
            return super().infer(x, **fit_params)

    def autocast(self, cache_enabled=True):
        """bfloat16 autocast on the net's device with ``bf16``; else nothing."""
        if not self.bf16:
            return contextlib.nullcontext()
        device_type = torch.device(self.device).type
        return torch.autocast(device_type, dtype=torch.bfloat16, cache_enabled=cache_enabled)
