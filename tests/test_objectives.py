"""Every objective against a naive version, and its gradient direction (a few steps improve it)."""

import numpy as np
import pytest
import torch

from flowam.errors import FlowamError
from flowam.objectives import (
    Batch,
    BatchStatistics,
    ClassLogit,
    Context,
    Continuity,
    Diversity,
    L2Penalty,
    LatentAlignment,
    Legality,
    LogProbability,
    LogSpacing,
    NormAffine,
    QuantileAlignment,
    TotalVariation,
    batch_norms,
)
from flowam.stats import ClassStatistics, quantile_key, quantiles


def context(points, logits=None, acts=None, targets=(0, 1), stats=None):
    batch = Batch(torch.tensor(targets), [11, 22], stats)
    logits = logits if logits is not None else torch.zeros(len(targets), 3)
    return Context(points, logits, acts or {}, batch)


def cloud(seed=0, n=40, scale=0.5):
    return torch.rand(2, n, 3, generator=torch.Generator().manual_seed(seed)) * 2 * scale - scale


def naive_nearest(p):
    d = np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(len(p)) * 1e9
    return d.min(1)


def test_continuity_matches_eq4_written_out():
    pts = cloud()
    value = Continuity(boundary=1.0)(context(pts))
    for b in range(2):
        p = pts[b].numpy()
        expected = np.abs(1.0 - (naive_nearest(p) + np.linalg.norm(p, axis=1))).sum()
        assert value[b].item() == pytest.approx(-expected, rel=1e-4)
    mean = Continuity(boundary=1.0, reduce="mean")(context(pts))
    assert torch.allclose(mean * 40, value, rtol=1e-5)


