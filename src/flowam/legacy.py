"""The method options' old names, which load for one release with a one-line warning.

Until the method became nested (``run``, ``objective``, ``param``, ``robustness``,
``transforms``), its options were one flat list (``steps``, ``robust_copies``,
``part_bend``, ``assembly = true``, ...), and method files had a ``[parameterization]``
section and the start in ``[run]``. :func:`translate` turns any of those into today's
dotted names, warning once per call with every old name it met; nothing else in flowam
knows the old names, so removing them is deleting this module and its one call.
"""

from __future__ import annotations

import warnings
from typing import Any

from flowam.errors import FlowamWarning

SECTIONED = {
    "run": (
        "steps",
        "optimizer",
        "lr",
        "lr_decay",
        "stop_log_prob",
        "converge_steps",
        "converge_tol",
        "keep_best",
        "select_from",
        "soft_pool",
        "soft_pool_temperature",
    ),
    "objective": (
        "logit",
        "log_prob",
        "align",
        "latent_noise",
        "beta",
        "continuity",
        "boundary",
        "continuity_target",
        "legality",
        "bound",
        "reduce",
        "l2",
        "tv",
        "tv_k",
        "diversity",
        "diversity_layer",
        "realness",
        "bn_stats",
        "bn_stats_first",
        "bn_stats_layers",
        "spacing_log",
        "spacing_k",
        "quantile",
        "quantile_layer",
        "quantile_count",
    ),
    "transforms": ("project", "blur_every", "blur_k", "blur_sigma", "step_noise"),
}
"""Flat names that are now the same name in a section."""
FLAT = {
    **{name: f"{section}.{name}" for section, names in SECTIONED.items() for name in names},
    **{
        f"robust_{name}": f"robustness.{name}"
        for name in ("copies", "yaw", "scale", "shift", "jitter", "dropout", "sampling")
    },
    **{
        f"part_{name}": f"param.{name}"
        for name in ("normalize", "bend", "bend_after", "union", "start_noise")
    },
    "part_min": "param.min_half",
    "mesh_subdivisions": "param.subdivisions",
    "smooth": "param.smoothing",
    "smooth_k": "param.k",
    "generator": "param.generator",
    "start": "param.start",
    "start_noise": "param.start_noise",
    "init": "param.start",
    "init_noise": "param.start_noise",
    "run.start": "param.start",
    "run.start_noise": "param.start_noise",
    "run.init": "param.start",
    "run.init_noise": "param.start_noise",
    "parameterization.kind": "param.kind",
    "parameterization.lambda": "param.smoothing",
    "parameterization.min": "param.min_half",
}
"""Every old name (flat, or dotted as in an old file's sections) and its name now."""
SWITCHES = {"assembly": "parts", "mesh": "mesh"}
"""Old flat switches that turned a parameterization on, and its kind."""


def is_old(name: str) -> bool:
    """Whether ``name`` is an old option name."""
    return name in FLAT or name in SWITCHES or name.startswith(("parameterization.", "align."))


def translate(values: dict[str, Any], source: str) -> dict[str, Any]:
    """``values`` (dotted names, some of them old) under today's names, with the kind of
    ``param`` that the old switches chose; one warning naming ``source`` and the old
    names where there were any."""
    old = [k for k in values if is_old(k)]
    if not old:
        return dict(values)
    kind = _kind(values)
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in SWITCHES:
            continue
        name = _now(key) if is_old(key) and key not in SWITCHES else key
        if key in FLAT and name.startswith("param.") and not _owned(key, name, value, kind):
            continue  # an old option at its default for a kind it does not shape
        out[name] = "parts" if name == "param.start" and value == "assembly" else value
    if kind != "points" or "param.kind" in out:
        out.setdefault("param.kind", kind)
    renamed = ", ".join(f"{k} -> {_now(k)}" for k in old)
    warnings.warn(
        f"{source}: old method option names ({renamed}); the old names will stop working",
        FlowamWarning,
        stacklevel=3,
    )
    return out


def _now(name: str) -> str:
    """Old option ``name``'s name now (a switch: the kind it chose)."""
    if name in SWITCHES:
        return f"param.kind = {SWITCHES[name]!r}"
    if name.startswith("align."):  # one layer's weight
        return "objective." + name
    return FLAT.get(name) or "param." + name.removeprefix("parameterization.")


OWNERS = {"part_": "parts", "mesh_": "mesh", "smooth_k": "smooth"}
"""Old options that shaped one kind only (by prefix or name)."""
OLD_DEFAULTS = {"part_min": 0.02, "mesh_subdivisions": 3, "smooth_k": 8}
"""The old defaults that were not 0, False or None."""


def _kind(values: dict[str, Any]) -> str:
    """The kind of ``param`` an old set of options chose."""
    for key, kind in SWITCHES.items():
        if values.get(key):
            return kind
    given = values.get("parameterization.kind", values.get("param.kind"))
    if given is not None:
        return str(given)
    if values.get("generator") is not None:
        return "latent"
    return "smooth" if values.get("smooth") else "points"


def _owned(key: str, name: str, value: Any, kind: str) -> bool:
    """Whether old option ``key`` (now ``name``) belongs to the chosen ``kind``: where it
    shaped another kind, or it was the old default ``None``/0 of a kind that lacks it
    (the old flat config held every option), it is left out."""
    owner = next((k for p, k in OWNERS.items() if key.startswith(p)), None)
    if key == "smooth":
        owner = kind if kind in ("smooth", "mesh") else "smooth"
    elif key == "generator":
        owner = "latent"
    if owner is not None:  # kept where set for another kind: refused there in one line
        return owner == kind or not (not value or value == OLD_DEFAULTS.get(key))
    if key in ("start", "init", "run.start", "run.init"):
        return kind not in ("parts", "mesh") or value not in ("assembly", "parts", "mesh")
    if name == "param.start_noise" and not key.startswith("part_"):
        return kind not in ("parts", "mesh") or bool(value)
    return True
