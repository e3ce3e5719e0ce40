"""flowam.explain: the Explainer batches classes and restarts, checks names, draws starts."""

import numpy as np
import pytest
import torch

from flowam.errors import FlowamError
from flowam.explain import Explainer


def test_explainer_batches_classes_and_restarts(small_model, small_real):
    ex = Explainer(small_model, small_real)
    both = ex.explain(["a", "c"], "vanilla", restarts=2, **{"run.steps": 5}, seed=1, progress=False)
    assert both.points.shape == (4, 48, 3)
    assert both.targets.tolist() == [0, 0, 2, 2] and both.restarts.tolist() == [0, 1, 0, 1]
    assert not np.allclose(both.points[0], both.points[1])  # restarts draw their own noise
    single = ex.explain(["c"], "vanilla", restarts=2, **{"run.steps": 5}, seed=1, progress=False)
    assert np.allclose(single.points, both.points[2:], atol=1e-5)


def test_unknown_classes_and_layers_are_refused(small_model, small_real):
    ex = Explainer(small_model, small_real)
    with pytest.raises(FlowamError, match="unknown class 'd'; valid classes: a, b, c"):
        ex.explain(["a", "d"], "vanilla", progress=False)
    with pytest.raises(FlowamError, match="unknown layer 'fc9' in PointNet; did you mean"):
        ex.explain(
            ["a"], "vanilla", objective={"align": {"fc9": 1.0}}, run={"steps": 2}, progress=False
        )


def test_initialisation_noise_makes_restarts_differ(small_model, small_real):
    ex = Explainer(small_model, small_real)
    same = ex.explain(
        ["b"],
        "vanilla",
        **{"param.start": "sphere"},
        restarts=2,
        **{"run.steps": 2},
        progress=False,
    )
    assert np.allclose(same.start[0], same.start[1])
    noisy = ex.explain(
        ["b"],
        "vanilla",
        param={"start": "sphere", "start_noise": "low"},
        restarts=2,
        run={"steps": 2},
        progress=False,
    )
    assert not np.allclose(noisy.start[0], noisy.start[1])
    spread = np.linalg.norm(noisy.start[0] - same.start[0], axis=1).mean()
    assert 0.01 < spread < 0.2  # low amplitude: 0.1 of the cloud's coordinate spread


def test_the_diversity_term_makes_restarts_differ_in_the_global_feature(small_model, small_real):
    from flowam.stats import record

    ex = Explainer(small_model, small_real)
    config = ex.resolve("vanilla", **{"objective.diversity": 1.0})
    assert config.objective.diversity_layer == "fc1:input"  # PointNet's global feature
    assert ex.misfit(config.replace(objective={"diversity_layer": "fc9"})).startswith(
        "its objective.diversity_layer 'fc9' is not a layer of this PointNet"
    )

    def similarity(weight):
        r = ex.explain(
            ["b"],
            "vanilla",
            **{"param.start": "gaussian"},
            restarts=2,
            **{"run.steps": 15, "run.lr": 0.02, "objective.diversity": weight},
            progress=False,
        )
        g = record(small_model, r.points, ["fc1:input"])["fc1:input"]
        return torch.nn.functional.cosine_similarity(g[0], g[1], dim=0).item()

    assert similarity(20.0) < similarity(0.0) - 0.01
