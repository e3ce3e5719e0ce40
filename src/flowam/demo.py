"""The main job (``make demo``): the bundled model, every method, fairly compared.

By default the demo explains :data:`DEMO_CLASSES`, 16 of the bundled model's classes
chosen to span its families (vehicles, seats, beds and tables, cabinets, vessels,
fixtures, a person), so that more classes do not make the first run slower;
``classes="all"`` explains every class.

Every method runs from the same starting clouds for the same number of steps, once from
the class-mean cloud and once from Gaussian noise, and each starting cloud is scored as a
row of its own. The paper's protocol (baselines from random noise, Flow AM from the class
mean) is assembled from the same runs and reported as a third, labelled table, where a
preset whose own start is neither (``faithful``: one sphere shared by every class) runs
once more from it. Output:
``grid_mean.png`` and ``grid_gaussian.png`` (rows classes, columns methods),
``summary.md``, ``summary.json``, ``config.json`` and one folder per run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from flowam import cache
from flowam.compare import Outcome, compare, randomized_twin, summaries
from flowam.data import load_dataset
from flowam.explain import Explainer
from flowam.methods import load_method
from flowam.models import BUNDLED, load_classifier
from flowam.report import SCORE_LEGEND, markdown_table, write_config

METHODS = ("vanilla", "l2", "blur", "tv", "flow", "flow-auto", "faithful")
"""The demo's methods: the classic baselines and the Flow AM presets."""
GENERATIVE = ("ae", "aed", "naed")
"""The generative baselines (latent AM through the bundled autoencoders). Table I and the
sanity checks run them by default; the demo runs them when named (``--methods``), which
keeps its default run within the time its README figures state."""
ALL_METHODS = (*METHODS, *GENERATIVE)
"""Every preset the experiments compare."""
DEMO_CLASSES = (
    "airplane",
    "bathtub",
    "bed",
    "bookshelf",
    "bottle",
    "car",
    "chair",
    "cup",
    "guitar",
    "lamp",
    "monitor",
    "person",
    "sofa",
    "stool",
    "table",
    "toilet",
)
"""The demo's default classes: 16 that span the procedural families."""
BASELINES = ("vanilla", "l2", "blur", "tv")
STARTS = ("mean", "gaussian")


def demo_classes(model_classes: Sequence[str], classes: Sequence[str] | str | None) -> list[str]:
    """The classes a demo explains: given names, ``"all"``, or :data:`DEMO_CLASSES`.

    A model without every demo class (a user's own) is explained on all of its classes.
    """
    if classes == "all":
        return list(model_classes)
    if classes:
        return list(classes)
    if set(DEMO_CLASSES) <= set(model_classes):
        return list(DEMO_CLASSES)
    return list(model_classes)


def run_demo(
    out: Path,
    *,
    model: str = BUNDLED,
    steps: int,
    seed: int = 0,
    classes: Sequence[str] | str | None = None,
    methods: Sequence[str] = METHODS,
    device: str = "cpu",
    faithfulness: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, dict[str, Outcome]]:
    """Run the comparison; returns ``{start: {label: outcome}}`` and writes ``out``.

    Args:
        model: a bundled model (``bundled``, ``bundled:<arch>``) or a weights file of a
            model trained on the procedural dataset.
        classes: class names, ``"all"``, or None for :func:`demo_classes`' default.
        faithfulness: repeat every run on the fully randomized model for the
            faithfulness gap (doubles the time).
    """
    begin = time.perf_counter()
    net, info = load_classifier(model, device=device)
    real = load_dataset("procedural", "test", num_points=info.num_points)
    explainer = Explainer(net, real)
    names = demo_classes(info.classes, classes)
    explainer.targets(names)
    subset = len(names) < len(info.classes) and classes is None
    hint = " (the demo's default subset; --classes all for every class)" if subset else ""
    log(f"{info.source}: explaining {len(names)} of its {len(info.classes)} classes{hint}")
    methods = explainer.fitting(methods, log)
    randomized = randomized_twin(explainer, seed) if faithfulness else None
    if randomized:
        log("every run is repeated on the fully randomized model (the faithfulness gap)")
    tables = compare_starts(
        explainer,
        names,
        out,
        methods=methods,
        overrides={"steps": steps},
        seed=seed,
        randomized=randomized,
        log=log,
    )
    seconds = time.perf_counter() - begin
    config = {
        "command": "demo",
        "seed": seed,
        "steps": steps,
        "methods": list(methods),
        "classes": names,
        "model": info.source,
        "architecture": info.architecture,
        "model_accuracy": info.metadata.get("test_accuracy"),
        "num_points": info.num_points,
        "device": device,
        "faithfulness": faithfulness,
        "seconds": seconds,
    }
    write_config(out, **config)
    tables_summary = {start: summaries(rows) for start, rows in tables.items()}
    cache.write_text(out / "summary.json", json.dumps(tables_summary, indent=2) + "\n")
    cache.write_text(out / "summary.md", _markdown(tables_summary, config))
    return tables


