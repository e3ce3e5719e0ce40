"""The ``flowam`` command line: a thin layer over the Python API.

Errors caused by input (:class:`~flowam.errors.FlowamError`) are printed as one line,
``error: ...``, with exit status 1; every command takes ``--seed`` and every command that
writes a folder stores the configuration that produced it there (``config.json``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import sys
import time
import typing
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from flowam import __version__, cache, stopping
from flowam.demo import ALL_METHODS, DEMO_COUNT, METHODS, TITLES
from flowam.devices import check_device
from flowam.errors import FlowamError, FlowamWarning
from flowam.outputs import write_config
from flowam.subject import DEFAULT_CLASSES, Subject

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Global explanations of point cloud classifiers (Flow AM).",
)
data_app = typer.Typer(add_completion=False, help="Inspect and draw datasets.")
app.add_typer(data_app, name="data")
experiment_app = typer.Typer(add_completion=False, help="The paper's experiments and checks.")
app.add_typer(experiment_app, name="experiment")
console = Console(stderr=True)
# tables go to stdout; where it is a file or pipe, keep their columns readable
out_console = Console(width=None if sys.stdout.isatty() else 160)

Source = Annotated[str, typer.Argument(help="'procedural' or a dataset root folder.")]
Format = Annotated[str | None, typer.Option(help="Dataset format; detected when omitted.")]
MIN_POINTS = 32
"""The fewest points per cloud an option accepts (DGCNN's neighbourhoods need 20)."""


def bounded(flag: str, low: float, *, above: bool = False) -> Callable[[Any], Any]:
    """A parse-time check of a number option: ``low`` or more (``above``: more than
    ``low``), else one line naming ``flag`` and the value. None passes (the default)."""

    def check(value: Any) -> Any:
        if value is None:
            return value
        if not math.isfinite(value):
            raise FlowamError(f"{flag} {value}: must be a finite number")
        if value < low or (above and value == low):
            bound = f"above {low:g}" if above else f"at least {low:g}"
            raise FlowamError(f"{flag} {value}: must be {bound}")
        return value

    return check


def some_classes(value: str | None) -> str | None:
    """A parse-time check of ``--classes``: None (the default) or at least one name."""
    if value is not None and not _items(value):
        raise FlowamError(f"--classes {value!r}: name at least one class, or 'all'")
    return value


Seed = Annotated[
    int,
    typer.Option(
        help="Seed (for procedural data: the dataset seed).", callback=bounded("--seed", 0)
    ),
]
NumPoints = Annotated[
    int, typer.Option(help="Points per cloud.", callback=bounded("--num-points", MIN_POINTS))
]
Sampling = Annotated[str, typer.Option(help="first | random | fps (file datasets).")]


Up = Annotated[
    str | None,
    typer.Option(help="The files' up axis, y or z (default: the format's; OFF meshes: z)."),
]


def _load(source: str, split: str, fmt: str | None, num_points: int, seed: int, up: str | None):
    from flowam.data import load_dataset

    return load_dataset(source, split, format=fmt, num_points=num_points, seed=seed, up=up)


@data_app.command("info")
def data_info(
    source: Source = "procedural",
    format: Format = None,
    num_points: NumPoints = 1024,
    seed: Seed = 0,
    up: Up = None,
) -> None:
    """Print the classes of a dataset and their object counts in each split it holds."""
    from flowam.data import split_names

    splits = [s for s in split_names(source, format) if s != "trainval"]
    if not splits:
        raise FlowamError(f"{source}: lists no split (no train or test index)")
    sets = {s: _load(source, s, format, num_points, seed, up) for s in splits}
    first = next(iter(sets.values()))
    table = Table(title=f"{source} ({first.description['format']}, {first.num_points} points)")
    table.add_column("label", justify="right")
    table.add_column("class")
    for s in splits:
        table.add_column(s, justify="right")
    counts = {s: d.counts() for s, d in sets.items()}
    for k, name in enumerate(first.classes):
        table.add_row(str(k), name, *(str(counts[s].get(name, 0)) for s in splits))
    table.add_row("", "total", *(str(len(sets[s])) for s in splits))
    out_console.print(table)


@data_app.command("render")
def data_render(
    source: Source = "procedural",
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("gallery.png"),
    split: Annotated[str, typer.Option(help="Split to draw.")] = "train",
    per_class: Annotated[
        int, typer.Option(help="Objects per class.", callback=bounded("--per-class", 1))
    ] = 4,
    format: Format = None,
    num_points: NumPoints = 2048,
    seed: Seed = 0,
    up: Up = None,
) -> None:
    """Draw a gallery of several objects per class into a PNG."""
    from flowam.render import render_gallery

    data = _load(source, split, format, num_points, seed, up)
    render_gallery(data.points, data.labels, data.classes, out, per_class=per_class)
    console.print(f"wrote {out}")


def check_device_option(value: str) -> str:
    """``--device``, checked while the options are parsed: an unavailable device ends the
    command in one line before any work."""
    check_device(value)
    return value


def dataclass_options(cls: type, skip: tuple[str, ...] = ()) -> Callable[[Callable], Callable]:
    """Give a command one ``--option`` per field of dataclass ``cls`` (defaults from it).

    The decorated function receives the parsed values as ``**fields``; a field's help text
    is its ``metadata["help"]`` where given.
    """

    def wrap(func: Callable) -> Callable:
        hints = typing.get_type_hints(func, include_extras=True)
        params = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(func).parameters.values()
            if p.kind != p.VAR_KEYWORD
        ]
        for f in dataclasses.fields(cls):
            if f.name in skip or not f.init:
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            checked = {"callback": check_device_option} if f.name == "device" else {}
            if "min" in f.metadata:
                checked = {"callback": bounded(f"--{f.name.replace('_', '-')}", f.metadata["min"])}
            kind = f.type if not isinstance(f.type, str) else eval(f.type)
            flag = f"--{f.name.replace('_', '-')}"
            if kind is bool:  # a switch both ways: --x/--no-x
                flag = f"{flag}/--no-{flag[2:]}"
            annotation = Annotated[kind, typer.Option(flag, help=f.metadata.get("help"), **checked)]
            params.append(
                inspect.Parameter(
                    f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
                )
            )
        func.__signature__ = inspect.Signature(params)
        return func

    return wrap


