"""Explanation steps per second: the engine against a plain per-class loop, and the FLOP
rate it reaches against this machine's matmul rate.

Run: ``.venv/bin/python benchmarks/engine_speed.py [--device cuda] [--classes 4]
[--steps 30] [--repeats 3]``.

The task is the published ``flow`` (Eq. 6: target logit, latent alignment at the paper's
layers, continuity, legality with projection) on the bundled PointNet from the class-mean
start. Sides, each timed ``--repeats`` times in alternation so that machine noise falls on
all of them alike:

- ``loop``: a plain eager float32 loop, one class at a time (batch of one): forward with
  the layer hooks, the same objective, Adam, the same step transforms; no engine.
- ``engine plain``: :func:`flowam.engine.optimize` with ``flowam.speed.PLAIN``.
- ``engine folded``: batch norms folded, max pooling not fused.
- ``engine``: the default (batch norms folded, PointNet's widest layer fused with its max
  pooling, :func:`flowam.ops.conv_max`).
- ``engine bf16``: the default with the forward pass in bfloat16.

Printed: the best time of each side in ms per cloud-step and its speed-up over ``loop``;
the FLOPs of one forward + input-gradient backward (``torch.utils.flop_counter``), the
rate each side achieves (the plain pass's FLOPs over its time: an effective rate, since
the fused backward skips most of the widest layer's work), and the float32 and bfloat16
matmul rates measured here.
Nothing is asserted; BENCHMARKS.md keeps the figures.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from flowam.data import load_dataset
from flowam.engine import frozen, optimize
from flowam.explain import Explainer
from flowam.hooks import LayerRecorder
from flowam.methods import build
from flowam.models import load_classifier
from flowam.objectives import Batch, Context
from flowam.speed import PLAIN, Speed
from flowam.stats import class_means, init_clouds


def matmul_rate(device: str, dtype: torch.dtype, n: int = 1024, repeats: int = 20) -> float:
    """FLOP/s of an ``n × n`` matrix product."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        begin = time.perf_counter()
        a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - begin)
    return 2 * n**3 / best


def step_flops(model: torch.nn.Module, points: int, device: str) -> float:
    """FLOPs of one forward and input-gradient backward pass of one cloud."""
    x = torch.rand(1, points, 3, device=device, requires_grad=True)
    with frozen(model), FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    return float(counter.get_total_flops())


def plain_loop(model, objective, transforms, start, targets, stats, config) -> None:
    """The same optimisation, one cloud at a time, without the engine."""
    with frozen(model):
        for i, t in enumerate(targets):
            x = start[i : i + 1].clone().requires_grad_(True)
            batch = Batch(torch.tensor([t], device=x.device), [i], stats)
            objective.setup(batch)
            optimizer = torch.optim.Adam([x], lr=config["lr"])
            for step in range(config["steps"]):
                with LayerRecorder(model, objective.layers) as rec:
                    logits = model(x)
                ctx = Context(x, logits, dict(rec.activations), batch)
                optimizer.zero_grad()
                (-objective.value(ctx).sum()).backward()
                optimizer.step()
                with torch.no_grad():
                    new = x.detach()
                    for transform in transforms:
                        new = transform.apply(new, step, batch.seeds)
                    x.copy_(new)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = args.device
    model, info = load_classifier(device=device)
    real = load_dataset("procedural", "test", num_points=info.num_points)
    explainer = Explainer(model, real)
    config = explainer.resolve("flow")
    targets = list(range(args.classes))
    stats = class_means(model, real, list(config.align), classes=targets)
    sizes = {layer: m.shape[1] for layer, m in stats.means.items()}
    objective, transforms = build(config, sizes)
    start = torch.from_numpy(init_clouds("mean", info.num_points, real, targets)).to(device)
    run = {"steps": args.steps, "lr": config.lr, "optimizer": config.optimizer}
    names = info.classes

    def engine(speed: Speed):
        return lambda: optimize(
            model,
            objective,
            start,
            targets,
            names,
            run,
            transforms=transforms,
            stats=stats,
            speed=speed,
            progress=False,
        )

    sides = {
        "loop": lambda: plain_loop(model, objective, transforms, start, targets, stats, run),
        "engine plain": engine(PLAIN),
        "engine folded": engine(Speed(fuse_max_pool=False)),
        "engine": engine(Speed()),
        "engine bf16": engine(Speed(precision="bf16")),
    }
    best = dict.fromkeys(sides, float("inf"))
    for side in sides.values():
        side()  # warm-up (caches, one-time set-up)
    for _ in range(args.repeats):
        for name, side in sides.items():
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            begin = time.perf_counter()
            side()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            best[name] = min(best[name], time.perf_counter() - begin)
    cloud_steps = args.classes * args.steps
    flops = step_flops(model, info.num_points, device)
    fp32 = matmul_rate(device, torch.float32)
    bf16 = matmul_rate(device, torch.bfloat16)
    print(
        f"{device}, {torch.get_num_threads()} threads, flow on {args.classes} classes × "
        f"{args.steps} steps, {info.num_points} points; best of {args.repeats}"
    )
    print(f"model forward + input backward: {flops / 1e9:.3f} GFLOP per cloud")
    print(f"matmul rate: fp32 {fp32 / 1e9:.0f} GFLOP/s, bf16 {bf16 / 1e9:.0f} GFLOP/s")
    for name, seconds in best.items():
        per = seconds / cloud_steps
        print(
            f"{name:>13}: {per * 1e3:7.2f} ms per cloud-step, "
            f"{best['loop'] / seconds:5.2f}× the loop, {flops / per / 1e9:6.0f} GFLOP/s"
        )


if __name__ == "__main__":
    main()
