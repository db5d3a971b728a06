"""Encoding with onnxruntime against the estimator's ``transform``, on CPU.

A default ``MultimodalAutoencoder(encoding_dim=10, max_epochs=5)`` fitted on
mfeat (2,000 digits, six views); its encoder exported with
``export_onnx(part="encoder")``. Timed, side by side, in rounds: ``transform``
of all 2,000 rows (its input checks included), and one onnxruntime run on
the same rows as float32 arrays, with one intra-op thread each (the
estimator's own budget on this 2-core machine). The codes are compared too.

Usage::

    python benchmarks/bench_onnx.py [--repeats 7]
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import onnxruntime

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_mfeat
from skmmae.options import Speed


def timed(call, repeats):
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    X, _ = load_mfeat(return_X_y=True)
    ae = MultimodalAutoencoder(10, max_epochs=5, speed=Speed(n_threads=1), random_state=0).fit(X)
    path = ae.export_onnx(os.path.join(tempfile.mkdtemp(), "encoder.onnx"))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(path, options)
    feeds = {name: np.asarray(block, dtype=np.float32) for name, block in X.items()}
    codes = session.run(None, feeds)[0]
    print(f"largest difference of the codes: {np.abs(codes - ae.transform(X)).max():.2e}")
    rounds = {"transform": [], "onnxruntime": []}
    for _ in range(3):  # rotated rounds, so drifts of the machine cancel
        rounds["transform"].append(timed(lambda: ae.transform(X), args.repeats))
        rounds["onnxruntime"].append(timed(lambda: session.run(None, feeds), args.repeats))
    transform = statistics.median(rounds["transform"])
    runtime = statistics.median(rounds["onnxruntime"])
    print(f"transform of 2,000 rows: {transform * 1e3:.1f} ms; onnxruntime: "
          f"{runtime * 1e3:.1f} ms ({transform / runtime:.2f}x faster)")


if __name__ == "__main__":
    main()
