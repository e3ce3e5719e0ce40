"""The generative baselines: shapes, training lowers the loss, seeds, resume, loading."""

import json

import numpy as np
import pytest
import torch

from conftest import run_cli
from flowam.errors import FlowamError, FlowamWarning
from flowam.generative import (
    Generator,
    GeneratorConfig,
    load_generator,
    resolve_generator,
    train_generator,
)
from flowam.generative.training import reconstruction_loss
from flowam.models.checkpoint import CheckpointError


def config(tiny_data, out, **overrides):
    base = dict(
        data=str(tiny_data), num_points=64, latent=16, epochs=3, batch_size=4, lr=2e-3, out=str(out)
    )
    return GeneratorConfig(**{**base, **overrides})


@pytest.mark.parametrize("kind", ["ae", "aed", "naed"])
def test_shapes(kind):
    g = Generator(kind, num_points=64, latent=16).eval()
    x = torch.rand(3, 64, 3)
    assert g.ae.encode(x).shape == (3, 16)
    assert g.ae(x).shape == (3, 64, 3)
    assert (g.discriminator is None) == (kind == "ae")
    if g.discriminator is not None:
        assert g.discriminator(x).shape == (3,)
    # the encoder is a max over points: the order of the points does not matter
    assert torch.allclose(g.ae.encode(x), g.ae.encode(x[:, torch.randperm(64)]), atol=1e-6)


@pytest.mark.parametrize("kind", ["ae", "naed"])
def test_training_lowers_the_reconstruction_loss_and_is_seeded(kind, tiny_data, tmp_path):
    meta = train_generator(config(tiny_data, tmp_path / "a", kind=kind, epochs=4), progress=False)
    log = [
        dict(kv.split("=") for kv in line.split())
        for line in (tmp_path / "a" / "train.log").read_text().splitlines()
    ]
    assert float(log[-1]["cd_loss"]) < float(log[0]["cd_loss"])
    best = min(float(e["test_chamfer"]) for e in log)
    assert meta["kind"] == kind and meta["test_chamfer"] == pytest.approx(best, abs=1e-5)
    if kind == "naed":
        assert "d_loss" in log[0]
    again = train_generator(config(tiny_data, tmp_path / "b", kind=kind, epochs=4), progress=False)
    assert again["test_chamfer"] == meta["test_chamfer"]
    other = train_generator(
        config(tiny_data, tmp_path / "c", kind=kind, epochs=4, seed=1), progress=False
    )
    assert other["test_chamfer"] != meta["test_chamfer"]


def test_resume_continues_exactly(tiny_data, tmp_path):
    whole = train_generator(config(tiny_data, tmp_path / "whole", kind="aed"), progress=False)
    train_generator(config(tiny_data, tmp_path / "part", kind="aed", epochs=2), progress=False)
    resumed = train_generator(
        config(tiny_data, tmp_path / "part", kind="aed"), resume=True, progress=False
    )

    def losses(run):  # every logged number but the seconds
        text = (tmp_path / run / "train.log").read_text()
        return [line.rsplit(" seconds=", 1)[0] for line in text.splitlines()]

    assert losses("part") == losses("whole")
    assert resumed["test_chamfer"] == pytest.approx(whole["test_chamfer"], rel=1e-5)
    with pytest.raises(FlowamError, match="another --kind"):
        train_generator(
            config(tiny_data, tmp_path / "part", kind="ae"), resume=True, progress=False
        )


def test_loading_a_trained_generator_reconstructs_as_measured(tiny_data, tmp_path):
    meta = train_generator(config(tiny_data, tmp_path / "g"), progress=False)
    g, loaded = load_generator(tmp_path / "g" / "best.safetensors")
    assert loaded == json.loads((tmp_path / "g" / "best.json").read_text()) and not g.training
    from flowam.data import load_dataset
    from flowam.generative.training import reconstruction_distance

    test = load_dataset(str(tiny_data), "test", num_points=64)
    assert reconstruction_distance(g, test) == pytest.approx(meta["test_chamfer"], rel=1e-5)
    (tmp_path / "g" / "best.json").write_text("{}")
    with pytest.raises(CheckpointError, match="no generator metadata"):
        load_generator(tmp_path / "g" / "best.safetensors")
    with pytest.raises(CheckpointError, match="nope.safetensors: checkpoint file not found"):
        load_generator(tmp_path / "nope.safetensors")


