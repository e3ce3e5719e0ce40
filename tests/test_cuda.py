"""CUDA paths: the same results on the GPU as on the CPU. Skipped where no GPU is present."""

import numpy as np
import pytest
import torch

from flowam.engine import optimize
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


def test_engine_on_the_gpu_matches_the_cpu():
    torch.manual_seed(0)
    model = get_model("pointnet", 3).eval()
    objective = ClassLogit() + 0.1 * Continuity(target="spacing") - 0.01 * TotalVariation(k=4)
    config = {"steps": 10, "lr": 0.003, "optimizer": "adam"}
    transforms = [GaussianBlur(every=5), LegalProjection(1.0)]
    start = cloud(3, 256) * 0.5
    cpu, gpu = (
        optimize(
            model.to(device),
            objective,
            start,
            [0, 1, 2],
            ["a", "b", "c"],
            config,
            transforms=transforms,
            progress=False,
        )
        for device in ("cpu", "cuda")
    )
    assert gpu.config["chunk_size"] == 3  # a GPU takes the whole batch
    assert np.allclose(cpu.points, gpu.points, atol=1e-3)
    assert np.allclose(cpu.history["logit"], gpu.history["logit"], atol=1e-2)


def test_training_step_on_the_gpu():
    from flowam.train import train_step

    torch.manual_seed(0)
    model = get_model("pointnet", 3).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = cloud(6, 128).cuda(), torch.tensor([0, 1, 2, 0, 1, 2]).cuda()
    losses = [train_step(model, opt, x, y, 0.001)[0] for _ in range(8)]
    assert losses[-1] < losses[0]
