"""The comparison on models trained on genuine data, on tiny models the tests train."""

import json

import pytest
from matplotlib.image import imread

from conftest import run_cli, tiny_config
from flowam.experiments.common import Setting
from flowam.experiments.genuine import labels, run_genuine
from flowam.subject import Subject
from flowam.train import train


@pytest.fixture(scope="module")
def two_models(tiny_data, tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("second")
    train(tiny_config(tiny_data, out, epochs=2, seed=1), progress=False)
    return [str(tiny_model), str(out / "best.safetensors")]


def test_each_model_is_explained_and_read_by_the_other(two_models, tiny_data, tmp_path):
    setting = Setting(Subject(data=str(tiny_data)), classes="all", steps=2, seed=0)
    directions = ["vanilla", "parts"]
    tables = run_genuine(setting, two_models, tmp_path, directions, turns=4, log=lambda _: 0)
    names = labels(two_models)
    assert names == ["best-0", "best-1"] and list(tables) == names
    for name, other in zip(names, reversed(names), strict=True):
        rows = {r["direction"]: r for r in tables[name]}
        # too few test objects for a "real objects" row outside the 1-NN gallery
        assert set(rows) == {"start", "start: parts", "vanilla", "parts"}
        config = json.loads((tmp_path / name / "config.json").read_text())
        assert config["judges"] == two_models[names.index(other)]  # read by the other
        assert any(k.startswith("recognised_by_") for k in rows["vanilla"])
        for kind in ("trained", "randomized", "dropout"):
            assert 0 <= rows["vanilla"][f"any_facing_{kind}"] <= 1
        # the start, a sphere, is one class's nearest in any facing as drawn: a share of 1/2
        assert rows["start"]["any_facing_trained"] == rows["start"]["recognised_trained"] == 0.5
    text = (tmp_path / "genuine.md").read_text()
    assert text.count("| parts |") == 2 and "any facing" in text
    assert "4 turns about the up axis (90° apart)" in text
    picture = imread(tmp_path / "genuine.png")
    assert picture.shape[1] > 3 * picture.shape[0]  # 2 classes; 8 columns
    record = json.loads((tmp_path / "config.json").read_text())
    assert record["experiment"] == "genuine" and record["turns"] == 4


def test_the_command_refuses_models_that_are_not_there(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(
        ["experiment", "genuine", "--models", "nowhere.safetensors", "--out", str(tmp_path)],
        monkeypatch,
        capsys,
    )
    assert (
        code == 1
        and err.strip()
        == "error: --models: nowhere.safetensors is not a file (the default needs a checkout)"
    )
    assert not any(tmp_path.iterdir())
