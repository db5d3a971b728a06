"""Training and transform speed of skmmae against a hand-written PyTorch loop.

What is compared (the same arithmetic on all sides)
---------------------------------------------------
Two modalities, "a" (240 features) and "b" (76), float32 random-normal data
(seeded), standardized once beforehand. Per modality an MLP encoder
d -> 256 -> 128 (ReLU after each layer); concat fusion (the two 128-d
features concatenated, one Linear 256 -> 32 to the code, no activation);
mirrored decoders 32 -> 128 -> 256 -> d (ReLU between, none at the end).
Loss: the mean over the two modalities of each modality's MSE. Adam, lr 1e-3,
shuffled batches, the last partial batch kept.

(a) raw      a hand-written PyTorch loop over tensors made once on the device:
             ``randperm`` per epoch, index the tensors with each batch's
             indices, forward, loss, backward, step, ``loss.item()`` per batch
             (skorch does that too). On CUDA this is the "naive" loop: eager,
             default Adam, a host sync per batch.
(b) skorch   a plain ``skorch.NeuralNet`` with its default data path (skorch
             ``Dataset`` + ``DataLoader``: per-sample indexing of the dict of
             numpy arrays, then collation). A small subclass only makes X
             its own target (no ``y`` is built).
(c) skmmae   ``MultimodalAutoencoder(encoding_dim=32, hidden_dims=(256, 128),
             fusion="concat", random_state=0)``, on ``--threads`` threads as
             the other sides (``n_threads``), with the options that add
             compute (``layer_norm``, ``dropout``, ``noise_std``,
             ``input_dropout``, ``modality_dropout``) off. Because the data is already
             standardized, skmmae's in-model standardization is a no-op in
             value, but it still runs ``(x - mean) / scale`` on every batch.
             Otherwise this row uses the estimator's defaults, which fuse
             Adam (one kernel for all parameters) on CPU and CUDA. On CPU,
             (c) is also timed with ``fused_optimizer=False`` (c-off), the
             raw loop's Adam. On CUDA, when the estimator has the speed
             options (``fused_optimizer``, ``cuda_graphs``, ``bf16``), (c)
             is also timed with them all off (c-off), all on (c+all) and
             each one alone, the others off (c+<name>); they are set
             explicitly because their defaults may be "auto".
(c+reg)      (c) with the options that add compute at the estimator's
             defaults (the quality regularizers: LayerNorm, dropout, input
             noise, modality dropout with a second decoding for
             ``subset_weight``, the weight average): their cost per epoch.
(c+defaults) the estimator's defaults as a whole (its default hidden layers
             and fusion too), at the same code size and batch size.

Protocol
--------
All variants live in one process and are warmed up once. Then ``--repeats``
rounds are run; each round runs every variant once, in an order rotated by
one place per round. Time per epoch:

* (a): ``--epochs`` epochs timed directly, divided by their number;
* (b), (c): a fit of ``--epochs`` epochs minus a 1-epoch fit, divided by
  ``epochs - 1``, so the per-fit setup (validation, net building, moving the
  data to the device, ...) cancels out. The 1-epoch fit of (c), setup
  included, is reported on its own row.

On CUDA every timing is bracketed by ``torch.cuda.synchronize()``.

Reading the ratios: ``x (a)`` is the median over rounds of the ratio to (a)
*measured in the same round*, so slow drifts of the machine cancel out; 1.10x
means 10% slower than the hand-written loop. The seconds are medians over
rounds. Compare ratios within one run only.

Transform: ``MultimodalAutoencoder.transform`` against a raw encode loop
(encoders + fusion only, ``torch.inference_mode``, at the batch size that
skmmae uses for inference, read from the fitted net) over the same numpy
data; both include the copy to the device and the codes' copy back. Two
more rows split ``transform`` into its checks with the copy to the device
(``t:checks``) and the encode of that copy (``t:encode``); on CUDA with
graphs, ``t:eager`` is ``transform`` with the encode graph off.

Memory: the peak RSS of a 1-epoch skmmae fit, each measurement in a fresh
subprocess. Every child imports the same modules, builds the data and runs
one tiny op on the device (loads the BLAS kernels / creates the CUDA
context). The "baseline" child stops there; the "fit" child then fits. The
first memory row is the difference of their peak RSS (VmHWM), also divided by
the size of the float32 data plus the model's parameters. That difference
includes one-off costs of the first training step in a process (lazy
initialization inside torch: about 75 MiB at the first ``optimizer.step()``
with torch 2.13 on CPU, the same for a raw loop), so a second row comes from
a "warm" child that first fits 256 rows, then resets its peak RSS
(``/proc/self/clear_refs``) and does the same fit: the fit's own peak above
its starting RSS. Peaks of different phases do not add up, so the two rows
are not a sum. On CUDA, ``torch.cuda.max_memory_allocated`` of the fit is
given against the same size.

Run ``python benchmarks/bench_speed.py --help`` for the options;
``--quick`` is a smoke test (about half a minute on 2 CPU cores).
``--skip`` leaves out rows by the key shown in the tables' first column.
"""

