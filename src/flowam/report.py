"""``flowam report RUN_DIR``: one self-contained HTML page of a run, to turn the
explanations around in 3D.

Any folder that ``flowam explain``, ``flowam demo`` or an experiment wrote holds runs
(folders of ``<class>_<restart>.npy`` + ``.json``, ``history.npz``, ``starts.npz``; see
:mod:`flowam.outputs`), Markdown tables (``summary.md``, ``table1.md``, ``sanity.md``, ...),
pictures and ``config.json``. The page shows, for the chosen group of runs (e.g. the
demo's ``mean`` and ``gaussian`` starts) and class: the starting cloud, each method's
explanation and a few real objects of the class in rotatable 3-D views whose cameras move
together, each run's per-term history, the run's tables (sortable), its pictures and its
configuration.

Everything is embedded (plotly.js, the data, the pictures): the file opens from disk with
no network. Plotly's offline bundle is the choice because it draws 3-D scatter plots in
WebGL with camera events to link views, and its 2-D charts cover the history curves, in
one library. Clouds are stored in the page as 16-bit integers and subsampled to
``display_points`` for display only (never the stored data); a class's views are built
when it is chosen, so a 40-class × 8-method page loads in about the time of one class
(``benchmarks/report_load.py``).
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from flowam import cache
from flowam.errors import FlowamError
from flowam.readback import find_runs, read_arrays, read_cloud, read_json, records, usable
from flowam.subject import Subject

PAGE = "report.html"
"""The page's file name inside the run folder (default of ``flowam report``)."""
HISTORY_POINTS = 200
"""At most this many steps of each history curve are shown (evenly spaced)."""
QUANT = 32767


@dataclass
class _Group:
    """Runs that share a parent folder (the demo's ``mean``/``gaussian``, an
    experiment's damage levels, ...)."""

    name: str
    methods: list[str] = field(default_factory=list)
    clouds: dict[str, dict[str, str]] = field(default_factory=dict)
    starts: dict[str, dict[str, str]] = field(default_factory=dict)
    scores: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    history: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)


def _subsample(points: np.ndarray, count: int, seed: int) -> np.ndarray:
    """At most ``count`` of the ``(N, 3)`` points, drawn without replacement (display only)."""
    if count <= 0 or len(points) <= count:
        return points
    pick = np.random.default_rng(seed).choice(len(points), count, replace=False)
    return points[np.sort(pick)]


def _encode(points: np.ndarray, scale: float) -> str:
    """``(N, 3)`` points as base64 little-endian int16, ``x1 y1 z1 x2 ...`` of ``scale``."""
    q = np.clip(np.round(np.asarray(points, np.float64) / scale * QUANT), -QUANT, QUANT)
    return base64.b64encode(q.astype("<i2").tobytes()).decode("ascii")


def _curves(values: np.ndarray) -> list[float]:
    """A history column at ``HISTORY_POINTS`` evenly spaced steps (NaN as null)."""
    steps = np.unique(np.linspace(0, len(values) - 1, min(len(values), HISTORY_POINTS)).astype(int))
    return [None if not np.isfinite(v) else float(f"{v:.5g}") for v in values[steps]]


@dataclass
class _Run:
    """One run folder, read once: its explanations by name (``<class>_<restart>``), their
    records and starting clouds."""

    folder: Path
    points: dict[str, np.ndarray]
    records: dict[str, dict[str, Any]]
    starts: dict[str, np.ndarray]
    order: list[str]  # the names in starts.npz, whose order history.npz's columns follow

    @classmethod
    def read(cls, folder: Path) -> _Run:
        found = list(records(folder))
        clouds = {
            p.stem: (p.with_suffix(".npy"), read_cloud(p.with_suffix(".npy"))) for p, _ in found
        }
        points = {name: cloud for name, (p, cloud) in clouds.items() if usable(p, cloud)}
        kept = {p.stem: r for p, r in found if p.stem in points}
        saved = read_arrays(folder / "starts.npz")
        starts = {
            k: v
            for k, v in saved.items()
            if k in points and v.shape == points[k].shape and np.isfinite(v).all()
        }
        return cls(folder, points, kept, starts, list(saved))

    def largest(self) -> float:
        """The largest absolute coordinate of its explanations and starts."""
        return max(
            [0.0, *(float(np.abs(c).max()) for c in [*self.points.values(), *self.starts.values()])]
        )


