"""How per-modality features become one shared code, with modalities missing.

A fusion is an ``nn.Module`` built from the width of each modality's
encoder output, the code size and whether the model is variational. Its
``forward(features, present)`` takes

- ``features``: a dict name -> ``(n, width)`` tensor for the modalities given
  in the batch (a modality absent from it is missing in every sample), and
- ``present``: a dict name -> ``(n,)`` float tensor of 1 (has the modality)
  and 0 (lacks it), for the given modalities that lack some rows (a name
  absent from it is present in every sample),

and returns a :class:`Posterior`: the code (a Gaussian's mean), its log
variance where the fusion has one, and the experts to decode one by one for
the mixture of experts. ``fuse_each(features, presences)`` fuses the same
features under several presence dicts at once (the cross-modal loss fuses
the others of each modality in turn); fusions that map each modality on
its own map it once for all of them. Fusions never look at what kind of
data produced the features, and missing modalities never enter a code: no
imputation by zeros. Fusions are chosen by name through :data:`FUSIONS`, so the estimator
never branches on them.
"""

from typing import NamedTuple

import torch
from torch import nn

from ._docstrings import fill_doc
from ._modality_dict import ModalityDict

__all__ = [
    "ConcatFusion",
    "FUSIONS",
    "MeanFusion",
    "MixtureOfExperts",
    "Posterior",
    "ProductOfExperts",
    "SharedPrivateFusion",
    "make_fusion",
]

# Log variances are kept in a range where exp() is safe in float32.
_LOGVAR_RANGE = (-12.0, 12.0)


class Posterior(NamedTuple):
    """A batch of codes as Gaussians.

    Attributes
    ----------
    mean : Tensor of shape (n_samples, encoding_dim)
        The code of each sample (what ``transform`` returns).
    logvar : Tensor of shape (n_samples, encoding_dim) or None
        Log variance around ``mean``; None for a deterministic fusion.
    experts : tuple of (mean, logvar, weight) or None
        For the mixture of experts only: each modality's own Gaussian and its
        ``(n,)`` weight in the mixture (0 where the modality is missing), so
        that training decodes each expert's code separately.

    Examples
    --------
    Every fusion returns one; a product of experts gives a log variance
    and no separate experts:

    >>> import torch
    >>> from skmmae.fusion import ProductOfExperts
    >>> fusion = ProductOfExperts({"a": 3, "b": 2}, encoding_dim=4)
    >>> posterior = fusion({"a": torch.ones(5, 3), "b": torch.ones(5, 2)}, {})
    >>> posterior.mean.shape, posterior.logvar.shape, posterior.experts
    (torch.Size([5, 4]), torch.Size([5, 4]), None)
    """

    mean: torch.Tensor
    logvar: torch.Tensor = None
    experts: tuple = None


class _Fusion(nn.Module):
    """What all fusions share: sizes, and presence masks as weights."""

    def __init__(self, in_features, encoding_dim, variational=False):
        super().__init__()
        self.names = list(in_features)
        self.encoding_dim = encoding_dim
        self.variational = variational

    def _weights(self, features, present):
        """The given modalities' names and their ``(n, M)`` presence weights.

        The weights are None when every sample has every given modality: the
        common case then costs no extra kernels.
        """
        names = [name for name in self.names if name in features]
        if not any(name in present for name in names):
            return names, None
        like = features[names[0]]
        columns = [
            present[name].to(like.dtype) if name in present else like.new_ones(len(like))
            for name in names
        ]
        return names, torch.stack(columns, dim=1)

    def fuse_each(self, features, presences):
        """The fusion of ``features`` under each of several presence dicts.

        Parameters
        ----------
        features : dict of str -> Tensor
            As for ``forward``.
        presences : list of dict of str -> Tensor
            Presence masks, as ``forward``'s ``present``, one dict per fusion.

        Returns
        -------
        list of Posterior
            One per dict of ``presences``, as ``forward`` gives it.

        Examples
        --------
        >>> import torch
        >>> from skmmae.fusion import MeanFusion
        >>> fusion = MeanFusion({"a": 3, "b": 2}, encoding_dim=4)
        >>> features = {"a": torch.randn(5, 3), "b": torch.randn(5, 2)}
        >>> only_b = {"a": torch.zeros(5), "b": torch.ones(5)}
        >>> both, alone = fusion.fuse_each(features, [{}, only_b])
        >>> bool(torch.allclose(alone.mean, fusion.project["b"](features["b"])))
        True
        """
        return [self(features, present) for present in presences]


