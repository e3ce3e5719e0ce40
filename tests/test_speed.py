"""The faster paths of flowam.speed against the plain one."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from flowam.engine import Run, optimize
from flowam.errors import FlowamError
from flowam.hooks import LayerRecorder
from flowam.models import MODELS, get_model
from flowam.objectives import ClassLogit, Continuity, LatentAlignment
from flowam.speed import (
    PLAIN,
    TRAINING_PATHS,
    Speed,
    fold_batch_norm,
    prepare,
    switch_paths,
)
from flowam.stats import ClassStatistics

FOLDED = {"pointnet": 15, "dgcnn": 7, "pointnet2_ssg": 11, "pointnet2_msg": 23}
# modules running each fast path by default: PointNet's two T-nets and encoder; DGCNN's
# four EdgeConvs; PointNet++'s set-abstraction levels (split: all but the global one)
PATHS = {
    "pointnet": {"fuse_max_pool": 3, "split_grouped_conv": 0, "fast_sampling": 0},
    "dgcnn": {"fuse_max_pool": 4, "split_grouped_conv": 4, "fast_sampling": 0},
    "pointnet2_ssg": {"fuse_max_pool": 3, "split_grouped_conv": 2, "fast_sampling": 3},
    "pointnet2_msg": {"fuse_max_pool": 3, "split_grouped_conv": 2, "fast_sampling": 3},
}
ALONE = {
    "fold": Speed(fuse_max_pool=False, split_grouped_conv=False, fast_sampling=False),
    "split": Speed(fold_batch_norm=False, fuse_max_pool=False, fast_sampling=False),
    "sampling": Speed(fold_batch_norm=False, fuse_max_pool=False, split_grouped_conv=False),
    "default": Speed(),
}


def with_running_statistics(name: str, classes: int = 5, negative: bool = False) -> nn.Module:
    """An eval-mode model whose batch norms have non-trivial statistics and affine maps
    (with ``negative``, scales of both signs: a decreasing map before a max pooling)."""
    torch.manual_seed(0)
    model = get_model(name, classes)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(-1.5 if negative else 0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def cloud(b=2, n=512):
    return torch.rand(b, n, 3, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize("name", sorted(MODELS))
def test_folding_keeps_the_function(name):
    model = with_running_statistics(name)
    folded, count = fold_batch_norm(model)
    assert count == FOLDED[name]
    x = cloud()
    with torch.no_grad():
        before, after = model(x), folded(x)
    assert torch.allclose(before, after, rtol=1e-4, atol=1e-5)
    assert any(isinstance(m, nn.BatchNorm1d) for m in model.modules())  # the original is kept


def test_folding_leaves_recorded_pairs_alone_and_keeps_hooks_by_name():
    model = with_running_statistics("pointnet")
    layers = ["feat.conv3", "feat.bn2:input", "bn1"]
    folded, count = fold_batch_norm(model, layers)
    assert count == FOLDED["pointnet"] - 2  # conv3's output and bn2's input are recorded
    assert isinstance(folded.feat.bn3, nn.BatchNorm1d) and isinstance(folded.bn1, nn.Identity)
    x = cloud()
    with torch.no_grad(), LayerRecorder(model, layers) as a, LayerRecorder(folded, layers) as b:
        model(x), folded(x)
    for name in layers:
        assert torch.allclose(a[name], b[name], rtol=1e-4, atol=1e-5), name


def test_a_batch_norm_registered_twice_is_replaced_under_both_names():
    model = with_running_statistics("dgcnn")  # bn1 is also conv1.1
    assert model.bn1 is model.conv1[1]
    folded, _ = fold_batch_norm(model)
    assert isinstance(folded.bn1, nn.Identity) and folded.bn1 is folded.conv1[1]
    x = cloud()
    with torch.no_grad(), LayerRecorder(model, ["bn1"]) as a, LayerRecorder(folded, ["bn1"]) as b:
        model(x), folded(x)
    assert torch.allclose(a["bn1"], b["bn1"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("option", sorted(ALONE))
def test_every_fast_path_keeps_the_function_and_its_input_gradient(name, option):
    """Each path alone and all together against the plain path, in float64 (so that only
    the paths' algebra is compared, not float32 rounding): logits and the input gradient
    within 1e-10 relative; batch-norm scales of both signs."""
    model = with_running_statistics(name, negative=True).double()
    x = cloud().double().requires_grad_(True)
    runs = {"plain": prepare(model, [], PLAIN), option: prepare(model, [], ALONE[option])}
    assert runs["plain"] is model
    outs = {k: net(x) for k, net in runs.items()}
    grads = {k: torch.autograd.grad(out[:, 1].sum(), x)[0] for k, out in outs.items()}
    torch.testing.assert_close(outs[option], outs["plain"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grads[option], grads["plain"], rtol=1e-10, atol=1e-12)
    if option == "default":
        counts = {
            p: sum(bool(getattr(m, p, False)) for m in runs[option].modules()) for p in PATHS[name]
        }
        assert counts == PATHS[name]


@pytest.mark.parametrize("name", ["dgcnn", "pointnet2_ssg", "pointnet2_msg"])
def test_the_training_paths_keep_training_exact(name):
    """In training mode (batch statistics), the split first layer and the planar
    sampling give the plain path's loss and weight gradients (float64: within 1e-8 of
    the gradient's norm, or 1e-8 where a bias before a batch norm has gradient 0)."""
    torch.manual_seed(3)
    plain = get_model(name, 4).double().train()
    fast = copy.deepcopy(plain)
    counts = switch_paths(fast, Speed(), paths=TRAINING_PATHS)
    assert counts["split_grouped_conv"] > 0 and counts["fuse_max_pool"] == 0
    x = cloud().double()

    def loss(net):
        torch.manual_seed(5)  # the same dropout masks
        return net(x).logsumexp(1).sum()

    losses = [loss(plain), loss(fast)]
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-10, atol=0)
    names = [key for key, _ in plain.named_parameters()]
    want = torch.autograd.grad(losses[0], list(plain.parameters()))
    got = torch.autograd.grad(losses[1], list(fast.parameters()))
    for key, a, b in zip(names, want, got, strict=True):  # a bias before a norm: gradient 0
        assert (b - a).norm() <= 1e-8 * a.norm() + 1e-8, key


