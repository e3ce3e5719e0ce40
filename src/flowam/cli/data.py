"""``flowam data``: inspect and draw datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flowam.cli.options import (
    Format,
    NumPoints,
    Seed,
    Source,
    Up,
    bounded,
    console,
    data_app,
    out_console,
)
from flowam.errors import FlowamError


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
