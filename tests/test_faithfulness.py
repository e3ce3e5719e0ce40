"""Damaged models (parameter dropout, cascading randomization) and the faithfulness gap."""

import numpy as np
import pytest
import torch

from flowam.compare import compare
from flowam.data import PointCloudDataset
from flowam.errors import FlowamError
from flowam.explain import Explainer
from flowam.faithfulness import (
    cascading_randomization,
    fully_randomized,
    parameter_dropout,
    randomization_order,
)
from flowam.models import get_model


def trained_like(seed=0):
    """A PointNet whose parameters (batch norm included) differ from any fresh init."""
    torch.manual_seed(seed)
    model = get_model("pointnet", 3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def test_parameter_dropout_zeroes_the_given_share_and_leaves_the_original():
    model = trained_like()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert all(
        torch.equal(a, b)
        for a, b in zip(parameter_dropout(model, 0.0).parameters(), model.parameters(), strict=True)
    )
    damaged = parameter_dropout(model, 0.3, seed=1)
    flat = torch.cat([p.flatten() for p in damaged.parameters()])
    orig = torch.cat([p.flatten() for p in model.parameters()])
    zeroed = ((flat == 0) & (orig != 0)).float().mean().item()
    assert zeroed == pytest.approx(0.3, abs=0.01)
    kept = flat != 0
    assert torch.equal(flat[kept], orig[kept])  # survivors are untouched
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    again = torch.cat([p.flatten() for p in parameter_dropout(model, 0.3, seed=1).parameters()])
    assert torch.equal(again, flat)  # seeded
    assert not any(p.any() for p in parameter_dropout(model, 1.0).parameters())
    with pytest.raises(Exception, match="must be in"):
        parameter_dropout(model, 1.5)


def test_cascading_randomization_goes_top_down_one_layer_more_each_stage():
    model = trained_like()
    example = torch.rand(2, 64, 3)
    order = randomization_order(model, example)
    assert order[0] == "fc3" and order[-1] == "feat.stn.conv1"  # output first, input last
    assert len(order) == len(set(order))
    modules = dict(model.named_modules())
    for n in (1, 5):
        damaged = dict(cascading_randomization(model, n, example, seed=0).named_modules())
        for k, name in enumerate(order):
            same = all(
                torch.equal(a, b)
                for a, b in zip(damaged[name].parameters(), modules[name].parameters(), strict=True)
            )
            assert same == (k >= n), (n, name)
    full = fully_randomized(model, example)
    x = torch.rand(4, 64, 3)
    with torch.no_grad():
        assert not torch.allclose(full(x), model(x))
    again = fully_randomized(model, example)
    assert all(
        torch.equal(a, b) for a, b in zip(full.parameters(), again.parameters(), strict=True)
    )


def test_compare_reports_the_faithfulness_gap_against_independent_recognition(tmp_path):
    rng = np.random.default_rng(0)
    real = PointCloudDataset(
        rng.normal(size=(12, 64, 3)).astype(np.float32) * 0.3,
        np.repeat([0, 1, 2], 4),
        ["a", "b", "c"],
        description={"format": "test"},
    )
    explainer = Explainer(trained_like(), real)
    twin = explainer.damaged()
    runs = {"vanilla": ("vanilla", {"steps": 3, "start": "mean"})}
    outcomes = compare(
        explainer,
        runs,
        tmp_path,
        ["a", "c"],
        starts=["mean"],
        pictures=False,
        progress=False,
        randomized=twin,
        log=lambda _: None,
    )
    start = outcomes["start: mean"].summary()
    assert start["faithfulness_gap"] == 0.0  # a start does not depend on the model
    row = outcomes["vanilla"].summary()
    config = explainer.resolve("vanilla", steps=3, start="mean")
    again = twin.explain(["a", "c"], config, progress=False)
    expected = explainer.evaluator(0).references.recognise(again.points, again.targets).rate
    assert row["recognised_randomized"] == pytest.approx(expected)
    assert row["faithfulness_gap"] == pytest.approx(row["recognised_rate"] - expected)
    assert outcomes["vanilla"].flagged == (expected >= 0.25)
    # a "randomized" model that is the trained one draws the same clouds: no gap at all, and
    # the run is flagged exactly when it is recognised at all (independent of the code above)
    same = compare(
        explainer,
        runs,
        tmp_path / "same",
        ["a", "c"],
        pictures=False,
        progress=False,
        randomized=explainer,
        log=lambda _: None,
    )["vanilla"]
    assert same.summary()["faithfulness_gap"] == 0.0
    assert same.summary()["recognised_randomized"] == row["recognised_rate"]
    assert same.flagged == (row["recognised_rate"] >= 0.25)


def test_one_gap_with_its_two_variants():
    from flowam.faithfulness import FLAG_RATE, faithfulness_gap, flagged

    assert faithfulness_gap(0.8, 0.1) == pytest.approx(0.7)  # against the randomized model
    # the strict variant: against whichever damage leaves most recognised
    assert faithfulness_gap(0.8, {"randomized": 0.1, "dropout": 0.3}) == pytest.approx(0.5)
    assert faithfulness_gap(0.2, {"randomized": 0.5}) == pytest.approx(-0.3)
    assert flagged(FLAG_RATE) and not flagged(FLAG_RATE - 0.01) and not flagged(None)


def test_every_damaged_model_comes_from_one_factory(small_model, small_real):
    from flowam.explain import Explainer
    from flowam.faithfulness import damaged, fully_randomized, parameter_dropout

    explainer = Explainer(small_model, small_real)
    example = torch.from_numpy(small_real.points[:2])
    same = [
        (explainer.damaged(seed=3).model, fully_randomized(small_model, example, 3)),
        (explainer.damaged("dropout", 0.5, 1).model, parameter_dropout(small_model, 0.5, 1)),
    ]
    for made, reference in same:
        assert all(
            torch.equal(a, b)
            for a, b in zip(
                made.state_dict().values(), reference.state_dict().values(), strict=True
            )
        )
    top = explainer.damaged("cascade", 1).model  # only the last layer re-initialised
    changed = [
        k for k, v in small_model.state_dict().items() if not torch.equal(v, top.state_dict()[k])
    ]
    assert changed and all(k.startswith(changed[0].rsplit(".", 1)[0]) for k in changed)
    twin = explainer.damaged()
    assert twin.real is explainer.real and twin.model is not explainer.model
    with pytest.raises(FlowamError, match="unknown damage 'melted'"):
        damaged(small_model, "melted", example)
