"""What the commands share: the app and its sub-apps, the consoles, option types declared
once, parse-time checks, the run folder's claim (:func:`owns_out`) and options made from
dataclasses (:func:`dataclass_options`)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from flowam import cache
from flowam.demo import ALL_METHODS, DEMO_COUNT, METHODS
from flowam.devices import check_device
from flowam.errors import FlowamError
from flowam.subject import DEFAULT_CLASSES

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
    if value is not None and not comma_list(value):
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


def comma_list(text: str) -> list[str]:
    """The non-empty, stripped entries of a comma-separated option."""
    return [x.strip() for x in text.split(",") if x.strip()]


def comma_ints(text: str, what: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise FlowamError(f"--{what} {text!r}: expected comma-separated integers") from None


def check_snapshots_option(value: str) -> str:
    """``--snapshots``, checked while the options are parsed: steps, each at least 0."""
    negative = [k for k in comma_ints(value, "snapshots") if k < 0]
    if negative:
        raise FlowamError(f"--snapshots {negative[0]}: a step is at least 0")
    return value


def print_summary(outcomes, title: str) -> None:
    from flowam.compare import summaries
    from flowam.outputs import summary_table

    out_console.print(summary_table(summaries(outcomes), title))


def write_page(out: Path, wanted: bool) -> None:
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
MethodSteps = Annotated[int, typer.Option(help="Steps per method.", callback=bounded("--steps", 1))]


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


def parse_classes(text: str | None) -> list[str] | str | None:
    """``--classes`` of explain, the demo and table4: None (the default), "all" or names."""
    if text is None:
        return None
    return "all" if text.strip() == "all" else comma_list(text)


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