def train(
    resume: Annotated[bool, typer.Option(help="Continue from OUT/last.pt.")] = False, **fields: Any
) -> None:
    """Train a classifier (defaults: the Pointnet_Pointnet2_pytorch recipe)."""
    from flowam.train import TrainConfig
    from flowam.train import train as run

    meta = run(TrainConfig(**fields), resume=resume)
    key, split = ("val", "validation") if "val_accuracy" in meta else ("test", "test")
    console.print(
        f"best {split} accuracy {meta.get(f'{key}_accuracy', float('nan')):.4f} "
        f"(epoch {meta.get('epoch')}); weights in {Path(fields['out']) / 'best.safetensors'}"
    )


def train_generator(
    resume: Annotated[bool, typer.Option(help="Continue from OUT/last.pt.")] = False, **fields: Any
) -> None:
    """Train a generative baseline: an autoencoder (ae), with a discriminator (aed), with
    latent noise too (naed)."""
    from flowam.generative import GeneratorConfig
    from flowam.generative import train_generator as run

    meta = run(GeneratorConfig(**fields), resume=resume)
    console.print(
        f"best test reconstruction CD {meta.get('test_chamfer', float('nan')):.4f} "
        f"(epoch {meta.get('epoch')}); weights in {Path(fields['out']) / 'best.safetensors'}"
    )


def safetensors_file(value: Path) -> Path:
    """A parse-time check of an export's ``--out``: a ``.safetensors`` file."""
    if value.suffix != ".safetensors":
        raise FlowamError(f"--out {value}: must end in .safetensors")
    return value


ExportOut = Annotated[
    Path, typer.Option(help="The .safetensors file to write.", callback=safetensors_file)
]
Half = Annotated[bool, typer.Option(help="Store floating-point weights as float16.")]


@app.command("export-generator")
def export_generator(
    weights: Annotated[Path, typer.Argument(help="A trained generator (best.safetensors).")],
    out: ExportOut,
    half: Half = True,
) -> None:
    """Copy a trained generator (float16 by default) with its reconstruction Chamfer
    distance measured on the copy over the full test split."""
    from flowam.generative.training import export_generator as run

    meta = run(weights, out, half=half)
    console.print(
        f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB, {meta['stored_dtype']}); "
        f"test reconstruction CD {meta['test_chamfer']:.4f} on {meta['test_objects']} objects"
    )


