import numpy as np
import pytest

from conftest import MODELNET10
from flowam.data import load_dataset
from flowam.data.modelnet import MODELNET40_CLASSES
from flowam.data.procedural import FAMILIES, load_procedural, sample_object
from flowam.errors import DataError

REQUIRED = [
    "airplane",
    "bathtub",
    "bed",
    "bench",
    "bottle",
    "bowl",
    "chair",
    "cone",
    "cup",
    "guitar",
    "lamp",
    "monitor",
    "sofa",
    "stool",
    "table",
    "vase",
]
MIXED_AXES = ("bench", "guitar", "laptop", "piano", "curtain")
# median extent x / y / z of genuine ModelNet40 objects (../shared/data/README.md and issue
# 20's measurements, after centring and scaling into the unit sphere)
GENUINE = {
    "bookshelf": (1.42, 1.37, 0.33),
    "mantel": (1.41, 1.08, 0.67),
    "tv_stand": (1.79, 0.67, 0.68),
    "keyboard": (1.77, 0.08, 0.94),
    "sink": (1.54, 0.33, 0.88),
    "curtain": (0.83, 1.54, 0.71),
    "tent": (1.75, 0.59, 1.23),
    "lamp": (0.54, 1.65, 0.55),
    "plant": (0.72, 1.65, 0.57),
    "bed": (1.23, 0.58, 1.36),
    "vase": (0.94, 1.65, 0.81),
    "person": (0.68, 1.81, 0.40),
}
"""Median extents (x, y, z) of genuine ModelNet40 objects (``../shared/data``'s README),
for the classes outside ModelNet10."""

GENUINE_MODELNET10 = {
    "bathtub": (0.91, 0.59, 1.73),
    "bed": (1.10, 0.63, 1.48),
    "chair": (0.90, 1.47, 0.97),
    "desk": (0.79, 0.79, 1.48),
    "dresser": (0.69, 1.37, 1.20),
    "monitor": (0.58, 1.27, 1.52),
    "night_stand": (0.92, 1.22, 1.12),
    "sofa": (0.82, 0.62, 1.74),
    "table": (0.97, 0.72, 1.58),
    "toilet": (0.90, 1.38, 1.36),
}
"""Median extents of the genuine ModelNet10 train objects (3,928; 105 to 875 per class),
measured for issue 33 and checked against the data where they are at hand."""


def extents(name, n=12, num_points=1024):
    return np.median(
        [np.ptp(sample_object(name, "train", i, num_points)[0], axis=0) for i in range(n)], axis=0
    )


def test_has_at_least_30_modelnet_classes_named_exactly_as_modelnet():
    assert set(REQUIRED) <= set(FAMILIES)
    assert len(FAMILIES) >= 30
    assert set(FAMILIES) <= set(MODELNET40_CLASSES)
    assert list(FAMILIES) == sorted(FAMILIES)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_objects_are_normalised_like_modelnet(name):
    pts, normals = sample_object(name, "test", 3, 2048)
    assert pts.shape == (2048, 3) and pts.dtype == np.float32
    assert np.allclose(pts.mean(0), 0, atol=1e-5)
    assert np.isclose(np.linalg.norm(pts, axis=1).max(), 1.0, atol=1e-5)
    assert np.allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-3)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_points_are_in_random_order(name):
    pts, _ = sample_object(name, "train", 0, 2048)
    consecutive = np.linalg.norm(pts[1:] - pts[:-1], axis=1).mean()
    shuffled = pts[np.random.default_rng(0).permutation(len(pts))]
    random_pairs = np.linalg.norm(shuffled[1:] - shuffled[:-1], axis=1).mean()
    assert consecutive > 0.8 * random_pairs


def test_deterministic_and_seed_dependent():
    a, _ = sample_object("chair", "train", 5, 512, seed=0)
    b, _ = sample_object("chair", "train", 5, 512, seed=0)
    c, _ = sample_object("chair", "train", 5, 512, seed=1)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_objects_of_a_class_differ():
    clouds = [sample_object("table", "train", i, 512)[0] for i in range(6)]
    sizes = np.array([np.ptp(c, axis=0) for c in clouds])
    assert sizes.std(axis=0).max() > 0.05


def test_up_axis_and_facing_follow_modelnet():
    # y is up: tall things are tallest along y, flat things flattest along y
    for tall in ("bottle", "lamp", "vase", "stool", "person", "wardrobe", "door"):
        e = extents(tall)
        assert e[1] == e.max(), tall
    for flat in ("airplane", "guitar", "bowl", "keyboard"):
        e = extents(flat)
        assert e[1] == e.min(), flat
    # screens and doors span y and z and face x
    for upright in ("monitor", "door"):
        e = extents(upright)
        assert e[0] < e[1] and e[0] < e[2], upright


def back_offset(name: str, index: int) -> np.ndarray:
    """Horizontal offset ``(x, z)`` of the top fifth of an object's points from its centre.

    The tall back part (backrest, headboard, tank) of a seat, bed or toilet lies there;
    this is how the facing of genuine ModelNet40 objects was measured.
    """
    pts, _ = sample_object(name, "train", index, 4096)
    high = pts[pts[:, 1] > np.quantile(pts[:, 1], 0.8)]
    return high[:, [0, 2]].mean(0) - pts[:, [0, 2]].mean(0)


@pytest.mark.parametrize(
    ("name", "axis", "sign"), [("chair", 1, 1), ("bed", 1, 1), ("toilet", 1, 1), ("sofa", 0, 1)]
)
def test_backs_face_like_modelnet(name, axis, sign):
    # chair, bed and toilet have their back towards +z, sofa towards +x, in every object
    offsets = np.array([back_offset(name, i) for i in range(8)])
    assert (sign * offsets[:, axis] > 0.02).all(), offsets


