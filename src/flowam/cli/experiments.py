"""``flowam experiment NAME``: the paper's experiments and the faithfulness checks, each
declared through one registry (:func:`experiment`), and ``realism``, which measures a
model rather than its explanations and so takes ``eval-model``'s options."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowam.cli.options import (
    DEMO_CLASSES,
    DEMO_METHODS,
    EVERY_METHOD,
    command,
    console,
    experiment_app,
    write_page,
)
from flowam.cli.training import ACCURACY, measured
from flowam.errors import FlowamError
from flowam.outputs import write_config
from flowam.subject import Subject

SCALE = {
    "classes": "Comma-separated classes, or 'all' (default: 8 at --quick, all at --full).",
    "steps": "Steps per method (default: 100 at --quick, each method's own at --full).",
}


def experiment(
    name: str,
    *,
    skip: tuple[str, ...] = (),
    writes_when: Callable[[dict], bool] | None = None,
    helps: dict[str, str] | None = None,
) -> Callable[[Callable], Callable]:
    """Register ``flowam experiment NAME`` from ``func(setting, out, **own options)``, which
    runs it and returns the file it wrote (its Markdown). Every experiment takes the same
    options besides its own: ``--out`` (default ``runs/NAME``), ``--classes``, ``--steps``,
    ``--full/--quick``, ``--report``, ``--seed`` and the subject's (:class:`Subject`, less
    ``skip``); its folder is claimed (``writes_when(options)`` False: it writes none) and
    reported. The help is ``func``'s docstring."""
    from flowam.experiments.common import Setting

    def wrap(func: Callable) -> Callable:
        own = list(inspect.signature(func).parameters.values())[2:]

        def run(
            subject: Subject,
            out=Path(f"runs/{name}"),
            classes=None,
            steps=None,
            full=False,
            report=True,
            seed=0,
            **options: Any,
        ) -> None:
            scale = "full" if full else "quick"
            wrote = func(Setting(subject, classes, steps, scale, seed), out, **options)
            if wrote is not None:
                console.print(f"wrote {wrote}")
                write_page(out, report)

        run.__doc__ = func.__doc__
        command(
            experiment_app,
            name,
            fields=Subject,
            skip=skip,
            more={p.name: p.default for p in own},
            helps={**SCALE, **(helps or {})},
            unless=None if writes_when is None else (lambda o: not writes_when(o)),
        )(run)
        return func

    return wrap


@experiment("table1")
def experiment_table1(setting, out: Path, methods=EVERY_METHOD) -> Path:
    """Table I: every method from both starts, the paper's protocol, the faithfulness gap."""
    from flowam.experiments.variants import run_table1

    run_table1(setting, out, methods=methods, log=console.print)
    return out / "table1.md"


def _variants(name: str, doc: str) -> None:
    """``ablation``, ``beta`` and ``diversity``: variants of one method."""

    def run(setting, out: Path, method="flow", restarts=None) -> Path:
        from flowam.experiments.variants import run_variants

        run_variants(name, setting, out, method=method, restarts=restarts, log=console.print)
        return out / f"{name}.md"

    run.__doc__ = doc
    helps = {"method": "The method to vary (a preset or a .toml file).", "restarts": RESTARTS}
    experiment(name, helps=helps)(run)


RESTARTS = "Explanations per class (default 1; diversity 3)."
_variants("ablation", "Table III: the method without L_LA, L_C and L_LR (Fig. 8).")
_variants("beta", "Fig. S5: Eq. 6's beta from 0 to 1.")
_variants(
    "diversity", "Fig. S4: noise on the start, the latents or every step; the diversity term."
)


@experiment("sanity")
def experiment_sanity(
    setting, out: Path, methods=EVERY_METHOD, rates="0,0.1,0.2,0.3,0.4,0.5", start=None
) -> Path:
    """Table S1, Fig. S2/S3: parameter dropout and cascading randomization."""
    from flowam.experiments.sanity import run_sanity

    run_sanity(setting, out, methods=methods, rates=rates, shared=start, log=console.print)
    return out / "sanity.md"


