"""Table IV of the paper: the non-generative methods on every architecture.

The paper reports vanilla, L2, blur, TV and Flow AM on PointNet++ (Table IV) beside
PointNet (Table I). flowam runs the demo's fair comparison (every method from the same
start, once from the class-mean cloud and once from Gaussian noise, the starts scored as
rows) on each model given, by default every bundled architecture, and puts the paper's
protocol (baselines from noise, Flow AM from the class mean) of each architecture side
by side in ``table4.md``, with every score column of the demo (FID included, on each
model's own global feature, so FIDs compare within an architecture only).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flowam import cache
from flowam.compare import Outcome, summaries
from flowam.demo import STARTS, run_demo
from flowam.models import bundled_models
from flowam.outputs import markdown_table
from flowam.subject import Subject

TABLE4 = {"starts": STARTS, "architectures": False}
"""How Table IV runs the demo on each model: both starts scored as rows, no other
architectures (each is a model of its own here)."""


def run_table4(
    out: Path,
    subject: Subject | None = None,
    *,
    models: Sequence[str] | None = None,
    steps: int,
    seed: int = 0,
    log: Callable[[str], None] = print,
    **demo: Any,
) -> dict[str, dict[str, dict[str, Outcome]]]:
    """Run the comparison on each model into ``out/<n>_<arch>/``; write ``out/table4.md``.

    Args:
        subject: the real objects and how the models run (its ``model`` is replaced by
            each of ``models``).
        models: model specs (default: ``bundled:<arch>`` for every bundled architecture).
        steps, seed, log, demo: as for :func:`flowam.demo.run_demo` (``demo``: its
            ``classes``, ``methods``, ``faithfulness``; a method whose aligned layers are
            another architecture's, the published ``flow``, is skipped on models without
            them).

    Returns:
        ``{model: {table: {row: outcome}}}`` with the demo's tables per model.
    """
    subject = subject or Subject()
    models = list(models or [f"bundled:{a}" for a in bundled_models()])
    results: dict[str, dict[str, dict[str, Outcome]]] = {}
    lines = [
        "# Table IV: the methods on every architecture",
        "",
        f"{steps} steps per method, seed {seed}, on {subject.device}. Rows `start: ...` score the "
        "starting clouds; the other rows follow the paper's protocol (baselines from "
        "Gaussian noise, Flow AM from the class-mean cloud). Every run is in the folder "
        "named beside its table, with both starts for every method.",
        "",
    ]
    for k, spec in enumerate(models):
        folder = out / f"{k}_{spec.replace(':', '_').replace('/', '_')}"
        model = dataclasses.replace(subject, model=spec)
        tables = run_demo(folder, model, steps=steps, seed=seed, log=log, **TABLE4, **demo)
        results[spec] = tables
        config = json.loads((folder / "config.json").read_text())
        rows = {
            "start: gaussian": tables["gaussian"]["start: gaussian"],
            "start: mean": tables["mean"]["start: mean"],
            **tables["paper protocol"],
        }
        lines += [
            f"## {config['architecture']} (`{spec}`, test accuracy "
            f"{config['model_accuracy']:.3f}; folder `{folder.name}`)",
            "",
            markdown_table(summaries(rows)),
            "",
        ]
    cache.write_text(out / "table4.md", "\n".join(lines))
    return results
