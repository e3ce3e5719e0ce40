"""``flowam experiment reproduce``: every experiment, one after the other, in one folder.

Before it starts it prints an estimate of its run time: the cloud-steps each experiment
plans (classes × steps × runs, doubled for the faithfulness gap's randomized model)
times a forward and backward pass measured on this machine for this model, plus the
same for each bundled architecture in Table IV (run only on the procedural data, which
the bundled models know). Scoring and statistics add to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from flowam.damage import randomization_order
from flowam.demo import ALL_METHODS, STARTS
from flowam.demo import METHODS as DEMO_METHODS
from flowam.experiments.common import Setting
from flowam.experiments.faithful import DIRECTIONS, run_faithful
from flowam.experiments.flow_analysis import run_flow_analysis
from flowam.experiments.sanity import RATES, cascade_stages, run_sanity
from flowam.experiments.table4 import run_table4
from flowam.experiments.variants import BETAS, diversity_runs, run_table1, run_variants
from flowam.methods import load_method
from flowam.models import bundled_models, load_classifier


def seconds_per_cloud_step(model: torch.nn.Module, num_points: int, batch: int = 4) -> float:
    """A forward and input-gradient backward pass of ``batch`` clouds, per cloud."""
    x = torch.rand(batch, num_points, 3, device=next(model.parameters()).device)
    x.requires_grad_(True)
    model.eval()
    times = []
    for _ in range(3):
        begin = time.perf_counter()
        model(x).sum().backward()
        times.append(time.perf_counter() - begin)
    return min(times) / batch


def rows(methods: Sequence[str | tuple[str, dict]]) -> int:
    """Clouds the model sees per explanation step, summed over methods (names, or
    ``(method, overrides)`` pairs; transformation robustness adds its copies)."""
    pairs = [(m, {}) if isinstance(m, str) else m for m in methods]
    return sum(1 + load_method(m).replace(o).robustness.copies for m, o in pairs)


def plan(setting: Setting, classes: int, all_classes: int, layers: int) -> dict[str, int]:
    """Cloud-steps each experiment runs on the setting's model (Table IV: per model)."""
    steps = setting.step_count
    damaged = (len(RATES) - 1) * len(setting.seeds) + len(
        cascade_stages(layers, 2 if setting.scale == "full" else 4)
    )

    def compared(methods: Sequence[str]) -> int:
        """The demo's table: every method from both starts, a preset with its own start
        once more, on the trained and the randomized model."""
        own = [m for m in methods if load_method(m).start not in STARTS]
        return (2 * rows(methods) + rows(own)) * classes * steps * 2

    return {
        "flow-analysis": all_classes * 100,
        "table1": compared(ALL_METHODS),
        "ablation": 4 * classes * steps * 2,
        "beta": len(BETAS) * classes * steps * 2,
        "diversity": len(diversity_runs("flow")) * 3 * classes * steps * 2,
        "sanity": rows(ALL_METHODS) * classes * steps * (1 + damaged),
        # vanilla's reference once, then every direction on three models
        "faithful": (1 + 3 * rows(list(DIRECTIONS.values()))) * classes * steps,
        "table4": compared(DEMO_METHODS),
    }


def run_reproduce(
    setting: Setting, out: Path, log: Callable[[str], None] = print, dry_run: bool = False
) -> dict[str, float]:
    """Estimate, then run flow-analysis, table1, ablation, beta, diversity, sanity,
    faithful and table4 into ``out/<name>/``.

    Returns the estimated seconds per experiment; ``dry_run`` stops after the estimate.
    """
    explainer, _ = setting.load()
    names = setting.names(explainer)
    layers = len(randomization_order(explainer.model, torch.from_numpy(explainer.real.points[:2])))
    counts = plan(setting, len(names), len(explainer.classes), layers)
    rate = seconds_per_cloud_step(explainer.model, explainer.real.num_points)
    estimate = {name: n * rate for name, n in counts.items() if name != "table4"}
    table4 = 0.0
    for arch in bundled_models():
        model, arch_info = load_classifier(f"bundled:{arch}", device=setting.subject.device)
        table4 += counts["table4"] * seconds_per_cloud_step(model, arch_info.num_points)
    estimate["table4"] = table4
    log(
        "estimated time (optimisation steps only; scoring adds to it): "
        + ", ".join(f"{k} {v / 60:.0f} min" for k, v in estimate.items())
        + f"; in all about {sum(estimate.values()) / 60:.0f} min"
    )
    if dry_run:
        return estimate
    run_flow_analysis(setting, out / "flow-analysis")
    run_table1(setting, out / "table1", log=log)
    for name in ("ablation", "beta", "diversity"):
        run_variants(name, setting, out / name, log=log)
    run_sanity(setting, out / "sanity", log=log)
    run_faithful(setting, out / "faithful", log=log)
    if setting.subject.data != "procedural":
        log("table4 skipped: it compares the bundled architectures on the procedural data")
        return estimate
    run_table4(
        out / "table4",
        setting.subject,
        steps=setting.step_count,
        seed=setting.seed,
        classes=names,
        log=log,
    )
    return estimate