@app.command("export-model")
def export_model(
    weights: Annotated[Path, typer.Argument(help="A trained model (best.safetensors).")],
    out: ExportOut,
    half: Half = True,
    note: Annotated[str, typer.Option(help="A remark stored with the training record.")] = "",
    data: Annotated[
        str | None,
        typer.Option(help="Where the run's dataset lies now (default: the run's --data)."),
    ] = None,
) -> None:
    """Copy a trained model (float16 by default) with its accuracy measured on the copy.

    Deterministic, so it takes no --seed: the test split is the one the model's metadata
    names.
    """
    from flowam.train import export_model as run

    meta = run(weights, out, half=half, note=note, data=data)
    key, split = ("val", "validation") if "val_accuracy" in meta else ("test", "test")
    accuracy = meta.get(f"{key}_accuracy", float("nan"))
    size = out.stat().st_size / 2**20
    console.print(
        f"wrote {out} ({size:.1f} MiB, {meta['stored_dtype']}); {split} accuracy {accuracy:.4f}"
    )


ModelSpec = Annotated[
    str, typer.Option("--model", help="'bundled', 'bundled:<arch>' or a weights file.")
]
Arch = Annotated[str | None, typer.Option(help="Architecture, where the file cannot tell.")]
NumClasses = Annotated[
    int | None, typer.Option(help="Number of classes, where the file cannot tell.")
]
Device = Annotated[str, typer.Option(help="cpu, cuda, cuda:1, ...", callback=check_device_option)]
ModelPoints = Annotated[
    int | None,
    typer.Option(
        help="Points per cloud (default: the model's).",
        callback=bounded("--num-points", MIN_POINTS),
    ),
]


StepsOverride = Annotated[
    int | None,
    typer.Option(help="Override the method's step count.", callback=bounded("--steps", 1)),
]


def check_out_option(value: Path) -> Path:
    """``--out``, checked while the options are parsed (nothing is created yet): a file,
    or a folder that cannot be created, ends the command in one line before any work."""
    problem = cache.folder_problem(value)
    if problem:
        raise FlowamError(f"--out {value}: {problem}")
    return value


Report = Annotated[
    bool, typer.Option(help="Write FOLDER/report.html (the interactive page) at the end.")
]


OutDir = Annotated[Path, typer.Option(help="Output folder.", callback=check_out_option)]
Overwrite = Annotated[
    bool, typer.Option(help="Replace the earlier run that --out holds (its files are removed).")
]


def owns_out(
    command: str,
    *,
    shared: bool = False,
    skip: Callable[[dict], bool] | None = None,
    check: Callable[[dict], object] | None = None,
) -> Callable[[Callable], Callable]:
    """Run the command inside a claim of its ``--out`` folder (:func:`flowam.runfolder.claim`:
    one run per folder, a lock, ``run.json``) and give it ``--overwrite``. A command with
    ``--resume`` continues its own earlier run in place; ``shared`` (sweep) takes no lock;
    ``skip(options)`` says when the command writes no folder; ``check(options)`` refuses bad
    options before the folder is touched."""

    def wrap(func: Callable) -> Callable:
        from flowam.runfolder import claim

        signature = inspect.signature(func, eval_str=True)

        @functools.wraps(func)
        def run(*args: Any, overwrite: bool = False, **options: Any) -> None:
            if skip and skip(options):
                return func(*args, **options)
            if check:
                check(options)
            resume = bool(options.get("resume"))
            with claim(
                Path(options["out"]), command, overwrite=overwrite, resume=resume, shared=shared
            ):
                func(*args, **options)

        flag = inspect.Parameter(
            "overwrite", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Overwrite
        )
        run.__signature__ = signature.replace(parameters=[*signature.parameters.values(), flag])
        return run

    return wrap


def _bind_train_options() -> None:
    """The training commands: one option per field of their configuration, and --out's
    claim (``--resume`` continues the run in place)."""
    from flowam.generative import GeneratorConfig
    from flowam.train import TrainConfig

    for name, func, config in (
        ("train", train, TrainConfig),
        ("train-generator", train_generator, GeneratorConfig),
    ):

        def check(options: dict, config: type = config) -> None:
            fields = {k: v for k, v in options.items() if k != "resume"}
            config(**fields).check()

        options = dataclass_options(config, skip=("command",))(func)
        app.command(name)(owns_out(name, check=check)(options))


_bind_train_options()


