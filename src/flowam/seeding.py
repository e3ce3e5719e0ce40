"""Every random stream of an explanation, derived from the run's seed in one place.

A run's ``--seed`` gives each cloud its own seed (:func:`cloud_seed`: a function of the
run seed, the cloud's class and its restart only, so a cloud is the same whether it is
optimised alone, in a chunk or beside other classes). Each use of randomness then draws
from its own stream of that cloud seed (:data:`STREAMS`), and where it changes every step,
of the step too: :func:`generator` (torch) and :func:`rng` (numpy).

The streams' formulas are those the project has always used, so every result recorded in
RESULTS.md reproduces; they only need to differ from each other.
"""

from __future__ import annotations

import numpy as np
import torch

LIMIT = 2**63 - 1
STREAMS: dict[str, tuple[int, int, int]] = {
    # name: (multiplier of the cloud seed, multiplier of the step, offset)
    "start": (1, 0, 0),  # the Gaussian start and the noise added to any start
    "parts": (1, 0, 7),  # where an assembly draws its points (one generator for the run)
    "mesh": (1, 0, 11),  # where a mesh draws its points (one generator for the run)
    "latent_noise": (1, 0, 7_919),  # noise on the class-mean activations (S1-D)
    "step_noise": (100_003, 1, 0),  # noise after every step (S1-D)
    "robustness": (7_919, 104_729, 3),  # the transformed copies of each step
    "sampling": (7_907, 104_723, 13),  # the re-sampling of each copy (robust_sampling)
}
"""Each stream's seed is ``(cloud seed × a + step × b + c) mod (2⁶³ − 1)``."""


def cloud_seed(seed: int, target: int, restart: int) -> int:
    """The seed of one cloud: a function of the run seed, its class and restart only."""
    return (seed * 1_000_003 + target * 10_007 + restart * 101 + 17) % (2**31 - 1)


def stream_seed(cloud: int, stream: str, step: int = 0) -> int:
    """The seed of ``stream`` (a key of :data:`STREAMS`) of one cloud at ``step``."""
    a, b, c = STREAMS[stream]
    return (int(cloud) * a + step * b + c) % LIMIT


def generator(cloud: int, stream: str, step: int = 0) -> torch.Generator:
    """A CPU torch generator of ``stream`` of one cloud at ``step``."""
    return torch.Generator().manual_seed(stream_seed(cloud, stream, step))


def rng(cloud: int, stream: str, step: int = 0) -> np.random.Generator:
    """A numpy generator of ``stream`` of one cloud at ``step``."""
    return np.random.default_rng(stream_seed(cloud, stream, step))
