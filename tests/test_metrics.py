import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import torch

from flowam.data import PointCloudDataset
from flowam.errors import FlowamError
from flowam.metrics import (
    Evaluator,
    ReferenceSet,
    chamfer_distance,
    chamfer_to_real,
    diversity,
    earth_movers_distance,
    feature_layers,
    frechet_distance,
    inception_score,
    legal,
    pairwise_chamfer,
    score,
)
from flowam.models import get_model
from flowam.stats import record


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


def test_pairwise_chamfer_matches_pair_by_pair():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(3, 20, 3)), rng.normal(size=(5, 17, 3))
    d = pairwise_chamfer(x, y, chunk=2).numpy()
    assert d.shape == (3, 5)
    assert d[2, 4] == pytest.approx(naive_chamfer(x[2], y[4]) + naive_chamfer(y[4], x[2]), 1e-5)


def naive_frechet(a, b):
    """The textbook formula with scipy's general matrix square root."""
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    cross = scipy.linalg.sqrtm(ca @ cb).real
    return np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca + cb - 2 * cross)


def test_frechet_distance_matches_scipy_sqrtm_on_well_conditioned_data():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6))
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) * 0.5 + 1.0
    assert frechet_distance(a, b) == pytest.approx(naive_frechet(a, b), rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)


def test_frechet_distance_with_fewer_samples_than_dimensions():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 40)), rng.normal(size=(8, 40)) + 0.2
    got = frechet_distance(a, b)
    assert np.isfinite(got) and got > 0
    # one sample: its covariance is zero, so d² = |mean difference|² + tr(cov_b)
    one = frechet_distance(a[:1], b)
    expected = np.sum((a[0] - b.mean(0)) ** 2) + np.trace(np.cov(b, rowvar=False))
    assert one == pytest.approx(expected, rel=1e-9)
    # the n × n route agrees with the d × d eigendecomposition of Σa^½ Σb Σa^½
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(ca)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ cb @ root), 0, None)).sum()
    full = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca) + np.trace(cb) - 2 * cross
    assert got == pytest.approx(full, rel=1e-7)
    # shrinkage towards the mean variance leaves a well-conditioned estimate
    assert frechet_distance(a, b, shrinkage=0.5) != pytest.approx(got)
    with pytest.raises(ValueError, match="expected"):
        frechet_distance(a, b[:, :3])
    a[2, 5] = np.inf  # features of a cloud driven off to infinity: undefined, not a crash
    assert np.isnan(frechet_distance(a, b))


def test_exact_emd_matches_an_independent_assignment_and_sinkhorn_approaches_it():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(3, 64, 3)), rng.normal(size=(3, 64, 3)) + 0.3
    exact = earth_movers_distance(x, y).numpy()
    for b in range(3):
        cost = np.linalg.norm(x[b][:, None] - y[b][None], axis=-1)
        rows, cols = scipy.optimize.linear_sum_assignment(cost)
        assert exact[b] == pytest.approx(cost[rows, cols].mean(), rel=1e-6)  # float32 input
    approx = earth_movers_distance(x, y, method="sinkhorn").numpy()
    assert np.all(approx >= exact * 0.99) and np.all(approx <= exact * 1.05)
    coarse = earth_movers_distance(x, y, method="sinkhorn", epsilon=0.1).numpy()
    assert np.all(coarse > approx)  # more regularisation, further from the optimum
    assert earth_movers_distance(x, x).numpy() == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="same shape"):
        earth_movers_distance(x, y[:, :10])


def test_recognition_finds_the_nearest_real_object_by_symmetric_chamfer():
    rng = np.random.default_rng(4)
    real = PointCloudDataset(
        rng.normal(size=(12, 16, 3)).astype(np.float32), np.repeat([0, 1, 2], 4), list("abc")
    )
    gallery = ReferenceSet(real, k=2, seed=0)
    assert sorted(np.bincount(gallery.labels).tolist()) == [2, 2, 2]
    pts = rng.normal(size=(5, 16, 3)).astype(np.float32)
    targets = np.array([0, 1, 2, 0, 1])
    got = gallery.recognise(pts, targets)
    for i in range(5):  # brute force over the gallery
        d = [
            naive_chamfer(pts[i], ref) + naive_chamfer(ref, pts[i])
            for ref in gallery.points.numpy()
        ]
        assert got.taken_for[i] == gallery.labels[int(np.argmin(d))]
        assert got.distance[i] == pytest.approx(min(d), rel=1e-5)
    assert got.rate == pytest.approx(got.recognised.mean())
    assert got.confusion.sum() == 5 and got.confusion[targets[0]].sum() == 2
    # a gallery object itself is recognised as its class
    own = gallery.recognise(gallery.points[:3].numpy(), gallery.labels[:3])
    assert own.recognised.all()