def _model_and_data(
    model: str,
    data: str,
    splits: str,
    format: str | None,
    num_points: int | None,
    sampling: str,
    arch: str | None,
    num_classes: int | None,
    device: str,
    seed: int,
):
    """A classifier and the comma-separated ``splits`` of a dataset at the model's size,
    labelled by the model's classes (:func:`flowam.data.load_for_model`)."""
    from flowam.data import concatenate, load_for_model
    from flowam.models import load_classifier

    net, info = load_classifier(model, arch=arch, num_classes=num_classes, device=device)
    info.check_convention(data)
    points = num_points or info.num_points
    options = {"format": format, "num_points": points, "sampling": sampling, "seed": seed}
    parts = [load_for_model(info.classes, data, s, **options) for s in _items(splits)]
    return net, info, concatenate(parts)


@app.command("eval-model")
@owns_out("eval-model")
def eval_model(
    model: ModelSpec = "bundled",
    data: Annotated[str, typer.Option(help="'procedural' or a dataset root.")] = "procedural",
    split: Annotated[str, typer.Option(help="Split to evaluate.")] = "test",
    format: Format = None,
    num_points: ModelPoints = None,
    sampling: Sampling = "first",
    arch: Arch = None,
    num_classes: NumClasses = None,
    out: OutDir = Path("runs/eval"),
    device: Device = "cpu",
    seed: Seed = 0,
) -> None:
    """Overall and per-class accuracy of a classifier, and a confusion-matrix picture."""
    _accuracy("eval-model", out / "eval.json", locals())


def _accuracy(command: str, summary: Path, options: dict[str, Any]) -> None:
    """Per-class accuracy of a model on the objects of ``data`` whose classes it has (all
    of them for data of its classes): the table, ``summary`` (JSON), ``confusion.png``
    and ``config.json`` beside it. ``eval-model`` and ``experiment realism`` (``options``:
    their parameters, by name)."""
    from flowam.experiments.realism import measure_realism, write_realism

    names = ("model", "data", "split", "format", "num_points", "sampling", "arch")
    model, data, split, format, num_points, sampling, arch = (options[k] for k in names)
    device, seed = options["device"], options["seed"]
    net, info, real = _model_and_data(
        model, data, split, format, num_points, sampling, arch, options["num_classes"], device, seed
    )
    points = real.num_points
    result = measure_realism(net, info.classes, real, device=device)
    table = Table(title=f"{info.source} ({info.architecture}) on {data} ({split}, {points} points)")
    for col in ("class", "objects", "recognised", "most often taken for"):
        table.add_column(
            col, justify="left" if col in ("class", "most often taken for") else "right"
        )
    rows = result.to_dict()["per_class"]
    for name, row in rows.items():
        table.add_row(
            name, str(row["objects"]), f"{row['accuracy']:.0%}", row["most_often_taken_for"] or ""
        )
    table.add_row("overall", str(int(result.counts.sum())), f"{result.overall:.1%}", "")
    table.add_row("mean of classes", "", f"{result.mean_class:.1%}", "")
    out_console.print(table)
    title = f"{info.architecture} on {Path(data).name}: {result.overall:.0%} of its objects"
    out = summary.parent
    write_realism(result, out, title, summary.name)
    write_config(
        out,
        command,
        model=model,
        data=data,
        split=split,
        format=format,
        num_points=points,
        sampling=sampling,
        arch=info.architecture,
        seed=seed,
    )
    console.print(f"wrote {summary} and {out / 'confusion.png'}")


def _items(text: str) -> list[str]:
    """The non-empty, stripped entries of a comma-separated option."""
    return [x.strip() for x in text.split(",") if x.strip()]


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise FlowamError(f"--{what} {text!r}: expected comma-separated integers") from None


def check_snapshots_option(value: str) -> str:
    """``--snapshots``, checked while the options are parsed: steps, each at least 0."""
    negative = [k for k in _ints(value, "snapshots") if k < 0]
    if negative:
        raise FlowamError(f"--snapshots {negative[0]}: a step is at least 0")
    return value