def _mapping(value: Any) -> dict:
    """``value`` where it is a JSON object, else empty (a hand-edited record)."""
    return value if isinstance(value, dict) else {}


def _read_group(
    root: Path, runs: list[_Run], display_points: int, scale: float, seed: int
) -> _Group:
    first = runs[0].folder
    group = _Group(name=str(first.parent.relative_to(root)) if first != root else ".")
    for run in runs:
        method = run.folder.name
        group.methods.append(method)
        group.clouds[method] = {
            k: _encode(_subsample(p, display_points, seed), scale) for k, p in run.points.items()
        }
        group.starts[method] = {
            k: _encode(_subsample(run.starts[k], display_points, seed), scale)
            for k in run.points
            if k in run.starts
        }
        group.scores[method] = {
            k: {**_mapping(r.get("scores")), "steps_run": r.get("steps_run")}
            for k, r in run.records.items()
        }
        group.history[method] = _history(run.folder, run.order)
    return group


def _history(run: Path, names: list[str]) -> dict[str, dict[str, list[float]]]:
    """``{cloud name: {term: values}}`` from ``history.npz``, whose columns follow the order
    of ``starts.npz`` (the result's order); empty where either is missing."""
    terms = read_arrays(run / "history.npz")
    if not terms or not names:
        return {}
    out: dict[str, dict[str, list[float]]] = {}
    for i, name in enumerate(names):
        out[name] = {
            t: _curves(v[:, i])
            for t, v in terms.items()
            if v.ndim == 2 and v.dtype.kind in "iuf" and i < v.shape[1]
        }
    return out


def _markdown(text: str, root: Path) -> str:
    """Markdown (headings, paragraphs, pipe tables, pictures) as HTML: every table
    sortable, pictures beside the file embedded (a page moved elsewhere still shows them)."""
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)

    def embed(match: re.Match) -> str:
        path = root / html.unescape(match[1])
        if path.suffix.lower() == ".png" and path.is_file():
            return f'src="data:image/png;base64,{_base64(path)}"'
        return match[0]

    rendered = re.sub(r'src="([^"]+)"', embed, rendered)
    return rendered.replace("<table>", '<table class="sortable">')


def _base64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _top(root: Path, runs: list[Path], pattern: str) -> list[Path]:
    """Files matching ``pattern`` in ``root`` and its sub-folders one level down, outside
    run folders (``reproduce`` keeps each experiment's tables in its own folder)."""
    found = [*root.glob(pattern), *root.glob(f"*/{pattern}")]
    return sorted(p for p in found if p.parent not in runs)


def _tables(root: Path, runs: list[Path]) -> list[dict[str, str]]:
    """The run's Markdown files (tables and their notes) as HTML; for a run with only
    ``summary.json`` (``flowam explain``), its table."""
    from flowam.outputs import SCORE_LEGEND, markdown_table

    pages = [
        {"title": str(p.relative_to(root)), "html": _markdown(p.read_text(), p.parent)}
        for p in _top(root, runs, "*.md")
    ]
    summary = root / "summary.json"
    if not pages and summary.is_file():
        rows = read_json(summary)
        if isinstance(rows, dict) and all(isinstance(v, dict) for v in rows.values()):
            text = f"{SCORE_LEGEND}\n\n{markdown_table(rows)}\n"
            pages.append({"title": "summary.json", "html": _markdown(text, root)})
    return pages


def _pictures(root: Path, runs: list[Path], shown: str, limit: int = 6 << 20) -> list[dict]:
    """The run's PNG pictures (grids, curves; not those of single explanations) that its
    tables do not already show (``shown``: their HTML), embedded; larger ones named only."""
    out = []
    for p in _top(root, runs, "*.png"):
        data = _base64(p)
        if data not in shown:
            out.append(
                {"title": str(p.relative_to(root)), "png": data if len(data) <= limit else ""}
            )
    return out


