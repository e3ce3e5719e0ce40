"""The main job (``make demo``): the bundled model, every preset, each as it is meant to
be used, with its faithfulness gap.

By default the demo explains the first :data:`DEMO_COUNT` of
:data:`flowam.subject.DEFAULT_CLASSES`, 4 of the bundled model's classes from different
families (a vehicle, a seat, a fixture, a table), for 100 steps per
method, so that the first command a user types ends within about three minutes on a
laptop CPU; ``classes="all"`` explains every class.

Every preset runs from the start it is meant for (:func:`own_start`: the classic
baselines from Gaussian noise, as in the paper; Flow AM from the class-mean cloud;
``parts`` from one assembly of cubes shared by every class), all with the same seeds
and steps, and every run is repeated on the fully randomized model (the faithfulness gap). Each
start is scored as a row of its own. The full comparison, every method from every start
(:data:`STARTS`), is ``flowam experiment table1`` (:func:`compare_starts` with its
starts). Output: ``grid.png`` (rows classes, columns the starts and the presets),
``summary.md``, ``summary.json``, ``config.json`` and one folder per start with a
folder per run.

The recommended preset (:data:`PRESET`) also runs on every other bundled architecture
(trained models only, to keep the demo within minutes; their faithfulness gaps are
``flowam experiment faithful``'s), beside the demo model's own run, a real object and the
start: ``grid_architectures.png`` (rows classes; columns a real object, then the preset
on each architecture) and ``architectures/<arch>/``.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from flowam import cache
from flowam.compare import (
    Outcome,
    compare,
    real_examples,
    score_result,
    summaries,
)
from flowam.explain import Explainer
from flowam.methods import load_method
from flowam.models import BUNDLED, bundled_models, load_classifier, load_judges, resolve_spec
from flowam.outputs import SCORE_LEGEND, markdown_table, write_config, write_grid
from flowam.subject import Subject, choose_classes

METHODS = ("vanilla", "l2", "blur", "tv", "flow", "flow-auto", "parts")
"""The demo's methods: the classic baselines and the Flow AM presets."""
GENERATIVE = ("ae", "aed", "naed")
"""The generative baselines (latent AM through the bundled autoencoders). Table I and the
sanity checks run them by default; the demo runs them when named (``--methods``), which
keeps its default run within the time its README figures state."""
ALL_METHODS = (*METHODS, *GENERATIVE)
"""Every preset the experiments compare."""
DEMO_COUNT = 4
"""Classes the demo explains by default: the first 4 of
:data:`flowam.subject.DEFAULT_CLASSES`, few enough that every preset and the recommended
one on all three architectures run within about three minutes on a 2-core CPU (8 classes
took 264 s)."""
DEMO_STEPS = 100
"""Steps per method in the demo, chosen so ``make demo`` fits in 5 minutes on 2 CPU cores."""
BASELINES = ("vanilla", "l2", "blur", "tv")
STARTS = ("mean", "gaussian")
START_WORDS = {"gaussian": "from noise", "mean": "from class mean", "parts": "from the cubes"}
"""How a protocol row names its start (others: "from the <start>")."""


def protocol_label(method: str, start: str) -> str:
    """The paper-protocol row of ``method`` run from ``start`` (``"parts (from the cubes)"``)."""
    return f"{method} ({START_WORDS.get(start, f'from the {start}')})"


PRESET = "parts"
"""The recommended preset, which the demo also runs on every other bundled architecture."""
TITLES = {
    "mean": "From the class-mean cloud (every method, same start, same steps)",
    "gaussian": "From Gaussian noise (every method, same start, same steps)",
    "paper protocol": "Each preset from its own start (the paper's protocol: baselines "
    "from noise, Flow AM from the class mean; parts from its cubes)",
    "architectures": f"The recommended preset ({PRESET}) on every bundled architecture "
    "(trained models only; each row's scores are its own model's)",
}
"""The title of each of the demo's tables."""