def _print_summary(outcomes, title: str) -> None:
    from flowam.compare import summaries
    from flowam.outputs import summary_table

    out_console.print(summary_table(summaries(outcomes), title))


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

    steps_at = _ints(snapshots, "snapshots")
    subject = Subject(**fields)
    explainer, info = subject.load(seed)
    picked = _classes(classes)
    names = None if picked == "all" else picked
    explainer.targets(names)  # unknown class names fail here, before any work
    common = {"steps": steps} if steps is not None else {}
    runs = {}
    for spec in _items(method):
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
    _print_summary(
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
    _report(out, report)


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
        classes=_items(classes) if classes else None,
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


def _report(out: Path, wanted: bool) -> None:
    """The page of a finished command's folder; a failure here loses no result."""
    if not wanted:
        return
    from flowam.report import write_report

    try:
        console.print(f"wrote {write_report(out)}")
    except FlowamError as e:
        console.print(f"report not written: {e}", markup=False)


DEMO_STEPS = 100
"""Steps per method in the demo, chosen so ``make demo`` fits in 5 minutes on 2 CPU cores."""


Faithfulness = Annotated[
    bool, typer.Option(help="Repeat every run on the fully randomized model (the gap).")
]
ClassesOption = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated classes, or 'all' (default: "
        f"{', '.join(DEFAULT_CLASSES[:DEMO_COUNT])}: {DEMO_COUNT} families).",
        callback=some_classes,
    ),
]
MethodsOption = Annotated[str, typer.Option(help="Comma-separated methods.")]
DEMO_METHODS = ",".join(METHODS)
EVERY_METHOD = ",".join(ALL_METHODS)


def _classes(text: str | None) -> list[str] | str | None:
    """``--classes`` of explain, the demo and table4: None (the default), "all" or names."""
    if text is None:
        return None
    return "all" if text.strip() == "all" else _items(text)


@app.command()
@owns_out("demo")
@dataclass_options(Subject)
def demo(
    out: OutDir = Path("runs/demo"),
    steps: Annotated[
        int, typer.Option(help="Steps per method.", callback=bounded("--steps", 1))
    ] = DEMO_STEPS,
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
    chosen = _items(methods)
    tables = run_demo(
        out,
        Subject(**fields),
        steps=steps,
        seed=seed,
        classes=_classes(classes),
        methods=chosen,
        faithfulness=faithfulness,
        architectures=architectures,
        log=console.print,
    )
    for key, outcomes in tables.items():
        _print_summary(outcomes, TITLES[key])
    console.print(
        f"done in {time.perf_counter() - start:.0f} s; results in {out.resolve()} "
        "(summary.md, grid.png, report.html); every method from every start: "
        "flowam experiment table1"
    )
    _report(out, report)


@experiment_app.command("realism")
@owns_out("experiment realism")
def experiment_realism(
    data: Annotated[str, typer.Option(help="Root of a real dataset (e.g. ModelNet40).")],
    model: ModelSpec = "bundled",
    split: Annotated[str, typer.Option(help="Comma-separated splits to use.")] = "train,test",
    format: Format = None,
    num_points: ModelPoints = None,
    sampling: Sampling = "first",
    arch: Arch = None,
    num_classes: NumClasses = None,
    out: OutDir = Path("runs/realism"),
    device: Device = "cpu",
    report: Report = True,
    seed: Seed = 0,
) -> None:
    """Per-class accuracy of a model on a real dataset's objects of the classes they share."""
    _accuracy("experiment realism", out / "realism.json", locals())
    _report(out, report)


@experiment_app.command("table4")
@owns_out("experiment table4")
@dataclass_options(Subject, skip=("model",))
def experiment_table4(
    models: Annotated[
        str | None,
        typer.Option(help="Comma-separated model specs (default: every bundled architecture)."),
    ] = None,
    out: OutDir = Path("runs/table4"),
    steps: Annotated[
        int, typer.Option(help="Steps per method.", callback=bounded("--steps", 1))
    ] = DEMO_STEPS,
    classes: ClassesOption = None,
    methods: MethodsOption = DEMO_METHODS,
    faithfulness: Faithfulness = True,
    report: Report = True,
    seed: Seed = 0,
    **fields: Any,
) -> None:
    """The paper's Table IV: every method on every (bundled) architecture."""
    from flowam.experiments.table4 import run_table4

    specs = _items(models) if models else None
    chosen = _items(methods)
    subject = Subject(**fields)
    write_config(
        out,
        "experiment table4",
        **dataclasses.asdict(subject),
        models=specs,
        steps=steps,
        classes=classes,
        methods=chosen,
        seed=seed,
    )
    run_table4(
        out,
        subject,
        models=specs,
        steps=steps,
        seed=seed,
        classes=_classes(classes),
        methods=chosen,
        faithfulness=faithfulness,
        log=console.print,
    )
    console.print(f"wrote {out / 'table4.md'}")
    _report(out, report)


ExperimentClasses = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated classes, or 'all' (default: 8 at --quick, all at --full).",
        callback=some_classes,
    ),
]
Steps = Annotated[
    int | None,
    typer.Option(
        help="Steps per method (default: 100 at --quick, each method's own at --full).",
        callback=bounded("--steps", 1),
    ),
]
Full = Annotated[
    bool, typer.Option("--full/--quick", help="The paper's scale, or minutes on a laptop CPU.")
]
MethodOption = Annotated[str, typer.Option(help="The method to vary (a preset or a .toml file).")]


