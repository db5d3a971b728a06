"""Kernel ridge read-outs: from codes back to a modality, fitted in closed form after training.

During training the decoders learn from codes that noise, dropout and
modality dropout keep changing, and an MLP from a small code is a poor
smoother of what it saw. Once the encoders are fixed, a kernel ridge
regression from the training codes to a modality's values predicts that
modality better from new codes (on mfeat, reconstruction error and
cross-modal prediction error both fall by 0.01-0.02 in standardized units;
``benchmarks/README.md``).

The regression uses a Matern kernel of smoothness 3/2,
``k(a, b) = (1 + sqrt(3) r) exp(-sqrt(3) r)`` with ``r = |a - b| / length``
(on mfeat it predicted better than a Gaussian kernel at code size 10, and as
well at 32). Up to :data:`MAX_CENTERS` training rows it is exact kernel
ridge regression on every training code; beyond, the kernel rows of that
many codes drawn at random (the centers) are the features of a ridge
regression fitted on every training row (the "subset of regressors"
approximation). The length and the ridge penalty are chosen per modality by
the exact leave-one-out error on up to :data:`MAX_LOO_ROWS` training rows,
for all penalties from one eigendecomposition per length. It runs on the
model's device, in float64 (the exact path's eigendecomposition in
float32), reading the targets in chunks of rows: no copy of the training
data is made.
"""

import math

import torch
from skorch.callbacks import Callback
from torch import nn

from ._inference import batches
from ._modality_dict import ModalityDict

__all__ = [
    "KernelReadout",
    "KernelReadouts",
    "MAX_CENTERS",
    "MAX_LOO_ROWS",
    "fit_kernel_readouts",
]

#: Most training codes used as kernel centers. The cost grows with its cube
#: (and with the rows times its square); 500 keeps the read-outs a small
#: share of a default fit (``benchmarks/bench_speed.py --cost``).
MAX_CENTERS = 500
#: Most training rows whose leave-one-out error chooses the kernel width and penalty.
MAX_LOO_ROWS = 500
#: Kernel lengths tried, as multiples of the codes' typical distance, the
#: square root of twice their total variance (the mean squared distance
#: between two codes).
LENGTH_FACTORS = (0.5, 1.0, 2.0, 4.0)
#: Ridge penalties tried (targets are in model units, about unit variance).
ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: Added to the kernel's diagonal on the centers (whose own kernel values are 1).
JITTER = 1e-6
#: A read-out needs at least this many training rows (else the decoder stays).
MIN_ROWS = 5


