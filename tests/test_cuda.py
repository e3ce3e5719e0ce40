"""CUDA paths: the same results on the GPU as on the CPU. Skipped where no GPU is present."""

import numpy as np
import pytest
import torch

from flowam.engine import Run, optimize
from flowam.metrics import chamfer_distance
from flowam.models import MODELS, get_model
from flowam.objectives import ClassLogit, Continuity, TotalVariation
from flowam.ops import ball_query, farthest_point_sample, knn
from flowam.transforms import GaussianBlur, LegalProjection

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def cloud(b=2, n=512, seed=0):
    return torch.rand(b, n, 3, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_ops_agree_with_the_cpu():
    x = cloud()
    assert torch.equal(farthest_point_sample(x, 64), farthest_point_sample(x.cuda(), 64).cpu())
    centers = x[:, :32]
    assert torch.equal(
        ball_query(0.3, 16, x, centers), ball_query(0.3, 16, x.cuda(), centers.cuda()).cpu()
    )
    assert torch.equal(knn(x.transpose(1, 2), 8), knn(x.cuda().transpose(1, 2), 8).cpu())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_architecture_runs_on_the_gpu_like_on_the_cpu(name):
    torch.manual_seed(0)
    model = get_model(name, 5).eval()
    x = cloud()
    with torch.no_grad():
        cpu = model(x)
        gpu = model.cuda()(x.cuda()).cpu()
    assert torch.allclose(cpu, gpu, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_fast_paths_on_the_gpu_keep_the_function_and_its_gradient(name, exact_convolutions):
    """flowam.speed's paths (folding, fused max pooling, split grouped layers, planar
    sampling) on the GPU against the plain path on the GPU, in float64."""
    from flowam.speed import PLAIN, Speed, prepare

    torch.manual_seed(0)
    model = get_model(name, 5).eval().double().cuda()
    x = cloud().double().cuda().requires_grad_(True)
    outs = {k: prepare(model, [], s)(x) for k, s in (("plain", PLAIN), ("fast", Speed()))}
    grads = {k: torch.autograd.grad(o[:, 1].sum(), x)[0] for k, o in outs.items()}
    torch.testing.assert_close(outs["fast"], outs["plain"], rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(grads["fast"], grads["plain"], rtol=1e-9, atol=1e-11)


@pytest.fixture
def exact_convolutions():
    """cuDNN's TF32 convolutions (its default) round inputs to 10 mantissa bits; turned off
    while the GPU's arithmetic is compared with the CPU's."""
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = before


def engine_run(device, config, steps_transforms=()):
    torch.manual_seed(0)
    model = get_model("pointnet", 3).eval().to(device)
    objective = ClassLogit() + 0.1 * Continuity(target="spacing") - 0.01 * TotalVariation(k=4)
    start = cloud(3, 256) * 0.5
    return optimize(
        model,
        objective,
        start,
        [0, 1, 2],
        ["a", "b", "c"],
        config,
        transforms=list(steps_transforms),
        progress=False,
    )


def test_objective_terms_and_gradients_agree_with_the_cpu(exact_convolutions):
    """What must agree exactly enough: every term at the same points, and one plain
    gradient step (SGD with lr 1 moves each point by its gradient)."""
    config = Run(steps=1, lr=1.0, optimizer="sgd")
    cpu, gpu = engine_run("cpu", config), engine_run("cuda", config)
    assert gpu.config["chunk_size"] == 3  # a GPU takes the whole batch
    for name in cpu.history:
        np.testing.assert_allclose(gpu.history[name][0], cpu.history[name][0], rtol=1e-4, atol=1e-5)
    grad_cpu, grad_gpu = cpu.points - cpu.start, gpu.points - gpu.start
    error = np.linalg.norm(grad_gpu - grad_cpu) / np.linalg.norm(grad_cpu)
    assert error < 1e-3, error


def test_long_adam_runs_reach_the_same_outcome():
    """Adam divides each step by the gradient's running magnitude, so a coordinate whose
    gradient is ~0 on one device and ~1e-9 on the other takes a full step on one only:
    trajectories part point by point (TF32 or not). What must agree is the outcome: the
    target logit reached, and clouds far closer to each other than to their start."""
    config = Run(steps=30, lr=0.003, optimizer="adam")
    transforms = [GaussianBlur(every=5), LegalProjection(1.0)]
    cpu, gpu = engine_run("cpu", config, transforms), engine_run("cuda", config, transforms)
    gained = cpu.history["logit"][-1] - cpu.history["logit"][0]
    apart = np.abs(gpu.history["logit"][-1] - cpu.history["logit"][-1])
    assert (apart <= 0.05 * np.abs(gained) + 1e-3).all(), (apart, gained)
    moved = chamfer_distance(torch.from_numpy(cpu.points), torch.from_numpy(cpu.start), False)
    parted = chamfer_distance(torch.from_numpy(cpu.points), torch.from_numpy(gpu.points), False)
    assert (parted <= 0.2 * moved).all(), (parted, moved)


def test_training_step_on_the_gpu():
    from flowam.train import train_step

    torch.manual_seed(0)
    model = get_model("pointnet", 3).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = cloud(6, 128).cuda(), torch.tensor([0, 1, 2, 0, 1, 2]).cuda()
    losses = [train_step(model, opt, x, y, 0.001)[0] for _ in range(8)]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("preset", ["parts", "parts-boxes", "mesh", "flow"])
def test_the_presets_explain_on_the_gpu(preset):
    """Every parameterization on the GPU: parts (bent and plain boxes), a mesh, points
    (a run of ``faithful`` once failed there: the parts' triangles stayed on the CPU).
    Unmeasured on a GPU so far; it asks only for legal clouds that raise the logit."""
    from flowam.data import PointCloudDataset
    from flowam.explain import Explainer

    torch.manual_seed(0)
    model = get_model("pointnet", 3).eval().cuda()
    pts = cloud(9, 256, seed=1).numpy() * 0.8
    real = PointCloudDataset(pts, np.repeat([0, 1, 2], 3), ["a", "b", "c"])
    result = Explainer(model, real).explain(None, preset, **{"run.steps": 4}, progress=False)
    assert result.points.shape == (3, 256, 3) and np.isfinite(result.points).all()
    assert np.abs(result.points).max() <= 1.0 + 1e-5
    assert (result.history["logit"][-1] > result.history["logit"][0]).mean() >= 2 / 3
