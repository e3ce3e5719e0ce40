"""Running several methods on the same classes and writing one comparable report.

Used by ``flowam explain`` and ``flowam demo``: each run is a label and a method with
overrides; every run explains the same classes with the same seeds, is scored against
the same real objects, and lands in ``OUT/<label>/``; ``OUT/grid.png`` puts them side by
side (rows classes, columns runs) and ``OUT/summary.json`` holds every score.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowam import cache
from flowam.engine import Explanations
from flowam.explain import Explainer
from flowam.metrics import Scores, score
from flowam.report import write_explanations, write_grid


@dataclass
class Outcome:
    """One run: its explanations, their scores, and the seconds it took."""

    result: Explanations
    scores: Scores
    seconds: float


def compare(
    explainer: Explainer,
    runs: Mapping[str, tuple[str, dict[str, Any]]],
    out: Path,
    classes: Sequence[str] | None = None,
    *,
    restarts: int = 1,
    seed: int = 0,
    inits: Sequence[str] = (),
    snapshots: Sequence[int] = (),
    chunk_size: int | None = None,
    pictures: bool = True,
    progress: bool = True,
    log=print,
) -> dict[str, Outcome]:
    """Run, score and write every run; returns the outcomes by label.

    Args:
        explainer: the model and its real objects.
        runs: ``{label: (method, overrides)}``.
        out: output folder.
        classes: class names (default all).
        restarts: explanations per class.
        seed: run seed, shared by all runs.
        inits: initialisations to score as rows of their own (e.g. ``["mean"]``).
        snapshots, chunk_size, progress: passed to the engine.
        pictures: write a multi-view PNG per explanation.
        log: where to report progress lines.
    """
    outcomes: dict[str, Outcome] = {}
    names = classes or explainer.classes
    for init in inits:
        start = time.perf_counter()
        result = explainer.initial(names, init, restarts, seed)
        outcomes[f"init: {init}"] = Outcome(
            result, _score(explainer, result, seed), time.perf_counter() - start
        )
    for label, (method, overrides) in runs.items():
        start = time.perf_counter()
        result = explainer.explain(
            names,
            method,
            restarts=restarts,
            seed=seed,
            snapshots=snapshots,
            chunk_size=chunk_size,
            progress=progress,
            **overrides,
        )
        outcome = Outcome(result, _score(explainer, result, seed), time.perf_counter() - start)
        outcomes[label] = outcome
        write_explanations(result, outcome.scores, out / _folder(label), pictures=pictures)
        log(f"{label}: {outcome.seconds:.0f} s, {result.status}")
        if result.status.startswith("interrupted"):
            break  # Ctrl-C stops the whole comparison; what was computed is written below
    write_grid({k: o.result for k, o in outcomes.items()}, out / "grid.png", list(names))
    summary = {
        label: {
            **o.scores.summary(),
            "seconds": o.seconds,
            "status": o.result.status,
            "config": o.result.config,
        }
        for label, o in outcomes.items()
    }
    cache.write_text(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    return outcomes


def _folder(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def _score(explainer: Explainer, result: Explanations, seed: int) -> Scores:
    bound = result.config.get("method", {}).get("bound", 1.0)
    return score(
        explainer.model, result.points, result.targets, explainer.real, bound=bound, seed=seed
    )
