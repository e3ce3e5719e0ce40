"""flowam.methods: method configurations, the presets, and what they build."""

import numpy as np
import pytest
import torch

from flowam.damage import fully_randomized
from flowam.errors import FlowamError, FlowamWarning
from flowam.explain import Explainer
from flowam.methods import (
    RENAMED,
    MethodConfig,
    build,
    coerce,
    load_method,
    parse_weight,
    preset_names,
)
from flowam.metrics.chamfer import chamfer_distance
from flowam.objectives import Continuity, LatentAlignment, Legality
from flowam.transforms import GaussianBlur, LegalProjection

# What each preset optimises, as its description in docs/methods.md's table says: the
# objective's terms and the transforms applied after each step.
PRESET_TERMS = {
    "vanilla": (["ClassLogit"], []),
    "l2": (["ClassLogit", "L2Penalty"], []),
    "blur": (["ClassLogit"], ["GaussianBlur"]),
    "tv": (["ClassLogit", "TotalVariation"], []),
    "flow": (["ClassLogit", "Continuity", *["LatentAlignment"] * 5, "Legality"], []),
    "ae": (["ClassLogit"], []),
    "aed": (["ClassLogit", "Realness"], []),
    "naed": (["ClassLogit", "Realness"], []),
    "parts": (["ClassLogit"], []),
    "parts-bent": (["ClassLogit"], []),
    "parts-boxes": (["ClassLogit"], []),
    "mesh": (["ClassLogit"], []),
    "membrane": (["ClassLogit"], ["LegalProjection"]),
}


def test_every_preset_loads_and_builds_what_it_says():
    from flowam.generative import load_generator, resolve_generator

    assert set(preset_names()) == {*PRESET_TERMS, "flow-auto"}
    assert load_method("flow-auto").objective.align == "auto"  # its layers are chosen per model
    for name, (terms, transforms) in PRESET_TERMS.items():
        config = load_method(name)
        assert config.name == name and config.description
        generator = None
        if config.generator:  # a preset's generator is bundled
            generator, _ = load_generator(resolve_generator(config.generator))
        objective, steps = build(config, {"feat.stn.fc1": 512}, generator=generator)
        assert sorted(type(t).__name__ for _, t in objective.terms()) == sorted(terms), name
        assert [type(t).__name__ for t in steps] == transforms, name
        assert all(w > 0 for w, _ in objective.terms()), name  # every term is maximised


def test_flow_preset_is_eq6_with_the_papers_weights():
    config = load_method("flow")
    assert config.objective.beta == 0.1 and config.start == "mean"
    assert config.objective.reduce == "sum"
    sizes = {
        "feat.stn.fc1": 512,
        "feat.stn.fc2": 256,
        "feat.fstn.fc1": 512,
        "feat.fstn.fc2": 256,
        "fc2": 256,
    }
    objective, transforms = build(config, sizes)
    weights = {t.name: w for w, t in objective.terms()}
    assert weights["logit"] == 1.0
    assert weights["align:feat.stn.fc1"] == pytest.approx(
        512e-9 * 0.9
    )  # N_l x 1e-9, times 1 - beta
    assert weights["align:feat.stn.fc2"] == pytest.approx(1e-9 * 0.9)
    assert weights["align:feat.fstn.fc1"] == pytest.approx(0.1 * 0.9)
    assert weights["align:feat.fstn.fc2"] == pytest.approx(0.1 * 0.9)
    assert weights["align:fc2"] == pytest.approx(0.9)
    assert weights["continuity"] == pytest.approx(0.1)
    assert weights["legality"] == 1.0
    terms = {t.name: t for _, t in objective.terms()}
    assert isinstance(terms["continuity"], Continuity) and terms["continuity"].target == "boundary"
    assert isinstance(terms["legality"], Legality)
    assert isinstance(terms["align:fc2"], LatentAlignment)
    assert transforms == []


def test_baselines_build_their_regularizers():
    assert [t.name for _, t in build(load_method("l2"))[0].terms()] == ["logit", "l2"]
    assert [t.name for _, t in build(load_method("tv"))[0].terms()] == ["logit", "tv"]
    _, transforms = build(load_method("blur"))
    assert isinstance(transforms[0], GaussianBlur)
    _, transforms = build(load_method("flow-auto").replace(objective={"align": {}}))
    assert any(isinstance(t, LegalProjection) for t in transforms)


