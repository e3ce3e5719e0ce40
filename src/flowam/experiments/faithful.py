"""Directions towards explanations that are both recognisable and faithful.

Every direction (:data:`DIRECTIONS`: a method and overrides) explains the classes from
one shared, class-agnostic start (``sphere`` unless told otherwise: the start carries no
class information; an assembly of parts, ``assembly = true``, or a mesh, ``mesh =
true``, starts from its own class-agnostic surface, ``start = "parts"`` or ``"mesh"``),
on the trained model and on two damaged
copies of it:

- ``randomized``: every layer with parameters re-initialised (cascading randomization
  down to the input, :func:`flowam.damage.fully_randomized`);
- ``dropout``: parameter dropout with ``P_D = 0.5``.

Per direction: the 1-NN recognition rate for each model (20 real test objects per class,
symmetric Chamfer); for the trained model's explanations 1-NNA, coverage and MMD against
real objects of their classes (:mod:`flowam.metrics.generation`) and the share each
judge (the other bundled architectures, :func:`flowam.models.load_judges`) classifies as
the target; the trained model's mean target logit as a share of vanilla AM's from the
same start, legal and success rates, and the Chamfer distance to real objects (Eq. 7).
A direction meets the targets (:data:`TARGETS`) when, for the trained model,
recognition ≥ 80 %, logit ≥ 80 % of vanilla's, 100 % legal and 100 % successful, and
for both damaged models recognition ≤ 10 %. The starting cloud is a row of its own
(every start a direction uses, ``start: <kind>`` for those other than the shared one),
and so is its decoding through each generator a direction explains with (latent AM
starts there), and so are real objects (``real objects``: one test object per class
outside the 1-NN gallery and the 1-NNA draw, scored as if it were an explanation: what
a perfect explanation would score), and so are natural exemplars (``natural exemplars``:
of those test objects, the one per class the trained model rates highest).

Writes ``faithful.md`` (the table), ``faithful.json`` (its rows), ``faithful.csv`` (one
row per explanation and model), ``faithful.png`` (rows directions, columns a few
classes under each model), ``faithful-views.png`` (rows classes; columns a real object,
then each direction's explanations of the trained model from two views and of the
randomized model),
``clouds/<model>/<direction>/`` (every explanation's points and scores, as
:func:`flowam.outputs.write_clouds` lays them out) and ``config.json``.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flowam import cache
from flowam.compare import natural_exemplars, real_examples
from flowam.engine import Explanations
from flowam.errors import FlowamError
from flowam.experiments.common import Setting, write_record
from flowam.explain import Explainer
from flowam.generative import generator_name
from flowam.methods import RENAMED, MethodConfig, dotted, load_method, preset_names
from flowam.metrics import Scores
from flowam.metrics.faithfulness import faithfulness_gap
from flowam.outputs import JUDGED, facing, folder_name, pipe_table, write_clouds, write_csv
from flowam.readback import read_json, read_result
from flowam.render import VIEWS, View, render_grid

MODELS = ("trained", "randomized", "dropout")
DEFAULTS = MethodConfig().to_dict()
"""Every method option's default, by section (what a record written before the option existed
meant)."""
DROPOUT = 0.5
TARGETS = {"recognised": 0.8, "logit_ratio": 0.8, "legal": 1.0, "success": 1.0, "damaged": 0.1}
"""The targets a direction meets to be marked ✓, on every architecture: recognised by 1-NN
on the trained model, its logit as a share of vanilla AM's, legal, classified as its
target, and recognised on each damaged model at most ``damaged``."""

DIRECTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "vanilla": ("vanilla", {}),
    "flow-auto": ("flow-auto", {}),
    "flow": ("flow", {}),
    "flow-beta0.05": ("flow", {"objective.beta": 0.05}),
    "robust": (
        "vanilla",
        {"robustness.copies": 2, "run.lr": 0.02, "transforms.project": True},
    ),
    "smooth": (
        "vanilla",
        {"param.kind": "smooth", "param.smoothing": 3.0, "transforms.project": True},
    ),
    "membrane": ("membrane", {}),
    "parts-boxes": ("parts-boxes", {}),
    "mesh": ("mesh", {}),
    "parts-bent": ("parts-bent", {}),
    "parts": ("parts", {}),
}
"""One direction of each kind (method, overrides): the smoothed sphere (``membrane``),
the boxes (``parts-boxes``, :mod:`flowam.param.parts`), the deformable mesh (``mesh``,
:mod:`flowam.param.mesh`), the bent parts (``parts-bent``, :mod:`flowam.param.deform`)
and the recommended ``parts`` (the same parts, held as boxes for the first half of the
steps, then bent: coarse to fine); ``docs/directions/levers.toml`` holds the levers of
RESULTS.md §17. Any preset's name is a direction too (the preset as it is: ``ae``,
``aed``, ``naed``, ...)."""


def damaged_models(explainer: Explainer, seed: int) -> dict[str, Explainer]:
    """The trained model's explainer and its two damaged twins (same real objects)."""
    return {
        "trained": explainer,
        "randomized": explainer.damaged("randomized", seed=seed),
        "dropout": explainer.damaged("dropout", DROPOUT, seed),
    }


