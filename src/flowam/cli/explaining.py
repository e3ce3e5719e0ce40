"""Explaining a model and looking at the results: ``flowam explain``, ``analyze``,
``evaluate``, ``sweep``, ``report`` and the main job, ``demo``."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import typer

from flowam.cli.options import (
    DEMO_CLASSES,
    DEMO_METHODS,
    EXPLAINED,
    Opt,
    command,
    console,
    out_console,
    print_summary,
    write_page,
)
from flowam.demo import DEMO_STEPS, TITLES
from flowam.errors import FlowamError
from flowam.outputs import rich_table, write_config
from flowam.subject import Subject

DEMO = {
    "steps": "Steps per method.",
    "classes": f"Comma-separated classes, or 'all' (default: {DEMO_CLASSES}).",
}
"""The help of the demo's options that mean otherwise than ``explain``'s."""


EXPLAIN = dict(restarts=1, snapshots="", chunk_size=None, pictures=True, seed=0)
"""The options ``explain`` hands to :func:`flowam.compare.compare` as they are."""


@command(
    fields=Subject,
    more=EXPLAIN,
    own={"method": EXPLAINED},
)
def explain(
    subject: Subject,
    classes=None,
    method="flow",
    out=Path("runs/explain"),
    steps=None,
    set_=(),
    **options: Any,
) -> None:
    """Generate explanations with one or more methods; write points, pictures and scores."""
    from flowam.compare import compare
    from flowam.methods import method_runs

    explainer, info = subject.load(options["seed"])
    names = None if classes == "all" else classes
    explainer.targets(names)  # unknown class names fail here, before any work
    runs = method_runs(method, steps=steps, assignments=set_, snapshots=options["snapshots"])
    chosen = dict(classes=names, methods=list(runs), restarts=options["restarts"], set=set_)
    overrides = {"run.steps": steps} if steps is not None else {}
    write_config(
        out,
        "explain",
        **dataclasses.asdict(subject),
        **chosen,
        overrides=overrides,
        seed=options["seed"],
    )
    outcomes = compare(explainer, runs, out, names, log=console.print, **options)
    print_summary(
        outcomes, f"{info.architecture} ({info.source}), {explainer.real.num_points} points"
    )
    console.print(f"results in {out.resolve()}")
    failed = [f"{k}: {o.result.status}" for k, o in outcomes.items() if o.result.stopped_early]
    if failed:
        console.print(
            "stopped early (results so far are saved): " + "; ".join(failed), markup=False
        )
        raise typer.Exit(1)


@command(fields=Subject, helps={"steps": "Steps of the raw (vanilla) AM it compares with."})
def analyze(subject: Subject, out=Path("runs/analyze"), steps=100, report=True, seed=0) -> None:
    """Activation flow (Fig. 2) and the layers and weights that align='auto' chooses."""
    from flowam.experiments.common import Setting
    from flowam.experiments.flow_analysis import flow_rows, run_flow_analysis

    auto = run_flow_analysis(Setting(subject, seed=seed), out, steps)
    out_console.print(rich_table("activation flow: mean cosine similarity", *flow_rows(auto)))
    console.print(f"wrote {out / 'flow.png'} and {out / 'flow-analysis.md'}")
    write_page(out, report)


@command(claims=False)
def evaluate(folder, device="cpu", seed=0, turns=None) -> None:
    """Score every run under FOLDER; print the table and write evaluation.md/.json there."""
    from flowam.evaluation import write_evaluation
    from flowam.outputs import summary_table

    rows = write_evaluation(folder, device=device, seed=seed, turns=turns)
    out_console.print(summary_table(rows, f"evaluation of {folder}"))
    console.print(f"wrote {folder / 'evaluation.md'}")


@command(fields=Subject, shared=True)
def sweep(
    subject: Subject,
    method="flow",
    param=(),
    objective="recognised,gap",
    trials=20,
    study=None,
    storage=None,
    classes=None,
    steps=None,
    worker=0,
    heartbeat=30,
    grace=90,
    out=Path("runs/sweep"),
    seed=0,
) -> None:
    """Tune a method's fields with Optuna (one objective, or a Pareto front of several)."""
    from flowam.sweep import (
        SweepSettings,
        parse_objectives,
        parse_param,
        run_sweep,
        settings_record,
        storage_url,
    )

    if not param:
        raise FlowamError(
            "--param: give at least one option to sweep, e.g. --param objective.beta=0:1"
        )
    if grace <= heartbeat:
        raise FlowamError(f"--grace {grace}: must be above --heartbeat ({heartbeat})")
    settings = SweepSettings(
        method=method,
        params=[parse_param(p) for p in param],
        objectives=parse_objectives(objective),
        classes=None if classes == "all" else classes,
        steps=steps,
        trials=trials,
        study=study or Path(method).stem,
        storage=storage_url(storage, out),
        seed=seed,
        worker=worker,
        heartbeat=heartbeat,
        grace=grace,
    )
    explainer, _ = subject.load(seed, settings.classes or ())
    write_config(out, "sweep", **dataclasses.asdict(subject), **settings_record(settings))
    done = run_sweep(explainer, settings, out, log=console.print)
    wrote = ", ".join(str(out / name) for name in ("pareto.md", "pareto.png", "trials.csv"))
    console.print(f"{len(done.trials)} trials in study {settings.study}; wrote {wrote}")


@command(
    claims=False,
    own={"out": Opt(Path | None, "The page to write (default FOLDER/report.html).")},
)
def report(folder, out=None, display_points=512, real=3, seed=0) -> None:
    """One self-contained HTML page of a run: 3-D views, histories, tables, configuration."""
    from flowam.report import write_report

    console.print(f"wrote {write_report(folder, out, display_points, real, seed)}")


DEMO_OPTIONS = dict(
    steps=DEMO_STEPS, classes=None, methods=DEMO_METHODS, faithfulness=True, architectures=True
)
"""The options ``demo`` hands to :func:`flowam.demo.run_demo` as they are."""


@command(fields=Subject, helps=DEMO, more=DEMO_OPTIONS)
def demo(subject: Subject, out=Path("runs/demo"), report=True, seed=0, **options: Any) -> None:
    """The main job: explain the bundled model's classes with every method, compared fairly."""
    from flowam.demo import run_demo

    start = time.perf_counter()
    tables = run_demo(out, subject, seed=seed, log=console.print, **options)
    for key, outcomes in tables.items():
        print_summary(outcomes, TITLES[key])
    console.print(
        f"done in {time.perf_counter() - start:.0f} s; results in {out.resolve()} "
        "(summary.md, grid.png, report.html); every method from every start: "
        "flowam experiment table1"
    )
    write_page(out, report)
