"""1-NNA, coverage, MMD and cross-architecture recognition against direct formulas."""

import dataclasses

import numpy as np
import pytest
import torch

from flowam.data import PointCloudDataset
from flowam.errors import FlowamError
from flowam.metrics import Evaluator, compare_sets, set_scores
from flowam.metrics.chamfer import reference_indices
from flowam.models import get_model, load_classifier, load_judges
from flowam.outputs import markdown_table


def naive_symmetric(a, b):
    d = np.linalg.norm(a[:, None] - b[None], axis=-1)
    return d.min(1).mean() + d.min(0).mean()


def naive_scores(x, y):
    """1-NNA (ties to the real side), COV and MMD straight from their definitions."""
    pool = [*x, *y]
    is_real = np.r_[np.zeros(len(x), bool), np.ones(len(y), bool)]
    d = np.array([[naive_symmetric(p, q) for q in pool] for p in pool])
    right = 0
    for i in range(len(pool)):
        others = [j for j in range(len(pool)) if j != i]
        best = min(d[i, j] for j in others)
        nearest_real = any(is_real[j] and d[i, j] == best for j in others)
        right += nearest_real == is_real[i]
    between = d[: len(x), len(x) :]
    cov = len(set(between.argmin(1))) / len(y)
    return right / len(pool), cov, between.min(0).mean()


def test_set_metrics_match_the_direct_formulas():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 12, 3)), rng.normal(size=(7, 10, 3))
    x[:2] += 0.5  # some explanations away from the real ones
    got = compare_sets(x, y)
    nna, cov, mmd = naive_scores(x, y)
    assert got.one_nna == pytest.approx(nna)
    assert got.coverage == pytest.approx(cov)
    assert got.mmd == pytest.approx(mmd, rel=1e-5)


def test_set_metrics_tell_apart_far_collapsed_and_copied_sets():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(6, 16, 3)).astype(np.float32)
    far = compare_sets(real * 0.05 + 5.0, real)  # shrunk and moved away
    assert far.one_nna == 1.0  # always told apart
    copies = compare_sets(real, real)  # each copy's nearest is its twin, on the other side
    assert copies.one_nna == 0.0 and copies.coverage == 1.0
    assert copies.mmd == pytest.approx(0.0, abs=1e-3)
    collapsed = compare_sets(np.repeat(real[:1], 6, axis=0), real)
    assert collapsed.coverage == pytest.approx(1 / 6)  # one shape covers one real object
    assert collapsed.mmd > copies.mmd


def test_set_scores_per_class_with_restarts_and_pooled_with_one_each():
    rng = np.random.default_rng(2)
    pts = rng.normal(size=(12, 16, 3)).astype(np.float32)
    labels = np.repeat([0, 1, 2], 4)
    real = PointCloudDataset(pts, labels, ["a", "b", "c"])
    expl = rng.normal(size=(6, 16, 3)).astype(np.float32)
    targets = np.array([0, 0, 0, 1, 1, 2])  # class 2 has one restart: left out
    got = set_scores(expl, targets, real, seed=3)
    per_class = [
        compare_sets(expl[targets == c], pts[reference_indices(labels, [c], n, 3)[c]])
        for c, n in ((0, 3), (1, 2))
    ]
    assert got.one_nna == pytest.approx(np.mean([s.one_nna for s in per_class]))
    assert got.mmd == pytest.approx(np.mean([s.mmd for s in per_class]))
    one_each = set_scores(expl[:3], np.array([0, 1, 2]), real, seed=3)
    chosen = reference_indices(labels, [0, 1, 2], 1, 3)
    pooled = compare_sets(expl[:3], pts[np.concatenate([chosen[c] for c in (0, 1, 2)])])
    assert one_each == pooled


def test_cross_recognition_is_each_judges_success_and_shows_in_tables():
    torch.manual_seed(0)
    model, other = get_model("pointnet", 3).eval(), get_model("pointnet", 3).eval()
    rng = np.random.default_rng(4)
    real = PointCloudDataset(
        rng.normal(size=(9, 32, 3)).astype(np.float32), np.repeat([0, 1, 2], 3), ["a", "b", "c"]
    )
    pts = rng.normal(size=(6, 32, 3)).astype(np.float32)
    targets = np.array([0, 0, 1, 1, 2, 2])
    s = Evaluator(model, real, judges={"self": model, "other": other}).score(pts, targets)
    assert s.sets["recognised_by_self"] == pytest.approx(s.success.mean())
    with torch.no_grad():
        expected = (other(torch.from_numpy(pts)).argmax(1).numpy() == targets).mean()
    assert s.sets["recognised_by_other"] == pytest.approx(expected)
    assert {"one_nna", "coverage", "mmd"} <= set(s.sets)
    table = markdown_table({"run": s.summary()})
    assert "by other ↑" in table and "1-NNA ↓" in table and "COV ↑" in table


def test_bundled_judges_are_the_other_bundled_models():
    _, info = load_classifier("bundled")
    judges = load_judges("bundled", info)
    assert set(judges) == {"dgcnn", "pointnet2_ssg"}
    assert load_judges("none", info) == {}
    _, dgcnn = load_classifier("bundled:dgcnn")
    assert set(load_judges("bundled", dgcnn)) == {"pointnet", "pointnet2_ssg"}
    other = dataclasses.replace(info, classes=[f"c{i}" for i in info.classes])
    assert load_judges("bundled", other) == {}  # other classes: no bundled judge
    with pytest.raises(FlowamError, match="judge bundled:dgcnn: its classes"):
        load_judges("bundled:dgcnn", other)
