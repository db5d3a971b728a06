"""The training loss: each modality's masked mean loss, weighted, plus the KL term.

:meth:`ReconstructionLoss.loss_sums` is the one masked loss of the package:
training (through :meth:`~ReconstructionLoss.per_modality`), scoring
(:func:`skmmae._inference.loss_totals`) and refining codes
(:meth:`~ReconstructionLoss.summed_loss`) all read it.
"""

import torch
from torch import nn

from ._module import AutoencoderOutput

__all__ = ["ReconstructionLoss"]


class ReconstructionLoss(nn.Module):
    """Weighted reconstruction loss over modalities, plus ``beta`` times the KL term.

    Each modality's loss is the mean of its per-sample losses over the
    samples that have it; with equal weights each modality then counts the
    same, whatever its number of features, so a 6-feature view is not
    drowned by a 240-feature one.

    Parameters
    ----------
    modalities : dict of str -> Modality
        Fitted modalities; each supplies ``sample_loss(output, target)``.
    weights : dict of str -> float or None, default=None
        Relative weight of each modality's loss (normalized to sum to one);
        None weighs all modalities equally.
    beta : float, default=1.0
        Weight of the KL divergence of the code from N(0, I) (variational
        mode only), averaged over code dimensions and samples. A callback
        may change it during training (KL warm-up).
    mean_over : {"present", "batch"}, default="present"
        Divide each modality's summed loss by the number of samples that
        have it, or by the batch's size. With ``"batch"`` the loss is a
        plain mean of per-sample losses, in which no sample's weight depends
        on the others, as per-sample gradient clipping (private training)
        needs.

    Attributes
    ----------
    sum_over_processes : callable or None
        In data-parallel training (:mod:`skmmae.distributed`), a function
        that sums a tensor over the ``n_processes`` processes. Training
        steps then divide by the global batch's counts over ``n_processes``
        (the mean share's counts), so that the mean of the processes'
        losses, and of their gradients (as ``DistributedDataParallel``
        averages them), is the global batch's; the epoch's term sums are
        summed. None (the default): counts are this batch's.
    n_processes : int
        The number of processes (1 by default).
    """

    def __init__(self, modalities, weights=None, beta=1.0, mean_over="present"):
        super().__init__()
        self.modalities = dict(modalities)
        weights = weights or {name: 1.0 for name in self.modalities}
        total = sum(weights.values())
        self.weights = {name: weights[name] / total for name in self.modalities}
        self.beta = beta
        self.mean_over = mean_over
        self.sum_over_processes = None
        self.n_processes = 1
        # The loss terms summed over this epoch's samples, per mode (training
        # or not), on the device (see _watch).
        self._term_sums = {}
        self._term_names = None

    def loss_sums(self, output):
        """Per given modality: (sum of its per-sample losses, number of samples that have it).

        Sums rather than means, so that scores over many batches can be
        exact means over the samples that have each modality.
        """
        decodings = output.expert_decodings or ((output.reconstructions, None),)
        sums = {}
        for name, target in output.targets.items():
            modality = self.modalities[name]
            # Reduced in float32 even when the forward pass ran under bf16
            # autocast; integer targets (classes, tokens) stay integers.
            target = target.float() if target.is_floating_point() else target
            has = output.present.get(name)
            total = 0.0
            for reconstructions, weight in decodings:
                per_sample = modality.sample_loss(reconstructions[name].float(), target)
                if isinstance(weight, dict):  # cross-modal decoding: one weight per modality
                    weight = weight[name]
                mask = _combine(has, weight)
                total = total + (per_sample if mask is None else per_sample * mask).sum()
            # new_full fills on the device; new_tensor would copy from the
            # host, which a CUDA graph capture refuses.
            if has is None:
                count = per_sample.new_full((), float(len(per_sample)))
            else:
                count = has.float().sum()
            sums[name] = (total, count)
        return sums

    def per_modality(self, output):
        """Each given modality's mean loss over the samples that have it."""
        return self._means(*self._divisors(output))

    def _divisors(self, output):
        """Each modality's (summed loss, count to divide it by), and the batch's size.

        Counts of zero (an empty Poisson batch, a modality no sample has)
        become one, as their sums are zero. In data-parallel training the
        counts are the global batch's over ``n_processes``.
        """
        sums, n_samples = self.loss_sums(output), len(output.code)
        if not (self.training and self.sum_over_processes is not None):
            divisors = {name: (total, count.clamp_min(1.0)) for name, (total, count) in sums.items()}
            return divisors, max(n_samples, 1)
        local = [count for _, count in sums.values()]
        counts = self.sum_over_processes(torch.stack([*local, _count(output, n_samples)]))
        counts = counts.clamp_min(1.0) / self.n_processes
        return {name: (total, count) for (name, (total, _)), count in zip(sums.items(), counts)}, counts[-1]

    def _means(self, sums, n_samples):
        if self.mean_over == "batch":
            return {name: total / n_samples for name, (total, _) in sums.items()}
        return {name: total / count for name, (total, count) in sums.items()}

    def kl_sum(self, output):
        """KL divergence from N(0, I), averaged over code dimensions, summed over samples.

        None for a deterministic model. For the mixture of experts, each
        sample's experts are weighted as in the mixture.
        """
        if output.experts is not None:
            return sum(
                (_kl(mean, logvar).mean(1) * weight).sum() for mean, logvar, weight in output.experts
            )
        if output.logvar is None:
            return None
        return _kl(output.code, output.logvar).mean(1).sum()

    def summed_loss(self, reconstruct, targets, present):
        """``loss(code)``: the weighted loss of ``targets`` summed over samples.

        Each given modality's per-sample loss (from :meth:`loss_sums`, over
        the samples that have it) times its weight, as in training, for the
        reconstructions ``reconstruct(code)``; the loss that refining a code
        lowers.
        """

        def loss(code):
            output = AutoencoderOutput(code, reconstruct(code), targets, present)
            sums = self.loss_sums(output)
            return sum(self.weights[name] * total for name, (total, _) in sums.items())

        return loss

    def combine(self, losses, kl=None):
        """The loss from per-modality mean losses and the mean KL term (or None)."""
        loss = sum(self.weights[name] * value for name, value in losses.items())
        return loss if kl is None else loss + self.beta * kl

    def forward(self, output):
        kl = self.kl_sum(output)
        sums, n_samples = self._divisors(output)
        losses = self._means(sums, n_samples)
        kl = None if kl is None else kl / n_samples
        self._watch(losses, kl, n_samples)
        loss = self.combine(losses, kl)
        if output.alignment is not None:
            # The lag aligner's gradient, with the loss's value unchanged: the
            # losses users read stay reconstruction losses.
            loss = loss + (output.alignment - output.alignment.detach())
        return loss

    def _watch(self, losses, kl, n_samples):
        """Add the loss terms, times the batch's size, to this mode's sums on their device.

        No host sync per step: the sums are read once per epoch
        (:meth:`term_sums`). NaN and infinity stay in a sum, so a non-finite
        sum also tells which term went non-finite. Two kernels per step
        (stack, add) into one tensor per mode, updated in place, which a
        CUDA graph capture then replays.
        """
        values = [*losses.values()] if kl is None else [*losses.values(), kl]
        terms = torch.stack([value.detach() for value in values])
        names = [*losses] if kl is None else [*losses, None]
        if names != self._term_names:
            self._term_names, self._term_sums = names, {}
        sums = self._term_sums.get(self.training)
        if sums is None:
            self._term_sums[self.training] = terms * n_samples
        elif torch.is_tensor(n_samples):  # the global batch's size (data-parallel)
            sums.add_(terms * n_samples)
        else:
            sums.add_(terms, alpha=n_samples)

    def reset_terms(self):
        """Start new sums (at the start of an epoch)."""
        for sums in self._term_sums.values():
            sums.zero_()

    def term_sums(self, training=True):
        """Each term summed over the samples since :meth:`reset_terms`, on the host.

        Parameters
        ----------
        training : bool, default=True
            The sums of training steps, or of evaluation (validation) passes.

        Returns
        -------
        dict
            Modality name (None for the KL term) -> sum of its mean loss
            per batch times the batch's size; empty before any step.
        """
        sums = self._term_sums.get(training)
        if sums is None:
            return {}
        if training and self.sum_over_processes is not None:
            sums = self.sum_over_processes(sums.clone())
        return dict(zip(self._term_names, sums.tolist()))


def _count(output, n):
    """``n`` as a float tensor on the code's device (filled there, no host copy)."""
    return output.code.new_full((), float(n), dtype=torch.float32)


def _kl(mean, logvar):
    mean, logvar = mean.float(), logvar.float()
    return 0.5 * (mean**2 + torch.exp(logvar) - 1.0 - logvar)


def _combine(has, weight):
    if has is None:
        return weight
    if weight is None:
        return has.float()
    return has.float() * weight
