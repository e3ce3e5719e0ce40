"""Things that are not furniture: laptop, keyboard, car, tent, person, plant.

Frame of :mod:`parts`: ``+y`` up, the front towards ``+x``, the long side along ``z``.
"""

from __future__ import annotations

import itertools

import numpy as np

from flowam.data.procedural import primitives as P
from flowam.data.procedural.families import Draw, Parts, smooth_profile, vessel


def key_grid(x0: float, x1: float, y: float, z0: float, z1: float, rows: int, cols: int, h: float):
    """Square keys in a ``rows`` by ``cols`` grid on the plane at height ``y``."""
    xs, zs = np.linspace(x0, x1, rows + 1), np.linspace(z0, z1, cols + 1)
    pitch = min(xs[1] - xs[0], zs[1] - zs[0])
    return [
        P.box(((xa + xb) / 2, y + h / 2, (za + zb) / 2), (pitch * 0.8, h, (zb - za) * 0.8))
        for xa, xb in itertools.pairwise(xs)
        for za, zb in itertools.pairwise(zs)
    ]


def laptop(d: Draw) -> Parts:
    """An open laptop: a thin base with keys, the screen lid hinged at the back (``-x``)."""
    width, depth = d.u(0.3, 0.4), d.u(0.21, 0.27)
    t = d.u(0.012, 0.025)
    out = [P.box((0, t / 2, 0), (depth, t, width))]
    out += key_grid(-depth / 2 + 0.02, depth * 0.05, t, -width * 0.42, width * 0.42, 5, 14, 0.003)
    out.append(P.box((depth * 0.3, t + 0.001, 0), (depth * 0.2, 0.002, width * 0.3)))
    angle = np.radians(d.u(95, 135))
    lid_t = d.u(0.006, 0.012)
    up = np.array([np.cos(angle), np.sin(angle), 0.0])  # past upright, leaning back to -x
    hinge = np.array([-depth / 2, t, 0.0])
    outline = [(-width / 2, 0.0), (width / 2, 0.0), (width / 2, depth), (-width / 2, depth)]
    out.append(P.plate(outline, lid_t, hinge, (0, 0, 1), up))
    return out


def keyboard(d: Draw) -> Parts:
    """A computer keyboard: a low slab under rows of keys, with or without a number pad."""
    width, depth = d.u(0.38, 0.48), d.u(0.12, 0.18)
    t = d.u(0.008, 0.018)  # genuine keyboards: 0.08 high against 1.77 long
    out = [P.box((0, t / 2, 0), (depth, t, width))]
    pad = d.chance(0.5)
    main_z1 = width * (0.25 if pad else 0.46)
    rows = d.integer(5, 6)
    out += key_grid(-depth * 0.42, depth * 0.42, t, -width * 0.46, main_z1, rows, 15, 0.008)
    if pad:
        out += key_grid(-depth * 0.42, depth * 0.42, t, width * 0.3, width * 0.46, rows, 4, 0.008)
    if d.chance(0.4):  # a wrist rest
        out.append(P.box((depth / 2 + 0.03, t * 0.4, 0), (0.06, t * 0.8, width)))
    return out


def car(d: Draw) -> Parts:
    """A car running along ``z``: a body, a cabin over it and four wheels."""
    length, width = d.u(3.8, 5.0), d.u(1.6, 1.9)
    style = d.pick({"sedan": 0.45, "hatch": 0.25, "suv": 0.2, "pickup": 0.1})
    wheel_r = d.u(0.3, 0.38) * (1.15 if style == "suv" else 1.0)
    clearance = wheel_r * d.u(0.4, 0.6)
    body_h = d.u(0.6, 0.8)
    hl, hw = length / 2, width / 2
    y0, y1 = clearance, clearance + body_h
    nose = d.u(0.1, 0.3)
    body = [
        (sx * hw, y, z)
        for sx in (-1, 1)
        for y, z in (
            (y0, -hl),
            (y1, -hl + 0.1),
            (y0, hl),
            (y1 - nose * 0.5, hl - 0.05),
            (y1, hl - nose),
        )
    ]
    out = [P.hull(body)]
    cabin_h = d.u(0.5, 0.7) * (1.2 if style == "suv" else 1.0)
    front = {"sedan": 0.35, "hatch": 0.35, "suv": 0.4, "pickup": 0.3}[style] * length
    rear = {"sedan": -0.3, "hatch": -0.45, "suv": -0.46, "pickup": -0.05}[style] * length
    slope = d.u(0.3, 0.6)
    roof = [(front - slope * 1.5, rear + slope * (0.2 if style != "sedan" else 0.8))]
    cabin = [
        (sx * hw * f, y, z)
        for sx in (-1, 1)
        for y, z, f in (
            (y1, front, 0.95),
            (y1, rear, 0.95),
            (y1 + cabin_h, roof[0][0], 0.85),
            (y1 + cabin_h, roof[0][1], 0.85),
        )
    ]
    out.append(P.hull(cabin))
    if style == "pickup":
        out.append(P.box_between((-hw, y1, -hl + 0.05), (hw, y1 + 0.25, rear - 0.05)))
    axle = hl - d.u(0.6, 0.9)
    for sz in (-1, 1):
        for sx in (-1, 1):
            x = sx * (hw - 0.12)
            out.append(
                P.rod((x - 0.11, wheel_r, sz * axle), (x + 0.11, wheel_r, sz * axle), wheel_r, 16)
            )
    return out


