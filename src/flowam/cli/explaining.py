"""Explaining a model and looking at the results: ``flowam explain``, ``analyze``,
``evaluate``, ``sweep``, ``report`` and the main job, ``demo``."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from flowam import cache
from flowam.cli.options import (
    DEMO_METHODS,
    DEMO_STEPS,
    ClassesOption,
    Device,
    Faithfulness,
    MethodsOption,
    MethodSteps,
    OutDir,
    Report,
    Seed,
    StepsOverride,
    app,
    bounded,
    check_snapshots_option,
    comma_ints,
    comma_list,
    console,
    dataclass_options,
    out_console,
    owns_out,
    parse_classes,
    print_summary,
    some_classes,
    write_page,
)
from flowam.demo import TITLES
from flowam.errors import FlowamError
from flowam.outputs import write_config
from flowam.subject import Subject


@app.command()
@owns_out("explain")
@dataclass_options(Subject)
def explain(
    classes: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated class names, or 'all' (the default).", callback=some_classes
        ),
    ] = None,
    method: Annotated[
        str, typer.Option(help="Comma-separated methods: presets or .toml files.")
    ] = "flow",
    restarts: Annotated[
        int, typer.Option(help="Explanations per class.", callback=bounded("--restarts", 1))
    ] = 1,
    out: OutDir = Path("runs/explain"),
    steps: StepsOverride = None,
    set_: Annotated[
        list[str],
        typer.Option(
            "--set",
            help="Any method field: KEY=VALUE, align.LAYER=W (e.g. lr=0.005, start=sphere, "
            "beta=0.3, optimizer=sgd; docs/methods.md lists them).",
        ),
    ] = [],  # noqa: B006
    snapshots: Annotated[
        str,
        typer.Option(
            help="Steps to keep clouds at, e.g. 0,50,100 (written to each run's snapshots.npz).",
            callback=check_snapshots_option,
        ),
    ] = "",
    chunk_size: Annotated[
        int | None,
        typer.Option(help="Clouds optimised together.", callback=bounded("--chunk-size", 1)),
    ] = None,
    pictures: Annotated[bool, typer.Option(help="A multi-view PNG per explanation.")] = True,
    seed: Seed = 0,
    **fields: Any,
) -> None:
    """Generate explanations with one or more methods; write points, pictures and scores."""
    from flowam.compare import compare
    from flowam.methods import coerce, load_method

    steps_at = comma_ints(snapshots, "snapshots")
    subject = Subject(**fields)
    explainer, info = subject.load(seed)
    picked = parse_classes(classes)
    names = None if picked == "all" else picked
    explainer.targets(names)  # unknown class names fail here, before any work
    common = {"steps": steps} if steps is not None else {}
    runs = {}
    for spec in comma_list(method):
        config = load_method(spec).replace(**common)
        overrides = dict(common)
        for assignment in set_:
            change = coerce(config, assignment)
            config = config.replace(**change)
            overrides.update(change)
        runs[config.name] = (spec, overrides)
        late = [k for k in steps_at if k > config.steps]
        if late:
            raise FlowamError(
                f"--snapshots {late[0]}: outside method {config.name}'s {config.steps} steps"
            )
    write_config(
        out,
        "explain",
        **dataclasses.asdict(subject),
        classes=names,
        methods=list(runs),
        restarts=restarts,
        overrides=common,
        set=set_,
        seed=seed,
    )
    outcomes = compare(
        explainer,
        runs,
        out,
        names,
        restarts=restarts,
        seed=seed,
        snapshots=steps_at,
        chunk_size=chunk_size,
        pictures=pictures,
        log=console.print,
    )
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


@app.command()
@owns_out("analyze")
@dataclass_options(Subject)
def analyze(
    out: OutDir = Path("runs/analyze"),
    steps: Annotated[
        int,
        typer.Option(
            help="Steps of the raw (vanilla) AM it compares with.", callback=bounded("--steps", 1)
        ),
    ] = 100,
    report: Report = True,
    seed: Seed = 0,
    **fields: Any,
) -> None:
    """Activation flow (Fig. 2) and the layers and weights that align='auto' chooses."""
    from flowam.experiments.common import Setting
    from flowam.experiments.flow_analysis import run_flow_analysis

    auto = run_flow_analysis(Setting(Subject(**fields), seed=seed), out, steps)
    table = Table(title="activation flow: mean cosine similarity")
    for col in ("layer", "same class", "different", "vanilla AM", "aligned weight"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    a = auto.analysis
    for i, name in enumerate(a.layers):
        w = auto.weights.get(name)
        table.add_row(
            name,
            f"{a.same[i]:.3f}",
            f"{a.different[i]:.3f}",
            f"{a.explanations['vanilla'][i]:.3f}",
            f"{w:g}" if w else "",
        )
    out_console.print(table)
    console.print(f"wrote {out / 'flow.png'} and {out / 'flow-analysis.md'}")
    write_page(out, report)


@app.command()
def evaluate(
    folder: Annotated[
        Path, typer.Argument(help="A folder written by explain, demo or an experiment.")
    ],
    device: Device = "cpu",
    seed: Annotated[
        int,
        typer.Option(
            help="Seed of the real objects drawn for CD and 1-NN.", callback=bounded("--seed", 0)
        ),
    ] = 0,
    turns: Annotated[
        int | None,
        typer.Option(
            help="Scores allow the best of this many turns about the up axis (default: as "
            "the run's config or the model's metadata says)."
        ),
    ] = None,
) -> None:
    """Score every run under FOLDER; print the table and write evaluation.md/.json there."""
    from flowam.evaluation import evaluate_folder
    from flowam.outputs import SCORE_LEGEND, markdown_table, summary_table

    results = evaluate_folder(folder, device=device, seed=seed, turns=turns)
    rows = {run: scores.summary() for run, (scores, _) in results.items()}
    out_console.print(summary_table(rows, f"evaluation of {folder}"))
    record = {"command": "evaluate", "device": device, "seed": seed, "turns": turns, "runs": rows}
    cache.write_json(folder / "evaluation.json", record)
    text = f"# Evaluation of `{folder}`\n\n{SCORE_LEGEND}\n\n{markdown_table(rows)}\n"
    cache.write_text(folder / "evaluation.md", text)
    console.print(f"wrote {folder / 'evaluation.md'}")


@app.command()
@owns_out("sweep", shared=True)
@dataclass_options(Subject)
def sweep(
    method: Annotated[str, typer.Option(help="The method to tune (a preset or .toml).")] = "flow",
    param: Annotated[
        list[str],
        typer.Option(
            help="NAME=LOW:HIGH, NAME=log:LOW:HIGH, NAME=int:LOW:HIGH or NAME=A|B; NAME is "
            "any method field or align.LAYER. Repeat for several."
        ),
    ] = [],  # noqa: B006
    objective: Annotated[
        str, typer.Option(help="Comma-separated: logit, recognised, cd, gap (several: Pareto).")
    ] = "recognised,gap",
    trials: Annotated[int, typer.Option(help="Trials in the study, over all workers.")] = 20,
    study: Annotated[
        str | None, typer.Option(help="Study name (default: the method's); workers join it.")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL (postgresql://...); default OUT/study.db (SQLite)."),
    ] = None,
    classes: Annotated[
        str | None,
        typer.Option(help="Comma-separated class names (default all).", callback=some_classes),
    ] = None,
    steps: StepsOverride = None,
    worker: Annotated[
        int, typer.Option(help="This worker's index: parallel workers give different ones.")
    ] = 0,
    heartbeat: Annotated[
        int, typer.Option(help="Seconds between a running trial's heartbeats.")
    ] = 30,
    grace: Annotated[
        int, typer.Option(help="Seconds without a heartbeat after which a trial has failed.")
    ] = 90,
    out: OutDir = Path("runs/sweep"),
    seed: Seed = 0,
    **fields: Any,
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
        raise FlowamError("--param: give at least one field to sweep, e.g. --param beta=0:1")
    if trials < 1 or heartbeat < 1 or grace <= heartbeat:
        raise FlowamError("--trials and --heartbeat must be at least 1, --grace above --heartbeat")
    settings = SweepSettings(
        method=method,
        params=[parse_param(p) for p in param],
        objectives=parse_objectives(objective),
        classes=comma_list(classes) if classes else None,
        steps=steps,
        trials=trials,
        study=study or Path(method).stem,
        storage=storage_url(storage, out),
        seed=seed,
        worker=worker,
        heartbeat=heartbeat,
        grace=grace,
    )
    subject = Subject(**fields)
    explainer, _ = subject.load(seed, settings.classes or ())
    cache.make_folder(out)
    write_config(out, "sweep", **dataclasses.asdict(subject), **settings_record(settings))
    done = run_sweep(explainer, settings, out, log=console.print)
    console.print(
        f"{len(done.trials)} trials in study {settings.study}; wrote {out / 'pareto.md'}, "
        f"{out / 'pareto.png'}, {out / 'trials.csv'}"
    )


@app.command()
def report(
    folder: Annotated[
        Path, typer.Argument(help="A folder written by explain, demo or an experiment.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Where to write the page (default FOLDER/report.html).")
    ] = None,
    display_points: Annotated[
        int, typer.Option(help="Points shown per cloud (a random subset; 0 = all).")
    ] = 512,
    real: Annotated[int, typer.Option(help="Real objects shown per class.")] = 3,
    seed: Annotated[
        int,
        typer.Option(
            help="Seed of the points shown (a random subset).", callback=bounded("--seed", 0)
        ),
    ] = 0,
) -> None:
    """One self-contained HTML page of a run: 3-D views, histories, tables, configuration."""
    from flowam.report import write_report

    if display_points < 0 or real < 0:
        raise FlowamError("--display-points and --real must be at least 0")
    console.print(f"wrote {write_report(folder, out, display_points, real, seed)}")


@app.command()
@owns_out("demo")
@dataclass_options(Subject)
def demo(
    out: OutDir = Path("runs/demo"),
    steps: MethodSteps = DEMO_STEPS,
    classes: ClassesOption = None,
    methods: MethodsOption = DEMO_METHODS,
    faithfulness: Faithfulness = True,
    architectures: Annotated[
        bool,
        typer.Option(help="Also run the recommended preset on the other bundled architectures."),
    ] = True,
    report: Report = True,
    seed: Seed = 0,
    **fields: Any,
) -> None:
    """The main job: explain the bundled model's classes with every method, compared fairly."""
    from flowam.demo import run_demo

    start = time.perf_counter()
    chosen = comma_list(methods)
    tables = run_demo(
        out,
        Subject(**fields),
        steps=steps,
        seed=seed,
        classes=parse_classes(classes),
        methods=chosen,
        faithfulness=faithfulness,
        architectures=architectures,
        log=console.print,
    )
    for key, outcomes in tables.items():
        print_summary(outcomes, TITLES[key])
    console.print(
        f"done in {time.perf_counter() - start:.0f} s; results in {out.resolve()} "
        "(summary.md, grid.png, report.html); every method from every start: "
        "flowam experiment table1"
    )
    write_page(out, report)
