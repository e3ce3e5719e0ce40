"""One picture of a direction on several architectures, from the folders of
``flowam experiment faithful`` runs (one per explained model), as RESULTS.md shows it.

Run: ``.venv/bin/python scripts/architectures_figure.py --direction faithful
--run PointNet=runs/every-pointnet --run DGCNN=runs/every-dgcnn
--run PointNet++=runs/every-pointnet2_ssg --classes airplane,chair --out figure.png``;
``--run NAME=FOLDER@DIRECTION`` shows another direction than ``--direction`` in that run.

Rows are the classes; columns a real object from two views (the first run's, seed as
that run was), then for each run the direction's explanation of the trained model from
two views and of the randomized model from two views. The clouds are read from each
run's ``clouds/<model>/<direction>/<class>_0.npy`` (the layout of
:func:`flowam.outputs.write_clouds`); nothing is recomputed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from flowam.outputs import folder_name
from flowam.render import VIEWS, render_grid

TWO_VIEWS = ("3/4", "front")


def cloud(run: Path, model: str, label: str, name: str) -> np.ndarray:
    """The ``(N, 3)`` first explanation of class ``name`` under ``label`` in ``run``."""
    path = run / "clouds" / model / folder_name(label) / f"{name}_0.npy"
    if not path.is_file():
        raise SystemExit(f"{path}: no such cloud (is {run} a faithful run with {label!r}?)")
    return np.load(path, allow_pickle=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", action="append", required=True, help="NAME=FOLDER[@DIRECTION]")
    parser.add_argument("--direction", default="parts", help="the direction's label")
    parser.add_argument("--classes", required=True, help="comma-separated")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if bad := [item for item in args.run if "=" not in item]:
        parser.error(f"--run {bad[0]!r}: expected NAME=FOLDER")
    runs = dict(item.split("=", 1) for item in args.run)
    names = args.classes.split(",")
    first = Path(next(iter(runs.values())).partition("@")[0])
    columns: list[tuple[str, Path, str, str, str]] = [
        (f"real ({v})", first, "trained", "real objects", v) for v in TWO_VIEWS
    ]
    for title, given in runs.items():
        folder, _, direction = given.partition("@")
        for model in ("trained", "randomized"):
            word = "" if model == "trained" else f" {model}"
            columns += [
                (f"{title}{word} ({v})", Path(folder), model, direction or args.direction, v)
                for v in TWO_VIEWS
            ]
    cells = [[cloud(run, model, label, n) for _, run, model, label, _ in columns] for n in names]
    render_grid(
        cells,
        args.out,
        row_labels=names,
        col_labels=[c[0] for c in columns],
        view=[VIEWS[c[4]] for c in columns],
        cell_inches=1.3,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
