"""Fig. 2: the activation flow of a model, and the layers ``align="auto"`` chooses.

Raw (vanilla) AM for every class, then per layer the mean cosine similarity of
activations between real objects of the same class, of different classes, and between
the AM explanations and real objects of their class (:mod:`flowam.analysis`). Writes
``flow.png``, ``flow.json``, ``flow-analysis.md`` and ``config.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

from flowam import cache
from flowam.analysis import AutoAlignment, auto_alignment, plot_flow
from flowam.experiments.common import Setting, write_record
from flowam.outputs import pipe_table


def run_flow_analysis(setting: Setting, out: Path, steps: int = 100) -> AutoAlignment:
    """Analyse the setting's model (its raw AM runs ``steps`` steps; every class)."""
    begin = time.perf_counter()
    explainer, info = setting.load()
    auto = auto_alignment(explainer, steps=steps, seed=setting.seed)
    plot_flow(auto.analysis, out / "flow.png", auto.weights)
    cache.write_json(out / "flow.json", auto.to_dict())
    lines = [
        "# Activation flow (Fig. 2)",
        "",
        f"{info.architecture} `{info.source}`, every class, raw AM of {steps} steps, seed "
        f"{setting.seed}. Mean cosine similarity of activations per layer; the last column "
        'is the weight `align="auto"` gives the layer.',
        "",
    ]
    lines += pipe_table(*flow_rows(auto))
    lines += ["", "![flow](flow.png)", ""]
    cache.write_text(out / "flow-analysis.md", "\n".join(lines))
    write_record(out, "flow-analysis", setting, time.perf_counter() - begin, steps=steps)
    return auto


def flow_rows(auto: AutoAlignment) -> tuple[list[str], list[list[str]]]:
    """The heads and rows of the flow table: per layer the mean cosine similarities and
    the weight ``align="auto"`` gives it."""
    a = auto.analysis
    heads = ["layer", "same class", "different classes", "vanilla AM vs real", "aligned weight"]
    rows = [
        [
            name,
            f"{a.same[i]:.3f}",
            f"{a.different[i]:.3f}",
            f"{a.explanations['vanilla'][i]:.3f}",
            f"{w:g}" if (w := auto.weights.get(name)) else "",
        ]
        for i, name in enumerate(a.layers)
    ]
    return heads, rows
