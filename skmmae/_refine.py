"""Refined codes: the code that best explains the given modalities, found by gradient steps.

The encoders map data to a code in one pass. That code is good on average
but not the best for each sample: the model's own read-outs, given it,
reconstruct the sample's modalities less well than they could from a nearby
code. A few gradient steps on the code alone (the model fixed) close much
of that gap. With ``refine_steps > 0`` (off by default, for its cost),
:meth:`MultimodalAutoencoder.predict_modality` uses it: the code of the
other modalities, refined until it explains them as well as it can, is read
back into the target modality, and that prediction is averaged with the
cross-modal read-out of the encoders' code (on mfeat, pix from the other
views: 0.264 from the encoders' code alone, 0.256 from the refined code
alone, 0.250 for their mean at code size 10; see
``benchmarks/README.md``).

The loss is the training loss restricted to the given modalities: each
modality's per-sample loss, weighted as in training, over the samples that
have it. Each sample's code gets its own Adam steps (summed losses,
per-coordinate steps), so a sample's refined code does not depend on the
others in its batch.
"""

import torch
from skorch.callbacks import Callback

from ._inference import encode

__all__ = ["CodeScale", "REFINE_LR", "REFINE_ROWS", "refine_codes"]

#: Adam's step size, as a share of the training codes' standard deviation
#: (on mfeat, twice this step, or 100 steps instead of 50, changed pix
#: predicted from the other views by at most 0.0004).
REFINE_LR = 0.025
#: Samples whose codes are refined together in ``predict_modality`` (its
#: batch size): fewer, larger steps than one refinement per inference batch.
REFINE_ROWS = 4096


class CodeScale(Callback):
    """Store the training codes' standard deviation in the module when training ends.

    The mean over code dimensions of their standard deviation over the
    training data, as ``module.code_scale``: the unit of the steps of
    :func:`refine_codes`. A skorch callback for
    :class:`~skmmae._net.MultimodalNet`, after every callback that sets the
    final weights.

    Examples
    --------
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.datasets import load_mfeat
    >>> X, _ = load_mfeat(return_X_y=True)
    >>> X = {name: X[name][:100] for name in ("fou", "kar")}
    >>> ae = MultimodalAutoencoder(3, max_epochs=2, random_state=0).fit(X)
    >>> spread = ae.transform(X).std(axis=0).mean()
    >>> bool(abs(float(ae.net_.module_.code_scale) - spread) < 1e-4 * spread)
    True
    """

    def on_train_end(self, net, X=None, y=None, **kwargs):
        codes = torch.as_tensor(encode(net, X), dtype=torch.float64)
        scale = codes.std(dim=0, unbiased=False).mean() if len(codes) > 1 else torch.ones(())
        net.module_.code_scale.fill_(float(scale.clamp_min(1e-6)))


def refine_codes(module, criterion, code, targets, present, steps):
    """Codes refined by ``steps`` Adam steps to reconstruct ``targets``.

    Parameters
    ----------
    module : MultimodalAutoencoderModule
        The model, in eval mode; its parameters are read, never changed,
        and get no gradients.
    criterion : ReconstructionLoss
        The training loss: its modalities' per-sample losses and weights.
    code : Tensor of shape (n_samples, encoding_dim)
        The starting codes (the encoders' code of ``targets``).
    targets : dict of str -> Tensor
        The given modalities, in model units.
    present : dict of str -> Tensor
        ``(n_samples,)`` presence masks of the modalities that some samples
        lack.
    steps : int
        Number of steps; 0 returns ``code``.

    Returns
    -------
    Tensor of shape (n_samples, encoding_dim), float32

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae._refine import refine_codes
    >>> rng = np.random.default_rng(0)
    >>> X = {"a": rng.normal(size=(60, 4)), "b": rng.normal(size=(60, 3))}
    >>> ae = MultimodalAutoencoder(2, max_epochs=5, random_state=0).fit(X)
    >>> module = ae.net_.module_.eval()
    >>> targets = module.scale({"a": torch.as_tensor(X["a"], dtype=torch.float32)})
    >>> code = module.posterior(targets, {}).mean.detach()
    >>> refined = refine_codes(module, ae.net_.criterion_, code, targets, {}, steps=50)
    >>> def loss(c):
    ...     return float(((module.decode(c, ["a"])["a"] - targets["a"]) ** 2).mean())
    >>> loss(refined) < loss(code)
    True
    """
    code = code.detach().float().clone().requires_grad_(True)
    if not steps:
        return code.detach()
    optimizer = torch.optim.Adam([code], lr=REFINE_LR * float(module.code_scale))
    names = list(targets)
    with torch.enable_grad():
        for _ in range(steps):
            reconstructions = module.decode(code, names)
            loss = 0.0
            for name in names:
                modality = criterion.modalities[name]
                per_sample = modality.sample_loss(reconstructions[name], targets[name])
                if name in present:
                    per_sample = per_sample * present[name].float()
                loss = loss + criterion.weights[name] * per_sample.sum()
            # Gradients for the codes only: the model's .grad stay untouched.
            (code.grad,) = torch.autograd.grad(loss, [code])
            optimizer.step()
    return code.detach()