def tent(d: Draw) -> Parts:
    """A camping tent: an A-frame ridge along ``z``, a dome, or a pyramid, low and longer
    than wide (genuine: 1.75 / 0.59 / 1.23 long, high and wide)."""
    style = d.pick({"ridge": 0.45, "dome": 0.35, "pyramid": 0.2})
    length = d.u(1.8, 3.0)
    width, height = length * d.u(0.55, 0.85), length * d.u(0.25, 0.4)
    hw, hl = width / 2, length / 2
    t = 0.02
    if style == "ridge":
        out: Parts = []
        for s in (-1, 1):
            outline = [(-hl, 0.0), (hl, 0.0), (hl, 1.0), (-hl, 1.0)]
            rise = np.array([-s * hw, height, 0.0])
            out.append(
                P.plate(
                    np.array(outline) * [1, np.linalg.norm(rise)],
                    t,
                    (s * hw, 0, 0),
                    (0, 0, 1),
                    rise / np.linalg.norm(rise),
                )
            )
        gable = [(-hw, 0.0), (hw, 0.0), (0.0, height)]
        closed = d.chance(0.6)
        for s in (-1, 1):
            if closed or s < 0:
                out.append(P.plate(gable, t, (0, 0, s * hl), (1, 0, 0), (0, 1, 0)))
        return out
    if style == "dome":
        k = d.u(0.8, 1.0)
        profile = smooth_profile([0, 0.5, 1.0], [1.0, k * 0.85, 0.0])
        profile[:, 1] *= height
        out = [vessel(profile, 0.02, scale=(hw, hl))]
        arches = []
        for a in (np.pi / 4, 3 * np.pi / 4):
            s = np.linspace(-np.pi / 2, np.pi / 2, 11)
            path = np.column_stack(
                [
                    np.sin(s) * hw * np.cos(a) * 1.01,
                    np.cos(s) * height,
                    np.sin(s) * hl * np.sin(a) * 1.01,
                ]
            )
            arches += P.tube(path, 0.015)
        return out + arches
    # a low four-sided pyramid on a rectangle, with a door flap open on the front
    apex = (0.0, min(height, 0.8 * min(width, length)), 0.0)
    base = [(sx * hw, 0.0, sz * hl) for sx in (-1, 1) for sz in (-1, 1)]
    flap = [(0.0, 0.0), (hl * 0.5, 0.0), (0.0, apex[1] * 0.7)]
    return [
        P.hull([*base, apex]),
        P.rod((0, 0, 0), (0, apex[1] * 1.05, 0), 0.02),
        P.plate(flap, t, (hw + 0.05, 0, 0), (0, 0, 1), (0, 1, 0)),
    ]


