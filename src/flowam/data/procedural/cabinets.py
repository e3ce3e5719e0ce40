"""Box furniture: cabinets with drawers, doors or shelves, told apart by proportion and front.

night_stand, dresser, wardrobe, tv_stand, bookshelf and glass_box share one carcass
(:func:`carcass`) and one way of dividing its front (:func:`drawers`, :func:`doors`,
:func:`shelves`); desk, mantel and range_hood add their own outlines. Frame of
:mod:`parts`: ``+y`` up, the front towards ``+x``, the long side along ``z``.
"""

from __future__ import annotations

import itertools

import numpy as np

from flowam.data.procedural import primitives as P
from flowam.data.procedural.families import Draw, Parts, legs, rect_corners, slab


def carcass(
    depth: float, height: float, width: float, y0: float, t: float, x: float = 0.0, z: float = 0.0
) -> Parts:
    """An open-fronted box centred on ``(x, z)``: top, bottom, sides and back, from ``y0``."""
    hx, hz = depth / 2, width / 2
    y1 = y0 + height
    panels = [
        ((-hx, y1 - t, -hz), (hx, y1, hz)),
        ((-hx, y0, -hz), (hx, y0 + t, hz)),
        ((-hx, y0, -hz), (hx, y1, -hz + t)),
        ((-hx, y0, hz - t), (hx, y1, hz)),
        ((-hx, y0, -hz), (-hx + t, y1, hz)),
    ]
    shift = np.array([x, 0.0, z])
    return [P.box_between(np.add(lo, shift), np.add(hi, shift)) for lo, hi in panels]


def solid(depth: float, height: float, width: float, y0: float, z: float = 0.0) -> Parts:
    """A closed cabinet body as one box: its surface alone, as a chest of drawers or a
    pedestal looks from outside (a carcass of panels also has their inner faces, which
    genuine meshes of closed cabinets mostly lack)."""
    return [P.box_between((-depth / 2, y0, z - width / 2), (depth / 2, y0 + height, z + width / 2))]


def base(d: Draw, depth: float, width: float, y0: float, style: str) -> Parts:
    """What a cabinet stands on below ``y0``: legs, a plinth, or nothing (``floor``)."""
    if style == "legs":
        corners = rect_corners(depth / 2 - 0.03, width / 2 - 0.03)
        return legs(d, corners, y0, d.u(0.03, 0.05), d.chance(0.5), d.u(0.0, 0.02))
    if style == "plinth":
        return [
            P.box_between(
                (-depth / 2 + 0.03, 0, -width / 2 + 0.02), (depth / 2 - 0.03, y0, width / 2 - 0.02)
            )
        ]
    return []


def standing_carcass(
    d: Draw,
    depth: float,
    height: float,
    width: float,
    t: float,
    feet: dict[str, float],
    leg_height: tuple[float, float],
    plinth: float,
    closed: bool = False,
) -> tuple[Parts, float]:
    """A carcass on legs, a plinth or the floor (drawn with weights ``feet``); and its
    ``y0``. ``closed``: a closed front, the body one box (:func:`solid`)."""
    style = d.pick(feet)
    y0 = d.u(*leg_height) if style == "legs" else (plinth if style == "plinth" else 0.0)
    body = solid(depth, height, width, y0) if closed else carcass(depth, height, width, y0, t)
    return body + base(d, depth, width, y0, style), y0


def knob(x: float, y: float, z: float, bar: bool, length: float = 0.1) -> Parts:
    """A handle on a front at depth ``x``: a bar along ``z`` or a round knob."""
    if bar:
        return [P.box((x + 0.015, y, z), (0.02, 0.02, length))]
    return [P.ellipsoid((x + 0.015, y, z), (0.015, 0.015, 0.015), 1)]


