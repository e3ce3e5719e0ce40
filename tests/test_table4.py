"""Table IV (flowam.experiments.table4): the demo's comparison on every model given."""

import json

from conftest import run_cli


def test_table4_runs_every_given_model(tmp_path, monkeypatch, capsys):
    out = tmp_path / "t4"
    args = ["experiment", "table4", "--models", "bundled,bundled:pointnet", "--classes", "cup"]
    args += ["--methods", "vanilla,tv", "--steps", "2", "--out", str(out)]
    code, _text, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    table = (out / "table4.md").read_text()
    assert table.count("## pointnet") == 2
    for row in ("start: gaussian", "start: mean", "vanilla (from noise)", "tv (from noise)"):
        assert f"| {row} |" in table or f"| {row} ⚠ |" in table  # ⚠: see the faithfulness gap
    assert (out / "0_bundled" / "summary.json").is_file()
    assert (out / "1_bundled_pointnet" / "grid_mean.png").is_file()
    assert json.loads((out / "config.json").read_text())["steps"] == 2
