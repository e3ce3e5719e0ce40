"""Free-form deformations of the unit cube (flowam.param.deform) against the Bernstein formula
written out, and the cube's surface mesh."""

import itertools
import math

import torch

from flowam.param.deform import CONTROLS, DEGREE, cube_surface, deform, weights
from flowam.param.mesh import edge_adjacency


def test_weights_are_the_bernstein_products_written_out():
    q = torch.rand(20, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1
    t = (q + 1) / 2
    w = weights(q)
    assert w.shape == (20, CONTROLS) and (w >= 0).all()
    assert torch.allclose(w.sum(1), torch.ones(20))
    for n, (i, j, k) in enumerate(itertools.product(range(DEGREE + 1), repeat=3)):
        b = [
            math.comb(DEGREE, e) * t[:, a] ** e * (1 - t[:, a]) ** (DEGREE - e)
            for a, e in enumerate((i, j, k))
        ]
        assert torch.allclose(w[:, n], b[0] * b[1] * b[2], atol=1e-6)


def test_the_lattice_is_the_identity_and_a_moved_corner_moves_only_its_region():
    q = torch.rand(50, 3, generator=torch.Generator().manual_seed(1)) * 2 - 1
    assert torch.allclose(deform(q, torch.zeros(CONTROLS, 3)), q)
    corner = torch.zeros(CONTROLS, 3)
    corner[-1] = torch.tensor([0.0, 0.5, 0.0])  # control point (+1, +1, +1) lifted
    moved = deform(q, corner)
    lift = moved[:, 1] - q[:, 1]
    assert (lift >= 0).all() and torch.allclose(moved[:, [0, 2]], q[:, [0, 2]])
    assert torch.allclose(deform(torch.ones(1, 3), corner), torch.tensor([[1.0, 1.5, 1.0]]))
    assert torch.allclose(deform(-torch.ones(1, 3), corner), -torch.ones(1, 3))  # far corner


def test_the_cube_surface_is_closed_and_on_the_cube():
    verts, faces = cube_surface()
    assert verts.shape == (98, 3) and faces.shape == (192, 3)
    assert torch.allclose(verts.abs().amax(1), torch.ones(98))
    edges = int(edge_adjacency(faces, len(verts)).sum().item()) // 2
    assert len(verts) - edges + len(faces) == 2
    a, b, c = (verts[faces[:, k]] for k in range(3))
    assert ((torch.linalg.cross(b - a, c - a) * (a + b + c)).sum(1) > 0).all()
