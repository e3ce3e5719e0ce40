"""Genuine and procedural furniture side by side: for each class a row of genuine
ModelNet10 train objects (each titled with what a model read it as, from a ``flowam
experiment realism`` folder) and a row of procedural objects sampled as the genuine
files were made (10,000 points by area, farthest-point sampled to 1,024).

Run: ``.venv/bin/python scripts/furniture_figure.py --data ../shared/data/modelnet10_hdf5_1024
--realism runs/realism-v6 --out docs/images/furniture-genuine-vs-procedural.png``.
The genuine objects are the first of each class in the file's (seeded, random) order.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from flowam.data import load_dataset
from flowam.data.furniture import like_genuine
from flowam.render import render_grid

CLASSES = ("table", "desk", "dresser", "night_stand")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--realism", required=True, type=Path)
    parser.add_argument("--per-row", type=int, default=6)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    read = {
        p["object"]: p["predicted"]
        for p in json.loads((args.realism / "realism.json").read_text())["predictions"]
    }
    data = load_dataset(args.data, "train", progress=False)
    cells, titles, labels = [], [], []
    for name in CLASSES:
        picked = np.flatnonzero(data.labels == data.class_index(name))[: args.per_row]
        cells.append([data.points[i] for i in picked])
        titles.append([f"read: {read[data.names[i]].replace('_', ' ')}" for i in picked])
        labels.append(f"genuine {name.replace('_', ' ')}")
        cells.append([like_genuine(name, "test", i) for i in range(args.per_row)])
        titles.append([""] * args.per_row)
        labels.append(f"procedural {name.replace('_', ' ')}")
    render_grid(cells, args.out, row_labels=labels, titles=titles, cell_inches=1.8)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
