"""The ``flowam`` command line: a thin layer over the Python API.

Errors caused by input (:class:`~flowam.errors.FlowamError`) are printed as one line,
``error: ...``, with exit status 1; every command takes ``--seed`` and every command that
writes a folder stores the configuration that produced it there (``config.json``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from flowam import __version__, cache
from flowam.errors import FlowamError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Global explanations of point cloud classifiers (Flow AM).",
)
data_app = typer.Typer(add_completion=False, help="Inspect and draw datasets.")
app.add_typer(data_app, name="data")
console = Console(stderr=True)

Source = Annotated[str, typer.Argument(help="'procedural' or a dataset root folder.")]
Format = Annotated[str | None, typer.Option(help="Dataset format; detected when omitted.")]
Seed = Annotated[int, typer.Option(help="Seed (for procedural data: the dataset seed).")]
NumPoints = Annotated[int, typer.Option(help="Points per cloud.")]
Sampling = Annotated[str, typer.Option(help="first | random | fps (file datasets).")]


def write_config(out: Path, command: str, **values: Any) -> None:
    """Store what produced an output folder as ``out/config.json``."""
    config = {"command": command, "flowam_version": __version__, **values}
    cache.write_text(out / "config.json", json.dumps(config, indent=2, default=str) + "\n")


def _load(source: str, split: str, fmt: str | None, num_points: int, sampling: str, seed: int):
    from flowam.data import load_dataset

    return load_dataset(
        source, split, format=fmt, num_points=num_points, sampling=sampling, seed=seed
    )


def _splits(source: str, fmt: str | None) -> list[str]:
    from flowam.data import PROCEDURAL, detect_format

    if source == PROCEDURAL:
        return ["train", "test"]
    fmt = fmt or detect_format(source)
    return ["train", "val", "test"] if fmt == "shapenet_part" else ["train", "test"]


@data_app.command("info")
def data_info(
    source: Source = "procedural",
    format: Format = None,
    num_points: NumPoints = 1024,
    seed: Seed = 0,
) -> None:
    """Print the classes of a dataset and their object counts per split."""
    splits = _splits(source, format)
    sets = {s: _load(source, s, format, num_points, "first", seed) for s in splits}
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
    Console().print(table)


@data_app.command("render")
def data_render(
    source: Source = "procedural",
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("gallery.png"),
    split: Annotated[str, typer.Option(help="Split to draw.")] = "train",
    per_class: Annotated[int, typer.Option(help="Objects per class.")] = 4,
    format: Format = None,
    num_points: NumPoints = 2048,
    seed: Seed = 0,
) -> None:
    """Draw a gallery of several objects per class into a PNG."""
    from flowam.render import render_gallery

    data = _load(source, split, format, num_points, "first", seed)
    render_gallery(data.points, data.labels, data.classes, out, per_class=per_class)
    console.print(f"wrote {out}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/demo"),
    seed: Seed = 0,
) -> None:
    """The main job on the built-in defaults: the procedural dataset and its gallery."""
    from flowam.data import load_dataset
    from flowam.render import render_gallery

    start = time.perf_counter()
    sets = {s: load_dataset("procedural", s, seed=seed) for s in ("train", "test")}
    data = load_dataset("procedural", "test", num_points=2048, seed=seed)
    render_gallery(data.points, data.labels, data.classes, out / "gallery.png")
    write_config(out, "demo", seed=seed, dataset=sets["train"].description)
    table = Table(title="procedural dataset")
    for col in ("class", "train", "test"):
        table.add_column(col)
    for name in data.classes:
        table.add_row(name, *(str(sets[s].counts()[name]) for s in ("train", "test")))
    Console().print(table)
    console.print(f"done in {time.perf_counter() - start:.1f} s; results in {out.resolve()}")


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False):
    if version:
        print(__version__)
        raise typer.Exit()


def main() -> None:
    """Entry point: run the app, turning input errors into one line and exit status 1."""
    try:
        app()
    except FlowamError as e:
        console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
