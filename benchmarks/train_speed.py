"""Seconds per training epoch on the procedural dataset, per architecture (estimated).

Run: ``.venv/bin/python benchmarks/train_speed.py [--points 512] [--batch 12]``. Times a
few optimisation steps on random clouds and scales them to the 2,400 training clouds of
the default procedural dataset (evaluation excluded). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import torch

from flowam.models import MODELS, get_model
from flowam.train import train_step

TRAIN_CLOUDS = 2400


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.rand(args.batch, args.points, 3) * 2 - 1
    y = torch.randint(0, 16, (args.batch,))
    for name in sorted(MODELS):
        model = get_model(name, 16)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        train_step(model, opt, x, y, 0.001)  # warm-up
        start = time.perf_counter()
        for _ in range(args.steps):
            train_step(model, opt, x, y, 0.001)
        per_cloud = (time.perf_counter() - start) / (args.steps * args.batch)
        epoch = per_cloud * TRAIN_CLOUDS
        print(
            f"{name:14s} {per_cloud * 1000:7.1f} ms/cloud  ~{epoch / 60:5.1f} min/epoch  "
            f"~{90 * 60 / epoch:5.1f} epochs in 90 min"
        )


if __name__ == "__main__":
    main()