def test_loss_is_zero_for_a_perfect_reconstruction():
    x = torch.rand(2, 32, 3)
    assert reconstruction_loss(x, x[:, torch.randperm(32)]).item() == pytest.approx(0, abs=1e-6)
    assert reconstruction_loss(x, x + 0.1).item() > 0


def test_cli_trains_and_refuses_bad_options(tiny_data, tmp_path, monkeypatch, capsys):
    out = tmp_path / "cli"
    args = ["train-generator", "--data", str(tiny_data), "--num-points", "64", "--latent", "8"]
    code, text, err = run_cli(
        [*args, "--epochs", "1", "--batch-size", "4", "--out", str(out)], monkeypatch, capsys
    )
    assert code == 0, err
    assert "best test reconstruction CD" in text + err and (out / "best.safetensors").is_file()
    other = tmp_path / "other"
    code, _text, err = run_cli([*args, "--kind", "vae", "--out", str(other)], monkeypatch, capsys)
    assert code != 0 and "--kind 'vae'" in err and "Traceback" not in err
    assert not other.exists()  # a refused option leaves no folder behind
    code, _text, err = run_cli(
        [*args, "--train-per-class", "0", "--out", str(out)], monkeypatch, capsys
    )
    assert code != 0 and "--train-per-class must be at least 1" in err and "Traceback" not in err
    assert np.isfinite(json.loads((out / "best.json").read_text())["test_chamfer"])


# --- latent-space AM ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_aed(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("aed")
    train_generator(config(tiny_data, out, kind="aed", epochs=2), progress=False)
    return out / "best.safetensors"


def test_latent_am_keeps_the_best_step_of_decoded_clouds(tiny_model, tiny_data, tiny_aed):
    from flowam.data import load_dataset
    from flowam.explain import Explainer
    from flowam.models import load_classifier

    model, _ = load_classifier(tiny_model)
    explainer = Explainer(model, load_dataset(str(tiny_data), "test", num_points=64))
    param = {"kind": "latent", "start": "mean", "generator": str(tiny_aed)}
    common = dict(param=param, run={"steps": 8, "lr": 0.05}, progress=False)
    result = explainer.explain(None, "vanilla", **{"run.keep_best": True}, **common)
    generator = explainer.generator(str(tiny_aed))
    assert not any(p.requires_grad for p in generator.parameters())
    # the explanation is a decoded code: the decoder's image of its own encoding's code
    with torch.no_grad():
        logits = model(torch.from_numpy(result.points))
    chosen = logits.gather(1, torch.as_tensor(result.targets)[:, None])[:, 0].numpy()
    assert np.allclose(chosen, result.history["logit"].max(0), atol=1e-4)  # the best step
    last = explainer.explain(None, "vanilla", **common)
    assert np.allclose(last.history["logit"][-1], result.history["logit"][-1], atol=1e-5)
    with_d = explainer.explain(None, "vanilla", objective={"realness": 1.0}, **common)
    assert "realness" in with_d.history and (with_d.history["realness"] <= 0).all()