def test_nearest_distance_has_the_gradient_of_the_matrix_minimum():
    """Found without a graph, computed from the two points: the value and the gradient of
    differentiating the row minima of the whole distance matrix (float64, 1e-10)."""
    pts = cloud(3).double().requires_grad_(True)
    pts.data[:, 7] = pts.data[:, 3]  # a duplicate: distance 0 to another point
    weights = torch.rand(2, 40, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    fast = context(pts).nearest_distance()
    d = ((pts[:, :, None] - pts[:, None]) ** 2).sum(-1) + torch.eye(40, dtype=torch.float64) * 1e9
    naive = (d.min(dim=-1).values + 1e-12).sqrt()
    torch.testing.assert_close(fast, naive, rtol=1e-10, atol=1e-12)
    (got,) = torch.autograd.grad((fast * weights).sum(), pts)
    (want,) = torch.autograd.grad((naive * weights).sum(), pts)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_spacing_continuity_targets_the_initial_spacing():
    pts = cloud(1)
    term = Continuity(target="spacing")
    term.setup(Batch(torch.tensor([0, 1]), [1, 2]))
    value = term(context(pts))
    p = pts[0].numpy()
    nn = naive_nearest(p)
    assert value[0].item() == pytest.approx(-np.abs(np.median(nn) - nn).sum(), rel=1e-3)


def test_legality_and_l2_and_tv_match_naive_versions():
    pts = cloud(2, scale=1.4)
    legality = Legality(bound=1.0)(context(pts))
    p = pts[0].numpy()
    assert legality[0].item() == pytest.approx(-np.maximum(np.abs(p) - 1.0, 0).sum(), rel=1e-5)
    assert L2Penalty()(context(pts))[0].item() == pytest.approx(-(p**2).sum(), rel=1e-5)
    tv = TotalVariation(k=3)(context(pts))
    d = np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(len(p)) * 1e9
    nbrs = np.argsort(d, axis=1)[:, :3]
    expected = np.mean([np.abs(p[i] - p[nbrs[i]]).sum(1).mean() for i in range(len(p))]) * len(p)
    assert tv[0].item() == pytest.approx(-expected, rel=1e-4)


def test_logit_and_log_probability_pick_the_target():
    logits = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    ctx = context(cloud(), logits, targets=(2, 1))
    assert ClassLogit()(ctx).tolist() == [3.0, -1.0]
    assert torch.allclose(LogProbability()(ctx), torch.log_softmax(logits, 1)[[0, 1], [2, 1]])


def test_latent_alignment_is_cosine_to_the_class_mean_with_optional_noise():
    means = {"fc": torch.tensor([[1.0, 0.0], [0.0, 1.0]])}
    stats = ClassStatistics(["a", "b"], means, np.array([1, 1]))
    act = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    term = LatentAlignment("fc")
    term.setup(Batch(torch.tensor([0, 1]), [1, 2], stats))
    values = term(context(cloud(), acts={"fc": act}, stats=stats))
    assert values.tolist() == pytest.approx([1.0, 2**-0.5], rel=1e-6)
    noisy = LatentAlignment("fc", noise=1.0)
    noisy.setup(Batch(torch.tensor([0, 1]), [1, 2], stats))
    again = LatentAlignment("fc", noise=1.0)
    again.setup(Batch(torch.tensor([0, 1]), [1, 2], stats))
    assert not torch.equal(noisy._targets, term._targets)
    assert torch.equal(noisy._targets, again._targets)  # drawn from the clouds' seeds


def test_diversity_is_minus_the_mean_similarity_to_the_same_copy_of_the_other_restarts():
    targets, copies = [0, 0, 0, 1], 2
    act = torch.randn(len(targets) * copies, 5, generator=torch.Generator().manual_seed(0))
    batch = Batch(torch.tensor(targets), [1, 2, 3, 4])
    ctx = Context(torch.zeros(4, 8, 3), torch.zeros(8, 3), {"g": act}, batch, copies=copies)
    values = Diversity("g")(ctx).view(len(targets), copies)
    unit = act.numpy() / np.linalg.norm(act.numpy(), axis=1, keepdims=True)
    for i, t in enumerate(targets):
        for c in range(copies):
            others = [j for j, u in enumerate(targets) if u == t and j != i]
            sims = [unit[i * copies + c] @ unit[j * copies + c] for j in others]
            expected = -np.mean(sims) if sims else 0.0  # the lone class has no one to differ from
            assert values[i, c].item() == pytest.approx(expected, abs=1e-6)


def test_composition_keeps_terms_and_weights():
    logit, cont = ClassLogit(), Continuity()
    objective = logit + 0.1 * cont - 0.5 * cont
    assert [(round(w, 6), t.name) for w, t in objective.terms()] == [
        (1.0, "logit"),
        (-0.4, "continuity"),
    ]
    pts = cloud(3)
    ctx = context(pts, torch.randn(2, 3))
    assert torch.allclose(objective(ctx), logit(ctx) - 0.4 * cont(ctx))
    assert repr(objective) == "1*logit + -0.4*continuity"


GEOMETRIC = [
    (Continuity(), 1.2),
    (Continuity(target="spacing"), 0.5),
    (Legality(), 1.5),
    (L2Penalty(), 0.5),
    (TotalVariation(k=4), 0.5),
    (LogSpacing(k=3), 0.5),
]


@pytest.mark.parametrize(("term", "scale"), GEOMETRIC, ids=lambda t: getattr(t, "name", ""))
def test_a_few_steps_improve_each_geometric_term(term, scale):
    pts = cloud(4, scale=scale).requires_grad_(True)
    term.setup(Batch(torch.tensor([0, 1]), [1, 2]))
    opt = torch.optim.Adam([pts], lr=0.01)
    first = term(context(pts)).sum().item()
    for _ in range(10):
        opt.zero_grad()
        (-term(context(pts)).sum()).backward()
        opt.step()
    assert term(context(pts)).sum().item() > first


@pytest.mark.parametrize("kind", ["logit", "log_prob", "align", "diversity", "bn", "quantile"])
def test_a_few_steps_improve_model_terms(kind):
    from flowam.hooks import LayerRecorder
    from flowam.models import get_model

    torch.manual_seed(0)
    model = get_model("pointnet", 3).eval().requires_grad_(False)
    quantile = quantile_key("feat.bn3", 8)
    means = {"fc2": torch.randn(3, 256), quantile: torch.randn(3, 1024 * 8)}
    stats = ClassStatistics(["a", "b", "c"], means, np.ones(3))
    terms = {
        "logit": ClassLogit(),
        "log_prob": LogProbability(),
        "align": LatentAlignment("fc2"),
        "bn": BatchStatistics(batch_norms(model, torch.randn(2, 64, 3))),
        "quantile": QuantileAlignment("feat.bn3", 8),
    }
    term = terms.get(kind) or Diversity("fc2")
    batch = Batch(torch.tensor([0, 0] if kind == "diversity" else [0, 2]), [1, 2], stats)
    term.setup(batch)
    pts = cloud(5, n=64).requires_grad_(True)
    opt = torch.optim.Adam([pts], lr=0.01)

    def value():
        with LayerRecorder(model, term.layers) as rec:
            logits = model(pts)
        return term(Context(pts, logits, dict(rec.activations), batch)).sum()

    first = value().item()
    for _ in range(8):
        opt.zero_grad()
        (-value()).backward()
        opt.step()
    assert value().item() > first


def test_batch_statistics_match_deepinversion_over_the_whole_batch():
    """Zero where the batch's standardised statistics are 0 and 1 on every channel; the
    norm of the mean and of the variance's gap otherwise, the first layer weighted."""
    norms = {
        "a": NormAffine(torch.tensor([2.0, -1.0]), torch.tensor([0.5, 3.0])),
        "b": NormAffine(torch.tensor([1.0, 1e-6]), torch.tensor([0.0, 0.0])),
    }
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4, 2, 30, generator=g)
    z = (z - z.mean((0, 2), keepdim=True)) / z.std((0, 2), keepdim=True, unbiased=False)
    a = z * norms["a"].weight[:, None] + norms["a"].bias[:, None]  # standardised: mean 0, var 1
    b = torch.randn(4, 2, generator=g) * 3 + 1  # a head layer (B, C); channel 1 has γ ≈ 0
    ctx = context(torch.zeros(4, 5, 3), torch.zeros(4, 3), {"a": a, "b": b}, targets=(0, 1, 0, 1))
    values = BatchStatistics(norms, first=10.0).value(ctx)
    assert values.shape == (4,) and torch.equal(values, values[0].expand(4))
    var, mean = torch.var_mean(b[:, 0], correction=0)
    expected = 10 * 0.0 + (mean.abs() + (var - 1).abs())  # layer a: nothing to match
    assert torch.allclose(-values[0], expected, atol=1e-5)
    shifted = dict(ctx.activations, a=a + norms["a"].weight[:, None])  # mean off by 1 per channel
    ctx2 = context(ctx.points, ctx.logits, shifted, targets=(0, 1, 0, 1))
    gap = -BatchStatistics(norms, first=10.0).value(ctx2)[0] - expected
    assert torch.allclose(gap, torch.tensor(10 * 2**0.5), atol=1e-4)
    assert BatchStatistics.batchwide
    with pytest.raises(FlowamError, match="batch norms"):
        BatchStatistics({})


