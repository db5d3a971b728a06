"""Kernel ridge regression from codes, in closed form, with its width and penalty chosen by leave-one-out.

The math behind :class:`skmmae.readout.KernelReadout`. The regression uses
a Matern kernel of smoothness 3/2, ``k(a, b) = (1 + sqrt(3) r)
exp(-sqrt(3) r)`` with ``r = |a - b| / length``. Up to ``max_centers``
training rows it is exact kernel ridge regression on every training code;
beyond, the kernel rows of that many codes drawn at random (the centers) are
the features of a ridge regression fitted on every training row (the
"subset of regressors" approximation; Rasmussen & Williams, 2006, sec. 8.3.1).
The length and the ridge penalty are chosen per target by the exact
leave-one-out error on up to ``loo_rows`` training rows, for all penalties
from one eigendecomposition per length. It runs on the codes' device, in
float64 (the exact path's eigendecomposition in float32), reading the
targets in chunks of rows: no copy of the training data is made.

References
----------
C. E. Rasmussen and C. K. I. Williams, *Gaussian Processes for Machine
Learning*, MIT Press, 2006 (the Matern kernel, sec. 4.2.1; the subset of
regressors, sec. 8.3.1).
C. K. I. Williams and M. Seeger, "Using the Nystroem Method to Speed Up
Kernel Machines", NIPS 2000 (the Nystroem approximation of the kernel).
"""

import math

import torch
from torch import nn

__all__ = ["KernelRegression", "fit_kernel_regressions"]

#: Added to the kernel's diagonal on the centers (whose own kernel values are 1).
JITTER = 1e-6


class KernelRegression(nn.Module):
    """A fitted kernel ridge regression from codes: ``k(code, centers) @ coef + offset``.

    Parameters
    ----------
    centers : Tensor of shape (n_centers, encoding_dim)
        Training codes the kernel is evaluated against.
    coef : Tensor of shape (n_centers, *output_shape)
        The regression's coefficients, one row per center.
    length : float
        Length scale of the Matern 3/2 kernel ``k``.
    offset : Tensor of shape output_shape
        The training targets' mean, what the read-out predicts far from
        every center.

    Examples
    --------
    >>> import torch
    >>> from skmmae._kernel_ridge import KernelRegression
    >>> centers = torch.tensor([[0.0], [1.0]])
    >>> regression = KernelRegression(centers, torch.tensor([[1.0], [0.0]]), 1.0, torch.zeros(1))
    >>> regression(centers).squeeze(1)  # k(0, 0) = 1; k(1, 0) = (1 + r) exp(-r), r = 3 ** 0.5
    tensor([1.0000, 0.4834])
    """

    def __init__(self, centers, coef, length, offset):
        super().__init__()
        # Contiguous: the product's summation order follows the layout, so a
        # saved and loaded regression (stored contiguous) computes the same bits.
        self.register_buffer("centers", centers.float().contiguous())
        self.register_buffer("coef", coef.float().contiguous())
        self.register_buffer("offset", offset.float().contiguous())
        self.length = float(length)

    def forward(self, code):
        # Never in bfloat16: the coefficients of a kernel ridge regression can
        # be large and cancel each other.
        with torch.autocast(code.device.type, enabled=False):
            kernel = _kernel(code.float(), self.centers, self.length)
            values = kernel @ self.coef.flatten(1)
        return values.unflatten(1, self.coef.shape[1:]) + self.offset

    def extra_repr(self):
        return f"n_centers={len(self.centers)}, length={self.length:.4g}"