def test_switch_paths_turns_paths_off_too_and_prepare_copies_a_switched_model():
    model = with_running_statistics("dgcnn")
    switch_paths(model, Speed(), paths=TRAINING_PATHS)
    assert model.conv1.split_grouped_conv
    plain = prepare(model, [], PLAIN)  # the caller's switched model is not run as it is
    assert plain is not model and not plain.conv1.split_grouped_conv
    assert switch_paths(model, PLAIN)["split_grouped_conv"] == 0


def test_fused_max_pooling_needs_folded_norms():
    model = with_running_statistics("pointnet")
    fused, _ = fold_batch_norm(model)
    assert switch_paths(fused, Speed())["fuse_max_pool"] == 3
    assert switch_paths(model, Speed())["fuse_max_pool"] == 0  # unfolded: bn3 must run


@pytest.mark.parametrize(
    ("name", "layers", "plain"),
    [
        ("dgcnn", ["conv2"], ["conv2"]),  # the block's own hook: both paths skip it
        ("dgcnn", ["bn3"], ["conv3"]),  # the split path still runs the norm (unfused)
        ("pointnet2_ssg", ["sa1.mlp_convs.1"], ["sa1"]),
        ("pointnet2_ssg", ["sa2.mlp_convs.0:input"], ["sa2"]),
    ],
)
def test_recorded_layers_keep_the_plain_path_and_see_the_same_values(name, layers, plain):
    model = with_running_statistics(name).double()  # float64: neighbour orders of the
    run = prepare(model, layers, Speed())  # recorded edges would differ by rounding
    fused = {n for n, m in run.named_modules() if getattr(m, "fuse_max_pool", False)}
    assert not fused & set(plain)
    assert fused  # the other modules run fast
    x = cloud().double()
    with torch.no_grad(), LayerRecorder(run, layers) as a, LayerRecorder(model, layers) as b:
        run(x), model(x)
    for layer in layers:
        torch.testing.assert_close(a[layer], b[layer], rtol=1e-10, atol=1e-10)


def test_fusion_leaves_recorded_layers_alone_and_follows_the_speed_options():
    model = with_running_statistics("pointnet")
    run = prepare(model, ["feat.conv3", "feat.stn.bn3:input"], Speed())
    fused = [n for n, m in run.named_modules() if getattr(m, "fuse_max_pool", False)]
    assert fused == ["feat.fstn"]  # the encoder's conv3 and the input T-net's bn3 recorded
    assert isinstance(run.feat.bn3, nn.BatchNorm1d)  # recorded: not folded either
    plain = prepare(model, [], Speed(fuse_max_pool=False))
    assert not any(getattr(m, "fuse_max_pool", False) for m in plain.modules())
    assert prepare(model, [], PLAIN) is model
    x = cloud()
    layer = ["feat.conv3"]
    with torch.no_grad(), LayerRecorder(run, layer) as a, LayerRecorder(model, layer) as b:
        run(x), model(x)
    torch.testing.assert_close(a["feat.conv3"], b["feat.conv3"], rtol=1e-4, atol=1e-4)


def test_folding_needs_eval_mode_and_precision_is_checked():
    with pytest.raises(FlowamError, match="eval-mode"):
        fold_batch_norm(get_model("pointnet", 3).train())
    with pytest.raises(FlowamError, match="precision='fp16'"):
        Speed(precision="fp16")