def test_the_decoded_start_is_where_latent_am_begins(tiny_model, tiny_data, tiny_aed):
    from flowam.data import load_dataset
    from flowam.explain import Explainer
    from flowam.models import load_classifier

    model, _ = load_classifier(tiny_model)
    explainer = Explainer(model, load_dataset(str(tiny_data), "test", num_points=64))
    plain = explainer.starts(["box", "cone"], "mean")
    decoded = explainer.starts(["box", "cone"], "mean", generator=str(tiny_aed))
    ae = explainer.generator(str(tiny_aed)).ae
    with torch.no_grad():
        expected = ae.decode(ae.encode(torch.from_numpy(plain.points))).numpy()
    assert np.allclose(decoded.points, expected, atol=1e-6)
    assert not np.allclose(decoded.points, plain.points, atol=1e-2)
    run = explainer.explain(
        ["box", "cone"],
        "vanilla",
        param={"kind": "latent", "start": "mean", "generator": str(tiny_aed)},
        run={"steps": 1},  # history row 0: the decoded start, before the step's update
        progress=False,
    )
    assert np.allclose(
        run.history["logit"][0],
        model(torch.from_numpy(expected))
        .gather(1, torch.tensor([[0], [1]]))[:, 0]
        .detach()
        .numpy(),
        atol=1e-4,
    )


def test_latent_am_refuses_what_cannot_act_on_a_code(tiny_model, tiny_data, tmp_path):
    from flowam.methods import load_method

    with pytest.raises(FlowamError, match="project cannot act on a latent code"):
        load_method("flow-auto").replace(param={"kind": "latent", "generator": "x.safetensors"})
    with pytest.raises(FlowamError, match="realness needs a generator"):
        load_method("vanilla").replace(objective={"realness": 1.0})
    from flowam.data import load_dataset
    from flowam.explain import Explainer
    from flowam.models import load_classifier

    model, _ = load_classifier(tiny_model)
    explainer = Explainer(model, load_dataset(str(tiny_data), "test", num_points=64))
    with pytest.raises(CheckpointError, match="no bundled generator"):
        explainer.explain(
            None,
            "vanilla",
            param={"kind": "latent", "generator": "bundled:vae"},
            run={"steps": 1},
            progress=False,
        )


def test_generator_options_parse_from_the_command_line():
    from flowam.methods import coerce, load_method

    vanilla = load_method("vanilla")
    latent = vanilla.replace(coerce(vanilla, "param.kind=latent"))
    assert coerce(latent, "param.generator=runs/ae/best.safetensors") == {
        "param.generator": "runs/ae/best.safetensors"
    }
    assert coerce(vanilla, "run.keep_best=true") == {"run.keep_best": True}
    assert coerce(vanilla, "objective.realness=0.5") == {"objective.realness": 0.5}
    with pytest.warns(FlowamWarning, match="generator -> param.generator"):
        old = coerce(vanilla, "generator=runs/ae/best.safetensors")  # the old name switches
    assert old == {"param.kind": "latent", "param.generator": "runs/ae/best.safetensors"}


@pytest.mark.parametrize("kind", ["ae", "aed", "naed"])
def test_bundled_generator_reconstructs_the_test_split_as_stated(kind):
    from flowam.data import load_dataset
    from flowam.data.procedural.generate import changed_since
    from flowam.generative.training import reconstruction_by_class

    generator, meta = load_generator(resolve_generator(f"bundled:{kind}"))
    assert meta["kind"] == kind and meta["stored_dtype"] == "float16"
    assert (generator.discriminator is None) == (kind == "ae")
    test = load_dataset("procedural", "test", num_points=meta["num_points"])
    assert len(test) == meta["test_objects"]
    stated = meta["test_chamfer_per_class"]
    assert np.mean(list(stated.values())) == pytest.approx(meta["test_chamfer"], rel=1e-6)
    # a generator trained on an older dataset version: its classes unchanged since (their
    # objects are the same) reconstruct as stated
    same = [c for c in test.classes if c not in changed_since(meta["dataset"]["version"])]
    found = reconstruction_by_class(
        generator, test.subset(np.isin(test.labels, [test.classes.index(c) for c in same]))
    )
    assert found == pytest.approx({c: stated[c] for c in same}, rel=1e-4)


