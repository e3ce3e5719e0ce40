"""Transformation robustness, the smoothed parameterization, model-only statistics and
the ``faithful`` preset."""

import json
import math

import numpy as np
import pytest
import torch
from tests.conftest import SMALL_CLASSES as CLASSES

from flowam.compare import real_examples
from flowam.data import PointCloudDataset
from flowam.engine import optimize
from flowam.errors import FlowamError
from flowam.explain import Explainer
from flowam.faithfulness import fully_randomized
from flowam.methods import load_method
from flowam.metrics.chamfer import chamfer_distance, reference_indices
from flowam.models import get_model
from flowam.objectives import ClassLogit
from flowam.outputs import write_clouds
from flowam.param import Smooth
from flowam.robustness import Robustness
from flowam.stats import fibonacci_sphere


def cloud(b=2, n=64, seed=0):
    return torch.rand(b, n, 3, generator=torch.Generator().manual_seed(seed)) - 0.5


# --- transformation robustness -----------------------------------------------------------


def test_each_cloud_comes_first_then_its_copies_drawn_from_its_own_seed():
    aug = Robustness(copies=3)
    x = cloud(2)
    out = aug(x, step=5, seeds=[11, 12])
    assert out.shape == (8, 64, 3)
    assert torch.equal(out[0], x[0]) and torch.equal(out[4], x[1])
    assert not torch.allclose(out[1], x[0])
    alone = aug(x[1:], step=5, seeds=[12])  # a cloud's copies ignore its batch companions
    assert torch.allclose(alone, out[4:])
    assert torch.allclose(aug(x, 5, [11, 12]), out)  # the same seed and step: the same copies
    assert not torch.allclose(aug(x, 6, [11, 12]), out)


def test_rotation_is_about_the_up_axis_and_within_its_range():
    aug = Robustness(copies=16, yaw=20.0, scale=0.0, shift=0.0, jitter=0.0)
    x = cloud(1)
    copies = aug(x, 0, [3])[1:]
    assert torch.allclose(copies[..., 1], x[0, :, 1].expand(16, -1))  # y untouched
    radius = x[0][:, [0, 2]].norm(dim=-1)
    assert torch.allclose(copies[..., [0, 2]].norm(dim=-1), radius.expand(16, -1), atol=1e-5)
    # the angle of the first point in the x-z plane turned by at most 20 degrees
    before = torch.atan2(x[0, 0, 2], x[0, 0, 0])
    after = torch.atan2(copies[:, 0, 2], copies[:, 0, 0])
    turned = torch.remainder(after - before + math.pi, 2 * math.pi) - math.pi
    assert turned.abs().max() <= math.radians(20) + 1e-5
    assert turned.abs().max() > math.radians(5)  # sixteen draws do turn


def test_dropout_replaces_points_by_the_first_and_gradients_flow():
    aug = Robustness(copies=2, yaw=0, scale=0, shift=0, jitter=0, dropout=0.5)
    x = cloud(1).requires_grad_(True)
    out = aug(x, 0, [1])
    replaced = (out[1:] == x[0, 0]).all(-1)
    assert 0.3 < replaced.float().mean() < 0.7
    out.sum().backward()
    assert x.grad is not None and (x.grad[0, 1:] > 0).all()  # row 0 is the cloud itself


def test_bad_ranges_are_refused_in_one_line():
    for bad in (dict(copies=0), dict(scale=1.2), dict(dropout=1.0), dict(yaw=-1)):
        with pytest.raises(FlowamError, match="robust_"):
            Robustness(**bad)
    with pytest.raises(FlowamError, match="robust_copies"):
        load_method("vanilla").replace(robust_copies=-1)


def test_the_engine_records_the_clouds_own_logit_and_averages_the_copies(small_model):
    start = cloud(3)
    run = {"steps": 3, "lr": 0.01, "optimizer": "adam"}
    aug = Robustness(copies=2)
    result = optimize(
        small_model, ClassLogit(), start, [0, 1, 2], CLASSES, run, augment=aug, progress=False
    )
    targets = torch.tensor([[0], [1], [2]])
    with torch.no_grad():
        final = small_model(torch.from_numpy(result.points)).gather(1, targets)[:, 0]
        first = small_model(start).gather(1, targets)[:, 0]
    assert np.allclose(result.history["logit"][-1], final.numpy(), atol=1e-4)
    assert np.allclose(result.history["logit"][0], first.numpy(), atol=1e-4)
    # the objective is the mean over the cloud and its copies, not the cloud alone
    assert not np.allclose(result.history["objective"][0], result.history["logit"][0])


