"""Method files in sections (flowam.sections): every field has one home, every preset is
written in sections and means what its flat fields meant, and a bad section is one line."""

import dataclasses
import json
import tomllib
from importlib import resources

import pytest

from flowam.errors import FlowamError
from flowam.methods import MethodConfig, load_method, preset_names
from flowam.sections import KINDS, SECTIONS, SWITCHES, TOP, flatten

FIELDS = {f.name for f in dataclasses.fields(MethodConfig)}


def test_every_field_has_exactly_one_home():
    homes = [*TOP, *SWITCHES.values()]
    homes += [f for options in SECTIONS.values() for f in options.values()]
    homes += [f for kind in ("smooth", "parts", "latent") for f in KINDS[kind].values()]
    homes += ["mesh_subdivisions"]  # the mesh's λ is the smooth parameterization's
    assert sorted(homes) == sorted(FIELDS)


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_is_written_in_sections_and_round_trips(preset, tmp_path):
    text = (resources.files("flowam") / "configs" / "methods" / f"{preset}.toml").read_text()
    values = tomllib.loads(text)
    assert set(values) <= {*TOP, *SECTIONS, "parameterization"}
    config = load_method(preset)
    again = flatten(config.sections(), "again")  # the sections of the loaded method
    assert MethodConfig().replace(**again) == config
    assert MethodConfig.from_sections(config.sections()) == config  # the same from Python
    flat = tmp_path / f"{preset}.toml"  # the same method as flat fields, as files were
    plain = [f"{k} = {toml(v)}" for k, v in again.items() if not isinstance(v, dict)]
    table = again.get("align") if isinstance(again.get("align"), dict) else {}
    layers = [f"{json.dumps(k)} = {toml(w)}" for k, w in table.items()]
    flat.write_text("\n".join(plain + (["[align]", *layers] if layers else [])) + "\n")
    assert dataclasses.replace(load_method(flat), name=preset) == config


def toml(value) -> str:
    """A TOML value: JSON's spelling serves for strings and numbers."""
    return str(value).lower() if isinstance(value, bool) else json.dumps(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[robustness]\ncopies = 2\nyaw_max = 3\n", r"\[robustness\] has no option 'yaw_max'"),
        ("robustness = 3\n", r"\[robustness\] must be a table of options"),
        ('[parameterization]\nkind = "voxels"\n', r"kind='voxels'; choose one of points"),
        ('[parameterization]\nkind = "parts"\nlambda = 3.0\n', r"has no option 'lambda'; its"),
        ("[parameterization]\nbend = true\n", r"of kind points\] has no option 'bend'"),
        ("[run]\nsteps = 0\n", r"steps=0 must be at least 1"),
    ],
)
def test_a_bad_section_is_one_line_naming_the_file(tmp_path, text, message):
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(FlowamError, match=message) as caught:
        load_method(path)
    assert "\n" not in str(caught.value)


def test_the_old_name_of_the_start_still_works_with_a_warning(tmp_path):
    from flowam.errors import FlowamWarning
    from flowam.methods import coerce

    path = tmp_path / "old.toml"
    for text in (
        '[run]\ninit = "sphere"\ninit_noise = 0.1\n',
        'init = "sphere"\ninit_noise = 0.1\n',
    ):
        path.write_text(text)
        with pytest.warns(FlowamWarning) as caught:
            config = load_method(path)
        said = sorted(str(w.message).split(": ", 1)[1] for w in caught)
        assert said == [
            "'init' is now called 'start'; the old name will stop working",
            "'init_noise' is now called 'start_noise'; the old name will stop working",
        ]
        assert (config.start, config.start_noise) == ("sphere", 0.1)
    with pytest.warns(FlowamWarning, match=r"--set: 'init' is now called 'start'"):
        assert coerce(MethodConfig(), "init=mean") == {"start": "mean"}
    with pytest.warns(FlowamWarning, match="'init_noise' is now called 'start_noise'"):
        assert MethodConfig().replace(init_noise="low").start_noise == 0.1


def test_python_builds_a_method_from_sections_with_one_line_errors():
    config = MethodConfig.from_sections(
        {"run": {"steps": 40, "lr": 0.02}, "robustness": {"copies": 3, "yaw": 10.0}}
    )
    assert (config.steps, config.lr, config.robust_copies, config.robust_yaw) == (40, 0.02, 3, 10)
    assert config.robust_scale == MethodConfig().robust_scale  # left out: the default
    parts = MethodConfig.from_sections(
        {"run": {"start": "parts"}, "parameterization": {"kind": "parts", "bend": True}}
    )
    assert parts.assembly and parts.part_bend
    with pytest.raises(FlowamError, match="the sections given") as e:
        MethodConfig.from_sections({"robustness": {"copies": 3, "yw": 10.0}})
    assert "\n" not in str(e.value)