def meets(row: Mapping[str, float]) -> bool:
    """Whether a direction's summary row reaches every target of :data:`TARGETS`."""
    return bool(
        row["recognised_trained"] >= TARGETS["recognised"]
        and row["logit_ratio"] >= TARGETS["logit_ratio"]
        and row["legal"] >= TARGETS["legal"]
        and row["success"] >= TARGETS["success"]
        and row["recognised_randomized"] <= TARGETS["damaged"]
        and row["recognised_dropout"] <= TARGETS["damaged"]
    )


def run_faithful(
    setting: Setting,
    out: Path,
    *,
    directions: Mapping[str, tuple[str, dict[str, Any]]] | Sequence[str] = tuple(DIRECTIONS),
    shared: str = "sphere",
    resume: bool = False,
    damaged: bool = True,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Run every direction on the three models; write the outputs; return the summary
    rows (the start first). ``faithful.json`` grows by a row as each direction finishes.
    With ``resume``, a model whose clouds of a direction an earlier run of ``out`` left
    finished, for every class and by the same method (:func:`read_result`), is scored from
    them instead of explained again: only the missing models are run (a screening pass
    resumed with the damaged models runs just those), and a direction read back whole keeps
    the earlier row's seconds (unknown where that row was not written). Without ``damaged``
    only the trained model is explained (a screening pass: its rows leave the damaged
    models' columns and the gap empty and meet no target)."""
    begin = time.perf_counter()
    chosen = _directions(directions)
    explainer, info = setting.load()
    names = setting.names(explainer)
    seed = setting.seed
    overrides = {**setting.overrides(), "param.start": shared}
    # a direction's own fields win over the scale's default steps, an explicit --steps wins
    explicit = {"run.steps": setting.steps} if setting.steps is not None else {}
    configs = {}
    for label, (m, o) in chosen.items():
        # an assembly of parts or a mesh starts from its own surface, not the shared cloud
        fixed = load_method(m).replace(o).fixed_start  # no align="auto" analysis for this
        base = overrides if not fixed else setting.overrides()
        configs[label] = explainer.resolve(m, **{**base, **dotted(o, label), **explicit})
    models = damaged_models(explainer, seed) if damaged else {"trained": explainer}
    kinds = list(models)
    evaluator = explainer.evaluator(seed)
    start = explainer.starts(names, shared, seed=seed)
    vanilla = explainer.explain(names, "vanilla", seed=seed, progress=False, **overrides)
    reference = evaluator.score(vanilla.points, vanilla.targets).logit
    log(f"{info.source}: {len(chosen)} directions × {len(names)} classes × {len(kinds)} models")

    results: dict[str, dict[str, Explanations]] = {}
    # the clouds as pictures show them: turned to face their nearest real object where
    # the scores allow turns (a model trained with turns about the up axis)
    shown: dict[str, dict[str, np.ndarray]] = {}
    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    earlier = _earlier_seconds(out) if resume else {}

    def measure(label: str, by_model: dict[str, Explanations], seconds: float | None) -> None:
        row: dict[str, Any] = {"direction": label, "seconds": seconds}
        scored: dict[int, Scores] = {}  # the start is one result for all three models
        for kind, result in by_model.items():
            if id(result) not in scored:
                scored[id(result)] = evaluator.score(
                    result.points, result.targets, bound=result.bound
                )
            s = scored[id(result)]
            shown.setdefault(label, {})[kind] = facing(result.points, s.facing)
            recognised = s.recognised
            row[f"recognised_{kind}"] = float(recognised.mean())
            if kind == "trained":
                row.update({k: s.sets[k] for k in ("one_nna", "coverage", "mmd")})
                row.update({k: v for k, v in s.sets.items() if k.startswith(JUDGED)})
                row["logit_ratio"] = float(s.logit.mean() / reference.mean())
                row["legal"] = float(s.legal.mean())
                row["success"] = float(s.success.mean())
                row["chamfer_to_real"] = float(s.chamfer.mean())
            per_cloud = [
                {
                    "recognised": bool(recognised[i]),
                    "taken_for": result.classes[s.taken_for[i]],
                    "facing_degrees": float(s.facing[i]),
                    "logit": float(s.logit[i]),
                    "legal": bool(s.legal[i]),
                    "success": bool(s.success[i]),
                    "chamfer_to_real": float(s.chamfer[i]),
                }
                for i in range(len(result))
            ]
            write_clouds(result, out / "clouds" / kind / folder_name(label), per_cloud)
            for t, scores in zip(result.targets, per_cloud, strict=True):
                rows.append(
                    {"direction": label, "model": kind, "class": result.classes[t], **scores}
                )
        row["gap"] = (
            faithfulness_gap(
                row["recognised_trained"],
                {k: row[f"recognised_{k}"] for k in ("randomized", "dropout")},
            )
            if damaged
            else None
        )
        row["meets_targets"] = damaged and meets(row)
        results[label] = by_model
        summary.append(row)
        cache.write_json(out / "faithful.json", summary)
        log(_line(row))

    measure("start", {m: start for m in kinds}, 0.0)
    examples = real_examples(explainer, names, seed)
    if examples is None:
        log("no 'real objects' row: a class has no test object outside the 1-NN gallery")
    else:
        measure("real objects", {m: examples for m in kinds}, 0.0)
        exemplars = natural_exemplars(explainer, names, seed)
        measure("natural exemplars", {m: exemplars for m in kinds}, 0.0)
    for label, config in configs.items():
        # a direction with a start of its own gets its row, once per start
        own = f"start: {config.start}"
        if config.start != shared and own not in results:
            again = explainer.starts(names, config.start, seed=seed)
            measure(own, {m: again for m in kinds}, 0.0)
        # where latent AM really starts: a row once per generator
        decoded = f"start → {generator_name(config.generator)}" if config.generator else None
        if decoded and decoded not in results:
            again = explainer.starts(names, shared, seed=seed, generator=config.generator)
            measure(decoded, {m: again for m in kinds}, 0.0)
        targets, method = [explainer.classes.index(n) for n in names], config.to_dict()
        found = {
            kind: read_result(
                out / "clouds" / kind / folder_name(label), ex.classes, targets, method, DEFAULTS
            )
            for kind, ex in (models.items() if resume else ())
        }
        missing = [kind for kind in kinds if found.get(kind) is None]
        if not missing:
            measure(label, found, earlier.get(label))  # type: ignore[arg-type]
            continue
        tick = time.perf_counter()
        ran = {
            kind: models[kind].explain(names, config, seed=seed, progress=False) for kind in missing
        }
        # seconds per model explained, whether the others were read back or not
        by_model = {kind: found.get(kind) or ran[kind] for kind in kinds}
        measure(label, by_model, (time.perf_counter() - tick) / len(missing))

    write_csv(out / "faithful.csv", rows)
    picks = list(range(0, len(names), max(1, len(names) // 3)))[:3]
    render_grid(
        [[shown[label][kind][i] for i in picks for kind in kinds] for label in results],
        out / "faithful.png",
        row_labels=list(results),
        col_labels=[f"{names[i]}, {kind}" for i in picks for kind in kinds],
    )
    _views_picture(out / "faithful-views.png", shown, names, list(configs))
    took = time.perf_counter() - begin
    cache.write_text(out / "faithful.md", _markdown(summary, info, names, shared, setting, took))
    write_record(
        out,
        "faithful",
        setting,
        took,
        start=shared,
        directions={label: [m, o] for label, (m, o) in chosen.items()},
    )
    return summary


def _earlier_seconds(out: Path) -> dict[str, float | None]:
    """Each direction's seconds in the ``faithful.json`` an earlier run left in ``out``
    (none where it left none)."""
    path = out / "faithful.json"
    rows = read_json(path) if path.is_file() else []
    return {r["direction"]: r.get("seconds") for r in rows if isinstance(r, dict)}


def _views_picture(
    path: Path, shown: Mapping[str, Mapping[str, np.ndarray]], names, labels
) -> None:
    """Rows the classes; columns a real object from two views, then each direction's
    explanation of the trained model from two views and of the randomized model (where
    run) from one (``shown``: the clouds by direction and model, as drawn)."""
    three_quarter, front = VIEWS["3/4"], VIEWS["front"]
    groups: list[tuple[str, str, np.ndarray, View]] = []
    if "real objects" in shown:
        real = shown["real objects"]["trained"]
        groups += [("real", "3/4", real, three_quarter), ("real", "front", real, front)]
    for label in labels:
        by_model = shown[label]
        groups += [
            (label, "3/4", by_model["trained"], three_quarter),
            (label, "front", by_model["trained"], front),
        ]
        if "randomized" in by_model:
            groups.append((label, "randomized", by_model["randomized"], three_quarter))
    cells = [[clouds[i] for _, _, clouds, _ in groups] for i in range(len(names))]
    render_grid(
        cells,
        path,
        row_labels=list(names),
        col_labels=[f"{label} ({what})" for label, what, _, _ in groups],
        view=[view for *_, view in groups],
        cell_inches=1.5,
    )


def load_directions(path: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """Directions from a TOML file: one table per label, ``method`` (default ``vanilla``)
    and any method options as overrides (dotted, ``run.steps = 100``, or as tables)."""
    if not path.is_file():
        raise FlowamError(f"{path}: directions file not found")
    try:
        tables = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise FlowamError(f"{path}: cannot be parsed ({e})") from None
    out = {}
    for label, table in tables.items():
        if not isinstance(table, dict):
            raise FlowamError(f"{path}: {label!r} must be a table of method options")
        fields = dict(table)
        method = str(fields.pop("method", "vanilla"))
        try:
            fields = dotted(fields, f"{path}: direction {label!r}")
            load_method(method).replace(fields)
        except FlowamError as e:
            raise FlowamError(f"{path}: direction {label!r}: {e}") from None
        out[label] = (method, fields)
    return out


def _directions(
    directions: Mapping[str, tuple[str, dict[str, Any]]] | Sequence[str],
) -> dict[str, tuple[str, dict[str, Any]]]:
    if isinstance(directions, Mapping):
        return dict(directions)
    known = {**{p: (p, {}) for p in [*preset_names(), *RENAMED]}, **DIRECTIONS}
    unknown = [d for d in directions if d not in known]
    if unknown:
        raise FlowamError(
            f"unknown direction {unknown[0]!r}; choose among {', '.join(known)} (a preset "
            "name runs the preset as it is)"
        )
    return {d: known[d] for d in directions}


def _judges(r: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in r if k.startswith(JUDGED))


def _cells(r: dict[str, Any]) -> list[str]:
    """One direction's numbers, as the table shows them."""
    return [
        f"{r['direction']}{' ✓' if r['meets_targets'] else ''}",
        *(
            f"{r[k]:.0%}" if k in r else "–"
            for k in ("recognised_trained", "recognised_randomized", "recognised_dropout")
        ),
        "–" if r["gap"] is None else f"{r['gap']:+.0%}",
        f"{r['one_nna']:.0%}",
        f"{r['coverage']:.0%}",
        f"{r['mmd']:.4f}",
        *(f"{r[k]:.0%}" for k in _judges(r)),
        f"{r['logit_ratio']:.0%}",
        f"{r['legal']:.0%}",
        f"{r['success']:.0%}",
        f"{r['chamfer_to_real']:.4f}",
        "–" if r["seconds"] is None else f"{r['seconds']:.0f}",
    ]


def _line(r: dict[str, Any]) -> str:
    """One direction's row of the table, for the log."""
    return "| " + " | ".join(_cells(r)) + " |"


def _markdown(summary, info, names, shared, setting: Setting, seconds: float) -> str:
    lines = [
        "# Recognisable and faithful: directions",
        "",
        f"{info.architecture} `{info.source}`, {len(names)} classes, {setting.scale} scale "
        f"({setting.overrides() or 'each method its own steps'}), one shared start "
        f"`{shared}`, seed {setting.seed}; {seconds:.0f} s on {setting.subject.device}. "
        "1-NN: nearest of 20 real test objects per class (symmetric Chamfer) is of the "
        "class; *randomized*: every layer re-initialised; *dropout*: parameter dropout "
        f"P_D = {DROPOUT}; logit: the trained model's target logit as a share of vanilla "
        "AM's from the same start; gap: trained recognition minus the larger damaged one; "
        "1-NNA: two-sample 1-NN accuracy of the trained model's explanations pooled with "
        "as many real objects of their classes (50 % = indistinguishable, 100 % = always "
        "told apart); COV and MMD: coverage and minimum matching distance of those real "
        "objects; by X: the share of explanations that the classifier X (not optimised "
        "against) takes for the target; "
        "s: seconds per model. ✓: meets every target (trained ≥ 80 % recognised, logit ≥ "
        "80 %, all legal and successful; both damaged models ≤ 10 %).",
        "",
    ]
    judges = _judges(summary[0])
    heads = ["direction", "1-NN trained", "1-NN randomized", "1-NN dropout", "gap", "1-NNA"]
    heads += ["COV", "MMD", *(f"by {k.removeprefix(JUDGED)}" for k in judges), "logit"]
    heads += ["legal", "success", "CD", "s"]
    lines += pipe_table(heads, [_cells(r) for r in summary])
    lines += ["", "![directions](faithful.png)", ""]
    return "\n".join(lines)