class KernelReadout(nn.Module):
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
    >>> from skmmae._readout import fit_kernel_readouts
    >>> codes = torch.linspace(-2, 2, 50).unsqueeze(1)
    >>> readout = fit_kernel_readouts(codes, [{"y": torch.sin(codes)}])["y"]
    >>> bool((readout(codes) - torch.sin(codes)).abs().max() < 0.05)
    True
    """

    def __init__(self, centers, coef, length, offset):
        super().__init__()
        self.register_buffer("centers", centers.float())
        self.register_buffer("coef", coef.float())
        self.register_buffer("offset", offset.float())
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


class KernelReadouts(Callback):
    """Fit the module's kernel read-outs when training ends; drop them when it begins.

    A skorch callback for :class:`~skmmae._net.MultimodalNet`. It must come
    after every callback that sets the final weights when training ends
    (the weight average, early stopping's best weights). Each modality whose
    kind allows it (``Modality.kernel_readout``) gets a read-out from the
    code of the present modalities (``module.readouts``, used by ``decode``)
    and one from the code of the other present modalities
    (``module.cross_readouts``, used by ``predict``), both fitted on
    the training data seen by ``fit``.

    Parameters
    ----------
    seed : int, default=0
        Seeds the draw of the centers and the leave-one-out rows on large
        data.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae import MultimodalAutoencoder
    >>> rng = np.random.default_rng(0)
    >>> X = {"a": rng.normal(size=(60, 4)), "b": rng.normal(size=(60, 3))}
    >>> ae = MultimodalAutoencoder(2, max_epochs=2, random_state=0).fit(X)
    >>> sorted(ae.net_.module_.readouts), sorted(ae.net_.module_.cross_readouts)
    (['a', 'b'], ['a', 'b'])
    """

    def __init__(self, seed=0):
        self.seed = seed

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        # Read-outs of older weights must not outlive them (nor serve the
        # validation passes of this training).
        net.module_.readouts = ModalityDict()
        net.module_.cross_readouts = ModalityDict()

    def on_train_end(self, net, X=None, y=None, **kwargs):
        module = net.module_
        if not module.readable:
            return
        # One dataset for every pass (each pass over X itself would move the
        # data to the device again).
        batches = _Batches(net, net.get_dataset(X))
        codes, cross, present = _training_codes(module, batches)
        generator = torch.Generator().manual_seed(self.seed)
        readouts, cross_readouts = {}, {}
        always = [name for name in module.readable if present[name] is None]
        groups = [(always, None)] if always else []
        groups += [([name], present[name]) for name in module.readable if name not in always]
        for names, rows in groups:
            readouts.update(_fit_rows(module, batches, codes, names, rows, generator))
        for name in module.readable:
            others_code, has_others = cross[name]
            rows = has_others if present[name] is None else has_others & present[name]
            lengths = (readouts[name].length_factor,) if name in readouts else LENGTH_FACTORS
            cross_readouts.update(
                _fit_rows(module, batches, others_code, [name], rows, generator, lengths)
            )
        module.readouts = ModalityDict(readouts)
        module.cross_readouts = ModalityDict(cross_readouts)


class _Batches:
    """The training data's batches in eval mode, in a fixed order, on each iteration."""

    def __init__(self, net, X):
        self.net, self.X = net, X

    def __iter__(self):
        return batches(self.net, self.X)


def _training_codes(module, batches):
    """Codes of the training data: all present modalities', each one's others', and presence."""
    codes, cross, present = [], {}, {}
    with torch.no_grad():
        for batch in batches:
            code, others, masks = module.readout_inputs(**batch)
            codes.append(code.float())
            for name, (others_code, has_others) in others.items():
                cross.setdefault(name, []).append((others_code.float(), has_others))
                present.setdefault(name, []).append(masks.get(name))
    present = {
        name: None if any(m is None for m in masks) else torch.cat(masks).bool()
        for name, masks in present.items()
    }
    cross = {
        name: (torch.cat([c for c, _ in parts]), torch.cat([h for _, h in parts]))
        for name, parts in cross.items()
    }
    return torch.cat(codes), cross, present


def _fit_rows(module, batches, codes, names, rows, generator, lengths=None):
    """Read-outs of ``names`` from ``codes``, on the rows where ``rows`` is True (None: all)."""
    if rows is not None:
        codes = codes[rows]
    if len(codes) < MIN_ROWS:
        return {}
    targets = _ScaledTargets(module, batches, names, rows)
    with torch.no_grad():
        return fit_kernel_readouts(codes, targets, generator, lengths or LENGTH_FACTORS)


class _ScaledTargets:
    """Chunks of the targets ``names`` in model units, on the chosen rows; re-iterable."""

    def __init__(self, module, batches, names, rows):
        self.module, self.batches, self.names, self.rows = module, batches, names, rows

    def __iter__(self):
        # Iterated inside fit_kernel_readouts, under _fit_rows's no_grad.
        start = 0
        for batch in self.batches:
            size = len(batch[self.names[0]])
            chunk = {name: self.module.scalers[name](batch[name]) for name in self.names}
            if self.rows is not None:
                keep = self.rows[start : start + size]
                chunk = {name: target[keep] for name, target in chunk.items()}
            start += size
            yield chunk


def fit_kernel_readouts(codes, target_chunks, generator=None, length_factors=LENGTH_FACTORS):
    """Fit one :class:`KernelReadout` per target, all from the same codes.

    Parameters
    ----------
    codes : Tensor of shape (n_samples, encoding_dim)
        The training codes.
    target_chunks : iterable of dict of str -> Tensor
        The targets in model units, as consecutive chunks of rows (one dict
        per chunk, aligned with ``codes``). It is iterated once per kernel
        width and once more, so it must start over on each iteration (a
        list, or an object whose ``__iter__`` makes a new pass).
    generator : torch.Generator or None
        Draws the centers and the leave-one-out rows when there are more
        training rows than :data:`MAX_CENTERS` / :data:`MAX_LOO_ROWS`.
    length_factors : sequence of float, default=LENGTH_FACTORS
        Kernel lengths to try, as multiples of the codes' typical distance;
        each costs a pass over the targets and two decompositions.

    Returns
    -------
    dict of str -> KernelReadout
        Each with the attribute ``length_factor``: the length chosen, as such
        a multiple.
    """
    codes = codes.double()
    centers = codes[_some_rows(len(codes), MAX_CENTERS, generator, codes.device)]
    loo_rows = _some_rows(len(codes), MAX_LOO_ROWS, generator, codes.device)
    offsets, loo_targets = _means_and_rows(target_chunks, loo_rows)
    centered = _Centered(target_chunks, offsets)
    typical = float((2.0 * codes.var(dim=0, unbiased=False).sum()).sqrt().clamp_min(1e-6))
    best = {}  # name -> (leave-one-out error, length factor, coefficients)
    for factor in length_factors:
        fits = _fit_one_length(
            codes, centers, factor * typical, centered, loo_rows, loo_targets
        )
        for name, (error, coef) in fits.items():
            if name not in best or error < best[name][0]:
                best[name] = (error, factor, coef)
    readouts = {}
    for name, (_, factor, coef) in best.items():
        offset = offsets[name]
        coef = coef.unflatten(1, offset.shape)
        readouts[name] = KernelReadout(centers, coef, factor * typical, offset)
        readouts[name].length_factor = factor
    return readouts


def _fit_one_length(codes, centers, length, target_chunks, loo_rows, loo_targets):
    """Per target, for one kernel length: (best leave-one-out MSE, its coefficients)."""
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
        for alpha in ALPHAS:
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
