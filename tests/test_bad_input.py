"""Each bad input gives one clear line naming the file (or option) and the problem."""

import h5py
import numpy as np
import pytest

from conftest import cli_commands, run_cli, with_arguments
from flowam.data import load_dataset
from flowam.data.io import read_object, read_off, read_text_points
from flowam.errors import DataError
from test_data import write_hdf5, write_resampled, write_shapenet


def load(root, split="train", **kw):
    return load_dataset(root, split, num_points=kw.pop("num_points", 32), progress=False, **kw)


def one_line(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert "\n" not in text
    return text


def test_missing_root(tmp_path):
    with pytest.raises(DataError) as e:
        load(tmp_path / "nowhere")
    assert one_line(e).endswith("nowhere: dataset root folder does not exist")
    with pytest.raises(DataError, match="modelnet40_normal_resampled root folder does not exist"):
        load(tmp_path / "nowhere", format="modelnet40_normal_resampled")


def test_missing_index_file(tmp_path):
    root = write_resampled(tmp_path / "mn")
    (root / "modelnet40_test.txt").unlink()
    with pytest.raises(DataError) as e:
        load(root, "test")
    assert one_line(e) == f"{root / 'modelnet40_test.txt'}: split index for 'test' missing"


def test_missing_class_list(tmp_path):
    root = write_hdf5(tmp_path / "h5")
    (root / "shape_names.txt").unlink()
    with pytest.raises(DataError, match="shape_names.txt: class list missing"):
        load(root, format="modelnet40_ply_hdf5_2048")


def test_listed_object_file_missing(tmp_path):
    root = write_resampled(tmp_path / "mn")
    (root / "chair" / "chair_0002.txt").unlink()
    with pytest.raises(DataError) as e:
        load(root)
    assert (
        one_line(e) == f"{root / 'chair' / 'chair_0002.txt'}: listed in the split index but missing"
    )


def test_listed_hdf5_file_missing(tmp_path):
    root = write_hdf5(tmp_path / "h5")
    (root / "ply_data_train1.h5").unlink()
    with pytest.raises(
        DataError, match="ply_data_train1.h5: listed in train_files.txt but missing"
    ):
        load(root)


def test_wrong_number_of_columns(tmp_path):
    root = write_resampled(tmp_path / "mn")
    path = root / "chair" / "chair_0002.txt"
    lines = path.read_text().splitlines()
    lines[4] = ",".join(lines[4].split(",")[:5])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        load(root)
    assert one_line(e) == f"{path}: row 5 has 5 columns, expected 6"


def test_consistently_wrong_column_count(tmp_path):
    root = write_resampled(tmp_path / "mn")
    path = root / "chair" / "chair_0002.txt"
    np.savetxt(path, np.zeros((40, 3)), delimiter=",")
    with pytest.raises(DataError, match="chair_0002.txt: rows have 3 columns, expected 6"):
        load(root)


def test_text_that_is_not_a_number(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("1 2 3\n4 five 6\n")
    with pytest.raises(DataError, match=r"a.txt: row 2 holds 'five', not a number"):
        read_text_points(path)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_nan_or_infinite_values(tmp_path, bad):
    root = write_resampled(tmp_path / "mn")
    path = root / "night_stand" / "night_stand_0002.txt"
    lines = path.read_text().splitlines()
    lines[9] = f"{bad},0,0,0,0,1"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        load(root)
    assert one_line(e) == f"{path}: NaN or infinite value at row 10"


def test_nan_in_hdf5(tmp_path):
    root = write_hdf5(tmp_path / "h5")
    with h5py.File(root / "ply_data_test0.h5", "a") as h5:
        h5["data"][2, 5, 1] = np.nan
    with pytest.raises(DataError, match="ply_data_test0.h5: NaN or infinite value"):
        load(root, "test")


def test_hdf5_without_data(tmp_path):
    root = write_hdf5(tmp_path / "h5")
    with h5py.File(root / "ply_data_test0.h5", "a") as h5:
        del h5["data"]
    with pytest.raises(DataError, match="ply_data_test0.h5: no 'data' dataset"):
        load(root, "test")


def test_file_that_is_not_hdf5(tmp_path):
    root = write_hdf5(tmp_path / "h5")
    (root / "ply_data_test0.h5").write_text("hello")
    with pytest.raises(DataError, match="ply_data_test0.h5: not a readable HDF5 file"):
        load(root, "test")


def test_empty_files(tmp_path):
    root = write_resampled(tmp_path / "mn")
    path = root / "chair" / "chair_0002.txt"
    path.write_text("")
    with pytest.raises(DataError) as e:
        load(root)
    assert one_line(e) == f"{path}: empty file"
    for suffix in (".npy", ".off", ".ply", ".obj"):
        empty = tmp_path / f"e{suffix}"
        empty.write_bytes(b"")
        with pytest.raises(DataError, match=f"e\\{suffix}: empty file"):
            read_object(empty)


def test_fewer_points_than_requested(tmp_path):
    root = write_resampled(tmp_path / "mn", rows=20)
    with pytest.raises(DataError) as e:
        load(root, num_points=32)
    assert "chair_0002.txt: has 20 points, fewer than the 32 requested" in one_line(e)
    d = load(root, num_points=32, replace=True)
    assert d.points.shape == (2, 32, 3)


def test_unknown_class_in_index(tmp_path):
    root = write_resampled(tmp_path / "mn")
    (root / "modelnet40_train.txt").write_text("chair_0002\nspaceship_0001\n")
    with pytest.raises(DataError) as e:
        load(root)
    assert "object 'spaceship_0001' has class 'spaceship', which is not in" in one_line(e)


def test_unknown_synset_in_shapenet_split(tmp_path):
    root = write_shapenet(tmp_path / "sn")
    (root / "train_test_split" / "shuffled_test_file_list.json").write_text(
        '["shape_data/99999999/x"]'
    )
    with pytest.raises(DataError, match="synset 99999999, which is not in synsetoffset2category"):
        load(root, "test")


def test_unknown_format_and_split(tmp_path):
    root = write_resampled(tmp_path / "mn")
    with pytest.raises(DataError) as e:
        load(root, format="pcd")
    assert one_line(e).startswith("unknown dataset format 'pcd'; choose one of modelnet40_normal")
    with pytest.raises(DataError, match="unsupported file type '.pcd'"):
        read_object(tmp_path / "x.pcd")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="cannot tell the dataset format"):
        load(tmp_path / "plain")


def test_malformed_off(tmp_path):
    path = tmp_path / "m.off"
    path.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n")
    with pytest.raises(DataError, match="m.off: face refers to a vertex index outside 0..2"):
        read_off(path)
    path.write_text("OFF\n5 1 0\n0 0 0\n")
    with pytest.raises(DataError, match="header promises 5 vertices and 1 faces"):
        read_off(path)
    path.write_text("PLY\n")
    with pytest.raises(DataError, match="not an OFF file"):
        read_off(path)


def test_cli_prints_one_line_and_no_traceback(tmp_path, monkeypatch, capsys):
    code, out, err = run_cli(["data", "info", str(tmp_path / "nowhere")], monkeypatch, capsys)
    assert code == 1
    assert err.strip() == f"error: {tmp_path / 'nowhere'}: dataset root folder does not exist"
    assert "Traceback" not in err + out


def test_cli_bad_column_count(tmp_path, monkeypatch, capsys):
    root = write_resampled(tmp_path / "mn")
    path = root / "chair" / "chair_0001.txt"
    path.write_text("1,2,3\n")
    code, _, err = run_cli(["data", "info", str(root), "--num-points", "32"], monkeypatch, capsys)
    assert code == 1
    assert err.strip().splitlines()[-1] == f"error: {path}: rows have 3 columns, expected 6"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export-model", "nope.safetensors", "--out", "x.pt"], "--out x.pt: must end in"),
        (["export-model", "nope.safetensors", "--out", "x.safetensors"], "nope.safetensors: "),
        (["train", "--train-per-class", "0"], "--train-per-class must be at least 1"),
        (["explain", "--model", "bundled:nothing"], "bundled:nothing: no bundled model"),
        (["experiment", "realism", "--data", "nowhere"], "nowhere: dataset root folder"),
        (["evaluate", "nowhere"], "nowhere: no such folder"),
        (["experiment", "sanity", "--rates", "0,half"], "--rates '0,half': expected"),
        (["experiment", "table1", "--classes", "chiar"], "unknown class 'chiar'"),
        (["experiment", "beta", "--restarts", "0"], "--restarts 0: must be at least 1"),
        (["experiment", "ablation", "--method", "flw"], "flw"),
    ],
)
def test_new_commands_answer_bad_input_in_one_line(args, message, monkeypatch, capsys):
    code, _, err = run_cli(args, monkeypatch, capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def commands_with_out_folder() -> list[list[str]]:
    """Every command (as its words) whose ``--out`` is an output folder."""
    from flowam.cli import check_out_option

    def folder(p) -> bool:
        return "--out" in p.opts and getattr(p.callback, "__wrapped__", None) is check_out_option

    commands = cli_commands().items()
    return [with_arguments(w, c) for w, c in commands if any(folder(p) for p in c.params)]


def test_every_output_folder_that_is_a_file_or_cannot_be_made_is_one_line(
    tmp_path, monkeypatch, capsys
):
    commands = commands_with_out_folder()
    assert ["explain"] in commands and ["demo"] in commands and len(commands) >= 12
    commands += [["train"], ["train-generator"]]  # their --out is a config field
    taken = tmp_path / "taken"
    taken.write_text("a file\n")
    cases = (
        (taken, f"--out {taken}: is a file"),
        (taken / "x", f"--out {taken / 'x'}: cannot be created: {taken} is a file"),
    )
    for words in commands:
        for out, message in cases:
            code, stdout, err = run_cli([*words, "--out", str(out)], monkeypatch, capsys)
            lines = err.strip().splitlines()
            assert code == 1 and lines == [f"error: {message}"], (words, err)
            assert "Traceback" not in stdout + err
    assert taken.read_text() == "a file\n" and sorted(tmp_path.iterdir()) == [taken]


def test_a_folder_that_cannot_be_created_is_one_line_when_it_is_made(tmp_path, monkeypatch):
    from flowam import cache
    from flowam.errors import FlowamError

    def refuse(self, *args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(cache.Path, "mkdir", refuse)
    with pytest.raises(FlowamError) as e:
        cache.write_text(tmp_path / "new" / "a.txt", "x")
    assert one_line(e) == f"{tmp_path / 'new'}: cannot be created: No such file or directory"


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_weights_holding_nan_or_infinity_are_refused(tmp_path, monkeypatch, capsys, suffix, bad):
    import torch
    from safetensors.torch import save_file

    from flowam.models import get_model

    state = get_model("pointnet", 4).state_dict()
    state["fc3.weight"][1, 2] = float(bad)
    path = tmp_path / f"model{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"model_state_dict": state}, path)
    code, _, err = run_cli(
        ["explain", "--model", str(path), "--out", str(tmp_path / "o")], monkeypatch, capsys
    )
    what = "NaN" if bad == "nan" else "infinity"
    assert code == 1 and err.strip() == f"error: {path}: weights hold {what} in fc3.weight"
    assert not (tmp_path / "o").exists()
