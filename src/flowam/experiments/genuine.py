"""The presets on models trained on genuine data, each read by the others.

For every model (by default the three of ``models/modelnet10``, trained on the train
split of genuine ModelNet10 and carved-out validation objects as their real objects),
:func:`~flowam.experiments.faithful.run_faithful` runs the directions on the trained
model and its two damaged twins, with the other models as judges, into
``OUT/<architecture>/``. Then every cloud there is scored again allowing turns about the
up axis (``flowam evaluate --turns``: :func:`flowam.evaluation.evaluate_folder`), so that
a model that cannot prefer a facing is not judged by one; the as-drawn and the
turn-invariant 1-NN stand side by side.

Writes ``genuine.md`` (one table per model: the starts and real objects as rows, 1-NN as
drawn and allowing turns on the trained and damaged models, 1-NNA, coverage, MMD, the
other models' reading, logit, legality), ``genuine.png`` (rows the classes; columns a
genuine object, then for each model the preset's explanation of the trained model from
two views and of the randomized model) and ``config.json``, beside each model's own
``faithful.md``, clouds and pictures.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flowam import cache
from flowam.evaluation import evaluate_folder
from flowam.experiments.common import Setting, write_record
from flowam.experiments.faithful import MODELS, run_faithful
from flowam.outputs import JUDGED, folder_name, pipe_table
from flowam.render import VIEWS, render_grid

MODELNET10_MODELS = tuple(
    f"models/modelnet10/{arch}_modelnet10.safetensors"
    for arch in ("pointnet", "dgcnn", "pointnet2_ssg")
)
"""The models trained on genuine ModelNet10 (in a checkout of the repository)."""
TURNS = 8
PICTURED = "parts"
"""The direction ``genuine.png`` shows."""


def run_genuine(
    setting: Setting,
    models: Sequence[str],
    out: Path,
    directions: Sequence[str],
    *,
    shared: str = "sphere",
    turns: int = TURNS,
    log: Callable[[str], None] = print,
) -> dict[str, list[dict[str, Any]]]:
    """Run the directions on every model (``setting.subject`` gives the data, split,
    device, ...; its ``model`` and ``judges`` are set per model) into ``out/<label>``
    (:func:`labels`); returns the summary rows by label, each row with
    ``any_facing_<model kind>`` added."""
    begin = time.perf_counter()
    arches = labels(models)
    for i, (model, arch) in enumerate(zip(models, arches, strict=True)):
        others = ",".join(m for j, m in enumerate(models) if j != i) or "none"
        subject = dataclasses.replace(setting.subject, model=model, judges=others)
        run_faithful(
            dataclasses.replace(setting, subject=subject),
            out / arch,
            directions=list(directions),
            shared=shared,
            log=log,
        )
    tables = {arch: summarize(out / arch, turns, setting.seed) for arch in arches}
    write_genuine(out, tables, turns)
    write_record(
        out,
        "genuine",
        setting,
        time.perf_counter() - begin,
        models=list(models),
        directions=list(directions),
        start=shared,
        turns=turns,
    )
    return tables


def labels(models: Sequence[str]) -> list[str]:
    """A folder name per model: its file's stem (``bundled:dgcnn`` → ``bundled-dgcnn``),
    numbered where two are alike."""
    stems = [folder_name(Path(m.replace(":", "-")).stem) for m in models]
    if len(set(stems)) == len(stems):
        return stems
    return [f"{stem}-{i}" for i, stem in enumerate(stems)]


def summarize(folder: Path, turns: int, seed: int = 0) -> list[dict[str, Any]]:
    """The summary rows of one model's ``experiment faithful`` run in ``folder`` (its
    ``faithful.json``), each with ``any_facing_<kind>``: the share of that model's clouds
    recognised by 1-NN allowing ``turns`` turns about the up axis."""
    rows = json.loads((folder / "faithful.json").read_text())
    scored = evaluate_folder(folder, seed=seed, turns=turns)
    for row in rows:
        for kind in MODELS:
            key = f"clouds/{kind}/{folder_name(row['direction'])}"
            if key in scored:
                row[f"any_facing_{kind}"] = float(scored[key][0].recognised.mean())
    return rows


def write_genuine(out: Path, tables: dict[str, list[dict[str, Any]]], turns: int) -> None:
    """``genuine.md`` and ``genuine.png`` from the per-model summaries."""
    lines = [
        "# The presets on models trained on genuine data",
        "",
        "Per model: its own directions table (`<arch>/faithful.md`), with the 1-NN "
        f"recognition again allowing {turns} turns about the up axis "
        f"({360 // turns}° apart) beside it. Real objects: the model's validation "
        "carve-out (`--split validation`); judges: the other models.",
        "",
    ]
    for arch, rows in tables.items():
        judged = [k for k in rows[0] if k.startswith(JUDGED)]
        heads = ["direction", "1-NN trained", "any facing", "1-NN randomized", "any facing"]
        heads += ["1-NN dropout", "any facing", "1-NNA", "COV", "MMD"]
        heads += [f"by {k.removeprefix(JUDGED)}" for k in judged] + ["logit", "legal", "CD"]
        lines += [f"## {arch}", ""]
        table = []
        for r in rows:
            cells = [r["direction"]]
            for kind in MODELS:
                cells += [_share(r[f"recognised_{kind}"]), _share(r.get(f"any_facing_{kind}"))]
            cells += [_share(r["one_nna"]), _share(r["coverage"]), f"{r['mmd']:.4f}"]
            cells += [_share(r[k]) for k in judged]
            cells += [_share(r["logit_ratio"]), _share(r["legal"]), f"{r['chamfer_to_real']:.4f}"]
            table.append(cells)
        lines += [*pipe_table(heads, table), ""]
    lines += ["![a genuine object and the explanations](genuine.png)", ""]
    cache.write_text(out / "genuine.md", "\n".join(lines))
    picture(out, list(tables))


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def picture(out: Path, arches: Sequence[str], direction: str = PICTURED) -> Path | None:
    """``genuine.png``: rows the classes; a genuine object from two views, then for each
    model its ``direction``'s explanation of the trained model from two views and of the
    randomized model (the clouds as each run saved them; a blank where a run has no
    ``real objects`` row or no such direction)."""
    folder = folder_name(direction)
    first = out / arches[0] / "clouds" / "trained" / folder_name("real objects")
    drawn = out / arches[0] / "clouds" / "trained" / folder
    names = sorted(p.stem.removesuffix("_0") for p in drawn.glob("*_0.npy"))
    if not names:
        return None
    three_quarter, front = VIEWS["3/4"], VIEWS["front"]
    columns = [("genuine", first, three_quarter), ("genuine, front", first, front)]
    for arch in arches:
        clouds = out / arch / "clouds"
        columns += [
            (f"{arch}", clouds / "trained" / folder, three_quarter),
            (f"{arch}, front", clouds / "trained" / folder, front),
            (f"{arch}, randomized", clouds / "randomized" / folder, three_quarter),
        ]
    cells = [[_cloud(where / f"{name}_0.npy") for _, where, _ in columns] for name in names]
    return render_grid(
        cells,
        out / "genuine.png",
        row_labels=names,
        col_labels=[label for label, _, _ in columns],
        view=[view for *_, view in columns],
        cell_inches=1.4,
    )


def _cloud(path: Path) -> np.ndarray | None:
    return np.load(path) if path.is_file() else None


__all__ = ["JUDGED", "MODELNET10_MODELS", "run_genuine", "summarize", "write_genuine"]