def test_batch_norms_come_in_forward_order_with_their_affine_maps():
    from flowam.models import get_model

    torch.manual_seed(0)
    model = get_model("pointnet2_ssg", 3).eval()
    norms = batch_norms(model, torch.rand(2, 512, 3))
    assert next(iter(norms)) == "sa1.mlp_bns.0"  # registered after the head, called first
    assert list(norms)[-2:] == ["bn1", "bn2"]
    assert torch.equal(norms["bn1"].weight, model.bn1.weight)


def test_log_spacing_is_zero_for_even_spacing_and_grows_without_bound_in_a_clump():
    grid = torch.stack(torch.meshgrid(*[torch.arange(4.0)] * 3, indexing="ij"), -1).view(1, 64, 3)
    even = LogSpacing(k=3).value(context(grid.expand(2, -1, -1), targets=(0, 1)))
    assert torch.allclose(even, torch.zeros(2), atol=1e-6)
    clumps = []
    for gap in (1e-1, 1e-3):
        pts = grid.clone()
        pts[0, 1] = pts[0, 0] + gap  # one point moved next to another
        clumps.append(-LogSpacing(k=1).value(context(pts.expand(2, -1, -1), targets=(0, 1)))[0])
    assert 0 < clumps[0] < clumps[1]
    d2 = torch.cdist(grid[0], grid[0]).fill_diagonal_(1e9).topk(1, largest=False).values ** 2
    assert torch.allclose(d2.squeeze(), torch.ones(64))


def test_quantiles_and_quantile_alignment_match_naive_versions():
    g = torch.Generator().manual_seed(3)
    act = torch.randn(2, 3, 10, 4, generator=g)
    q = quantiles(act, 5)
    flat = act.flatten(2).numpy()
    for b in range(2):
        for c in range(3):
            ordered = np.sort(flat[b, c])
            assert np.allclose(q[b, c].numpy(), ordered[[4, 12, 20, 28, 36]])
    with pytest.raises(FlowamError, match="per-point layer"):
        quantiles(torch.randn(2, 3), 4)
    target = torch.randn(3, 15, generator=g)
    stats = ClassStatistics(["a", "b", "c"], {quantile_key("x", 5): target}, np.ones(3))
    term = QuantileAlignment("x", 5)
    term.setup(Batch(torch.tensor([2, 0]), [1, 2], stats))
    ctx = context(torch.zeros(2, 4, 3), acts={"x": act}, targets=(2, 0), stats=stats)
    expected = [
        -((q[i].flatten() - target[t]) ** 2).sum() / (target[t] ** 2).sum()
        for i, t in enumerate((2, 0))
    ]
    assert torch.allclose(term.value(ctx), torch.stack(expected))
    matching = target[2].view(3, 5)[None, :, :].repeat(2, 1, 1)  # sorted already: 0
    term.setup(Batch(torch.tensor([2, 2]), [1, 2], stats))
    ctx = context(torch.zeros(2, 4, 3), acts={"x": matching.sort(-1).values}, targets=(2, 2))
    stats.means[quantile_key("x", 5)][2] = matching[0].sort(-1).values.flatten()
    term.setup(Batch(torch.tensor([2, 2]), [1, 2], stats))
    assert torch.allclose(term.value(ctx), torch.zeros(2), atol=1e-6)
