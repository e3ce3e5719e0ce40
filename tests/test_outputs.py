"""flowam.outputs: the folder layout written for each run (read back by flowam.readback),
the tables every command prints or writes, and the turn that faces a picture."""

import csv
import math

import numpy as np
import pytest
import torch

from flowam.engine import Explanations
from flowam.outputs import (
    cell,
    facing,
    folder_name,
    markdown_table,
    pipe_table,
    summary_rows,
    write_clouds,
    write_csv,
)
from flowam.readback import read_arrays, read_cloud, read_json


def test_a_run_folder_reads_back_as_written(tmp_path):
    rng = np.random.default_rng(0)
    points, start = rng.normal(size=(2, 2, 8, 3)).astype(np.float32)
    result = Explanations(
        points=points,
        targets=np.array([1, 0]),
        restarts=np.array([0, 3]),
        classes=["chair", "lamp"],
        start=start,
        history={"logit": rng.normal(size=(4, 2))},
        weights={"logit": 1.0},
        snapshots={0: start, 2: points},
        steps_run=np.array([3, 2]),
        config={"name": "vanilla"},
        status="stopped at step 3",
    )
    write_clouds(result, tmp_path / "run", [{"target_logit": 1.5}, {}])
    run = tmp_path / "run"
    assert np.array_equal(read_cloud(run / "lamp_0.npy"), points[0])
    assert np.array_equal(read_cloud(run / "chair_3.npy"), points[1])
    record = read_json(run / "lamp_0.json")
    assert record["class"] == "lamp" and record["restart"] == 0 and record["steps_run"] == 3
    assert record["scores"] == {"target_logit": 1.5} and record["status"] == "stopped at step 3"
    assert record["config"] == {"name": "vanilla"}
    assert np.array_equal(read_arrays(run / "starts.npz")["chair_3"], start[1])
    snapshots = read_arrays(run / "snapshots.npz")
    assert sorted(snapshots) == ["chair_3@0", "chair_3@2", "lamp_0@0", "lamp_0@2"]
    assert np.array_equal(snapshots["lamp_0@2"], points[0])
    assert read_arrays(run / "history.npz")["logit"].shape == (4, 2)
    assert (run / "lamp_0.ply").read_bytes().startswith(b"ply")


def test_tables_put_each_judge_after_the_1nn_column_and_dashes_where_no_number():
    summaries = {
        "vanilla": {"target_logit": 3.14159, "recognised_rate": 0.5, "recognised_by_dgcnn": 0.25},
        "start: mean": {"target_logit": float("nan"), "recognised_rate": True},
    }
    heads, rows = summary_rows(summaries)
    at = heads.index("1-NN ↑")
    assert heads[0] == "method" and heads[at + 1] == "by dgcnn ↑"
    assert rows[0][:2] == ["vanilla", "3.14"] and rows[0][at] == "50%" and rows[0][at + 1] == "25%"
    assert rows[1][1] == "–" and rows[1][at] == "–"  # NaN, and a bool is no number
    lines = markdown_table(summaries).splitlines()
    assert lines[0] == "| " + " | ".join(heads) + " |" and len(lines) == 4
    assert lines[1] == "|---|" + "---:|" * (len(heads) - 1)
    assert pipe_table(["a", "b"], [["1", "2"]], first=":---") == [
        "| a | b |",
        "|:---|---:|",
        "| 1 | 2 |",
    ]
    assert cell({"x": "text"}, "x", "{:.2f}") == "–" and cell({}, "x", "{}") == "–"


def test_csv_rows_and_folder_names(tmp_path):
    rows = [{"label": "flow, auto", "value": 0.5}, {"label": "parts", "value": math.inf}]
    write_csv(tmp_path / "t.csv", rows)
    with open(tmp_path / "t.csv", newline="") as f:
        back = list(csv.DictReader(f))
    assert back == [{"label": "flow, auto", "value": "0.5"}, {"label": "parts", "value": "inf"}]
    write_csv(tmp_path / "none.csv", [])
    assert (tmp_path / "none.csv").read_text() == ""
    assert folder_name("flow-beta0.05 / from: mean") == "flow-beta0.05___from__mean"


@pytest.mark.parametrize("degrees", [90.0, -45.0, 180.0])
def test_facing_turns_about_the_up_axis_only(degrees):
    points = torch.randn(2, 16, 3, generator=torch.Generator().manual_seed(0)).numpy()
    turned = facing(points, np.array([degrees, 0.0]))
    assert np.allclose(turned[1], points[1])  # zero degrees: as it was
    assert np.allclose(turned[0, :, 1], points[0, :, 1])  # the up axis stays
    assert np.allclose(np.linalg.norm(turned[0], axis=1), np.linalg.norm(points[0], axis=1))
    angle = np.deg2rad(degrees)  # x' = x cos a + z sin a (flowam.ops.yaw_matrix)
    expected = points[0, :, 0] * np.cos(angle) + points[0, :, 2] * np.sin(angle)
    assert np.allclose(turned[0, :, 0], expected, atol=1e-5)
    assert facing(points, None) is points
