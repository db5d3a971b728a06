"""Pack the BasicMotions series into ``skmmae/datasets/data/basic_motions.npz``.

Run once from the repository root with the folder of the ``.ts`` files as
argument (they come with the aeon package)::

    pip download --no-deps aeon==1.6.0 -d /tmp/aeon
    unzip -o /tmp/aeon/aeon-1.6.0-py3-none-any.whl 'aeon/datasets/data/BasicMotions/*' -d /tmp/aeon
    python tools/pack_basic_motions.py /tmp/aeon/aeon/datasets/data/BasicMotions

The packing is lossless for float32: each series as parsed from the
text, the archive's train cases first, then its test cases. The script
checks the round trip before writing.
"""

import sys
from pathlib import Path

import numpy as np

ACTIVITIES = ("Standing", "Walking", "Running", "Badminton")
STEPS = 100


def read_cases(path):
    """``(series (n, 6, 100), labels)`` of one ``.ts`` file (dimensions split by ':')."""
    series, labels = [], []
    lines = Path(path).read_text().splitlines()
    start = lines.index("@data") + 1
    for line in lines[start:]:
        if not line.strip():
            continue
        *dimensions, label = line.split(":")
        values = [np.array(dimension.split(","), dtype=np.float64) for dimension in dimensions]
        if len(values) != 6 or any(len(v) != STEPS for v in values):
            raise ValueError(f"{path}: a case without 6 dimensions of {STEPS} steps")
        series.append(np.stack(values))
        labels.append(ACTIVITIES.index(label))
    return np.stack(series), np.array(labels, dtype=np.int8)


def main(folder):
    folder = Path(folder)
    parts = [read_cases(folder / f"BasicMotions_{part}.ts") for part in ("TRAIN", "TEST")]
    series = np.concatenate([values for values, _ in parts])
    labels = np.concatenate([labels for _, labels in parts])
    packed = series.astype(np.float32)
    assert np.allclose(packed, series, rtol=1e-6, atol=1e-6)
    out = Path(__file__).resolve().parents[1] / "skmmae" / "datasets" / "data" / "basic_motions.npz"
    np.savez_compressed(
        out,
        accelerometer=packed[:, :3],
        gyroscope=packed[:, 3:],
        activity=labels,
        archive_test=np.repeat([False, True], [len(p[1]) for p in parts]),
    )
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(labels)} recordings)")


if __name__ == "__main__":
    main(sys.argv[1])
