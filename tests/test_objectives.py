"""Every objective against a naive version, and its gradient direction (a few steps improve it)."""

import numpy as np
import pytest
import torch

from flowam.objectives import (
    Batch,
    ClassLogit,
    Context,
    Continuity,
    Diversity,
    L2Penalty,
    LatentAlignment,
    Legality,
    LogProbability,
    TotalVariation,
)
from flowam.stats import ClassStatistics


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


@pytest.mark.parametrize("kind", ["logit", "log_prob", "align", "diversity"])
def test_a_few_steps_improve_model_terms(kind):
    from flowam.hooks import LayerRecorder
    from flowam.models import get_model

    torch.manual_seed(0)
    model = get_model("pointnet", 3).eval().requires_grad_(False)
    stats = ClassStatistics(["a", "b", "c"], {"fc2": torch.randn(3, 256)}, np.ones(3))
    terms = {"logit": ClassLogit(), "log_prob": LogProbability(), "align": LatentAlignment("fc2")}
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
