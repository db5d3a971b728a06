"""Video encoders: 3-D convolutions against a per-frame 2-D encoder and a temporal one.

Data: moving digits, ``skmmae.datasets.load_moving_digits`` where it exists,
else the same recipe inline: each sklearn digits image divided by 16, put on
a 16x16 canvas and moved 1 pixel per frame for 8 frames in one of 4
directions drawn by a seeded generator. Clips ``(n, 8, 16, 16)`` in [0, 1]
(so the loss is the BCE), the video alone (no caption: it names the digit).
A stratified split of ``--train`` and ``--test`` clips, ``random_state=0``.

Models: ``MultimodalAutoencoder(encoding_dim=16, max_epochs=<--epochs>,
batch_size=<--batch-size>, modalities={"clip": <video>}, random_state=<seed>)``,
all else at its defaults (``hidden_dims=(512,)`` with ``LayerNorm`` and
dropout 0.1). The batch size is 32, not the default 128, so that 20 epochs
of 800 clips are 500 steps (for about the same time): both models first sit
on a plateau that reconstructs the mean clip, and after 140 steps only the
3-D one had left it. The video kinds:

* ``conv3d``: ``Video()``, the default: ``Conv3d`` 1 -> 16 -> 32 (kernel 3,
  stride 2) over (time, height, width), flatten (32 x 2 x 4 x 4), the MLP;
  the decoder mirrors it with ``ConvTranspose3d``;
* ``factorized``: ``Video(encoder=..., decoder=...)``: each frame through
  ``Conv2d`` 1 -> 16 -> 32 (kernel 3, stride 2; 32 x 4 x 4 = 512 features a
  frame), then a ``Conv1d`` 512 -> 128 (kernel 3, stride 2) over the frames,
  flatten (128 x 4), the same MLP; the decoder mirrors it (MLP,
  ``ConvTranspose1d`` over time, then per frame a linear layer and
  ``ConvTranspose2d``). Both are built from the package's own conv builders.

Measured on the test clips: the pixel MSE of ``inverse_transform(transform(X))``
(values in [0, 1]); the accuracy of a logistic regression (``max_iter=2000``)
fitted on the training codes for the digit, and for the direction of motion;
and the fit time.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_video.py              # 20 epochs, seeds 0 and 1
    OMP_NUM_THREADS=1 python benchmarks/bench_video.py --epochs 5 --seeds 0
"""

import argparse
import math
import platform
import time

import numpy as np
import sklearn
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from torch import nn

import skmmae
from skmmae import MultimodalAutoencoder
from skmmae._layers import LayerSpec
from skmmae.modalities import Video
from skmmae.modalities._conv import _downsampled, conv_decoder, conv_encoder

FRAMES, CANVAS, DIGIT = 8, 16, 8
STEPS = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)])  # up, down, left, right
CHANNELS, TEMPORAL_CHANNELS = (16, 32), (128,)
# The estimator's default hidden layers, which the default encoder gets too.
HIDDEN = LayerSpec((512,), layer_norm=True, dropout=0.1)
ENCODING_DIM = 16


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20, help="max_epochs (default 20)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="default: 0 1")
    parser.add_argument("--train", type=int, default=800, help="training clips (default 800)")
    parser.add_argument("--test", type=int, default=400, help="test clips (default 400)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch_size (default 32)")
    return parser.parse_args()


def moving_digits():
    """Clips ``(1797, 8, 16, 16)`` in [0, 1], digits and directions, from the loader if any."""
    try:
        from skmmae.datasets import load_moving_digits
    except ImportError:
        pass
    else:
        bunch = load_moving_digits()
        clips = np.asarray(bunch.data["video"])
        return clips, bunch.target, bunch.direction, "skmmae.datasets.load_moving_digits"
    digits = load_digits()
    rng = np.random.default_rng(0)
    room = CANVAS - DIGIT - (FRAMES - 1)  # starts along the motion that keep the digit whole
    clips = np.zeros((len(digits.target), FRAMES, CANVAS, CANVAS), np.float32)
    directions = np.zeros(len(digits.target), np.int64)
    for i, image in enumerate(digits.images / 16.0):
        directions[i] = rng.integers(len(STEPS))
        step = STEPS[directions[i]]
        along, across = rng.integers(room + 1), rng.integers(CANVAS - DIGIT + 1)
        start = np.where(step == 0, across, np.where(step > 0, along, CANVAS - DIGIT - along))
        for t in range(FRAMES):
            top, left = start + t * step
            clips[i, t, top : top + DIGIT, left : left + DIGIT] = image
    return clips, digits.target, directions, "inline (sklearn load_digits on a 16x16 canvas)"