def run_demo(
    out: Path,
    subject: Subject | None = None,
    *,
    steps: int,
    seed: int = 0,
    classes: Sequence[str] | str | None = None,
    methods: Sequence[str] = METHODS,
    starts: Sequence[str] = (),
    faithfulness: bool = True,
    architectures: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, dict[str, Outcome]]:
    """Run the comparison; returns ``{table: {label: outcome}}`` and writes ``out``.

    Args:
        subject: the model and real objects (default: the bundled PointNet and the
            procedural test split), built as every command builds them.
        classes: class names, ``"all"``, or None for the first :data:`DEMO_COUNT` of
            :data:`flowam.subject.DEFAULT_CLASSES`.
        starts: starts every method also runs from (:data:`STARTS` for the full
            comparison); by default each method runs from its own start only.
        faithfulness: repeat every run on the fully randomized model for the
            faithfulness gap (doubles the time).
        architectures: also run :data:`PRESET` on every other bundled architecture
            (:func:`on_architectures`; the table ``"architectures"``).
    """
    begin = time.perf_counter()
    subject = subject or Subject()
    explainer, info = subject.load(seed, classes if isinstance(classes, list | tuple) else ())
    names = choose_classes(explainer.classes, classes, DEMO_COUNT)
    explainer.targets(names)
    subset = len(names) < len(info.classes) and classes is None
    hint = " (the demo's default subset; --classes all for every class)" if subset else ""
    log(f"{info.source}: explaining {len(names)} of its {len(info.classes)} classes{hint}")
    methods = explainer.fitting(methods, log)
    randomized = explainer.damaged(seed=seed) if faithfulness else None
    if randomized:
        log("every run is repeated on the fully randomized model (the faithfulness gap)")
    tables = compare_starts(
        explainer,
        names,
        out,
        methods=methods,
        starts=starts,
        overrides={"run.steps": steps},
        seed=seed,
        randomized=randomized,
        log=log,
    )
    others = [
        a for a in bundled_models() if resolve_spec(f"{BUNDLED}:{a}") != resolve_spec(subject.model)
    ]
    if architectures and others and PRESET in methods:
        tables["architectures"] = on_architectures(
            explainer,
            names,
            out,
            own=tables["paper protocol"],
            architecture=info.architecture,
            others=others,
            steps=steps,
            seed=seed,
            subject=subject,
            log=log,
        )
    seconds = time.perf_counter() - begin
    config = {
        "command": "demo",
        **dataclasses.asdict(subject),
        "seed": seed,
        "steps": steps,
        "methods": list(methods),
        "starts": list(starts),
        "classes": names,
        "architecture": info.architecture,
        "model_accuracy": info.metadata.get("test_accuracy"),
        "num_points": explainer.real.num_points,
        "faithfulness": faithfulness,
        "architectures": list(tables.get("architectures", {})),
        "seconds": seconds,
    }
    write_config(out, **config)
    tables_summary = {start: summaries(rows) for start, rows in tables.items()}
    cache.write_json(out / "summary.json", tables_summary)
    cache.write_text(out / "summary.md", _markdown(tables_summary, config))
    return tables


def own_start(method: str) -> str:
    """The start a preset is meant for: Gaussian noise for the classic baselines (the
    paper's protocol), else the method's own ``start`` (Flow AM: the class mean;
    ``parts``: one shared assembly of cubes)."""
    return "gaussian" if method in BASELINES else load_method(method).start


def compare_starts(
    explainer: Explainer,
    names: Sequence[str],
    out: Path,
    *,
    methods: Sequence[str] = METHODS,
    starts: Sequence[str] = STARTS,
    overrides: dict | None = None,
    seed: int = 0,
    randomized: Explainer | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, dict[str, Outcome]]:
    """Every method from each of ``starts``, and the paper's protocol: each method from
    :func:`own_start` (run once more where that is none of ``starts``).

    Writes ``out/<start>/`` (see :func:`flowam.compare.compare`) for every start run,
    ``out/grid_<start>.png`` for each of ``starts`` (also as ``out/<start>/grid.png``)
    and ``out/grid.png`` for the protocol. Returns ``{start: ..., "paper protocol":
    ...}``, each ``{label: outcome}`` with the starting clouds as rows of their own,
    first.
    """
    own = {m: own_start(m) for m in methods}
    # noise first: its vanilla run is the raw AM that flow-auto's layer choice reuses
    order = sorted({*starts, *own.values()}, key=lambda s: (s != "gaussian", s))
    runs: dict[str, dict[str, Outcome]] = {}
    for start in order:
        chosen = [
            m
            for m in methods
            if (start in starts and not load_method(m).fixed_start) or own[m] == start
        ]
        log(f"from the {start} start: {', '.join(chosen)}")
        runs[start] = compare(
            explainer,
            {m: (m, {**(overrides or {}), "param.start": start}) for m in chosen},
            out / start,
            names,
            seed=seed,
            starts=[start],
            pictures=False,
            grid=start in starts,  # the protocol's runs are drawn together below
            randomized=randomized,
            log=log,
        )
    tables = {start: runs[start] for start in starts}
    for start in starts:
        with cache.atomic_path(out / f"grid_{start}.png") as tmp:
            shutil.copyfile(out / start / "grid.png", tmp)
    paper = {}
    for start in dict.fromkeys(own[m] for m in methods):  # the starts, in method order
        paper[f"start: {start}"] = runs[start][f"start: {start}"]
    for m in methods:
        start, generator = own[m], load_method(m).generator
        if generator:  # latent AM's own start: the decoded class mean
            label = Explainer.start_label(start, generator)
            paper[label] = runs[start][label]
        paper[protocol_label(m, start)] = runs[start][m]
    write_grid({k: o.result for k, o in paper.items()}, out / "grid.png", list(names))
    tables["paper protocol"] = paper
    return tables