def _real_objects(
    runs: list[_Run], classes: list[str], count: int, scale: float, display_points: int, seed: int
) -> tuple[dict[str, list[str]], str]:
    """``count`` real objects per class from the data named by the run's config, and a
    note (why there are none, where there are none)."""
    if not classes:
        return {}, ""
    if count <= 0:
        return {}, "real objects: none asked for (--real 0)"
    try:
        subject = Subject.of_folder(runs[0].folder)
        from flowam.data import load_dataset

        real = load_dataset(
            subject.data,
            subject.split,
            format=subject.format,
            num_points=subject.num_points or len(next(iter(runs[0].points.values()))),
        )
    except FlowamError as e:
        return {}, f"real objects: not shown ({e})"
    out = {}
    for name in classes:
        if name not in real.classes:
            continue
        which = np.flatnonzero(real.labels == real.classes.index(name))[:count]
        out[name] = [
            _encode(_subsample(real.points[i], display_points, seed), scale) for i in which
        ]
    return out, f"real objects: the first {count} of each class in {subject.data} ({subject.split})"


def page_data(
    root: Path, display_points: int = 512, real: int = 3, seed: int = 0
) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready values.

    Args:
        root: a folder written by ``explain``, ``demo`` or an experiment.
        display_points: points per cloud shown (a random subset where a cloud has more;
            0 = all).
        real: real objects shown per class.
        seed: seed of the subsets of points shown.
    """
    root = Path(root)
    folders = find_runs(root)  # a missing root fails here, in one line
    tables = _tables(root, folders)
    pictures = _pictures(root, folders, "".join(t["html"] for t in tables))
    if not (folders or tables or pictures):
        raise FlowamError(f"{root}: holds no explanations, tables (.md) or pictures to report")
    config_path = root / "config.json"
    config = read_json(config_path) if config_path.is_file() else {}
    config = config if isinstance(config, dict) else {}
    methods = config.get("methods")  # the command's order, if it says
    order = [str(m) for m in methods] if isinstance(methods, list) else []
    folders.sort(key=lambda r: (r.parent, order.index(r.name) if r.name in order else len(order)))
    runs = [_Run.read(folder) for folder in folders]
    # the largest coordinate of any cloud or start, so that none is clipped
    scale = max([1.0, *(run.largest() for run in runs)])
    by_parent: dict[Path, list[_Run]] = {}
    for run in runs:
        by_parent.setdefault(run.folder.parent if run.folder != root else root, []).append(run)
    groups = [
        _read_group(root, members, display_points, scale, seed) for members in by_parent.values()
    ]
    classes = list(dict.fromkeys(r["class"] for run in runs for r in run.records.values()))
    objects, note = _real_objects(runs, classes, real, scale, display_points, seed)
    return {
        "title": f"flowam report: {root.resolve().name}",
        "scale": scale,
        "quant": QUANT,
        "classes": classes,
        "groups": [group.__dict__ for group in groups],
        "real": objects,
        "real_note": note,
        "tables": tables,
        "pictures": pictures,
        "config": config,
    }


def _asset(name: str) -> str:
    return resources.files("flowam").joinpath("assets", name).read_text(encoding="utf-8")


def report_html(
    root: Path, display_points: int = 512, real: int = 3, seed: int = 0, title: str | None = None
) -> str:
    """The self-contained page of the run in ``root`` (plotly, data and script inline; no
    request leaves it). Arguments as :func:`page_data`; ``title`` replaces the folder's."""
    from plotly.offline import get_plotlyjs

    data = page_data(Path(root), display_points, real, seed)
    if title is not None:
        data["title"] = title
    parts = {
        "TITLE": html.escape(data["title"]),
        "STYLE": _asset("report.css"),
        "PLOTLY": get_plotlyjs(),
        "DATA": json.dumps(cache.finite(data), separators=(",", ":"), allow_nan=False).replace(
            "</", "<\\/"
        ),
        "SCRIPT": _asset("report.js"),
    }  # one pass: nothing inserted is searched again
    return re.sub(
        r"/\*(TITLE|STYLE|PLOTLY|DATA|SCRIPT)\*/", lambda m: parts[m[1]], _asset("report.html")
    )


def write_report(
    root: Path, out: Path | None = None, display_points: int = 512, real: int = 3, seed: int = 0
) -> Path:
    """Write the page of the run in ``root`` (to ``root/report.html`` by default),
    atomically; returns its path. Arguments as :func:`page_data`."""
    out = Path(out) if out is not None else Path(root) / PAGE
    cache.write_text(out, report_html(root, display_points, real, seed))
    return out
