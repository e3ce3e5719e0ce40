"""Fixtures of a house: toilet, sink, door, curtain, stairs, piano.

Frame of :mod:`parts`: ``+y`` up, the front towards ``+x``, the long side along ``z``
(toilets are built with the tank at ``-x`` and turned onto ModelNet40's ``+z`` by
:mod:`catalog`).
"""

from __future__ import annotations

import itertools

import numpy as np

from flowam.data.procedural import primitives as P
from flowam.data.procedural.cabinets import knob
from flowam.data.procedural.families import Draw, Parts, legs, rect_corners, smooth_profile, vessel


def toilet(d: Draw) -> Parts:
    """A pedestal toilet: an oval bowl with a seat, a bulky base, and a low tank behind
    (``-x``); about as high as long (genuine ModelNet10 toilets: 0.90 / 1.38 / 1.36
    wide, high and long, median of 342)."""
    bowl_h = d.u(0.38, 0.45)
    r_x, r_z = d.u(0.25, 0.36), d.u(0.19, 0.25)
    bowl = smooth_profile([0, 0.5, 1], [0.45, 0.8, 1.0])
    bowl[:, 1] = bowl_h * (0.45 + 0.55 * bowl[:, 1])
    out = [vessel(bowl, 0.03, center=(0.04, 0, 0), scale=(r_x, r_z))]
    foot = smooth_profile([0, 0.5, 1], [0.85, 0.7, 0.75])
    foot[:, 1] *= bowl_h * 0.5
    out.append(vessel(foot, 0.0, center=(0.0, 0, 0), open_top=False, scale=(r_x * 0.85, r_z * 0.9)))
    seat = P.torus((0, 0, 0), 1.0, 0.12, "y")
    seat.apply_scale([r_x * 0.9, 0.2, r_z * 0.9])
    out.append(seat.apply_translation((0.04, bowl_h + 0.015, 0)))
    if d.chance(0.3):  # an open lid standing up against the tank
        lid = P.ellipsoid((-r_x + 0.02, bowl_h + r_x * 0.9, 0), (0.015, r_x * 0.9, r_z * 0.9))
        out.append(lid)
    tank = d.pick({"box": 0.9, "none": 0.1})
    if tank == "box":
        tw, th, td = d.u(0.42, 0.56), d.u(0.22, 0.36), d.u(0.15, 0.22)
        y = bowl_h * d.u(0.8, 1.05)
        x = -r_x - td / 2 + 0.05
        out.append(P.box((x, y + th / 2, 0), (td, th, tw)))
        out.append(P.box((x, y + th + 0.015, 0), (td + 0.02, 0.03, tw + 0.02)))
        out.append(P.box((x, y / 2, 0), (td * 0.5, y, tw * 0.4)))
    else:  # wall-hung: a flush plate on a wall slab
        out.append(P.box((-r_x - 0.05, bowl_h + 0.3, 0), (0.06, 0.6 + bowl_h, 0.45)))
    return out


def sink(d: Draw) -> Parts:
    """A countertop basin: a counter slab round one or two bowls set into it, a tap behind
    each, sometimes a splash-back; flat, as genuine sinks are (1.54 / 0.33 / 0.88 long,
    high and deep; the counter runs along ``z`` here and is turned onto ``x`` by
    :mod:`catalog`)."""
    width, depth = d.u(0.7, 1.3), d.u(0.45, 0.65)
    top_t = d.u(0.03, 0.06)
    n = 2 if width > 1.0 and d.chance(0.4) else 1
    r_x = depth * d.u(0.28, 0.36)
    r_z = min(r_x * d.u(1.0, 1.3), width / (2 * n) * 0.8)
    cx = d.u(0.0, 0.04)  # the bowls sit a little forward of the tap
    centers = np.linspace(-width / 2, width / 2, n + 2)[1:-1]
    edges = [-width / 2, *[z + s * r_z * 1.05 for z in centers for s in (-1, 1)], width / 2]
    out: Parts = [
        P.box_between((-depth / 2, -top_t, za), (depth / 2, 0.0, zb))
        for za, zb in zip(edges[0::2], edges[1::2], strict=True)
    ]
    bowl = smooth_profile([0, 0.5, 1], [0.45, 0.85, 1.0])
    bowl[:, 1] = d.u(0.1, 0.16) * (bowl[:, 1] - 1.0)
    tap_h = d.u(0.06, 0.12)
    for z in centers:
        za, zb = z - r_z * 1.05, z + r_z * 1.05
        out.append(P.box_between((-depth / 2, -top_t, za), (cx - r_x * 1.05, 0.0, zb)))
        out.append(P.box_between((cx + r_x * 1.05, -top_t, za), (depth / 2, 0.0, zb)))
        out.append(vessel(bowl, 0.015, center=(cx, 0, z), scale=(r_x, r_z)))
        tap_x = -depth / 2 + 0.05
        out.append(P.rod((tap_x, 0.0, z), (tap_x, tap_h, z), 0.015))
        spout = (tap_x + d.u(0.08, 0.14), tap_h - 0.03, z)
        out.append(P.rod((tap_x, tap_h - 0.01, z), spout, 0.01))
    if d.chance(0.4):  # a splash-back
        splash = (-depth / 2 - 0.02, 0.0, -width / 2), (-depth / 2, d.u(0.05, 0.15), width / 2)
        out.append(P.box_between(*splash))
    return out


