import numpy as np
import pytest
import torch

from flowam.ops import (
    ball_query,
    conv_max,
    farthest_point_sample,
    first_point_starts,
    gather_max,
    gather_points,
    grouped_mlp_max,
    knn,
    max_last,
    max_pool,
    soft_max_backward,
    square_distance,
)


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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_planar_fps_gives_the_reference_loops_indices(dtype, scale):
    """The same indices, not merely close ones: each distance is computed with the same
    operations in the same order. Duplicated points make exact ties."""
    g = torch.Generator().manual_seed(7)
    pts = torch.randn(5, 257, 3, generator=g, dtype=dtype) * scale
    pts[:, 100:140] = pts[:, :40]  # duplicates: ties that argmax must break alike
    for k in (1, 2, 64, 257):
        fast = farthest_point_sample(pts, k)
        assert torch.equal(fast, farthest_point_sample(pts, k, planar=False)), k
    start = torch.tensor([3, 0, 256, 9, 9])
    assert torch.equal(
        farthest_point_sample(pts, 50, start), farthest_point_sample(pts, 50, start, False)
    )


def test_sampling_and_neighbour_indices_record_no_graph():
    pts = torch.rand(2, 64, 3, requires_grad=True)
    centers = pts[:, :8]
    for idx in (
        farthest_point_sample(pts, 8),
        ball_query(0.3, 4, pts, centers),
        knn(pts.transpose(1, 2), 5),
    ):
        assert idx.dtype == torch.long and idx.grad_fn is None


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


def test_gather_max_matches_the_naive_version_with_gradients_and_ties():
    g = torch.Generator().manual_seed(8)
    f = torch.randn(3, 40, 7, generator=g, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(0, 40, (3, 25, 6), generator=g)
    idx[:, :, 3] = idx[:, :, 1]  # the same neighbour twice: an exact tie
    up = torch.randn(3, 25, 7, generator=g, dtype=torch.float64)
    fused, naive = gather_max(f, idx), gather_points(f, idx).max(dim=2).values
    assert torch.equal(fused, naive)
    (got,) = torch.autograd.grad((fused * up).sum(), f)
    (want,) = torch.autograd.grad((naive * up).sum(), f)
    assert torch.equal(got, want)  # one neighbour per tie receives the gradient, as max()
    assert torch.autograd.gradcheck(lambda x: gather_max(x, idx), (f,))


def test_gather_max_propagates_nan_and_checks_k():
    f = torch.randn(1, 10, 3)
    f[0, 4, 1] = float("nan")
    idx = torch.tensor([[[0, 4, 2], [1, 2, 3]]])
    out = gather_max(f, idx)
    assert out[0, 0, 1].isnan() and not out[0, 1].isnan().any()
    with pytest.raises(ValueError, match="k=0"):
        gather_max(f, idx[:, :, :0])


def naive_grouped_mlp_max(per_point, per_group, idx, layers):
    """The plain way: every group's full activations, then max over the group."""
    h = gather_points(per_point, idx) - per_group[:, :, None]
    for i, (w, b) in enumerate(layers):
        h = torch.relu(h) @ w.T
        h = h + b if i < len(layers) - 1 else h
    return h.max(dim=2).values + layers[-1][1]


@pytest.mark.parametrize("block", [1, 3, 64])
def test_grouped_mlp_max_matches_the_naive_version_with_every_gradient(block):
    g = torch.Generator().manual_seed(9)

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)

    per_point, per_group = rand(2, 30, 5), rand(2, 7, 5)
    idx = torch.randint(0, 30, (2, 7, 6), generator=g)
    idx[:, :, 4:] = idx[:, :, :1]  # ball query pads with its first neighbour: ties
    layers = [(rand(8, 5), rand(8)), (rand(4, 8), rand(4))]
    inputs = (per_point, per_group, *[t for layer in layers for t in layer])
    up = torch.randn(2, 7, 4, generator=g, dtype=torch.float64)
    fused = grouped_mlp_max(per_point, per_group, idx, layers, block=block)
    naive = naive_grouped_mlp_max(per_point, per_group, idx, layers)
    torch.testing.assert_close(fused, naive)
    got = torch.autograd.grad((fused * up).sum(), inputs)
    want = torch.autograd.grad((naive * up).sum(), inputs)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)