def drawers(
    d: Draw,
    x: float,
    y0: float,
    y1: float,
    z0: float,
    z1: float,
    rows: int,
    cols: int,
    fronts: bool = True,
) -> Parts:
    """A ``rows`` by ``cols`` grid of drawers on the plane ``x``, each with a handle.

    ``fronts``: each drawer also a front panel, as in an open carcass. A closed body's
    drawers are its handles alone: a front panel over the body's own face would lay two
    more layers of surface there (a third of the body's area, drawn three times), where a
    genuine chest's front is one surface, its drawers cut into it.
    """
    out: Parts = []
    bar = d.chance(0.6)
    ys, zs = np.linspace(y0, y1, rows + 1), np.linspace(z0, z1, cols + 1)
    for ya, yb in itertools.pairwise(ys):
        for za, zb in itertools.pairwise(zs):
            if fronts:
                out.append(
                    P.box_between(
                        (x - 0.01, ya + 0.006, za + 0.006), (x + 0.01, yb - 0.006, zb - 0.006)
                    )
                )
            handle = x + 0.01 if fronts else x
            out += knob(handle, (ya + yb) / 2, (za + zb) / 2, bar, (zb - za) * 0.35)
    return out


def doors(d: Draw, x: float, y0: float, y1: float, z0: float, z1: float, n: int, glass: bool):
    """``n`` doors side by side on the plane ``x``; glass doors are frames round a thin pane."""
    out: Parts = []
    zs = np.linspace(z0, z1, n + 1)
    for i, (za, zb) in enumerate(itertools.pairwise(zs)):
        if glass:
            f = 0.03
            out += [
                P.box_between((x - 0.01, y0, za), (x + 0.01, y0 + f, zb)),
                P.box_between((x - 0.01, y1 - f, za), (x + 0.01, y1, zb)),
                P.box_between((x - 0.01, y0, za), (x + 0.01, y1, za + f)),
                P.box_between((x - 0.01, y0, zb - f), (x + 0.01, y1, zb)),
                P.box_between((x - 0.004, y0, za), (x + 0.004, y1, zb)),
            ]
        else:
            out.append(
                P.box_between(
                    (x - 0.01, y0 + 0.005, za + 0.005), (x + 0.01, y1 - 0.005, zb - 0.005)
                )
            )
        edge = zb - 0.05 if i % 2 == 0 else za + 0.05
        out += knob(x + 0.01, (y0 + y1) / 2, edge, True, 0.02)
    return out


def shelves(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float, n: int) -> Parts:
    """``n`` evenly spaced shelves between heights ``y0`` and ``y1``."""
    return [
        P.box_between((x0, y - 0.012, z0), (x1, y + 0.012, z1))
        for y in np.linspace(y0, y1, n + 2)[1:-1]
    ]


def books(d: Draw, x0: float, x1: float, y: float, z0: float, z1: float, max_h: float) -> Parts:
    """A row of books standing on a shelf at height ``y``, leaving random gaps."""
    out: Parts = []
    z = z0 + d.u(0.0, 0.1)
    while z < z1 - 0.05:
        w = d.u(0.02, 0.06)
        if d.chance(0.8):
            h = max_h * d.u(0.6, 0.95)
            out.append(P.box_between((x0, y, z), (x0 + (x1 - x0) * d.u(0.6, 0.95), y + h, z + w)))
        z += w + (d.u(0.05, 0.2) if d.chance(0.1) else 0.003)
    return out


# --------------------------------------------------------------------------- families


