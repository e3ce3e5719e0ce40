"""What each training augmentation gives: short fine-tunes side by side, each scored on the
procedural test split as it is and as a scan would differ from it.

Run: ``.venv/bin/python benchmarks/augmentation.py --init-weights FILE [--epochs 2]
[--train-per-class 60] [--out runs/augmentation]``. Every variant (no extra augmentation,
``--yaw 10`` alone, ``--stretch 0.1`` alone, ``--drop-part 0.2`` alone, all three) starts
from the same weights, trains the same epochs on the same objects with the same seed,
and is then evaluated on the whole test split

- *clean*: as generated;
- *turned*: turned about ``y`` by ±20°;
- *stretched*: each axis scaled by U(0.8, 1.2);
- *holed*: the 15–35 % of the points nearest a random point missing (replaced by others);

each perturbation drawn once, from a fixed seed, the same for every variant. Writes
``augmentation.md`` (the table) into ``--out``, one training run per variant under it.
Nothing is asserted: these are measurements.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from flowam import cache
from flowam.data import PointCloudDataset, load_dataset
from flowam.models import get_model
from flowam.models.accuracy import evaluate
from flowam.train import TrainConfig, augment, train

VARIANTS = {
    "reference recipe only": {},
    "+ yaw 10°": {"yaw": 10.0},
    "+ stretch 0.1": {"stretch": 0.1},
    "+ missing parts 0.2": {"drop_part": 0.2},
    "+ all three": {"yaw": 10.0, "stretch": 0.1, "drop_part": 0.2},
}
QUIET = {"point_dropout": 0.0, "scale_low": 1.0, "scale_high": 1.0, "shift": 0.0}
PERTURBATIONS = {
    "clean": None,
    "turned ±20°": {"yaw": 20.0},
    "stretched 0.2": {"stretch": 0.2},
    "holed": {"drop_part": 1.0},
}


def perturbed(test: PointCloudDataset, how: dict | None) -> PointCloudDataset:
    """The test split under one perturbation (a fixed draw), or as it is."""
    if how is None:
        return test
    gen = torch.Generator().manual_seed(12345)
    points = augment(torch.from_numpy(test.points), TrainConfig(**QUIET, **how), gen)
    return dataclasses.replace(test, points=points.numpy())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--init-weights", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-per-class", type=int, default=60)
    parser.add_argument("--lr", type=float, default=0.0005)
    parser.add_argument("--out", type=Path, default=Path("runs/augmentation"))
    args = parser.parse_args()
    test = load_dataset("procedural", "test", num_points=512)
    views = {name: perturbed(test, how) for name, how in PERTURBATIONS.items()}
    before = get_model("pointnet", len(test.classes), weights=args.init_weights)
    rows = {"start (the init weights)": {n: evaluate(before, v).overall for n, v in views.items()}}
    for label, extra in VARIANTS.items():
        folder = args.out / label.strip("+ ").replace(" ", "-").replace("°", "")
        config = TrainConfig(
            model="pointnet",
            num_points=512,
            batch_size=12,
            epochs=args.epochs,
            lr=args.lr,
            step_size=args.epochs,
            train_per_class=args.train_per_class,
            test_per_class=10,
            init_weights=args.init_weights,
            seed=0,
            out=str(folder),
            **extra,
        )
        train(config, progress=False)
        model = get_model("pointnet", len(test.classes), weights=folder / "best.safetensors")
        rows[label] = {n: evaluate(model, v).overall for n, v in views.items()}
        print(label, {n: f"{a:.2%}" for n, a in rows[label].items()}, flush=True)
    lines = [
        f"Fine-tunes of {args.epochs} epochs on {args.train_per_class} procedural objects per "
        f"class from `{args.init_weights}`, lr {args.lr}; accuracy on the {len(test)} test "
        "objects as generated and perturbed (`benchmarks/augmentation.py`).",
        "",
        "| variant | " + " | ".join(PERTURBATIONS) + " |",
        "|---|" + "---:|" * len(PERTURBATIONS),
        *(
            f"| {label} | " + " | ".join(f"{r[n]:.1%}" for n in PERTURBATIONS) + " |"
            for label, r in rows.items()
        ),
    ]
    cache.write_text(args.out / "augmentation.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