@pytest.mark.parametrize("preset", ["ae", "aed", "naed"])
def test_each_generative_preset_explains_through_its_bundled_generator(preset):
    from flowam.data import load_dataset
    from flowam.explain import Explainer
    from flowam.models import load_classifier

    model, info = load_classifier()
    real = load_dataset("procedural", "test", num_points=info.num_points, per_class=2)
    explainer = Explainer(model, real)
    result = explainer.explain(["chair", "table"], preset, **{"run.steps": 4}, progress=False)
    decoded = explainer.generator(f"bundled:{preset}").ae
    assert ("realness" in result.history) == (preset != "ae")
    assert result.points.shape == (2, info.num_points, 3)
    best = result.history["logit"].max(0)
    with torch.no_grad():
        logits = model(torch.from_numpy(result.points)).gather(1, torch.tensor([[8], [31]]))
    assert np.allclose(logits[:, 0].numpy(), best, atol=1e-3)
    assert decoded.num_points == info.num_points


def test_latent_am_runs_through_explain_and_every_experiment(
    tiny_model, tiny_data, tiny_aed, tmp_path, monkeypatch, capsys
):
    method = tmp_path / "aed-tiny.toml"
    method.write_text(
        f"[run]\nsteps = 3\nkeep_best = true\n[objective]\nrealness = 1.0\n"
        f'[param]\nkind = "latent"\nstart = "mean"\ngenerator = "{tiny_aed}"\n'
    )
    subject = ["--model", str(tiny_model), "--data", str(tiny_data)]
    code, _text, err = run_cli(
        ["explain", *subject, "--method", str(method), "--out", str(tmp_path / "explain")],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    assert (tmp_path / "explain" / "aed-tiny" / "box_0.npy").exists()

    sanity = tmp_path / "sanity"
    args = [*subject, "--steps", "2", "--methods", f"vanilla,{method}", "--rates", "0,0.5"]
    code, _text, err = run_cli(
        ["experiment", "sanity", *args, "--out", str(sanity)], monkeypatch, capsys
    )
    assert code == 0, err
    rows = (sanity / "sanity.csv").read_text()
    assert rows.count(str(method)) > 2  # the trained model and every damaged one
    short = f"{tiny_aed.parent.name}/best"
    assert f"start: mean → {short}" in rows  # where latent AM really starts

    faithful = tmp_path / "faithful"
    directions = tmp_path / "directions.toml"
    directions.write_text(
        f'[latent]\nparam.kind = "latent"\nparam.generator = "{tiny_aed}"\nrun.keep_best = true\n'
    )
    code, _text, err = run_cli(
        [
            "experiment",
            "faithful",
            *subject,
            "--steps",
            "2",
            "--directions-file",
            str(directions),
            "--out",
            str(faithful),
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    table = (faithful / "faithful.md").read_text()
    assert f"| start → {short}" in table and "| latent" in table

    diversity = tmp_path / "diversity"
    code, _text, err = run_cli(
        [
            "experiment",
            "diversity",
            *subject,
            "--steps",
            "2",
            "--method",
            str(method),
            "--out",
            str(diversity),
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    table = (diversity / "diversity.md").read_text()
    assert "Skipped step noise, low: transforms.step_noise cannot act on a latent code" in table
    assert "| start noise, high" in table and "| step noise" not in table

    # a model whose clouds the bundled generators do not make: the generative presets are
    # skipped with the reason, the rest of Table I runs
    table1 = tmp_path / "table1"
    code, _text, err = run_cli(
        [
            "experiment",
            "table1",
            *subject,
            "--steps",
            "2",
            "--methods",
            "vanilla,ae",
            "--out",
            str(table1),
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    assert "skipped ae: its generator makes clouds of 512 points, this model's have 64" in err
    assert "| vanilla" in (table1 / "table1.md").read_text()


def test_a_preset_name_is_a_direction_of_the_faithful_experiment():
    from flowam.experiments.faithful import DIRECTIONS, _directions

    assert _directions(["ae", "parts"]) == {"ae": ("ae", {}), "parts": DIRECTIONS["parts"]}
    with pytest.raises(FlowamError, match="unknown direction 'nope'"):
        _directions(["nope"])