class _ExpertFusion(_Fusion):
    """A fusion that maps each modality on its own, then combines the present ones.

    Subclasses give ``_experts(features, names)``, each given modality's
    statistics (an ``(n, M, k)`` tensor, or a dict by name where the
    combination needs to know which modality is which), and
    ``_combine(experts, weights)``, the
    :class:`Posterior` from them and the ``(n, M)`` presence weights (or
    None). A modality's statistics do not depend on which others are present,
    so :meth:`fuse_each` maps each modality once for all of its fusions (the
    cross-modal loss fuses the others of every modality in turn).
    """

    def forward(self, features, present):
        """Fuse a batch; see the module docstring for the arguments."""
        names, weights = self._weights(features, present)
        return self._combine(self._experts(features, names), weights)

    def fuse_each(self, features, presences):
        names = [name for name in self.names if name in features]
        experts = self._experts(features, names)
        weights = (self._weights(features, present)[1] for present in presences)
        return [self._combine(experts, w) for w in weights]


def _heads(in_features, encoding_dim, outputs):
    """One linear map per modality from its features to ``outputs * encoding_dim``."""
    return ModalityDict(
        {name: nn.Linear(width, outputs * encoding_dim) for name, width in in_features.items()}
    )


def _split(stats, encoding_dim):
    """``(..., 2d)`` -> mean, clamped log variance."""
    mean, logvar = stats[..., :encoding_dim], stats[..., encoding_dim:]
    return mean, logvar.clamp(*_LOGVAR_RANGE)


def _weighted_mean(values, weights):
    """Mean over modalities of ``(n, M, d)`` values, weighted by ``(n, M)`` (None: equally)."""
    if weights is None:
        return values.mean(dim=1)
    total = weights.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return (values * weights[..., None]).sum(dim=1) / total


@fill_doc
class ConcatFusion(_Fusion):
    """Concatenate the modalities' features and map them to the code.

    A missing modality's features are replaced by a learned placeholder
    vector of its own (one per modality, trained with the rest), so the
    joint layer always sees a full input; only that vector, never the
    missing values, enters the code.

    Parameters
    ----------
    %(fusion_sizes)s
    variational : bool, default=False
        Also output a log variance per code dimension.

    Examples
    --------
    >>> import torch
    >>> from skmmae.fusion import ConcatFusion
    >>> fusion = ConcatFusion({"a": 3, "b": 2}, encoding_dim=4)
    >>> fusion({"a": torch.ones(5, 3), "b": torch.ones(5, 2)}, {}).mean.shape
    torch.Size([5, 4])
    >>> fusion({"a": torch.ones(5, 3)}, {}).mean.shape  # "b" missing everywhere
    torch.Size([5, 4])
    """

    def __init__(self, in_features, encoding_dim, variational=False):
        super().__init__(in_features, encoding_dim, variational)
        # In the order of ``names`` (a list, since any string is a modality
        # name and torch refuses some as parameter names).
        self.placeholders = nn.ModuleList([Placeholder(width) for width in in_features.values()])
        outputs = 2 if variational else 1
        self.project = nn.Linear(sum(in_features.values()), outputs * encoding_dim)

    def forward(self, features, present):
        """Fuse a batch; see the module docstring for the arguments."""
        like = next(iter(features.values()))
        parts = []
        for name, placeholder in zip(self.names, self.placeholders):
            if name not in features:
                parts.append(placeholder(like.new_zeros(len(like), 1)))
            elif name in present:
                keep = present[name].to(like.dtype)[:, None]
                parts.append(keep * features[name] + placeholder(keep))
            else:
                parts.append(features[name])
        stats = self.project(torch.cat(parts, dim=1))
        if not self.variational:
            return Posterior(stats)
        return Posterior(*_split(stats, self.encoding_dim))


class Placeholder(nn.Module):
    """A learned vector standing in for a missing modality's features.

    ``forward(keep)`` returns ``(1 - keep) * weight``: the vector where
    ``keep`` (a ``(n, 1)`` float 0/1 mask) is 0, zeros where it is 1. A
    layer of its own, so that private training can give it per-sample
    gradients (:mod:`skmmae.privacy`).

    Parameters
    ----------
    width : int
        The width of the features it stands in for.
    """

    def __init__(self, width):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(width))

    def forward(self, keep):
        return (1 - keep) * self.weight.to(keep.dtype)


