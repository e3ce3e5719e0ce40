"""Running several methods on the same classes and writing one comparable report.

Used by ``flowam explain``, ``flowam demo`` and the experiments: each run is a label and
a method with overrides; every run explains the same classes with the same seeds, is
scored against the same real objects, and lands in ``OUT/<label>/``; ``OUT/grid.png``
puts them side by side (rows classes, columns runs) and ``OUT/summary.json`` holds every
score.

Given a second explainer of the same real objects with a randomized model, every run is
repeated on it with the same (already resolved) method, start and seeds, and its
summary gains ``recognised_randomized`` and ``faithfulness_gap`` (the 1-NN recognition
rate for the trained model minus that for the randomized one; see
:mod:`flowam.metrics.faithfulness`). Runs whose randomized-model explanations are still
recognised at :data:`flowam.metrics.faithfulness.FLAG_RATE` or more are flagged.

:func:`real_examples` gives the row every table keeps beside the starts: one real test
object per class, scored as if it were an explanation; :func:`natural_exemplars` the
real object of each class the model rates highest.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flowam import cache, stopping
from flowam.engine import Explanations
from flowam.explain import Explainer
from flowam.metrics import Scores
from flowam.metrics.chamfer import reference_indices
from flowam.metrics.faithfulness import faithfulness_gap, flagged
from flowam.models.accuracy import predict
from flowam.outputs import folder_name, write_clouds, write_explanations, write_grid


@dataclass
class Outcome:
    """One run: its explanations, their scores, the seconds it took, and (when measured)
    the recognition rate of the same method's explanations of a randomized model."""

    result: Explanations
    scores: Scores | None  # None: stopped before it was scored
    seconds: float
    randomized_rate: float | None = None

    def summary(self) -> dict[str, float]:
        """The scores' summary, with the faithfulness gap when measured (empty for a
        run stopped before it was scored)."""
        if self.scores is None:
            return {}
        out = self.scores.summary()
        if self.randomized_rate is not None:
            out["recognised_randomized"] = self.randomized_rate
            out["faithfulness_gap"] = faithfulness_gap(out["recognised_rate"], self.randomized_rate)
        return out

    @property
    def flagged(self) -> bool:
        """Its explanations of the randomized model are still recognised
        (:func:`flowam.metrics.faithfulness.flagged`)."""
        return flagged(self.randomized_rate)


