"""`flowam evaluate` (flowam.evaluation): re-scoring a folder written by `flowam explain`."""

import json

import pytest

from conftest import run_cli


def test_evaluate_rescores_an_explain_folder_exactly(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "ex"
    args = ["explain", "--model", str(tiny_model), "--data", str(tiny_data), "--out", str(out)]
    code, _text, err = run_cli(
        [*args, "--method", "vanilla,l2", "--steps", "3", "--restarts", "2", "--no-pictures"],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    code, text, err = run_cli(["evaluate", str(out)], monkeypatch, capsys)
    assert code == 0, err
    assert "vanilla" in text
    written = json.loads((out / "summary.json").read_text())
    scored = json.loads((out / "evaluation.json").read_text())["runs"]
    for label in ("vanilla", "l2"):
        for key in (
            "target_logit",
            "chamfer_both_ways",
            "recognised_rate",
            "moved_from_start",
            "fid",
            "m_is",
            "diversity",
        ):
            assert scored[label][key] == pytest.approx(written[label][key], rel=1e-5), key
    code, _text, err = run_cli(["evaluate", str(tmp_path / "nowhere")], monkeypatch, capsys)
    assert code == 1 and "no such folder" in err
