"""Each modality's loss per epoch: recorded in the history, and a fit stopped when one diverges.

The criterion sums each loss term (a modality's loss, the KL term) over
the samples of an epoch on the device (``ReconstructionLoss.term_sums``).
:class:`LossTerms` reads those sums once per epoch, which skorch's epoch
loss already syncs for, and

- records each modality's mean loss of the epoch in the history, under
  ``"train_losses"`` and ``"valid_losses"`` (dicts of modality name ->
  loss), and the mean KL term under ``"train_kl"`` / ``"valid_kl"`` in
  variational mode;
- stops the fit at the end of the first epoch whose loss is not finite.
  Once one loss is NaN, every gradient and weight after it is NaN, and so
  would be every output: training on would only return a model that
  silently outputs NaN. The error names the epoch and the terms that went
  non-finite.
"""

import math

import torch
from skorch.callbacks import Callback

__all__ = ["LossTerms"]

_HINT = (
    "Lower lr, check modality_weights, noise_std and variational's beta, and check that the "
    "data's values are of a sensible scale. The estimator is left as it was before fit."
)


class LossTerms(Callback):
    """Record each modality's loss per epoch; raise ``ValueError`` when a loss diverges.

    A skorch callback for :class:`~skmmae._net.MultimodalNet`. Put it before
    callbacks that act on the epoch's loss (early stopping) or on the final
    weights (the weight average, the read-outs), so that none of them sees
    a diverged model. When training ends it also checks that the weights are
    finite.

    Attributes
    ----------
    epochs_ : int
        Epochs completed in the last training run (not counting epochs of a
        history loaded from a checkpoint).

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae import MultimodalAutoencoder
    >>> rng = np.random.default_rng(0)
    >>> X = {"a": rng.normal(size=(40, 3)), "b": rng.normal(size=(40, 2))}
    >>> ae = MultimodalAutoencoder(2, max_epochs=3, random_state=0).fit(X)
    >>> sorted(ae.net_.history[-1, "train_losses"])
    ['a', 'b']
    >>> MultimodalAutoencoder(2, lr=1e6, max_epochs=3, random_state=0).fit(X)
    Traceback (most recent call last):
    ...
    ValueError: Training diverged in epoch ...
    """

    def on_train_begin(self, net, **kwargs):
        self.epochs_ = 0

    def on_epoch_begin(self, net, **kwargs):
        net.criterion_.reset_terms()

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        for prefix, training, what in (("train", True, "training"), ("valid", False, "validation")):
            samples = sum(batch.get(f"{prefix}_batch_size", 0) for batch in row["batches"])
            sums = net.criterion_.term_sums(training)
            if not samples or not sums:
                continue
            means = {name: total / samples for name, total in sums.items()}
            net.history.record(
                f"{prefix}_losses", {name: v for name, v in means.items() if name is not None}
            )
            if None in means:
                net.history.record(f"{prefix}_kl", means[None])
            loss = row.get(f"{prefix}_loss")
            if loss is not None and not math.isfinite(loss):
                terms = [name for name, value in means.items() if not math.isfinite(value)]
                raise ValueError(
                    f"Training diverged in epoch {row['epoch']}: the {what} loss became "
                    f"{loss}, through {_describe(terms)}. {_HINT}"
                )
        self.epochs_ += 1

    def on_train_end(self, net, **kwargs):
        # The last step can turn the weights non-finite after its loss was
        # computed; no later loss would show it.
        params = [p.detach() for p in net.module_.parameters()]
        if params and not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
            raise ValueError(
                f"Training diverged: the model's weights are not finite after epoch "
                f"{len(net.history)}. {_HINT}"
            )


def _describe(terms):
    """``["a", "b", None]`` -> "the losses of modalities 'a' and 'b' and the KL term"."""
    names = [repr(name) for name in terms if name is not None]
    parts = []
    if len(names) == 1:
        parts.append(f"the loss of modality {names[0]}")
    elif names:
        parts.append(f"the losses of modalities {', '.join(names[:-1])} and {names[-1]}")
    if None in terms:
        parts.append("the KL term")
    if not parts:
        return "no single term (their weighted sum overflowed)"
    return " and ".join(parts)