def fit_kernel_regressions(
    codes, target_chunks, *, length_factors, alphas, max_centers, loo_rows, generator=None
):
    """Fit one :class:`KernelRegression` per target, all from the same codes.

    Parameters
    ----------
    codes : Tensor of shape (n_samples, encoding_dim)
        The training codes.
    target_chunks : iterable of dict of str -> Tensor
        The targets in model units, as consecutive chunks of rows (one dict
        per chunk, aligned with ``codes``). It is iterated once per kernel
        width and once more, so it must start over on each iteration (a
        list, or an object whose ``__iter__`` makes a new pass).
    length_factors : sequence of float
        Kernel lengths to try, as multiples of the codes' typical distance
        (the square root of twice their total variance, the mean squared
        distance between two codes); each costs a pass over the targets and
        two decompositions.
    alphas : sequence of float
        Ridge penalties to try (targets in model units, about unit variance).
    max_centers : int
        Most training codes used as kernel centers.
    loo_rows : int
        Most training rows whose leave-one-out error chooses the length and
        the penalty.
    generator : torch.Generator or None
        Draws the centers and the leave-one-out rows when there are more
        training rows than ``max_centers`` / ``loo_rows``.

    Returns
    -------
    dict of str -> KernelRegression
        Each with the attribute ``length_factor``: the length chosen, as such
        a multiple.

    Examples
    --------
    >>> import torch
    >>> from skmmae._kernel_ridge import fit_kernel_regressions
    >>> codes = torch.linspace(-2, 2, 50).unsqueeze(1)
    >>> regression = fit_kernel_regressions(
    ...     codes, [{"y": torch.sin(codes)}], length_factors=(0.5, 1.0), alphas=(0.01, 0.1),
    ...     max_centers=500, loo_rows=500,
    ... )["y"]
    >>> bool((regression(codes) - torch.sin(codes)).abs().max() < 0.05)
    True
    """
    codes = codes.double()
    centers = codes[_some_rows(len(codes), max_centers, generator, codes.device)]
    loo = _some_rows(len(codes), loo_rows, generator, codes.device)
    offsets, loo_targets = _means_and_rows(target_chunks, loo)
    centered = _Centered(target_chunks, offsets)
    typical = float((2.0 * codes.var(dim=0, unbiased=False).sum()).sqrt().clamp_min(1e-6))
    best = {}  # name -> (leave-one-out error, length factor, coefficients)
    for factor in length_factors:
        fits = _fit_one_length(codes, centers, factor * typical, centered, loo, loo_targets, alphas)
        for name, (error, coef) in fits.items():
            if name not in best or error < best[name][0]:
                best[name] = (error, factor, coef)
    regressions = {}
    for name, (_, factor, coef) in best.items():
        offset = offsets[name]
        coef = coef.unflatten(1, offset.shape)
        regressions[name] = KernelRegression(centers, coef, factor * typical, offset)
        regressions[name].length_factor = factor
    return regressions


def _fit_one_length(codes, centers, length, target_chunks, loo_rows, loo_targets, alphas):
    """Per target, for one kernel length: (best leave-one-out MSE over ``alphas``, its coefficients)."""
    if len(centers) == len(codes):
        spectrum, projected, solutions = _exact_spectrum(codes, length, target_chunks, loo_rows)
    else:
        spectrum, projected, solutions = _subset_spectrum(
            codes, centers, length, target_chunks, loo_rows
        )
    # Ridge for every penalty at once, in the eigenbasis of the features'
    # Gram matrix; the leave-one-out residual of row i is its residual
    # divided by (1 - its leverage).
    squared = projected.square()
    results = {}
    for name, (coef_basis, to_centers) in solutions.items():
        target = loo_targets[name]
        best = None
        for alpha in alphas:
            shrink = 1.0 / (spectrum + alpha)
            fitted = (projected * shrink) @ coef_basis
            leverage = (squared @ shrink).clamp_max(1.0 - 1e-9)
            error = float((((target - fitted) / (1.0 - leverage)[:, None]) ** 2).mean())
            if best is None or error < best[0]:
                best = (error, shrink)
        results[name] = (best[0], to_centers(best[1]))
    return results


def _exact_spectrum(codes, length, target_chunks, loo_rows):
    """Kernel ridge on every code: the features ``U sqrt(L)`` of ``K = U L U'``."""
    # In float32: twice as fast, and its errors (about 1e-7 of the largest
    # eigenvalue) are far below the smallest penalty tried.
    values, vectors = (t.double() for t in torch.linalg.eigh(_kernel(codes, codes, length).float()))
    values = values.clamp_min(0.0)
    root = values.sqrt()
    solutions = {}
    for name, projection in _project(lambda a, b: vectors[a:b].T, target_chunks).items():
        # The coefficients on the codes: (K + alpha I)^-1 Y = U diag(shrink) U'Y.
        solutions[name] = (
            root[:, None] * projection,
            lambda shrink, p=projection: vectors @ (shrink[:, None] * p),
        )
    return values, vectors[loo_rows] * root, solutions


