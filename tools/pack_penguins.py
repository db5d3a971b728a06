"""Pack the Palmer penguins CSV into ``skmmae/datasets/data/penguins.npz``.

Run once from the repository root with the raw CSV as argument::

    pip download --no-deps palmerpenguins==0.1.6 -d /tmp/pp
    unzip -o /tmp/pp/palmerpenguins-0.1.6-py3-none-any.whl -d /tmp/pp
    python tools/pack_penguins.py /tmp/pp/palmerpenguins/data/penguins-raw.csv

The packing is lossless for the columns it keeps, in the CSV's row order:
measurements as float64 exactly as parsed (NaN where the CSV says NA),
categories as strings ("" where the CSV says NA), species as 0..2. The
script checks the round trip before writing. Which rows count as a missing
view is the loader's business, not this script's.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SPECIES = ("Adelie", "Chinstrap", "Gentoo")
#: Array name in the .npz -> CSV columns.
FLOATS = {
    "body": ["Culmen Length (mm)", "Culmen Depth (mm)", "Flipper Length (mm)", "Body Mass (g)"],
    "isotopes": ["Delta 15 N (o/oo)", "Delta 13 C (o/oo)"],
}
STRINGS = {
    "site": ["Island", "Clutch Completion"],
    "sex": ["Sex"],
    "study_name": ["studyName"],
    "individual_id": ["Individual ID"],
    "date_egg": ["Date Egg"],
}


def main(source):
    frame = pd.read_csv(source)
    species = frame["Species"].str.split().str[0]
    if not species.isin(SPECIES).all():
        raise ValueError(f"unknown species in {source}: {sorted(set(species) - set(SPECIES))}")
    arrays = {"species": species.map(SPECIES.index).to_numpy(dtype=np.int8)}
    for name, columns in FLOATS.items():
        arrays[name] = frame[columns].to_numpy(dtype=np.float64)
        assert np.array_equal(arrays[name], frame[columns].to_numpy(), equal_nan=True)
    for name, columns in STRINGS.items():
        table = frame[columns]
        missing = table.isna().to_numpy()
        values = table.fillna("").to_numpy(dtype=str)
        assert np.array_equal(values == "", missing)
        assert (values[~missing] == table.to_numpy(dtype=object)[~missing]).all()
        arrays[name] = values if len(columns) > 1 else values[:, 0]
    arrays["feature_names_body"] = np.array(FLOATS["body"])
    arrays["feature_names_isotopes"] = np.array(FLOATS["isotopes"])
    arrays["feature_names_site"] = np.array(STRINGS["site"])
    out = Path(__file__).resolve().parents[1] / "skmmae" / "datasets" / "data" / "penguins.npz"
    np.savez_compressed(out, **arrays)
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(frame)} penguins)")


if __name__ == "__main__":
    main(sys.argv[1])