def test_inception_score_and_diversity_against_direct_formulas():
    logits = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]))
    p = np.exp(logits)
    marginal = p.mean(0)
    expected = np.exp(np.mean([np.sum(q * np.log(q / marginal)) for q in p]))
    assert inception_score(logits) == pytest.approx(expected, rel=1e-9)
    assert inception_score(np.log(np.eye(3) + 1e-12)) == pytest.approx(3.0, rel=1e-6)
    rng = np.random.default_rng(5)
    pts = rng.normal(size=(4, 10, 3))
    d01 = naive_chamfer(pts[0], pts[1]) + naive_chamfer(pts[1], pts[0])
    assert diversity(pts, np.array([0, 0, 1, 2])) == pytest.approx(d01, rel=1e-5)
    assert np.isnan(diversity(pts, np.array([0, 1, 2, 3])))


def test_evaluator_fid_reads_the_global_feature_and_fc2():
    torch.manual_seed(0)
    model = get_model("pointnet", 2).eval()
    assert feature_layers(model) == {"global": "fc1:input", "fc2": "fc2"}
    rng = np.random.default_rng(6)
    real = PointCloudDataset(
        rng.normal(size=(8, 32, 3)).astype(np.float32), np.repeat([0, 1], 4), ["a", "b"]
    )
    pts = rng.normal(size=(4, 32, 3)).astype(np.float32)
    targets = np.array([0, 0, 1, 1])
    evaluator = Evaluator(model, real)
    got = evaluator.fid(pts, targets)
    # independently: the max-pooled global feature is fc1's input; record it and fc2
    acts = record(model, np.concatenate([pts, real.points]), ["fc1:input", "fc2"])
    mine, theirs = slice(0, 4), slice(4, None)
    assert got["fid"] == pytest.approx(
        frechet_distance(acts["fc1:input"][mine], acts["fc1:input"][theirs]), rel=1e-6
    )
    assert got["fid_fc2"] == pytest.approx(
        frechet_distance(acts["fc2"][mine], acts["fc2"][theirs]), rel=1e-6
    )
    per_class = [
        frechet_distance(
            acts["fc1:input"][:4][targets == c], acts["fc1:input"][4:][real.labels == c]
        )
        for c in (0, 1)
    ]
    assert got["fid_class"] == pytest.approx(np.mean(per_class), rel=1e-6)
    # m-IS with a second classifier instead of the explained one
    judge = get_model("pointnet", 2).eval()
    judged = Evaluator(model, real, inception_classifier=judge).score(pts, targets).sets["m_is"]
    with torch.no_grad():
        assert judged == pytest.approx(inception_score(judge(torch.from_numpy(pts))), rel=1e-6)


def test_evaluator_refuses_a_target_class_without_real_objects():
    """Data of fewer classes than the model's (a ModelNet40 model against ModelNet10):
    scoring an explanation of a class the data lack is one line naming it, not a crash
    in the Chamfer distance to zero objects."""
    torch.manual_seed(0)
    model = get_model("pointnet", 3).eval()
    rng = np.random.default_rng(7)
    real = PointCloudDataset(
        rng.normal(size=(6, 32, 3)).astype(np.float32), np.repeat([0, 2], 3), ["a", "b", "c"]
    )
    pts = rng.normal(size=(2, 32, 3)).astype(np.float32)
    evaluator = Evaluator(model, real, k_recognition=2)
    assert evaluator.score(pts, np.array([0, 2])).chamfer.shape == (2,)
    with pytest.raises(FlowamError, match=r"class 'b' has no real objects .*: a, c$"):
        evaluator.score(pts, np.array([0, 1]))


def test_chamfer_blocks_do_not_change_the_result():
    gen = torch.Generator().manual_seed(3)
    x, y = torch.rand(5, 300, 3, generator=gen), torch.rand(5, 200, 3, generator=gen)
    for one_way in (True, False):
        whole = chamfer_distance(x, y, one_way, block=(5, 300))
        for block in ((1, 64), (2, 128), (4, 7)):
            assert torch.allclose(chamfer_distance(x, y, one_way, block=block), whole, atol=1e-6)
    x.requires_grad_(True)
    chamfer_distance(x, y, False, squared=True, block=(2, 64)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_one_gap_with_its_two_variants():
    from flowam.metrics.faithfulness import FLAG_RATE, faithfulness_gap, flagged

    assert faithfulness_gap(0.8, 0.1) == pytest.approx(0.7)  # against the randomized model
    # the strict variant: against whichever damage leaves most recognised
    assert faithfulness_gap(0.8, {"randomized": 0.1, "dropout": 0.3}) == pytest.approx(0.5)
    assert faithfulness_gap(0.2, {"randomized": 0.5}) == pytest.approx(-0.3)
    assert flagged(FLAG_RATE) and not flagged(FLAG_RATE - 0.01) and not flagged(None)