def experiment(
    name: str, *, skip: tuple[str, ...] = (), writes_when: Callable[[dict], bool] | None = None
) -> Callable[[Callable], Callable]:
    """Register ``flowam experiment NAME`` from ``func(setting, out, **own options)``, which
    runs it and returns the file it wrote (its Markdown). Every experiment gets the same
    options besides its own: ``--out`` (default ``runs/NAME``), ``--classes``, ``--steps``,
    ``--full/--quick``, ``--report``, ``--seed`` and the subject's (:class:`Subject`, less
    ``skip``); its folder is claimed (:func:`owns_out`; ``writes_when(options)`` False: the
    command writes no folder) and reported. The help is ``func``'s docstring."""
    from flowam.experiments.common import Setting

    common = [
        ("out", OutDir, Path(f"runs/{name}")),
        ("classes", ExperimentClasses, None),
        ("steps", Steps, None),
        ("full", Full, False),
        ("report", Report, True),
        ("seed", Seed, 0),
    ]

    def wrap(func: Callable) -> Callable:
        own = list(inspect.signature(func, eval_str=True).parameters.values())[2:]
        keyword = inspect.Parameter.KEYWORD_ONLY
        params = [inspect.Parameter(n, keyword, default=d, annotation=a) for n, a, d in common]
        params[1:1] = [p.replace(kind=keyword) for p in own]
        subject = {f.name for f in dataclasses.fields(Subject)}

        def command(*, out: Path, classes, steps, full, report: bool, seed: int, **options):
            fields = {k: options.pop(k) for k in list(options) if k in subject}
            scale = "full" if full else "quick"
            setting = Setting(Subject(**fields), _classes(classes), steps, scale, seed)
            wrote = func(setting, out, **options)
            if wrote is not None:
                console.print(f"wrote {wrote}")
                _report(out, report)

        command.__signature__ = inspect.Signature(
            [*params, inspect.Parameter("fields", inspect.Parameter.VAR_KEYWORD)]
        )
        command.__annotations__ = {p.name: p.annotation for p in params}  # typer reads these
        command.__doc__ = func.__doc__
        skipped = None if writes_when is None else (lambda o: not writes_when(o))
        claimed = owns_out(f"experiment {name}", skip=skipped)(
            dataclass_options(Subject, skip=skip)(command)
        )
        experiment_app.command(name)(claimed)
        return func

    return wrap


@experiment("table1")
def experiment_table1(setting, out: Path, methods: MethodsOption = EVERY_METHOD) -> Path:
    """Table I: every method from both starts, the paper's protocol, the faithfulness gap."""
    from flowam.experiments.variants import run_table1

    run_table1(setting, out, methods=_items(methods), log=console.print)
    return out / "table1.md"


def _variant_command(name: str, doc: str) -> None:
    def run(
        setting,
        out: Path,
        method: MethodOption = "flow",
        restarts: Annotated[
            int | None,
            typer.Option(
                help="Explanations per class (default 1; diversity 3).",
                callback=bounded("--restarts", 1),
            ),
        ] = None,
    ) -> Path:
        from flowam.experiments.variants import run_variants

        run_variants(name, setting, out, method=method, restarts=restarts, log=console.print)
        return out / f"{name}.md"

    run.__doc__ = doc
    experiment(name)(run)


_variant_command("ablation", "Table III: the method without L_LA, L_C and L_LR (Fig. 8).")
_variant_command("beta", "Fig. S5: Eq. 6's beta from 0 to 1.")
_variant_command(
    "diversity", "Fig. S4: noise on the start, the latents or every step; the diversity term."
)


