"""Shape families: one parametric template per class, named after ModelNet40 categories.

Each family draws random proportions and discrete variants from a generator and returns
mesh parts in the world frame of :mod:`parts` (``+y`` up, long side along ``z``, front
towards ``+x``). Classes that are alike in reality are built from the same pieces, so
that they differ in proportion and arrangement, not in trivial cues:

- table, stool, bench, bed (and the legs of chairs and sofas): :func:`slab`,
  :func:`legs`, :func:`pedestal`;
- cup, bowl, vase, bottle (and lamp bases, bathtubs): :func:`vessel` over a profile;
- sofa, chair: :func:`backrest`, :func:`armrests`.

Sizes are in metres before normalisation; only proportions survive it. The other
families live in :mod:`cabinets`, :mod:`household` and :mod:`objects`; :mod:`catalog`
names them all and turns each onto ModelNet40's facing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import trimesh
from scipy.interpolate import PchipInterpolator

from flowam.data.procedural import primitives as P

Parts = list[trimesh.Trimesh]
Family = Callable[["Draw"], Parts]


class Draw:
    """Random choices of one object: uniform ranges, weighted variants, coin flips."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def u(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def pick(self, options: dict[str, float]) -> str:
        names = list(options)
        p = np.array([options[n] for n in names], dtype=float)
        return names[int(self.rng.choice(len(names), p=p / p.sum()))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def integer(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]``."""
        return int(self.rng.integers(lo, hi + 1))


# --------------------------------------------------------------------------- shared pieces


def slab(d: Draw, y: float, size_x: float, size_z: float, thickness: float, shape: str) -> Parts:
    """A horizontal top or seat whose upper face is at height ``y``.

    ``shape``: ``rect``, ``round`` (disc of diameter ``size_z``) or ``oval``.
    """
    if shape == "rect":
        return [P.box((0, y - thickness / 2, 0), (size_x, thickness, size_z))]
    r = size_z / 2
    profile = [(0, 0), (r, 0), (r, thickness), (0, thickness)]
    scale = (size_x / size_z, 1.0) if shape == "oval" else (1.0, 1.0)
    return [P.revolve(profile, (0, y - thickness, 0), scale_xz=scale)]


def legs(
    d: Draw,
    corners: list[tuple[float, float]],
    y_top: float,
    thickness: float,
    round_: bool,
    splay: float = 0.0,
    y_bottom: float = 0.0,
) -> Parts:
    """Straight legs under ``(x, z)`` corners, their feet pushed outwards by ``splay``."""
    out = []
    for x, z in corners:
        norm = max(np.hypot(x, z), 1e-9)
        foot = (x + splay * x / norm, y_bottom, z + splay * z / norm)
        top = (x, y_top, z)
        if round_:
            out.append(P.rod(foot, top, thickness / 2))
        elif splay == 0.0:
            out.append(
                P.box_between(
                    (x - thickness / 2, y_bottom, z - thickness / 2),
                    (x + thickness / 2, y_top, z + thickness / 2),
                )
            )
        else:
            out.append(P.rod(foot, top, thickness / 2 * np.sqrt(2), sections=4))
    return out


def rect_corners(half_x: float, half_z: float) -> list[tuple[float, float]]:
    return [(sx * half_x, sz * half_z) for sx in (-1, 1) for sz in (-1, 1)]


def ring_corners(n: int, radius: float, phase: float = 0.0) -> list[tuple[float, float]]:
    t = phase + 2 * np.pi * np.arange(n) / n
    return [(radius * np.cos(a), radius * np.sin(a)) for a in t]


def pedestal(d: Draw, y_top: float, column_r: float, base_r: float, z: float = 0.0) -> Parts:
    """A central column on a round base or a star of feet."""
    out = [P.rod((0, 0.02, z), (0, y_top, z), column_r, sections=16)]
    if d.chance(0.6):
        out.append(P.revolve([(0, 0), (base_r, 0), (base_r * 0.85, 0.04), (0, 0.05)], (0, 0, z)))
    else:
        n = d.integer(3, 5)
        for x, zz in ring_corners(n, base_r, d.u(0, np.pi)):
            out.append(P.rod((0, 0.05, z), (x, 0.015, z + zz), 0.022, sections=6))
    return out


def vessel(outer: np.ndarray, wall: float, center=(0.0, 0.0, 0.0), open_top=True, scale=(1, 1)):
    """A solid of revolution with a wall: up the outside, over the lip, down the inside.

    Args:
        outer: ``(K, 2)`` outer profile ``(radius, height)`` from the bottom edge to the lip.
        wall: wall thickness (the inside is the outside moved inwards and up).
        open_top: False closes the top at the last height (bottles), with no inside.
    """
    outer = np.asarray(outer, dtype=float)
    if not open_top:
        return P.revolve([(0, outer[0, 1]), *outer, (0, outer[-1, 1])], center, scale)
    inner = outer[::-1].copy()
    inner[:, 0] = np.maximum(inner[:, 0] - wall, 1e-3)
    inner[:, 1] = np.maximum(inner[:, 1], outer[0, 1] + wall)
    profile = [(0, outer[0, 1]), *outer, *inner, (0, outer[0, 1] + wall)]
    return P.revolve(profile, center, scale)


def smooth_profile(heights: list[float], radii: list[float], n: int = 24) -> np.ndarray:
    """``(n, 2)`` profile through control points, smooth and without overshoot."""
    t = np.linspace(heights[0], heights[-1], n)
    return np.column_stack([PchipInterpolator(heights, radii)(t), t])


def handle(x: float, y: float, reach: float, half_span: float, radius: float, side: int = 1):
    """A loop handle on the side ``±x`` of a vessel, centred at height ``y`` on its wall."""
    t = np.linspace(-np.pi / 2, np.pi / 2, 9)
    path = np.column_stack([side * (x + reach * np.cos(t)), y + half_span * np.sin(t), 0 * t])
    return P.tube(path, radius)


def backrest(d: Draw, x: float, y0: float, y1: float, width: float, style: str, t: float):
    """The back of a seat at depth ``x``, from height ``y0`` to ``y1``, tilted backwards."""
    tilt = d.u(0.0, 0.12) * (y1 - y0)
    top = (x - tilt, y1)
    if style == "panel":
        pts = [(x - t / 2, y0), (x + t / 2, y0), (top[0] + t / 2, y1), (top[0] - t / 2, y1)]
        return [P.plate(pts, width, (0, 0, 0), (1, 0, 0), (0, 1, 0))]
    half = width / 2 - 0.02
    posts = [P.rod((x, y0, s * half), (top[0], y1, s * half), 0.018) for s in (-1, 1)]
    rail = [P.box((top[0], y1 - 0.04, 0), (t, 0.08, width))]
    if style == "slats":
        n = d.integer(3, 6)
        zs = np.linspace(-half, half, n + 2)[1:-1]
        mid = (x + top[0]) / 2
        slats = [P.box((mid, (y0 + y1) / 2, z), (t * 0.6, y1 - y0, 0.025)) for z in zs]
        return posts + rail + slats
    rails = [P.box((x - tilt * r, y0 + (y1 - y0) * r, 0), (t, 0.05, width)) for r in (0.35, 0.65)]
    return posts + rail + rails


def armrests(d: Draw, x0: float, x1: float, y: float, half_z: float, w: float, solid_to: float):
    """Arms on both sides (``±half_z``) at height ``y``; solid blocks down to ``solid_to``.

    ``solid_to`` below ``y`` gives upholstered arms (sofas); equal to ``y`` gives an
    armrest bar on front posts (chairs).
    """
    out = []
    for s in (-1, 1):
        z = s * (half_z - w / 2)
        if solid_to < y:
            out.append(P.box_between((x0, solid_to, z - w / 2), (x1, y, z + w / 2)))
            if d.chance(0.4):
                out.append(P.rod((x0, y, z), (x1, y, z), w / 2 * 1.1))
        else:
            out.append(P.box((x0 + (x1 - x0) / 2, y, z), (x1 - x0, 0.03, w)))
            out.append(P.rod((x1 - 0.03, y, z), (x1 - 0.03, solid_to - (y - solid_to), z), 0.015))
    return out


# --------------------------------------------------------------------------- furniture


def table(d: Draw) -> Parts:
    """A top on legs, a trestle, pedestals or one pedestal (genuine ModelNet10 tables:
    0.97 / 0.72 / 1.58 wide, high and long, median of 387): a thin top, legs at its
    corners or set in under it, often with an apron; one in five square or round, one in
    five a low coffee table (narrow ones too), one in ten a tall side table."""
    top = d.pick({"rect": 0.7, "round": 0.15, "oval": 0.15})
    length = d.u(1.2, 2.0) if top != "round" else d.u(0.5, 1.3)
    width = length * (d.u(0.5, 0.75) if top != "round" else 1.0)
    if top == "rect" and d.chance(0.2):  # square
        width = length * d.u(0.85, 1.0)
    height, t = d.u(0.68, 0.8), d.u(0.02, 0.05)
    kind = d.pick({"dining": 0.7, "coffee": 0.2, "side": 0.1})
    if kind == "coffee":  # low and long, some as narrow as a bench
        length, height = d.u(0.9, 1.6), d.u(0.3, 0.5)
        width = length * (d.u(0.3, 0.7) if top != "round" else 1.0)
    elif kind == "side":  # a small top as high as it is wide or higher
        length = d.u(0.45, 0.7)
        width = length * (d.u(0.8, 1.0) if top == "rect" else 1.0)
        height = length * d.u(0.95, 1.4)
    out = slab(d, height, width, length, t, top)
    base = {"rect": {"legs": 0.8, "trestle": 0.12, "pedestals": 0.08}}.get(
        top, {"legs": 0.6, "pedestal": 0.4}
    )
    if kind == "side":
        base = {"legs": 0.7, "pedestal": 0.3}
    support = d.pick(base)
    leg_t = d.u(0.05, 0.1)
    if support == "legs":
        inset = d.u(0.01, 0.04) if d.chance(0.5) else d.u(0.04, 0.14)  # corners, set in
        shrink = 0.5 - inset if top == "rect" else 0.33
        corners = rect_corners(width * shrink, length * shrink)
        splay = d.u(0.02, 0.08) if d.chance(0.3) else 0.0
        out += legs(d, corners, height - t, leg_t, d.chance(0.5), splay)
        if top == "rect" and d.chance(0.7):
            apron = 0.06 + 0.04 * d.rng.random()
            hx, hz = corners[-1]
            out += [
                P.box((0, height - t - apron / 2, s * hz), (2 * hx, apron, 0.02)) for s in (-1, 1)
            ]
            out += [
                P.box((s * hx, height - t - apron / 2, 0), (0.02, apron, 2 * hz)) for s in (-1, 1)
            ]
        if d.chance(0.2):  # a shelf low between the legs
            hx, hz = corners[-1]
            out.append(P.box((0, d.u(0.12, 0.25), 0), (2 * hx, 0.02, 2 * hz)))
    elif support == "trestle":
        hz = length / 2 - d.u(0.1, 0.25)
        for s in (-1, 1):
            out.append(P.box((0, (height - t) / 2, s * hz), (width * 0.7, height - t, leg_t)))
            out.append(P.box((0, 0.03, s * hz), (width * 0.85, 0.06, leg_t * 1.5)))
        out.append(P.box((0, d.u(0.15, 0.4), 0), (0.05, 0.08, 2 * hz)))
    elif support == "pedestal":
        out += pedestal(d, height - t, d.u(0.05, 0.1), width * d.u(0.25, 0.4))
    else:
        hz = length / 2 - d.u(0.2, 0.35)
        for s in (-1, 1):
            out += pedestal(d, height - t, d.u(0.04, 0.08), width * d.u(0.3, 0.4), s * hz)
    return out


def stool(d: Draw) -> Parts:
    height = d.u(0.5, 0.85)
    seat = d.pick({"round": 0.75, "square": 0.25})
    r = d.u(0.15, 0.22)
    t = d.u(0.03, 0.07)
    out = slab(d, height, 2 * r, 2 * r, t, "round" if seat == "round" else "rect")
    support = d.pick({"legs": 0.75, "pedestal": 0.25})
    if support == "legs":
        n = 3 if seat == "round" and d.chance(0.4) else 4
        if seat == "round":
            corners = ring_corners(n, r * 0.75, d.u(0, np.pi))
        else:
            corners = rect_corners(r * 0.7, r * 0.7)
        splay = r * d.u(0.1, 0.6)
        out += legs(d, corners, height - t, d.u(0.025, 0.045), d.chance(0.7), splay)
        rest_y = height * d.u(0.25, 0.4)
        frac = 1 - rest_y / (height - t)
        rest_r = r * 0.75 + splay * frac
        if d.chance(0.5):
            out.append(P.torus((0, rest_y, 0), rest_r, 0.012))
        else:
            ring = [np.array([x, 0, z]) / np.hypot(x, z) * rest_r for x, z in corners]
            for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
                out.append(P.rod(a + [0, rest_y, 0], b + [0, rest_y, 0], 0.012))
    else:
        out += pedestal(d, height - t, d.u(0.025, 0.04), r * d.u(0.9, 1.3))
        if d.chance(0.5):
            out.append(P.torus((0, height * 0.35, 0), r * 0.8, 0.012))
    return out


def bench(d: Draw) -> Parts:
    length, depth = d.u(1.0, 1.8), d.u(0.3, 0.5)
    height, t = d.u(0.4, 0.48), d.u(0.03, 0.07)
    if d.chance(0.6):
        out = slab(d, height, depth, length, t, "rect")
    else:
        n = d.integer(3, 5)
        xs = np.linspace(-depth / 2, depth / 2, 2 * n + 1)[1::2]
        out = [P.box((x, height - t / 2, 0), (depth / n * 0.8, t, length)) for x in xs]
    support = d.pick({"legs": 0.4, "panels": 0.35, "trestle": 0.25})
    hz = length / 2 - d.u(0.05, 0.2)
    if support == "legs":
        out += legs(
            d,
            rect_corners(depth / 2 - 0.04, hz),
            height - t,
            d.u(0.04, 0.07),
            d.chance(0.4),
            d.u(0.0, 0.05),
        )
    elif support == "panels":
        out += [
            P.box((0, (height - t) / 2, s * hz), (depth, height - t, d.u(0.03, 0.06)))
            for s in (-1, 1)
        ]
    else:
        for s in (-1, 1):
            spread = depth / 2 * d.u(0.8, 1.1)
            out += [P.rod((0, height - t, s * hz), (k * spread, 0, s * hz), 0.025) for k in (-1, 1)]
        out.append(P.rod((0, 0.15, -hz), (0, 0.15, hz), 0.02))
    if d.chance(0.35):
        out += backrest(
            d,
            -depth / 2,
            height,
            height + d.u(0.3, 0.45),
            length * 0.95,
            d.pick({"slats": 0.4, "frame": 0.4, "panel": 0.2}),
            0.03,
        )
        if d.chance(0.5):
            out += armrests(d, -depth / 2, depth / 2, height + 0.22, length / 2, 0.05, height)
    return out


def bed(d: Draw) -> Parts:
    # genuine beds: 1.23 / 0.58 / 1.36 wide, high and long: mostly double, low
    length = d.u(1.9, 2.2)
    width = d.u(0.9, 1.2) if d.chance(0.15) else d.u(1.5, 2.0)
    leg_h = d.u(0.05, 0.2) if d.chance(0.7) else 0.0
    frame_top = leg_h + d.u(0.1, 0.25)
    mattress = d.u(0.12, 0.25)
    out = [P.box_between((-width / 2, leg_h, -length / 2), (width / 2, frame_top, length / 2))]
    inset = d.u(0.0, 0.05)
    out.append(
        P.box_between(
            (-width / 2 + inset, frame_top, -length / 2 + 0.05),
            (width / 2 - inset, frame_top + mattress, length / 2 - inset),
        )
    )
    if leg_h > 0:
        out += legs(
            d, rect_corners(width / 2 - 0.05, length / 2 - 0.05), leg_h, 0.06, d.chance(0.4)
        )
    head_h = frame_top + mattress + d.u(0.25, 0.6)
    head_t = d.u(0.04, 0.1)
    out.append(
        P.box_between((-width / 2, 0, -length / 2 - head_t), (width / 2, head_h, -length / 2))
    )
    if d.chance(0.3):
        out.append(
            P.rod(
                (-width / 2, head_h, -length / 2 - head_t / 2),
                (width / 2, head_h, -length / 2 - head_t / 2),
                head_t * 0.8,
            )
        )
    if d.chance(0.5):
        foot_h = frame_top + d.u(0.1, 0.35)
        out.append(
            P.box_between((-width / 2, 0, length / 2), (width / 2, foot_h, length / 2 + head_t))
        )
    n_pillows = 1 if width < 1.25 else 2
    for x in np.linspace(-width / 4, width / 4, n_pillows) if n_pillows == 2 else [0.0]:
        out.append(
            P.ellipsoid(
                (x, frame_top + mattress + 0.05, -length / 2 + 0.3),
                (min(0.35, width / 2 / n_pillows * 0.9), 0.07, 0.18),
            )
        )
    if d.chance(0.4):
        z0 = -length / 2 + d.u(0.55, 0.8)
        out.append(
            P.box_between(
                (-width / 2 - 0.02, frame_top + mattress * 0.3, z0),
                (width / 2 + 0.02, frame_top + mattress + 0.03, length / 2),
            )
        )
    return out


def sofa(d: Draw) -> Parts:
    length, depth = d.u(1.5, 2.4), d.u(0.8, 1.0)
    seat_h, back_h = d.u(0.38, 0.46), d.u(0.75, 0.95)
    arm_h, arm_w = d.u(0.55, 0.68), d.u(0.1, 0.25)
    leg_h = d.u(0.05, 0.15) if d.chance(0.6) else 0.0
    cushion = d.u(0.1, 0.18)
    arms = d.pick({"box": 0.85, "none": 0.15})
    inner = length / 2 - (arm_w if arms == "box" else 0.0)
    back_t = d.u(0.15, 0.25)
    out = [P.box_between((-depth / 2, leg_h, -inner), (depth / 2, seat_h - cushion, inner))]
    n = d.integer(1, 3)
    zs = np.linspace(-inner, inner, n + 1)
    for z0, z1 in itertools.pairwise(zs):
        out.append(
            P.box_between(
                (-depth / 2 + back_t, seat_h - cushion, z0 + 0.01), (depth / 2, seat_h, z1 - 0.01)
            )
        )
    out.append(P.box_between((-depth / 2, leg_h, -inner), (-depth / 2 + back_t, back_h, inner)))
    if d.chance(0.5):
        for z0, z1 in itertools.pairwise(zs):
            out.append(
                P.box_between(
                    (-depth / 2 + back_t, seat_h, z0 + 0.02),
                    (-depth / 2 + back_t + 0.12, back_h - 0.05, z1 - 0.02),
                )
            )
    if arms == "box":
        out += armrests(d, -depth / 2, depth / 2, arm_h, length / 2, arm_w, leg_h)
    if d.chance(0.2):
        s = 1 if d.chance(0.5) else -1
        ext = d.u(0.5, 0.8)
        z0, z1 = sorted((s * inner, s * (inner - d.u(0.6, 0.8))))
        out.append(P.box_between((depth / 2, leg_h, z0), (depth / 2 + ext, seat_h, z1)))
    if leg_h > 0:
        out += legs(
            d, rect_corners(depth / 2 - 0.05, length / 2 - 0.05), leg_h, 0.05, d.chance(0.5)
        )
    return out


def chair(d: Draw) -> Parts:
    seat_h, width, depth = d.u(0.42, 0.5), d.u(0.4, 0.55), d.u(0.4, 0.55)
    t = d.u(0.03, 0.08)
    back_top = seat_h + d.u(0.35, 0.55)
    out = slab(d, seat_h, depth, width, t, "rect" if d.chance(0.9) else "round")
    base = d.pick({"legs": 0.6, "swivel": 0.2, "sled": 0.1, "pedestal": 0.1})
    leg_t = d.u(0.025, 0.05)
    hx, hz = depth / 2 - 0.03, width / 2 - 0.03
    style = d.pick({"panel": 0.45, "slats": 0.3, "frame": 0.25})
    if base == "legs":
        out += legs(d, rect_corners(hx, hz), seat_h - t, leg_t, d.chance(0.5), d.u(0, 0.04))
        if d.chance(0.4):
            out += [P.rod((-hx, 0.15, s * hz), (hx, 0.15, s * hz), 0.01) for s in (-1, 1)]
    elif base == "swivel":
        out += pedestal(d, seat_h - t, 0.025, d.u(0.25, 0.32))
        out.append(P.box((0, seat_h - t - 0.03, 0), (0.15, 0.05, 0.15)))
    elif base == "sled":
        for s in (-1, 1):
            z = s * hz
            path = [
                (hx, seat_h - t, z),
                (hx + 0.02, 0.01, z),
                (-hx - 0.02, 0.01, z),
                (-hx, seat_h - t, z),
            ]
            out += P.tube(path, 0.012)
    else:
        out += pedestal(d, seat_h - t, d.u(0.04, 0.07), d.u(0.2, 0.28))
    out += backrest(d, -depth / 2 + 0.02, seat_h, back_top, width, style, d.u(0.02, 0.06))
    if d.chance(0.3):
        out += armrests(
            d,
            -depth / 2,
            depth / 2 - 0.03,
            seat_h + d.u(0.18, 0.25),
            width / 2,
            0.05,
            seat_h + d.u(0.18, 0.25),
        )
    return out


# --------------------------------------------------------------------------- vessels


def bowl(d: Draw) -> Parts:
    radius, height = 1.0, d.u(0.3, 0.55)
    foot = d.u(0.0, 0.06)
    base = d.u(0.3, 0.55)
    k = d.u(1.0, 3.0)
    s = np.linspace(0, 1, 16)
    r = base + (radius - base) * (1 - (1 - s) ** k)
    outer = np.column_stack([r, foot + (height - foot) * s])
    if foot > 0:
        outer = np.vstack([[base * 0.9, 0.0], outer])
    if d.chance(0.3):
        outer = np.vstack([outer, [radius * 1.08, height * 1.03]])
    return [vessel(outer, d.u(0.03, 0.06))]


def cup(d: Draw) -> Parts:
    if d.chance(0.25):
        return goblet(d)
    height = 1.0
    r_top = height * d.u(0.33, 0.5)
    r_bot = r_top * d.u(0.65, 1.0)
    belly = d.u(-0.05, 0.1) * r_top
    outer = smooth_profile([0, 0.5, 1], [r_bot, (r_top + r_bot) / 2 + belly, r_top])
    out = [vessel(outer, d.u(0.03, 0.06))]
    if d.chance(0.75):
        x0 = (r_top + r_bot) / 2 + belly
        out += handle(x0, d.u(0.45, 0.6), d.u(0.18, 0.3), d.u(0.22, 0.32), d.u(0.025, 0.045))
    if d.chance(0.15):
        out.append(P.revolve([(0, -0.03), (r_top * 1.6, -0.02), (r_top * 1.7, 0.03), (0, 0.0)]))
    return out


def goblet(d: Draw) -> Parts:
    """A drinking glass on a stem (ModelNet40's cups include these)."""
    stem, r = d.u(0.25, 0.45), d.u(0.3, 0.45)
    depth = d.u(0.45, 0.7)
    s = np.linspace(0, 1, 12)
    outer = np.column_stack([r * np.sin(s * np.pi / 2) ** d.u(0.5, 1.0), stem + depth * s])
    outer[0, 0] = 0.03
    return [
        vessel(outer, 0.015),
        P.rod((0, 0.01, 0), (0, stem, 0), 0.02),
        P.disc((0, 0.01, 0), r * d.u(0.6, 0.9), 0.02),
    ]


def vase(d: Draw) -> Parts:
    # genuine vases are wider than bottles (0.94 / 1.65 / 0.81 against 0.52 / 1.64 / 0.52)
    style = d.pick({"amphora": 0.35, "column": 0.25, "trumpet": 0.2, "gourd": 0.2})
    w = d.u(0.24, 0.34)
    if style == "amphora":
        radii = [w * 0.55, w, w * d.u(0.8, 0.95), w * d.u(0.35, 0.5), w * d.u(0.5, 0.7)]
    elif style == "column":
        radii = [w * 0.8, w * 0.85, w * 0.85, w * d.u(0.7, 0.85), w * d.u(0.75, 0.95)]
    elif style == "trumpet":
        radii = [w * 0.6, w * 0.45, w * 0.45, w * 0.65, w * d.u(0.95, 1.1)]
    else:
        radii = [w * 0.6, w * 0.95, w * 0.55, w * 0.6, w * d.u(0.35, 0.5)]
    heights = [0.0, 0.25, 0.55, 0.82, 1.0] if style != "gourd" else [0.0, 0.25, 0.55, 0.78, 1.0]
    out = [vessel(smooth_profile(heights, radii), d.u(0.015, 0.03))]
    if d.chance(0.15):
        for s in (-1, 1):
            out += handle(radii[3], 0.72, 0.1, 0.1, 0.015, side=s)
    return out


def bottle(d: Draw) -> Parts:
    height = 1.0
    rb = height * d.u(0.13, 0.2)
    body = height * d.u(0.45, 0.7)
    shoulder = height * d.u(0.05, 0.15)
    rn = rb * d.u(0.25, 0.45)
    cap = height * d.u(0.03, 0.07)
    if d.chance(0.8):
        profile = [
            (rb * 0.95, 0.0),
            (rb, 0.02),
            (rb, body),
            (rb * 0.7, body + shoulder * 0.6),
            (rn, body + shoulder),
            (rn, height - cap),
            (rn * 1.2, height - cap),
            (rn * 1.2, height),
        ]
        return [vessel(np.array(profile), 0.0, open_top=False)]
    neck = [
        (rn, 0.0),
        (rn, height - body - cap),
        (rn * 1.2, height - body - cap),
        (rn * 1.2, height - body),
    ]
    return [
        P.box((0, body / 2, 0), (2 * rb, body, 2 * rb * d.u(0.6, 1.0))),
        vessel(np.array(neck), 0.0, center=(0, body, 0), open_top=False),
    ]


def cone(d: Draw) -> Parts:
    height = 1.0
    r = height * d.u(0.25, 0.5)
    style = d.pick({"plain": 0.5, "traffic": 0.3, "brim": 0.2})
    if style == "plain":
        return [P.frustum((0, 0, 0), r, r * d.u(0.0, 0.05), height)]
    if style == "traffic":
        base = r * d.u(1.15, 1.4)
        return [
            P.frustum((0, 0.03, 0), r, r * d.u(0.08, 0.2), height - 0.03),
            P.box((0, 0.015, 0), (2 * base, 0.03, 2 * base)),
        ]
    return [P.frustum((0, 0.02, 0), r, 0.0, height - 0.02), P.disc((0, 0.01, 0), r * 1.3, 0.02)]


def bathtub(d: Draw) -> Parts:
    """A built-in box with thick walls round a basin (three in four, as most genuine
    ModelNet10 bathtubs are), or a free-standing oval tub."""
    length, width, height = d.u(1.4, 1.8), d.u(0.7, 0.95), d.u(0.45, 0.62)
    wall = d.u(0.05, 0.12)
    if d.chance(0.75):
        out = [P.box_between((-width / 2, 0, -length / 2), (width / 2, wall, length / 2))]
        for s in (-1, 1):
            out.append(
                P.box_between(
                    (-width / 2, 0, s * length / 2 - wall / 2 * (1 + s)),
                    (width / 2, height, s * length / 2 + wall / 2 * (1 - s)),
                )
            )
            out.append(
                P.box_between(
                    (s * width / 2 - wall / 2 * (1 + s), 0, -length / 2),
                    (s * width / 2 + wall / 2 * (1 - s), height, length / 2),
                )
            )
        basin = smooth_profile([0, 0.5, 1], [0.55, 0.85, 1.0])
        basin[:, 1] = basin[:, 1] * (height - 2 * wall) + wall
        out.append(vessel(basin, 0.02, scale=(width / 2 - wall, length / 2 - wall)))
        return out
    foot = d.u(0.06, 0.15) if d.chance(0.6) else 0.0
    outer = smooth_profile([0, 0.5, 1], [0.6, d.u(0.85, 0.95), 1.0])
    outer[:, 1] = outer[:, 1] * (height - foot) + foot
    out = [vessel(outer, wall / 2, scale=(width / 2, length / 2))]
    if foot > 0:
        for x, z in rect_corners(width * 0.3, length * 0.35):
            out.append(P.ellipsoid((x, foot / 2 + 0.01, z), (0.05, foot / 2 + 0.01, 0.05), 1))
    if d.chance(0.3):
        out.append(
            P.rod((0, height, -length / 2 + 0.05), (0, height + 0.12, -length / 2 + 0.1), 0.015)
        )
    return out


# --------------------------------------------------------------------------- others


def airplane(d: Draw) -> Parts:
    length, r = d.u(1.6, 2.0), d.u(0.06, 0.11)
    nose = length / 2
    fus = [
        (0, 0),
        (r * 0.5, 0.04 * length),
        (r, 0.15 * length),
        (r, 0.68 * length),
        (r * 0.35, 0.97 * length),
        (0, length),
    ]
    body = P.revolve(fus)
    body.apply_transform(np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1.0]]))
    body.apply_translation((0, 0, nose))
    out = [body]
    wing = d.pick({"straight": 0.35, "swept": 0.5, "delta": 0.15})
    span = {"straight": d.u(1.4, 2.8), "swept": d.u(1.4, 2.2), "delta": d.u(1.1, 1.5)}[wing]
    root = d.u(0.18, 0.32) * length if wing != "delta" else d.u(0.4, 0.55) * length
    tip = root * (d.u(0.3, 0.7) if wing != "delta" else d.u(0.05, 0.15))
    sweep = {"straight": d.u(0.0, 0.08), "swept": d.u(0.2, 0.45), "delta": 0.0}[wing] * span / 2
    if wing == "delta":
        sweep = root - tip
    z_le = nose - length * d.u(0.3, 0.45)
    y_w = r * {"low": -0.5, "mid": 0.0, "high": 0.6}[d.pick({"low": 0.5, "mid": 0.3, "high": 0.2})]
    dihedral = d.u(0.0, 0.1)
    for s in (-1, 1):
        u = np.array([s, dihedral, 0.0]) / np.hypot(1, dihedral)
        outline = [(0, 0), (0, root), (span / 2, sweep + tip), (span / 2, sweep)]
        if s == 1:
            outline = outline[::-1]
        out.append(P.plate(outline, r * 0.25, (0, y_w, z_le), u, (0, 0, -1)))
    engines = d.pick({"0": 0.35, "2": 0.45, "4": 0.2}) if wing != "delta" else "0"
    positions = {"0": [], "2": [0.35], "4": [0.3, 0.6]}[engines]
    for frac in positions:
        for s in (-1, 1):
            x = s * frac * span / 2
            z = z_le - sweep * frac - root * 0.1
            out.append(
                P.rod(
                    (x, y_w - r * 0.6, z + 0.12),
                    (x, y_w - r * 0.6, z - 0.1),
                    r * d.u(0.35, 0.5),
                    sections=12,
                )
            )
    fin_h = d.u(0.25, 0.45)
    fin_root = d.u(0.12, 0.2) * length
    tail = -nose + 0.02 * length
    fin = [(0, 0), (fin_h, fin_h * 0.8), (fin_h, fin_h * 0.8 + fin_root * 0.5), (0, fin_root)]
    out.append(P.plate(fin, r * 0.2, (0, r * 0.3, tail), (0, 1, 0), (0, 0, 1)))
    t_tail = wing != "delta" and d.chance(0.2)
    h_span = span * d.u(0.28, 0.4)
    h_root = fin_root * d.u(0.7, 1.0)
    if wing != "delta" or d.chance(0.3):
        y_h = r * 0.3 + fin_h * 0.9 if t_tail else r * 0.2
        z_h = tail + fin_h * 0.8 if t_tail else tail
        for s in (-1, 1):
            outline = [
                (0, 0),
                (0, h_root),
                (h_span / 2, h_root * 0.4 + h_span * 0.25),
                (h_span / 2, h_span * 0.25),
            ]
            if s == -1:
                outline = outline[::-1]
            out.append(P.plate(outline, r * 0.15, (0, y_h, z_h + h_root), (s, 0, 0), (0, 0, -1)))
    return out