def person(d: Draw) -> Parts:
    """A standing figure facing ``+x``: head, torso, arms and legs in a random pose.

    Genuine people stand nearly upright (depth 0.40 of height 1.81 in both objects
    measured): short strides, arms mostly down.
    """
    height = d.u(1.55, 1.9)
    head = height * 0.065
    shoulder = height * 0.82
    hip = height * d.u(0.49, 0.53)
    half_w = height * d.u(0.11, 0.14)
    out = [P.ellipsoid((0, height - head, 0), (head * 0.9, head, head * 0.85))]
    out.append(P.rod((0, shoulder, 0), (0, height - 2 * head, 0), head * 0.4))
    torso = P.ellipsoid(
        (0, (hip + shoulder) / 2, 0), (height * 0.065, (shoulder - hip) / 2 * 1.05, half_w * 0.9)
    )
    out.append(torso)
    if d.chance(0.4):  # a skirt or coat
        out.append(
            P.frustum(
                (0, hip - height * 0.25, 0),
                half_w * 1.1,
                half_w * 0.75,
                height * 0.27,
                closed=False,
            )
        )
    stride = d.u(0.0, 0.12)
    for s in (-1, 1):
        hip_p = np.array([0.0, hip, s * half_w * 0.45])
        knee = hip_p + [s * stride * height * 0.12, -height * 0.24, 0]
        foot = np.array(
            [s * stride * height * 0.2 * d.u(0.5, 1.0), height * 0.04, s * half_w * d.u(0.4, 0.7)]
        )
        out += [P.rod(hip_p, knee, height * 0.045), P.rod(knee, foot, height * 0.035)]
        out.append(P.box((foot[0] + 0.05, 0.03, foot[2]), (0.24, 0.06, 0.09)))
        sh = np.array([0.0, shoulder - height * 0.02, s * half_w * 1.05])
        pose = d.pick({"down": 0.7, "forward": 0.08, "up": 0.1, "hip": 0.12})
        if pose == "down":
            elbow = sh + [d.u(-0.05, 0.1), -height * 0.17, s * 0.03]
            hand = elbow + [d.u(0.0, 0.15), -height * 0.16, s * 0.02]
        elif pose == "forward":
            elbow = sh + [height * 0.12, -height * 0.1, 0.0]
            hand = elbow + [height * 0.16, d.u(-0.05, 0.1), -s * 0.05]
        elif pose == "up":
            elbow = sh + [0.0, height * 0.14, s * 0.08]
            hand = elbow + [0.0, height * 0.15, s * 0.03]
        else:
            elbow = sh + [-0.05, -height * 0.12, s * height * 0.1]
            hand = np.array([0.03, hip + 0.05, s * half_w * 1.1])
        out += [P.rod(sh, elbow, height * 0.028), P.rod(elbow, hand, height * 0.024)]
        out.append(P.ellipsoid(hand, (0.04, 0.06, 0.03), 1))
    return out


def plant(d: Draw) -> Parts:
    """A potted plant: a pot with soil, stems, and broad leaves or a bushy crown.

    Genuine plants are tall and narrow and wider along ``x`` than ``z`` (0.72 / 1.65 /
    0.57, all three): the foliage is drawn round the pot, then narrowed (:func:`_upright`).
    """
    pot_r, pot_h = d.u(0.12, 0.22), d.u(0.15, 0.35)
    pot = smooth_profile([0, 1], [pot_r * d.u(0.6, 0.8), pot_r])
    pot[:, 1] *= pot_h
    out = [vessel(pot, 0.02), P.disc((0, pot_h * 0.85, 0), pot_r * 0.9, 0.01)]
    style = d.pick({"leaves": 0.5, "bush": 0.3, "tree": 0.2})
    top = pot_h
    if style == "tree":
        trunk_h = d.u(0.5, 1.2)
        out.append(P.rod((0, pot_h * 0.8, 0), (0, pot_h + trunk_h, 0), 0.02))
        crown = d.u(0.25, 0.45)
        for _ in range(d.integer(3, 6)):
            c = (d.u(-0.15, 0.15), pot_h + trunk_h + d.u(-0.1, 0.25), d.u(-0.15, 0.15))
            out.append(
                P.ellipsoid(
                    c, (crown * d.u(0.5, 0.9), crown * d.u(0.4, 0.7), crown * d.u(0.5, 0.9))
                )
            )
        return out[:2] + _upright(out[2:])
    if style == "bush":
        for _ in range(d.integer(4, 8)):
            r = d.u(0.12, 0.25)
            a = d.u(0, 2 * np.pi)
            c = (np.cos(a) * d.u(0, 0.15), top + d.u(0.05, 0.35), np.sin(a) * d.u(0, 0.15))
            out.append(P.ellipsoid(c, (r, r * d.u(0.7, 1.0), r)))
        return out[:2] + _upright(out[2:])
    n = d.integer(5, 12)
    reach = d.u(0.3, 0.7)
    for k in range(n):
        a = 2 * np.pi * k / n + d.u(-0.3, 0.3)
        tilt = d.u(0.3, 1.2)
        length = reach * d.u(0.6, 1.0)
        base = np.array([0.0, pot_h * 0.85, 0.0])
        tip = base + length * np.array(
            [np.cos(a) * np.sin(tilt), np.cos(tilt) + 0.3, np.sin(a) * np.sin(tilt)]
        )
        out.append(P.rod(base, (base + tip) / 2, 0.008))
        direction = tip - base
        u = direction / np.linalg.norm(direction)
        side = np.cross(u, [0.0, 1.0, 0.0])
        side = side / max(np.linalg.norm(side), 1e-9)
        w = length * d.u(0.1, 0.25)
        leaf = [(0.0, 0.0), (length * 0.5, -w), (length, 0.0), (length * 0.5, w)]
        out.append(P.plate(leaf, 0.005, (base + tip) / 2 - u * length * 0.25, u, side))
    return out[:2] + _upright(out[2:])


def _upright(foliage: Parts) -> Parts:
    """Foliage narrowed about the pot's axis, more along ``z`` than ``x``, and stretched up."""
    for mesh in foliage:
        mesh.apply_scale([0.8, 1.25, 0.55])
    return foliage