# --- smoothed parameterization -----------------------------------------------------------


def test_smoothing_operators_are_inverse_and_zero_weight_is_the_identity():
    start = cloud(2)
    chart = Smooth(5.0, k=6).chart(start)
    forward, inverse = chart.forward, chart.inverse
    eye = torch.eye(64).expand(2, -1, -1)
    assert torch.allclose(forward @ inverse, eye, atol=1e-4)
    assert torch.allclose(forward, forward.transpose(1, 2))  # symmetric graph Laplacian
    assert torch.allclose(forward.sum(-1), torch.ones(2, 64))  # rows of L sum to zero
    still = Smooth(0.0).chart(start)
    assert torch.equal(still.forward, eye) and torch.allclose(still.inverse, eye)
    assert torch.allclose(chart.cloud(), start, atol=1e-5)  # u stands for the start


def test_smoothing_inverts_batches_of_full_size_clouds_with_several_threads():
    # the batched LU behind torch.linalg.inv failed here in MKL with 2 threads (8 x 512)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        start = torch.from_numpy(fibonacci_sphere(512))[None].repeat(8, 1, 1)
        chart = Smooth(3.0).chart(start)
    finally:
        torch.set_num_threads(threads)
    assert torch.allclose(
        chart.forward @ chart.inverse, torch.eye(512).expand(8, -1, -1), atol=1e-4
    )


def test_a_push_on_one_point_moves_its_neighbourhood_with_smoothing():
    start = torch.from_numpy(fibonacci_sphere(64))[None]
    inverse = Smooth(10.0, k=6).chart(start).inverse
    push = torch.zeros(1, 64, 3)
    push[0, 0] = 1.0
    moved = (inverse @ push).norm(dim=-1)[0]  # the cloud's change for a unit change of u_0
    near = torch.cdist(start[0, :1], start[0])[0].argsort()[1:7]
    assert moved[0] < 1.0 and (moved[near] > 0.01).all()
    assert moved[near].min() > moved[torch.cdist(start[0, :1], start[0])[0].argsort()[-6:]].max()


def test_projection_stays_exact_through_the_smoothed_parameterization(small_model):
    start = cloud(2) * 1.9  # partly outside [-1, 1]
    from flowam.transforms import LegalProjection

    result = optimize(
        small_model,
        ClassLogit(),
        start,
        [0, 1],
        CLASSES,
        {"steps": 5, "lr": 0.05, "optimizer": "adam"},
        transforms=[LegalProjection(1.0)],
        param=Smooth(3.0),
        progress=False,
    )
    assert np.abs(result.points).max() <= 1.0
    assert not np.allclose(result.points, np.clip(start.numpy(), -1, 1))


def test_smoothed_batched_run_equals_per_cloud_runs(small_model):
    start = cloud(3)
    run = {"steps": 6, "lr": 0.02, "optimizer": "adam"}
    kw = dict(augment=Robustness(2), param=Smooth(3.0), seed=4, progress=False)
    together = optimize(
        small_model, ClassLogit(), start, [0, 1, 2], CLASSES, run, chunk_size=3, **kw
    )
    for i in range(3):
        alone = optimize(small_model, ClassLogit(), start[i : i + 1], [i], CLASSES, run, **kw)
        assert np.allclose(alone.points[0], together.points[i], atol=1e-4)


# --- the preset --------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["parts", "parts-bent", "parts-boxes", "mesh", "membrane"])
def test_faithful_presets_are_deterministic_and_depend_on_the_model(
    small_model, small_real, preset
):
    config = load_method(preset)
    assert config.robust_copies > 0 and (config.assembly or config.smooth > 0)
    assert config.start == (config.drawn or "sphere")
    explainer = Explainer(small_model, small_real)
    first = explainer.explain(None, preset, steps=15, progress=False)
    again = Explainer(small_model, small_real).explain(None, preset, steps=15, progress=False)
    assert np.array_equal(first.points, again.points)
    assert np.array_equal(first.start[0], first.start[1])  # one shared start for every class
    assert (first.history["logit"][-1] > first.history["logit"][0]).all()
    assert np.abs(first.points).max() <= config.bound
    randomized = Explainer(
        fully_randomized(small_model, torch.from_numpy(small_real.points[:2])), small_real
    )
    other = randomized.explain(None, preset, steps=15, progress=False)
    # parts' and meshes' points are drawn anew at every step: compare the clouds as sets
    apart = chamfer_distance(other.points, first.points, single_directional=False)
    moved = chamfer_distance(first.points, first.start, single_directional=False)
    assert apart.mean() > 0.05 * moved.mean()


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
