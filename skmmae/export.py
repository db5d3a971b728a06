"""Export a fitted model's encoder or decoder to ONNX, for serving without torch.

:func:`export_onnx` writes the encoders and the fusion (``part="encoder"``:
modalities in, codes out) or the read-out (``part="decoder"``: codes in,
each modality out) of a fitted :class:`~skmmae.MultimodalAutoencoder` as an
ONNX graph with a dynamic batch size, which ``onnxruntime`` runs.

The graph's inputs and outputs are the arrays the model computes with, one
per modality, named by the modality:

- continuous data, images, clips and time series: float32 values in the
  user's units (the graph standardizes them, and un-standardizes its
  outputs);
- binary data: float32 0/1;
- categories and tokens: int64 class indices and token ids, as
  ``Modality.validate`` gives them (the decoder gives them back the same way;
  ``Modality.restore`` turns indices into labels).

Counts (scipy sparse input) do not export. The encoder takes every
modality it was exported with for every sample; export it with
``modalities=[...]`` to take a subset. Needs ``onnx`` (and ``onnxruntime`` to
run the graph), the optional extra ``skmmae[onnx]``.
"""

import warnings

import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

__all__ = ["export_onnx"]


class _Encoder(nn.Module):
    def __init__(self, module, names):
        super().__init__()
        self.module, self.names = module, names

    def forward(self, *values):
        return self.module.encode(**dict(zip(self.names, values)))


class _Decoder(nn.Module):
    def __init__(self, module, readout, names):
        super().__init__()
        self.module, self.readout, self.names = module, readout, names

    def forward(self, code):
        reconstructions = self.readout.reconstruct(self.module, code, self.names)
        return tuple(self.module.scalers[name].inverse(reconstructions[name]) for name in self.names)


def export_onnx(estimator, path, part="encoder", modalities=None, opset_version=17):
    """Write the encoder (modalities -> codes) or the decoder (codes -> modalities) as ONNX.

    Parameters
    ----------
    estimator : MultimodalAutoencoder
        A fitted estimator.
    path : str or path-like
        The ``.onnx`` file to write.
    part : {"encoder", "decoder"}, default="encoder"
        Which half of the model.
    modalities : list of str or None, default=None
        The modalities the encoder takes, or the decoder gives; None: all.
    opset_version : int, default=17
        The ONNX operator set.

    Returns
    -------
    path : str
        Where the graph was written.

    Raises
    ------
    ValueError
        For a modality whose kind does not export (counts), an unknown
        modality, or another ``part``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> import onnxruntime
    >>> from skmmae import MultimodalAutoencoder
    >>> X = {"a": np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)}
    >>> ae = MultimodalAutoencoder(2, max_epochs=2, random_state=0).fit(X)
    >>> path = ae.export_onnx(os.path.join(tempfile.mkdtemp(), "encoder.onnx"))
    >>> codes = onnxruntime.InferenceSession(path).run(None, X)[0]
    >>> bool(np.abs(codes - ae.transform(X)).max() < 1e-5)
    True
    """
    check_is_fitted(estimator)
    if part not in ("encoder", "decoder"):
        raise ValueError(f"part must be 'encoder' or 'decoder'; got {part!r}.")
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError as error:
        raise ImportError(
            "ONNX export needs onnx, an optional extra: pip install 'skmmae[onnx]'."
        ) from error
    names = _modalities(estimator, modalities)
    if part == "encoder" and estimator.net_.module_.aligner is not None:
        raise ValueError(
            "export_onnx: the encoder of a model fitted with lags aligns its series through "
            "FFTs, which this export does not cover yet; export the decoder, or save the "
            "model (save) instead."
        )
    module = estimator.net_.module_.eval().to("cpu")
    try:
        if part == "encoder":
            wrapper = _Encoder(module, names)
            example = tuple(estimator.modalities_[name]._example_batch() for name in names)
            inputs, outputs = names, ["code"]
        else:
            wrapper = _Decoder(module, estimator.readout_, names)
            example = (torch.zeros(2, estimator.encoding_dim),)
            inputs, outputs = ["code"], names
        axes = {name: {0: "n_samples"} for name in inputs + outputs}
        with warnings.catch_warnings(), torch.no_grad():
            # The TorchScript exporter: torch.export cannot yet trace the
            # encoders' dict of modalities (measured on torch 2.13).
            warnings.simplefilter("ignore", DeprecationWarning)
            # Checked by the tests instead: the GRU runs at any batch size, and
            # no index is negative.
            warnings.filterwarnings("ignore", "Exporting a model to ONNX with a batch_size")
            warnings.filterwarnings("ignore", "Exporting aten::index operator")
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module="torch.nn.modules.rnn")
            torch.onnx.export(
                wrapper, example, str(path), input_names=inputs, output_names=outputs,
                dynamic_axes=axes, opset_version=opset_version, dynamo=False,
            )
    finally:
        estimator.net_.module_.to(estimator.device_)
    return str(path)


def _modalities(estimator, modalities):
    fitted = list(estimator.modalities_)
    names = fitted if modalities is None else list(modalities)
    unknown = [name for name in names if name not in fitted]
    if unknown:
        raise ValueError(f"export_onnx: {unknown} are not fitted modalities; they are {fitted}.")
    for name in names:
        if estimator.modalities_[name].kind == "counts":
            raise ValueError(
                f"export_onnx: Modality {name!r} holds counts, read from scipy sparse "
                "rows, which do not export to ONNX; export the other modalities "
                "(modalities=[...])."
            )
    return names