def _subset_spectrum(codes, centers, length, target_chunks, loo_rows):
    """Kernel ridge on the centers' span: the features ``F = K(codes, centers) C^-T``.

    ``C C' = K(centers, centers)`` (plus a little jitter: duplicate codes
    make it singular); ``F F'`` is then the Nystroem approximation of the
    kernel, and a ridge on F the subset-of-regressors solution.
    """
    center_kernel = _kernel(centers, centers, length)
    center_kernel.diagonal().add_(JITTER)
    lower = torch.linalg.cholesky(center_kernel)

    def features(a, b):  # transposed: (n_centers, b - a)
        kernel = _kernel(codes[a:b], centers, length)
        return torch.linalg.solve_triangular(lower, kernel.T, upper=False)

    # One pass: F'F and F'Y together, each chunk's features made once.
    gram, cross = 0.0, {}
    for a, b, chunk in _chunks(target_chunks):
        block = features(a, b)
        gram = gram + block @ block.T
        for name, target in chunk.items():
            cross[name] = cross.get(name, 0.0) + block @ target.double().flatten(1)
    values, basis = torch.linalg.eigh(gram)
    solutions = {}
    for name, xty in cross.items():
        # The coefficients on the centers: C^-T times the weights on F.
        solutions[name] = (
            basis.T @ xty,
            lambda shrink, p=basis.T @ xty: torch.linalg.solve_triangular(
                lower.T, basis @ (shrink[:, None] * p), upper=True
            ),
        )
    loo_features = torch.linalg.solve_triangular(
        lower, _kernel(codes[loo_rows], centers, length).T, upper=False
    )
    return values.clamp_min(0.0), (basis.T @ loo_features).T, solutions


def _project(left, target_chunks):
    """Per target: the sum over chunks of ``left(start, stop) @ target_chunk``."""
    sums = {}
    for a, b, chunk in _chunks(target_chunks):
        block = left(a, b)
        for name, target in chunk.items():
            sums[name] = sums.get(name, 0.0) + block @ target.double().flatten(1)
    return sums


def _chunks(target_chunks):
    """``(start, stop, chunk)`` for each chunk of rows."""
    start = 0
    for chunk in target_chunks:
        stop = start + len(next(iter(chunk.values())))
        yield start, stop, chunk
        start = stop


def _means_and_rows(target_chunks, rows):
    """Each target's mean over all rows, and its rows ``rows`` (ascending) centered, flattened."""
    sums, parts, count = {}, {}, 0
    for start, stop, chunk in _chunks(target_chunks):
        inside = rows[(rows >= start) & (rows < stop)] - start
        for name, target in chunk.items():
            sums[name] = sums.get(name, 0.0) + target.double().sum(dim=0)
            parts.setdefault(name, []).append(target[inside].double().flatten(1))
        count = stop
    means = {name: total / count for name, total in sums.items()}
    return means, {name: torch.cat(p) - means[name].flatten() for name, p in parts.items()}


class _Centered:
    """The target chunks less each target's mean, re-iterable as they are."""

    def __init__(self, target_chunks, means):
        self.target_chunks, self.means = target_chunks, means

    def __iter__(self):
        for chunk in self.target_chunks:
            yield {name: target.double() - self.means[name] for name, target in chunk.items()}


def _some_rows(n, most, generator, device):
    """All row indices, or ``most`` of them drawn without replacement, ascending."""
    if n <= most:
        return torch.arange(n, device=device)
    return torch.randperm(n, generator=generator)[:most].sort().values.to(device)


def _kernel(a, b, length):
    """Matern 3/2 kernel between the rows of ``a`` and of ``b``."""
    # The floor (a millionth of the length) keeps the kernel's gradient
    # finite where a code meets a center, as refined codes can: the square
    # root's slope is infinite at 0, the kernel's is 0, and their product
    # would be NaN. It moves the kernel by less than 1e-11.
    distances = _squared_distances(a, b).clamp_min((1e-6 * length) ** 2).sqrt()
    scaled = math.sqrt(3.0) / length * distances
    return (1.0 + scaled) * torch.exp(-scaled)


def _squared_distances(a, b):
    return (a.square().sum(1, keepdim=True) + b.square().sum(1) - 2.0 * a @ b.T).clamp_min(0.0)
