"""flowam.experiments at small scale: the variants (Table I, ablation, beta, diversity), the
faithfulness directions, the sanity checks, the activation flow and reproduce, the scales."""

import csv
import io
import json
import shutil

import pytest
from matplotlib.image import imread

from conftest import run_cli
from flowam.explain import Explainer


def tiny_args(tiny_model, tiny_data, out):
    return ["--model", str(tiny_model), "--data", str(tiny_data), "--steps", "2", "--out", str(out)]


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        (
            "table1",
            [
                "start: mean",
                "start: gaussian",
                "flow-auto (from class mean)",
                "start: parts",  # parts' own start: an assembly runs only from it
                "parts (from the cubes)",
            ],
        ),
        ("ablation", ["start: mean", "flow", "without L_LA", "without L_C", "without L_LR"]),
        ("beta", ["start: mean", "β = 0", "β = 0.1", "β = 1"]),
        (
            "diversity",
            [
                "start: mean",
                "no noise",
                "start noise, high",
                "step noise, low",
                "diversity term, low",
            ],
        ),
    ],
)
def test_experiments_run_on_a_tiny_model_and_write_tables(
    name, rows, tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    out = tmp_path / name
    code, _text, err = run_cli(
        ["experiment", name, *tiny_args(tiny_model, tiny_data, out)], monkeypatch, capsys
    )
    assert code == 0, err
    table = (out / f"{name}.md").read_text()
    for row in rows:
        assert any(line.startswith(f"| {row}") for line in table.splitlines()), row
    assert "gap ↑" in table and "1-NN ↑" in table and "FID ↓" in table
    assert ("diversity ↑" in table) == (name == "diversity")
    csv_rows = (out / f"{name}.csv").read_text().splitlines()
    assert len(csv_rows) > 2 and "recognised" in csv_rows[0]
    config = json.loads((out / "config.json").read_text())
    assert config["experiment"] == name and config["steps"] == 2
    page = (out / "report.html").read_text()  # written by default, with the run's tables
    assert f'"title":"{name}.md"' in page and '"methods":[' in page


def test_faithful_compares_directions_on_trained_and_damaged_models(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "faithful"
    directions = tmp_path / "directions.toml"
    directions.write_text(
        '["robust-2"]\nrobustness.copies = 2\ntransforms.project = true\n[plain]\n[parts]\n'
        'method = "parts"\n[surface]\nmethod = "mesh"\n'
    )
    args = ["experiment", "faithful", *tiny_args(tiny_model, tiny_data, out)]
    code, _text, err = run_cli([*args, "--directions-file", str(directions)], monkeypatch, capsys)
    assert code == 0, err
    table = (out / "faithful.md").read_text()
    assert "| start |" in table and "| robust-2" in table and "| plain" in table
    assert "| 1-NNA | COV | MMD |" in table  # the tiny model has no judges (its own classes)
    # an assembly of parts and a mesh start from their own starts, which get their rows
    assert table.index("| start: parts |") < table.index("| parts")
    assert table.index("| parts") < table.index("| start: mesh |") < table.index("| surface")
    rows = list(csv.DictReader(io.StringIO((out / "faithful.csv").read_text())))
    assert {r["model"] for r in rows} == {"trained", "randomized", "dropout"}
    assert {r["direction"] for r in rows} == {
        "start",
        "robust-2",
        "plain",
        "start: parts",
        "parts",
        "start: mesh",
        "surface",
    } | ({"real objects"} if "| real objects |" in table else set())
    config = json.loads((out / "config.json").read_text())
    assert config["start"] == "sphere"
    assert config["directions"]["robust-2"][1]["robustness.copies"] == 2
    assert imread(out / "faithful.png").shape[0] > 100
    kept = sorted((out / "clouds" / "randomized" / "surface").glob("*.json"))  # every cloud
    assert len(kept) == len({r["class"] for r in rows})
    assert set(json.loads(kept[0].read_text())["scores"]) >= {"recognised", "taken_for"}
    views = imread(out / "faithful-views.png")  # a row per class, 3 columns per direction
    assert views.shape[0] > 100 and views.shape[1] > 3 * views.shape[0]
    bad = tmp_path / "bad.toml"
    bad.write_text("[x]\nrobustness.copies = -1\n")
    code, _text, err = run_cli(
        [*args, "--overwrite", "--directions-file", str(bad)], monkeypatch, capsys
    )
    assert code != 0 and "bad.toml: direction 'x'" in err and "Traceback" not in err


def test_faithful_resumes_from_the_clouds_an_interrupted_run_left(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    out, directions = tmp_path / "faithful", tmp_path / "directions.toml"
    directions.write_text("[plain]\n[l2]\nobjective.l2 = 0.1\n")
    args = [
        "experiment",
        "faithful",
        *tiny_args(tiny_model, tiny_data, out),
        "--directions-file",
        str(directions),
        "--no-report",
    ]
    code, _text, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    first = {r["direction"]: r for r in json.loads((out / "faithful.json").read_text())}
    # interrupted: no table written, one model's clouds of one direction missing
    (out / "faithful.json").unlink()
    shutil.rmtree(out / "clouds" / "dropout" / "l2")
    run = []  # the methods optimised again
    explain = Explainer.explain

    def counted(self, names, method, *a, **k):
        run.append(method if isinstance(method, str) else method.objective.l2)
        return explain(self, names, method, *a, **k)

    monkeypatch.setattr(Explainer, "explain", counted)
    code, _text, err = run_cli([*args, "--resume"], monkeypatch, capsys)
    assert code == 0, err
    assert run == ["vanilla", 0.1]  # the reference and l2 on the model it lacked
    again = {r["direction"]: r for r in json.loads((out / "faithful.json").read_text())}
    assert again["plain"]["seconds"] is None and again["l2"]["seconds"] > 0
    for key in ("recognised_trained", "recognised_randomized", "recognised_dropout", "mmd"):
        assert again["plain"][key] == first["plain"][key], key
    assert "| plain | " in (out / "faithful.md").read_text()
    # a direction changed under the same label is run again, not read back
    directions.write_text("[plain]\nl2 = 0.3\n[l2]\nl2 = 0.1\n")
    run.clear()
    code, _text, err = run_cli([*args, "--resume"], monkeypatch, capsys)
    assert code == 0, err
    assert run == ["vanilla", 0.3, 0.3, 0.3]
    # a screening pass explains the trained model alone
    run.clear()
    screen = tmp_path / "screen"
    args[args.index(str(out))] = str(screen)
    code, _text, err = run_cli([*args, "--no-damaged"], monkeypatch, capsys)
    assert code == 0, err
    assert run == ["vanilla", 0.3, 0.1]
    rows = json.loads((screen / "faithful.json").read_text())
    assert all("recognised_randomized" not in r and r["gap"] is None for r in rows)
    assert not any(r["meets_targets"] for r in rows)
    assert not (screen / "clouds" / "randomized").exists()
    assert "| plain | " in (screen / "faithful.md").read_text()
    # the screen resumed with the damaged models explains only those
    run.clear()
    code, _text, err = run_cli([*args, "--resume"], monkeypatch, capsys)
    assert code == 0, err
    assert run == ["vanilla", 0.3, 0.3, 0.1, 0.1]
    full = {r["direction"]: r for r in json.loads((screen / "faithful.json").read_text())}
    assert full["l2"]["gap"] is not None and full["l2"]["seconds"] > 0
    assert full["l2"]["recognised_trained"] == rows[-1]["recognised_trained"]


def test_sanity_writes_table_s1_the_randomization_test_and_pictures(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "sanity"
    args = ["experiment", "sanity", *tiny_args(tiny_model, tiny_data, out)]
    code, _text, err = run_cli(
        [*args, "--methods", "vanilla,flow-auto", "--rates", "0,0.5"], monkeypatch, capsys
    )
    assert code == 0, err
    # every damaged model's explanations are kept for the report, which groups them
    for damage in ("trained", "P_D_0.5__seed_0", "top_33__seed_0"):
        for method in ("vanilla", "flow-auto"):
            record = json.loads((out / "clouds" / damage / method / "cone_0.json").read_text())
            assert record["scores"]["taken_for"] in ("box", "cone"), (damage, method)
    page = (out / "report.html").read_text()
    assert '"name":"clouds/P_D_0.5__seed_0"' in page and '"name":"clouds/trained"' in page
    table = (out / "sanity.md").read_text()
    assert "## Faithfulness gap" in table and "Table S1" in table and "CD⇄ to the trained" in table
    assert "| start: gaussian" in table and "| flow-auto" in table
    rows = list(csv.DictReader(io.StringIO((out / "sanity.csv").read_text())))
    trained = [r for r in rows if r["damage"] == "none"]
    assert {r["row"] for r in trained} == {"start: gaussian", "start: mean", "vanilla", "flow-auto"}
    assert all(float(r["cd_to_trained"]) == 0 for r in trained)
    starts = [r for r in rows if r["row"].startswith("start")]
    assert all(float(r["cd_to_trained"]) == 0 for r in starts)  # starts never move
    dropped = [r for r in rows if r["damage"] == "dropout"]
    assert {float(r["level"]) for r in dropped} == {0.5}
    assert max(float(r["level"]) for r in rows if r["damage"] == "cascade") == 33  # all layers
    for picture in ("dropout.png", "cascade.png", "curves.png"):
        assert imread(out / picture).shape[0] > 100


def test_flow_analysis_and_reproduce_on_a_tiny_model(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "flow"
    args = ["--model", str(tiny_model), "--data", str(tiny_data), "--out", str(out)]
    code, _text, err = run_cli(
        ["analyze", *args, "--steps", "2", "--no-report"], monkeypatch, capsys
    )
    assert code == 0, err
    assert "| fc2 |" in (out / "flow-analysis.md").read_text()
    assert not (out / "report.html").exists()
    out = tmp_path / "dry"
    code, _text, err = run_cli(
        ["experiment", "reproduce", "--dry-run", *tiny_args(tiny_model, tiny_data, out)],
        monkeypatch,
        capsys,
    )
    assert code == 0 and "estimated time" in err and not out.exists()
    out = tmp_path / "all"
    code, _text, err = run_cli(
        ["experiment", "reproduce", *tiny_args(tiny_model, tiny_data, out)], monkeypatch, capsys
    )
    assert code == 0, err
    assert "estimated time" in err and "table4 skipped" in err
    for name in ("table1", "ablation", "beta", "diversity", "sanity", "faithful"):
        assert (out / name / f"{name}.md").is_file(), name
    assert (out / "flow-analysis" / "flow.png").is_file()
    page = (out / "report.html").read_text()  # one page of every experiment's tables
    assert all(f'"title":"{n}/{n}.md"' in page for n in ("table1", "sanity", "faithful"))


def test_full_scale_takes_every_class_and_three_damage_seeds(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "full"
    args = ["experiment", "sanity", "--full", *tiny_args(tiny_model, tiny_data, out)]
    code, _text, err = run_cli(
        [*args, "--methods", "vanilla", "--rates", "0.5"], monkeypatch, capsys
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO((out / "sanity.csv").read_text())))
    assert {r["damage_seed"] for r in rows if r["damage"] == "dropout"} == {"0", "1", "2"}
    stages = sorted({int(float(r["level"])) for r in rows if r["damage"] == "cascade"})
    assert stages == [1, 2, 4, 8, 16, 32, 33]  # every power of two at full scale
    config = json.loads((out / "config.json").read_text())
    assert config["scale"] == "full" and config["classes"] is None
    assert "box, cone" in (out / "sanity.md").read_text()  # every class of the model


def test_one_step_count_per_scale_where_every_method_shares_it():
    from flowam.experiments.common import QUICK_STEPS, Setting
    from flowam.methods import load_method

    assert Setting().step_count == QUICK_STEPS
    assert Setting(scale="full").step_count == load_method("parts").run.steps == 300
    assert Setting(steps=7, scale="full").step_count == 7
