"""flowam.fields: fields that carry their option's help and least value, and the one
reading of comma-separated values."""

import dataclasses

from flowam.fields import MIN_POINTS, comma_list, described
from flowam.generative import GeneratorConfig
from flowam.subject import Subject
from flowam.train import TrainConfig


def test_a_described_field_keeps_its_default_help_and_least_value():
    @dataclasses.dataclass
    class Probe:
        steps: int = described(5, "Steps.", min=1)
        names: str | None = described(None, "Names.")

    fields = {f.name: f for f in dataclasses.fields(Probe)}
    assert Probe().steps == 5 and Probe().names is None
    assert dict(fields["steps"].metadata) == {"help": "Steps.", "min": 1}
    assert dict(fields["names"].metadata) == {"help": "Names."}


def test_every_points_per_cloud_option_has_the_same_least_value():
    for config in (Subject, TrainConfig, GeneratorConfig):
        field = next(f for f in dataclasses.fields(config) if f.name == "num_points")
        assert field.metadata["min"] == MIN_POINTS, config


def test_comma_separated_values_drop_blanks_and_spaces():
    assert comma_list(" chair, ,lamp ,") == ["chair", "lamp"]
    assert comma_list("") == [] and comma_list(None) is None
