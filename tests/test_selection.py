"""flowam.selection: restarts chosen by the model alone, the most stable of several runs."""

import numpy as np
import torch

from flowam.explain import Explainer
from flowam.methods import load_method, robustness
from flowam.robustness import Robustness
from flowam.seeding import cloud_seed
from flowam.selection import CHECKS, best_of, stability


def test_stability_is_the_mean_less_the_spread_of_the_logit_over_fresh_copies(small_model):
    g = torch.Generator().manual_seed(0)
    points = (torch.rand(3, 48, 3, generator=g) - 0.5).numpy()
    scores = stability(small_model, points, [0, 1, 2], [5, 6, 7], None, step=9, chunk=2)
    checks = Robustness(copies=CHECKS)
    rows = checks(torch.from_numpy(points), 9, [5, 6, 7])
    with torch.no_grad():
        logits = small_model(rows).view(3, CHECKS + 1, -1)[:, 1:]
    picked = torch.stack([logits[i, :, t] for i, t in enumerate([0, 1, 2])])
    assert np.allclose(scores, (picked.mean(1) - picked.std(1)).numpy(), atol=1e-5)
    again = stability(small_model, points, [0, 1, 2], [5, 6, 7], None, step=10)
    assert not np.allclose(again, scores)  # other draws at another step


def test_best_of_takes_the_highest_of_each_run_of_candidates():
    assert best_of(np.array([0.1, 0.5, 0.2, 3.0, 1.0, 3.0]), 3).tolist() == [1, 3]
    assert best_of(np.array([2.0, 1.0]), 1).tolist() == [0, 1]


def test_select_from_keeps_the_most_stable_run_of_each_explanation(small_model, small_real):
    explainer = Explainer(small_model, small_real)
    one = explainer.explain(["a", "c"], "parts", **{"run.steps": 3}, restarts=2, progress=False)
    best = explainer.explain(
        ["a", "c"],
        "parts",
        **{"run.steps": 3},
        restarts=2,
        **{"run.select_from": 3},
        progress=False,
    )
    assert best.points.shape == one.points.shape and best.restarts.tolist() == [0, 1, 0, 1]
    assert best.history["logit"].shape == one.history["logit"].shape
    runs = explainer.explain(["a", "c"], "parts", **{"run.steps": 3}, restarts=6, progress=False)
    seeds = [cloud_seed(0, t, r) for t in (0, 2) for r in range(6)]
    method = robustness(load_method("parts"))
    scores = stability(small_model, runs.points, runs.targets, seeds, method, step=4)
    assert np.array_equal(best.points, runs.points[best_of(scores, 3)])
