"""The furniture measures (flowam.data.furniture) on shapes of known answer, and the
procedural tables, desks, dressers and night stands against genuine ModelNet10's."""

import numpy as np
import pytest
import trimesh

from conftest import MODELNET10
from flowam.data import load_dataset
from flowam.data.furniture import MEASURES, _groups, like_genuine, measure, measure_all
from flowam.data.procedural import primitives as P
from flowam.data.sampling import normalize

GENUINE = {
    "table": {
        "height_to_width": (0.449, 0.348, 0.645),
        "depth_to_width": (0.626, 0.500, 0.997),
        "top_thickness": (0.040, 0.023, 0.064),
        "legs": (4.000, 2.000, 4.000),
        "leg_inset": (0.095, 0.044, 0.206),
        "foot_fill": (0.125, 0.062, 0.250),
        "under_fill": (0.086, 0.054, 0.156),
        "box_share": (0.666, 0.529, 0.812),
    },
    "desk": {
        "height_to_width": (0.498, 0.420, 0.646),
        "depth_to_width": (0.520, 0.466, 0.647),
        "top_thickness": (0.028, 0.015, 0.043),
        "legs": (2.000, 2.000, 3.000),
        "leg_inset": (0.093, 0.043, 0.163),
        "foot_fill": (0.305, 0.125, 0.473),
        "under_fill": (0.256, 0.198, 0.314),
        "box_share": (0.588, 0.474, 0.702),
    },
    "dresser": {
        "height_to_width": (1.148, 0.853, 1.389),
        "depth_to_width": (0.599, 0.521, 0.693),
        "top_thickness": (0.027, 0.018, 0.050),
        "legs": (1.000, 1.000, 2.000),
        "leg_inset": (0.453, 0.087, 0.480),
        "foot_fill": (0.859, 0.250, 1.000),
        "under_fill": (0.323, 0.303, 0.355),
        "box_share": (0.669, 0.427, 0.872),
    },
    "night_stand": {
        "height_to_width": (1.091, 0.882, 1.318),
        "depth_to_width": (0.823, 0.719, 0.926),
        "top_thickness": (0.035, 0.027, 0.071),
        "legs": (4.000, 1.000, 4.000),
        "leg_inset": (0.103, 0.063, 0.473),
        "foot_fill": (0.250, 0.125, 0.969),
        "under_fill": (0.297, 0.249, 0.358),
        "box_share": (0.411, 0.251, 0.587),
    },
}
"""Median, lower and upper quartile of each measure over every genuine ModelNet10 train
object of the class (387 tables, 200 desks, 195 dressers, 199 night stands; 1,024
points), checked against the data where they are at hand."""
PAIRS = (("table", "desk"), ("dresser", "night_stand"))


def cloud(parts: list[trimesh.Trimesh], n: int = 1024) -> np.ndarray:
    """``n`` points sampled by area from ``parts``, centred and scaled like ModelNet's."""
    mesh = trimesh.util.concatenate(parts)
    points, _ = trimesh.sample.sample_surface(mesh, n, seed=0)
    return normalize(np.asarray(points, dtype=np.float32))


def table_parts(inset: float = 0.1) -> list[trimesh.Trimesh]:
    """A 1.6 x 0.9 top, 0.04 thick, at 0.75 on four 0.08-thick legs set ``inset`` in."""
    hx, hz = 0.45 - inset, 0.8 - inset
    legs = [
        P.box_between((sx * hx - 0.04, 0, sz * hz - 0.04), (sx * hx + 0.04, 0.71, sz * hz + 0.04))
        for sx in (-1, 1)
        for sz in (-1, 1)
    ]
    return [P.box_between((-0.45, 0.71, -0.8), (0.45, 0.75, 0.8))] + legs


def test_a_table_on_four_legs():
    m = measure(cloud(table_parts()))
    assert m["legs"] == 4
    assert m["height_to_width"] == pytest.approx(0.75 / 1.6, abs=0.02)
    assert m["depth_to_width"] == pytest.approx(0.9 / 1.6, abs=0.02)
    assert m["top_thickness"] == pytest.approx(0.04 / 0.75, abs=0.015)
    assert m["under_fill"] < 0.15 and m["foot_fill"] < 0.2