import argparse
import copy
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback

import numpy as np
import sklearn
import skorch
import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn
from torch.nn import functional as F

import skmmae
from skmmae import MultimodalAutoencoder, _inference
from skmmae.options import HiddenLayers, Speed

MODALITIES = {"a": 240, "b": 76}
HIDDEN_DIMS = (256, 128)
ENCODING_DIM = 32
LR = 1e-3
SEED = 0
SPEED_OPTIONS = ("fused_optimizer", "cuda_graphs", "bf16")

DEFAULTS = {  # device -> (n_samples, batch sizes)
    "cpu": (20_000, (128, 1024)),
    "cuda": (200_000, (256, 4096)),
}
QUICK = {"n": 1_024, "batch_sizes": (64, 256), "repeats": 2, "epochs": 2}


# ---------------------------------------------------------------- data, model


def make_data(n_samples, seed=SEED):
    """Standardized float32 random-normal blocks, built without float64 copies.

    Low peak memory matters: the memory baseline child builds the data too.
    """
    rng = np.random.default_rng(seed)
    data = {}
    for name, n_features in MODALITIES.items():
        x = rng.standard_normal((n_samples, n_features), dtype=np.float32)
        x -= x.mean(axis=0, dtype=np.float64).astype(np.float32)
        square_sum = sum(
            np.square(x[i : i + 4096]).sum(axis=0, dtype=np.float64)
            for i in range(0, n_samples, 4096)
        )
        x /= np.sqrt(square_sum / n_samples).astype(np.float32)
        data[name] = x
    return data


def nbytes(data):
    return sum(x.nbytes for x in data.values())


def mlp(sizes, final_activation):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if final_activation or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ReferenceAutoencoder(nn.Module):
    """The architecture of the brief, written out by hand (used by (a), (b))."""

    def __init__(self):
        super().__init__()
        self.encoders = nn.ModuleDict(
            {m: mlp((d, *HIDDEN_DIMS), final_activation=True) for m, d in MODALITIES.items()}
        )
        self.project = nn.Linear(HIDDEN_DIMS[-1] * len(MODALITIES), ENCODING_DIM)
        self.decoders = nn.ModuleDict(
            {
                m: mlp((ENCODING_DIM, *reversed(HIDDEN_DIMS), d), final_activation=False)
                for m, d in MODALITIES.items()
            }
        )

    def encode(self, **inputs):
        features = [self.encoders[m](inputs[m]) for m in MODALITIES]
        return self.project(torch.cat(features, dim=1))

    def forward(self, **inputs):
        code = self.encode(**inputs)
        return {m: decoder(code) for m, decoder in self.decoders.items()}


def reconstruction_loss(reconstructions, targets):
    """Mean over modalities of each modality's MSE."""
    losses = [F.mse_loss(reconstructions[m], targets[m]) for m in MODALITIES]
    return sum(losses) / len(losses)


def param_bytes(module):
    return sum(p.numel() * p.element_size() for p in module.parameters())


def n_params(module):
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------- timing


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device):
    """Wall seconds of ``fn()``, with the device synchronized around it."""
    gc.collect()
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def rotated(items, shift):
    shift %= len(items)
    return items[shift:] + items[:shift]


def median(values):
    return statistics.median(values) if values else float("nan")


# ------------------------------------------------------------ (a) raw loop


class RawLoop:
    """(a): a hand-written training loop over tensors made once on the device."""

    def __init__(self, data, batch_size, device):
        torch.manual_seed(SEED)
        self.model = ReferenceAutoencoder().to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.tensors = {m: torch.as_tensor(x, device=device) for m, x in data.items()}
        self.n_samples = len(next(iter(data.values())))
        self.batch_size = batch_size
        self.device = device

    def __call__(self, n_epochs):
        self.model.train()
        for _ in range(n_epochs):
            order = torch.randperm(self.n_samples, device=self.device)
            for start in range(0, self.n_samples, self.batch_size):
                raw_step(self.model, self.optimizer, self.tensors, order[start : start + self.batch_size])


def raw_step(model, optimizer, tensors, index):
    """One hand-written training step on the rows ``index`` of ``tensors``."""
    batch = {m: x.index_select(0, index) for m, x in tensors.items()}
    optimizer.zero_grad(set_to_none=True)
    loss = reconstruction_loss(model(**batch), batch)
    loss.backward()
    optimizer.step()
    loss.item()  # the host sync skorch makes too


# ------------------------------------------------- (b) skorch's default path


class MeanMSE(nn.Module):
    def forward(self, reconstructions, targets):
        return reconstruction_loss(reconstructions, targets)