def test_overrides_from_python_and_command_line():
    flow = load_method("flow")
    by_section = flow.replace(run={"steps": 10, "lr": 0.5, "optimizer": "sgd"})
    assert by_section == flow.replace(**{"run.steps": 10, "run.lr": 0.5, "run.optimizer": "sgd"})
    assert by_section.run.steps == 10 and by_section.objective == flow.objective
    change = coerce(flow, "objective.align.fc1=0.3")
    assert change["objective.align"]["fc1"] == "0.3" and change["objective.align"]["fc2"] == 1.0
    assert coerce(flow, "objective.beta=0.5") == {"objective.beta": 0.5}
    assert coerce(flow, "transforms.project=true") == {"transforms.project": True}
    assert coerce(flow, "run.stop_log_prob=-1e-6") == {"run.stop_log_prob": -1e-6}
    assert coerce(flow, "param.kind=parts") == {"param.kind": "parts"}
    parts = flow.replace(coerce(flow, "param.kind=parts"), objective={"align": {}, "beta": None})
    assert coerce(parts, "param.bend=true") == {"param.bend": True}
    assert parse_weight("1e-9*N", 512, "x") == pytest.approx(512e-9)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"objective.beta": 1.5}, "objective.beta=1.5 must be in [0, 1]"),
        ({"objective.beta": -0.1}, "objective.beta=-0.1 must be in [0, 1]"),
        ({"objective.l2": -1.0}, "objective.l2=-1.0 must not be negative"),
        ({"objective.align": {"fc2": -0.5}}, "objective.align.fc2=-0.5 must not be negative"),
        ({"run.steps": 0}, "run.steps=0 must be at least 1"),
        ({"run.optimizer": "lbfgs"}, "unknown run.optimizer 'lbfgs'"),
        ({"param.start": "cube"}, "param.start='cube': a points parameterization starts"),
        ({"colour": 1}, "unknown method option 'colour'"),
        ({"run.colour": 1}, "[run] has no option 'colour'"),
        ({"param.kind": "voxels"}, "kind='voxels'; choose one of points"),
        ({"objective.diversity": -1.0}, "objective.diversity=-1.0 must not be negative"),
        (
            {"objective.align": {}, "objective.latent_noise": 0.1},
            "objective.latent_noise needs latent alignment",
        ),
        ({"method": "mesh", "param.start_noise": 0.1}, "of kind mesh has no option 'start_noise'"),
        ({"objective.bn_stats": -0.1}, "objective.bn_stats=-0.1 must not be negative"),
        ({"objective.bn_stats_layers": -1}, "bn_stats_layers=-1 must not be negative"),
        ({"robustness.sampling": True}, "robustness.sampling re-samples the copies"),
        ({"robustness.copies": -1}, "robustness.copies=-1 must not be negative"),
        ({"run.soft_pool": 1.5}, "run.soft_pool=1.5 must be a share of the steps"),
        ({"run.soft_pool_temperature": 0.0}, "run.soft_pool_temperature=0.0 must be above 0"),
        ({"run.select_from": 0}, "run.select_from=0 must be at least 1"),
        ({"run.lr_decay": "step"}, "unknown run.lr_decay 'step'"),
        ({"objective.quantile_count": 0}, "objective.quantile_count=0 must be at least 1"),
        ({"param.union": True}, "of kind points has no option 'union'"),
        ({"run.steps": "many"}, "run.steps='many': expected int"),
        ({"run": 3}, "[run] must be a table of options"),
        (
            {"method": "ae", "transforms.project": True},
            "transforms.project cannot act on a latent code",
        ),
    ],
)
def test_bad_method_values_give_one_line(overrides, message):
    overrides = dict(overrides)
    with pytest.raises(FlowamError) as e:
        load_method(overrides.pop("method", "flow")).replace(overrides)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_unknown_method_and_bad_assignments(tmp_path):
    with pytest.raises(FlowamError, match="unknown method 'flwo'; choose one of"):
        load_method("flwo")
    with pytest.raises(FlowamError, match="write section.option=value"):
        coerce(MethodConfig(), "objective.beta")
    with pytest.raises(FlowamError, match="expected a float"):
        coerce(MethodConfig(), "run.lr=fast")
    with pytest.raises(FlowamError, match="--set run.colour: unknown method option"):
        coerce(MethodConfig(), "run.colour=3")
    bad = tmp_path / "m.toml"
    bad.write_text("steps = [")
    with pytest.raises(FlowamError, match="m.toml: cannot be parsed"):
        load_method(str(bad))
    mine = tmp_path / "mine.toml"
    mine.write_text("[objective]\nlogit = 1.0\nl2 = 0.2\n[objective.align]\nfc2 = 0.5\n")
    config = load_method(str(mine))
    assert config.name == "mine" and config.objective.align == {"fc2": 0.5}
    assert config.objective.l2 == 0.2
    mine.write_text('[param]\nkind = "parts"\nbend = 3\n')
    with pytest.raises(FlowamError, match=r"mine.toml: param.bend=3: expected bool") as e:
        load_method(str(mine))
    assert "\n" not in str(e.value)