def on_architectures(
    explainer: Explainer,
    names: Sequence[str],
    out: Path,
    *,
    own: dict[str, Outcome],
    architecture: str,
    others: Sequence[str],
    steps: int,
    seed: int = 0,
    subject: Subject | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Outcome]:
    """:data:`PRESET` on each bundled architecture of ``others`` (trained models only),
    beside the demo model's own run of it (``own``, the paper-protocol table; the demo
    model's ``architecture`` names its row).

    Writes ``out/architectures/<arch>/`` (see :func:`flowam.compare.compare`) and
    ``out/grid_architectures.png`` (rows classes; columns a real object, then the preset
    on each architecture, each cloud turned to face its nearest real object). Returns
    ``{label: outcome}``: the real objects, the start, then ``"<arch>: parts"`` per
    architecture, the demo model's first. Models whose classes are not the demo model's
    are skipped with a log line. ``subject``: where the other models run (device, judges,
    speed options).
    """
    subject = subject or Subject()
    start = load_method(PRESET).start
    ran = own[protocol_label(PRESET, start)]
    rows: dict[str, Outcome] = {}
    real = real_examples(explainer, names, seed)
    if real is not None:
        rows["real objects"] = Outcome(real, score_result(explainer, real, seed), 0.0)
    rows[f"start: {start}"] = own[f"start: {start}"]
    rows[f"{architecture}: {PRESET}"] = ran
    for arch in others:
        net, info = load_classifier(f"{BUNDLED}:{arch}", device=subject.device)
        if info.classes != explainer.classes:
            log(f"{PRESET} on {arch}: skipped, its classes are not the demo model's")
            continue
        log(f"{PRESET} on {arch} (trained model only)")
        judges = load_judges(subject.judges, info, subject.device)
        other = Explainer(net, explainer.real, explainer.speed, judges, explainer.turns)
        label = f"{arch}: {PRESET}"
        outcomes = compare(
            other,
            {label: (PRESET, {"run.steps": steps})},
            out / "architectures" / arch,
            names,
            seed=seed,
            pictures=False,
            grid=False,
            log=log,
        )
        rows[label] = outcomes[label]
    shown = {("real object" if k == "real objects" else k): o for k, o in rows.items()}
    write_grid(
        {k: o.result for k, o in shown.items() if not k.startswith("start")},
        out / "grid_architectures.png",
        list(names),
        {k: o.scores.facing for k, o in shown.items()},
    )
    return rows


def _markdown(summaries: dict[str, dict[str, dict[str, float]]], config: dict) -> str:
    accuracy = config["model_accuracy"]
    known = f" (test accuracy {accuracy:.3f})" if isinstance(accuracy, float | int) else ""
    lines = [
        "# flowam demo",
        "",
        f"{config['architecture']} `{config['model']}`{known} against `{config['data']}` "
        f"({config['split']}), {len(config['classes'])} classes, {config['num_points']} "
        f"points per cloud, {config['steps']} steps per method, seed {config['seed']}; "
        f"{config['seconds']:.0f} s in all on {config['device']}.",
        "",
        SCORE_LEGEND,
        "",
    ]
    for key, rows in summaries.items():
        grid = "grid.png" if key == "paper protocol" else f"grid_{key}.png"
        lines += [f"## {TITLES[key]}", "", markdown_table(rows), "", f"![grid]({grid})", ""]
    return "\n".join(lines)
