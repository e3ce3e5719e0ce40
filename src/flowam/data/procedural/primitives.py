"""Mesh primitives (boxes, rods, tubes, ...) the procedural shape families are built from.

World frame (ModelNet40's): ``+y`` is up, objects stand on the ``x``–``z`` plane, long
furniture runs along ``z`` and objects with a front face ``+x``. Every function returns a
``trimesh.Trimesh`` already placed in that frame; a shape is a list of parts whose
surfaces are sampled together by area.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import trimesh

Vec = Sequence[float] | np.ndarray

# trimesh builds solids of revolution around z; this turns its z into our y (x stays x).
_Z_TO_Y = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


def _placed(mesh: trimesh.Trimesh, center: Vec) -> trimesh.Trimesh:
    mesh.apply_translation(np.asarray(center, dtype=float))
    return mesh


def box(center: Vec, size: Vec) -> trimesh.Trimesh:
    """Axis-aligned box with the given centre and ``(x, y, z)`` size."""
    return _placed(trimesh.creation.box(extents=np.asarray(size, dtype=float)), center)


def box_between(lo: Vec, hi: Vec) -> trimesh.Trimesh:
    """Axis-aligned box spanning the corners ``lo`` and ``hi``."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    return box((lo + hi) / 2, np.abs(hi - lo))


def rod(p0: Vec, p1: Vec, radius: float, sections: int = 12) -> trimesh.Trimesh:
    """Closed cylinder from ``p0`` to ``p1`` (legs, poles, rails, tubes)."""
    segment = np.array([p0, p1], dtype=float)
    return trimesh.creation.cylinder(radius=radius, segment=segment, sections=sections)


def tube(path: Vec, radius: float, sections: int = 10) -> list[trimesh.Trimesh]:
    """A bent tube through the ``(K, 3)`` points of ``path``, as a chain of rods."""
    path = np.asarray(path, dtype=float)
    return [rod(a, b, radius, sections) for a, b in itertools.pairwise(path)]


def revolve(
    profile: Vec,
    center: Vec = (0.0, 0.0, 0.0),
    scale_xz: tuple[float, float] = (1.0, 1.0),
    sections: int = 32,
) -> trimesh.Trimesh:
    """Surface of revolution around the vertical axis through ``center``.

    Args:
        profile: ``(K, 2)`` points ``(radius, height)`` from bottom to top. A profile that
            starts and ends at radius 0 gives a closed solid; a vessel's profile runs up
            the outside, over the lip and down the inside.
        center: where the axis meets height 0.
        scale_xz: stretch of the circle along ``x`` and ``z`` (ovals, e.g. bathtubs).
        sections: facets around the axis.
    """
    mesh = trimesh.creation.revolve(np.asarray(profile, dtype=float), sections=sections)
    mesh.apply_transform(_Z_TO_Y)
    mesh.apply_scale([scale_xz[0], 1.0, scale_xz[1]])
    return _placed(mesh, center)


def frustum(center: Vec, r_bottom: float, r_top: float, height: float, closed: bool = True):
    """Truncated cone standing on ``center``; open (no caps) when ``closed`` is False."""
    profile = [(r_bottom, 0.0), (r_top, height)]
    if closed:
        profile = [(0.0, 0.0), *profile, (0.0, height)]
    return revolve(profile, center)


def disc(center: Vec, radius: float, thickness: float, sections: int = 32) -> trimesh.Trimesh:
    """Vertical-axis cylinder centred at ``center`` (round tops, seats, bases)."""
    c = np.asarray(center, dtype=float)
    return frustum(c - [0.0, thickness / 2, 0.0], radius, radius, thickness)


def ellipsoid(center: Vec, radii: Vec, subdivisions: int = 2) -> trimesh.Trimesh:
    """Ellipsoid with semi-axes ``radii`` along ``x``, ``y``, ``z``."""
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions)
    mesh.apply_scale(np.asarray(radii, dtype=float))
    return _placed(mesh, center)


def torus(center: Vec, major: float, minor: float, axis: str = "y") -> trimesh.Trimesh:
    """Ring around an axis through ``center`` (``y``: horizontal ring; ``x``/``z``: upright)."""
    mesh = trimesh.creation.torus(major, minor, major_sections=32, minor_sections=8)
    if axis == "y":
        mesh.apply_transform(_Z_TO_Y)
    elif axis == "x":
        mesh.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
    return _placed(mesh, center)


def plate(outline: Vec, thickness: float, origin: Vec, u: Vec, v: Vec) -> trimesh.Trimesh:
    """Flat prism over a convex 2-D outline (wings, fins, panels, headstocks).

    Args:
        outline: ``(K, 2)`` convex polygon, counter-clockwise, in the ``(u, v)`` plane.
        thickness: extent along ``u × v``, centred on the plane.
        origin: where ``(0, 0)`` of the outline lies.
        u, v: unit directions of the outline's axes.
    """
    outline = np.asarray(outline, dtype=float)
    u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
    n = np.cross(u, v) * thickness / 2
    flat = np.asarray(origin, dtype=float) + outline[:, :1] * u + outline[:, 1:] * v
    k = len(outline)
    vertices = np.concatenate([flat + n, flat - n])
    fan = [(0, i, i + 1) for i in range(1, k - 1)]
    faces = [f for f in fan] + [(k, k + i + 1, k + i) for _, i, _ in fan]
    for i in range(k):
        j = (i + 1) % k
        faces += [(i, k + i, j), (j, k + i, k + j)]
    return trimesh.Trimesh(vertices, np.array(faces), process=False)


def merge(parts: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    """One mesh holding every part (their surfaces keep overlapping where parts touch)."""
    return trimesh.util.concatenate(parts)


def hull(points: Vec) -> trimesh.Trimesh:
    """Convex hull of ``(K, 3)`` corner points (hoods, car cabins, tents, wedges)."""
    return trimesh.convex.convex_hull(np.asarray(points, dtype=float))


def sheet(path: Vec, y0: float, y1: float, thickness: float) -> list[trimesh.Trimesh]:
    """An upright sheet along the ``(K, 2)`` ``(x, z)`` path from height ``y0`` to ``y1``.

    Built from one thin box per segment (curtains, screens, folding walls).
    """
    path = np.asarray(path, dtype=float)
    out = []
    for (x0, z0), (x1, z1) in itertools.pairwise(path):
        length = float(np.hypot(x1 - x0, z1 - z0))
        slab = trimesh.creation.box(extents=(thickness, y1 - y0, length + thickness))
        angle = np.arctan2(x1 - x0, z1 - z0)  # the box's z axis turned onto the segment
        slab.apply_transform(trimesh.transformations.rotation_matrix(angle, [0, 1, 0]))
        slab.apply_translation(((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2))
        out.append(slab)
    return out


def turn_y(parts: list[trimesh.Trimesh], degrees: float) -> list[trimesh.Trimesh]:
    """Rotate every part about the vertical axis (right-handed: +90° takes ``-x`` to ``+z``)."""
    matrix = trimesh.transformations.rotation_matrix(np.radians(degrees), [0, 1, 0])
    for part in parts:
        part.apply_transform(matrix)
    return parts
