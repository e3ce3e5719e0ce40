"""Free-form deformations of the unit cube, and the cube's surface as a triangle mesh.

A free-form deformation (Sederberg & Parry, "Free-Form Deformation of Solid Geometric
Models", SIGGRAPH 1986) embeds a solid in a lattice of control points and moves the
lattice: a point ``q`` of the cube ``[-1, 1]³`` goes to

    D(q) = Σ_ijk B_i(x) B_j(y) B_k(z) P_ijk,    (x, y, z) = (q + 1) / 2,

with ``B`` the Bernstein polynomials of degree :data:`DEGREE` and ``P_ijk`` the control
points. With the control points on their regular lattice ``P_ijk = (2i/d - 1, 2j/d - 1,
2k/d - 1)`` the deformation is the identity (Bernstein polynomials reproduce linear
functions), so ``P = lattice + δ`` and ``D(q) = q + w(q) δ``, where ``w(q)`` are the
:data:`CONTROLS` weights of ``q`` (non-negative, summing to one) and ``δ`` the offsets an
optimiser moves. Degree 2 (27 control points) bends, tapers, bulges and rounds a box
(a box becomes a bowl, a cylinder, a curved leg) with no high-frequency dents. Being a
map of the whole solid, it also moves points inside the cube: a part hung on a deformed
parent stays hung on it (:mod:`flowam.param.parts`).
"""

from __future__ import annotations

from math import comb

import numpy as np
import torch
import trimesh
from torch import Tensor

DEGREE = 2
CONTROLS = (DEGREE + 1) ** 3
"""Control points of a deformation (27 at degree 2)."""
CUBE_SUBDIVISIONS = 2
"""Each square face of the cube is split into 2 triangles, then each triangle into 4 this
many times: 98 vertices and 192 triangles at 2, fine enough that the deformed surface is
smooth at the scale of the points drawn on it."""


def bernstein(t: Tensor) -> Tensor:
    """``(..., DEGREE + 1)`` the Bernstein polynomials of degree :data:`DEGREE` at ``t`` in
    ``[0, 1]``."""
    return torch.stack(
        [comb(DEGREE, i) * t**i * (1 - t) ** (DEGREE - i) for i in range(DEGREE + 1)], -1
    )


def weights(q: Tensor) -> Tensor:
    """``(..., CONTROLS)`` the control points' weights at points ``(..., 3)`` of the cube
    ``[-1, 1]³`` (clamped into it), in the order of ``(i, j, k)`` flattened."""
    t = (q.clamp(-1, 1) + 1) / 2
    bx, by, bz = (bernstein(t[..., a]) for a in range(3))
    return (bx[..., :, None, None] * by[..., None, :, None] * bz[..., None, None, :]).flatten(-3)


def deform(q: Tensor, offsets: Tensor) -> Tensor:
    """``(..., 3)`` the points ``q`` ``(..., 3)`` of the cube moved by control-point
    offsets ``(..., CONTROLS, 3)``: ``q + w(q) δ``."""
    return q + (weights(q)[..., None, :] @ offsets)[..., 0, :]


def cube_surface(subdivisions: int = CUBE_SUBDIVISIONS) -> tuple[Tensor, Tensor]:
    """Vertices ``(V, 3)`` on the surface of the cube ``[-1, 1]³`` and triangles ``(F, 3)``
    (outward winding), each triangle split into 4 ``subdivisions`` times."""
    box = trimesh.creation.box(extents=(2.0, 2.0, 2.0))
    verts, faces = np.asarray(box.vertices), np.asarray(box.faces)
    for _ in range(subdivisions):
        verts, faces = trimesh.remesh.subdivide(verts, faces)
    return torch.tensor(verts, dtype=torch.float32), torch.tensor(faces, dtype=torch.long)
