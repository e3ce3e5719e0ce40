"""flowam.param.surface: the drawing steps meshes and parts share, against naive versions."""

import numpy as np
import torch

from flowam.param.surface import into_unit_sphere, stratified_pick


def test_stratified_pick_matches_a_loop_over_the_cumulative_areas():
    gen = torch.Generator().manual_seed(0)
    areas = torch.rand(3, 7, generator=gen) + torch.tensor([0.0, 0, 2, 0, 0, 0, 0])
    areas[1, 4] = 0.0  # an element without area never gets a point
    u = torch.rand(3, 50, generator=gen)
    picked = stratified_pick(areas, u)
    for b in range(3):
        cdf = torch.cumsum(areas[b], 0)
        for i in range(50):
            target = (i + u[b, i]) / 50 * cdf[-1]
            assert int(picked[b, i]) == next(e for e in range(7) if cdf[e] >= target)
        counts = np.bincount(picked[b].numpy(), minlength=7)
        share = (areas[b] / areas[b].sum() * 50).numpy()
        assert np.abs(counts - share).max() < 2  # each element its share, up to the strata it
        # shares with its neighbours (a multinomial draw scatters by sqrt(share))
    assert (picked[1] != 4).all()


def test_into_unit_sphere_centres_and_scales_then_clamps():
    gen = torch.Generator().manual_seed(1)
    clouds = torch.randn(4, 100, 3, generator=gen) * 3 + 5
    unit = into_unit_sphere(clouds, bound=1.0)
    assert torch.allclose(unit.mean(1), torch.zeros(4, 3), atol=1e-6)
    assert torch.allclose(unit.norm(dim=-1).amax(1), torch.ones(4))
    assert into_unit_sphere(clouds, bound=0.5).abs().max() <= 0.5
