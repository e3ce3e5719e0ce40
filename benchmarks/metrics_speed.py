"""Seconds of the metrics: Chamfer distance of 40 × 5 pairs of 1,024-point clouds (the
issue's target: ≤ 0.1 s on the CPU) in cache-sized blocks (the default) and as one
matrix, all 40 × 200 pairs (a 1-NN gallery), and exact EMD of a few pairs.

Run: ``.venv/bin/python benchmarks/metrics_speed.py [--device cuda] [--repeats 5]``.
Each figure is the best of ``--repeats`` runs; nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from flowam.metrics import chamfer_distance
from flowam.metrics.chamfer import pairwise_chamfer
from flowam.metrics.emd import earth_movers_distance


def best_of(repeats: int, work: Callable[[], object], device: str) -> float:
    best = float("inf")
    work()  # warm-up
    for _ in range(repeats):
        begin = time.perf_counter()
        work()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - begin)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(40, 1024, 3, generator=gen) * 2 - 1).to(args.device)
    y = (torch.rand(200, 1024, 3, generator=gen) * 2 - 1).to(args.device)
    pairs_x, pairs_y = x.repeat_interleave(5, 0), y
    figures = {
        "chamfer, 40 × 5 pairs, 1,024 points (one way)": lambda: chamfer_distance(pairs_x, pairs_y),
        "chamfer, 40 × 5 pairs, 1,024 points (both ways)": lambda: chamfer_distance(
            pairs_x, pairs_y, False
        ),
        "the same, the whole (200, 1,024, 1,024) matrix at once": lambda: chamfer_distance(
            pairs_x, pairs_y, False, block=(200, 1024)
        ),
        "chamfer, 40 × 200 all pairs (1-NN gallery)": lambda: pairwise_chamfer(x, y),
        "exact EMD, 4 pairs, 1,024 points": lambda: earth_movers_distance(
            x[:4].cpu().numpy(), y[:4].cpu().numpy()
        ),
    }
    print(f"{args.device}, {torch.get_num_threads()} threads, best of {args.repeats}")
    for name, work in figures.items():
        print(f"{name}: {best_of(args.repeats, work, args.device) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