SHARED = {
    "start": "The one start shared by every class.",
    "resume": "Score the directions an earlier run of OUT finished from its clouds; run the rest.",
    "damaged": "Also explain the randomized and dropout models (--no-damaged: a screening pass).",
}


@experiment("faithful", helps=SHARED)
def experiment_faithful(
    setting,
    out: Path,
    directions="vanilla,flow-auto,flow,flow-beta0.05,robust,smooth,parts",
    directions_file=None,
    start="sphere",
    resume=False,
    damaged=True,
) -> Path:
    """Recognisable and faithful: directions on the trained, randomized and P_D=0.5 models."""
    from flowam.experiments.faithful import load_directions, run_faithful

    chosen = load_directions(directions_file) if directions_file else directions
    run_faithful(
        setting,
        out,
        directions=chosen,
        shared=start,
        resume=resume,
        damaged=damaged,
        log=console.print,
    )
    return out / "faithful.md"


GENUINE = (
    "Comma-separated models, each judged by the others (default: the three trained on "
    "genuine ModelNet10, models/modelnet10 of a checkout)."
)


@experiment("genuine", skip=("model", "judges"), helps={**SHARED, "models": GENUINE})
def experiment_genuine(
    setting,
    out: Path,
    models=None,
    directions="vanilla,flow-auto,parts",
    start="sphere",
    any_facing=8,
) -> Path:
    """The presets on models trained on genuine data (by default ModelNet10's three), on
    the trained and damaged models, read by each other, as drawn and in any facing."""
    from flowam.experiments.genuine import MODELNET10_MODELS, run_genuine

    chosen = models or list(MODELNET10_MODELS)
    for spec in chosen:
        if not spec.startswith("bundled") and not Path(spec).is_file():
            raise FlowamError(f"--models: {spec} is not a file (the default needs a checkout)")
    run_genuine(setting, chosen, out, directions, shared=start, turns=any_facing, log=console.print)
    return out / "genuine.md"


TABLE4 = {"classes": f"Comma-separated classes, or 'all' (default: {DEMO_CLASSES}; all at --full)."}


@experiment("table4", skip=("model",), helps=TABLE4)
def experiment_table4(
    setting, out: Path, models=None, methods=DEMO_METHODS, faithfulness=True
) -> Path:
    """The paper's Table IV: every method on every (bundled) architecture."""
    from flowam.experiments.table4 import run_table4

    classes = setting.classes or ("all" if setting.scale == "full" else None)
    write_config(out, "experiment table4", **setting.to_dict(), models=models, methods=methods)
    run_table4(
        out,
        setting.subject,
        models=models,
        steps=setting.step_count,
        seed=setting.seed,
        classes=classes,
        methods=methods,
        faithfulness=faithfulness,
        log=console.print,
    )
    return out / "table4.md"


@experiment("reproduce", writes_when=lambda options: not options["dry_run"])
def experiment_reproduce(setting, out: Path, dry_run=False) -> Path | None:
    """Every experiment (flow-analysis, table1, ablation, beta, diversity, sanity, table4)."""
    from flowam.experiments.reproduce import run_reproduce

    if not dry_run:
        write_config(out, "experiment reproduce", **setting.to_dict())
    run_reproduce(setting, out, log=console.print, dry_run=dry_run)
    return None if dry_run else out


REALISM = {**ACCURACY, "data": inspect.Parameter.empty, "split": "train,test"}
"""realism's: the data must be named, and both splits are read."""


@command(
    experiment_app, "realism", more=REALISM, helps={"data": "A dataset root (e.g. ModelNet40)."}
)
def experiment_realism(out=Path("runs/realism"), report=True, **options: Any) -> None:
    """Per-class accuracy of a model on a real dataset's objects of the classes they share."""
    measured("experiment realism", out, "realism.json", report, **options)
