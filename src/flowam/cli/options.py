"""What the commands share: the app and its groups, the consoles, every option declared
once (:data:`OPTIONS`) and :func:`command`, which turns a plain function into a command:
its parameters' options from the registry, one option per field of a dataclass, and the
claim of its ``--out`` folder."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from flowam import cache
from flowam.demo import ALL_METHODS, DEMO_COUNT, METHODS
from flowam.devices import check_device
from flowam.errors import FlowamError
from flowam.fields import MIN_POINTS, comma_list
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


def bounded(flag: str, low: float) -> Callable[[Any], Any]:
    """A parse-time check of a number option: ``low`` or more, else one line naming
    ``flag`` and the value. None passes (the default)."""

    def check(value: Any) -> Any:
        if value is None:
            return value
        if not math.isfinite(value):
            raise FlowamError(f"{flag} {value}: must be a finite number")
        if value < low:
            raise FlowamError(f"{flag} {value}: must be at least {low:g}")
        return value

    return check


def comma_numbers(flag: str, kind: type = int) -> Callable[[str], list]:
    """The parser of a comma-separated option of numbers of ``kind``, each at least 0;
    one line naming ``flag`` where one is not."""
    noun = "integers" if kind is int else "numbers"

    def parse(text: str) -> list:
        try:
            numbers = [kind(x) for x in comma_list(text)]
        except ValueError:
            raise FlowamError(f"{flag} {text!r}: expected comma-separated {noun}") from None
        if any(x < 0 for x in numbers):
            raise FlowamError(f"{flag} {min(numbers):g}: must be at least 0")
        return numbers

    return parse


def class_names(text: str | None) -> list[str] | str | None:
    """``--classes``: None (the command's default), "all" or at least one name."""
    if text is None:
        return None
    if text.strip() == "all":
        return "all"
    names = comma_list(text)
    if not names:
        raise FlowamError(f"--classes {text!r}: name at least one class, or 'all'")
    return names


def check_device_option(value: str) -> str:
    """``--device``: an unavailable device ends the command in one line before any work."""
    check_device(value)
    return value


def check_out_option(value: Path | str) -> Path | str:
    """``--out`` (a folder; nothing is created yet): a file, or a folder that cannot be
    created, ends the command in one line before any work."""
    problem = cache.folder_problem(Path(value))  # a training config's --out is text
    if problem:
        raise FlowamError(f"--out {value}: {problem}")
    return value


def safetensors_file(value: Path) -> Path:
    """An export's ``--out``: a ``.safetensors`` file."""
    if value.suffix != ".safetensors":
        raise FlowamError(f"--out {value}: must end in .safetensors")
    return value


@dataclasses.dataclass(frozen=True)
class Opt:
    """One option, declared once: its type, help, least value or ``check`` (which may
    also parse: the command receives what it returns), and flags (default ``--name``, the
    name it is registered by; ``argument``: a positional argument instead)."""

    kind: Any
    help: str
    low: float | None = None
    check: Callable[[Any], Any] | None = None
    flags: tuple[str, ...] = ()
    argument: bool = False

    def annotation(self, name: str, help: str | None = None, renamed: bool = False) -> Any:
        """The typer annotation of option ``name`` (``renamed``: its parameter is named
        otherwise, ``set_`` for ``--set``, so the flag is given)."""
        if self.argument:
            return Annotated[self.kind, typer.Argument(help=help or self.help)]
        flag = self.flags[0] if self.flags else f"--{name.replace('_', '-')}"
        check = self.check or (bounded(flag, self.low) if self.low is not None else None)
        flags = self.flags or ((flag,) if renamed else ())
        info = typer.Option(*flags, help=help or self.help, callback=check)
        return Annotated[self.kind, info]


DEMO_CLASSES = ", ".join(DEFAULT_CLASSES[:DEMO_COUNT])
DEMO_METHODS = ",".join(METHODS)
EVERY_METHOD = ",".join(ALL_METHODS)
NAMES = "Comma-separated methods"
OPTIONS: dict[str, Opt] = {
    # where results go and how they are drawn
    "out": Opt(Path, "Output folder.", check=check_out_option),
    "seed": Opt(int, "Seed of every random draw (for procedural data: the dataset seed).", 0),
    "report": Opt(bool, "Write FOLDER/report.html (the interactive page) at the end."),
    "folder": Opt(Path, "A folder written by explain, demo or an experiment.", argument=True),
    "device": Opt(str, "cpu, cuda, cuda:1, ...", check=check_device_option),
    # what is explained, and how
    "classes": Opt(str | None, "Comma-separated classes, or 'all' (default).", check=class_names),
    "method": Opt(str, "The method: a preset or a .toml file."),
    "methods": Opt(str, f"{NAMES}.", check=comma_list),
    "steps": Opt(int | None, "Override the method's step count.", 1),
    "restarts": Opt(int, "Explanations per class.", 1),
    "set": Opt(
        list[str],
        "Any method option: SECTION.OPTION=VALUE (e.g. run.lr=0.005, param.start=sphere, "
        "objective.beta=0.3, objective.align.LAYER=W; docs/methods.md lists them).",
    ),
    "snapshots": Opt(
        str,
        "Steps to keep clouds at, e.g. 0,50,100 (written to each run's snapshots.npz).",
        check=comma_numbers("--snapshots"),
    ),
    "chunk_size": Opt(int | None, "Clouds optimised together.", 1),
    "pictures": Opt(bool, "A multi-view PNG per explanation."),
    "faithfulness": Opt(bool, "Repeat every run on the fully randomized model (the gap)."),
    "architectures": Opt(bool, "Also run the recommended preset on the other bundled models."),
    "turns": Opt(
        int | None,
        "Scores allow the best of this many turns about the up axis (default: as the run's "
        "config or the model's metadata says).",
        1,
    ),
    # sweeps
    "param": Opt(
        list[str],
        "NAME=LOW:HIGH, NAME=log:LOW:HIGH, NAME=int:LOW:HIGH or NAME=A|B; NAME is any method "
        "option (objective.beta, run.lr, objective.align.LAYER, ...). Repeat for several.",
    ),
    "objective": Opt(str, "Comma-separated: logit, recognised, cd, gap (several: Pareto)."),
    "trials": Opt(int, "Trials in the study, over all workers.", 1),
    "study": Opt(str | None, "Study name (default: the method's); workers join it."),
    "storage": Opt(str | None, "SQLAlchemy URL (postgresql://...); default OUT/study.db."),
    "worker": Opt(int, "This worker's index: parallel workers give different ones.", 0),
    "heartbeat": Opt(int, "Seconds between a running trial's heartbeats.", 1),
    "grace": Opt(int, "Seconds without a heartbeat after which a trial has failed.", 1),
    # the report page
    "display_points": Opt(int, "Points shown per cloud (a random subset; 0 = all).", 0),
    "real": Opt(int, "Real objects shown per class.", 0),
    # models and data
    "model": Opt(str, "'bundled', 'bundled:<arch>' or a weights file."),
    "models": Opt(
        str | None, "Comma-separated model specs (default: every bundled model).", check=comma_list
    ),
    "data": Opt(str, "Real objects: 'procedural' or a dataset root."),
    "source": Opt(str, "'procedural' or a dataset root folder.", argument=True),
    "format": Opt(str | None, "Dataset format; detected when omitted."),
    "split": Opt(str, "Comma-separated splits."),
    "num_points": Opt(int | None, "Points per cloud (default: the model's).", MIN_POINTS),
    "sampling": Opt(str, "first | random | fps (file datasets)."),
    "up": Opt(str | None, "The files' up axis, y or z (default: the format's; OFF: z)."),
    "arch": Opt(str | None, "Architecture, where the weights file cannot tell."),
    "num_classes": Opt(int | None, "Number of classes, where the weights file cannot tell."),
    "per_class": Opt(int, "Objects per class.", 1),
    # training and export
    "resume": Opt(bool, "Continue from OUT/last.pt."),
    "weights": Opt(Path, "Trained weights (best.safetensors).", argument=True),
    "half": Opt(bool, "Store floating-point weights as float16."),
    "note": Opt(str, "A remark stored with the training record."),
    # experiments
    "full": Opt(bool, "The paper's scale, or minutes on a laptop CPU.", flags=("--full/--quick",)),
    "start": Opt(str | None, "One start for every method and class (default: each its own)."),
    "directions": Opt(
        str, "Comma-separated directions (see flowam.experiments.faithful).", check=comma_list
    ),
    "directions_file": Opt(Path | None, "TOML file of directions (a table per label)."),
    "damaged": Opt(bool, "Also explain the damaged models.", flags=("--damaged/--no-damaged",)),
    "rates": Opt(
        str, "Comma-separated parameter dropout rates P_D.", check=comma_numbers("--rates", float)
    ),
    "any_facing": Opt(int, "Turns about the up axis of the turn-invariant 1-NN.", 1),
    "dry_run": Opt(bool, "Print the time estimate and stop."),
}
"""Every option the commands share, by its flag (``set`` is ``--set``; a function's
parameter is named as its flag, with a trailing ``_`` where the flag is a Python name:
``set_``). A command's defaults are its own (its function's); ``helps`` in
:func:`command` gives an option another help there, and ``own`` another meaning (``--out``
a file, not a folder)."""
EXPORT = Opt(Path, "The .safetensors file to write.", check=safetensors_file)
"""``--out`` of the exports: a weights file."""
EXPLAINED = Opt(str, f"{NAMES}: presets or .toml files.", check=comma_list)
"""``--method`` of ``explain``: several methods."""


def embedded(f: dataclasses.Field) -> type | None:
    """The dataclass a field embeds (``Subject.speed``: a :class:`flowam.speed.Speed`), or
    None for a plain field."""
    if f.default_factory is dataclasses.MISSING:
        return None
    made = f.default_factory()
    return type(made) if dataclasses.is_dataclass(made) else None


def flat_fields(fields: type) -> list[dataclasses.Field]:
    """A dataclass's fields, an embedded dataclass's in its place: one option each."""
    out = []
    for f in dataclasses.fields(fields):
        inner = embedded(f)
        out += dataclasses.fields(inner) if inner else [f]
    return out


def built(fields: type, options: dict[str, Any]) -> Any:
    """The dataclass ``fields`` from the options named as :func:`flat_fields` names them
    (taken out of ``options``); an embedded dataclass from its own options, built on the
    field's default (so options a command skips keep the default's value)."""
    given = {}
    for f in dataclasses.fields(fields):
        inner = embedded(f)
        if inner is None:
            if f.name in options:
                given[f.name] = options.pop(f.name)
            continue
        own = {g.name: options.pop(g.name) for g in dataclasses.fields(inner) if g.name in options}
        given[f.name] = dataclasses.replace(f.default_factory(), **own)
    return fields(**given)


def signature(
    params: list[inspect.Parameter],
    fields: type | None = None,
    skip: tuple[str, ...] = (),
    helps: dict[str, str] | None = None,
    own: dict[str, Opt] | None = None,
) -> inspect.Signature:
    """The signature typer reads: ``params`` with their options from :data:`OPTIONS`
    (``helps``: other help texts) and, with ``fields``, one ``--option`` per field of
    that dataclass (less ``skip``; an embedded dataclass's fields in its place:
    :func:`flat_fields`): help from ``metadata["help"]`` and least value from
    ``metadata["min"]`` (:func:`flowam.fields.described`), else the registry's option of
    that name; ``own``: the command's own options, by flag, before the registry's)."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    options = {**OPTIONS, **(own or {})}
    made = []
    for p in params:
        flag = p.name.removesuffix("_")
        option = options[flag].annotation(flag, (helps or {}).get(flag), p.name != flag)
        made.append(p.replace(kind=keyword, annotation=option))
    for f in flat_fields(fields) if fields else ():
        if f.name in skip or not f.init:
            continue
        kind = f.type if not isinstance(f.type, str) else eval(f.type)
        if "help" in f.metadata:
            option = Opt(kind, f.metadata["help"], f.metadata.get("min"))
        else:  # a field of a name the registry knows (data, seed, out...): its option
            option = dataclasses.replace(OPTIONS[f.name], kind=kind)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        annotation = option.annotation(f.name)
        made.append(inspect.Parameter(f.name, keyword, default=default, annotation=annotation))
    return inspect.Signature(made)


def owns_out(
    name: str,
    *,
    shared: bool = False,
    unless: Callable[[dict], bool] | None = None,
    check: Callable[[dict], object] | None = None,
) -> Callable[[Callable], Callable]:
    """Run the command inside a claim of its ``--out`` folder (:func:`flowam.runfolder.claim`:
    one run per folder, a lock, ``run.json``) and give it ``--overwrite``. A command with
    ``--resume`` continues its own earlier run in place; ``shared`` (sweep) takes no lock;
    ``unless(options)`` says when the command writes no folder; ``check(options)`` refuses bad
    options before the folder is touched."""

    def wrap(func: Callable) -> Callable:
        from flowam.runfolder import claim

        signature = inspect.signature(func)

        @functools.wraps(func)
        def run(overwrite: bool = False, **options: Any) -> None:
            if unless and unless(options):
                return func(**options)
            if check:
                check(options)
            resume = bool(options.get("resume"))
            with claim(
                Path(options["out"]), name, overwrite=overwrite, resume=resume, shared=shared
            ):
                func(**options)

        help = "Replace the earlier run that --out holds (its files are removed)."
        option = Annotated[bool, typer.Option(help=help)]
        keyword = inspect.Parameter.KEYWORD_ONLY
        flag = inspect.Parameter("overwrite", keyword, default=False, annotation=option)
        run.__signature__ = signature.replace(parameters=[*signature.parameters.values(), flag])
        return run

    return wrap


def command(
    group: typer.Typer = app,
    name: str | None = None,
    *,
    fields: type | None = None,
    skip: tuple[str, ...] = (),
    more: dict[str, Any] | None = None,
    claims: bool = True,
    helps: dict[str, str] | None = None,
    own: dict[str, Opt] | None = None,
    **claim: Any,
) -> Callable[[Callable], Callable]:
    """Register ``func`` as command ``name`` (default: its name, ``_`` as ``-``) of
    ``group``. Its parameters are options from :data:`OPTIONS` by their flags (``helps``:
    other help texts here; ``own``: options of its own, or its own meaning of a shared
    flag), and so are the names of ``more`` (name: default), which it takes as
    ``**options``; with ``fields``, a dataclass, its first parameter is that dataclass
    built from one option per field (less ``skip``). Its ``--out`` is claimed where
    ``claims`` (:func:`owns_out` with ``claim``). The help is its docstring."""

    def wrap(func: Callable) -> Callable:
        params = list(inspect.signature(func).parameters.values())[1 if fields else 0 :]
        keyword = inspect.Parameter.KEYWORD_ONLY
        params = [p for p in params if p.kind != p.VAR_KEYWORD]
        params += [inspect.Parameter(k, keyword, default=v) for k, v in (more or {}).items()]

        def run(**options: Any) -> Any:
            if not fields:
                return func(**options)
            return func(built(fields, options), **options)

        run.__signature__ = signature(params, fields, skip, helps, own)
        run.__doc__ = func.__doc__
        called = name or func.__name__.replace("_", "-")
        full = called if group is app else f"experiment {called}"
        group.command(called)(owns_out(full, **claim)(run) if claims else run)
        return func

    return wrap


def write_page(out: Path, wanted: bool) -> None:
    """The page of a finished command's folder; a failure here loses no result."""
    if not wanted:
        return
    from flowam.report import write_report

    try:
        console.print(f"wrote {write_report(out)}")
    except FlowamError as e:
        console.print(f"report not written: {e}", markup=False)


def print_summary(outcomes, title: str) -> None:
    """The summary table of finished runs (:func:`flowam.compare.summaries`)."""
    from flowam.compare import summaries
    from flowam.outputs import summary_table

    out_console.print(summary_table(summaries(outcomes), title))
