"""Data-parallel training: one fit run as several processes, launched by ``torchrun``.

``MultimodalAutoencoder(data_parallel=True)`` in a script started by
``torchrun --nproc_per_node N script.py`` trains one model with N
processes (one per GPU, or CPU processes). Every process calls ``fit``
on the same X; each computes the gradient of its share of every batch,
the shares' gradients are averaged, and every process takes the same step,
so that the model is the one a single process would train with the same
``batch_size``, the global batch.

Three pieces plug into skorch's documented seams, on ``torch.distributed``
(the process group that ``torchrun`` sets up):

- :class:`DataParallel`, the estimator's ``data_parallel`` option, which
  joins the process group and gives each process its device;
- :class:`ShardedBatchIterator`, the net's ``iterator_train``: every
  process sees the same global batches (one permutation, drawn by rank 0
  and broadcast) and takes its contiguous share of each;
- :class:`DataParallelTraining`, a callback that trains the model as a
  replica of torch's ``DistributedDataParallel``, which starts every
  process from rank 0's weights and averages the gradients while backward
  runs, and records each batch's global loss and size in the history.

Each process's loss divides each modality's summed loss by the number of
samples that have it in the *global* batch, over the number of processes
(``ReconstructionLoss``'s ``sum_over_processes``), so that the averaged
gradients are exactly those of the global batch's loss, missing
modalities included. The post-fit steps
then run in every process on the whole X, which each one holds: every
process ends with the same fitted estimator.
"""

import inspect
import math
import os

import torch
from skorch.callbacks import Callback

from ._compat import StrOptions
from ._data import TensorBatchIterator, TensorDictDataset
from .options import _Option

#: The public names; the functions below them serve the estimator's fit.
__all__ = ["DataParallel", "DataParallelTraining", "ShardedBatchIterator"]

#: The variables ``torchrun`` sets for each process it starts.
_LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class DataParallel(_Option):
    """Train as one of the processes of a ``torch.distributed`` job.

    Start the script with ``torchrun``; every process fits the same
    estimator on the same X. If no process group is initialized yet,
    ``fit`` initializes the default one from ``torchrun``'s environment
    variables; it is left initialized for later fits.

    Parameters
    ----------
    backend : {"gloo", "nccl"} or None, default=None
        The ``torch.distributed`` backend of the group that ``fit``
        initializes: None takes ``"nccl"`` on CUDA and ``"gloo"``
        otherwise. Unused when a group is already initialized.

    Notes
    -----
    On CUDA, each process trains on ``cuda:LOCAL_RANK`` when ``device``
    names no GPU index (``"auto"`` or ``"cuda"``), so that ``torchrun
    --nproc_per_node N`` on an N-GPU machine gives each process its own GPU.

    Examples
    --------
    A group of one process, as ``torchrun --nproc_per_node 1`` would give:

    >>> import numpy as np
    >>> import torch.distributed as dist
    >>> from skmmae import MultimodalAutoencoder
    >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    >>> X = {"a": np.random.default_rng(0).normal(size=(100, 4)),
    ...      "b": np.random.default_rng(1).normal(size=(100, 3))}
    >>> ae = MultimodalAutoencoder(2, max_epochs=2, data_parallel=True, random_state=0).fit(X)
    >>> ae.net_.history[-1, "batches", 0, "train_batch_size"]
    100
    >>> dist.destroy_process_group()
    """

    _parameter_constraints = {"backend": [StrOptions({"gloo", "nccl"}), None]}

    def __init__(self, backend=None):
        self.backend = backend

    def join(self, device):
        """Join (or initialize) the default process group: this process's device.

        Raises
        ------
        RuntimeError
            When this process was not started by ``torchrun`` and no group
            is initialized.
        """
        dist = torch.distributed
        if not dist.is_available():
            raise RuntimeError(
                "data_parallel needs torch.distributed, which this build of torch does not have."
            )
        device = _own_device(device)
        if not dist.is_initialized():
            missing = [name for name in _LAUNCH_VARIABLES if name not in os.environ]
            if missing:
                raise RuntimeError(
                    "data_parallel=True trains as one of several processes, but this process "
                    f"was not started by torchrun (the variables {missing} are not set) and no "
                    "torch.distributed process group is initialized. Start the script with "
                    "`torchrun --nproc_per_node N script.py`, or call "
                    "torch.distributed.init_process_group() before fit."
                )
            backend = self.backend or ("nccl" if device.type == "cuda" else "gloo")
            dist.init_process_group(backend, device_id=device if device.type == "cuda" else None)
        return device