def night_stand(d: Draw) -> Parts:
    """A bedside cabinet about as high as wide (genuine ModelNet10 night stands: 0.92 /
    1.22 / 1.12 deep, high and wide, median of 199), its top often overhanging, on legs,
    about half on legs (as genuine night stands: most stand on feet), others on a
    plinth or the floor; one in five a small table on legs with a drawer under the top
    and a shelf below."""
    width = d.u(0.42, 0.62)
    depth, height = width * d.u(0.7, 0.95), width * d.u(0.8, 1.5)
    t = 0.02
    if d.chance(0.2):  # a small table with a drawer
        out = slab(d, height, depth + 0.04, width + 0.04, 0.03, "rect")
        box = height * d.u(0.2, 0.3)
        out += carcass(depth, box, width, height - 0.03 - box, t)
        out += drawers(
            d, depth / 2, height - 0.03 - box, height - 0.03, -width / 2, width / 2, 1, 1
        )
        out += legs(
            d, rect_corners(depth / 2 - 0.02, width / 2 - 0.02), height - 0.03, 0.035, False
        )
        out += shelves(-depth / 2, depth / 2, 0.0, height * 0.4, -width / 2, width / 2, 1)
        return out
    feet = {"legs": 0.4, "plinth": 0.25, "floor": 0.35}
    lift = d.u(0.05, 0.2)
    shelf = d.chance(0.3)  # a drawer over an open shelf
    out, y0 = standing_carcass(
        d, depth, height - lift, width, t, feet, (lift, lift), 0.04, closed=not shelf
    )
    front = depth / 2 - 0.02 if shelf else depth / 2  # an open carcass's drawers sit in it
    top = y0 + height - lift
    if d.chance(0.3):  # a top overhanging the carcass
        over = d.u(0.01, 0.04)
        out += slab(d, top + 0.025, depth + 2 * over, width + 2 * over, 0.025, "rect")
    rows = d.integer(1, 3)
    if shelf:
        split = y0 + (top - y0) * d.u(0.55, 0.75)
        out += drawers(d, front, split, top - t, -width / 2 + t, width / 2 - t, 1, 1)
        out += shelves(-depth / 2, front, y0, split, -width / 2, width / 2, 1)
    else:
        out += drawers(
            d, front, y0 + t, top - t, -width / 2 + t, width / 2 - t, rows, 1, fronts=False
        )
    return out


def dresser(d: Draw) -> Parts:
    """A chest of drawers, shallower than wide (genuine ModelNet10 dressers: 0.69 / 1.37 /
    1.20 deep, high and wide, median of 195); three in ten a tall narrow chest, three in ten
    with a mirror on the top."""
    if d.chance(0.3):
        width, height = d.u(0.7, 1.0), d.u(1.0, 1.4)
    else:
        width, height = d.u(0.9, 1.5), d.u(0.8, 1.3)
    depth = width * d.u(0.45, 0.8)
    t = 0.025
    feet = {"legs": 0.3, "plinth": 0.5, "floor": 0.2}
    out, y0 = standing_carcass(d, depth, height, width, t, feet, (0.06, 0.15), 0.06, closed=True)
    rows, cols = d.integer(3, 5), d.integer(2, 3)
    top = y0 + height - t
    if d.chance(0.3):  # small drawers across the top
        cut = top - (height - 2 * t) / rows
        out += drawers(
            d, depth / 2, cut, top, -width / 2 + t, width / 2 - t, 1, cols + 1, fronts=False
        )
        top = cut
    out += drawers(
        d, depth / 2, y0 + t, top, -width / 2 + t, width / 2 - t, rows, cols, fronts=False
    )
    out += slab(d, y0 + height + 0.02, depth + 0.03, width + 0.03, 0.02, "rect")
    if d.chance(0.3):  # a mirror on the top
        mw, mh = width * d.u(0.5, 0.8), d.u(0.5, 0.8)
        y = y0 + height + 0.02
        out.append(
            P.box_between((-depth / 2 + 0.02, y, -mw / 2), (-depth / 2 + 0.05, y + mh, mw / 2))
        )
    return out