def door(d: Draw) -> Parts:
    """An upright door leaf in its frame, facing ``x``; panels, glazing, a handle."""
    width, height, t = d.u(0.75, 1.0), d.u(1.95, 2.15), d.u(0.035, 0.05)
    hz = width / 2
    out = [P.box((0, height / 2, 0), (t, height, width))]
    frame = d.u(0.04, 0.09)
    if d.chance(0.75):
        depth = t * d.u(2.0, 4.0)
        out += [
            P.box((0, height / 2, s * (hz + frame / 2)), (depth, height + frame, frame))
            for s in (-1, 1)
        ]
        out.append(P.box((0, height + frame / 2, 0), (depth, frame, width + 2 * frame)))
    style = d.pick({"flush": 0.3, "panels": 0.5, "glazed": 0.2})
    if style == "panels":
        rows = d.integer(2, 4)
        ys = np.linspace(0.1, height - 0.1, rows + 1)
        for ya, yb in itertools.pairwise(ys):
            for za, zb in ((-hz + 0.08, -0.03), (0.03, hz - 0.08)):
                for s in (-1, 1):
                    out.append(
                        P.box(
                            ((t / 2 + 0.005) * s, (ya + yb) / 2, (za + zb) / 2),
                            (0.01, yb - ya - 0.06, zb - za),
                        )
                    )
    elif style == "glazed":
        y0 = height * d.u(0.45, 0.6)
        out += [
            P.box(
                (s * t * 0.6, (y0 + height - 0.1) / 2, 0), (0.01, height - 0.1 - y0, width - 0.16)
            )
            for s in (-1, 1)
        ]
    hand = hz - 0.07 if d.chance(0.5) else -hz + 0.07
    for s in (-1, 1):
        out += knob(
            s * (t / 2 + 0.01) - (0.03 if s < 0 else 0.0), height * 0.47, hand, d.chance(0.6), 0.12
        )
    return out


def curtain(d: Draw) -> Parts:
    """Drapes hanging from a rod in deep folds, a wavy sheet in the ``y``–``z`` plane
    (genuine curtains: 0.83 / 1.54 / 0.71 deep, high and wide — folds as deep as the drape
    is wide, not a flat sheet)."""
    height = d.u(1.3, 2.3)
    width = height * d.u(0.38, 0.6)
    panels = d.integer(1, 2)
    folds = d.u(1.5, 3.5) / panels
    amp = height * d.u(0.17, 0.28)
    out: Parts = []
    gap = d.u(0.0, 0.4) * width if panels == 2 else 0.0
    spans = (
        [(-width / 2, width / 2)] if panels == 1 else [(-width / 2, -gap / 2), (gap / 2, width / 2)]
    )
    drop = d.u(0.0, 0.15) * height
    for za, zb in spans:
        z = np.linspace(za, zb, 40)
        x = amp * np.sin((z - za) / (zb - za) * folds * 2 * np.pi)
        out += P.sheet(np.column_stack([x, z]), drop, height, 0.01)
        if d.chance(0.3):  # a tie-back gathering the lower half
            out.append(P.box((0, height * 0.4, (za + zb) / 2), (0.08, 0.04, (zb - za) * 0.3)))
    out.append(
        P.rod(
            (0.04, height + 0.04, -width / 2 - 0.1), (0.04, height + 0.04, width / 2 + 0.1), 0.015
        )
    )
    if d.chance(0.3):  # a valance over the top
        out.append(P.box((0.06, height - 0.12, 0), (0.03, 0.25, width + 0.1)))
    return out