def test_noise_placements_with_low_and_high_amplitudes():
    flow = load_method("flow")
    assert flow.replace(**{"param.start_noise": "low"}).param.start_noise == 0.1
    assert flow.replace(**{"transforms.step_noise": "high"}).transforms.step_noise == 1.0
    assert coerce(flow, "objective.latent_noise=high") == {"objective.latent_noise": 1.0}
    objective, transforms = build(
        flow.replace(
            objective={"latent_noise": "low", "align": {"fc2": 1}},
            transforms={"step_noise": "low"},
        )
    )
    assert [t.noise for _, t in objective.terms() if isinstance(t, LatentAlignment)] == [0.1]
    assert [t.name for t in transforms] == ["step_noise"]


def test_every_preset_and_bundled_file_is_declared_as_package_data():
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["flowam"]
    package = root / "src" / "flowam"
    data = [*package.glob("configs/**/*.toml"), *package.glob("weights/*")]
    assert len(data) > len(preset_names())
    for path in data:
        relative = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, g) for g in globs), f"{relative} not in the wheel"


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED.items()))
def test_a_renamed_preset_loads_under_its_old_name_with_a_warning(old, new):
    with pytest.warns(FlowamWarning, match=f"'{old}' is now called '{new}'"):
        config = load_method(old)
    assert config == load_method(new) and config.name == new


def test_every_term_is_weighted_by_an_objective_field_and_a_new_one_is_one_line(monkeypatch):
    from dataclasses import fields

    from flowam.methods import TERMS, ObjectiveConfig
    from flowam.objectives import Objective

    assert set(TERMS) <= {f.name for f in fields(ObjectiveConfig)}
    assert list(TERMS)[:2] == ["logit", "log_prob"]  # the order terms are summed in

    class Spread(Objective):
        name = "spread"
        reads_model = False

        def value(self, ctx):
            return ctx.points.std(dim=(1, 2))

    monkeypatch.setitem(TERMS, "spread", lambda c, _: [(0.5, Spread())])
    objective, _ = build(load_method("l2"))
    assert [(w, t.name) for w, t in objective.terms()] == [
        (1.0, "logit"),
        (0.01, "l2"),
        (0.5, "spread"),
    ]


@pytest.mark.parametrize("preset", ["parts", "parts-bent", "parts-boxes", "mesh", "membrane"])
def test_faithful_presets_are_deterministic_and_depend_on_the_model(
    small_model, small_real, preset
):
    config = load_method(preset)
    assert config.robustness.copies > 0 and config.param.kind in ("parts", "mesh", "smooth")
    assert config.start == {"parts": "parts", "mesh": "mesh"}.get(config.param.kind, "sphere")
    explainer = Explainer(small_model, small_real)
    first = explainer.explain(None, preset, **{"run.steps": 15}, progress=False)
    again = Explainer(small_model, small_real).explain(
        None, preset, **{"run.steps": 15}, progress=False
    )
    assert np.array_equal(first.points, again.points)
    assert np.array_equal(first.start[0], first.start[1])  # one shared start for every class
    assert (first.history["logit"][-1] > first.history["logit"][0]).all()
    assert np.abs(first.points).max() <= config.objective.bound
    randomized = Explainer(
        fully_randomized(small_model, torch.from_numpy(small_real.points[:2])), small_real
    )
    other = randomized.explain(None, preset, **{"run.steps": 15}, progress=False)
    # parts' and meshes' points are drawn anew at every step: compare the clouds as sets
    apart = chamfer_distance(other.points, first.points, single_directional=False)
    moved = chamfer_distance(first.points, first.start, single_directional=False)
    assert apart.mean() > 0.05 * moved.mean()


def test_bn_stats_matches_every_batch_norm_or_the_first_few():
    from flowam.models import get_model
    from flowam.objectives import batch_norms

    torch.manual_seed(0)
    model = get_model("dgcnn", 3).eval()
    norms = batch_norms(model, torch.rand(2, 64, 3))
    every, _ = build(load_method("parts").replace(objective={"bn_stats": 0.01}), norms=norms)
    few = {"bn_stats": 0.01, "bn_stats_layers": 2}
    first, _ = build(load_method("parts").replace(objective=few), norms=norms)
    assert every.terms()[-1][1].layers == ("bn1", "bn2", "bn3", "bn4", "bn5", "bn6", "bn7")
    assert first.terms()[-1][1].layers == ("bn1", "bn2")
    with pytest.raises(FlowamError, match="needs the model's batch norms"):
        build(load_method("parts").replace(objective={"bn_stats": 0.01}))