class InputIsTargetNet(NeuralNet):
    """skorch's NeuralNet with X as its own target; the data path is untouched."""

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, _ = unpack_data(batch)
        Xi = to_tensor(Xi, device=self.device)  # once: used as input and target
        reconstructions = self.infer(Xi, **fit_params)
        loss = self.get_loss(reconstructions, None, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": reconstructions}

    def get_loss(self, y_pred, y_true=None, X=None, training=False):
        return self.criterion_(y_pred, X)


class SkorchDefaultFit:
    """(b): fit a plain NeuralNet with skorch's default dataset and DataLoader."""

    def __init__(self, data, batch_size, device):
        self.data = data
        self.net = InputIsTargetNet(
            ReferenceAutoencoder,
            criterion=MeanMSE,
            optimizer=torch.optim.Adam,
            lr=LR,
            batch_size=batch_size,
            iterator_train__shuffle=True,
            train_split=None,
            device=device,
            verbose=0,
        )

    def __call__(self, n_epochs):
        torch.manual_seed(SEED)
        self.net.set_params(max_epochs=n_epochs).fit(self.data)


# --------------------------------------------------------------- (c) skmmae


def available_speed_options():
    params = Speed().get_params()
    return [name for name in SPEED_OPTIONS if name in params]


#: Options that add compute beyond the plain architecture, switched off so
#: that skmmae does the same arithmetic as the hand-written loop. (The kernel
#: read-outs are fitted once, after the last epoch: a fixed cost per fit that
#: the per-epoch difference cancels, but that would weigh on the memory rows.)
#: ``layers``: the options of the hidden layers (``HiddenLayers``).
PLAIN = dict(
    layers=dict(layer_norm=False, dropout=0.0), noise_std=0.0, input_dropout=0.0,
    modality_dropout=0.0, ema_decay=0.0, readout="decoder",
)

_ESTIMATOR_DEFAULTS = MultimodalAutoencoder().get_params()

#: The same options at the estimator's defaults (the quality regularizers).
REGULARIZED = {name: _ESTIMATOR_DEFAULTS[name] for name in PLAIN if name != "layers"}
REGULARIZED["layers"] = {}  # HiddenLayers' defaults: LayerNorm and dropout

#: The estimator's default architecture and regularizers: every parameter at
#: its default but the code size, batch size and number of epochs.
DEFAULTS_ALL = dict(REGULARIZED, widths=HiddenLayers().widths, fusion=_ESTIMATOR_DEFAULTS["fusion"])


def skmmae_estimator(batch_size, device, widths=HIDDEN_DIMS, **options):
    params = dict(PLAIN, fusion="concat")
    params.update(options)
    layers = params.pop("layers")
    speed = {name: params.pop(name) for name in SPEED_OPTIONS if name in params}
    return MultimodalAutoencoder(
        encoding_dim=ENCODING_DIM,
        hidden_dims=HiddenLayers(widths, **layers),
        batch_size=batch_size,
        max_epochs=1,
        device=str(device),
        # The threads of the loops it is compared with (--threads), not the
        # estimator's default budget (half the CPUs).
        speed=Speed(n_threads=torch.get_num_threads(), **speed),
        random_state=SEED,
        **params,
    )


class SkmmaeFit:
    """(c): fit ``MultimodalAutoencoder``; the last fitted estimator is kept."""

    def __init__(self, data, batch_size, device, **options):
        self.data = data
        self.estimator = skmmae_estimator(batch_size, device, **options)

    def __call__(self, n_epochs):
        self.estimator.set_params(max_epochs=n_epochs).fit(self.data)


# --------------------------------------------------------------- variants


class Variant:
    """One row of a table: a callable ``run`` and how to time it.

    Training rows: ``run(n_epochs)``; :meth:`measure` with ``per_fit=True``
    times an n-epoch and a 1-epoch call and takes the difference, otherwise
    it divides the n-epoch call by n. Transform rows: ``run()``, timed whole.
    """

    def __init__(self, key, label, run, per_fit, show_fit1=False):
        self.key, self.label, self.run = key, label, run
        self.per_fit, self.show_fit1 = per_fit, show_fit1

    def measure(self, n_epochs, device):
        if not self.per_fit:
            return {"epoch_s": timed(lambda: self.run(n_epochs), device) / n_epochs}
        fit1 = timed(lambda: self.run(1), device)
        fit_n = timed(lambda: self.run(n_epochs), device)
        return {"epoch_s": (fit_n - fit1) / (n_epochs - 1), "fit1_s": fit1}


def training_variants(data, batch_size, device, skip=()):
    """The rows of the training table; (a) and (c) always, others unless in ``skip``."""
    variants = [
        Variant("a", "(a) raw PyTorch loop" + (" (naive)" if device.type == "cuda" else ""),
                RawLoop(data, batch_size, device), per_fit=False),
        Variant("b", "(b) skorch NeuralNet, default data path",
                SkorchDefaultFit(data, batch_size, device), per_fit=True),
        Variant("c", "(c) skmmae MultimodalAutoencoder" + default_options_note(),
                SkmmaeFit(data, batch_size, device), per_fit=True, show_fit1=True),
    ]
    # What the quality defaults cost per epoch: the regularizers on the same
    # architecture, then the estimator's defaults as a whole.
    variants += [
        Variant("c+reg", "(c) skmmae, regularizers at their defaults",
                SkmmaeFit(data, batch_size, device, **REGULARIZED), per_fit=True),
        Variant("c+defaults", "(c) skmmae, default architecture and regularizers",
                SkmmaeFit(data, batch_size, device, **DEFAULTS_ALL), per_fit=True),
    ]
    if device.type != "cuda":
        # The defaults fuse Adam on CPU too; c-off steps with the raw loop's Adam.
        variants.append(Variant("c-off", "(c) skmmae, fused_optimizer=False",
                                SkmmaeFit(data, batch_size, device, fused_optimizer=False),
                                per_fit=True))
    variants = [v for v in variants if v.key not in skip]
    if device.type != "cuda":
        return variants
    for key, label, options in speed_option_sets(available_speed_options()):
        if key in skip:
            continue
        fit = SkmmaeFit(data, batch_size, device, **options)
        variants.append(Variant(key, f"(c) skmmae, {label}", fit, per_fit=True, show_fit1=True))
    return variants


def default_options_note():
    """What the estimator's defaults of the speed options are, for the row label."""
    defaults = Speed().get_params()
    shown = [f"{name}={defaults[name]!r}" for name in available_speed_options()]
    return f" ({', '.join(shown)})" if shown else ""


def speed_option_sets(names):
    """(key, label, options): all off, all on, then each one alone (the others off).

    The options are set explicitly, since their defaults may be "auto".
    """
    if not names:
        return []
    sets = [("c-off", "speed options all off", dict.fromkeys(names, False))]
    if len(names) > 1:
        sets.append(("c+all", "speed options all on", dict.fromkeys(names, True)))
    for name in names:
        sets.append((f"c+{name}", f"only {name}=True", {other: other == name for other in names}))
    return sets


def run_rounds(variants, run_one, repeats, label):
    """Call ``run_one(variant)`` for every variant, ``repeats`` rotated rounds.

    A variant that raises is reported once and left out of later rounds.
    Returns ``{key: [result per round]}`` and ``{key: error text}``.
    """
    results = {v.key: [] for v in variants}
    errors = {}
    for round_index in range(repeats):
        print(f"  [{label}] round {round_index + 1}/{repeats}", file=sys.stderr, flush=True)
        for variant in rotated(variants, round_index):
            if variant.key in errors:
                continue
            try:
                started = time.perf_counter()
                result = run_one(variant)
                results[variant.key].append(result)
                # Each measure as it comes (stderr): a run cut by a time limit
                # still tells what it measured, and where the time went.
                measured = ", ".join(f"{k} {v:.4f}" for k, v in result.items())
                print(f"    {variant.key}: {measured} ({time.perf_counter() - started:.1f} s)",
                      file=sys.stderr, flush=True)
            except Exception as error:  # keep the other rows; say what failed
                errors[variant.key] = f"{type(error).__name__}: {error}"
                traceback.print_exc()
    return results, errors


def warm_up(variants, device):
    for variant in variants:
        try:
            seconds = timed(lambda: variant.run(1), device)
            print(f"    warm-up {variant.key}: {seconds:.1f} s", file=sys.stderr, flush=True)
        except Exception:
            traceback.print_exc()  # the timed rounds will record the error


# ------------------------------------------------------------- summaries


def summarize(results, reference, value, reference_value=None):
    """Median of ``value`` per variant and median per-round ratio to ``reference``.

    The ratio divides ``value`` by the reference's ``reference_value`` (default:
    ``value``) of the same round; a variant left out after an error keeps the
    rounds it has, paired with the reference's first rounds.
    """
    ref = [r[reference_value or value] for r in results[reference]]
    rows = {}
    for key, rounds in results.items():
        values = [r[value] for r in rounds if value in r]
        ratios = [v / base for v, base in zip(values, ref) if base > 0]
        rows[key] = {
            "median_s": median(values),
            "ratio": median(ratios),
            "n": len(values),
            "all_s": values,
        }
    return rows


def benchmark_training(data, batch_size, device, args):
    variants = training_variants(data, batch_size, device, args.skip)
    warm_up(variants, device)
    label = f"{device.type} bs={batch_size} fit"
    results, errors = run_rounds(
        variants, lambda v: v.measure(args.epochs, device), args.repeats, label
    )
    epoch_rows = summarize(results, "a", "epoch_s")
    fit1_rows = summarize(results, "a", "fit1_s", "epoch_s")  # 1-epoch fit / (a) epoch
    rows = []
    for variant in variants:
        rows.append({"key": variant.key, "what": "s/epoch", "label": variant.label,
                     **epoch_rows[variant.key], "error": errors.get(variant.key)})
        if variant.show_fit1:
            rows.append({"key": variant.key + ":fit1", "what": "s/fit",
                         "label": "    same, one 1-epoch fit, setup included",
                         **fit1_rows[variant.key], "error": errors.get(variant.key)})
    fitted = skmmae_of(variants)
    check_same_model(fitted)
    return rows, fitted


def skmmae_of(variants):
    """The fitted estimator of the default skmmae variant (c)."""
    return next(v.run.estimator for v in variants if v.key == "c")


def check_same_model(fitted):
    """Warn if skmmae's model does not have the reference's parameter count."""
    expected = n_params(ReferenceAutoencoder())
    if not hasattr(fitted, "net_"):
        return
    module = fitted.net_.module_
    # The concat fusion's placeholders stand in for missing modalities only;
    # with every modality present they take no part in the arithmetic.
    unused = n_params(module.fusion.placeholders) if hasattr(module.fusion, "placeholders") else 0
    got = n_params(module) - unused
    if got != expected:
        print(f"WARNING: skmmae's module has {got} parameters, the reference {expected}",
              file=sys.stderr)


# --------------------------------------------------------------- transform


def inference_batch_size(net, n_samples):
    """The batch size skorch's ``get_iterator(training=False)`` gives the net."""
    size = net.get_params_for("iterator_valid").get("batch_size", net.batch_size)
    return n_samples if size == -1 else size


def raw_encode(model, data, batch_size, device):
    """Codes of ``data`` with encoders + fusion only, as a numpy array.

    The codes stay on the device until the end and are copied back once.
    """
    tensors = {m: torch.as_tensor(x, device=device) for m, x in data.items()}
    n_samples = len(next(iter(tensors.values())))
    codes = []
    with torch.inference_mode():
        for start in range(0, n_samples, batch_size):
            batch = {m: x[start : start + batch_size] for m, x in tensors.items()}
            codes.append(model.encode(**batch))
    return torch.cat(codes).cpu().numpy()


def benchmark_transform(data, estimator, device, repeats):
    n_samples = len(next(iter(data.values())))
    batch_size = inference_batch_size(estimator.net_, n_samples)
    torch.manual_seed(SEED)
    model = ReferenceAutoencoder().to(device).eval()
    on_device = estimator._inference_data(data)
    variants = [
        Variant("raw", f"raw encode loop (inference_mode, bs {batch_size})",
                lambda: raw_encode(model, data, batch_size, device), per_fit=False),
        Variant("transform", f"skmmae transform (bs {batch_size})",
                lambda: estimator.transform(data), per_fit=False),
        # Where transform's time goes: checking X and copying it to the
        # device (where its values are proven finite), then encoding the
        # copy and bringing the codes back.
        Variant("t:checks", "    of which: checks and copy to the device",
                lambda: estimator._inference_data(data), per_fit=False),
        Variant("t:encode", "    of which: encode of that copy, codes back",
                lambda: _inference.encode(estimator.net_, on_device), per_fit=False),
    ]
    if estimator.net_.cuda_graphs is not None:
        eager = copy.deepcopy(estimator)
        eager.net_.callbacks_ = [
            (name, callback) for name, callback in eager.net_.callbacks_
            if callback is not eager.net_.cuda_graphs
        ]
        variants.append(Variant("t:eager", "skmmae transform, encode graph off",
                                lambda: eager.transform(data), per_fit=False))
    outputs = {v.key: v.run() for v in variants}  # warm-up (captures the encode graph)
    shapes = {key: outputs[key].shape for key in ("raw", "transform", "t:eager") if key in outputs}
    if len(set(shapes.values())) != 1:
        print(f"WARNING: transform shapes differ: {shapes}", file=sys.stderr)
    results, errors = run_rounds(
        variants, lambda v: {"s": timed(v.run, device)}, repeats, f"{device.type} transform"
    )
    summary = summarize(results, "raw", "s")
    return [{"key": v.key, "what": "s/call", "label": v.label, **summary[v.key],
             "error": errors.get(v.key)} for v in variants]


# ----------------------------------------------------------------- memory


def read_status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def peak_rss_bytes():
    kib = read_status_kib("VmHWM")
    if kib is None:  # not Linux: ru_maxrss is KiB on Linux, bytes on macOS
        import resource

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * 1024


def touch_device(device):
    """One tiny forward/backward: loads BLAS kernels or creates the CUDA context."""
    layer = nn.Linear(8, 8).to(device)
    layer(torch.ones(4, 8, device=device)).sum().backward()
    synchronize(device)


WARM_UP_FIT = {"n": 256, "batch_size": 32}  # 8 full batches: enough for a CUDA graph


def reset_peak_rss():
    """Set VmHWM to the current RSS (Linux >= 4.0); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def memory_child(role, n_samples, batch_size, device):
    """Body of a memory subprocess; returns what it prints as JSON.

    Every role builds the data and touches the device. "baseline" stops
    there. "fit" then fits skmmae (1 epoch) on all of it. "warm" first fits
    skmmae on 256 rows (one-off costs: lazy initialization in torch,
    allocator arenas, kernel workspaces), resets the peak RSS, then does the
    same fit as "fit"; its ``fit_own_peak`` is the fit's peak above its start.
    """
    data = make_data(n_samples)
    touch_device(device)
    out = {"role": role, "data_bytes": nbytes(data)}
    if role == "warm":
        head = {m: x[: WARM_UP_FIT["n"]] for m, x in data.items()}
        skmmae_estimator(WARM_UP_FIT["batch_size"], device).fit(head)
        gc.collect()
        out["peak_was_reset"] = reset_peak_rss()
        start_rss = read_status_kib("VmRSS") * 1024 if out["peak_was_reset"] else None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    if role in ("fit", "warm"):
        estimator = skmmae_estimator(batch_size, device).fit(data)
        out["param_bytes"] = param_bytes(estimator.net_.module_)
    if device.type == "cuda":
        out["cuda_max_allocated"] = torch.cuda.max_memory_allocated(device)
    out["peak_rss"] = peak_rss_bytes()
    if role == "warm" and out["peak_was_reset"]:
        out["fit_own_peak"] = out["peak_rss"] - start_rss
    return out


def run_memory_child(role, n_samples, batch_size, device, threads):
    command = [sys.executable, os.path.abspath(__file__), "--_memory-child", role,
               "--n", str(n_samples), "--batch-sizes", str(batch_size),
               "--device", device.type, "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {role} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


_BASELINES = {}  # (device, n) -> the baseline child's result; it needs no batch size


def benchmark_memory(n_samples, batch_size, device, threads):
    """Peak-memory rows: increases in bytes and relative to data + model."""
    key = (device.type, n_samples)
    if key not in _BASELINES:
        _BASELINES[key] = run_memory_child("baseline", n_samples, 1, device, threads)
    children = {"baseline": _BASELINES[key]}
    for role in ("fit", "warm"):
        children[role] = run_memory_child(role, n_samples, batch_size, device, threads)
    base, fit, warm = children["baseline"], children["fit"], children["warm"]
    size = fit["data_bytes"] + fit["param_bytes"]
    rows = [("fit peak RSS - baseline peak RSS (two processes)",
             fit["peak_rss"] - base["peak_rss"])]
    if "fit_own_peak" in warm:
        rows.append(("  same fit after a 256-row fit: peak - start RSS", warm["fit_own_peak"]))
    if device.type == "cuda":
        rows.append(("fit torch.cuda.max_memory_allocated", fit["cuda_max_allocated"]))
    return {
        "data_plus_model_bytes": size,
        "children": children,
        "rows": [{"label": label, "bytes": value, "ratio": value / size} for label, value in rows],
    }


# ----------------------------------------------------------------- output


def environment(threads):
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "skmmae": getattr(skmmae, "__version__", "?"),
        "threads": threads,
        "matmul_precision": torch.get_float32_matmul_precision(),
        "cpu": cpu_model(),
        "speed_options": available_speed_options(),
    }
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical CPUs)"
    except OSError:
        pass
    return f"{platform.processor() or '?'} ({os.cpu_count()} logical CPUs)"


def print_environment(env):
    print("command: python " + " ".join(sys.argv))
    print(f"torch {env['torch']}, skorch {env['skorch']}, scikit-learn {env['sklearn']}, "
          f"numpy {env['numpy']}, skmmae {env['skmmae']}, Python {env['python']}")
    print(f"torch threads: {env['threads']}; float32 matmul precision: "
          f"{env['matmul_precision']}; CPU: {env['cpu']}")
    if "gpu" in env:
        print(f"GPU: {env['gpu']}")
    print(f"skmmae speed options: {', '.join(env['speed_options']) or 'none'}")


def print_timing_table(title, rows, reference_label):
    width = max(len(row["label"]) for row in rows)
    key_width = max(len(row["key"]) for row in rows)
    print(f"\n{title}")
    print(f"{'key':<{key_width}} {'variant':<{width}} {'median':>9} {'':<7} "
          f"{'x ' + reference_label:>8} {'n':>3}")
    print("-" * (key_width + width + 32))
    for row in rows:
        ratio = f"{row['ratio']:.2f}x" if row["n"] else "-"
        print(f"{row['key']:<{key_width}} {row['label']:<{width}} {row['median_s']:>9.4f} "
              f"{row['what']:<7} {ratio:>8} {row['n']:>3}")
        if row.get("error"):
            print(f"{'':<4}error: {row['error'][:200]}")


def print_memory(memory):
    size = memory["data_plus_model_bytes"] / 2**20
    peaks = ", ".join(f"{role} {child['peak_rss'] / 2**20:.1f}"
                      for role, child in memory["children"].items())
    print(f"\npeak memory of a 1-epoch fit, fresh processes (data + model = {size:.1f} MiB; "
          f"peak RSS in MiB: {peaks})")
    for row in memory["rows"]:
        print(f"{row['label']:<50} {row['bytes'] / 2**20:>9.1f} MiB  "
              f"{row['ratio']:>6.2f}x data+model")


def run_config(device, n_samples, batch_size, args):
    print(f"\n=== {device.type}, N={n_samples}, batch {batch_size}: {args.repeats} rounds, "
          f"per epoch from {args.epochs}-epoch fits ===", flush=True)
    data = make_data(n_samples)
    train_rows, estimator = benchmark_training(data, batch_size, device, args)
    print_timing_table("training: seconds per epoch (1-epoch fit rows: seconds per fit, "
                       "ratio to (a)'s epoch)", train_rows, "(a)")
    transform_rows = []
    if hasattr(estimator, "net_"):
        transform_rows = benchmark_transform(data, estimator, device, args.repeats)
        print_timing_table("transform: seconds per call over all N rows", transform_rows, "raw")
    del estimator
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    memory = None
    if not args.skip_memory:
        memory = benchmark_memory(n_samples, batch_size, device, args.threads)
        print_memory(memory)
    sys.stdout.flush()
    return {"device": device.type, "n": n_samples, "batch_size": batch_size,
            "epochs": args.epochs, "repeats": args.repeats,
            "train": train_rows, "transform": transform_rows, "memory": memory}


# ------------------------------------------------- cost of the defaults


#: Code size of the cost checks (the issue "Defaults that hold on every kind
#: of data": two synthetic modalities of 240 + 76 features, code 8).
COST_ENCODING_DIM = 8


class LastEpochEnd(skorch.callbacks.Callback):
    """Remember when the last epoch ended: what comes after it is post-fit work."""

    def on_epoch_end(self, net, **kwargs):
        self.time = time.perf_counter()


def post_fit_share(n_samples, n_epochs, device):
    """Seconds per epoch and seconds after the last epoch of a default fit.

    Every default of the estimator except ``encoding_dim`` and
    ``max_epochs=n_epochs``; the share is that of a default fit of
    ``max_epochs`` epochs (the estimator's default), from the measured
    epoch time (skorch's ``dur``, all epochs but the first).
    """
    data = make_data(n_samples)
    estimator = MultimodalAutoencoder(
        encoding_dim=COST_ENCODING_DIM, max_epochs=n_epochs, device=str(device),
        random_state=SEED, callbacks=[LastEpochEnd()],
    )
    synchronize(device)
    estimator.fit(data)
    synchronize(device)
    # The estimator fits a copy of the callback.
    marker = next(c for _, c in estimator.net_.callbacks_ if isinstance(c, LastEpochEnd))
    post = time.perf_counter() - marker.time
    durations = estimator.net_.history[:, "dur"]
    epoch = median(durations[1:] if len(durations) > 1 else durations)
    default_epochs = MultimodalAutoencoder().max_epochs
    # What the fitted model then costs to use on its own rows.
    predict = timed(lambda: estimator.predict_modality({"b": data["b"]}, "a"), device)
    return {
        "n": n_samples, "epochs run": n_epochs, "epoch s": epoch, "post-fit s": post,
        "share of a default fit": post / (default_epochs * epoch + post),
        "default fit s": default_epochs * epoch + post, "predict_modality s": predict,
    }


def predict_cost(n_samples, repeats, device):
    """``predict_modality`` against ``transform`` + ``inverse_transform`` of the same rows."""
    data = make_data(n_samples)
    estimator = MultimodalAutoencoder(
        encoding_dim=COST_ENCODING_DIM, max_epochs=1, device=str(device), random_state=SEED
    ).fit(data)
    given = {"b": data["b"]}
    round_trip = lambda: estimator.inverse_transform(estimator.transform(given))  # noqa: E731
    predict = lambda: estimator.predict_modality(given, "a")  # noqa: E731
    round_trip(), predict()  # warm up
    ratios, seconds = [], {"round trip": [], "predict_modality": []}
    for _ in range(repeats):
        a, b = timed(round_trip, device), timed(predict, device)
        seconds["round trip"].append(a)
        seconds["predict_modality"].append(b)
        ratios.append(b / a)
    return {"n": n_samples, "transform + inverse_transform s": median(seconds["round trip"]),
            "predict_modality s": median(seconds["predict_modality"]),
            "ratio": median(ratios), "refine": repr(estimator.refine),
            "readout": estimator.readout}


def benchmark_cost(device, args):
    """The issue's bounds on the defaults: predict time, and post-fit time per fit."""
    print(f"\n=== cost of the defaults on {device.type} (code {COST_ENCODING_DIM}) ===",
          flush=True)
    predict = predict_cost(args.n or 20_000, args.repeats, device)
    print("predict_modality(b -> a) vs transform + inverse_transform of b, "
          f"N={predict['n']}: {predict['predict_modality s']:.3f} s vs "
          f"{predict['transform + inverse_transform s']:.3f} s = {predict['ratio']:.2f}x "
          "(bound: 3x)", flush=True)
    shares = []
    for n_samples, n_epochs in ((2_000, 100), (200_000, args.epochs)):
        share = post_fit_share(n_samples, n_epochs, device)
        shares.append(share)
        print(f"post-fit work after a default fit, N={n_samples} ({n_epochs} epochs run): "
              f"{share['post-fit s']:.2f} s, epoch {share['epoch s']:.2f} s -> "
              f"{100 * share['share of a default fit']:.1f}% of a default fit (bound: 10%); "
              f"a default fit {share['default fit s']:.0f} s, predict_modality(b -> a) of "
              f"the {n_samples} rows {share['predict_modality s']:.2f} s", flush=True)
    return {"device": device.type, "predict": predict, "post_fit": shares}


# ------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Per-epoch training time, transform time and peak memory of skmmae "
        "against a hand-written PyTorch loop and skorch's default data path.",
    )
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                        help="'all' (default): the CPU, and CUDA when available")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="interleaved rounds (default 5; 2 with --quick)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="n of the n-epoch minus 1-epoch difference, >= 2 "
                        "(default 5; 2 with --quick)")
    parser.add_argument("--n", type=int, default=None,
                        help="samples (default: 20000 on CPU, 200000 on CUDA)")
    parser.add_argument("--batch-sizes", type=lambda s: tuple(int(b) for b in s.split(",")),
                        default=None, help="comma-separated (default: 128,1024 on CPU, "
                        "256,4096 on CUDA)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: N={QUICK['n']}, batch sizes {QUICK['batch_sizes']}, "
                        f"{QUICK['repeats']} rounds, {QUICK['epochs']}-epoch fits")
    parser.add_argument("--skip", type=lambda s: tuple(s.split(",")), default=(),
                        help="comma-separated keys of training rows to leave out, e.g. "
                        "'b,c+bf16' (the key column of the table; a and c always run)")
    parser.add_argument("--matmul-precision", choices=("highest", "high", "medium"),
                        default="highest", help="torch.set_float32_matmul_precision for "
                        "every side alike ('high' allows TF32 GEMMs on GPUs that have them; "
                        "default 'highest', torch's default)")
    parser.add_argument("--skip-memory", action="store_true",
                        help="leave out the peak-memory subprocesses")
    parser.add_argument("--json", metavar="PATH", help="also write the results here "
                        "(rewritten after each configuration)")
    parser.add_argument("--cost", action="store_true",
                        help="only the cost of the defaults: predict_modality against "
                        "transform + inverse_transform at N=20000 (or --n), and the post-fit "
                        "work's share of a default fit at 2000 and 200000 rows (the latter "
                        "from --epochs epochs)")
    parser.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {"repeats": 5, "epochs": 5}
    args.repeats = args.repeats if args.repeats is not None else defaults["repeats"]
    args.epochs = args.epochs if args.epochs is not None else defaults["epochs"]
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (per-epoch time is a difference of fits)")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if {"a", "c"} & set(args.skip):
        parser.error("--skip: the rows a and c always run")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available here")
    return args


