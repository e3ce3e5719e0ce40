"""The main job (flowam.demo): every preset, and the recommended one on every bundled
architecture."""

import json

from matplotlib.image import imread

from conftest import run_cli


def test_demo_runs_the_preset_on_every_other_bundled_architecture(tmp_path, monkeypatch, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--model", "bundled:dgcnn", "--classes", "chair,table", "--methods"]
    args += ["vanilla,parts", "--steps", "2", "--no-faithfulness", "--no-report"]
    code, text, err = run_cli([*args, "--out", str(out)], monkeypatch, capsys)
    assert "parts on pointnet2_ssg (trained model only)" in text + err
    assert code == 0, err
    rows = json.loads((out / "summary.json").read_text())["architectures"]
    # the real objects and the start first, then the demo model's run, then the others
    assert list(rows) == [
        "real objects",
        "start: parts",
        "dgcnn: parts",
        "pointnet: parts",
        "pointnet2_ssg: parts",
    ]
    assert rows["real objects"]["recognised_rate"] == 1.0  # a real object is its own class
    assert rows["start: parts"]["recognised_rate"] == 0.0  # a shared start names no class
    # each architecture's run is judged by the two others
    assert {"recognised_by_dgcnn", "recognised_by_pointnet2_ssg"} <= set(rows["pointnet: parts"])
    assert "recognised_by_pointnet" in rows["dgcnn: parts"]
    for arch in ("pointnet", "pointnet2_ssg"):
        run = json.loads((out / "architectures" / arch / "summary.json").read_text())
        assert run[f"{arch}: parts"]["config"]["method"]["run"]["steps"] == 2
        assert len(list((out / "architectures" / arch).rglob("*.npy"))) >= 2
    assert not (out / "architectures" / "dgcnn").exists()  # the demo model ran it already
    picture = imread(out / "grid_architectures.png")
    assert picture.shape[0] < picture.shape[1]  # 2 classes by 4 columns
    assert "grid_architectures.png" in (out / "summary.md").read_text()
    assert json.loads((out / "config.json").read_text())["architectures"] == list(rows)
    args = ["demo", "--classes", "chair", "--methods", "parts", "--steps", "1"]
    args += ["--no-faithfulness", "--no-report", "--no-architectures", "--out", str(out / "b")]
    assert run_cli(args, monkeypatch, capsys)[0] == 0
    assert "architectures" not in json.loads((out / "b" / "summary.json").read_text())
    assert not (out / "b" / "grid_architectures.png").exists()
