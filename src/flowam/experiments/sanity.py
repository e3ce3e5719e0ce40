"""Sanity checks: Table S1, Fig. S2 and S3 of the paper, and cascading randomization.

For every method (each from its own preset start unless one is forced), explain the
classes with the trained model, then with damaged copies (:mod:`flowam.damage`),
each time with the same resolved method, start, steps and seed, and with class
statistics recomputed from the damaged model:

- parameter dropout with ``P_D`` in :data:`RATES` (several damage seeds at ``full``);
- cascading randomization of the top 1, 2, 4, ... layers (1, 4, 16, ... at ``quick``)
  up to all of them.

For each damaged model: its test accuracy (``eval_per_class`` test objects per class)
and, per method, the Chamfer distance of Eq. 7 to real objects (Table S1's number: at
``P_D = 0`` it is Table I's CD), the symmetric Chamfer distance of each explanation to
the trained model's explanation, and the 1-NN recognition rate. The starting clouds are
a row of their own (they never change). The faithfulness gap of a method is its
recognition for the trained model minus that for the fully randomized one.

Writes ``sanity.md``, ``sanity.csv``, ``dropout.png`` (rows methods, columns ``P_D``, one
class: Fig. S2), ``cascade.png`` (the same over randomization stages) and ``curves.png``
(Fig. S3: distance to the trained explanation and recognition against the damage).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from flowam import cache
from flowam.damage import randomization_order
from flowam.demo import ALL_METHODS
from flowam.engine import Explanations
from flowam.experiments.common import Setting, write_record
from flowam.explain import Explainer
from flowam.methods import load_method
from flowam.metrics import chamfer_distance, chamfer_to_real
from flowam.metrics.faithfulness import faithfulness_gap, flagged
from flowam.models.accuracy import evaluate
from flowam.outputs import folder_name, pipe_table, write_clouds, write_csv
from flowam.render import render_grid, save_figure

RATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


@dataclass(frozen=True)
class Damage:
    """One damaged model: ``kind`` is ``dropout`` (level ``P_D``) or ``cascade`` (level:
    layers re-initialised from the top), drawn with ``seed``."""

    kind: str
    level: float
    seed: int

    @property
    def label(self) -> str:
        return f"P_D={self.level:g}" if self.kind == "dropout" else f"top {int(self.level)}"


def cascade_stages(layers: int, base: int = 2) -> list[int]:
    """1, base, base², ... layers, ending with all ``layers``."""
    stages = [base**k for k in range(layers.bit_length()) if base**k < layers]
    return [*stages, layers]


def damages(setting: Setting, layers: int, rates: Sequence[float]) -> list[Damage]:
    """Every damaged model of the experiment (``P_D = 0`` is the trained model itself).

    Cascading randomization stops at 1, 2, 4, ... layers at ``full`` scale and at 1, 4,
    16, ... at ``quick``, always ending with every layer.
    """
    out = [Damage("dropout", p, s) for p in rates if p > 0 for s in setting.seeds]
    stages = cascade_stages(layers, 2 if setting.scale == "full" else 4)
    return out + [Damage("cascade", n, setting.seed) for n in stages]


def run_sanity(
    setting: Setting,
    out: Path,
    *,
    methods: Sequence[str] = ALL_METHODS,
    rates: Sequence[float] = RATES,
    shared: str | None = None,
    eval_per_class: int = 10,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Run the checks, write the outputs, return the long-form rows (one per method or
    start and model, the trained model's included)."""
    begin = time.perf_counter()
    explainer, info, names, methods = setting.prepare(methods, log)
    seed = setting.seed
    start = {"param.start": shared} if shared else {}
    configs = {  # a method with a fixed start (parts, a mesh) keeps its own
        m: explainer.resolve(
            m, **setting.overrides(), **({} if load_method(m).fixed_start else start)
        )
        for m in methods
    }
    # the starts, and where latent AM really starts (the decoded start): model-independent
    starts = {
        Explainer.start_label(c.start, g): explainer.starts(names, c.start, seed=seed, generator=g)
        for c in configs.values()
        for g in dict.fromkeys([None, c.generator])
    }
    test = explainer.real.first_per_class(eval_per_class)
    example = torch.from_numpy(explainer.real.points[:2])
    layers = len(randomization_order(explainer.model, example))
    plan = damages(setting, layers, rates)
    log(
        f"{info.source}: {len(methods)} methods × {len(names)} classes on the trained model "
        f"and {len(plan)} damaged copies ({layers} layers with parameters)"
    )
    gallery = explainer.evaluator(seed).references
    trained: dict[str, Explanations] = dict(starts)
    clouds: dict[tuple[str, Damage | None], np.ndarray] = {}
    rows: list[dict] = []

    def measure(damage: Damage | None, damaged: Explainer) -> None:
        accuracy = evaluate(damaged.model, test).overall
        results = dict(starts)
        for m, config in configs.items():
            results[m] = damaged.explain(names, config, seed=seed, progress=False)
        what = f"{damage.label}, seed {damage.seed}" if damage else "trained"
        for label, result in results.items():
            if damage is None:
                trained[label] = result
            clouds[label, damage] = result.points[0]
            recognition = gallery.recognise(result.points, result.targets)
            to_real = chamfer_to_real(result.points, result.targets, explainer.real, seed=seed)
            if label not in starts:  # the clouds, for the report (starts: in starts.npz)
                taken = [result.classes[t] for t in recognition.taken_for]
                per_cloud = [
                    {"chamfer_to_real": float(d), "recognised": bool(r), "taken_for": t}
                    for d, r, t in zip(to_real, recognition.recognised, taken, strict=True)
                ]
                folder = out / "clouds" / folder_name(what) / folder_name(label)
                write_clouds(result, folder, per_cloud)
            rows.append(
                {
                    "row": label,
                    "damage": damage.kind if damage else "none",
                    "level": damage.level if damage else 0,
                    "damage_seed": damage.seed if damage else seed,
                    "model_accuracy": accuracy,
                    "cd_to_trained": 0.0  # the same clouds (exactly, not up to rounding)
                    if result is trained[label]
                    else float(
                        chamfer_distance(result.points, trained[label].points, False).mean()
                    ),
                    "recognised": recognition.rate,
                    "chamfer_to_real": float(to_real.mean()),
                }
            )
        log(f"{what}: model accuracy {accuracy:.0%}")

    measure(None, explainer)
    for damage in plan:
        measure(damage, explainer.damaged(damage.kind, damage.level, damage.seed))
    labels = list(dict.fromkeys(r["row"] for r in rows))
    write_csv(out / "sanity.csv", rows)
    for kind, columns in (
        ("dropout", [None, *[d for d in plan if d.kind == "dropout" and d.seed == seed]]),
        ("cascade", [None, *[d for d in plan if d.kind == "cascade"]]),
    ):
        render_grid(
            [[clouds[label, d] for d in columns] for label in labels],
            out / f"{kind}.png",
            row_labels=labels,
            col_labels=["trained" if d is None else d.label for d in columns],
        )
    _curves(rows, labels, out / "curves.png")
    seconds = time.perf_counter() - begin
    cache.write_text(
        out / "sanity.md", _markdown(rows, labels, info, names, layers, seconds, setting)
    )
    write_record(
        out,
        "sanity",
        setting,
        seconds,
        methods=list(methods),
        rates=list(rates),
        start=shared,
        eval_per_class=eval_per_class,
        layers=layers,
    )
    return rows


