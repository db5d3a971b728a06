"""Inference passes over a trained net: eval-mode batches in, host arrays out.

The estimator's ``transform``, ``inverse_transform``, ``predict_modality``
and ``score`` each run one of these passes over the skorch net
(:class:`skmmae._net.MultimodalNet`), which itself only trains. Every pass
works in batches of the net's ``iterator_valid``, in the module's eval mode,
without autograd, and leaves its results on the device until the end: one
copy to the host per call.

Outputs (codes, reconstructions, predictions) are checked here only, on
the device, with one host sync per pass: where one is not finite, the pass
raises :class:`NonFiniteOutput` with the rows, and the estimator explains
why.
"""

import torch
from skorch.dataset import unpack_data

from ._module import split_presence

__all__ = [
    "NonFiniteOutput",
    "batches",
    "cross_prediction",
    "decode",
    "encode",
    "encode_with_logvar",
    "estimate_lags",
    "eval_mode",
    "loss_totals",
    "predict",
    "to_numpy",
]


def eval_mode(net):
    """Put the net's module and criterion in eval mode (only if they are not)."""
    for module in (net.module_, net.criterion_):
        if module.training:
            module.eval()


def batches(net, dataset, batch_size=None):
    """The batches of ``dataset`` in order, as dicts of tensors, in eval mode.

    Of ``iterator_valid``'s batch size, or of ``batch_size`` if given.
    """
    eval_mode(net)
    dataset = net.get_dataset(dataset)
    if batch_size is None:
        iterator = net.get_iterator(dataset, training=False)
    else:
        kwargs = {**net.get_params_for("iterator_valid"), "batch_size": batch_size}
        iterator = net.iterator_valid(dataset, **kwargs)
    # A captured CUDA graph keeps the path it was captured with: it always
    # looks for missing cells.
    complete = getattr(dataset, "complete", False) and net.cuda_graphs is None
    with net.module_.complete_inputs(complete):
        for batch in iterator:
            yield unpack_data(batch)[0]


def encode(net, dataset):
    """Codes (posterior means) of ``dataset`` as a float32 ndarray.

    Runs only the encoders and the fusion; with the net's
    :class:`~skmmae._cuda_graphs.CudaGraphs`, full batches replay one
    captured graph. Raises :class:`NonFiniteOutput` (under ``"code"``)
    where a code is not finite.
    """
    graphs = net.cuda_graphs
    full = net.get_params_for("iterator_valid").get("batch_size", net.batch_size)
    codes = []
    with torch.inference_mode(), net.autocast():
        for Xi in batches(net, dataset):
            codes.append(net.module_.encode(**Xi) if graphs is None else graphs.encode(net, Xi, full))
        codes = torch.cat(codes)
        _check_codes(codes)
    return to_numpy(codes)


def encode_with_logvar(net, dataset):
    """Codes of ``dataset`` and their log variances, as float32 ndarrays.

    Raises :class:`NonFiniteOutput` (under ``"code"``) where a code is not finite.
    """
    means, logvars = [], []
    with torch.inference_mode(), net.autocast():
        for Xi in batches(net, dataset):
            mean, logvar = net.module_.encode_with_logvar(**Xi)
            means.append(mean)
            logvars.append(logvar)
        means = torch.cat(means)
        _check_codes(means)
    return to_numpy(means), to_numpy(torch.cat(logvars))


def decode(net, codes, reconstruct):
    """Reconstructions in original units of ``codes``, per modality.

    ``reconstruct(code)`` gives every modality in model units from a batch
    of codes. Raises :class:`NonFiniteOutput` where a reconstruction is not
    finite in model units (checked there because some kinds turn values
    into labels or ids, which would hide it).
    """
    scalers = net.module_.scalers
    parts, bad = {}, {}
    with torch.inference_mode(), net.autocast():
        for Zi in batches(net, {"code": codes}):
            for name, values in reconstruct(Zi["code"]).items():
                bad.setdefault(name, []).append(_nonfinite_rows(values))
                parts.setdefault(name, []).append(scalers[name].inverse(values))
    _raise_nonfinite(bad)
    return {name: to_numpy(torch.cat(chunks)) for name, chunks in parts.items()}


