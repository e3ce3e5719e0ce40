"""flowam.robustness: transformation robustness, the copies each cloud is scored under."""

import math

import numpy as np
import pytest
import torch
from tests.conftest import SMALL_CLASSES as CLASSES

from flowam.engine import Run, optimize
from flowam.errors import FlowamError
from flowam.methods import load_method
from flowam.objectives import ClassLogit
from flowam.robustness import Robustness


def cloud(b=2, n=64, seed=0):
    return torch.rand(b, n, 3, generator=torch.Generator().manual_seed(seed)) - 0.5


def test_each_cloud_comes_first_then_its_copies_drawn_from_its_own_seed():
    aug = Robustness(copies=3)
    x = cloud(2)
    out = aug(x, step=5, seeds=[11, 12])
    assert out.shape == (8, 64, 3)
    assert torch.equal(out[0], x[0]) and torch.equal(out[4], x[1])
    assert not torch.allclose(out[1], x[0])
    alone = aug(x[1:], step=5, seeds=[12])  # a cloud's copies ignore its batch companions
    assert torch.allclose(alone, out[4:])
    assert torch.allclose(aug(x, 5, [11, 12]), out)  # the same seed and step: the same copies
    assert not torch.allclose(aug(x, 6, [11, 12]), out)


def test_rotation_is_about_the_up_axis_and_within_its_range():
    aug = Robustness(copies=16, yaw=20.0, scale=0.0, shift=0.0, jitter=0.0)
    x = cloud(1)
    copies = aug(x, 0, [3])[1:]
    assert torch.allclose(copies[..., 1], x[0, :, 1].expand(16, -1))  # y untouched
    radius = x[0][:, [0, 2]].norm(dim=-1)
    assert torch.allclose(copies[..., [0, 2]].norm(dim=-1), radius.expand(16, -1), atol=1e-5)
    # the angle of the first point in the x-z plane turned by at most 20 degrees
    before = torch.atan2(x[0, 0, 2], x[0, 0, 0])
    after = torch.atan2(copies[:, 0, 2], copies[:, 0, 0])
    turned = torch.remainder(after - before + math.pi, 2 * math.pi) - math.pi
    assert turned.abs().max() <= math.radians(20) + 1e-5
    assert turned.abs().max() > math.radians(5)  # sixteen draws do turn


def test_dropout_replaces_points_by_the_first_and_gradients_flow():
    aug = Robustness(copies=2, yaw=0, scale=0, shift=0, jitter=0, dropout=0.5)
    x = cloud(1).requires_grad_(True)
    out = aug(x, 0, [1])
    replaced = (out[1:] == x[0, 0]).all(-1)
    assert 0.3 < replaced.float().mean() < 0.7
    out.sum().backward()
    assert x.grad is not None and (x.grad[0, 1:] > 0).all()  # row 0 is the cloud itself


def test_bad_ranges_are_refused_in_one_line():
    for bad in (dict(copies=-1), dict(scale=1.2), dict(dropout=1.0), dict(yaw=-1)):
        with pytest.raises(FlowamError, match="robustness."):
            Robustness(**bad)
    with pytest.raises(FlowamError, match="robustness.copies"):
        load_method("vanilla").replace(robustness={"copies": -1})


def test_the_engine_records_the_clouds_own_logit_and_averages_the_copies(small_model):
    start = cloud(3)
    run = Run(steps=3, lr=0.01, optimizer="adam")
    aug = Robustness(copies=2)
    result = optimize(
        small_model, ClassLogit(), start, [0, 1, 2], CLASSES, run, augment=aug, progress=False
    )
    targets = torch.tensor([[0], [1], [2]])
    with torch.no_grad():
        final = small_model(torch.from_numpy(result.points)).gather(1, targets)[:, 0]
        first = small_model(start).gather(1, targets)[:, 0]
    assert np.allclose(result.history["logit"][-1], final.numpy(), atol=1e-4)
    assert np.allclose(result.history["logit"][0], first.numpy(), atol=1e-4)
    # the objective is the mean over the cloud and its copies, not the cloud alone
    assert not np.allclose(result.history["objective"][0], result.history["logit"][0])


def test_sampling_redraws_each_copy_from_the_cloud_and_starts_sampling_at_random():
    aug = Robustness(copies=3, yaw=0, scale=0, shift=0, jitter=0, sampling=True)
    x = cloud(2, n=50)
    out = aug(x, 4, [5, 6]).view(2, 4, 50, 3)
    assert torch.equal(out[:, 0], x)  # the clouds themselves, as they are
    for b in range(2):
        for copy in out[b, 1:]:  # every point of a copy is a point of its cloud ...
            match = (copy[:, None] == x[b][None]).all(-1)
            assert match.any(1).all()
            assert match.any(0).sum() < 45  # ... drawn with replacement: some go, some repeat
    assert not torch.equal(out[0, 1], out[0, 2])
    assert torch.equal(aug(x, 4, [5, 6]).view(2, 4, 50, 3), out)  # same seed and step
    plain = Robustness(copies=3, yaw=0, scale=0, shift=0, jitter=0)
    assert torch.equal(plain(x, 4, [5, 6]), plain(x, 4, [5, 6]))
    with aug.sampling_context(2):
        from flowam.ops import farthest_point_sample

        starts = farthest_point_sample(out.reshape(8, 50, 3), 4)[:, 0]
    assert (starts.view(2, 4)[:, 1:] == 0).all()  # the copies start at their first point
    assert (starts.view(2, 4)[:, 0] != 0).all()  # the clouds where the model starts
    with pytest.raises(FlowamError, match="robustness.sampling"):
        load_method("vanilla").replace(robustness={"sampling": True})
