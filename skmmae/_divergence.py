"""Stop a fit whose loss or weights stop being finite, naming what went wrong.

Once one loss is NaN, every gradient and weight after it is NaN, and every
code and reconstruction the model would give is NaN too. Training on would
only waste time and return a model that silently outputs NaN, so the fit
stops at the end of the first epoch whose loss is not finite, with an error
that names the epoch and the loss terms (modalities, or the KL term) that
went non-finite.

The criterion watches its terms on the device (see
``ReconstructionLoss.nonfinite_terms``), so checking costs no host sync per
step: the epoch's mean loss, which skorch has on the host anyway, is read
once per epoch, and the terms only when it is not finite.
"""

import math

import torch
from skorch.callbacks import Callback

__all__ = ["FiniteLossCheck"]

_HINT = (
    "Lower lr, check modality_weights, noise_std and beta, and check that the "
    "data's values are of a sensible scale. The estimator is left as it was before fit."
)


class FiniteLossCheck(Callback):
    """Raise ``ValueError`` when an epoch's loss, or the final weights, are not finite.

    A skorch callback for :class:`~skmmae._net.MultimodalNet`. Put it before
    callbacks that act on the epoch's loss (early stopping) or on the final
    weights (the weight average, the read-outs), so that none of them sees
    a diverged model.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae import MultimodalAutoencoder
    >>> X = {"a": np.random.default_rng(0).normal(size=(40, 3))}
    >>> MultimodalAutoencoder(2, lr=1e6, max_epochs=3, random_state=0).fit(X)
    Traceback (most recent call last):
    ...
    ValueError: Training diverged in epoch ...
    """

    def on_epoch_begin(self, net, **kwargs):
        net.criterion_.reset_nonfinite_terms()

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        for key, what in (("train_loss", "training"), ("valid_loss", "validation")):
            loss = row.get(key)
            if loss is not None and not math.isfinite(loss):
                terms = net.criterion_.nonfinite_terms()
                raise ValueError(
                    f"Training diverged in epoch {row['epoch']}: the {what} loss became "
                    f"{loss}, through {_describe(terms)}. {_HINT}"
                )

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
