"""flowam.legacy: the old flat option names (and old sectioned files) load for one release,
each to the same method as today's names, with one warning naming them."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from flowam.errors import FlowamError, FlowamWarning
from flowam.legacy import FLAT, SWITCHES
from flowam.methods import MethodConfig, coerce, load_method, preset_names

OLD = {
    new: old for old, new in FLAT.items() if "." not in old and old not in ("init", "init_noise")
}
"""Today's dotted name -> its old flat name."""


def flat_file(config: MethodConfig) -> str:
    """``config`` written as an old flat method file (every option as it was named)."""
    lines, align = [], {}
    for section, table in config.sections().items():
        if not isinstance(table, dict):
            lines.append(f"{section} = {json.dumps(table)}")
            continue
        for option, value in table.items():
            name = f"{section}.{option}"
            if name == "param.kind":
                switch = {kind: old for old, kind in SWITCHES.items()}.get(value)
                if switch:
                    lines.append(f"{switch} = true")
                continue
            if name == "objective.align" and isinstance(value, dict):
                align = value
                continue
            text = str(value).lower() if isinstance(value, bool) else json.dumps(value)
            lines.append(f"{OLD[name]} = {text}")
    lines.append(f"steps = {config.run.steps}")  # every old file named some old option
    if config.param.kind == "latent" and "generator" not in config.sections()["param"]:
        lines.append(f"generator = {json.dumps(config.param.generator)}")  # its switch
    if config.param.drawn:
        lines.append(f'start = "{"assembly" if config.param.kind == "parts" else "mesh"}"')
    if align:
        lines += ["[align]", *(f"{json.dumps(k)} = {json.dumps(w)}" for k, w in align.items())]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_written_with_the_old_flat_names_is_the_same_method(preset, tmp_path):
    config = load_method(preset)
    path = tmp_path / f"{preset}.toml"
    path.write_text(flat_file(config))
    with pytest.warns(FlowamWarning, match=rf"{preset}.toml: old method option names \("):
        old = load_method(path)
    assert old == config
    assert old.to_dict() == config.to_dict()


def test_old_sections_and_old_start_names_load_warned_in_one_line(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text(
        '[run]\nstart = "assembly"\nsteps = 40\n\n[parameterization]\nkind = "parts"\n'
        "min = 0.05\nbend = true\n\n[robustness]\ncopies = 2\n"
    )
    with pytest.warns(FlowamWarning) as caught:
        config = load_method(path)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    said = str(caught[0].message)
    assert "run.start -> param.start" in said and "parameterization.min -> param.min_half" in said
    assert (config.param.kind, config.param.min_half, config.param.bend) == ("parts", 0.05, True)
    assert (config.run.steps, config.robustness.copies, config.start) == (40, 2, "parts")
    path.write_text('init = "sphere"\ninit_noise = 0.1\nsmooth = 2.0\n')
    with pytest.warns(FlowamWarning, match="init -> param.start, init_noise -> param.start_noise"):
        config = load_method(path)
    assert (config.param.kind, config.start, config.param.start_noise) == ("smooth", "sphere", 0.1)


def test_old_names_from_the_command_line_and_python_are_warned():
    with pytest.warns(FlowamWarning, match=r"--set: old method option names \(robust_copies"):
        assert coerce(MethodConfig(), "robust_copies=3") == {"robustness.copies": 3}
    with pytest.warns(FlowamWarning, match="steps -> run.steps"):
        assert MethodConfig().replace(steps=7).run.steps == 7
    with pytest.warns(FlowamWarning, match="start_noise -> param.start_noise"):
        assert MethodConfig().replace(start_noise="low").param.start_noise == 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # today's names warn nothing
        assert MethodConfig().replace({"run.steps": 7}, robustness={"copies": 2}).run.steps == 7


def test_an_old_option_for_another_kind_is_still_refused_in_one_line(tmp_path):
    with pytest.warns(FlowamWarning), pytest.raises(FlowamError) as caught:
        MethodConfig().replace(part_bend=True)  # bending parts, but no parts
    assert "[param] of kind points has no option 'bend'" in str(caught.value)
    with pytest.warns(FlowamWarning), pytest.raises(FlowamError, match="starts from its cubes"):
        MethodConfig().replace(assembly=True, start="sphere")


BEFORE = Path(__file__).parent / "data" / "presets-before-nesting"


@pytest.mark.parametrize("path", sorted(BEFORE.glob("*.toml")), ids=lambda p: p.stem)
def test_every_preset_as_it_was_written_before_the_nesting_is_todays(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlowamWarning)  # the old names are warned
        before = load_method(path)
    today = load_method(path.stem)
    assert before.replace(description=today.description) == today  # the words may change


def test_every_preset_has_its_file_from_before_the_nesting():
    assert {p.stem for p in BEFORE.glob("*.toml")} == set(preset_names())
