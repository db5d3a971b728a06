"""CUDA graphs of the training step and of the encode step.

A small model's step on a GPU is mostly kernel launches. Captured once in a
CUDA graph and replayed, a step costs one launch. :class:`CudaGraphs` owns
every graph of one net, and all their state:

- the training step's graph (forward, backward, optimizer step of a full
  batch), captured after a few eager warm-up steps and freed when training
  ends;
- the encode step's graph, kept between calls while the module and the
  batch's layout stay the same. It reads the parameters in place, so more
  training does not stale it; a new module does.

It is a skorch callback, so skorch resets and releases it at the start and
end of training; the net's ``train_step`` and the inference passes ask it
to run a step. Graphs never reach a pickle: they hold device memory and are
captured again when needed.
"""

import torch
from skorch.callbacks import Callback

__all__ = ["CudaGraphs"]


class CudaGraphs(Callback):
    """Capture and replay a net's full-batch training and encode steps on CUDA.

    Only full batches replay a graph; the last partial batch of an epoch
    runs eagerly, so every sample is used. Inside the training graph the
    optimizer's hyperparameters (e.g. the learning rate) are fixed, and
    ``on_grad_computed`` callbacks do not see replayed steps. The optimizer
    must be built with ``capturable=True``.

    Parameters
    ----------
    warmup_steps : int, default=3
        Full-batch training steps run eagerly on a side stream before the
        capture (ordinary training steps, not extra ones), so that the
        capture sees settled allocator and library state.

    Attributes
    ----------
    n_replays_ : int
        Training steps replayed from the graph in the last training run.

    Examples
    --------
    >>> from skmmae._cuda_graphs import CudaGraphs
    >>> graphs = CudaGraphs(warmup_steps=2).initialize()
    >>> graphs.n_replays_
    0
    """

    def __init__(self, warmup_steps=3):
        self.warmup_steps = warmup_steps

    def initialize(self):
        self._release_training()
        self._encode = None
        self.n_replays_ = 0
        return self

    def on_train_begin(self, net, **kwargs):
        self._release_training()
        self.n_replays_ = 0

    def on_train_end(self, net, **kwargs):
        self._release_training()

    def _release_training(self):
        self._graph = self._inputs = self._loss = None
        self._warmups_done = 0

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_graph=None, _inputs=None, _loss=None, _warmups_done=0, _encode=None)
        return state

    # -- the training step -------------------------------------------------

    def train_step(self, net, Xi, eager_step):
        """The loss of one training step on the batch ``Xi``, detached.

        ``eager_step()`` runs the step eagerly and returns its loss; it serves
        partial batches, other devices and the warm-up steps.
        """
        if not (_rows(Xi) == net.batch_size and _all_on_cuda(Xi)):
            return eager_step().detach()
        if self._warmups_done < self.warmup_steps:
            self._warmups_done += 1
            return _on_side_stream(eager_step).detach()
        if self._graph is None:
            self._capture_training(net, Xi)
        for name, x in Xi.items():
            self._inputs[name].copy_(x)
        self._graph.replay()
        self.n_replays_ += 1
        # The static loss: skorch reads it before the next replay overwrites it.
        return self._loss

    def _capture_training(self, net, Xi):
        net.module_.train()
        net.criterion_.train()
        self._inputs = {name: x.clone() for name, x in Xi.items()}
        # Gradients are allocated inside the capture, from the graph's pool;
        # backward then writes (not accumulates) them on every replay.
        net.optimizer_.zero_grad(set_to_none=True)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            with net.autocast(cache_enabled=False):
                output = net.module_(**self._inputs)
            loss = net.criterion_(output)
            loss.backward()
            net.optimizer_.step()
        # Detached, the static loss does not keep the capture's autograd graph alive.
        self._loss = loss.detach()

    # -- the encode step ---------------------------------------------------

    def encode(self, net, Xi, full_rows):
        """Codes of the batch ``Xi`` (in inference mode), replayed where a graph applies."""
        module = net.module_
        if not (_rows(Xi) == full_rows and _all_on_cuda(Xi)):
            return module.encode(**Xi)
        layout = tuple((name, tuple(x.shape), x.dtype) for name, x in Xi.items())
        cached = self._encode
        if cached is None or cached["module"] is not module or cached["layout"] != layout:
            self._encode = None  # free the old graph's memory first
            cached = self._encode = _capture_encode(net, Xi, layout)
        for name, x in Xi.items():
            cached["inputs"][name].copy_(x)
        cached["graph"].replay()
        return cached["code"].clone()  # the next replay overwrites the static code


def _capture_encode(net, Xi, layout):
    inputs = {name: x.clone() for name, x in Xi.items()}
    _on_side_stream(lambda: net.module_.encode(**inputs))  # one eager warm-up
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), net.autocast(cache_enabled=False):
        code = net.module_.encode(**inputs)
    return {"module": net.module_, "layout": layout, "graph": graph, "inputs": inputs, "code": code}


def _on_side_stream(step):
    """Run ``step()`` on a side stream, ordered after and before the current one."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        result = step()
    torch.cuda.current_stream().wait_stream(side)
    return result


def _rows(Xi):
    return len(next(iter(Xi.values())))


def _all_on_cuda(Xi):
    return all(torch.is_tensor(x) and x.is_cuda for x in Xi.values())
