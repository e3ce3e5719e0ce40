"""Seconds per cloud-step of the engine for several chunk sizes, on CPU or CUDA.

Run: ``.venv/bin/python benchmarks/chunk_size.py [--device cuda] [--points 512]``.
The objective is Flow AM's (logit, latent alignment at five layers, continuity, legality)
on a PointNet; the engine's default chunk per device (``flowam.engine.DEFAULT_CHUNK``)
should be the fastest size measured here. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from flowam.engine import optimize
from flowam.models import get_model
from flowam.objectives import ClassLogit, Continuity, LatentAlignment, Legality
from flowam.stats import ClassStatistics

LAYERS = ("feat.stn.fc1", "feat.stn.fc2", "feat.fstn.fc1", "feat.fstn.fc2", "fc2")
SIZES = {
    "feat.stn.fc1": 512,
    "feat.stn.fc2": 256,
    "feat.fstn.fc1": 512,
    "feat.fstn.fc2": 256,
    "fc2": 256,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--clouds", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--chunks", default="1,2,4,8,16,32")
    args = parser.parse_args()
    torch.manual_seed(0)
    classes = [f"c{i}" for i in range(16)]
    model = get_model("pointnet", len(classes)).eval().to(args.device)
    means = {layer: torch.randn(len(classes), n) for layer, n in SIZES.items()}
    stats = ClassStatistics(classes, means, np.ones(len(classes)))
    objective = ClassLogit() + Legality() + 0.1 * Continuity()
    for layer in LAYERS:
        objective = objective + 0.1 * LatentAlignment(layer)
    init = torch.rand(args.clouds, args.points, 3) - 0.5
    targets = [i % len(classes) for i in range(args.clouds)]
    config = {"steps": args.steps, "lr": 0.003, "optimizer": "adam"}
    print(f"device {args.device}, {args.points} points, {args.clouds} clouds, {args.steps} steps")
    for chunk in (int(c) for c in args.chunks.split(",")):
        optimize(
            model,
            objective,
            init[:chunk],
            targets[:chunk],
            classes,
            {**config, "steps": 1},
            stats=stats,
            chunk_size=chunk,
            progress=False,
        )  # warm-up
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        optimize(
            model,
            objective,
            init,
            targets,
            classes,
            config,
            stats=stats,
            chunk_size=chunk,
            progress=False,
        )
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        per = (time.perf_counter() - start) / (args.clouds * args.steps)
        print(f"chunk {chunk:3d}: {per * 1000:7.2f} ms per cloud-step")


if __name__ == "__main__":
    main()
