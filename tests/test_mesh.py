"""Meshes (flowam.param.mesh): the icosphere, area sampling against naive versions, the
smoothed chart, the ``mesh`` method option through the engine, and the ``mesh`` preset."""

import math

import numpy as np
import pytest
import torch
from tests.conftest import SMALL_CLASSES as CLASSES

from flowam.engine import Run, optimize
from flowam.errors import FlowamError
from flowam.methods import MethodConfig, load_method, parameterization
from flowam.objectives import ClassLogit
from flowam.param import start_clouds
from flowam.param.mesh import (
    START_RADIUS,
    Mesh,
    edge_adjacency,
    icosphere,
    sample_triangles,
    start_cloud,
    triangle_areas,
)
from flowam.param.smooth import smoothing
from flowam.robustness import Robustness


def generators(b, seed=0):
    return [torch.Generator().manual_seed(seed + i) for i in range(b)]


def test_the_icosphere_is_a_closed_sphere_with_outward_triangles():
    for sub, (v_count, f_count) in {0: (12, 20), 3: (642, 1280)}.items():
        verts, faces = icosphere(sub)
        assert verts.shape == (v_count, 3) and faces.shape == (f_count, 3)
        assert torch.allclose(verts.norm(dim=1), torch.ones(v_count), atol=1e-5)
        edges = int(edge_adjacency(faces, v_count).sum().item()) // 2
        assert v_count - edges + f_count == 2  # Euler: a closed surface of genus 0
        a, b, c = (verts[faces[:, k]] for k in range(3))
        normal = torch.linalg.cross(b - a, c - a)
        assert ((normal * (a + b + c)).sum(1) > 0).all()
    with pytest.raises(FlowamError, match="param.subdivisions=7"):
        icosphere(7)


def test_points_lie_on_the_triangles_shared_out_by_area_and_uniform_on_each():
    # two triangles far apart, the second four times the area of the first
    verts = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 0, 0], [7, 0, 0], [5, 0, 4]]])
    faces = torch.tensor([[0, 1, 2], [3, 4, 5]])
    assert torch.allclose(triangle_areas(verts, faces), torch.tensor([[0.5, 4.0]]))
    n = 9000
    pts = sample_triangles(verts, faces, n, generators(1))[0]
    first = pts[:, 0] < 2
    assert abs(int(first.sum()) - n * 0.5 / 4.5) <= 1
    small, big = pts[first], pts[~first]
    assert (small[:, 2].abs() < 1e-6).all() and (small[:, :2] >= -1e-6).all()
    assert (small[:, 0] + small[:, 1] <= 1 + 1e-5).all()  # inside the first triangle
    assert (big[:, 1].abs() < 1e-6).all()
    # uniform on a triangle: the mean is the centroid, and a quarter of the points lie in
    # the corner triangle cut off at half the height
    assert torch.allclose(small.mean(0), torch.tensor([1 / 3, 1 / 3, 0]), atol=0.02)
    assert torch.allclose(big.mean(0), verts[0, 3:].mean(0), atol=0.05)
    corner = (small[:, 0] + small[:, 1] < 0.5).float().mean()
    assert abs(float(corner) - 0.25) < 0.03


def test_sampling_moves_with_the_mesh_and_carries_gradients_to_every_vertex():
    verts, faces = icosphere(2)
    shift = torch.tensor([0.3, -0.2, 0.1])
    a = sample_triangles(verts[None], faces, 700, generators(1, seed=4))
    b = sample_triangles(verts[None] + shift, faces, 700, generators(1, seed=4))
    assert torch.allclose(b, a + shift, atol=1e-6)  # the same draw, translated
    moved = verts[None].clone().requires_grad_(True)
    sample_triangles(moved, faces, 4000, generators(1)).pow(2).sum().backward()
    assert (moved.grad.abs().sum(-1) > 0).all()


