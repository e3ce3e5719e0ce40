"""``flowam experiment NAME``: the paper's experiments and the faithfulness checks, most of
them declared through one registry (:func:`experiment`)."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from flowam.cli.options import (
    DEMO_METHODS,
    DEMO_STEPS,
    EVERY_METHOD,
    Arch,
    ClassesOption,
    Device,
    ExperimentClasses,
    Faithfulness,
    Format,
    Full,
    MethodOption,
    MethodsOption,
    MethodSteps,
    ModelPoints,
    ModelSpec,
    NumClasses,
    OutDir,
    Report,
    Sampling,
    Seed,
    Steps,
    bounded,
    comma_list,
    console,
    dataclass_options,
    experiment_app,
    owns_out,
    parse_classes,
    write_page,
)
from flowam.cli.training import measure_accuracy
from flowam.errors import FlowamError
from flowam.outputs import write_config
from flowam.subject import Subject


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
    measure_accuracy("experiment realism", out / "realism.json", **locals())
    write_page(out, report)


@experiment_app.command("table4")
@owns_out("experiment table4")
@dataclass_options(Subject, skip=("model",))
def experiment_table4(
    models: Annotated[
        str | None,
        typer.Option(help="Comma-separated model specs (default: every bundled architecture)."),
    ] = None,
    out: OutDir = Path("runs/table4"),
    steps: MethodSteps = DEMO_STEPS,
    classes: ClassesOption = None,
    methods: MethodsOption = DEMO_METHODS,
    faithfulness: Faithfulness = True,
    report: Report = True,
    seed: Seed = 0,
    **fields: Any,
) -> None:
    """The paper's Table IV: every method on every (bundled) architecture."""
    from flowam.experiments.table4 import run_table4

    specs = comma_list(models) if models else None
    chosen = comma_list(methods)
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
        classes=parse_classes(classes),
        methods=chosen,
        faithfulness=faithfulness,
        log=console.print,
    )
    console.print(f"wrote {out / 'table4.md'}")
    write_page(out, report)


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
            setting = Setting(Subject(**fields), parse_classes(classes), steps, scale, seed)
            wrote = func(setting, out, **options)
            if wrote is not None:
                console.print(f"wrote {wrote}")
                write_page(out, report)

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

    run_table1(setting, out, methods=comma_list(methods), log=console.print)
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
        chosen = [float(x) for x in comma_list(rates)]
    except ValueError:
        raise FlowamError(f"--rates {rates!r}: expected comma-separated numbers") from None
    run_sanity(
        setting, out, methods=comma_list(methods), rates=chosen, shared=start, log=console.print
    )
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

    chosen = load_directions(directions_file) if directions_file else comma_list(directions)
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

    chosen = comma_list(models) if models else list(MODELNET10_MODELS)
    for spec in chosen:
        if not spec.startswith("bundled") and not Path(spec).is_file():
            raise FlowamError(f"--models: {spec} is not a file (the default needs a checkout)")
    run_genuine(
        setting,
        chosen,
        out,
        comma_list(directions),
        shared=start,
        turns=any_facing,
        log=console.print,
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