@pytest.mark.parametrize("name", MIXED_AXES)
def test_classes_modelnet_mixes_lie_along_both_axes(name):
    # ModelNet40 itself has these with the long side along x in some objects, z in others
    sizes = np.array([np.ptp(sample_object(name, "train", i, 1024)[0], axis=0) for i in range(16)])
    along_z = sizes[:, 2] > sizes[:, 0]
    assert 2 <= along_z.sum() <= 14, sizes


def sizes(name: str, n: int) -> np.ndarray:
    """``(n, 3)`` extents of the first ``n`` training objects of a class."""
    return np.array([np.ptp(sample_object(name, "train", i, 1024)[0], axis=0) for i in range(n)])


@pytest.mark.parametrize("name", ["sofa", "bathtub", "car", "bed", "dresser", "desk"])
def test_long_furniture_runs_along_z_in_every_object(name):
    found = sizes(name, 8)
    assert (found[:, 2] > found[:, 0]).all(), found


@pytest.mark.parametrize("name", ["bookshelf", "mantel", "tv_stand", "tent", "sink"])
def test_wide_fronts_and_tents_run_along_x_in_every_object(name):
    # genuine bookshelves, mantels and TV stands stand with their wide front across x
    # (facing ±z); tents and countertop sinks are longer along x: every object measured
    found = sizes(name, 8)
    assert (found[:, 0] > found[:, 2]).all(), found


def test_people_stand_with_their_shoulders_across_x():
    # both genuine people measured are wider along x (0.68) than deep along z (0.40)
    found = sizes("person", 40)
    assert (found[:, 0] > found[:, 2]).mean() >= 0.6, found


def test_keyboards_lie_mostly_along_x():
    # three of four genuine keyboards lie along x, the fourth along z
    along_x = (sizes("keyboard", 40)[:, 0] > sizes("keyboard", 40)[:, 2]).mean()
    assert 0.55 <= along_x <= 0.95, along_x


@pytest.mark.parametrize("name", sorted(GENUINE))
def test_proportions_follow_genuine_objects(name):
    # the median extent along each axis within 25 % of the genuine objects' (sinks flat,
    # curtains folded deep, vases wider than bottles, TV stands without a television)
    found = np.median(sizes(name, 16), axis=0)
    assert np.allclose(found, GENUINE[name], rtol=0.25, atol=0.03), (found, GENUINE[name])


@pytest.mark.parametrize("name", sorted(GENUINE_MODELNET10))
def test_modelnet10_proportions_follow_genuine_modelnet10(name):
    # within 12 %: measured on hundreds of genuine objects, not a handful
    found = np.median(sizes(name, 24), axis=0)
    wanted = GENUINE_MODELNET10[name]
    assert np.allclose(found, wanted, rtol=0.12, atol=0.03), (found, wanted)


@pytest.mark.skipif(not MODELNET10.is_dir(), reason="../shared/data is not here")
def test_the_modelnet10_medians_are_those_of_the_genuine_data():
    data = load_dataset(MODELNET10, "train", progress=False)
    for name, wanted in GENUINE_MODELNET10.items():
        clouds = data.points[data.labels == data.class_index(name)]
        found = np.median(np.ptp(clouds, axis=1), axis=0)
        assert np.allclose(found, wanted, atol=0.011), (name, found)


def test_tables_run_along_z_unless_round():
    e = extents("table")
    assert e[2] > 1.3 * e[0]


def test_splits_are_cached_and_independent_of_size(fresh_cache):
    small = load_procedural("train", 256, per_class=3, classes=["cup", "vase"], progress=False)
    big = load_procedural("train", 256, per_class=5, classes=["cup", "vase"], progress=False)
    assert small.points.shape == (6, 256, 3)
    assert np.array_equal(small.points[:3], big.points[:3])  # cup objects 0..2
    assert small.classes == ["cup", "vase"] and small.labels.tolist() == [0, 0, 0, 1, 1, 1]
    files = list((fresh_cache / "procedural").glob("*.npz"))
    assert len(files) == 2


def test_corrupt_or_partial_cache_is_regenerated(fresh_cache):
    first = load_procedural("test", 128, per_class=2, classes=["bowl"], progress=False)
    (path,) = (fresh_cache / "procedural").glob("*.npz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    again = load_procedural("test", 128, per_class=2, classes=["bowl"], progress=False)
    assert np.array_equal(first.points, again.points)


def test_normals_on_request(fresh_cache):
    d = load_procedural("test", 64, per_class=1, classes=["cone"], use_normals=True, progress=False)
    assert d.normals.shape == (1, 64, 3)


def test_bad_procedural_requests():
    with pytest.raises(DataError, match="unknown class 'spaceship'"):
        load_procedural("train", 64, per_class=1, classes=["spaceship"])
    with pytest.raises(DataError, match="num_points=20000 must be between 1 and 10000"):
        load_procedural("train", 20000)
    with pytest.raises(DataError, match="unknown split 'valid'"):
        load_procedural("valid")
    with pytest.raises(DataError, match="sampling, normalize, replace and up apply to file"):
        load_dataset("procedural", sampling="fps")


def test_unknown_class_name_lists_valid_ones(fresh_cache):
    d = load_procedural("test", 64, per_class=1, classes=["cone", "cup"], progress=False)
    with pytest.raises(DataError, match="unknown class 'tabel'; valid classes: cone, cup"):
        d.of_class("tabel")
    assert len(d.of_class("cup")) == 1
