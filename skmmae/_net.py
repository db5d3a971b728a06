"""The skorch side: an X-is-the-target net on the whole-batch data path.

:class:`MultimodalNet` is a skorch ``NeuralNet`` whose input is also its
target, fed by the data path of :mod:`skmmae._data`. On CUDA it can capture
its training step and its encode step in CUDA graphs. Everything plugs into
skorch's documented seams (``get_dataset``, ``iterator_train`` /
``iterator_valid``, ``train_split``, ``run_single_epoch``, ``train_step``,
``train_step_single``, ``validation_step``, ``get_loss``); nothing here
knows about the sklearn estimator.
"""

import contextlib

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import get_len, unpack_data
from skorch.utils import is_dataset

from ._data import TensorBatchIterator, TensorDictDataset
from ._module import split_presence
from ._refine import refine_codes

__all__ = ["KLWarmup", "MultimodalNet", "NonFiniteOutput"]

#: Samples whose codes are refined together in ``predict_modality`` (its
#: batch size): fewer, larger steps than one refinement per inference batch.
REFINE_ROWS = 4096

# The attributes that hold the captured training step (released when training ends).
_TRAIN_GRAPH = ("_graph", "_graph_inputs", "_graph_loss")


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
    still be overridden.

    Parameters
    ----------
    module, criterion, *args, **kwargs
        As for :class:`skorch.NeuralNet`.
    cuda_graphs : bool, default=False
        On CUDA, capture forward, backward and optimizer step of a full batch
        in one CUDA graph and replay it for every later full batch (the last
        partial batch runs eagerly). The optimizer must be built with
        ``capturable=True``. Its hyperparameters (e.g. the learning rate) are
        fixed inside the graph, and ``on_grad_computed`` callbacks do not see
        replayed steps.
    bf16 : bool, default=False
        Run forward passes under bfloat16 autocast (on CPU and CUDA); the
        loss is still reduced in float32.
    graph_warmup_steps : int, default=3
        Full-batch training steps run eagerly on a side stream before the
        capture (they are ordinary training steps, not extra ones).
    """

    def __init__(
        self,
        module,
        criterion,
        *args,
        iterator_train=TensorBatchIterator,
        iterator_valid=TensorBatchIterator,
        iterator_train__shuffle=True,
        cuda_graphs=False,
        bf16=False,
        graph_warmup_steps=3,
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
        self.cuda_graphs = cuda_graphs
        self.bf16 = bf16
        self.graph_warmup_steps = graph_warmup_steps

    def get_dataset(self, X, y=None):
        if is_dataset(X):
            return X
        return TensorDictDataset(X, device=self.device)

    def _set_training(self, training=True):
        # skorch calls this on every batch, and ``Module.train`` walks every
        # submodule each time: measurable per-batch overhead at small batch
        # sizes. Only modules whose mode differs are switched.
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One pass over ``iterator``, as skorch's, with one host sync per epoch.

        skorch records every batch's loss with ``loss.item()``, which makes
        the host wait for the device after each batch: on a GPU the next
        batch's kernels cannot be queued while the current ones run. Here
        the losses stay on the device and are written to the history's
        batch rows, in one copy, when the pass ends. Callbacks still get
        each step's loss tensor in ``on_batch_end``.
        """
        if iterator is None:
            return
        rows = self.history[-1]["batches"]
        batch_rows, losses = [], None
        size_hint = len(iterator) if hasattr(iterator, "__len__") else 64
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses = _store(losses, len(batch_rows), step["loss"].detach(), size_hint)
            batch_rows.append(rows[-1])
            self.history.record_batch(prefix + "_batch_size", _batch_len(batch))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        if batch_rows:
            for row, loss in zip(batch_rows, losses[: len(batch_rows)].tolist()):
                row[prefix + "_loss"] = loss
        self.history.record(prefix + "_batch_count", len(batch_rows))

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, _ = unpack_data(batch)
        output = self.infer(Xi, **fit_params)
        loss = self.get_loss(output, None, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": output}

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        Xi, _ = unpack_data(batch)
        with torch.no_grad():
            output = self.infer(Xi, **fit_params)
            loss = self.get_loss(output, None, X=Xi, training=False)
        return {"loss": loss, "y_pred": output}

    def get_loss(self, y_pred, y_true=None, X=None, training=False):
        return self.criterion_(y_pred)

    def infer(self, x, **fit_params):
        with self._autocast():
            return super().infer(x, **fit_params)

    def _autocast(self, cache_enabled=True):
        if not self.bf16:
            return contextlib.nullcontext()
        device_type = torch.device(self.device).type
        return torch.autocast(device_type, dtype=torch.bfloat16, cache_enabled=cache_enabled)

    # -- CUDA graph of the training step -------------------------------------
    # One graph per fit, for the full batch shape; freed when training ends.

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._graph = None
        self._graph_warmups_done = 0
        self.n_graph_replays_ = 0

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        self._release_graph()

    def _release_graph(self):
        for name in _TRAIN_GRAPH:
            self.__dict__.pop(name, None)

    def __getstate__(self):
        # CUDA graphs hold device memory and cannot be pickled; they are
        # captured again when needed.
        state = super().__getstate__()
        for name in (*_TRAIN_GRAPH, "_encode_graph"):
            state.pop(name, None)
        return state

    def train_step(self, batch, **fit_params):
        Xi, _ = unpack_data(batch)
        if not self._graph_applies(Xi, fit_params):
            step = super().train_step(batch, **fit_params)
            return self._without_autograd(step) if self.cuda_graphs else step
        if self._graph_warmups_done < self.graph_warmup_steps:
            # Warm-up steps run on a side stream so the capture that follows
            # sees settled allocator and library state.
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                step = super().train_step(batch, **fit_params)
            torch.cuda.current_stream().wait_stream(side)
            self._graph_warmups_done += 1
            return self._without_autograd(step)
        if self._graph is None:
            self._capture_train_step(Xi)
        for name, x in Xi.items():
            self._graph_inputs[name].copy_(x)
        self._graph.replay()
        self.n_graph_replays_ += 1
        # The static loss: run_single_epoch copies it into its buffer in stream
        # order, before the next replay overwrites it (callbacks see it as
        # it is after this step).
        return {"loss": self._graph_loss, "y_pred": None}

    @staticmethod
    def _without_autograd(step):
        # skorch keeps the last step alive while the next one runs; a loss
        # still tied to its autograd graph would keep that step's gradient
        # accumulators (and their CUDA stream) alive into the capture or the
        # replays, which torch warns about. Graph mode gives callbacks no
        # y_pred anyway.
        return {"loss": step["loss"].detach(), "y_pred": None}

    def _graph_applies(self, Xi, fit_params):
        if not self.cuda_graphs or fit_params:
            return False
        rows = len(next(iter(Xi.values())))
        return rows == self.batch_size and torch.device(self.device).type == "cuda"

    def _capture_train_step(self, Xi):
        self._set_training(True)
        self._graph_inputs = {name: x.clone() for name, x in Xi.items()}
        # Gradients are allocated inside the capture, from the graph's pool;
        # backward then writes (not accumulates) them on every replay.
        self.optimizer_.zero_grad(set_to_none=True)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            with self._autocast(cache_enabled=False):
                output = self.module_(**self._graph_inputs)
            loss = self.criterion_(output)
            loss.backward()
            self.optimizer_.step()
        # The static loss shares memory with the captured one; detached, it
        # does not keep the capture's autograd graph alive.
        self._graph_loss = loss.detach()

    def _inference_batches(self, X, batch_size=None):
        """Batches of X for inference, in order, in the module's eval mode.

        Of ``iterator_valid``'s batch size, or of ``batch_size`` if given.
        """
        self._set_training(False)
        dataset = self.get_dataset(X)
        if batch_size is None:
            iterator = self.get_iterator(dataset, training=False)
        else:
            kwargs = {**self.get_params_for("iterator_valid"), "batch_size": batch_size}
            iterator = self.iterator_valid(dataset, **kwargs)
        for batch in iterator:
            yield unpack_data(batch)[0]

    def encode(self, X):
        """Codes of X (a dict of modality arrays) as a float32 ndarray.

        Runs only the encoders and the fusion, under ``torch.inference_mode``;
        with ``cuda_graphs`` on CUDA, full batches replay one captured graph.
        """
        full = self.get_params_for("iterator_valid").get("batch_size", self.batch_size)
        with torch.inference_mode(), self._autocast():
            codes = [self._encode_batch(Xi, full) for Xi in self._inference_batches(X)]
        return torch.cat(codes).float().cpu().numpy()

    # -- CUDA graph of the encode step -----------------------------------------
    # Kept between calls while the module and the batch's layout stay the
    # same: the graph reads the parameters in place, so training (which
    # updates them in place) does not stale it, but a new module does.

    def initialize_module(self):
        self.__dict__.pop("_encode_graph", None)  # it reads the old module's weights
        return super().initialize_module()

    def _encode_batch(self, Xi, full_rows):
        if not self._encode_graph_applies(Xi, full_rows):
            return self.module_.encode(**Xi)
        layout = tuple((name, tuple(x.shape), x.dtype) for name, x in Xi.items())
        cached = self.__dict__.get("_encode_graph")
        if cached is None or cached["module"] is not self.module_ or cached["layout"] != layout:
            cached = self._capture_encode(Xi, layout)
        for name, x in Xi.items():
            cached["inputs"][name].copy_(x)
        cached["graph"].replay()
        return cached["code"].clone()  # the next replay overwrites the static code

    def _encode_graph_applies(self, Xi, full_rows):
        # Only full batches: the last partial one runs eagerly.
        if not self.cuda_graphs or torch.device(self.device).type != "cuda":
            return False
        rows = len(next(iter(Xi.values())))
        return rows == full_rows and all(torch.is_tensor(x) and x.is_cuda for x in Xi.values())

    def _capture_encode(self, Xi, layout):
        self.__dict__.pop("_encode_graph", None)  # free the old graph's memory first
        inputs = {name: x.clone() for name, x in Xi.items()}
        side = torch.cuda.Stream()  # one eager warm-up, as for the train step
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.module_.encode(**inputs)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), self._autocast(cache_enabled=False):
            code = self.module_.encode(**inputs)
        self._encode_graph = {
            "module": self.module_, "layout": layout, "graph": graph, "inputs": inputs, "code": code,
        }
        return self._encode_graph

    def encode_with_logvar(self, X):
        """Codes of X and their log variances, as float32 ndarrays."""
        means, logvars = [], []
        with torch.inference_mode(), self._autocast():
            for Xi in self._inference_batches(X):
                mean, logvar = self.module_.encode_with_logvar(**Xi)
                means.append(mean)
                logvars.append(logvar)
        return _to_numpy(torch.cat(means)), _to_numpy(torch.cat(logvars))

    def decode(self, Z):
        """Reconstructions in original units of codes ``Z``, per modality.

        Raises :class:`NonFiniteOutput` where a reconstruction is not finite
        in model units (checked there because some kinds turn values into
        labels or ids, which would hide it).
        """
        module = self.module_
        parts, bad = {}, {}
        with torch.inference_mode(), self._autocast():
            for Zi in self._inference_batches({"code": Z}):
                for name, values in module.decode(Zi["code"]).items():
                    bad.setdefault(name, []).append(_nonfinite_rows(values))
                    parts.setdefault(name, []).append(module.scalers[name].inverse(values))
        _raise_nonfinite(bad)
        return {name: _to_numpy(torch.cat(chunks)) for name, chunks in parts.items()}

    def predict_modality(self, X, name, refine_steps=0):
        """Modality ``name`` in original units, predicted from the other modalities in X.

        X lacks ``name``. The prediction is the cross-modal read-out of the
        others' code; with ``refine_steps``, averaged with the reconstruction
        of ``name`` from that code refined to reconstruct the others
        (:func:`~skmmae._refine.refine_codes`), in batches of
        :data:`REFINE_ROWS` samples.
        """
        module = self.module_
        predictions, bad = [], []
        for batch in self._inference_batches(X, REFINE_ROWS):
            values, present = split_presence(batch)
            with torch.no_grad(), self._autocast():
                targets = module.scale(values)
                code = module.posterior(targets, present).mean.float()
                prediction = module.predict(code, name).float()
            if refine_steps:
                refined = refine_codes(module, self.criterion_, code, targets, present, refine_steps)
                with torch.no_grad():
                    prediction = 0.5 * (prediction + module.decode(refined, [name])[name].float())
            with torch.no_grad():
                bad.append(_nonfinite_rows(prediction))
                predictions.append(module.scalers[name].inverse(prediction))
        _raise_nonfinite({name: bad})
        return _to_numpy(torch.cat(predictions))

    def reconstruction_loss(self, X):
        """The training loss on X in eval mode, as exact means over all of X."""
        losses, kl = self._loss_totals(X)
        return float(self.criterion_.combine(losses, kl))

    def modality_losses(self, X):
        """Each modality's own mean loss on X (unweighted), in eval mode."""
        return self._loss_totals(X)[0]

    def _loss_totals(self, X):
        """Per-modality mean losses over the samples that have each, and the mean KL.

        Sums and counts are accumulated over batches and divided once, so
        the result does not depend on the batch size.
        """
        sums, counts, kl, n = {}, {}, None, 0
        with torch.inference_mode():
            for Xi in self._inference_batches(X):
                output = self.infer(Xi)
                for name, (total, count) in self.criterion_.loss_sums(output).items():
                    sums[name] = sums.get(name, 0.0) + total.item()
                    counts[name] = counts.get(name, 0.0) + count.item()
                batch_kl = self.criterion_.kl_sum(output)
                if batch_kl is not None:
                    kl = (kl or 0.0) + batch_kl.item()
                n += len(output.code)
        losses = {name: sums[name] / max(counts[name], 1.0) for name in sums}
        return losses, None if kl is None else kl / n