def test_grouped_mlp_max_passes_gradcheck_and_checks_its_options():
    g = torch.Generator().manual_seed(10)
    per_point = torch.randn(1, 12, 3, generator=g, dtype=torch.float64, requires_grad=True)
    per_group = torch.randn(1, 4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(0, 12, (1, 4, 5), generator=g)
    w = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda p, q, w, b: grouped_mlp_max(p, q, idx, [(w, b)], block=3),
        (per_point, per_group, w, b),
    )
    with pytest.raises(ValueError, match="at least one layer"):
        grouped_mlp_max(per_point, per_group, idx, [])
    with pytest.raises(ValueError, match="block=0"):
        grouped_mlp_max(per_point, per_group, idx, [(w, b)], block=0)


@pytest.mark.parametrize("n", [256, 96, 7])
def test_max_last_gives_max_values_and_first_indices(n):
    g = torch.Generator().manual_seed(11)
    y = torch.randint(0, 4, (3, 50, n), generator=g).float()  # many exact ties
    y[1, 3, 5 % n] = float("nan")
    for data in (y, torch.randn(3, 50, n, generator=g)):
        (values, indices), want = max_last(data), data.max(dim=-1)
        assert torch.equal(indices, want.indices)
        torch.testing.assert_close(values, want.values, equal_nan=True)


def test_max_pool_is_max_and_its_soft_backward_weights_by_softmax():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 40, generator=g, dtype=torch.float64, requires_grad=True)
    up = torch.randn(2, 5, generator=g, dtype=torch.float64)
    (hard,) = torch.autograd.grad((max_pool(x, 2) * up).sum(), x)
    assert torch.equal(max_pool(x, 2), x.max(dim=2).values)
    assert torch.equal(hard, torch.autograd.grad((x.max(dim=2).values * up).sum(), x)[0])
    with soft_max_backward(0.5):
        value = max_pool(x, 2)
        (soft,) = torch.autograd.grad((value * up).sum(), x)
    assert torch.equal(value, x.max(dim=2).values)  # the forward pass is the model's
    spread = x.detach().std(dim=2, keepdim=True) * 0.5
    naive = torch.softmax(x.detach() / spread, dim=2) * up[..., None]
    assert torch.allclose(soft, naive)
    assert torch.allclose(soft.sum(2), up)  # as much gradient as the hard max passes
    assert (soft != 0).all() and (hard != 0).sum() == 10
    with soft_max_backward(1e-3):  # a cold softmax is the hard max
        (cold,) = torch.autograd.grad((max_pool(x, 2) * up).sum(), x)
    assert torch.allclose(cold, hard)
    with pytest.raises(ValueError, match="temperature"), soft_max_backward(0.0):
        pass


def test_first_point_starts_start_the_marked_sets_at_their_first_point():
    g = torch.Generator().manual_seed(1)
    pts = torch.rand(3, 64, 3, generator=g)
    default = farthest_point_sample(pts, 8)
    with first_point_starts(torch.tensor([True, False, True])):
        marked = farthest_point_sample(pts, 8)
        other_size = farthest_point_sample(pts[:2], 8)  # another batch size: unchanged
    assert marked[0].tolist() == naive_fps(pts[0].numpy(), 8, 0)
    assert marked[2].tolist() == naive_fps(pts[2].numpy(), 8, 0)
    assert torch.equal(marked[1], default[1]) and default[0, 0] != 0
    assert torch.equal(other_size, default[:2])
    assert torch.equal(farthest_point_sample(pts, 8), default)  # the block ended