def wardrobe(d: Draw) -> Parts:
    """A tall cupboard of two doors, at least 1.6 times as high as wide (genuine dressers
    stand up to 1.4 times in three of four), sometimes with drawers below and a crown."""
    depth, width, height = d.u(0.5, 0.65), d.u(0.8, 1.1), d.u(1.8, 2.2)
    y0 = d.u(0.05, 0.12)
    t = 0.025
    out = carcass(depth, height, width, y0, t) + base(
        d, depth, width, y0, d.pick({"legs": 0.3, "plinth": 0.7})
    )
    lower = y0 + t
    if d.chance(0.35):  # drawers under the doors
        lower = y0 + height * d.u(0.18, 0.3)
        out += drawers(
            d, depth / 2, y0 + t, lower, -width / 2 + t, width / 2 - t, d.integer(1, 2), 1
        )
    out += doors(
        d, depth / 2, lower, y0 + height - t, -width / 2 + t, width / 2 - t, 2, d.chance(0.15)
    )
    if d.chance(0.5):  # a crown moulding
        out.append(P.box((0, y0 + height + 0.03, 0), (depth + 0.06, 0.06, width + 0.06)))
    return out


def tv_stand(d: Draw) -> Parts:
    """A low, wide cabinet of open bays, doors and drawers; no television (genuine TV
    stands carry none): 1.79 / 0.67 / 0.68 wide, high and deep, front across ``x``."""
    depth, width, height = d.u(0.45, 0.65), d.u(1.3, 2.0), d.u(0.4, 0.65)
    t = 0.025
    feet = {"legs": 0.4, "plinth": 0.3, "floor": 0.3}
    out, y0 = standing_carcass(d, depth, height, width, t, feet, (0.05, 0.15), 0.04)
    n = d.integer(2, 4)
    zs = np.linspace(-width / 2, width / 2, n + 1)
    for z in zs[1:-1]:
        out.append(P.box_between((-depth / 2, y0, z - t / 2), (depth / 2, y0 + height, z + t / 2)))
    layout = d.pick({"open": 0.35, "mixed": 0.45, "closed": 0.2})
    for i, (za, zb) in enumerate(itertools.pairwise(zs)):
        closed = layout == "closed" or (layout == "mixed" and i in (0, n - 1))
        if closed:
            if d.chance(0.5):
                out += drawers(
                    d, depth / 2, y0 + t, y0 + height - t, za + t, zb - t, d.integer(1, 2), 1
                )
            else:
                out += doors(
                    d, depth / 2, y0 + t, y0 + height - t, za + t, zb - t, 1, d.chance(0.3)
                )
        elif d.chance(0.5):
            out += shelves(-depth / 2, depth / 2, y0, y0 + height, za, zb, 1)
    return out


def bookshelf(d: Draw) -> Parts:
    """An open grid of shelves seen from the front, about as wide as high (genuine:
    1.42 / 1.37 / 0.33 wide, high and deep)."""
    depth, width, height = d.u(0.25, 0.4), d.u(1.0, 2.0), d.u(0.9, 2.0)
    y0 = d.u(0.0, 0.08)
    t = d.u(0.02, 0.035)
    out = carcass(depth, height, width, y0, t) + base(
        d, depth, width, y0, "plinth" if y0 > 0 else "floor"
    )
    n = max(2, round(height / d.u(0.3, 0.4))) - 1
    columns = 1 if width < 1.0 else d.integer(1, 2)
    zs = np.linspace(-width / 2 + t, width / 2 - t, columns + 1)
    for z in zs[1:-1]:
        out.append(P.box_between((-depth / 2, y0, z - t / 2), (depth / 2, y0 + height, z + t / 2)))
    levels = np.linspace(y0 + t, y0 + height - t, n + 2)
    out += shelves(-depth / 2, depth / 2, y0 + t, y0 + height - t, -width / 2, width / 2, n)
    gap = levels[1] - levels[0]
    for ya in levels[:-1]:
        if d.chance(0.7):
            for za, zb in itertools.pairwise(zs):
                out += books(
                    d, -depth / 2 + t, depth / 2 - 0.01, ya + 0.012, za + t, zb - t, gap * 0.85
                )
    return out