def test_the_smoothing_inverts_and_spreads_a_vertex_over_its_neighbours():
    verts, faces = icosphere(1)
    adjacency = edge_adjacency(faces, len(verts))
    forward, inverse = smoothing(adjacency, 3.0)
    assert torch.allclose(forward @ inverse, torch.eye(len(verts)), atol=1e-4)
    column = inverse[:, 0]  # a push on vertex 0 moves it most, then its neighbours
    neighbours, others = adjacency[0] > 0, adjacency[0] == 0
    others[0] = False
    assert column[0] > column[neighbours].max() > column[others].max()
    assert torch.allclose(column.sum(), torch.tensor(1.0), atol=1e-4)  # rows of L sum to 0


def test_a_mesh_chart_starts_from_the_icosphere_and_draws_in_the_unit_sphere():
    mesh = Mesh(subdivisions=2, smooth=3.0)
    chart = mesh.chart(torch.zeros(2, 256, 3), seeds=[0, 1])
    unit, _ = icosphere(2)
    assert torch.allclose(chart.vertices(), START_RADIUS * unit.expand(2, -1, -1), atol=1e-5)
    cloud = chart.cloud()
    assert cloud.shape == (2, 256, 3)
    assert torch.allclose(cloud.norm(dim=-1).amax(1), torch.ones(2))
    assert not torch.equal(cloud, chart.cloud())  # drawn anew at every call
    with pytest.raises(FlowamError, match="cannot act on a mesh"):
        chart.set(cloud)
    start = start_clouds("mesh", 300, None, [0, 2])
    assert start.shape == (2, 300, 3) and np.array_equal(start[0], start_cloud(300))
    assert np.allclose(np.linalg.norm(start[0], axis=1), 1.0, atol=0.03)  # a sphere


def test_mesh_options_fail_in_one_line():
    mesh = {"kind": "mesh"}
    with pytest.raises(FlowamError, match=r"starts from its icosphere \(start 'mesh'\)"):
        MethodConfig().replace(param={**mesh, "start": "sphere"})
    with pytest.raises(FlowamError, match="transforms.project cannot act on a mesh"):
        MethodConfig().replace(param=mesh, transforms={"project": True})
    with pytest.raises(FlowamError, match="of kind mesh has no option 'generator'"):
        MethodConfig().replace(param={**mesh, "generator": "bundled:ae"})
    with pytest.raises(FlowamError, match="param.subdivisions=9"):
        MethodConfig().replace(param={**mesh, "subdivisions": 9})
    config = MethodConfig().replace(param={**mesh, "smoothing": 5.0, "start": "mesh"})
    assert config.fixed_start and config.start == "mesh" and config.param.smoothing == 5.0


def test_a_mesh_run_raises_the_logit_with_legal_points(small_model):
    config = MethodConfig().replace(
        param={"kind": "mesh", "subdivisions": 1}, objective={"bound": 0.8}
    )
    param = parameterization(config)
    start = torch.from_numpy(start_clouds("mesh", 48, None, [0, 1, 2]))
    run = Run(steps=30, lr=0.05)
    kw = dict(augment=Robustness(1), param=param, seed=3, progress=False)
    result = optimize(small_model, ClassLogit(), start, [0, 1, 2], CLASSES, run, **kw)
    logit = result.history["logit"]
    assert (logit[-1] > logit[0]).all() and math.isfinite(float(logit[-1].mean()))
    assert np.abs(result.points).max() <= 0.8
    # a batched run equals runs of single clouds (each cloud draws from its own seed)
    run = Run(steps=6, lr=0.05)
    together = optimize(small_model, ClassLogit(), start, [0, 1, 2], CLASSES, run, **kw)
    alone = optimize(small_model, ClassLogit(), start[2:], [2], CLASSES, run, **kw)
    assert np.allclose(alone.points[0], together.points[2], atol=1e-4)


def test_the_faithful_mesh_preset_is_a_smoothed_mesh():
    config = load_method("mesh")
    assert config.param.kind == "mesh" and config.start == "mesh" and config.param.smoothing > 0
    assert config.robustness.copies
    param = parameterization(config)
    assert isinstance(param, Mesh) and len(param.start) == 642
