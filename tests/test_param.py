"""flowam.param: the parameterizations of a cloud (here the smoothed one; parts and
meshes have test_parts.py and test_mesh.py; the points' starts)."""

import numpy as np
import pytest
import torch
from tests.conftest import SMALL_CLASSES as CLASSES

from flowam.engine import Run, optimize
from flowam.errors import FlowamError
from flowam.objectives import ClassLogit
from flowam.param import Smooth, start_clouds
from flowam.param.points import barycenter, fibonacci_sphere, medoid
from flowam.robustness import Robustness
from test_stats import dataset


def cloud(b=2, n=64, seed=0):
    return torch.rand(b, n, 3, generator=torch.Generator().manual_seed(seed)) - 0.5


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
        Run(steps=5, lr=0.05, optimizer="adam"),
        transforms=[LegalProjection(1.0)],
        param=Smooth(3.0),
        progress=False,
    )
    assert np.abs(result.points).max() <= 1.0
    assert not np.allclose(result.points, np.clip(start.numpy(), -1, 1))


def test_smoothed_batched_run_equals_per_cloud_runs(small_model):
    start = cloud(3)
    run = Run(steps=6, lr=0.02, optimizer="adam")
    kw = dict(augment=Robustness(2), param=Smooth(3.0), seed=4, progress=False)
    together = optimize(
        small_model, ClassLogit(), start, [0, 1, 2], CLASSES, run, chunk_size=3, **kw
    )
    for i in range(3):
        alone = optimize(small_model, ClassLogit(), start[i : i + 1], [i], CLASSES, run, **kw)
        assert np.allclose(alone.points[0], together.points[i], atol=1e-4)


def test_barycenter_finds_correspondence_where_index_averaging_collapses():
    rng = np.random.default_rng(0)
    shape = rng.uniform(-1, 1, size=(64, 3))
    clouds = np.stack([shape[rng.permutation(64)] + rng.normal(0, 0.01, (64, 3)) for _ in range(6)])
    mean = barycenter(clouds)
    by_index = clouds.mean(0)

    def cd(a, b):
        d = np.linalg.norm(a[:, None] - b[None], axis=-1)
        return d.min(1).mean() + d.min(0).mean()

    assert cd(mean, shape) < 0.05
    assert cd(by_index, shape) > 0.4  # the naive average is a blob at the centroid


def test_medoid_sphere_and_gaussian_inits(fresh_cache):
    data = dataset()
    clouds = data.points[:3].copy()
    clouds[1] = clouds[0] + 0.001
    clouds[2] = clouds[0] * 3
    assert medoid(clouds) in (0, 1)
    sphere = fibonacci_sphere(200)
    assert np.allclose(np.linalg.norm(sphere, axis=1), 0.5, atol=1e-6)
    g1 = start_clouds("gaussian", 32, data, [0, 1, 0], seeds=[4, 5, 4])
    g2 = start_clouds("gaussian", 32, data, [0, 1, 0], seeds=[4, 5, 4])
    assert np.array_equal(g1, g2) and np.array_equal(g1[0], g1[2]) and not np.allclose(g1[0], g1[1])
    mean = start_clouds("mean", 32, data, [1])
    assert mean.shape == (1, 32, 3)
    med = start_clouds("medoid", 32, data, [0])
    assert any(np.array_equal(med[0], p) for p in data.points[:3])


def test_blobs_init_is_eight_separate_small_spheres_shared_by_every_class():
    data = dataset()
    clouds = start_clouds("blobs", 203, data, [0, 1])
    assert clouds.shape == (2, 203, 3) and np.array_equal(clouds[0], clouds[1])
    centres = np.sign(clouds[0]) * 0.3  # every point on the sphere round its corner
    assert np.allclose(np.linalg.norm(clouds[0] - centres, axis=1), 0.15, atol=1e-5)
    corners, counts = np.unique(np.sign(clouds[0]), axis=0, return_counts=True)
    assert len(corners) == 8 and set(counts) == {25, 26}  # 203 = 3 × 26 + 5 × 25


def test_bad_init_requests():
    data = dataset()
    with pytest.raises(FlowamError, match="unknown start 'cube'"):
        start_clouds("cube", 32, data, [0])
    with pytest.raises(FlowamError, match="the data have 32 points per cloud, not 64"):
        start_clouds("mean", 64, data, [0])