def glass_box(d: Draw) -> Parts:
    """Display cases: a frame of bars round glass panes on a square plan, four in five low
    (as the genuine one at hand: 1.36 / 0.51 / 1.36), the rest cubic (a closed cube is
    also what most genuine night stands look like)."""
    low = d.chance(0.8)
    w = d.u(0.6, 1.2)
    h = w * (d.u(0.25, 0.5) if low else d.u(0.7, 1.1))
    dx = w * d.u(0.85, 1.0)
    f = d.u(0.015, 0.04)
    hx, hz = dx / 2, w / 2
    out: Parts = []
    for sx in (-1, 1):
        for sz in (-1, 1):
            out.append(P.box((sx * (hx - f / 2), h / 2, sz * (hz - f / 2)), (f, h, f)))
    for y in (f / 2, h - f / 2):
        for s in (-1, 1):
            out.append(P.box((s * (hx - f / 2), y, 0), (f, f, w)))
            out.append(P.box((0, y, s * (hz - f / 2)), (dx, f, f)))
    pane = 0.006
    out += [P.box((s * (hx - f / 2), h / 2, 0), (pane, h, w - f)) for s in (-1, 1)]
    out += [P.box((0, h / 2, s * (hz - f / 2)), (dx - f, h, pane)) for s in (-1, 1)]
    out.append(P.box((0, f / 2, 0), (dx, pane, w)))
    if low and d.chance(0.6):  # a lid frame round an opening
        rim = w * d.u(0.12, 0.25)
        for s in (-1, 1):
            out.append(P.box((s * (hx - rim / 2), h, 0), (rim, pane, w)))
            out.append(P.box((0, h, s * (hz - rim / 2)), (dx, pane, rim)))
    elif d.chance(0.6):
        out.append(P.box((0, h - f / 2, 0), (dx, pane, w)))
    if not low and d.chance(0.5):  # a glass shelf inside
        out += shelves(-hx, hx, 0.0, h, -hz, hz, 1)
    return out


def desk(d: Draw) -> Parts:
    """A writing desk along ``z``, long and low (genuine ModelNet10 desks: 0.79 / 0.79 /
    1.48 deep, high and wide, median of 200): pedestals of drawers or side panels under a
    top that overhangs them, one in ten on four legs at the corners, sometimes a hutch."""
    width, height = d.u(1.2, 1.9), d.u(0.72, 0.78)
    depth = width * d.u(0.4, 0.6)
    t = d.u(0.015, 0.03)
    out = slab(d, height, depth, width, t, "rect")
    style = d.pick({"two_pedestals": 0.3, "one_pedestal": 0.3, "panels": 0.3, "legs": 0.1})
    ped_w = d.u(0.35, 0.45)
    hz = width / 2 - (d.u(0.03, 0.12) if d.chance(0.8) else 0.0)  # the top's overhang
    body = depth * d.u(0.7, 0.9)
    pedestals = {"two_pedestals": [-1, 1], "one_pedestal": [1 if d.chance(0.5) else -1]}.get(
        style, []
    )
    for s in pedestals:
        za, zb = sorted((s * hz, s * (hz - ped_w)))
        out += solid(body, height - t, ped_w, 0.0, z=(za + zb) / 2)
        out += drawers(
            d,
            body / 2,
            0.02,
            height - t - 0.02,
            za + 0.02,
            zb - 0.02,
            d.integer(2, 4),
            1,
            fronts=False,
        )
    if style != "legs":
        for s in (-1, 1):
            if s not in pedestals:
                out.append(
                    P.box_between(
                        (-body / 2, 0, s * hz - 0.02 * s), (body / 2, height - t, s * (hz - 0.04))
                    )
                )
        if d.chance(0.8):  # modesty panel at the back
            out.append(
                P.box_between(
                    (-body / 2, height * d.u(0.2, 0.5), -hz), (-body / 2 + 0.02, height - t, hz)
                )
            )
    else:
        out += legs(
            d, rect_corners(depth / 2 - 0.04, hz - 0.04), height - t, d.u(0.04, 0.06), d.chance(0.5)
        )
        out.append(
            P.box_between(
                (0.0, height - t - 0.12, -hz * 0.4), (depth / 2 - 0.05, height - t, hz * 0.4)
            )
        )
    if d.chance(0.15):  # a hutch of shelves on the back edge
        hh = d.u(0.3, 0.6)
        out += carcass(0.25, hh, width, height, 0.02, x=-depth / 2 + 0.125)
    return out


