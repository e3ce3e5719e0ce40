import numpy as np
import pytest
import torch

from flowam.ops import conv_max, farthest_point_sample, gather_points, square_distance


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


def naive_conv_max(x, weight, bias):
    """The plain way: the whole (B, Cout, N) activation, then max over points."""
    return torch.nn.functional.conv1d(x, weight[:, :, None], bias).max(dim=2).values


@pytest.mark.parametrize("block", [1, 7, 64, 100, 1000])
def test_conv_max_matches_the_naive_version_with_gradients(block):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 5, 100, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(11, 5, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(11, generator=g, dtype=torch.float64, requires_grad=True)
    up = torch.randn(3, 11, generator=g, dtype=torch.float64)
    fused = conv_max(x, w, b, block=block)
    naive = naive_conv_max(x, w, b)
    torch.testing.assert_close(fused, naive)
    grads = torch.autograd.grad((fused * up).sum(), (x, w, b))
    for got, want in zip(grads, torch.autograd.grad((naive * up).sum(), (x, w, b)), strict=True):
        torch.testing.assert_close(got, want)


def test_conv_max_passes_gradcheck():
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, 4, 30, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *t: conv_max(*t, block=7), (x, w, b))


def test_conv_max_propagates_nan_from_any_block_and_checks_block():
    x = torch.randn(2, 4, 50)
    x[1, 2, 40] = float("nan")  # a late block: a running maximum must not drop it
    out = conv_max(x, torch.randn(6, 4), torch.zeros(6), block=16)
    assert out[1].isnan().all() and not out[0].isnan().any()
    with pytest.raises(ValueError, match="block=0"):
        conv_max(x, torch.randn(6, 4), torch.zeros(6), block=0)


def test_conv_max_under_bfloat16_autocast_keeps_the_input_dtypes_in_its_gradients():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 8, 64, generator=g).to(torch.bfloat16).requires_grad_(True)
    w = torch.randn(16, 8, generator=g, requires_grad=True)
    b = torch.randn(16, generator=g, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv_max(x, w, b, block=16)
    gx, gw, gb = torch.autograd.grad(out.float().sum(), (x, w, b))
    assert (gx.dtype, gw.dtype, gb.dtype) == (torch.bfloat16, torch.float32, torch.float32)
    want = naive_conv_max(x.detach().float(), w.detach(), b.detach())
    torch.testing.assert_close(out.float(), want, rtol=0.02, atol=0.05)
