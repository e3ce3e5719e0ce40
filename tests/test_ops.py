import numpy as np
import pytest
import torch

from flowam.ops import farthest_point_sample, gather_points, square_distance


def naive_fps(points: np.ndarray, k: int, start: int) -> list[int]:
    chosen = [start]
    for _ in range(k - 1):
        d = np.min([((points - points[c]) ** 2).sum(1) for c in chosen], axis=0)
        chosen.append(int(np.argmax(d)))
    return chosen


def test_fps_matches_naive_version_and_starts_farthest_from_centroid():
    g = torch.Generator().manual_seed(0)
    pts = torch.rand(3, 200, 3, generator=g, dtype=torch.float64)
    idx = farthest_point_sample(pts, 17)
    for b in range(3):
        p = pts[b].numpy()
        start = int(np.argmax(((p - p.mean(0)) ** 2).sum(1)))
        assert idx[b].tolist() == naive_fps(p, 17, start)


def test_fps_ignores_storage_order():
    pts = torch.rand(1, 300, 3, generator=torch.Generator().manual_seed(1))
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(2))
    a = gather_points(pts, farthest_point_sample(pts, 32))
    b = gather_points(pts[:, perm], farthest_point_sample(pts[:, perm], 32))
    assert torch.equal(a, b)


def test_fps_rejects_k_out_of_range():
    with pytest.raises(ValueError, match="k=5"):
        farthest_point_sample(torch.zeros(1, 4, 3), 5)


def test_square_distance_and_gather_match_naive_versions():
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(2, 7, 3, generator=g), torch.randn(2, 5, 3, generator=g)
    naive = ((a[:, :, None] - b[:, None]) ** 2).sum(-1)
    assert torch.allclose(square_distance(a, b), naive, atol=1e-5)
    idx = torch.tensor([[0, 2], [4, 4]])
    assert torch.equal(gather_points(a, idx)[1, 0], a[1, 4])
    assert gather_points(a, idx[:, :, None].expand(2, 2, 3)).shape == (2, 2, 3, 3)
