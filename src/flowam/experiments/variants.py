"""Experiments that compare labelled runs on one model: Tables I and III, Fig. S4 and S5.

- ``table1`` (Table I): every method from the class-mean start and from Gaussian noise,
  with the paper's protocol (baselines from noise, Flow AM from the class mean) as a
  third table, and every score per class in ``table1.csv``.
- ``ablation`` (Table III, Fig. 8): Flow AM without latent alignment (L_LA), without
  continuity (L_C: β = 0) and without legality (L_LR: no penalty, no projection).
- ``beta`` (Fig. S5): Eq. 6's β over :data:`BETAS`.
- ``diversity`` (Fig. S4): noise on the start, the latent activations or every step,
  each at the low and the high amplitude of :data:`flowam.methods.NOISE_LEVELS`, then the
  diversity term (:class:`flowam.objectives.Diversity`) at the weights of
  :data:`DIVERSITY_WEIGHTS`, with several restarts per class; the table adds the
  diversity of the restarts.

Every run is repeated on the fully randomized model for the faithfulness gap, and the
starting clouds are a row of every table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flowam import cache
from flowam.compare import Outcome, compare, summaries
from flowam.demo import ALL_METHODS, compare_starts
from flowam.errors import FlowamError
from flowam.experiments.common import Setting, write_record
from flowam.methods import NOISE_LEVELS, NOISES, load_method
from flowam.outputs import COLUMNS, SCORE_LEGEND, markdown_table, write_csv

BETAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
DIVERSITY_COLUMN = ("diversity", "diversity ↑", "{:.4f}")
DIVERSITY_WEIGHTS = {"low": 10.0, "high": 30.0}
"""Weights of the diversity term against the target logit's 1 (docs/history.md §H18)."""


def _long_rows(outcomes: dict[str, Outcome], **extra: Any) -> list[dict]:
    """One CSV row per explanation: its label, class, restart and every score."""
    rows = []
    for label, o in outcomes.items():
        r = o.result
        for i in range(len(r.targets)):
            rows.append(
                {
                    **extra,
                    "row": label,
                    "restart": int(r.restarts[i]),
                    "class": r.classes[r.targets[i]],
                    **o.scores.row(i, r.classes),
                }
            )
    return rows


def _header(title: str, info, names: Sequence[str], setting: Setting, seconds: float) -> list[str]:
    return [
        f"# {title}",
        "",
        f"{info.architecture} `{info.source}`, {len(names)} classes ({', '.join(names)}), "
        f"{setting.scale} scale ({setting.overrides() or 'each method its own steps'}), "
        f"seed {setting.seed}; {seconds:.0f} s on {setting.subject.device}.",
        "",
        SCORE_LEGEND,
        "",
    ]


def run_table1(
    setting: Setting,
    out: Path,
    *,
    methods: Sequence[str] = ALL_METHODS,
    log: Callable[[str], None] = print,
) -> dict[str, dict[str, Outcome]]:
    """Table I: every method from both starts, the paper's protocol, every class."""
    begin = time.perf_counter()
    explainer, info, names, methods = setting.prepare(methods, log)
    tables = compare_starts(
        explainer,
        names,
        out,
        methods=methods,
        overrides=setting.overrides(),
        seed=setting.seed,
        randomized=explainer.damaged(seed=setting.seed),
        log=log,
    )
    rows = [r for start in ("mean", "gaussian") for r in _long_rows(tables[start], start=start)]
    write_csv(out / "table1.csv", rows)
    seconds = time.perf_counter() - begin
    titles = {
        "mean": "From the class-mean cloud",
        "gaussian": "From Gaussian noise",
        "paper protocol": "The paper's protocol: baselines from noise, Flow AM from the class mean",
    }
    lines = _header("Table I", info, names, setting, seconds)
    for key, outcomes in tables.items():
        lines += [f"## {titles[key]}", "", markdown_table(summaries(outcomes)), ""]
        if key != "paper protocol":
            lines += [f"![{key}](grid_{key}.png)", ""]
    cache.write_text(out / "table1.md", "\n".join(lines))
    write_record(out, "table1", setting, seconds, methods=list(methods))
    return tables


def ablation_runs(method: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Table III's variants of ``method``."""
    return {
        method: (method, {}),
        "without L_LA": (method, {"objective.align": {}}),
        "without L_C": (method, {"objective.beta": 0.0, "objective.continuity": 0.0}),
        "without L_LR": (method, {"objective.legality": 0.0, "transforms.project": False}),
    }


def beta_runs(method: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Fig. S5's variants: one run per β of :data:`BETAS`."""
    return {f"β = {b:g}": (method, {"objective.beta": b}) for b in BETAS}


def diversity_runs(method: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Fig. S4's variants: no noise, then each placement at each amplitude, then the
    diversity term at each weight."""
    runs = {"no noise": (method, {})}
    for noise in NOISES:
        for level in NOISE_LEVELS:
            where = noise.rpartition(".")[2].removesuffix("_noise")
            runs[f"{where} noise, {level}"] = (method, {noise: level})
    for level, weight in DIVERSITY_WEIGHTS.items():
        runs[f"diversity term, {level}"] = (method, {"objective.diversity": weight})
    return runs


VARIANTS = {
    "ablation": ("Table III: ablation", ablation_runs),
    "beta": ("Fig. S5: β of Eq. 6", beta_runs),
    "diversity": ("Fig. S4: noise for diversity", diversity_runs),
}


def run_variants(
    name: str,
    setting: Setting,
    out: Path,
    *,
    method: str = "flow",
    restarts: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Outcome]:
    """Run one of :data:`VARIANTS` of ``method`` from its own start.

    A variant the method refuses (step noise on a generator's latent code, any noise on
    an assembly of parts) is skipped, with the reason logged and written under the table.

    Args:
        restarts: explanations per class (default 1; 3 for ``diversity``).
    """
    begin = time.perf_counter()
    title, make = VARIANTS[name]
    restarts = restarts or (3 if name == "diversity" else 1)
    start = load_method(method).start  # an unknown method fails before any work
    explainer, info = setting.load()
    names = setting.names(explainer)
    runs, skipped = {}, []
    for label, (m, overrides) in make(method).items():
        merged = {**setting.overrides(), **overrides}
        try:
            load_method(m).replace(merged)
        except FlowamError as e:  # a variant the method cannot take (step noise on a code)
            skipped.append(f"{label}: {e}")
            continue
        runs[label] = (m, merged)
    for line in skipped:
        log(f"skipped {line}")
    outcomes = compare(
        explainer,
        runs,
        out,
        names,
        restarts=restarts,
        seed=setting.seed,
        starts=[start],
        pictures=False,
        randomized=explainer.damaged(seed=setting.seed),
        log=log,
    )
    write_csv(out / f"{name}.csv", _long_rows(outcomes))
    seconds = time.perf_counter() - begin
    columns = (*COLUMNS, DIVERSITY_COLUMN) if restarts > 1 else COLUMNS
    lines = _header(title, info, names, setting, seconds) + [
        f"Method `{method}` from its own start (`{start}`), {restarts} explanation(s) per class.",
        "",
        *[f"Skipped {line}" for line in skipped],
        *([""] if skipped else []),
        markdown_table(summaries(outcomes), columns),
        "",
        "![grid](grid.png)",
        "",
    ]
    cache.write_text(out / f"{name}.md", "\n".join(lines))
    write_record(out, name, setting, seconds, method=method, restarts=restarts)
    return outcomes
