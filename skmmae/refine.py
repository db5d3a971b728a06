"""Refined codes: the code that best explains the given modalities, found by gradient steps.

The encoders map data to a code in one pass. That code is good on average
but not the best for each sample: the model's read-out, given it,
reconstructs the sample's modalities less well than it could from a nearby
code. A few gradient steps on the code alone (the model fixed) close much
of that gap, as in the iterative amortized inference of Marino et al.
(2018). With ``refine=CodeRefinement()`` (off by default, for its cost),
:meth:`~skmmae.MultimodalAutoencoder.predict_modality` uses it: the code of
the other modalities, refined until it explains them as well as it can, is
read back into the target modality, and that prediction is averaged with
the prediction from the encoders' code. The measurements are in
``benchmarks/README.md``.

The loss is the training loss restricted to the given modalities: each
modality's per-sample loss, weighted as in training, over the samples that
have it. Each sample's code gets its own Adam steps (summed losses,
per-coordinate steps), so a sample's refined code does not depend on the
others in its batch.

References
----------
J. Marino, Y. Yue and S. Mandt, "Iterative Amortized Inference", ICML 2018.
"""

from numbers import Integral, Real

import torch
from sklearn.base import BaseEstimator

from ._compat import Interval
from ._doc_link import DocLinked

__all__ = ["CodeRefinement"]


class CodeRefinement(DocLinked, BaseEstimator):
    """Refine codes by Adam steps on the code alone, the model fixed.

    Parameters
    ----------
    steps : int, default=50
        Adam steps per code.
    lr : float, default=0.025
        Adam's step size, as a share of the training codes' spread (the
        estimator's ``code_scale_``).
    batch_rows : int, default=4096
        Samples whose codes are refined together (fewer, larger steps than
        one refinement per inference batch; each sample's result is its
        own).

    Examples
    --------
    >>> import torch
    >>> from skmmae.refine import CodeRefinement
    >>> target = torch.tensor([[1.0, -2.0]])
    >>> def loss(code):
    ...     return ((code - target) ** 2).sum()
    >>> refined = CodeRefinement(steps=200, lr=0.05).refine(torch.zeros(1, 2), loss, scale=1.0)
    >>> bool((refined - target).abs().max() < 0.05)
    True
    """

    _parameter_constraints = {
        "steps": [Interval(Integral, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_rows": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, steps=50, lr=0.025, batch_rows=4096):
        self.steps = steps
        self.lr = lr
        self.batch_rows = batch_rows

    def refine(self, code, loss, scale):
        """``code`` refined by ``steps`` Adam steps on ``loss``.

        Parameters
        ----------
        code : Tensor of shape (n_samples, encoding_dim)
            The starting codes.
        loss : callable
            ``loss(code)``: a scalar tensor, the sum over samples of each
            one's loss, differentiable in ``code``. The model's parameters
            get no gradients from it.
        scale : float
            The unit of the steps (the training codes' spread).

        Returns
        -------
        Tensor of shape (n_samples, encoding_dim), float32
        """
        code = code.detach().float().clone().requires_grad_(True)
        if not self.steps:
            return code.detach()
        optimizer = torch.optim.Adam([code], lr=self.lr * float(scale))
        with torch.enable_grad():
            for _ in range(self.steps):
                # Gradients for the codes only: the model's .grad stay untouched.
                (code.grad,) = torch.autograd.grad(loss(code), [code])
                optimizer.step()
        return code.detach()