def _mean(rows: list[dict], key: str, **match) -> float:
    values = [r[key] for r in rows if all(r[k] == v for k, v in match.items())]
    return float(np.mean(values)) if values else float("nan")


def _levels(rows: list[dict], kind: str) -> list[float]:
    return sorted({r["level"] for r in rows if r["damage"] == kind})


def _series(rows: list[dict], key: str, kind: str, **match) -> list[float]:
    """Mean ``key`` for the trained model (level 0), then at each level of ``kind``."""
    trained = _mean(rows, key, damage="none", **match)
    return [trained] + [
        _mean(rows, key, damage=kind, level=lv, **match) for lv in _levels(rows, kind)
    ]


def faithfulness_gaps(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per row label: recognition for the trained and the fully randomized model, and
    their difference."""
    full = max(_levels(rows, "cascade"))
    out = {}
    for label in dict.fromkeys(r["row"] for r in rows):
        trained = _mean(rows, "recognised", row=label, damage="none")
        randomized = _mean(rows, "recognised", row=label, damage="cascade", level=full)
        gap = faithfulness_gap(trained, randomized)
        out[label] = {"trained": trained, "randomized": randomized, "gap": gap}
    return out


def _curves(rows: list[dict], labels: list[str], path: Path) -> Path:
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for col, kind in enumerate(("dropout", "cascade")):
        levels = [0, *_levels(rows, kind)]
        for label in labels:
            for row_i, key in enumerate(("cd_to_trained", "recognised")):
                values = _series(rows, key, kind, row=label)
                style = ":" if label.startswith("start") else "o-"
                axes[row_i, col].plot(levels, values, style, label=label)
        accuracy = _series(rows, "model_accuracy", kind)
        axes[1, col].plot(levels, accuracy, "k--", label="model accuracy")
        axes[0, col].set_ylabel("CD⇄ to the trained model's explanation")
        axes[1, col].set_ylabel("1-NN recognised / accuracy")
        x = "parameter dropout P_D" if kind == "dropout" else "layers re-initialised (top down)"
        axes[1, col].set_xlabel(x)
        if kind == "cascade":
            for ax in axes[:, col]:
                ax.set_xscale("symlog", base=2)
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    axes[1, 1].legend(fontsize=7, loc="upper right")
    return save_figure(fig, path)


def _table(rows: list[dict], labels: list[str], kind: str, key: str, fmt: str) -> list[str]:
    levels = _levels(rows, kind)
    name = "P_D" if kind == "dropout" else "layers"
    heads = ["", f"{name} = 0", *(f"{lv:g}" for lv in levels)]
    acc = _series(rows, "model_accuracy", kind)
    cells = [["*model accuracy*", *(f"{a:.0%}" for a in acc)]]
    for label in labels:
        cells.append([label, *(fmt.format(v) for v in _series(rows, key, kind, row=label))])
    return pipe_table(heads, cells)


def _markdown(rows, labels, info, names, layers, seconds, setting: Setting) -> str:
    gaps = faithfulness_gaps(rows)
    lines = [
        "# Sanity checks",
        "",
        f"{info.architecture} `{info.source}`, {len(names)} classes ({', '.join(names)}), "
        f"{setting.scale} scale, seed {setting.seed}, {len(setting.seeds)} damage seed(s); "
        f"{seconds:.0f} s on {setting.subject.device}. Every damaged model is explained with "
        "the same resolved method, start, steps and seed as the trained one, with class "
        "statistics from the damaged model. Rows `start: ...` are the starting clouds.",
        "",
        "## Faithfulness gap",
        "",
        "1-NN recognition (nearest of 20 real test objects per class by symmetric Chamfer) "
        f"for the trained model and for the fully randomized one (all {layers} layers "
        "re-initialised); ⚠ where the randomized model's explanations are still recognised "
        "at 25 % or more.",
        "",
    ]
    lines += pipe_table(
        ["row", "trained", "fully randomized", "gap"],
        (
            [
                f"{label}{' ⚠' if flagged(g['randomized']) else ''}",
                f"{g['trained']:.0%}",
                f"{g['randomized']:.0%}",
                f"{g['gap']:+.0%}",
            ]
            for label, g in gaps.items()
        ),
    )
    sections = [
        (kind, key, fmt, f"{name}: {what}")
        for kind, name in (("dropout", "Parameter dropout"), ("cascade", "Cascading randomization"))
        for key, fmt, what in (
            ("chamfer_to_real", "{:.4f}", "CD to real objects (Eq. 7; Table S1's number)"),
            ("cd_to_trained", "{:.4f}", "CD⇄ to the trained model's explanation"),
            ("recognised", "{:.0%}", "1-NN recognised"),
        )
    ]
    for kind, key, fmt, title in sections:
        lines += ["", f"## {title}", "", *_table(rows, labels, kind, key, fmt)]
    lines += [
        "",
        "![dropout](dropout.png)",
        "",
        "![cascade](cascade.png)",
        "",
        "![curves](curves.png)",
        "",
    ]
    return "\n".join(lines)
