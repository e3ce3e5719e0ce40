"""flowam.cli: the command line's machinery (one registry of options), and `flowam explain` and
`flowam analyze` end to end on a tiny model and dataset."""

import json

import numpy as np
import pytest
from matplotlib.image import imread

from conftest import cli_commands, run_cli, with_arguments


def explain(tiny_model, tiny_data, out, *extra):
    return [
        "explain",
        "--model",
        str(tiny_model),
        "--data",
        str(tiny_data),
        "--out",
        str(out),
        "--steps",
        "3",
        *extra,
    ]


def test_explain_writes_every_artefact(tiny_model, tiny_data, tmp_path, monkeypatch, capsys):
    out = tmp_path / "ex"
    args = explain(
        tiny_model,
        tiny_data,
        out,
        "--method",
        "vanilla,flow",
        "--classes",
        "cone",
        "--restarts",
        "2",
        "--snapshots",
        "0,3",
        "--set",
        "objective.align.fc1=0.5",
        "--seed",
        "3",
    )
    code, text, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    for method in ("vanilla", "flow"):
        for name in ("cone_0", "cone_1"):
            pts = np.load(out / method / f"{name}.npy")
            assert pts.shape == (64, 3)
            assert (out / method / f"{name}.ply").read_bytes().startswith(b"ply")
            assert imread(out / method / f"{name}.png").shape[1] > 400
            record = json.loads((out / method / f"{name}.json").read_text())
            assert set(record["scores"]) == {
                "target_logit",
                "log_softmax",
                "predicted",
                "success",
                "chamfer_to_real",
                "chamfer_both_ways",
                "recognised",
                "taken_for",
                "facing_degrees",
                "moved_from_start",
                "legal",
            }
            assert record["scores"]["facing_degrees"] == 0  # the tiny model has no turns
            assert record["scores"]["recognised"] == (record["scores"]["taken_for"] == "cone")
            assert record["config"]["steps"] == 3 and record["config"]["seed"] == 3
        starts = np.load(out / method / "starts.npz")
        assert sorted(starts.files) == ["cone_0", "cone_1"] and starts["cone_0"].shape == (64, 3)
        history = np.load(out / method / "history.npz")
        assert history["logit"].shape == (4, 2)
    flow = json.loads((out / "flow" / "cone_0.json").read_text())["config"]["method"]
    align = flow["objective"]["align"]
    assert align["fc1"] == "0.5" and align["fc2"] == 1.0
    assert imread(out / "grid.png").shape[0] > 100
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"vanilla", "flow"} and summary["flow"]["status"] == "finished"
    config = json.loads((out / "config.json").read_text())
    assert config["command"] == "explain" and config["seed"] == 3
    assert "CD" in text and "vanilla" in text