@experiment("sanity")
def experiment_sanity(
    setting,
    out: Path,
    methods: MethodsOption = EVERY_METHOD,
    rates: Annotated[
        str, typer.Option(help="Parameter dropout rates P_D.")
    ] = "0,0.1,0.2,0.3,0.4,0.5",
    start: Annotated[
        str | None, typer.Option(help="One start for every method (default: each its own).")
    ] = None,
) -> Path:
    """Table S1, Fig. S2/S3: parameter dropout and cascading randomization."""
    from flowam.experiments.sanity import run_sanity

    try:
        chosen = [float(x) for x in _items(rates)]
    except ValueError:
        raise FlowamError(f"--rates {rates!r}: expected comma-separated numbers") from None
    run_sanity(setting, out, methods=_items(methods), rates=chosen, shared=start, log=console.print)
    return out / "sanity.md"


SharedStart = Annotated[str, typer.Option(help="The one start shared by every class.")]
Directions = Annotated[
    str, typer.Option(help="Comma-separated directions (see flowam.experiments.faithful).")
]


@experiment("faithful")
def experiment_faithful(
    setting,
    out: Path,
    directions: Directions = "vanilla,flow-auto,flow,flow-beta0.05,robust,smooth,parts",
    directions_file: Annotated[
        Path | None,
        typer.Option(help="TOML file of directions (a table per label: method and fields)."),
    ] = None,
    start: SharedStart = "sphere",
) -> Path:
    """Recognisable and faithful: directions on the trained, randomized and P_D=0.5 models."""
    from flowam.experiments.faithful import load_directions, run_faithful

    chosen = load_directions(directions_file) if directions_file else _items(directions)
    run_faithful(setting, out, directions=chosen, shared=start, log=console.print)
    return out / "faithful.md"


@experiment("genuine", skip=("model", "judges"))
def experiment_genuine(
    setting,
    out: Path,
    models: Annotated[
        str,
        typer.Option(
            help="Comma-separated models, each judged by the others (default: the three "
            "trained on genuine ModelNet10, models/modelnet10 of a checkout)."
        ),
    ] = "",
    directions: Directions = "vanilla,flow-auto,parts",
    start: SharedStart = "sphere",
    any_facing: Annotated[
        int,
        typer.Option(
            help="Turns about the up axis of the turn-invariant 1-NN.",
            callback=bounded("--any-facing", 1),
        ),
    ] = 8,
) -> Path:
    """The presets on models trained on genuine data (by default ModelNet10's three), on
    the trained and damaged models, read by each other, as drawn and in any facing."""
    from flowam.experiments.genuine import MODELNET10_MODELS, run_genuine

    chosen = _items(models) if models else list(MODELNET10_MODELS)
    for spec in chosen:
        if not spec.startswith("bundled") and not Path(spec).is_file():
            raise FlowamError(f"--models: {spec} is not a file (the default needs a checkout)")
    run_genuine(
        setting, chosen, out, _items(directions), shared=start, turns=any_facing, log=console.print
    )
    return out / "genuine.md"


@experiment("reproduce", writes_when=lambda options: not options["dry_run"])
def experiment_reproduce(
    setting,
    out: Path,
    dry_run: Annotated[bool, typer.Option(help="Print the time estimate and stop.")] = False,
) -> Path | None:
    """Every experiment (flow-analysis, table1, ablation, beta, diversity, sanity, table4)."""
    from flowam.experiments.reproduce import run_reproduce

    if not dry_run:
        write_config(out, "experiment reproduce", **setting.to_dict())
    run_reproduce(setting, out, log=console.print, dry_run=dry_run)
    return None if dry_run else out


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False):
    if version:
        print(__version__)
        raise typer.Exit()


def main() -> None:
    """Run the app, turning input errors into one line and exit status 1, flowam's
    warnings into one line each, and a stop (:mod:`flowam.stopping`; the stop line is
    printed when it is asked for) into exit status 130 (Ctrl-C) or 143 (SIGTERM)."""
    plain = warnings.showwarning

    def show(message, category, *args, **kwargs) -> None:
        if issubclass(category, FlowamWarning):
            console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)
        else:
            plain(message, category, *args, **kwargs)

    warnings.showwarning = show
    try:
        app()  # ends in SystemExit (typer turns a KeyboardInterrupt into status 130)
    except FlowamError as e:
        console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:  # a stop (stopping.Stopped) or a second signal
        sys.exit(stopping.exit_code())
    except SystemExit as e:
        # a requested stop also where the optimisation ended early and the command finished
        if stopping.requested() is not None and e.code in (None, 0, 130):
            sys.exit(stopping.exit_code())
        raise
