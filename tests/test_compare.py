"""flowam.compare: runs compared on one footing, their faithfulness gap, and the real
objects scored beside them."""

import json

import numpy as np
import pytest
from tests.conftest import trained_like

from flowam.compare import compare, natural_exemplars, real_examples
from flowam.data import PointCloudDataset
from flowam.explain import Explainer
from flowam.metrics.chamfer import reference_indices
from flowam.models import get_model
from flowam.outputs import write_clouds


def test_real_objects_row_lies_outside_the_gallery_and_the_paired_draw(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 23)
    real = PointCloudDataset(rng.normal(size=(46, 16, 3)).astype(np.float32), labels, ["a", "b"])
    explainer = Explainer(get_model("pointnet", 2).eval(), real)
    rows = real_examples(explainer, ["a", "b"], seed=3)
    assert rows.targets.tolist() == [0, 1]
    gallery = reference_indices(labels, [0, 1], 20, 3)
    paired = reference_indices(labels, [0, 1], 1, 3)
    for c, cloud in enumerate(rows.points):
        match = [i for i in range(46) if np.array_equal(real.points[i], cloud)]
        assert len(match) == 1 and labels[match[0]] == c
        assert match[0] not in {*gallery[c].tolist(), *paired[c].tolist()}
    write_clouds(rows, tmp_path / "real", [{} for _ in rows.points])  # kept like explanations
    assert json.loads((tmp_path / "real" / "b_0.json").read_text())["steps_run"] == 0
    small = PointCloudDataset(real.points[:40], labels[:40], ["a", "b"])  # 17 of class b
    assert real_examples(Explainer(explainer.model, small), ["a", "b"], seed=3) is None


def test_natural_exemplars_are_the_unseen_objects_the_model_rates_highest():
    from flowam.models.accuracy import predict

    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 24)
    real = PointCloudDataset(rng.normal(size=(48, 16, 3)).astype(np.float32), labels, ["a", "b"])
    explainer = Explainer(get_model("pointnet", 2).eval(), real)
    rows = natural_exemplars(explainer, ["b", "a"], seed=3)
    assert rows.targets.tolist() == [1, 0] and rows.status == "natural exemplars"
    logits = predict(explainer.model, real.points).numpy()
    gallery = reference_indices(labels, [0, 1], 20, 3)
    paired = reference_indices(labels, [0, 1], 1, 3)
    for cloud, c in zip(rows.points, (1, 0), strict=True):
        taken = {*gallery[c].tolist(), *paired[c].tolist()}
        pool = [i for i in np.flatnonzero(labels == c) if i not in taken]
        best = max(pool, key=lambda i: logits[i, c])
        assert np.array_equal(cloud, real.points[best])


def test_compare_reports_the_faithfulness_gap_against_independent_recognition(tmp_path):
    rng = np.random.default_rng(0)
    real = PointCloudDataset(
        rng.normal(size=(12, 64, 3)).astype(np.float32) * 0.3,
        np.repeat([0, 1, 2], 4),
        ["a", "b", "c"],
        description={"format": "test"},
    )
    explainer = Explainer(trained_like(), real)
    twin = explainer.damaged()
    runs = {"vanilla": ("vanilla", {"run.steps": 3, "param.start": "mean"})}
    outcomes = compare(
        explainer,
        runs,
        tmp_path,
        ["a", "c"],
        starts=["mean"],
        pictures=False,
        progress=False,
        randomized=twin,
        log=lambda _: None,
    )
    start = outcomes["start: mean"].summary()
    assert start["faithfulness_gap"] == 0.0  # a start does not depend on the model
    row = outcomes["vanilla"].summary()
    config = explainer.resolve("vanilla", **{"run.steps": 3}, **{"param.start": "mean"})
    again = twin.explain(["a", "c"], config, progress=False)
    expected = explainer.evaluator(0).references.recognise(again.points, again.targets).rate
    assert row["recognised_randomized"] == pytest.approx(expected)
    assert row["faithfulness_gap"] == pytest.approx(row["recognised_rate"] - expected)
    assert outcomes["vanilla"].flagged == (expected >= 0.25)
    # a "randomized" model that is the trained one draws the same clouds: no gap at all, and
    # the run is flagged exactly when it is recognised at all (independent of the code above)
    same = compare(
        explainer,
        runs,
        tmp_path / "same",
        ["a", "c"],
        pictures=False,
        progress=False,
        randomized=explainer,
        log=lambda _: None,
    )["vanilla"]
    assert same.summary()["faithfulness_gap"] == 0.0
    assert same.summary()["recognised_randomized"] == row["recognised_rate"]
    assert same.flagged == (row["recognised_rate"] >= 0.25)