@fill_doc
class MeanFusion(_ExpertFusion):
    """Map each modality to a code of its own; average over the present ones.

    Parameters
    ----------
    %(fusion_sizes)s
    variational : bool, default=False
        Each modality also gives a log variance; they are averaged too.

    Examples
    --------
    >>> import torch
    >>> from skmmae.fusion import MeanFusion
    >>> fusion = MeanFusion({"a": 3, "b": 2}, encoding_dim=4)
    >>> code = fusion({"a": torch.ones(5, 3), "b": torch.ones(5, 2)}, {}).mean
    >>> code.shape
    torch.Size([5, 4])
    >>> alone = fusion({"a": torch.ones(5, 3)}, {}).mean
    >>> bool(torch.allclose(alone, fusion.project["a"](torch.ones(5, 3))))
    True
    """

    def __init__(self, in_features, encoding_dim, variational=False):
        super().__init__(in_features, encoding_dim, variational)
        self.project = _heads(in_features, encoding_dim, 2 if variational else 1)

    def _experts(self, features, names):
        return torch.stack([self.project[name](features[name]) for name in names], dim=1)

    def _combine(self, experts, weights):
        fused = _weighted_mean(experts, weights)
        if not self.variational:
            return Posterior(fused)
        return Posterior(*_split(fused, self.encoding_dim))


@fill_doc
class ProductOfExperts(_ExpertFusion):
    """Gaussian experts, one per present modality, multiplied with a N(0, I) prior.

    Each modality gives a mean and a log variance; the product of Gaussians
    has precision ``1 + sum of the experts' precisions`` and the
    precision-weighted mean of the experts' means (the prior's mean is 0).
    A missing modality's expert gets zero precision: it drops out exactly.
    Without ``variational`` the code is the product's mean.

    Parameters
    ----------
    %(fusion_sizes)s
    variational : bool, default=False
        Whether the product's log variance is used (sampling, KL term).

    References
    ----------
    M. Wu and N. Goodman, "Multimodal Generative Models for Scalable
    Weakly-Supervised Learning", NeurIPS 2018 (the product of experts with a
    prior expert).

    Examples
    --------
    >>> import torch
    >>> from skmmae.fusion import ProductOfExperts
    >>> fusion = ProductOfExperts({"a": 3, "b": 2}, encoding_dim=4, variational=True)
    >>> both = fusion({"a": torch.ones(5, 3), "b": torch.ones(5, 2)}, {})
    >>> only_a = fusion({"a": torch.ones(5, 3)}, {})
    >>> both.mean.shape, bool((both.logvar <= only_a.logvar).all())  # more experts, less doubt
    (torch.Size([5, 4]), True)
    """

    def __init__(self, in_features, encoding_dim, variational=False):
        super().__init__(in_features, encoding_dim, variational)
        self.project = _heads(in_features, encoding_dim, 2)

    def _experts(self, features, names):
        # Computed in float32 even under bf16 autocast: precisions span decades.
        return torch.stack([self.project[name](features[name]).float() for name in names], dim=1)

    def _combine(self, experts, weights):
        means, logvars = _split(experts, self.encoding_dim)
        precision = torch.exp(-logvars)
        if weights is not None:
            precision = precision * weights.float()[..., None]
        total = 1.0 + precision.sum(dim=1)  # the prior expert has precision 1
        mean = (precision * means).sum(dim=1) / total
        return Posterior(mean, -torch.log(total))


@fill_doc
class MixtureOfExperts(_Fusion):
    """Gaussian experts, one per present modality, mixed with equal weights.

    The code is the mixture's mean, the average of the present experts'
    means. Training decodes each present expert's code on its own and
    averages the losses (see :class:`Posterior`), so every modality's
    encoder learns to reconstruct all modalities by itself: the code from
    any subset stays good.

    Parameters
    ----------
    %(fusion_sizes)s
    variational : bool, default=False
        Whether the experts' log variances are used (sampling, KL term);
        the mixture's variance is returned either way.

    References
    ----------
    Y. Shi, N. Siddharth, B. Paige and P. H. S. Torr, "Variational
    Mixture-of-Experts Autoencoders for Multi-Modal Deep Generative Models",
    NeurIPS 2019 (each expert decoded on its own).

    Examples
    --------
    >>> import torch
    >>> from skmmae.fusion import MixtureOfExperts
    >>> fusion = MixtureOfExperts({"a": 3, "b": 2}, encoding_dim=4)
    >>> posterior = fusion({"a": torch.ones(5, 3), "b": torch.ones(5, 2)}, {})
    >>> posterior.mean.shape, len(posterior.experts)
    (torch.Size([5, 4]), 2)
    """

    def __init__(self, in_features, encoding_dim, variational=False):
        super().__init__(in_features, encoding_dim, variational)
        self.project = _heads(in_features, encoding_dim, 2)

    def forward(self, features, present):
        """Fuse a batch; see the module docstring for the arguments."""
        names, weights = self._weights(features, present)
        stats = [_split(self.project[name](features[name]), self.encoding_dim) for name in names]
        if weights is None:
            weights = stats[0][0].new_ones(len(stats[0][0]), len(names))
        weights = weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-12)
        means = torch.stack([mean for mean, _ in stats], dim=1)
        variances = torch.stack([torch.exp(logvar) for _, logvar in stats], dim=1)
        mean = _weighted_mean(means, weights)
        # Variance of the mixture: E[var + mean^2] - mean^2.
        second_moment = _weighted_mean(variances + means**2, weights)
        logvar = torch.log((second_moment - mean**2).clamp_min(1e-12))
        experts = tuple(
            (expert_mean, expert_logvar, weights[:, i])
            for i, (expert_mean, expert_logvar) in enumerate(stats)
        )
        return Posterior(mean, logvar, experts)


