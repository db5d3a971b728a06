"""How per-modality features become one shared code.

A fusion is an ``nn.Module`` built from the width of each modality's
encoder output and the code size; its ``forward`` takes a dict of
per-modality features and returns the code. Fusions are chosen by name
through :data:`FUSIONS`, so the estimator never branches on them.
"""

import torch
from torch import nn

__all__ = ["ConcatFusion", "FUSIONS", "MeanFusion", "make_fusion"]


class ConcatFusion(nn.Module):
    """Concatenate the modalities' features and map them to the code.

    Parameters
    ----------
    in_features : dict of str -> int
        Width of each modality's encoder output.
    encoding_dim : int
        Size of the code.

    Examples
    --------
    >>> import torch
    >>> from skmmae.fusion import ConcatFusion
    >>> fusion = ConcatFusion({"a": 3, "b": 2}, encoding_dim=4)
    >>> fusion({"a": torch.ones(5, 3), "b": torch.ones(5, 2)}).shape
    torch.Size([5, 4])
    """

    def __init__(self, in_features, encoding_dim):
        super().__init__()
        self.names = list(in_features)
        self.project = nn.Linear(sum(in_features.values()), encoding_dim)

    def forward(self, features):
        """Fuse a batch of per-modality features into codes.

        Parameters
        ----------
        features : dict of str -> Tensor of shape (n_samples, in_features[name])
            Encoder output of each modality named in ``in_features``.

        Returns
        -------
        Tensor of shape (n_samples, encoding_dim)
            The codes.
        """
        return self.project(torch.cat([features[name] for name in self.names], dim=1))


class MeanFusion(nn.Module):
    """Map each modality to a code of its own and average the codes.

    Parameters
    ----------
    in_features : dict of str -> int
        Width of each modality's encoder output.
    encoding_dim : int
        Size of the code.

    Examples
    --------
    >>> import torch
    >>> from skmmae.fusion import MeanFusion
    >>> fusion = MeanFusion({"a": 3, "b": 2}, encoding_dim=4)
    >>> fusion({"a": torch.ones(5, 3), "b": torch.ones(5, 2)}).shape
    torch.Size([5, 4])
    """

    def __init__(self, in_features, encoding_dim):
        super().__init__()
        self.project = nn.ModuleDict(
            {name: nn.Linear(width, encoding_dim) for name, width in in_features.items()}
        )

    def forward(self, features):
        """Fuse a batch of per-modality features into codes.

        Parameters
        ----------
        features : dict of str -> Tensor of shape (n_samples, in_features[name])
            Encoder output of each modality named in ``in_features``.

        Returns
        -------
        Tensor of shape (n_samples, encoding_dim)
            The mean of the per-modality codes.
        """
        codes = [project(features[name]) for name, project in self.project.items()]
        return torch.stack(codes).mean(dim=0)


#: Fusion name -> class, as accepted by ``MultimodalAutoencoder(fusion=...)``.
FUSIONS = {"concat": ConcatFusion, "mean": MeanFusion}


def make_fusion(name, in_features, encoding_dim):
    """Build the fusion registered as ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`FUSIONS`.
    in_features : dict of str -> int
        Width of each modality's encoder output.
    encoding_dim : int
        Size of the code.

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> from skmmae.fusion import make_fusion
    >>> type(make_fusion("mean", {"a": 3}, 2)).__name__
    'MeanFusion'
    """
    return FUSIONS[name](in_features, encoding_dim)