def predict(net, dataset, name, prediction, batch_size):
    """Modality ``name`` in original units, from the other modalities in ``dataset``.

    ``prediction(batch)`` gives ``name`` in model units from a batch of the
    others (it may use autograd, e.g. to refine codes). Batches are of
    ``batch_size`` rows. Raises :class:`NonFiniteOutput` where a prediction
    is not finite.
    """
    scaler = net.module_.scalers[name]
    predictions, bad = [], []
    for batch in batches(net, dataset, batch_size):
        values = prediction(batch).float()
        with torch.no_grad():
            bad.append(_nonfinite_rows(values))
            predictions.append(scaler.inverse(values))
    _raise_nonfinite({name: bad})
    return to_numpy(torch.cat(predictions))


def estimate_lags(net, dataset):
    """Each aligned series' lags behind the reference, as ``(n,)`` float32 ndarrays.

    In reference steps; NaN where a sample lacks either series.
    """
    parts = {}
    with torch.inference_mode():
        for Xi in batches(net, dataset):
            for name, lags in net.module_.estimate_lags(**Xi).items():
                parts.setdefault(name, []).append(lags)
    return {name: to_numpy(torch.cat(chunks)) for name, chunks in parts.items()}


def cross_prediction(net, readout, target, refinement=None, code_scale=None):
    """The batch function of ``predict_modality``: the other modalities -> ``target``.

    It gives ``target`` in model units: the read-out's prediction from the
    code of the others; with a :class:`~skmmae.refine.CodeRefinement`,
    averaged with the read-out's reconstruction of ``target`` from that code
    refined to explain the others best (``code_scale`` is its unit).
    """
    module = net.module_

    def prediction(batch):
        values, present = split_presence(batch)
        with torch.no_grad(), net.autocast():
            targets = module.targets(values, present)
            code, side_by_side = module.codes_of_given(targets, present, target)
            code = code.float()
            predicted = readout.predict(module, code, target, side_by_side.float()).float()
        if refinement is None:
            return predicted
        loss = net.criterion_.summed_loss(
            lambda c: readout.reconstruct(module, c, list(targets)), targets, present
        )
        refined = refinement.refine(code, loss, code_scale)
        with torch.no_grad():
            from_refined = readout.reconstruct(module, refined, [target])[target]
            return 0.5 * (predicted + from_refined.float())

    return prediction


def loss_totals(net, dataset, reconstruct=None):
    """Per-modality mean losses over the samples that have each, and the mean KL (or None).

    In eval mode, with the reconstructions of ``reconstruct(code)`` (by
    default, the decoders'). Sums and counts are accumulated over batches
    and divided once, so the result does not depend on the batch size.
    """
    criterion = net.criterion_
    sums, counts, kl, n = {}, {}, None, 0
    with torch.inference_mode():
        for Xi in batches(net, dataset):
            with net.autocast():
                output = net.module_.evaluate(Xi, reconstruct)
            for name, (total, count) in criterion.loss_sums(output).items():
                sums[name] = sums.get(name, 0.0) + total.item()
                counts[name] = counts.get(name, 0.0) + count.item()
            batch_kl = criterion.kl_sum(output)
            if batch_kl is not None:
                kl = (kl or 0.0) + batch_kl.item()
            n += len(output.code)
    losses = {name: sums[name] / max(counts[name], 1.0) for name in sums}
    return losses, None if kl is None else kl / n


class NonFiniteOutput(ValueError):
    """Outputs of the model that are not finite, by modality: the caller explains why.

    Parameters
    ----------
    rows : dict of str -> ndarray of bool of shape (n_samples,)
        For each modality with non-finite outputs, the samples that have them.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae._inference import NonFiniteOutput
    >>> str(NonFiniteOutput({"a": np.array([True, False, True])}))
    "The model's outputs are not finite ('a': 2 rows)."
    """

    def __init__(self, rows):
        self.rows = rows
        counts = ", ".join(f"{name!r}: {int(mask.sum())} rows" for name, mask in rows.items())
        super().__init__(f"The model's outputs are not finite ({counts}).")


def _check_codes(codes):
    """Raise :class:`NonFiniteOutput` (under ``"code"``) if a code is not finite.

    One reduction over all the codes at once: per-batch row masks cost more
    than the encoders of small models on the CPU.
    """
    if not bool(torch.isfinite(codes).all()):
        raise NonFiniteOutput({"code": _nonfinite_rows(codes).cpu().numpy()})


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


def to_numpy(tensor):
    """A tensor on the host as an ndarray: bf16 becomes float32; ids and labels stay int64."""
    if tensor.is_floating_point():
        tensor = tensor.float()
    return tensor.cpu().numpy()