def run(speed, steps, optimizer="adam", lr=0.01):
    """The bundled PointNet explaining three classes from a sphere, with latent alignment
    on ``fc2`` (whose pair with ``bn2`` therefore stays unfolded)."""
    from flowam.models import load_classifier
    from flowam.param.points import fibonacci_sphere

    model, info = load_classifier()
    objective = ClassLogit() + 0.1 * Continuity() + 0.01 * LatentAlignment("fc2")
    means = {"fc2": torch.randn(3, 256, generator=torch.Generator().manual_seed(2)).abs()}
    stats = ClassStatistics(info.classes, means, np.ones(3))
    config = Run(steps=steps, lr=lr, optimizer=optimizer)
    start = torch.from_numpy(fibonacci_sphere(info.num_points))[None].repeat(3, 1, 1)
    return optimize(
        model,
        objective,
        start,
        [0, 1, 2],
        info.classes,
        config,
        stats=stats,
        speed=speed,
        progress=False,
    )


def test_the_folded_engine_takes_the_plain_engines_step():
    """Terms at the same points and one gradient step (SGD, lr 1: the gradient itself),
    with batch norms folded and max pooling fused (the default)."""
    plain, fast = run(PLAIN, 1, "sgd", 1.0), run(Speed(), 1, "sgd", 1.0)
    want = {
        "fold_batch_norm": True,
        "fuse_max_pool": True,
        "split_grouped_conv": True,
        "fast_sampling": True,
        "precision": "fp32",
    }
    assert fast.config["speed"] == want
    for name in plain.history:
        np.testing.assert_allclose(fast.history[name][0], plain.history[name][0], rtol=1e-5)
    g_plain, g_fast = plain.points - plain.start, fast.points - fast.start
    assert np.linalg.norm(g_fast - g_plain) <= 1e-4 * np.linalg.norm(g_plain)


def test_bf16_explanations_stay_near_fp32():
    """bfloat16 keeps ~3 significant digits of the activations: after 40 Adam steps the
    target logit reached differs by under 5 % of what the run gained."""
    plain, half = run(PLAIN, 40), run(Speed(precision="bf16"), 40)
    gained = plain.history["logit"][-1] - plain.history["logit"][0]
    apart = np.abs(half.history["logit"][-1] - plain.history["logit"][-1])
    assert (apart <= 0.05 * np.abs(gained)).all(), (apart, gained)


def test_speed_options_reach_the_engine_from_the_command_line(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    import json

    from conftest import run_cli

    out = tmp_path / "explain"
    args = ["explain", "--model", str(tiny_model), "--data", str(tiny_data), "--method"]
    args += ["vanilla", "--steps", "2", "--no-fold-batch-norm", "--no-fuse-max-pool"]
    args += ["--no-split-grouped-conv", "--no-fast-sampling", "--precision", "bf16"]
    code, _, err = run_cli([*args, "--out", str(out)], monkeypatch, capsys)
    assert code == 0, err
    record = json.loads(next((out / "vanilla").glob("box_0.json")).read_text())
    speed = {
        "fold_batch_norm": False,
        "fuse_max_pool": False,
        "split_grouped_conv": False,
        "fast_sampling": False,
        "precision": "bf16",
    }
    assert record["config"]["speed"] == speed
    other = tmp_path / "other"
    code, _, err = run_cli([*args[:-1], "fp16", "--out", str(other)], monkeypatch, capsys)
    assert code == 1 and "precision='fp16'" in err and "Traceback" not in err
    assert not other.exists()  # a refused option leaves no folder behind


def test_the_speed_options_are_declared_once_and_embedded_where_they_are_taken(tmp_path):
    import dataclasses

    from flowam.cli.options import built, flat_fields
    from flowam.cli.training import TRAINING_SKIPS
    from flowam.subject import Subject
    from flowam.train import TrainConfig

    speed = [f.name for f in dataclasses.fields(Speed)]
    assert all(f.metadata["help"] for f in dataclasses.fields(Speed))  # one declaration
    for config in (Subject, TrainConfig):
        names = [f.name for f in dataclasses.fields(config)]
        assert "speed" in names and not set(speed) & set(names), config
        assert set(speed) <= {f.name for f in flat_fields(config)}  # its options, flat
    trained = {f for f in speed if f not in TRAINING_SKIPS}
    assert trained == set(TRAINING_PATHS)  # train takes only the paths exact in training
    subject = built(Subject, {"model": "bundled:dgcnn", "fast_sampling": False})
    assert subject.model == "bundled:dgcnn" and subject.speed == Speed(fast_sampling=False)
    config = built(TrainConfig, {"out": str(tmp_path), "split_grouped_conv": False})
    assert config.speed == Speed(split_grouped_conv=False)
    # a config.json written before the embedding held the speed options flat
    old = Subject.read({"model": "bundled", "precision": "bf16"}, "config.json")
    assert old.speed == Speed(precision="bf16")
    new = Subject.read(dataclasses.asdict(old), "config.json")
    assert new == old
    with pytest.raises(FlowamError, match="config.json: fast_sampling=1 is not a bool"):
        Subject.read({"speed": {"fast_sampling": 1}}, "config.json")
