"""Milliseconds per cloud-step of every bundled architecture, side by side, with and
without each of :mod:`flowam.speed`'s options.

Run: ``.venv/bin/python benchmarks/arch_speed.py [--device cuda] [--classes 8]
[--steps 8] [--points 512] [--rounds 2] [--plain] [--method vanilla] [--set FIELD=VALUE
...]``.

The task is the one a user types first: ``Explainer.explain`` with the ``--method``
preset (``vanilla`` by default) on ``--classes`` classes (one restart each, ``0``: every
class) for ``--steps`` steps (``0``: the preset's own), on each bundled
model (``bundled:pointnet``, ``bundled:pointnet2_ssg``, ``bundled:dgcnn``), with every
``--set`` override of the method's fields (``--set soft_pool=0.5``), all in one
process and interleaved round by round (so machine noise falls on all of them alike);
the best round of each is printed, and its ratio to PointNet's. ``--plain`` adds each
model under ``flowam.speed.PLAIN`` (no folding, no fusion, no architecture-specific
path) for the speed-up of the options. The first round is preceded by one warm-up step
per model. Besides milliseconds per cloud-step it prints the seconds of one whole run,
which for ``--method parts --classes 0 --steps 0 --rounds 1`` is issue 34's "every
class in minutes" figure. Nothing is asserted; BENCHMARKS.md keeps the figures.
"""

from __future__ import annotations

import argparse
import time

import torch

from flowam.data import load_dataset
from flowam.explain import Explainer
from flowam.methods import coerce, load_method
from flowam.models import bundled_models, load_classifier
from flowam.speed import DEFAULT, PLAIN


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--classes", type=int, default=8, help="0: every class")
    parser.add_argument("--steps", type=int, default=8, help="0: the preset's own")
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--plain", action="store_true", help="also time flowam.speed.PLAIN")
    parser.add_argument("--method", default="vanilla")
    parser.add_argument("--set", action="append", default=[], help="FIELD=VALUE override")
    args = parser.parse_args()
    method = load_method(args.method)
    for assignment in args.set:
        method = method.replace(**coerce(method, assignment))
    steps = args.steps or method.steps
    real = load_dataset("procedural", "test", num_points=args.points)
    sides = {}
    for arch in bundled_models():
        model, _ = load_classifier(f"bundled:{arch}", device=args.device)
        sides[arch] = Explainer(model, real, DEFAULT)
        if args.plain:
            sides[f"{arch} plain"] = Explainer(model, real, PLAIN)
    classes = real.classes[: args.classes or None]
    best = dict.fromkeys(sides, float("inf"))
    for explainer in sides.values():  # warm-up
        explainer.explain(classes, method, steps=1, progress=False)
    for round_ in range(args.rounds):
        for name, explainer in sides.items():
            begin = time.perf_counter()
            # the seed changes per round so that the explainer's memo of finished runs
            # does not answer the second round
            explainer.explain(classes, method, steps=steps, seed=round_, progress=False)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - begin
            best[name] = min(best[name], elapsed)
    base = best[bundled_models()[0]]
    print(
        f"{args.method} {' '.join(args.set)} on device {args.device}, {len(classes)} classes "
        f"x {steps} steps, "
        f"{args.points} points, best of {args.rounds}"
    )
    print(f"{'side':24s} {'s per run':>10s} {'ms per cloud-step':>18s} {'x PointNet':>11s}")
    for name, seconds in best.items():
        per_step = seconds / (steps * len(classes))
        print(f"{name:24s} {seconds:10.1f} {per_step * 1000:18.1f} {seconds / base:11.1f}")


if __name__ == "__main__":
    main()
