"""``flowam sweep``: a method's options searched with Optuna, on one machine or many.

A sweep varies any option of a method by its dotted name (``objective.beta``, ``run.lr``,
``run.steps``, ``objective.align.fc2``, ...)
within given ranges, explains the chosen classes with each trial's values, and scores the
explanations on one or more objectives (:data:`OBJECTIVES`); with several objectives the
result is their Pareto front.

Trials live in an Optuna storage: by default an SQLite file in the output folder (one
machine, nothing to set up); any SQLAlchemy URL, e.g. PostgreSQL, lets workers on many
machines join one study (same ``--study`` and ``--storage``). Each trial sends a heartbeat;
a trial whose worker died (killed, machine lost) is marked failed by the next worker that
starts a trial once ``grace`` seconds have passed without one, and its parameters are
tried again once (Optuna's ``RetryHeartbeatStaleTrialCallback``), so no trial is lost. The study
stops taking new trials once it holds ``trials`` of them; a worker that is running one
then finishes it.

Range syntax (``--param NAME=RANGE``): ``LOW:HIGH`` (uniform float), ``log:LOW:HIGH``
(log-uniform float), ``int:LOW:HIGH`` (integer), ``A|B|C`` (a choice).
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flowam import cache
from flowam.errors import FlowamError
from flowam.fields import comma_list
from flowam.methods import MethodConfig, coerce
from flowam.outputs import pipe_table

OBJECTIVES = {
    "logit": ("maximize", "mean target logit"),
    "recognised": ("maximize", "1-NN recognition rate (recognisability)"),
    "cd": ("minimize", "mean Chamfer distance to real objects of the class"),
    "gap": ("maximize", "faithfulness gap: recognition on the trained minus the randomized model"),
}
"""Objective name → (direction, what it is)."""


@dataclass(frozen=True)
class Param:
    """One swept field and its range."""

    name: str
    kind: str  # float | log | int | choice
    low: float = 0.0
    high: float = 0.0
    choices: tuple[str, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """This parameter's value for an Optuna trial."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high))
        return trial.suggest_float(self.name, self.low, self.high, log=self.kind == "log")

    def ends(self) -> list[Any]:
        """The values at the ends of the range (checked against the method up front)."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [self.low, self.high]


def parse_param(text: str) -> Param:
    """``NAME=LOW:HIGH``, ``NAME=log:LOW:HIGH``, ``NAME=int:LOW:HIGH`` or ``NAME=A|B``."""
    if "=" not in text:
        raise FlowamError(f"--param {text!r}: write NAME=LOW:HIGH (or log:, int:, A|B)")
    name, spec = (s.strip() for s in text.split("=", 1))
    if "|" in spec:
        return Param(name, "choice", choices=tuple(s.strip() for s in spec.split("|")))
    parts = spec.split(":")
    kind = parts.pop(0) if parts[0] in ("log", "int") else "float"
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise FlowamError(f"--param {text!r}: expected two numbers LOW:HIGH") from None
    if not low < high:
        raise FlowamError(f"--param {text!r}: LOW must be below HIGH")
    if kind == "log" and low <= 0:
        raise FlowamError(f"--param {text!r}: a log range needs LOW > 0")
    if kind == "int" and (low != int(low) or high != int(high)):
        raise FlowamError(f"--param {text!r}: an int range needs whole numbers")
    return Param(name, kind, low, high)


def apply(config: MethodConfig, values: dict[str, Any]) -> MethodConfig:
    """``config`` with the swept values set (as ``--set NAME=VALUE`` would)."""
    for name, value in values.items():
        config = config.replace(coerce(config, f"{name}={value}", flag="--param"))
    return config


def parse_objectives(text: str) -> list[str]:
    """Comma-separated objective names, checked."""
    names = comma_list(text)
    unknown = [n for n in names if n not in OBJECTIVES]
    if not names or unknown:
        raise FlowamError(
            f"--objective {text!r}: choose from {', '.join(OBJECTIVES)} (comma-separated)"
        )
    return names


def storage_url(storage: str | None, out: Path) -> str:
    """The SQLAlchemy URL of the study's storage (default: ``OUT/study.db``, SQLite).
    ``postgresql://`` uses psycopg 3 (``postgresql+psycopg://``) where psycopg2 is absent."""
    if storage is None:
        return f"sqlite:///{(out / 'study.db').resolve()}"
    if storage.startswith("postgresql://"):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            storage = "postgresql+psycopg://" + storage.removeprefix("postgresql://")
    return storage