def compare(
    explainer: Explainer,
    runs: Mapping[str, tuple[str, dict[str, Any]]],
    out: Path,
    classes: Sequence[str] | None = None,
    *,
    restarts: int = 1,
    seed: int = 0,
    starts: Sequence[str] = (),
    snapshots: Sequence[int] = (),
    chunk_size: int | None = None,
    pictures: bool = True,
    grid: bool = True,
    progress: bool = True,
    randomized: Explainer | None = None,
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
        starts: initialisations to score as rows of their own (e.g. ``["mean"]``); a run
            through a generator (latent AM) adds its decoded start as a row too.
        snapshots, chunk_size, progress: passed to the engine.
        pictures: write a multi-view PNG per explanation.
        grid: write ``OUT/grid.png`` (a caller that draws its own grid of these runs
            passes False).
        randomized: an explainer of the same real objects with a randomized model; each
            run is repeated on it for the faithfulness gap.
        log: where to report progress lines.
    """
    outcomes: dict[str, Outcome] = {}
    names = classes or explainer.classes

    def start_row(kind: str, generator: str | None = None) -> None:
        start = time.perf_counter()
        result = explainer.starts(names, kind, restarts, seed, generator)
        scores = score_result(explainer, result, seed)
        outcomes[Explainer.start_label(kind, generator)] = Outcome(
            result,
            scores,
            time.perf_counter() - start,
            # a start does not depend on the model: the randomized model starts the same
            float(scores.recognised.mean()) if randomized else None,
        )

    try:
        for kind in starts:
            stopping.check()
            start_row(kind)
        for label, (method, overrides) in runs.items():
            stopping.check()
            start = time.perf_counter()
            config = explainer.resolve(method, progress=progress, **overrides)
            decoded = Explainer.start_label(config.start, config.generator)
            if config.generator and decoded not in outcomes:
                start_row(config.start, config.generator)  # where latent AM really starts
            common = dict(restarts=restarts, seed=seed, chunk_size=chunk_size, progress=progress)
            result = explainer.explain(names, config, snapshots=snapshots, **common)
            halted = result.status.startswith("stopped")
            scores = None if halted else _scored(explainer, result, seed)
            if scores is None:
                # kept unscored, at once: `flowam evaluate` scores them later
                outcomes[label] = Outcome(result, None, time.perf_counter() - start)
                write_clouds(result, out / folder_name(label), [{}] * len(result))
                log(f"{label}: {result.status}; its clouds are saved, not scored")
                break
            outcome = Outcome(result, scores, time.perf_counter() - start)
            if randomized is not None and result.finished:
                again = randomized.explain(names, config, **common)
                if again.finished:
                    recognition = explainer.evaluator(seed).references.recognise(
                        again.points, again.targets
                    )
                    outcome.randomized_rate = recognition.rate
                outcome.seconds = time.perf_counter() - start
            outcomes[label] = outcome
            write_explanations(result, outcome.scores, out / folder_name(label), pictures=pictures)
            log(f"{label}: {outcome.seconds:.0f} s, {result.status}")
    except stopping.Stopped:
        pass  # what finished is written below, and the stop raised again at the end
    stopped = stopping.requested() is not None
    if grid and not stopped:
        write_grid(
            {k: o.result for k, o in outcomes.items()},
            out / "grid.png",
            list(names),
            {k: o.scores.facing for k, o in outcomes.items()},
        )
    summary = {
        label: {
            **o.summary(),
            "flagged": o.flagged,
            "seconds": o.seconds,
            "status": o.result.status,
            "config": o.result.config,
        }
        for label, o in outcomes.items()
    }
    if stopped:  # every run asked for is listed; those never begun say so
        why = stopping.NAMES.get(stopping.requested(), "a signal")
        summary |= {
            label: {"status": f"not run: stopped ({why})"}
            for label in runs
            if label not in outcomes
        }
    cache.write_json(out / "summary.json", summary)
    stopping.check()  # a stopped comparison ends its caller's work too
    return outcomes


def summaries(outcomes: dict[str, Outcome]) -> dict[str, dict[str, float]]:
    """Each outcome's summary by label; flagged runs get " ⚠" after their label."""
    return {f"{k} ⚠" if o.flagged else k: o.summary() for k, o in outcomes.items()}


def _scored(explainer: Explainer, result: Explanations, seed: int) -> Scores | None:
    """:func:`score_result`, or None where a stop (:mod:`flowam.stopping`) ends the scoring."""
    try:
        return score_result(explainer, result, seed)
    except stopping.Stopped:
        return None


def score_result(explainer: Explainer, result: Explanations, seed: int) -> Scores:
    """Every score of ``result`` against ``explainer``'s real objects (legality within the
    method's bound)."""
    return explainer.evaluator(seed).score(
        result.points, result.targets, result.start, result.bound
    )


def _unseen(explainer: Explainer, targets: Sequence[int], seed: int) -> list[np.ndarray] | None:
    """Per target, the indices of its real objects outside the 1-NN gallery and the
    one-per-class draw of 1-NNA (what a table may score as if it were an explanation);
    None when a class has none left."""
    real = explainer.real
    paired = reference_indices(real.labels, targets, 1, seed)
    taken = {*explainer.evaluator(seed).references.index.tolist()}
    taken.update(int(i) for idx in paired.values() for i in idx)
    pools = [
        np.array([i for i in np.flatnonzero(real.labels == t) if i not in taken]) for t in targets
    ]
    return None if any(len(pool) == 0 for pool in pools) else pools


def _as_explanations(explainer: Explainer, targets, chosen, status: str) -> Explanations:
    points = np.asarray(explainer.real.points[chosen], dtype=np.float32)
    return Explanations(
        points=points,
        targets=np.asarray(targets),
        restarts=np.zeros(len(targets), dtype=np.int64),
        classes=list(explainer.classes),
        start=points,
        history={},
        weights={},
        steps_run=np.zeros(len(targets), dtype=np.int64),
        config={"real_objects": explainer.real.description},
        status=status,
    )


def real_examples(explainer: Explainer, names: Sequence[str], seed: int) -> Explanations | None:
    """One real test object per class, outside the 1-NN gallery and the one-per-class draw
    of 1-NNA (scored as explanations: the row a perfect explanation would reach); None
    when a class has no such object (a small dataset)."""
    targets = explainer.targets(names)
    pools = _unseen(explainer, targets, seed)
    if pools is None:
        return None
    rng = np.random.default_rng([seed, 1])
    chosen = [int(rng.choice(pool)) for pool in pools]
    return _as_explanations(explainer, targets, chosen, "real objects")


def natural_exemplars(explainer: Explainer, names: Sequence[str], seed: int) -> Explanations | None:
    """Per class the real object the model rates highest: of the class's test objects
    outside the 1-NN gallery and the 1-NNA draw (as :func:`real_examples`), the one of
    highest target logit — the reference a person compares a synthetic explanation with
    (Olah et al.'s dataset examples). None when a class has no such object."""
    targets = explainer.targets(names)
    pools = _unseen(explainer, targets, seed)
    if pools is None:
        return None
    chosen = []
    for t, pool in zip(targets, pools, strict=True):
        logits = predict(explainer.model, np.asarray(explainer.real.points[pool], np.float32))
        chosen.append(int(pool[int(logits[:, t].argmax())]))
    return _as_explanations(explainer, targets, chosen, "natural exemplars")