def test_legs_set_in_stand_further_from_the_edge():
    near, far = (measure(cloud(table_parts(i)))["leg_inset"] for i in (0.05, 0.25))
    assert far > near + 0.1


def test_a_closed_box():
    m = measure(cloud([P.box_between((-0.3, 0, -0.5), (0.3, 1.2, 0.5))]))
    assert np.isnan(m["top_thickness"])  # nothing under the top: the box is hollow
    assert m["box_share"] > 0.95 and m["foot_fill"] > 0.8 and m["legs"] == 1
    # the four sides between 20 % and 60 % of the height: 0.4 of their area, 3.84 of 5.04
    assert m["under_fill"] == pytest.approx(0.4 * 3.84 / 5.04, abs=0.05)


def naive_groups(points: np.ndarray, radius: float, least: int) -> list[set[int]]:
    """Connected groups by breadth-first search over every pair."""
    left, out = set(range(len(points))), []
    while left:
        frontier, group = [left.pop()], set()
        while frontier:
            i = frontier.pop()
            group.add(i)
            near = {j for j in left if np.linalg.norm(points[i] - points[j]) <= radius}
            left -= near
            frontier += near
        out.append(group)
    return [g for g in out if len(g) >= least]


@pytest.mark.parametrize("seed", range(3))
def test_groups_match_a_naive_search(seed):
    points = np.random.default_rng(seed).random((60, 2))
    fast = sorted(sorted(g.tolist()) for g in _groups(points, 0.08, 2))
    naive = sorted(sorted(g) for g in naive_groups(points, 0.08, 2))
    assert fast == naive


def procedural(name: str, n: int = 30) -> dict[str, np.ndarray]:
    return measure_all(np.stack([like_genuine(name, "train", i) for i in range(n)]))


@pytest.fixture(scope="module")
def drawn() -> dict[str, dict[str, np.ndarray]]:
    return {name: procedural(name) for name in [*GENUINE, "wardrobe"]}


@pytest.mark.parametrize("name", sorted(GENUINE))
def test_each_measure_within_the_genuine_spread(drawn, name):
    # the procedural median within the genuine objects' interquartile range of their median
    off = {}
    for measure_name, (median, low, high) in GENUINE[name].items():
        found = np.nanmedian(drawn[name][measure_name])
        if abs(found - median) > max(high - low, 1e-6):
            off[measure_name] = (round(float(found), 3), median)
    assert not off, off


@pytest.mark.parametrize("a,b", PAIRS)
def test_the_classes_separate_as_genuine_ones_do(drawn, a, b):
    # where genuine medians differ clearly (by more than half the mean interquartile
    # range), the procedural ones differ the same way: feet, foot and under fill for
    # tables and desks; depth, feet, their inset, foot fill and box share for dressers and
    # night stands (under fill, 0.32 against 0.30, is too close to call)
    wrong = []
    for measure_name in MEASURES:
        (ma, la, ha), (mb, lb, hb) = GENUINE[a][measure_name], GENUINE[b][measure_name]
        if abs(ma - mb) > 0.5 * ((ha - la) + (hb - lb)) / 2:
            found = np.nanmedian(drawn[a][measure_name]) - np.nanmedian(drawn[b][measure_name])
            if np.sign(found) != np.sign(ma - mb):
                wrong.append(measure_name)
    assert not wrong, wrong


def test_wardrobes_are_taller_than_the_tallest_quarter_of_genuine_dressers(drawn):
    # no genuine wardrobe is at hand; what keeps the two apart is that wardrobes stand
    # higher for their width than three in four genuine dressers
    assert (
        np.median(drawn["wardrobe"]["height_to_width"]) > GENUINE["dresser"]["height_to_width"][2]
    )


@pytest.mark.skipif(not MODELNET10.is_dir(), reason="../shared/data is not here")
def test_the_genuine_figures_are_those_of_the_data():
    data = load_dataset(MODELNET10, "train", progress=False)
    for name, wanted in GENUINE.items():
        found = measure_all(data.points[data.labels == data.class_index(name)])
        for measure_name, quartiles in wanted.items():
            got = np.nanpercentile(found[measure_name], [50, 25, 75])
            assert np.allclose(got, quartiles, atol=0.0015), (name, measure_name, got)