def _own_device(device):
    """``cuda:LOCAL_RANK`` for a CUDA device without index; else ``device``."""
    if device.type != "cuda" or device.index is not None:
        return device
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    torch.cuda.set_device(device)
    return device


def rank():
    """This process's rank in the default group."""
    return torch.distributed.get_rank()


def shared_seed(seed, device):
    """Rank 0's ``seed``, in every process of the group."""
    value = torch.tensor([seed], dtype=torch.int64, device=device)
    torch.distributed.broadcast(value, src=0)
    return int(value.item())


def sum_over_processes(tensor):
    """``tensor`` summed over the processes of the group, in place (returned)."""
    torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.SUM)
    return tensor


class ShardedBatchIterator(TensorBatchIterator):
    """This process's share of each global batch, as ``(X_batch, None)``.

    Every process of the group draws the same global batches of
    ``batch_size`` rows, in one order per epoch (drawn from rank 0's
    torch random state and broadcast), and takes its contiguous share of
    each: the first ``batch_size // world_size`` or one more rows to rank
    0, the next to rank 1, and so on. Every process runs the same number
    of steps, as the gradient sums need; a share may be empty when the
    last batch has fewer rows than there are processes.

    Parameters
    ----------
    dataset : TensorDictDataset
        The whole training data, the same in every process.
    batch_size : int, default=128
        Rows per global batch.
    shuffle : bool, default=False
        Whether to visit the rows in a new random order each epoch.

    Examples
    --------
    In a group of one process, the shares are the whole batches:

    >>> import torch, torch.distributed as dist
    >>> from skmmae._data import TensorDictDataset
    >>> from skmmae.distributed import ShardedBatchIterator
    >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    >>> data = TensorDictDataset({"a": torch.zeros(5, 2)})
    >>> [len(X["a"]) for X, _ in ShardedBatchIterator(data, batch_size=2)]
    [2, 2, 1]
    >>> dist.destroy_process_group()
    """

    def __iter__(self):
        dataset, size = self.dataset, self.batch_size
        if not isinstance(dataset, TensorDictDataset):
            raise TypeError(
                "data-parallel training shards skmmae's in-memory dataset; got "
                f"{type(dataset).__name__}."
            )
        n = len(dataset)
        world, me = torch.distributed.get_world_size(), rank()
        if self.shuffle:
            order = torch.randperm(n, device=dataset.device)
            torch.distributed.broadcast(order, src=0)
        else:
            order = torch.arange(n, device=dataset.device)
        for start in range(0, n, size):
            yield dataset[torch.tensor_split(order[start : start + size], world)[me]]


def _no_buffer_sync():
    """DDP's argument that turns off syncing buffers at each forward (renamed in torch 2.13)."""
    accepted = inspect.signature(torch.nn.parallel.DistributedDataParallel).parameters
    if "forward_sync_buffers" in accepted:
        return {"forward_sync_buffers": False}
    return {"broadcast_buffers": False}


