"""A method file in sections: the run, the objective, the parameterization, robustness and
the step transforms, each a table of its own options.

.. code-block:: toml

    name = "parts"
    description = "..."

    [run]
    start = "parts"
    steps = 300
    lr = 0.05

    [objective]
    logit = 1.0

    [parameterization]      # one, chosen by name, with its own options
    kind = "parts"
    normalize = true
    bend = true
    bend_after = 0.5

    [robustness]
    copies = 2

:func:`flatten` turns such a file into :class:`~flowam.methods.MethodConfig`'s fields
(which ``--set`` and Python use: ``robust_copies``, ``part_bend``, ...); :func:`sections`
turns fields back into sections. A file of flat fields, as before the sections, still
loads. The parameterization's ``kind`` is ``points`` (the coordinates themselves, the
default), ``smooth`` (a Laplacian-smoothed cloud), ``parts`` (an assembly of boxes), ``mesh``
(a smoothed icosphere) or ``latent`` (a generator's latent code).
"""

from __future__ import annotations

import warnings
from typing import Any

from flowam.errors import FlowamError, FlowamWarning

SECTIONS: dict[str, dict[str, str]] = {
    "run": {
        k: k
        for k in (
            "start",
            "start_noise",
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
        )
    },
    "objective": {
        k: k
        for k in (
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
        )
    },
    "robustness": {
        k: f"robust_{k}"
        for k in ("copies", "yaw", "scale", "shift", "jitter", "dropout", "sampling")
    },
    "transforms": {k: k for k in ("project", "blur_every", "blur_k", "blur_sigma", "step_noise")},
}
"""Each section's options, by the name they have there, and the field each sets."""
KINDS: dict[str, dict[str, str]] = {
    "points": {},
    "smooth": {"lambda": "smooth", "k": "smooth_k"},
    "parts": {
        "min": "part_min",
        "normalize": "part_normalize",
        "bend": "part_bend",
        "bend_after": "part_bend_after",
        "union": "part_union",
        "start_noise": "part_start_noise",
    },
    "mesh": {"subdivisions": "mesh_subdivisions", "lambda": "smooth"},
    "latent": {"generator": "generator"},
}
"""Each parameterization's options (``[parameterization]``), and the field each sets."""
SWITCHES = {"parts": "assembly", "mesh": "mesh"}
"""The field that turns a parameterization on, where one does."""
RENAMED_FIELDS = {"init": "start", "init_noise": "start_noise"}
"""Fields renamed by issue 36 (one word for the start): the old names still work, warned."""
TOP = ("name", "description")
PARAMETERIZATION = "parameterization"


def flatten(values: dict[str, Any], source: str) -> dict[str, Any]:
    """The fields a method file's ``values`` set (sections or flat fields; ``source``
    names the file in errors)."""
    flat = {k: v for k, v in values.items() if k not in SECTIONS and k != PARAMETERIZATION}
    flat = renamed(flat, source)
    for section, options in SECTIONS.items():
        if section in values:
            table = _table(values[section], section, source)
            table = renamed(table, source) if section == "run" else table
            flat.update(_section(table, section, options, source))
    if PARAMETERIZATION in values:
        table = _table(values[PARAMETERIZATION], PARAMETERIZATION, source)
        kind = table.get("kind", "points")
        if kind not in KINDS:
            raise FlowamError(
                f"{source}: [parameterization] kind={kind!r}; choose one of {', '.join(KINDS)}"
            )
        rest = {k: v for k, v in table.items() if k != "kind"}
        flat.update(_section(rest, f"parameterization of kind {kind}", KINDS[kind], source))
        if kind in SWITCHES:
            flat[SWITCHES[kind]] = True
    return flat


def sections(fields: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """The method file, in sections, of ``fields`` (those equal to ``defaults`` left out)."""
    changed = {k: v for k, v in fields.items() if k in TOP or v != defaults.get(k)}
    out: dict[str, Any] = {k: changed[k] for k in TOP if k in changed}
    for section, options in SECTIONS.items():
        table = {key: changed[f] for key, f in options.items() if f in changed}
        if table:
            out[section] = table
    kind = next((k for k, f in SWITCHES.items() if changed.get(f)), None)
    if kind is None:
        smoothed = "smooth" in changed or "smooth_k" in changed
        kind = "latent" if changed.get("generator") else "smooth" if smoothed else None
    if kind is not None:
        own = {key: changed[f] for key, f in KINDS[kind].items() if f in changed}
        out[PARAMETERIZATION] = {"kind": kind, **own}
    return out


def renamed(values: dict[str, Any], source: str) -> dict[str, Any]:
    """``values`` with the fields of :data:`RENAMED_FIELDS` under their new names
    (:func:`renamed_field`)."""
    return {renamed_field(k, source): v for k, v in values.items()}


def renamed_field(name: str, source: str) -> str:
    """The field's name now: ``name`` itself, or its new name, warned in one line naming
    ``source`` where it is an old one (:data:`RENAMED_FIELDS`)."""
    if name not in RENAMED_FIELDS:
        return name
    new = RENAMED_FIELDS[name]
    warnings.warn(
        f"{source}: {name!r} is now called {new!r}; the old name will stop working",
        FlowamWarning,
        stacklevel=4,
    )
    return new


def _table(value: Any, section: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FlowamError(f"{source}: [{section}] must be a table of options")
    return value


def _section(value: Any, section: str, options: dict[str, str], source: str) -> dict[str, Any]:
    """The fields one section's table sets; one line for an option it does not have."""
    table = _table(value, section, source)
    unknown = [k for k in table if k not in options]
    if unknown:
        known = ", ".join(options) or "none"
        raise FlowamError(
            f"{source}: [{section}] has no option {unknown[0]!r}; its options: {known}"
        )
    return {options[k]: v for k, v in table.items()}
