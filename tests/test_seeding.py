"""The random streams of a run: each the formula its use always had (so recorded results
reproduce), all distinct for one cloud, and a cloud's seed independent of its batch."""

import numpy as np
import pytest
import torch

from flowam.seeding import STREAMS, cloud_seed, generator, rng, stream_seed

# the formulas each use wrote inline before flowam.seeding (RESULTS.md was made with them)
FORMER = {
    "start": lambda s, step: s,
    "parts": lambda s, step: s + 7,
    "mesh": lambda s, step: s + 11,
    "latent_noise": lambda s, step: s + 7919,
    "step_noise": lambda s, step: s * 100_003 + step,
    "robustness": lambda s, step: (s * 7_919 + step * 104_729 + 3) % (2**63 - 1),
    # streams added after flowam.seeding: the formula they were introduced with
    "sampling": lambda s, step: (s * 7_907 + step * 104_723 + 13) % (2**63 - 1),
}


@pytest.mark.parametrize("stream", sorted(STREAMS))
@pytest.mark.parametrize("seed", [0, 3, 2**31 - 2])
def test_every_stream_is_its_former_formula(stream, seed):
    for step in (0, 1, 299):
        assert stream_seed(seed, stream, step) == FORMER[stream](seed, step)
    draw = torch.rand(3, generator=generator(seed, stream, 5))
    again = torch.rand(3, generator=torch.Generator().manual_seed(FORMER[stream](seed, 5)))
    assert torch.equal(draw, again)
    assert rng(seed, stream, 5).random() == np.random.default_rng(FORMER[stream](seed, 5)).random()


def test_streams_differ_and_cloud_seeds_depend_on_class_and_restart_only():
    cloud = cloud_seed(0, 5, 1)
    assert len({stream_seed(cloud, s, 1) for s in STREAMS}) == len(STREAMS)
    seeds = {cloud_seed(seed, t, r) for seed in range(3) for t in range(40) for r in range(4)}
    assert len(seeds) == 3 * 40 * 4
    assert cloud_seed(7, 2, 3) == (7 * 1_000_003 + 2 * 10_007 + 3 * 101 + 17) % (2**31 - 1)
