"""``flowam data``: inspect and draw datasets."""

from __future__ import annotations

from pathlib import Path

from flowam.cli.options import Opt, command, console, data_app, out_console
from flowam.errors import FlowamError
from flowam.outputs import rich_table

POINTS = {"num_points": "Points per cloud."}


@command(data_app, "info", claims=False, helps=POINTS)
def data_info(source="procedural", format=None, num_points=1024, seed=0, up=None) -> None:
    """Print the classes of a dataset and their object counts in each split it holds."""
    from flowam.data import load_dataset, split_names

    splits = [s for s in split_names(source, format) if s != "trainval"]
    if not splits:
        raise FlowamError(f"{source}: lists no split (no train or test index)")
    options = dict(format=format, num_points=num_points, seed=seed, up=up)
    sets = {s: load_dataset(source, s, **options) for s in splits}
    first = next(iter(sets.values()))
    counts = {s: d.counts() for s, d in sets.items()}
    rows = [
        [str(k), name, *(str(counts[s].get(name, 0)) for s in splits)]
        for k, name in enumerate(first.classes)
    ]
    rows.append(["", "total", *(str(len(sets[s])) for s in splits)])
    title = f"{source} ({first.description['format']}, {first.num_points} points)"
    out_console.print(rich_table(title, ["label", "class", *splits], rows, left=2))


@command(
    data_app,
    "render",
    claims=False,
    helps={**POINTS, "split": "Split to draw."},
    own={"out": Opt(Path, "PNG file to write.")},
)
def data_render(
    source="procedural",
    out=Path("gallery.png"),
    split="train",
    per_class=4,
    format=None,
    num_points=2048,
    seed=0,
    up=None,
) -> None:
    """Draw a gallery of several objects per class into a PNG."""
    from flowam.data import load_dataset
    from flowam.render import render_gallery

    data = load_dataset(source, split, format=format, num_points=num_points, seed=seed, up=up)
    render_gallery(data.points, data.labels, data.classes, out, per_class=per_class)
    console.print(f"wrote {out}")
