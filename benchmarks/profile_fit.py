"""Where the host time of a skmmae fit goes: cProfile of bench_speed's (c).

On a GPU with CUDA graphs the device work of a step is one replay, so the
epoch time is set by what the host does per batch (skorch's loop, the
callbacks, the batch gather). This prints the wall time of a fit of (c)
(``bench_speed.py``'s model and data, the estimator's defaults), then the
functions with the most own time in a second, profiled fit.

Example::

    python benchmarks/profile_fit.py --device cpu --n 20000 --batch-size 128
    python3 benchmarks/profile_fit.py --device cuda --batch-size 256
"""

import argparse
import cProfile
import io
import pstats
import time

import torch

from bench_speed import make_data, skmmae_estimator, synchronize


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    data = make_data(args.n)
    estimator = skmmae_estimator(args.batch_size, device).set_params(max_epochs=args.epochs)
    estimator.fit(data)  # warm-up: CUDA context, kernels, first capture
    synchronize(device)
    start = time.perf_counter()
    estimator.fit(data)
    synchronize(device)
    wall = time.perf_counter() - start
    batches = args.epochs * -(-args.n // args.batch_size)
    print(f"{device.type}, N={args.n}, batch {args.batch_size}: {args.epochs}-epoch fit "
          f"{wall:.3f} s, {1e6 * wall / batches:.0f} us per batch (setup included)")
    profiler = cProfile.Profile()
    profiler.runcall(estimator.fit, data)
    synchronize(device)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(args.top)
    print(text.getvalue())


if __name__ == "__main__":
    main()
