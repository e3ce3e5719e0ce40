"""The experiments, `flowam evaluate`, and the demo's choice of classes."""

import csv
import io
import json

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from conftest import MODELNET_SAMPLE, run_cli
from flowam.data import load_dataset
from flowam.demo import DEMO_COUNT
from flowam.errors import FlowamError
from flowam.experiments.common import QUICK_COUNT
from flowam.experiments.realism import measure_realism
from flowam.models import load_classifier
from flowam.subject import DEFAULT_CLASSES, choose_classes


def write_as_modelnet(tiny_data, root, extra_class="sphere"):
    """tiny_data's boxes and cones (and random spheres) in the modelnet40 resampled layout."""
    classes = ["box", "cone", extra_class]
    root.mkdir()
    (root / "modelnet40_shape_names.txt").write_text("\n".join(classes) + "\n")
    names = {"train": [], "test": []}
    rng = np.random.default_rng(1)
    for c in classes:
        (root / c).mkdir()
        files = sorted((tiny_data / c).glob("*/*.npy")) if c != extra_class else range(3)
        for i, f in enumerate(files):
            if c == extra_class:
                pts = rng.normal(size=(96, 3))
                pts /= np.linalg.norm(pts, axis=1, keepdims=True)
            else:
                pts = np.load(f)
            name = f"{c}_{i + 1:04d}"
            rows = np.hstack([pts, np.zeros_like(pts)])
            np.savetxt(root / c / f"{name}.txt", rows, delimiter=",", fmt="%.6f")
            names["test" if i % 3 == 0 else "train"].append(name)
    for split, listed in names.items():
        (root / f"modelnet40_{split}.txt").write_text("\n".join(listed) + "\n")
    return root


def test_realism_scores_the_shared_classes_against_independent_predictions(
    tiny_model, tiny_data, tmp_path
):
    root = write_as_modelnet(tiny_data, tmp_path / "mn")
    model, info = load_classifier(tiny_model)
    real = load_dataset(root, "train", num_points=64, progress=False)
    result = measure_realism(model, info.classes, real)
    assert result.shared == ["box", "cone"]  # the spheres are not a class of the model
    assert result.confusion.shape == (2, 2) and result.confusion.sum() == len(result.names)
    known = real.subset(real.labels < 2)
    with torch.no_grad():
        pred = model(torch.from_numpy(known.points)).argmax(1).numpy()
    for k in range(2):
        expected = (pred[known.labels == k] == k).mean()
        assert result.per_class[k] == pytest.approx(expected)
    assert result.overall == pytest.approx((pred == known.labels).mean())


