"""flowam.damage: damaged models (parameter dropout, cascading randomization), each from one
factory."""

import pytest
import torch
from tests.conftest import trained_like

from flowam.damage import (
    cascading_randomization,
    fully_randomized,
    parameter_dropout,
    randomization_order,
)
from flowam.errors import FlowamError
from flowam.explain import Explainer


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


def test_every_damaged_model_comes_from_one_factory(small_model, small_real):
    from flowam.damage import damaged, fully_randomized, parameter_dropout

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
