"""Data-parallel training: one fit as 1 or 2 ``torchrun`` processes, against a hand-written DDP loop.

What is compared (the same arithmetic on both sides)
----------------------------------------------------
bench_speed.py's data and model: two random-normal modalities (240 and 76
features, ``--samples`` rows), MLP encoders 256 -> 128, concat fusion to a
32-d code, mirrored decoders, the mean of the two MSEs, Adam at lr 1e-3,
shuffled global batches of ``--batch-size`` rows.

(a) ddp     a hand-written loop: ``DistributedDataParallel`` around the
            hand-written model, each process indexing its contiguous share
            of every global batch (one permutation per epoch, broadcast from
            rank 0), forward, loss, backward (DDP averages the gradients in
            buckets while backward runs), step, ``loss.item()``.
(b) accelerate  the same loop through Hugging Face ``accelerate`` (when it
            is installed): model and optimizer from ``Accelerator.prepare``
            (its DDP wrapper), ``accelerator.backward``; the same shares.
(c) skmmae  ``MultimodalAutoencoder(data_parallel=True)`` with bench_speed's
            (c) settings: skmmae's sharded iterator, gradients summed in one
            collective call after backward, the global batch's loss and
            counts summed every step.
(c-plain)   in a 1-process run only: the same estimator without
            ``data_parallel``, to show what the data-parallel path costs in
            one process.

Protocol
--------
Each configuration is one ``torchrun --standalone`` run of this script
(``--worker``): 1 process x 1 thread, 2 processes x 1 thread, and 1
process x 2 threads (torch's intra-op threads instead of processes).
Every process builds the same data. Each variant trains one warm-up epoch,
then ``--epochs`` epochs; the time per epoch is the median over those
epochs (skorch's ``dur`` for skmmae, the wall time of each epoch for the
loop), the post-fit steps excluded. Rank 0 reports.

Usage::

    python benchmarks/bench_data_parallel.py               # about 3 minutes on 2 cores
    python benchmarks/bench_data_parallel.py --samples 4096 --epochs 2

Run it alone on the machine: the processes compete for the cores.
"""

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).parent))
from bench_speed import (  # noqa: E402
    ReferenceAutoencoder, make_data, raw_step, reconstruction_loss, skmmae_estimator,
)

LR = 1e-3
CONFIGURATIONS = ((1, 1), (2, 1), (1, 2))  # (processes, threads per process)


class DDPLoop:
    """(a): the hand-written model in DistributedDataParallel, on this process's shares."""

    def __init__(self, data, batch_size):
        torch.manual_seed(0)
        self.model, self.optimizer = self.prepare(ReferenceAutoencoder())
        self.tensors = {m: torch.as_tensor(x) for m, x in data.items()}
        self.n_samples = len(next(iter(data.values())))
        self.batch_size = batch_size

    def prepare(self, model):
        model = torch.nn.parallel.DistributedDataParallel(model)
        return model, torch.optim.Adam(model.parameters(), lr=LR)

    def step(self, index):
        raw_step(self.model, self.optimizer, self.tensors, index)

    def epoch(self):
        world, rank = dist.get_world_size(), dist.get_rank()
        order = torch.randperm(self.n_samples)
        dist.broadcast(order, src=0)
        for start in range(0, self.n_samples, self.batch_size):
            self.step(torch.tensor_split(order[start : start + self.batch_size], world)[rank])


class AccelerateLoop(DDPLoop):
    """(b): the same loop through Hugging Face accelerate."""

    def prepare(self, model):
        from accelerate import Accelerator

        self.accelerator = Accelerator(cpu=True)  # joins the group torchrun set up
        return self.accelerator.prepare(model, torch.optim.Adam(model.parameters(), lr=LR))

    def step(self, index):
        batch = {m: x.index_select(0, index) for m, x in self.tensors.items()}
        self.optimizer.zero_grad(set_to_none=True)
        loss = reconstruction_loss(self.model(**batch), batch)
        self.accelerator.backward(loss)
        self.optimizer.step()
        loss.item()


def loop_epochs(loop_class, data, batch_size, epochs):
    loop = loop_class(data, batch_size)
    loop.epoch()  # warm-up
    seconds = []
    for _ in range(epochs):
        dist.barrier()
        start = time.perf_counter()
        loop.epoch()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def skmmae_epochs(data, batch_size, epochs, **params):
    ae = skmmae_estimator(batch_size, torch.device("cpu"), readout="decoder", **params)
    ae.set_params(max_epochs=epochs + 1).fit(data)
    return statistics.median(ae.net_.history[1:, "dur"])


def worker(args):
    dist.init_process_group("gloo")
    torch.set_num_threads(args.threads)
    data = make_data(args.samples)
    results = {"ddp": loop_epochs(DDPLoop, data, args.batch_size, args.epochs)}
    if importlib.util.find_spec("accelerate") is not None:
        results["accelerate"] = loop_epochs(AccelerateLoop, data, args.batch_size, args.epochs)
    results["skmmae"] = skmmae_epochs(data, args.batch_size, args.epochs, data_parallel=True)
    if dist.get_world_size() == 1:
        results["skmmae-plain"] = skmmae_epochs(data, args.batch_size, args.epochs)
    if dist.get_rank() == 0:
        Path(args.out).write_text(json.dumps(results))
    dist.destroy_process_group()


def run(processes, threads, args):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={processes}", __file__, "--worker", "--out", str(out),
            "--threads", str(threads), "--samples", str(args.samples), "--batch-size", str(args.batch_size),
            "--epochs", str(args.epochs),
        ]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run(command, env=env, check=True)
        return json.loads(out.read_text())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    print(f"# {platform.platform()}; {os.cpu_count()} CPUs; torch {torch.__version__}; "
          f"n={args.samples}, batch {args.batch_size}, median of {args.epochs} epochs after a warm-up")
    results = {config: run(*config, args) for config in CONFIGURATIONS}
    base = results[(1, 1)]
    print("| processes x threads | variant | s / epoch | speed-up vs 1 x 1 | x ddp |")
    print("| --- | --- | --- | --- | --- |")
    for (processes, threads), result in results.items():
        for variant, seconds in result.items():
            ratio = f"{seconds / result['ddp']:.2f}x" if variant != "ddp" else ""
            print(f"| {processes} x {threads} | {variant} | {seconds:.3f} | "
                  f"{base[variant] / seconds:.2f}x | {ratio} |"
                  if variant in base else f"| {processes} x {threads} | {variant} | {seconds:.3f} | | {ratio} |")


if __name__ == "__main__":
    main()
