"""flowam.transforms: what is applied to the clouds between steps (blur, legal projection,
iteration noise)."""

import torch
from tests.test_objectives import cloud

from flowam.transforms import GaussianBlur, IterationNoise, LegalProjection


def test_blur_smooths_and_projection_clamps_and_noise_is_seeded():
    g = torch.Generator().manual_seed(0)
    plane = torch.rand(2, 300, 3, generator=g) * 2 - 1
    plane[..., 2] = 0.05 * torch.randn(2, 300, generator=g)  # a noisy sheet z ~ 0
    rough = plane
    blurred = GaussianBlur(k=8, sigma=1.0).apply(rough, 0, [1, 2])
    assert blurred[..., 2].std() < 0.7 * rough[..., 2].std()
    assert blurred[..., :2].std() > 0.9 * rough[..., :2].std()  # the sheet keeps its extent
    pts = cloud(6)
    assert torch.equal(GaussianBlur(every=3).apply(rough, 0, [1, 2]), rough)  # not its step
    big = cloud(7, scale=2.0)
    assert LegalProjection(1.0).apply(big, 0, [1, 2]).abs().max() <= 1.0
    noise = IterationNoise(0.1)
    assert torch.equal(noise.apply(pts, 5, [1, 2]), noise.apply(pts, 5, [1, 2]))
    assert not torch.equal(noise.apply(pts, 5, [1, 2]), noise.apply(pts, 6, [1, 2]))