def guitar(d: Draw) -> Parts:
    kind = d.pick({"acoustic": 0.5, "electric": 0.35, "bass": 0.15})
    r1 = d.u(0.17, 0.22) if kind == "acoustic" else d.u(0.14, 0.18)
    r2 = r1 * d.u(0.7, 0.85)
    gap = (r1 + r2) * d.u(0.72, 0.85)
    depth = d.u(0.08, 0.12) if kind == "acoustic" else d.u(0.035, 0.05)
    offset = 0.0 if kind == "acoustic" else r1 * d.u(0.05, 0.2)
    out = [P.disc((0, 0, 0), r1, depth), P.disc((offset, 0, gap), r2, depth)]
    neck_len = d.u(0.42, 0.5) if kind != "bass" else d.u(0.55, 0.65)
    neck_w = d.u(0.045, 0.06)
    z0 = gap + r2 * 0.6
    z1 = gap + r2 + neck_len
    out.append(
        P.box_between((-neck_w / 2, depth / 2 - 0.01, z0), (neck_w / 2, depth / 2 + 0.025, z1))
    )
    head_l, head_w = d.u(0.1, 0.15), d.u(0.07, 0.1)
    head = [(-head_w / 2, 0), (head_w / 2, 0), (head_w * 0.6, head_l), (-head_w * 0.6, head_l)]
    out.append(P.plate(head, 0.02, (0, depth / 2 + 0.01, z1), (1, 0, 0), (0, -0.15, 1)))
    out.append(P.box((0, depth / 2 + 0.005, -r1 * 0.35), (r1 * 0.6, 0.012, 0.04)))
    if kind == "acoustic":
        out.append(P.torus((0, depth / 2, gap - r2 * 0.35), r2 * 0.35, 0.008))
    else:
        out += [
            P.box((0, depth / 2 + 0.005, z), (neck_w * 1.4, 0.01, 0.035))
            for z in (r1 * 0.1, r1 * 0.55)
        ]
    return out