def mantel(d: Draw) -> Parts:
    """A fireplace surround: jambs either side of an opening, a lintel and a shelf."""
    # genuine: 1.41 / 1.08 / 0.67 wide, high and deep (with its hearth), front across x
    width, height, depth = d.u(1.2, 1.8), d.u(1.0, 1.4), d.u(0.2, 0.4)
    jamb = width * d.u(0.12, 0.22)
    hz = width / 2
    opening_top = height * d.u(0.6, 0.8)
    out = [
        P.box_between((-depth / 2, 0, -hz), (depth / 2, height, -hz + jamb)),
        P.box_between((-depth / 2, 0, hz - jamb), (depth / 2, height, hz)),
        P.box_between((-depth / 2, opening_top, -hz + jamb), (depth / 2, height, hz - jamb)),
    ]
    over = d.u(0.03, 0.12)
    out.append(
        P.box_between(
            (-depth / 2, height, -hz - over),
            (depth / 2 + over, height + d.u(0.04, 0.08), hz + over),
        )
    )
    if d.chance(0.6):  # a hearth slab in front
        out.append(
            P.box_between(
                (depth / 2, 0, -hz + jamb * 0.5), (depth / 2 + d.u(0.2, 0.4), 0.04, hz - jamb * 0.5)
            )
        )
    if d.chance(0.5):  # firebox walls behind the opening
        back = -depth / 2 - d.u(0.15, 0.3)
        out.append(P.box_between((back, 0, -hz + jamb), (back + 0.02, opening_top, hz - jamb)))
    if d.chance(0.4):  # columns on the jambs
        for s in (-1, 1):
            out.append(
                P.rod(
                    (depth / 2 + 0.04, 0, s * (hz - jamb / 2)),
                    (depth / 2 + 0.04, height, s * (hz - jamb / 2)),
                    jamb * 0.25,
                )
            )
    return out


def range_hood(d: Draw) -> Parts:
    """A kitchen hood: a wide tapering canopy under a narrow chimney, hung on a wall."""
    width, depth = d.u(0.6, 1.0), d.u(0.45, 0.6)
    canopy = d.u(0.1, 0.3)
    rim = d.u(0.04, 0.1)
    top_w, top_d = width * d.u(0.3, 0.5), depth * d.u(0.35, 0.6)
    chimney = d.u(0.4, 0.9)
    style = d.pick({"pyramid": 0.6, "box": 0.25, "curved": 0.15})
    out = [P.box((0, rim / 2, 0), (depth, rim, width))]
    if style == "box":
        out.append(P.box((0, rim + canopy / 2, 0), (depth, canopy, width)))
    else:
        bottom = [(sx * depth / 2, rim, sz * width / 2) for sx in (-1, 1) for sz in (-1, 1)]
        back = -depth / 2 + top_d / 2
        upper = [
            (back + sx * top_d / 2, rim + canopy, sz * top_w / 2)
            for sx in (-1, 1)
            for sz in (-1, 1)
        ]
        if style == "curved":
            mid = [
                (back + sx * depth * 0.4, rim + canopy * 0.5, sz * width * 0.45)
                for sx in (-1, 1)
                for sz in (-1, 1)
            ]
            upper += mid
        out.append(P.hull(bottom + upper))
    cx = -depth / 2 + top_d / 2
    out.append(P.box((cx, rim + canopy + chimney / 2, 0), (top_d, chimney, top_w)))
    if d.chance(0.4):
        out.append(
            P.box_between(
                (-depth / 2 - 0.02, 0, -width / 2), (-depth / 2, rim + canopy + chimney, width / 2)
            )
        )
    return out
