"""`flowam explain` and `flowam analyze` end to end on a tiny model and dataset."""

import json

import numpy as np
import pytest
from matplotlib.image import imread

from conftest import run_cli


def explain(tiny_model, tiny_data, out, *extra):
    return [
        "explain",
        "--model",
        str(tiny_model),
        "--data",
        str(tiny_data),
        "--out",
        str(out),
        "--steps",
        "3",
        *extra,
    ]


def test_explain_writes_every_artefact(tiny_model, tiny_data, tmp_path, monkeypatch, capsys):
    out = tmp_path / "ex"
    args = explain(
        tiny_model,
        tiny_data,
        out,
        "--method",
        "vanilla,flow",
        "--classes",
        "cone",
        "--restarts",
        "2",
        "--snapshots",
        "0,3",
        "--set",
        "align.fc1=0.5",
        "--seed",
        "3",
    )
    code, text, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    for method in ("vanilla", "flow"):
        for name in ("cone_0", "cone_1"):
            pts = np.load(out / method / f"{name}.npy")
            assert pts.shape == (64, 3)
            assert (out / method / f"{name}.ply").read_bytes().startswith(b"ply")
            assert imread(out / method / f"{name}.png").shape[1] > 400
            record = json.loads((out / method / f"{name}.json").read_text())
            assert set(record["scores"]) == {
                "target_logit",
                "log_softmax",
                "predicted",
                "success",
                "chamfer_to_real",
                "chamfer_both_ways",
                "recognised",
                "taken_for",
                "facing_degrees",
                "moved_from_start",
                "legal",
            }
            assert record["scores"]["facing_degrees"] == 0  # the tiny model has no turns
            assert record["scores"]["recognised"] == (record["scores"]["taken_for"] == "cone")
            assert record["config"]["steps"] == 3 and record["config"]["seed"] == 3
        starts = np.load(out / method / "starts.npz")
        assert sorted(starts.files) == ["cone_0", "cone_1"] and starts["cone_0"].shape == (64, 3)
        history = np.load(out / method / "history.npz")
        assert history["logit"].shape == (4, 2)
    flow = json.loads((out / "flow" / "cone_0.json").read_text())["config"]["method"]
    assert flow["align"]["fc1"] == "0.5" and flow["align"]["fc2"] == 1.0
    assert imread(out / "grid.png").shape[0] > 100
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"vanilla", "flow"} and summary["flow"]["status"] == "finished"
    config = json.loads((out / "config.json").read_text())
    assert config["command"] == "explain" and config["seed"] == 3
    assert "CD" in text and "vanilla" in text


def test_flow_auto_chooses_layers_and_analyze_draws_the_flow(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    code, _, err = run_cli(
        [
            "analyze",
            "--model",
            str(tiny_model),
            "--data",
            str(tiny_data),
            "--out",
            str(tmp_path / "an"),
            "--steps",
            "5",
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    saved = json.loads((tmp_path / "an" / "flow.json").read_text())
    assert set(saved["weights"]) <= set(saved["analysis"]["candidates"])
    assert imread(tmp_path / "an" / "flow.png").shape[0] > 100
    code, _, err = run_cli(
        explain(
            tiny_model, tiny_data, tmp_path / "auto", "--method", "flow-auto", "--classes", "all"
        ),
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    assert len(list((tmp_path / "auto").rglob("*_0.npy"))) == 2  # 'all': both classes


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--classes", "cone,sphere"], "error: unknown class 'sphere'; valid classes: box, cone"),
        (["--set", "beta=1.5"], "error: beta=1.5 must be in [0, 1]"),
        (["--set", "lr=0"], "error: lr=0.0 must be above 0"),
        (["--set", "l2=-1"], "error: weight l2=-1.0 must not be negative"),
        (["--set", "align.fc9=1"], "error: unknown layer 'fc9' in PointNet; did you mean"),
        (["--method", "flwo"], "error: unknown method 'flwo'; choose one of"),
        (["--set", "beta"], "error: --set 'beta': write field=value"),
        (["--snapshots", "a,b"], "error: --snapshots 'a,b': expected comma-separated integers"),
    ],
)
def test_bad_explain_input_gives_one_line(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys, extra, message
):
    code, _, err = run_cli(
        explain(tiny_model, tiny_data, tmp_path / "bad", *extra), monkeypatch, capsys
    )
    lines = [line for line in err.strip().splitlines() if line.startswith("error")]
    assert code == 1 and len(lines) == 1 and lines[0].startswith(message), err
    assert "Traceback" not in err


def test_explaining_against_data_of_other_classes_is_refused(
    tiny_model, tmp_path, monkeypatch, capsys
):
    for name in ("mug", "rock"):  # classes the model (box, cone) lacks
        (tmp_path / "other" / name).mkdir(parents=True)
        (tmp_path / "other" / name / "a.npy").write_bytes(b"never read")
    args = ["explain", "--model", str(tiny_model), "--steps", "1", "--data"]
    code, _, err = run_cli([*args, str(tmp_path / "other")], monkeypatch, capsys)
    assert code == 1 and "none of its 2 classes (mug, rock) is one of the model's" in err


def test_version_prints_without_a_command(monkeypatch, capsys):
    from flowam import __version__

    code, out, _ = run_cli(["--version"], monkeypatch, capsys)
    assert code == 0 and out.strip() == __version__