def compare_starts(
    explainer: Explainer,
    names: Sequence[str],
    out: Path,
    *,
    methods: Sequence[str] = METHODS,
    overrides: dict | None = None,
    seed: int = 0,
    randomized: Explainer | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, dict[str, Outcome]]:
    """Every method from each of :data:`STARTS`, and the paper's protocol assembled.

    Writes ``out/<start>/`` (see :func:`flowam.compare.compare`) and
    ``out/grid_<start>.png``. Returns ``{"mean": ..., "gaussian": ..., "paper protocol":
    ...}``, each ``{label: outcome}`` with the start's own row first.
    """

    def from_start(start: str, chosen: Sequence[str]) -> dict[str, Outcome]:
        """The chosen methods from one start, written to ``out/<start>/``."""
        runs = {m: (m, {**(overrides or {}), "init": start}) for m in chosen}
        return compare(
            explainer,
            runs,
            out / start,
            names,
            seed=seed,
            inits=[start],
            pictures=False,
            randomized=randomized,
            log=log,
        )

    tables: dict[str, dict[str, Outcome]] = {}
    # noise first: its vanilla run is the raw AM that flow-auto's layer choice reuses
    for start in sorted(STARTS, key=lambda s: s != "gaussian"):
        log(f"from the {start} start: {', '.join(methods)}")
        tables[start] = from_start(start, methods)
        (out / f"grid_{start}.png").write_bytes((out / start / "grid.png").read_bytes())
    tables = {start: tables[start] for start in STARTS}
    own = {m: load_method(m).init for m in methods if m not in BASELINES}
    baselines = [m for m in methods if m in BASELINES]
    used = (["gaussian"] if baselines else []) + (["mean"] if "mean" in own.values() else [])
    paper = {f"init: {start}": tables[start][f"init: {start}"] for start in used}
    paper.update({f"{m} (from noise)": tables["gaussian"][m] for m in baselines})
    for m, i in own.items():
        if i == "mean":
            generator = load_method(m).generator
            if generator:  # latent AM's own start: the decoded class mean
                label = Explainer.start_label(i, generator)
                paper[label] = tables["mean"][label]
            paper[f"{m} (from class mean)"] = tables["mean"][m]
    # a preset whose own start is none of STARTS (faithful: one shared sphere) also runs
    # from it, so the protocol table shows every preset as it is meant to be used
    for init in sorted({i for i in own.values() if i not in STARTS}):
        chosen = [m for m, i in own.items() if i == init]
        log(f"from their own {init} start: {', '.join(chosen)}")
        outcomes = from_start(init, chosen)
        paper[f"init: {init}"] = outcomes[f"init: {init}"]
        paper.update({f"{m} (from the {init})": outcomes[m] for m in chosen})
    tables["paper protocol"] = paper
    return tables


def _markdown(summaries: dict[str, dict[str, dict[str, float]]], config: dict) -> str:
    titles = {
        "mean": "From the class-mean cloud (every method, same start, same steps)",
        "gaussian": "From Gaussian noise (every method, same start, same steps)",
        "paper protocol": "The paper's protocol (baselines from noise, Flow AM from the class "
        "mean), and every other preset from its own start",
    }
    lines = [
        "# flowam demo",
        "",
        f"{config['architecture']} `{config['model']}` (test accuracy "
        f"{config['model_accuracy']:.3f}) on the procedural "
        f"dataset, {len(config['classes'])} classes, {config['num_points']} points per cloud, "
        f"{config['steps']} steps per method, seed {config['seed']}; "
        f"{config['seconds']:.0f} s in all on {config['device']}.",
        "",
        SCORE_LEGEND,
        "",
    ]
    for key, rows in summaries.items():
        lines += [f"## {titles[key]}", "", markdown_table(rows), ""]
        if key in ("mean", "gaussian"):
            lines += [f"![grid]({f'grid_{key}.png'})", ""]
    return "\n".join(lines)
