"""Pack the UCI Multiple Features CSV files into ``skmmae/datasets/data/mfeat.npz``.

Run once from the repository root with the CSV folder as argument::

    python tools/pack_mfeat.py ../shared/data/mfeat

The packing is lossless: integer views (pix, fac) are stored as the smallest
integer type that holds them, the others as float64 exactly as parsed from
the CSV text, and the script checks the round trip before writing.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

VIEWS = ("pix", "fou", "fac", "kar", "zer", "mor")


def _compact(values):
    if np.array_equal(values, np.round(values)):
        for dtype in (np.uint8, np.int16, np.int32):
            info = np.iinfo(dtype)
            if values.min() >= info.min and values.max() <= info.max:
                return values.astype(dtype)
    return values.astype(np.float64)


def main(source):
    arrays, target = {}, None
    for view in VIEWS:
        frame = pd.read_csv(Path(source) / f"mfeat-{view}.csv")
        values = frame.to_numpy()
        labels = values[:, -1].astype(np.int8)
        if target is not None and not np.array_equal(target, labels):
            raise ValueError(f"labels of view {view} differ from the others")
        target = labels
        arrays[view] = _compact(values[:, :-1])
        assert np.array_equal(arrays[view].astype(np.float64), values[:, :-1])
    out = Path(__file__).resolve().parents[1] / "skmmae" / "datasets" / "data" / "mfeat.npz"
    np.savez_compressed(out, target=target, **arrays)
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1])