@dataclass
class SweepSettings:
    """What a worker needs besides the explainer."""

    method: str
    params: list[Param]
    objectives: list[str]
    classes: list[str] | None
    steps: int | None
    trials: int
    study: str
    storage: str
    seed: int = 0
    worker: int = 0
    heartbeat: int = 30
    grace: int = 90


def _open_study(settings: SweepSettings, attempts: int = 5):
    """Create or join the study. Workers starting together may race to create the
    storage's tables (PostgreSQL then reports a duplicate key): the loser tries again."""
    import warnings

    import optuna
    from sqlalchemy.exc import (
        ArgumentError,
        IntegrityError,
        NoSuchModuleError,
        OperationalError,
        ProgrammingError,
    )

    directions = [OBJECTIVES[o][0] for o in settings.objectives]
    # each worker its own sampler seed, so parallel workers do not propose the same points
    sampler = optuna.samplers.TPESampler(seed=settings.seed * 1000 + settings.worker)
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    settings.storage,
                    heartbeat_interval=settings.heartbeat,
                    grace_period=settings.grace,
                    heartbeat_stale_trial_callback=(
                        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
                    ),
                )
                study = optuna.create_study(
                    study_name=settings.study,
                    storage=storage,
                    directions=directions,
                    sampler=sampler,
                    load_if_exists=True,
                )
            break
        except (IntegrityError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1) * (1 + settings.worker))
        except (ArgumentError, ImportError, NoSuchModuleError, OperationalError) as e:
            shown = _hidden(settings.storage)
            reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
            raise FlowamError(f"--storage {shown}: cannot open it ({reason})") from None
        except (ValueError, optuna.exceptions.OptunaError) as e:
            raise FlowamError(f"--study {settings.study}: {e}") from None
    if [d.name.lower() for d in study.directions] != directions:
        raise FlowamError(
            f"--study {settings.study} exists with other objectives "
            f"({', '.join(d.name.lower() for d in study.directions)}); "
            "name a new study or give its objectives"
        )
    return study


def run_sweep(
    explainer: Any,
    settings: SweepSettings,
    out: Path,
    log: Callable[[str], None] = print,
) -> Any:
    """Run trials of ``settings.study`` until it holds ``settings.trials``; write the
    tables and pictures of the whole study (:func:`write_results`). Returns the study."""
    import optuna
    from optuna.study import MaxTrialsCallback

    from flowam.compare import score_result

    names = settings.classes or explainer.classes
    base = explainer.resolve(settings.method)
    if settings.steps is not None:
        base = base.replace({"run.steps": settings.steps})
    for p in settings.params:  # every end of every range must make a valid method
        for value in p.ends():
            apply(base, {p.name: value})
    randomized = explainer.damaged(seed=settings.seed) if "gap" in settings.objectives else None
    worker = f"{socket.gethostname()}:{os.getpid()}"

    def objective(trial: optuna.Trial) -> list[float]:
        values = {p.name: p.suggest(trial) for p in settings.params}
        config = apply(base, values)
        trial.set_user_attr("worker", worker)
        result = explainer.explain(names, config, seed=settings.seed, progress=False)
        scores = score_result(explainer, result, settings.seed)
        measured = {
            "logit": float(scores.logit.mean()),
            "recognised": float(scores.recognised.mean()),
            "cd": float(scores.chamfer.mean()),
        }
        if randomized is not None:
            again = randomized.explain(names, config, seed=settings.seed, progress=False)
            references = explainer.evaluator(settings.seed).references
            rate = references.recognise(again.points, again.targets).rate
            measured["gap"] = measured["recognised"] - rate
        for key, value in measured.items():
            trial.set_user_attr(key, value)
        shown = ", ".join(f"{k} {_cell(v)}" for k, v in values.items())
        log(f"trial {trial.number} ({worker}): {shown} → {_fmt(measured, settings.objectives)}")
        return [measured[o] for o in settings.objectives]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _open_study(settings)
    if len(study.trials) < settings.trials:
        study.optimize(
            objective,
            # every trial counts, finished or running, so workers stop together
            callbacks=[MaxTrialsCallback(settings.trials, states=None)],
            catch=(FlowamError,),
            show_progress_bar=False,
        )
    write_results(study, settings, out)
    return study


def _fmt(measured: dict[str, float], objectives: Sequence[str]) -> str:
    return ", ".join(f"{o} {measured[o]:.4g}" for o in objectives)


