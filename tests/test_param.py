"""flowam.param: the parameterizations of a cloud (here the smoothed one; parts and
meshes have test_assembly.py and test_mesh.py)."""

import numpy as np
import torch
from tests.conftest import SMALL_CLASSES as CLASSES

from flowam.engine import optimize
from flowam.objectives import ClassLogit
from flowam.param import Smooth
from flowam.robustness import Robustness
from flowam.stats import fibonacci_sphere


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
