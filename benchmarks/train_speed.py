"""Seconds per training epoch on the procedural dataset, per architecture (estimated),
with and without the fast paths that hold in training.

Run: ``.venv/bin/python benchmarks/train_speed.py [--points 512] [--batch 12]
[--steps 3] [--rounds 2]``. Times a few optimisation steps on random clouds and scales
them to the 5,550 training clouds of the default procedural dataset (37 classes × 150;
evaluation excluded). Each architecture runs twice: as built (``plain``) and with
:data:`flowam.speed.TRAINING_PATHS` switched on (``fast``: DGCNN's and PointNet++'s
first grouped layer split per point, farthest-point sampling over planes), the sides
alternating round by round; the best round of each is printed. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from flowam.models import MODELS, get_model
from flowam.speed import DEFAULT, PLAIN, TRAINING_PATHS, switch_paths
from flowam.train import train_step

TRAIN_CLOUDS = 5550


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default=None, help="comma-separated architectures")
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.rand(args.batch, args.points, 3) * 2 - 1
    y = torch.randint(0, 16, (args.batch,))
    sides = {}
    for name in sorted(MODELS if args.only is None else args.only.split(",")):
        model = get_model(name, 16)
        for label, speed in (("plain", PLAIN), ("fast", DEFAULT)):
            net = copy.deepcopy(model)
            switch_paths(net, speed, paths=TRAINING_PATHS)
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            train_step(net, opt, x, y, 0.001)  # warm-up
            sides[(name, label)] = (net, opt)
    best = dict.fromkeys(sides, float("inf"))
    for _ in range(args.rounds):
        for key, (net, opt) in sides.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                train_step(net, opt, x, y, 0.001)
            best[key] = min(best[key], (time.perf_counter() - start) / (args.steps * args.batch))
    print(f"{args.points} points, batches of {args.batch}, best of {args.rounds}")
    for (name, label), per_cloud in best.items():
        epoch = per_cloud * TRAIN_CLOUDS
        speedup = best[(name, "plain")] / per_cloud
        print(
            f"{name:14s} {label:5s} {per_cloud * 1000:7.1f} ms/cloud  ~{epoch / 60:5.1f} min/epoch"
            f"  {speedup:4.2f}x plain"
        )


if __name__ == "__main__":
    main()