def test_flow_auto_chooses_layers_and_analyze_draws_the_flow(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    code, _, err = run_cli(
        [
            "analyze",
            "--model",
            str(tiny_model),
            "--data",
            str(tiny_data),
            "--out",
            str(tmp_path / "an"),
            "--steps",
            "5",
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    saved = json.loads((tmp_path / "an" / "flow.json").read_text())
    assert set(saved["weights"]) <= set(saved["analysis"]["candidates"])
    assert imread(tmp_path / "an" / "flow.png").shape[0] > 100
    code, _, err = run_cli(
        explain(
            tiny_model, tiny_data, tmp_path / "auto", "--method", "flow-auto", "--classes", "all"
        ),
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    assert len(list((tmp_path / "auto").rglob("*_0.npy"))) == 2  # 'all': both classes


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--classes", "cone,sphere"], "error: unknown class 'sphere'; valid classes: box, cone"),
        (["--set", "objective.beta=1.5"], "error: objective.beta=1.5 must be in [0, 1]"),
        (["--set", "run.lr=0"], "error: run.lr=0.0 must be above 0"),
        (["--set", "objective.l2=-1"], "error: objective.l2=-1.0 must not be negative"),
        (
            ["--set", "objective.align.fc9=1"],
            "error: unknown layer 'fc9' in PointNet; did you mean",
        ),
        (["--method", "flwo"], "error: unknown method 'flwo'; choose one of"),
        (["--set", "beta"], "error: --set 'beta': write section.option=value"),
        (["--snapshots", "a,b"], "error: --snapshots 'a,b': expected comma-separated integers"),
    ],
)
def test_bad_explain_input_gives_one_line(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys, extra, message
):
    code, _, err = run_cli(
        explain(tiny_model, tiny_data, tmp_path / "bad", *extra), monkeypatch, capsys
    )
    lines = [line for line in err.strip().splitlines() if line.startswith("error")]
    assert code == 1 and len(lines) == 1 and lines[0].startswith(message), err
    assert "Traceback" not in err


def test_explaining_against_data_of_other_classes_is_refused(
    tiny_model, tmp_path, monkeypatch, capsys
):
    for name in ("mug", "rock"):  # classes the model (box, cone) lacks
        (tmp_path / "other" / name).mkdir(parents=True)
        (tmp_path / "other" / name / "a.npy").write_bytes(b"never read")
    args = ["explain", "--model", str(tiny_model), "--steps", "1", "--data"]
    code, _, err = run_cli([*args, str(tmp_path / "other")], monkeypatch, capsys)
    assert code == 1 and "none of its 2 classes (mug, rock) is one of the model's" in err


def test_version_prints_without_a_command(monkeypatch, capsys):
    from flowam import __version__

    code, out, _ = run_cli(["--version"], monkeypatch, capsys)
    assert code == 0 and out.strip() == __version__


# --- the registry of options -------------------------------------------------------------


def test_every_registered_option_is_used_and_every_command_has_help():
    """The registry holds no dead entry; each command states what it does and each of its
    options what it means (an option the registry lacks fails at import)."""
    from flowam.cli.options import OPTIONS

    commands = cli_commands()
    assert len(commands) >= 20
    flags = {o for cmd in commands.values() for p in cmd.params for o in getattr(p, "opts", [])}
    used = {f.removeprefix("--").replace("-", "_") for f in flags if f.startswith("--")}
    used |= {p.name for cmd in commands.values() for p in cmd.params if p.opts[0][:1] != "-"}
    assert set(OPTIONS) <= used, set(OPTIONS) - used  # keyed by flag: --set is "set"
    for words, cmd in commands.items():
        assert cmd.help and cmd.help.strip(), words
        for p in cmd.params:
            assert getattr(p, "help", None) or p.param_type_name == "argument", (words, p.name)


def test_an_option_declared_once_reads_alike_in_cli_commands():
    """--seed: the same check in every command that takes it (the registry's), so a bad
    value is the same line wherever it is given."""
    commands = cli_commands()
    seeded = [words for words, cmd in commands.items() if any(p.name == "seed" for p in cmd.params)]
    assert len(seeded) >= 15
    for words in seeded:
        cmd = commands[words]
        with pytest.raises(Exception, match="--seed -1: must be at least 0"):
            cmd.make_context(" ".join(words), [*with_arguments((), cmd), "--seed", "-1"])


def test_commands_receive_parsed_values_and_their_dataclass():
    """A command function gets lists for comma-separated options and its dataclass built
    from the options of its fields."""
    import typer

    from flowam.cli.options import command
    from flowam.subject import Subject

    group = typer.Typer()
    seen = {}

    @command(group, "probe", fields=Subject, claims=False, more={"rates": "0.5"})
    def probe(subject, classes=None, methods="a", snapshots="", **options):
        seen.update(subject=subject, classes=classes, methods=methods, snapshots=snapshots)
        seen.update(options)

    @command(group, "other", claims=False)
    def other(seed=0):  # a group of one command would make it the group itself
        pass

    args = ["probe", "--classes", " chair, ,lamp", "--methods", "vanilla,parts"]
    args += ["--snapshots", "0,5", "--rates", "0,0.25", "--model", "m.safetensors"]
    typer.main.get_command(group).main(args, standalone_mode=False)
    assert seen["classes"] == ["chair", "lamp"] and seen["methods"] == ["vanilla", "parts"]
    assert seen["snapshots"] == [0, 5] and seen["rates"] == [0.0, 0.25]
    assert seen["subject"] == Subject(model="m.safetensors")
    for bad, message in (
        (["--classes", " , "], "--classes ' , ': name at least one class"),
        (["--snapshots", "1,x"], "--snapshots '1,x': expected comma-separated integers"),
        (["--rates", "0,-0.5"], "--rates -0.5: must be at least 0"),
    ):
        with pytest.raises(Exception, match=message):
            typer.main.get_command(group).main(["probe", *bad], standalone_mode=False)