class FramewiseEncoder(nn.Module):
    """Each frame through 2-D convolutions, then 1-D convolutions over the frames and the MLP.

    Reads ``(n, channels, time, height, width)`` as the video kind's model does.
    """

    def __init__(self, sample_shape=(1, FRAMES, CANVAS, CANVAS)):
        super().__init__()
        channels, frames, height, width = sample_shape
        self.frame, per_frame = conv_encoder((channels, height, width), CHANNELS, ())
        self.temporal, _ = conv_encoder((per_frame, frames), TEMPORAL_CHANNELS, HIDDEN)

    def forward(self, x):
        n, c, t, h, w = x.shape
        features = self.frame(x.transpose(1, 2).reshape(n * t, c, h, w))
        return self.temporal(features.reshape(n, t, -1).transpose(1, 2))


class FramewiseDecoder(nn.Module):
    """The mirror of :class:`FramewiseEncoder`: codes to ``(n, channels, time, height, width)``."""

    def __init__(self, sample_shape=(1, FRAMES, CANVAS, CANVAS)):
        super().__init__()
        channels, frames, height, width = sample_shape
        per_frame = CHANNELS[-1] * math.prod(_downsampled((height, width), len(CHANNELS)))
        self.temporal = conv_decoder(ENCODING_DIM, HIDDEN, (per_frame, frames), TEMPORAL_CHANNELS)
        self.frame = nn.Sequential(
            nn.ReLU(), conv_decoder(per_frame, (), (channels, height, width), CHANNELS)
        )

    def forward(self, code):
        features = self.temporal(code)  # (n, per_frame, time)
        n, per_frame, t = features.shape
        frames = self.frame(features.transpose(1, 2).reshape(n * t, per_frame))
        return frames.reshape(n, t, *frames.shape[1:]).transpose(1, 2)


ENCODERS = {
    "conv3d": Video(),
    "factorized": Video(encoder=FramewiseEncoder, decoder=FramewiseDecoder),
}


def run(name, seed, data, args):
    clips_train, clips_test, y_train, y_test, moves_train, moves_test = data
    ae = MultimodalAutoencoder(
        ENCODING_DIM,
        modalities={"clip": ENCODERS[name]},
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        random_state=seed,
    )
    start = time.perf_counter()
    ae.fit({"clip": clips_train})
    fit_time = time.perf_counter() - start
    Z_train, Z_test = ae.transform({"clip": clips_train}), ae.transform({"clip": clips_test})
    rec = ae.inverse_transform(Z_test)["clip"]
    mse = float(np.mean((rec - clips_test) ** 2))
    digit = LogisticRegression(max_iter=2000).fit(Z_train, y_train).score(Z_test, y_test)
    move = LogisticRegression(max_iter=2000).fit(Z_train, moves_train).score(Z_test, moves_test)
    n_params = sum(p.numel() for p in ae.net_.module_.parameters())
    return {"mse": mse, "digit": digit, "move": move, "fit_s": fit_time, "params": n_params}


def main():
    args = parse_args()
    clips, y, moves, source = moving_digits()
    data = train_test_split(
        clips, y, moves, train_size=args.train, test_size=args.test, stratify=y, random_state=0
    )
    print(
        f"data: {source}, clips {clips.shape[1:]}, {args.train} train / {args.test} test; "
        f"{args.epochs} epochs, batch size {args.batch_size}; torch {torch.__version__}, "
        f"sklearn {sklearn.__version__}, skmmae {skmmae.__version__}, "
        f"{torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}"
    )
    baseline = np.mean((data[0].mean(axis=0) - data[1]) ** 2)
    print(f"test pixel MSE of the training mean clip: {baseline:.4f}")
    print("| encoder | seed | test pixel MSE | LR digit | LR direction | fit (s) | parameters |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    results = {name: [] for name in ENCODERS}
    for seed in args.seeds:
        for name in ENCODERS:
            r = run(name, seed, data, args)
            results[name].append(r)
            print(
                f"| {name} | {seed} | {r['mse']:.4f} | {r['digit']:.3f} | {r['move']:.3f} | "
                f"{r['fit_s']:.1f} | {r['params']:,} |",
                flush=True,
            )
    for name, rows in results.items():
        mean = {key: np.mean([r[key] for r in rows]) for key in rows[0]}
        print(
            f"| {name} | mean | {mean['mse']:.4f} | {mean['digit']:.3f} | {mean['move']:.3f} | "
            f"{mean['fit_s']:.1f} | |"
        )


if __name__ == "__main__":
    main()
