"""The torch model: per-modality encoders, a fusion, per-modality decoders.

This module knows nothing of skorch or sklearn; the modalities supply the
layers and losses, :mod:`skmmae.fusion` supplies the fusion.
"""

from typing import NamedTuple

import torch
from torch import nn

from .fusion import make_fusion

__all__ = ["AutoencoderOutput", "MultimodalAutoencoderModule", "ReconstructionLoss"]


class AutoencoderOutput(NamedTuple):
    """What ``forward`` returns: everything the loss needs, nothing recomputed."""

    code: torch.Tensor
    reconstructions: dict
    targets: dict


class MultimodalAutoencoderModule(nn.Module):
    """Encoders, fusion and decoders for a dict of fitted modalities.

    Parameters
    ----------
    modalities : dict of str -> Modality
        Fitted modalities, in a fixed order.
    encoding_dim : int
        Size of the shared code.
    hidden_dims : sequence of int
        Hidden widths of each encoder; decoders mirror them.
    fusion : str
        A name registered in :data:`skmmae.fusion.FUSIONS`.
    """

    def __init__(self, modalities, encoding_dim, hidden_dims, fusion):
        super().__init__()
        hidden_dims = tuple(hidden_dims)
        self.scalers = nn.ModuleDict({n: m.build_scaler() for n, m in modalities.items()})
        encoders, widths = {}, {}
        for name, modality in modalities.items():
            encoders[name], widths[name] = modality.build_encoder(hidden_dims)
        self.encoders = nn.ModuleDict(encoders)
        self.fusion = make_fusion(fusion, widths, encoding_dim)
        self.decoders = nn.ModuleDict(
            {n: m.build_decoder(encoding_dim, hidden_dims) for n, m in modalities.items()}
        )

    def scale(self, inputs):
        """Original units -> model units, per modality."""
        return {name: self.scalers[name](x) for name, x in inputs.items()}

    def encode_scaled(self, scaled):
        """Code from inputs already in model units."""
        features = {name: self.encoders[name](x) for name, x in scaled.items()}
        return self.fusion(features)

    def encode(self, **inputs):
        """Code from inputs in original units."""
        return self.encode_scaled(self.scale(inputs))

    def decode(self, code):
        """Reconstructions in model units."""
        return {name: decoder(code) for name, decoder in self.decoders.items()}

    def decode_original(self, code):
        """Reconstructions in the units the modalities validated (see ``Modality.validate``)."""
        return {
            name: self.scalers[name].inverse(rec) for name, rec in self.decode(code).items()
        }

    def forward(self, **inputs):
        targets = self.scale(inputs)
        code = self.encode_scaled(targets)
        return AutoencoderOutput(code, self.decode(code), targets)


class ReconstructionLoss(nn.Module):
    """Weighted mean over modalities of each modality's own mean loss.

    With equal weights each modality counts the same, whatever its number
    of features, so a 6-feature view is not drowned by a 240-feature one.

    Parameters
    ----------
    modalities : dict of str -> Modality
        Fitted modalities; each supplies ``loss(output, target)``.
    weights : dict of str -> float or None, default=None
        Relative weight of each modality's loss (normalized to sum to one);
        None weighs all modalities equally.
    """

    def __init__(self, modalities, weights=None):
        super().__init__()
        self.modalities = dict(modalities)
        weights = weights or {name: 1.0 for name in self.modalities}
        total = sum(weights.values())
        self.weights = {name: weights[name] / total for name in self.modalities}

    def per_modality(self, output):
        """Each modality's mean loss (unweighted), as a dict of scalars."""
        # Reduced in float32 even when the forward pass ran under bf16 autocast;
        # integer targets (classes, tokens) stay integers.
        return {
            name: modality.loss(output.reconstructions[name].float(), _float(output.targets[name]))
            for name, modality in self.modalities.items()
        }

    def forward(self, output):
        losses = self.per_modality(output)
        return sum(self.weights[name] * loss for name, loss in losses.items())


def _float(target):
    return target.float() if target.is_floating_point() else target
