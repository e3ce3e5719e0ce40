import numpy as np
import pytest
import torch

from flowam.data import PointCloudDataset
from flowam.metrics import chamfer_distance, chamfer_to_real, legal, score
from flowam.models import get_model


def naive_chamfer(a, b):
    return np.mean([min(np.linalg.norm(p - q) for q in b) for p in a])


def test_chamfer_matches_the_naive_eq7():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 30, 3)), rng.normal(size=(2, 20, 3))
    got = chamfer_distance(x, y)
    assert got[1].item() == pytest.approx(naive_chamfer(x[1], y[1]), rel=1e-5)
    both = chamfer_distance(x, y, single_directional=False)
    expected = naive_chamfer(x[0], y[0]) + naive_chamfer(y[0], x[0])
    assert both[0].item() == pytest.approx(expected, rel=1e-5)
    sq = chamfer_distance(x, y, squared=True)
    assert sq[0].item() == pytest.approx(
        np.mean([min(np.sum((p - q) ** 2) for q in y[0]) for p in x[0]]), rel=1e-5
    )
    assert chamfer_distance(x, x)[0].item() == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(ValueError, match="expected"):
        chamfer_distance(x[0], y)


def test_chamfer_to_real_uses_the_same_objects_for_every_method():
    rng = np.random.default_rng(1)
    real = PointCloudDataset(
        rng.normal(size=(10, 16, 3)).astype(np.float32), np.repeat([0, 1], 5), ["a", "b"]
    )
    pts = rng.normal(size=(3, 16, 3)).astype(np.float32)
    a = chamfer_to_real(pts, np.array([0, 1, 0]), real, k=3, seed=2)
    b = chamfer_to_real(pts, np.array([0, 1, 0]), real, k=3, seed=2)
    assert np.array_equal(a, b) and a.shape == (3,)
    exact = chamfer_to_real(real.points[:1], np.array([0]), real, k=5)
    assert exact[0] < chamfer_to_real(pts[:1], np.array([0]), real, k=5)[0]


def test_legality_and_scores():
    pts = np.zeros((2, 8, 3), dtype=np.float32)
    pts[1, 3, 2] = 1.2
    assert legal(pts).tolist() == [True, False]
    assert legal(pts, bound=1.5).tolist() == [True, True]
    torch.manual_seed(0)
    model = get_model("pointnet", 2).eval()
    real = PointCloudDataset(
        np.random.default_rng(0).normal(size=(4, 8, 3)).astype(np.float32),
        np.array([0, 0, 1, 1]),
        ["a", "b"],
    )
    s = score(model, pts, np.array([0, 1]), real)
    assert s.success.tolist() == (s.predicted == [0, 1]).tolist()
    assert s.legal.tolist() == [True, False]
    assert (s.log_prob <= 0).all()
    summary = s.summary()
    assert summary["legal_rate"] == 0.5 and set(summary) >= {"target_logit", "chamfer_to_real"}
    assert (s.chamfer_both > s.chamfer).all()  # the way back adds a positive term
    assert s.row(1, ["a", "b"])["legal"] is False