def trial_rows(study: Any, settings: SweepSettings) -> list[dict[str, Any]]:
    """One row per trial of the study: number, state, worker, parameters, objectives."""
    rows = []
    for t in study.trials:
        row = {"number": t.number, "state": t.state.name, "worker": t.user_attrs.get("worker")}
        row.update({p.name: t.params.get(p.name) for p in settings.params})
        values = t.values or [math.nan] * len(settings.objectives)
        row.update(dict(zip(settings.objectives, values, strict=True)))
        row["retry_of"] = t.system_attrs.get("failed_trial")  # a retry: its worker died
        rows.append(row)
    return rows


def write_results(study: Any, settings: SweepSettings, out: Path) -> None:
    """``trials.csv`` (every trial), ``pareto.md`` (the Pareto front, or the best trial
    for one objective) and ``pareto.png`` into ``out``, from the whole study."""
    import optuna

    from flowam.outputs import write_csv

    cache.make_folder(out)
    write_csv(out / "trials.csv", trial_rows(study, settings))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    front = study.best_trials if complete else []
    heads = [*(p.name for p in settings.params), *settings.objectives]
    arrows = {o: " ↑" if OBJECTIVES[o][0] == "maximize" else " ↓" for o in settings.objectives}
    lines = [
        f"# Sweep `{settings.study}`: {settings.method}",
        "",
        f"{len(complete)} of {len(study.trials)} trials complete "
        f"({', '.join(f'{o}: {OBJECTIVES[o][1]}' for o in settings.objectives)}).",
        "",
        "Pareto front (no other trial is at least as good in every objective and better in one):"
        if len(settings.objectives) > 1
        else "Best trial:",
        "",
    ]
    rows = [
        [str(t.number), *(_cell(t.params.get(p.name)) for p in settings.params)]
        + [_cell(v) for v in t.values]
        for t in sorted(front, key=lambda t: t.values)
    ]
    lines += pipe_table(["trial", *(h + arrows.get(h, "") for h in heads)], rows, first="---:")
    lines += ["", "![Pareto front](pareto.png)", ""]
    cache.write_text(out / "pareto.md", "\n".join(lines))
    _picture(complete, front, settings, out / "pareto.png")


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _picture(complete: list, front: list, settings: SweepSettings, path: Path) -> None:
    """Two objectives: every complete trial, the front highlighted; one: the objective
    per trial and the best so far."""
    import matplotlib.pyplot as plt

    from flowam.render import save_figure

    fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=120)
    objectives = settings.objectives
    if len(objectives) >= 2:
        xs = np.array([t.values[0] for t in complete])
        ys = np.array([t.values[1] for t in complete])
        ax.scatter(xs, ys, c="#bbb", s=22, label="trials")
        best = sorted(front, key=lambda t: t.values[0])
        ax.plot(
            [t.values[0] for t in best],
            [t.values[1] for t in best],
            "o-",
            c="#c0392b",
            label="Pareto front",
        )
        for t in best:
            ax.annotate(
                str(t.number),
                (t.values[0], t.values[1]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax.set_xlabel(f"{objectives[0]} ({OBJECTIVES[objectives[0]][0]})")
        ax.set_ylabel(f"{objectives[1]} ({OBJECTIVES[objectives[1]][0]})")
        if len(objectives) > 2:
            ax.set_title(f"first two of {len(objectives)} objectives", fontsize=9)
    else:
        numbers = [t.number for t in complete]
        values = np.array([t.values[0] for t in complete])
        running = (
            np.maximum.accumulate
            if OBJECTIVES[objectives[0]][0] == "maximize"
            else (np.minimum.accumulate)
        )
        ax.scatter(numbers, values, c="#bbb", s=22, label="trials")
        if len(values):
            ax.step(numbers, running(values), where="post", c="#c0392b", label="best so far")
        ax.set_xlabel("trial")
        ax.set_ylabel(f"{objectives[0]} ({OBJECTIVES[objectives[0]][0]})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, path, dpi=120)


def settings_record(settings: SweepSettings) -> dict[str, Any]:
    """The settings as JSON-ready values (for ``config.json``), the storage's password
    hidden."""
    record = dict(settings.__dict__)
    record["params"] = [p.__dict__ for p in settings.params]
    record["storage"] = _hidden(settings.storage)
    return json.loads(json.dumps(record, default=str))


def _hidden(url: str) -> str:
    """A storage URL with its password masked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