def _store(buffer, i, loss, size_hint):
    """Write ``loss`` to ``buffer[i]``, on the loss's device; make or grow the buffer.

    One float32 buffer per pass rather than a list of scalar tensors: many
    small tensors kept between the batches' large ones fragment the host
    heap (measured: about 3 MiB more peak RSS over a 20-batch CPU fit).
    """
    if buffer is None or i == len(buffer):
        grown = loss.new_empty(max(size_hint, 2 * i, 1), dtype=torch.float32)
        if buffer is not None:
            grown[:i] = buffer
        buffer = grown
    buffer[i] = loss
    return buffer


def _batch_len(batch):
    # No local name for the inputs: it would keep this batch alive while
    # the next one is gathered and trained on.
    return get_len(batch[0] if isinstance(batch, (tuple, list)) else batch)


class NonFiniteOutput(ValueError):
    """Outputs of the net that are not finite, by modality: the caller explains why.

    Parameters
    ----------
    rows : dict of str -> ndarray of bool of shape (n_samples,)
        For each modality with non-finite outputs, the samples that have them.
    """

    def __init__(self, rows):
        self.rows = rows
        counts = ", ".join(f"{name!r}: {int(mask.sum())} rows" for name, mask in rows.items())
        super().__init__(f"The model's outputs are not finite ({counts}).")


def _nonfinite_rows(values):
    """``(n,)`` bool: the rows of ``values`` with a NaN or an infinity (on the device)."""
    return ~torch.isfinite(values.flatten(1)).all(dim=1)


def _raise_nonfinite(bad):
    """Raise :class:`NonFiniteOutput` if any mask in ``{name: [batch masks]}`` is set.

    One host sync for all the batches: the masks stay on the device until here.
    """
    rows = {name: torch.cat(masks).cpu().numpy() for name, masks in bad.items() if masks}
    rows = {name: mask for name, mask in rows.items() if mask.any()}
    if rows:
        raise NonFiniteOutput(rows)


def _to_numpy(tensor):
    # bf16 outputs become float32; class indices and token ids stay int64.
    if tensor.is_floating_point():
        tensor = tensor.float()
    return tensor.cpu().numpy()
