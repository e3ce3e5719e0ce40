import numpy as np
import pytest

from flowam.data.sampling import choose_indices, normalize
from flowam.errors import DataError


def test_normalize_centres_and_fits_unit_sphere():
    pts = np.random.default_rng(0).normal(5.0, 3.0, size=(500, 3))
    out = normalize(pts)
    assert out.dtype == np.float32
    assert np.allclose(out.mean(0), 0, atol=1e-5)
    assert np.isclose(np.linalg.norm(out, axis=1).max(), 1.0, atol=1e-6)


@pytest.mark.parametrize("method", ["first", "random", "fps"])
def test_choose_indices_methods_are_deterministic(method):
    pts = np.random.default_rng(1).random((300, 3))
    a = choose_indices(pts, 64, method, seed=7)
    b = choose_indices(pts, 64, method, seed=7)
    assert a.shape == (64,) and len(set(a.tolist())) == 64
    assert np.array_equal(a, b)


def test_first_random_fps_differ_as_documented():
    pts = np.random.default_rng(2).random((300, 3))
    assert choose_indices(pts, 10, "first").tolist() == list(range(10))
    assert not np.array_equal(
        choose_indices(pts, 10, "random", 1), choose_indices(pts, 10, "random", 2)
    )
    fps = pts[choose_indices(pts, 30, "fps")]
    rnd = pts[choose_indices(pts, 30, "random")]
    spread = lambda p: np.min(np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(len(p)) * 9)  # noqa: E731
    assert spread(fps) > spread(rnd)


def test_too_few_points_is_an_error_unless_replacement_is_allowed():
    pts = np.zeros((5, 3))
    with pytest.raises(DataError, match="obj.txt: has 5 points, fewer than the 8 requested"):
        choose_indices(pts, 8, source="obj.txt")
    idx = choose_indices(pts, 8, replace=True)
    assert len(idx) == 8 and set(idx.tolist()) == set(range(5))


def test_unknown_sampling_method():
    with pytest.raises(DataError, match="unknown sampling method 'grid'"):
        choose_indices(np.zeros((5, 3)), 2, "grid")
