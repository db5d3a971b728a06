"""Where the host time of a skmmae fit goes: cProfile of bench_speed's (c).

On a GPU with CUDA graphs the device work of a step is one replay, so the
epoch time is set by what the host does per batch (skorch's loop, the
callbacks, the batch gather). This prints the wall time of a fit of (c)
(``bench_speed.py``'s model and data, the estimator's defaults), then the
functions with the most own time in a second, profiled fit. With
``--kernels`` (CUDA), it also profiles the device side of 50 eager training
steps (``cuda_graphs=False``): the kernels a graph replays, how many per
step and their device time per step.

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
    parser.add_argument("--kernels", action="store_true",
                        help="also the device kernels of eager steps (CUDA)")
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
    if args.kernels:
        profile_kernels(data, args.batch_size, device, args.top)


def profile_kernels(data, batch_size, device, top, steps=50):
    """Device kernels of ``steps`` eager training steps: a table, counts and time per step."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    part = {name: x[: batch_size * steps] for name, x in data.items()}
    eager = skmmae_estimator(batch_size, device, cuda_graphs=False).set_params(max_epochs=1)
    eager.fit(part)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        eager.fit(part)
        synchronize(device)
    print(prof.key_averages().table(sort_by="self_device_time_total", row_limit=top))
    # Annotated ranges such as "Optimizer.step#Adam.step" also appear on the
    # device; only kernels and copies are summed.
    kernels = [
        e for e in prof.events()
        if e.device_type == DeviceType.CUDA and not getattr(e, "is_user_annotation", False)
    ]
    device_us = sum(e.device_time for e in kernels)
    print(f"eager steps: {len(kernels) / steps:.0f} device kernels and "
          f"{device_us / steps:.0f} us of device time per step (setup included)")


if __name__ == "__main__":
    main()