def stairs(d: Draw) -> Parts:
    """A straight flight of steps rising along ``z``, with stringers or a solid side, rails."""
    n = d.integer(5, 14)
    rise, run = d.u(0.15, 0.2), d.u(0.22, 0.3)
    width = d.u(0.7, 1.4)
    hx = width / 2
    solid = d.chance(0.5)
    out: Parts = []
    for i in range(n):
        z0 = -n * run / 2 + i * run
        y0 = i * rise if not solid else 0.0
        out.append(P.box_between((-hx, y0, z0), (hx, (i + 1) * rise, z0 + run)))
    if not solid:
        for s in (-1, 1):
            out.append(
                P.rod(
                    (s * hx, 0.05, -n * run / 2),
                    (s * hx, n * rise - 0.05, n * run / 2),
                    0.04,
                    sections=4,
                )
            )
    if d.chance(0.7):
        sides = (-1, 1) if d.chance(0.5) else (1,)
        for s in sides:
            post = d.u(0.8, 1.0)
            a = (s * hx, post, -n * run / 2 + run / 2)
            b = (s * hx, n * rise + post, n * run / 2 - run / 2)
            out.append(P.rod(a, b, 0.025))
            for k in np.linspace(0, 1, d.integer(2, 6)):
                z = a[2] + k * (b[2] - a[2])
                step = min(int((z + n * run / 2) / run), n - 1)
                out.append(
                    P.rod(
                        (s * hx, (step + 1) * rise, z), (s * hx, a[1] + k * (b[1] - a[1]), z), 0.015
                    )
                )
    return out


def piano(d: Draw) -> Parts:
    """An upright piano (tall case, keyboard shelf) or a grand (curved case on three legs)."""
    kb_w = d.u(1.3, 1.5)
    key_y = d.u(0.7, 0.75)
    if d.chance(0.55):
        depth, height = d.u(0.5, 0.65), d.u(1.1, 1.35)
        out = [P.box_between((-depth / 2, 0.05, -kb_w / 2 - 0.05), (0.0, height, kb_w / 2 + 0.05))]
        out.append(P.box_between((0.0, key_y - 0.06, -kb_w / 2), (0.25, key_y, kb_w / 2)))
        for s in (-1, 1):
            out.append(
                P.box_between(
                    (0.0, 0.05, s * (kb_w / 2) - 0.025), (0.3, key_y + 0.05, s * (kb_w / 2) + 0.025)
                )
            )
        out.append(P.box_between((0.02, key_y + 0.1, -kb_w / 2), (0.05, key_y + 0.35, kb_w / 2)))
        if d.chance(0.6):  # a bench in front
            out.append(P.box((0.75, 0.48, 0), (0.35, 0.05, 0.8)))
            bench_legs = legs(d, rect_corners(0.14, 0.35), 0.455, 0.04, False)
            out += [leg.apply_translation((0.75, 0, 0)) for leg in bench_legs]
        return out
    length = d.u(1.5, 2.4)
    t = np.linspace(0, 1, 14)
    # the case outline: straight spine on -z, a curved bentside on +z narrowing to the tail
    spine = -kb_w / 2
    bent = kb_w / 2 - (kb_w * 0.55) * np.sin(t * np.pi / 2) ** 2
    outline = np.concatenate(
        [
            np.column_stack([-t * length, np.full_like(t, spine)]),
            np.column_stack([-t[::-1] * length, bent[::-1]]),
        ]
    )
    y0, y1 = key_y + 0.03, key_y + 0.3
    out = P.sheet(outline, y0, y1, 0.03)
    corners = [(x, y, z) for x, z in outline for y in (y0, y0 + 0.03)]
    out.append(P.hull(corners))
    if d.chance(0.7):  # the lid propped open
        lid = [(x, y1 + 0.02 + (z - spine) * d.u(0.5, 0.8), z) for x, z in outline]
        out.append(P.hull(lid + [(x, y1, spine) for x, _ in outline[::3]]))
    out.append(P.box_between((0.0, key_y - 0.05, -kb_w / 2), (0.2, key_y + 0.03, kb_w / 2)))
    for x, z in ((0.05, 0.0), (-length * 0.85, spine + 0.1), (-length * 0.5, kb_w / 2 - 0.1)):
        out.append(P.rod((x, 0, z), (x, y0, z), 0.04))
    return out
