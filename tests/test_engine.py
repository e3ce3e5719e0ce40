"""The optimisation loop: batching, seeding, stopping, bad values, interruption."""

import dataclasses

import numpy as np
import pytest
import torch
from tests.conftest import SMALL_CLASSES
from torch import nn

from flowam.engine import Run, optimize
from flowam.errors import FlowamError
from flowam.models import get_model
from flowam.objectives import ClassLogit, Continuity, Objective
from flowam.transforms import Transform

CLASSES = SMALL_CLASSES
RUN = Run(steps=12, lr=0.01, optimizer="adam")


@pytest.fixture(scope="module")
def model(small_model):
    return small_model


@pytest.fixture(scope="module")
def real(small_real):
    return small_real


def init(b, n=48, seed=0):
    return torch.rand(b, n, 3, generator=torch.Generator().manual_seed(seed)) - 0.5


def test_batched_run_equals_per_cloud_runs(model):
    objective = ClassLogit() + 0.05 * Continuity()
    start = init(3)
    config, noise = RUN, {"start_noise": 0.05}
    together = optimize(
        model,
        objective,
        start,
        [0, 1, 2],
        CLASSES,
        config,
        seed=3,
        chunk_size=3,
        progress=False,
        **noise,
    )
    for i in range(3):
        alone = optimize(
            model,
            objective,
            start[i : i + 1],
            [i],
            CLASSES,
            config,
            seed=3,
            chunk_size=1,
            progress=False,
            **noise,
        )
        assert np.allclose(alone.points[0], together.points[i], atol=1e-4)
        assert np.allclose(alone.history["logit"][:, 0], together.history["logit"][:, i], atol=1e-3)


def test_history_snapshots_and_improvement(model):
    result = optimize(
        model, ClassLogit(), init(2), [1, 2], CLASSES, RUN, snapshots=[0, 5, 12], progress=False
    )
    assert result.history["logit"].shape == (13, 2)
    assert set(result.history) == {"logit", "objective", "log_prob"}
    assert (result.history["logit"][-1] > result.history["logit"][0]).all()
    assert sorted(result.snapshots) == [0, 5, 12]
    assert np.allclose(result.snapshots[0], result.start)
    assert np.allclose(result.snapshots[12], result.points)
    assert result.steps_run.tolist() == [12, 12] and result.finished


def test_model_is_frozen_during_and_restored_after(model):
    model.train()
    seen = []

    class Spy(Transform):
        def apply(self, points, step, seeds):
            seen.append((model.training, any(p.requires_grad for p in model.parameters())))
            return points

    optimize(
        model,
        ClassLogit(),
        init(1),
        [0],
        CLASSES,
        dataclasses.replace(RUN, steps=2),
        transforms=[Spy()],
        progress=False,
    )
    assert seen == [(False, False), (False, False)]
    assert model.training and all(p.requires_grad for p in model.parameters())
    model.eval()


def test_stopping_rule_on_the_target_log_probability(model):
    loose = optimize(
        model,
        ClassLogit(),
        init(2),
        [0, 1],
        CLASSES,
        dataclasses.replace(RUN, stop_log_prob=-100.0),
        progress=False,
    )
    assert loose.steps_run.tolist() == [0, 0]
    assert np.allclose(loose.points, loose.start)
    strict = optimize(
        model,
        ClassLogit(),
        init(2),
        [0, 1],
        CLASSES,
        dataclasses.replace(RUN, stop_log_prob=-1e-30),
        progress=False,
    )
    assert strict.steps_run.tolist() == [12, 12]


class NaNAfter(Objective):
    name = "fragile"

    def __init__(self, step):
        self.step, self.calls = step, 0

    def value(self, ctx):
        self.calls += 1
        v = ctx.points.mean(dim=(1, 2))
        return v * float("nan") if self.calls > self.step else v


def test_non_finite_value_stops_with_step_and_term_and_keeps_the_last_finite_state(model):
    result = optimize(
        model, ClassLogit() + NaNAfter(3), init(2), [0, 1], CLASSES, RUN, progress=False
    )
    assert result.status == "non-finite value of objective term 'fragile' at step 3"
    assert np.isfinite(result.points).all()
    assert result.steps_run.tolist() == [3, 3]


class InfGradient(Objective):
    name = "spiky"

    def value(self, ctx):
        return ctx.points[:, :1, 0].abs().sqrt()[:, 0] * 0 + (ctx.points[:, 0, 0] * 0).sqrt()


def test_non_finite_gradient_names_the_term(model):
    result = optimize(
        model, ClassLogit() + InfGradient(), init(1), [0], CLASSES, RUN, progress=False
    )
    assert result.status == "non-finite gradient of objective term 'spiky' at step 0"
    assert np.isfinite(result.points).all()


class NaNForFirstCloud(Objective):
    """Non-finite for the first cloud from the fifth evaluation (step 4) on."""

    name = "one-bad"

    def __init__(self):
        self.calls = 0

    def value(self, ctx):
        self.calls += 1
        v = ctx.points.mean(dim=(1, 2))
        if self.calls > 4:
            v = torch.cat([v[:1] * float("nan"), v[1:]])  # no NaN in the others' gradients
        return v