def lamp(d: Draw) -> Parts:
    style = d.pick({"shade": 0.55, "desk": 0.2, "ceramic": 0.25})
    out: Parts = []
    if style == "desk":
        base_r = d.u(0.08, 0.12)
        out.append(P.disc((0, 0.015, 0), base_r, 0.03))
        # genuine lamps reach little sideways (0.54 / 1.65 / 0.55): a short arm, upright
        elbow = np.array([d.u(-0.06, 0.03), d.u(0.35, 0.5), 0.0])
        head = elbow + [d.u(0.06, 0.14), d.u(0.0, 0.15), 0.0]
        out += [P.rod((0, 0.03, 0), elbow, 0.012), P.rod(elbow, head, 0.012)]
        shade_r = d.u(0.06, 0.1)
        cone = P.frustum((0, 0, 0), shade_r, shade_r * 0.3, shade_r * 1.2, closed=False)
        cone.apply_transform(trimesh.transformations.rotation_matrix(np.pi, [0, 0, 1]))
        cone.apply_translation(head + [0, shade_r * 0.2, 0])
        out.append(cone)
        return out
    height = d.u(0.5, 0.8) if style == "ceramic" else d.u(0.9, 1.7)
    shade_r = height * d.u(0.14, 0.22) if style == "ceramic" else d.u(0.11, 0.26)
    shade_h = shade_r * d.u(0.8, 1.3)
    top_r = shade_r * d.u(0.5, 0.85)
    if style == "ceramic":
        w = d.u(0.1, 0.16)
        body = smooth_profile([0, 0.3, 0.7, 1.0], [w * 0.6, w, w * 0.8, w * 0.3])
        body[:, 1] *= height * 0.55
        out.append(vessel(body, 0.0, open_top=False))
        pole_from = height * 0.55
    else:
        base_r = d.u(0.1, 0.18)
        out.append(P.revolve([(0, 0), (base_r, 0), (base_r * 0.9, 0.03), (0, 0.05)]))
        pole_from = 0.04
    out.append(P.rod((0, pole_from, 0), (0, height - shade_h * 0.3, 0), 0.015))
    out.append(P.frustum((0, height - shade_h, 0), shade_r, top_r, shade_h, closed=False))
    return out


