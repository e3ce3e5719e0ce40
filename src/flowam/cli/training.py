"""Training, exporting and evaluating classifiers and generators: ``flowam train``,
``train-generator``, ``export-model``, ``export-generator``, ``eval-model``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from flowam.cli.options import (
    Arch,
    Device,
    Format,
    ModelPoints,
    ModelSpec,
    NumClasses,
    OutDir,
    Sampling,
    Seed,
    app,
    comma_list,
    console,
    dataclass_options,
    out_console,
    owns_out,
)
from flowam.errors import FlowamError
from flowam.outputs import write_config


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
    measure_accuracy("eval-model", out / "eval.json", **locals())


def measure_accuracy(
    command: str,
    summary: Path,
    *,
    model: str,
    data: str,
    split: str,
    format: str | None,
    num_points: int | None,
    sampling: str,
    arch: str | None,
    num_classes: int | None,
    device: str,
    seed: int,
    **_: Any,
) -> None:
    """Per-class accuracy of a model on the objects of the comma-separated ``split`` of
    ``data`` whose classes it has (all of them for data of its classes, labelled by the
    model's classes: :func:`flowam.data.load_for_model`): the table, ``summary`` (JSON),
    ``confusion.png`` and ``config.json`` beside it. ``eval-model`` and ``experiment
    realism`` (their other parameters are ignored)."""
    from flowam.data import concatenate, load_for_model
    from flowam.experiments.realism import measure_realism, write_realism
    from flowam.models import load_classifier

    net, info = load_classifier(model, arch=arch, num_classes=num_classes, device=device)
    info.check_convention(data)
    points = num_points or info.num_points
    options = dict(format=format, num_points=points, sampling=sampling, seed=seed)
    real = concatenate(
        [load_for_model(info.classes, data, s, **options) for s in comma_list(split)]
    )
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