def test_a_non_finite_cloud_stops_alone_and_the_others_run_on(model):
    result = optimize(
        model, ClassLogit() + NaNForFirstCloud(), init(2), [0, 1], CLASSES, RUN, progress=False
    )
    assert result.status == "non-finite value of objective term 'one-bad' at step 4"
    assert result.steps_run.tolist() == [4, 12]
    assert np.isfinite(result.points).all() and np.isfinite(result.history["logit"]).all()
    logit = result.history["logit"]
    assert (logit[4:, 0] == logit[4, 0]).all() and logit[-1, 1] > logit[4, 1]


@pytest.mark.parametrize("every", [5, 16])
def test_looking_at_the_stopping_mask_less_often_changes_nothing(model, monkeypatch, every):
    from flowam import engine

    config = dataclasses.replace(RUN, steps=40, converge_steps=3, converge_tol=0.5)
    args = (model, ClassLogit(), init(3), [0, 1, 2], CLASSES, config)
    each = optimize(*args, progress=False)
    assert each.steps_run.max() < 40  # every cloud stopped early: the loop ended early
    monkeypatch.setitem(engine.HOST_CHECK_EVERY, "cpu", every)
    seldom = optimize(*args, progress=False)
    assert np.array_equal(each.points, seldom.points)
    assert np.array_equal(each.steps_run, seldom.steps_run)
    for k in each.history:
        assert np.array_equal(each.history[k], seldom.history[k]), k


def test_interruption_returns_what_was_computed(model):
    class CtrlC(Transform):
        def apply(self, points, step, seeds):
            if step == 2:
                raise KeyboardInterrupt
            return points

    result = optimize(
        model,
        ClassLogit(),
        init(4),
        [0, 1, 2, 0],
        CLASSES,
        RUN,
        transforms=[CtrlC()],
        chunk_size=2,
        progress=False,
    )
    assert result.status == "stopped at step 2"
    assert len(result) == 2 and result.history["logit"].shape == (13, 2)


def test_model_with_wrong_output_shape_is_refused():
    class TupleModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = get_model("pointnet", 3)

        def forward(self, x):
            return self.net(x), None

    with pytest.raises(FlowamError, match=r"model output is tuple, expected \(B, num_classes\)"):
        optimize(TupleModel().eval(), ClassLogit(), init(1), [0], CLASSES, RUN, progress=False)
    wrong = get_model("pointnet", 5).eval()
    with pytest.raises(FlowamError, match=r"model output is \(1, 5\), expected .* = \(1, 3\)"):
        optimize(wrong, ClassLogit(), init(1), [0], CLASSES, RUN, progress=False)


def test_a_group_is_never_split_across_chunks(model):
    out = optimize(
        model,
        ClassLogit(),
        init(5),
        [0, 0, 1, 1, 2],
        CLASSES,
        RUN,
        group=2,
        chunk_size=3,
        progress=False,
    )
    assert out.config["chunk_size"] == 2  # 3 would split the second pair
    assert (
        optimize(
            model, ClassLogit(), init(1), [0], CLASSES, RUN, group=4, chunk_size=3, progress=False
        ).config["chunk_size"]
        == 4
    )
    with pytest.raises(FlowamError, match="group=0 must be at least 1"):
        optimize(model, ClassLogit(), init(1), [0], CLASSES, RUN, group=0, progress=False)


def test_a_batchwide_term_keeps_the_whole_batch_in_one_chunk(model):
    from flowam.objectives import BatchStatistics, batch_norms

    norms = batch_norms(model, init(2))
    out = optimize(
        model,
        ClassLogit() + 0.01 * BatchStatistics(norms),
        init(5),
        [0, 1, 2, 0, 1],
        CLASSES,
        dataclasses.replace(RUN, steps=2),
        chunk_size=2,
        progress=False,
    )
    assert out.config["chunk_size"] == 5
    values = out.history["bn_stats"]
    assert np.allclose(values, values[:, :1])  # one value for the batch, at every step


def test_a_soft_backward_moves_every_point_and_leaves_the_values_as_they_are(model):
    from flowam.engine import SoftPool

    def run(share):
        config = dataclasses.replace(RUN, steps=1, soft_pool=share)
        return optimize(model, ClassLogit(), init(2, 512), [0, 1], CLASSES, config, progress=False)

    hard, soft = run(0.0), run(1.0)
    assert np.allclose(soft.history["logit"][0], hard.history["logit"][0])  # the model's values
    moved = [(np.abs(r.points - r.start).sum(-1) > 0).mean() for r in (hard, soft)]
    assert moved[0] < 0.9 and moved[1] == 1.0  # the hard max reaches the critical points only
    with pytest.raises(FlowamError, match="soft_pool"):
        SoftPool(0.0)


def test_a_cosine_decay_shrinks_the_last_steps(model):
    def run(decay):
        config = dataclasses.replace(RUN, steps=6, lr=0.05, lr_decay=decay)
        return optimize(
            model, ClassLogit(), init(1), [0], CLASSES, config, snapshots=[5], progress=False
        )

    plain, cosine = run("none"), run("cosine")
    moved = [np.abs(r.points - r.snapshots[5]).max() for r in (plain, cosine)]
    assert moved[1] < 0.1 * moved[0]  # the last step at lr · (1 + cos(5π/6)) / 2 ≈ 0.07 lr
    assert np.allclose(plain.history["logit"][:2], cosine.history["logit"][:2])  # the first full