def monitor(d: Draw) -> Parts:
    """A flat screen on a neck and foot (genuine ModelNet10 monitors: 0.58 / 1.27 / 1.52
    deep, high and wide, median of 463), one in five a CRT box."""
    width = d.u(0.5, 0.7)
    aspect = d.u(0.5, 0.75)
    screen_h = width * aspect
    depth = d.u(0.02, 0.06)
    crt = d.chance(0.2)
    lift = d.u(0.03, 0.06) if crt else d.u(0.06, 0.18)
    y0 = lift
    out = [P.box((0, y0 + screen_h / 2, 0), (depth, screen_h, width))]
    if d.chance(0.5):
        b = d.u(0.015, 0.03)
        f = depth / 2 + 0.006
        out += [
            P.box((f, y0 + b / 2, 0), (0.012, b, width)),
            P.box((f, y0 + screen_h - b / 2, 0), (0.012, b, width)),
            P.box((f, y0 + screen_h / 2, -width / 2 + b / 2), (0.012, screen_h, b)),
            P.box((f, y0 + screen_h / 2, width / 2 - b / 2), (0.012, screen_h, b)),
        ]
    if crt:
        back = width * d.u(0.6, 0.9)
        out.append(
            P.box(
                (-depth / 2 - back / 2, y0 + screen_h * 0.48, 0),
                (back, screen_h * 0.8, width * 0.8),
            )
        )
        out.append(P.box((-back / 2, y0 / 2, 0), (back * 0.8, y0, width * 0.5)))
        return out
    if d.chance(0.5):
        out.append(
            P.box((-depth / 2 - 0.02, y0 + screen_h * 0.5, 0), (0.04, screen_h * 0.5, width * 0.5))
        )
    neck_x = -depth / 2 - 0.02
    out.append(
        P.box_between((neck_x - 0.02, 0.01, -0.03), (neck_x + 0.02, y0 + screen_h * 0.4, 0.03))
    )
    if d.chance(0.6):
        out.append(P.box((neck_x + 0.02, 0.01, 0), (d.u(0.15, 0.25), 0.02, d.u(0.2, 0.35))))
    else:
        out.append(P.disc((neck_x + 0.02, 0.01, 0), d.u(0.1, 0.15), 0.02))
    return out