def test_realism_command_writes_table_picture_and_config(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    root = write_as_modelnet(tiny_data, tmp_path / "mn")
    out = tmp_path / "realism"
    args = ["experiment", "realism", "--data", str(root), "--model", str(tiny_model)]
    code, text, err = run_cli([*args, "--out", str(out), "--seed", "2"], monkeypatch, capsys)
    assert code == 0, err
    assert "box" in text and "overall" in text and "sphere" not in text
    summary = json.loads((out / "realism.json").read_text())
    assert set(summary["per_class"]) == {"box", "cone"}
    assert sum(r["objects"] for r in summary["per_class"].values()) == 24  # train + test
    assert imread(out / "confusion.png").shape[0] > 100
    assert json.loads((out / "config.json").read_text())["seed"] == 2
    assert '"title":"confusion.png"' in (out / "report.html").read_text()  # pictures only


def test_realism_refuses_a_dataset_without_shared_classes(tiny_model, tmp_path):
    model, info = load_classifier(tiny_model)
    real = load_dataset("procedural", "test", num_points=64, per_class=1, progress=False)
    real = real.subset(np.isin(real.labels, [real.class_index("bed")]))
    with pytest.raises(FlowamError, match="holds no object of a class the model knows"):
        measure_realism(model, info.classes, real)


@pytest.mark.skipif(not MODELNET_SAMPLE.is_dir(), reason="../shared/data not available")
def test_realism_on_genuine_modelnet40_files(tmp_path, monkeypatch, capsys):
    out = tmp_path / "genuine"
    code, _text, err = run_cli(
        ["experiment", "realism", "--data", str(MODELNET_SAMPLE), "--out", str(out)],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    summary = json.loads((out / "realism.json").read_text())
    listed = [
        name
        for split in ("train", "test")
        for name in (MODELNET_SAMPLE / f"modelnet40_{split}.txt").read_text().split()
    ]
    # every listed genuine object is of a bundled class, so every one is scored
    assert set(summary["per_class"]) == {n.rsplit("_", 1)[0] for n in listed}
    assert sorted(p["object"] for p in summary["predictions"]) == sorted(listed)


def test_one_default_subset_of_classes_for_the_demo_and_the_quick_experiments():
    _, info = load_classifier()
    demo = choose_classes(info.classes, None, DEMO_COUNT)
    assert demo == ["airplane", "chair", "lamp", "table"]  # four families
    quick = choose_classes(info.classes, None, QUICK_COUNT)
    assert quick == ["airplane", "bed", "car", "chair", "guitar", "lamp", "sofa", "table"]
    assert set(demo) < set(quick) == set(DEFAULT_CLASSES) < set(info.classes)
    assert choose_classes(info.classes, None) == choose_classes(info.classes, "all") == info.classes
    assert choose_classes(info.classes, ["cup", "bed"], DEMO_COUNT) == ["cup", "bed"]
    own = ["a", "b", "c", "d", "e", "f"]  # a model without the default classes: its first
    assert choose_classes(own, None, DEMO_COUNT) == own[:4]


def test_demo_runs_the_preset_on_every_other_bundled_architecture(tmp_path, monkeypatch, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--model", "bundled:dgcnn", "--classes", "chair,table", "--methods"]
    args += ["vanilla,parts", "--steps", "2", "--no-faithfulness", "--no-report"]
    code, text, err = run_cli([*args, "--out", str(out)], monkeypatch, capsys)
    assert "parts on pointnet2_ssg (trained model only)" in text + err
    assert code == 0, err
    rows = json.loads((out / "summary.json").read_text())["architectures"]
    # the real objects and the start first, then the demo model's run, then the others
    assert list(rows) == [
        "real objects",
        "start: assembly",
        "dgcnn: parts",
        "pointnet: parts",
        "pointnet2_ssg: parts",
    ]
    assert rows["real objects"]["recognised_rate"] == 1.0  # a real object is its own class
    assert rows["start: assembly"]["recognised_rate"] == 0.0  # a shared start names no class
    # each architecture's run is judged by the two others
    assert {"recognised_by_dgcnn", "recognised_by_pointnet2_ssg"} <= set(rows["pointnet: parts"])
    assert "recognised_by_pointnet" in rows["dgcnn: parts"]
    for arch in ("pointnet", "pointnet2_ssg"):
        run = json.loads((out / "architectures" / arch / "summary.json").read_text())
        assert run[f"{arch}: parts"]["config"]["method"]["steps"] == 2
        assert len(list((out / "architectures" / arch).rglob("*.npy"))) >= 2
    assert not (out / "architectures" / "dgcnn").exists()  # the demo model ran it already
    picture = imread(out / "grid_architectures.png")
    assert picture.shape[0] < picture.shape[1]  # 2 classes by 4 columns
    assert "grid_architectures.png" in (out / "summary.md").read_text()
    assert json.loads((out / "config.json").read_text())["architectures"] == list(rows)
    args = ["demo", "--classes", "chair", "--methods", "parts", "--steps", "1"]
    args += ["--no-faithfulness", "--no-report", "--no-architectures", "--out", str(out / "b")]
    assert run_cli(args, monkeypatch, capsys)[0] == 0
    assert "architectures" not in json.loads((out / "b" / "summary.json").read_text())
    assert not (out / "b" / "grid_architectures.png").exists()


def test_table4_runs_every_given_model(tmp_path, monkeypatch, capsys):
    out = tmp_path / "t4"
    args = ["experiment", "table4", "--models", "bundled,bundled:pointnet", "--classes", "cup"]
    args += ["--methods", "vanilla,tv", "--steps", "2", "--out", str(out)]
    code, _text, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    table = (out / "table4.md").read_text()
    assert table.count("## pointnet") == 2
    for row in ("start: gaussian", "start: mean", "vanilla (from noise)", "tv (from noise)"):
        assert f"| {row} |" in table or f"| {row} ⚠ |" in table  # ⚠: see the faithfulness gap
    assert (out / "0_bundled" / "summary.json").is_file()
    assert (out / "1_bundled_pointnet" / "grid_mean.png").is_file()
    assert json.loads((out / "config.json").read_text())["steps"] == 2


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
                "start: assembly",  # parts' own start: an assembly runs only from it
                "parts (from the assembly)",
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
        '["robust-2"]\nrobust_copies = 2\nproject = true\n[plain]\n[parts]\n'
        'method = "parts"\n[surface]\nmethod = "mesh"\n'
    )
    args = ["experiment", "faithful", *tiny_args(tiny_model, tiny_data, out)]
    code, _text, err = run_cli([*args, "--directions-file", str(directions)], monkeypatch, capsys)
    assert code == 0, err
    table = (out / "faithful.md").read_text()
    assert "| start |" in table and "| robust-2" in table and "| plain" in table
    assert "| 1-NNA | COV | MMD |" in table  # the tiny model has no judges (its own classes)
    # an assembly of parts and a mesh start from their own starts, which get their rows
    assert table.index("| start: assembly |") < table.index("| parts")
    assert table.index("| parts") < table.index("| start: mesh |") < table.index("| surface")
    rows = list(csv.DictReader(io.StringIO((out / "faithful.csv").read_text())))
    assert {r["model"] for r in rows} == {"trained", "randomized", "dropout"}
    assert {r["direction"] for r in rows} == {
        "start",
        "robust-2",
        "plain",
        "start: assembly",
        "parts",
        "start: mesh",
        "surface",
    } | ({"real objects"} if "| real objects |" in table else set())
    config = json.loads((out / "config.json").read_text())
    assert config["start"] == "sphere" and config["directions"]["robust-2"][1]["robust_copies"] == 2
    assert imread(out / "faithful.png").shape[0] > 100
    kept = sorted((out / "clouds" / "randomized" / "surface").glob("*.json"))  # every cloud
    assert len(kept) == len({r["class"] for r in rows})
    assert set(json.loads(kept[0].read_text())["scores"]) >= {"recognised", "taken_for"}
    views = imread(out / "faithful-views.png")  # a row per class, 3 columns per direction
    assert views.shape[0] > 100 and views.shape[1] > 3 * views.shape[0]
    bad = tmp_path / "bad.toml"
    bad.write_text("[x]\nrobust_copies = -1\n")
    code, _text, err = run_cli(
        [*args, "--overwrite", "--directions-file", str(bad)], monkeypatch, capsys
    )
    assert code != 0 and "bad.toml: direction 'x'" in err and "Traceback" not in err


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


def test_evaluate_rescores_an_explain_folder_exactly(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "ex"
    args = ["explain", "--model", str(tiny_model), "--data", str(tiny_data), "--out", str(out)]
    code, _text, err = run_cli(
        [*args, "--method", "vanilla,l2", "--steps", "3", "--restarts", "2", "--no-pictures"],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    code, text, err = run_cli(["evaluate", str(out)], monkeypatch, capsys)
    assert code == 0, err
    assert "vanilla" in text
    written = json.loads((out / "summary.json").read_text())
    scored = json.loads((out / "evaluation.json").read_text())["runs"]
    for label in ("vanilla", "l2"):
        for key in (
            "target_logit",
            "chamfer_both_ways",
            "recognised_rate",
            "moved_from_start",
            "fid",
            "m_is",
            "diversity",
        ):
            assert scored[label][key] == pytest.approx(written[label][key], rel=1e-5), key
    code, _text, err = run_cli(["evaluate", str(tmp_path / "nowhere")], monkeypatch, capsys)
    assert code == 1 and "no such folder" in err


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