@fill_doc
class SharedPrivateFusion(_ExpertFusion):
    """A shared code averaged over the present modalities, beside a private slice of each.

    Modality dropout and the cross-modal loss train every modality's code to
    stand for all of them, so a single shared code keeps what the modalities
    share and loses what only one holds (measured in ``benchmarks/README.md``:
    the full-code reconstruction of small views suffers). Here the code is
    ``[shared, private_1, ..., private_M]``: the shared part is the mean over
    the present modalities, as in :class:`MeanFusion`, and each modality
    also writes a private slice of ``encoding_dim // (2 * M)`` dimensions
    that only it fills (zeros, or the prior in a variational model, where it
    is missing). So a full code keeps each modality's own detail, and a code
    from some modalities decodes the others from the shared part. With more
    modalities than half the code has dimensions, there are no private
    slices and this is :class:`MeanFusion`.

    Parameters
    ----------
    %(fusion_sizes)s
    variational : bool, default=False
        Each modality also gives log variances: averaged over the present
        ones for the shared part, its own for its private slice.

    Attributes
    ----------
    shared_dims : int
        The size of the shared part, the code's first dimensions.
    private_dims : int
        The size of each modality's private slice, in the order of
        ``in_features``.

    Examples
    --------
    >>> import torch
    >>> from skmmae.fusion import SharedPrivateFusion
    >>> fusion = SharedPrivateFusion({"a": 3, "b": 2}, encoding_dim=8)
    >>> fusion.shared_dims, fusion.private_dims
    (4, 2)
    >>> alone = fusion({"a": torch.ones(5, 3)}, {}).mean  # "b" missing: its slice is 0
    >>> alone.shape, bool((alone[:, 6:] == 0).all())
    (torch.Size([5, 8]), True)
    """

    def __init__(self, in_features, encoding_dim, variational=False):
        super().__init__(in_features, encoding_dim, variational)
        self.private_dims = encoding_dim // (2 * len(in_features))
        self.shared_dims = encoding_dim - len(in_features) * self.private_dims
        width = self.shared_dims + self.private_dims
        self.project = _heads(in_features, width, 2 if variational else 1)

    def _experts(self, features, names):
        # By name: each modality's private slice has its own place in the code.
        return {name: self.project[name](features[name]) for name in names}

    def _combine(self, stats, weights):
        """The Posterior from each given modality's head output and the presence weights."""
        width = self.shared_dims + self.private_dims
        means = self._assemble(stats, weights, 0)
        if not self.variational:
            return Posterior(means)
        logvars = self._assemble(stats, weights, width)
        return Posterior(means, logvars.clamp(*_LOGVAR_RANGE))

    def _assemble(self, stats, weights, start):
        """Shared mean and private slices of the statistic at columns ``start:start + width``."""
        names = list(stats)
        shared_end, end = start + self.shared_dims, start + self.shared_dims + self.private_dims
        shared_parts = torch.stack([stats[name][:, start:shared_end] for name in names], dim=1)
        shared = _weighted_mean(shared_parts, weights)
        parts = [shared]
        for name in self.names:
            if name not in stats:  # missing in every sample of the batch
                parts.append(shared.new_zeros(len(shared), self.private_dims))
                continue
            private = stats[name][:, shared_end:end]
            if weights is not None:
                private = private * weights[:, names.index(name), None]
            parts.append(private)
        return torch.cat(parts, dim=1)


#: Fusion name -> class, as accepted by ``MultimodalAutoencoder(fusion=...)``.
FUSIONS = {
    "concat": ConcatFusion,
    "mean": MeanFusion,
    "poe": ProductOfExperts,
    "moe": MixtureOfExperts,
    "shared_private": SharedPrivateFusion,
}


@fill_doc
def make_fusion(name, in_features, encoding_dim, variational=False):
    """Build the fusion registered as ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`FUSIONS`.
    %(fusion_sizes)s
    variational : bool, default=False
        Whether the model samples codes from the fusion's Gaussian.

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> from skmmae.fusion import make_fusion
    >>> type(make_fusion("poe", {"a": 3}, 2)).__name__
    'ProductOfExperts'
    """
    return FUSIONS[name](in_features, encoding_dim, variational)