def configs(args):
    """(device, n_samples, batch_size) to run, in order."""
    names = {"cpu": ["cpu"], "cuda": ["cuda"],
             "all": ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])}[args.device]
    for name in names:
        n_samples, batch_sizes = DEFAULTS[name]
        if args.quick:
            n_samples, batch_sizes = QUICK["n"], QUICK["batch_sizes"]
        n_samples = args.n or n_samples
        for batch_size in args.batch_sizes or batch_sizes:
            yield torch.device(name), n_samples, batch_size


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_float32_matmul_precision(args.matmul_precision)
    if args.memory_child:
        result = memory_child(args.memory_child, args.n, args.batch_sizes[0],
                              torch.device(args.device))
        print(json.dumps(result))
        return
    started = time.perf_counter()
    env = environment(torch.get_num_threads())
    print_environment(env)
    report = {"environment": env, "arguments": vars(args), "configs": []}
    if args.cost:
        # configs() yields a device once per batch size; the cost checks run once each.
        for device in dict.fromkeys(device for device, _, _ in configs(args)):
            report["configs"].append(benchmark_cost(device, args))
        print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")
        if args.json:
            with open(args.json, "w") as out:
                json.dump(report, out, indent=1, default=str)
        return
    for device, n_samples, batch_size in configs(args):
        report["configs"].append(run_config(device, n_samples, batch_size, args))
        if args.json:
            with open(args.json, "w") as out:
                json.dump(report, out, indent=1, default=str)
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