class DataParallelTraining(Callback):
    """Train the net's module as one replica of a ``DistributedDataParallel`` model.

    A skorch callback for data-parallel training (the estimator adds it as
    ``"data_parallel"``):

    - ``on_train_begin``: wraps ``net.module_`` in torch's
      ``DistributedDataParallel``, which gives every process rank 0's
      weights; training forward passes go through the wrapper (the net's
      ``infer``), and ``net.module_`` stays the plain module. DDP averages
      the gradients over the processes, in buckets, while backward runs;
      the criterion counts each batch's samples over all processes, so the
      average is the global batch's gradient;
    - at the end of each epoch's last training batch: the history's
      ``train_loss`` and ``train_batch_size`` of each of the epoch's
      batches become those of the global batch, in one collective call, so
      that the epoch's loss is the global batch-weighted mean, the same in
      every process (callbacks that read a batch's loss as it ends see
      this process's share's);
    - ``on_train_end``: drops the wrapper (it holds the process group, which
      cannot be pickled); the criterion counts locally again.

    Attributes
    ----------
    module : torch.nn.parallel.DistributedDataParallel or None
        The wrapper, while the net trains.

    Examples
    --------
    >>> import numpy as np, torch.distributed as dist
    >>> from skmmae import MultimodalAutoencoder
    >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    >>> X = {"a": np.random.default_rng(0).normal(size=(50, 3))}
    >>> ae = MultimodalAutoencoder(2, max_epochs=1, data_parallel=True, random_state=0).fit(X)
    >>> training = dict(ae.net_.callbacks_)["data_parallel"]
    >>> type(training).__name__, training.module
    ('DataParallelTraining', None)
    >>> dist.destroy_process_group()
    """

    def __init__(self):
        self.module = None

    def on_train_begin(self, net, **kwargs):
        device = torch.device(net.device)
        self.module = torch.nn.parallel.DistributedDataParallel(
            net.module_,
            device_ids=[device] if device.type == "cuda" else None,
            # The buffers (standardization statistics) are the same in every
            # process and never change.
            **_no_buffer_sync(),
            gradient_as_bucket_view=True,  # no copy between the buckets and the gradients
            # Some parameters are reached only by some batches (the concat
            # fusion's placeholders, where a modality is missing).
            find_unused_parameters=True,
        )
        net.criterion_.sum_over_processes = sum_over_processes
        net.criterion_.n_processes = torch.distributed.get_world_size()

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        # The sharded iterator's number of steps, which every process runs.
        self.steps_ = math.ceil(len(dataset_train) / net.batch_size)
        self.done_ = 0

    def on_batch_end(self, net, training=None, **kwargs):
        if not training:
            return
        self.done_ += 1
        if self.done_ == self.steps_:
            _record_global_batches(net.history)

    def on_train_end(self, net, **kwargs):
        self.module = None
        net.criterion_.sum_over_processes, net.criterion_.n_processes = None, 1


def _record_global_batches(history):
    """Make this epoch's training batches' losses and sizes those of the global batches.

    One collective call per epoch: each process's losses (its share's loss,
    scaled to the mean share) and sizes are summed over the processes; the
    global batch's loss is the processes' mean loss, its size their sum.
    """
    batches = [batch for batch in history[-1]["batches"] if "train_loss" in batch]
    values = [batch["train_loss"] for batch in batches] + [batch["train_batch_size"] for batch in batches]
    sums = sum_over_processes(torch.tensor(values, dtype=torch.float64, device=_collective_device())).tolist()
    world = torch.distributed.get_world_size()
    for batch, loss, size in zip(batches, sums[: len(batches)], sums[len(batches) :]):
        batch["train_loss"], batch["train_batch_size"] = loss / world, int(size)


def _collective_device():
    """Where the default group's collectives take tensors: the GPU for NCCL."""
    if torch.distributed.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def check_data_parallel(config, owner):
    """Refuse the settings a data-parallel fit cannot honour, naming the parameter."""
    if config.privacy is not None:
        raise ValueError(
            f"{owner}(data_parallel=...) cannot train privately: DP-SGD's per-sample "
            "clipping and Poisson sampling are those of one process. Use privacy=None, or "
            "train privately in one process."
        )
    if config.speed.cuda_graphs is True:
        raise ValueError(
            f"{owner}(data_parallel=...) sums gradients across processes between backward "
            "and step, which a captured CUDA graph would skip; use Speed(cuda_graphs=False) "
            "or 'auto' in the 'speed' parameter."
        )

