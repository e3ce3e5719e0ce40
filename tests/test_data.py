"""flowam.data: every real dataset format, on small files the tests write themselves."""

import json

import h5py
import numpy as np
import pytest
import trimesh

from conftest import MODELNET_SAMPLE
from flowam.data import concatenate, detect_format, load_dataset
from flowam.data.io import read_off
from flowam.errors import DataError

RNG = np.random.default_rng(0)


def cloud(n=64, cols=6):
    return RNG.normal(size=(n, cols)).astype(np.float32)


def write_resampled(root, classes=("chair", "night_stand"), per_class=2, rows=64):
    root.mkdir(parents=True, exist_ok=True)
    (root / "modelnet40_shape_names.txt").write_text("\n".join(classes) + "\n")
    train, test = [], []
    for c in classes:
        (root / c).mkdir()
        for i in range(per_class):
            name = f"{c}_{i + 1:04d}"
            np.savetxt(root / c / f"{name}.txt", cloud(rows), delimiter=",", fmt="%.6f")
            (train if i else test).append(name)
    (root / "modelnet40_train.txt").write_text("\n".join(train) + "\n")
    (root / "modelnet40_test.txt").write_text("\n".join(test) + "\n")
    return root


def write_hdf5(root, with_normals=True):
    root.mkdir(parents=True)
    (root / "shape_names.txt").write_text("airplane\nbed\ncup\n")
    for split, k in (("train", 2), ("test", 1)):
        lines = []
        for j in range(k):
            name = f"ply_data_{split}{j}.h5"
            with h5py.File(root / name, "w") as h5:
                h5["data"] = RNG.normal(size=(4, 100, 3)).astype(np.float32)
                h5["label"] = np.array([[0], [1], [2], [1]], dtype=np.uint8)
                if with_normals:
                    h5["normal"] = RNG.normal(size=(4, 100, 3)).astype(np.float32)
            lines.append(f"data/modelnet40_ply_hdf5_2048/{name}")
        (root / f"{split}_files.txt").write_text("\n".join(lines) + "\n")
    return root


def off_text(mesh, fused=False):
    head = (
        f"OFF{len(mesh.vertices)} {len(mesh.faces)} 0"
        if fused
        else f"OFF\n{len(mesh.vertices)} {len(mesh.faces)} 0"
    )
    v = "\n".join(" ".join(f"{x:.5f}" for x in row) for row in mesh.vertices)
    f = "\n".join("3 " + " ".join(map(str, row)) for row in mesh.faces)
    return f"{head}\n{v}\n{f}\n"


def write_off_meshes(root):
    for c, mesh in (("box", trimesh.creation.box()), ("cone", trimesh.creation.cone(1, 2))):
        for split in ("train", "test"):
            (root / c / split).mkdir(parents=True)
            for i in range(2):
                (root / c / split / f"{c}_{i:04d}.off").write_text(off_text(mesh, fused=i == 0))
    return root


def write_shapenet(root):
    root.mkdir(parents=True)
    (root / "synsetoffset2category.txt").write_text("Airplane\t02691156\nMug\t03797390\n")
    (root / "train_test_split").mkdir()
    lists = {"train": [], "val": [], "test": []}
    for synset in ("02691156", "03797390"):
        (root / synset).mkdir()
        for i, split in enumerate(("train", "train", "val", "test")):
            shape_id = f"{synset[-3:]}abc{i}"
            np.savetxt(root / synset / f"{shape_id}.txt", cloud(80, 7), fmt="%.5f")
            lists[split].append(f"shape_data/{synset}/{shape_id}")
    for split, entries in lists.items():
        (root / "train_test_split" / f"shuffled_{split}_file_list.json").write_text(
            json.dumps(entries)
        )
    return root


def write_folder(root, split_folders=False):
    mesh = trimesh.creation.icosphere(subdivisions=2)
    for c in ("mug", "rock"):
        folder = root / c / "train" if split_folders else root / c
        folder.mkdir(parents=True)
        np.savetxt(folder / "a.txt", cloud(50, 3))
        np.save(folder / "b.npy", cloud(50, 6))
        mesh.export(folder / "c.ply")
        mesh.export(folder / "d.obj")
        (folder / "e.off").write_text(off_text(mesh))
        trimesh.PointCloud(cloud(60, 3)).export(folder / "f.ply")
        if split_folders:
            (root / c / "test").mkdir()
            np.savetxt(root / c / "test" / "g.txt", cloud(50, 3))
    return root


def test_modelnet_resampled(tmp_path):
    root = write_resampled(tmp_path / "mn")
    assert detect_format(root) == "modelnet40_normal_resampled"
    train = load_dataset(root, "train", num_points=32, use_normals=True, progress=False)
    assert train.points.shape == (2, 32, 3) and train.normals.shape == (2, 32, 3)
    assert train.classes == ["chair", "night_stand"]
    assert train.names == ["chair_0002", "night_stand_0002"]  # class names with underscores
    assert train.labels.tolist() == [0, 1]
    raw = np.loadtxt(root / "chair" / "chair_0002.txt", delimiter=",")[:32, :3]
    centred = raw - raw.mean(0)
    assert np.allclose(train.points[0], centred / np.linalg.norm(centred, axis=1).max(), atol=1e-5)


def test_sampling_options_on_files(tmp_path):
    root = write_resampled(tmp_path / "mn")
    first = load_dataset(root, "test", num_points=16, progress=False)
    rnd = load_dataset(root, "test", num_points=16, sampling="random", seed=3, progress=False)
    rnd2 = load_dataset(root, "test", num_points=16, sampling="random", seed=3, progress=False)
    fps = load_dataset(root, "test", num_points=16, sampling="fps", progress=False)
    assert np.array_equal(rnd.points, rnd2.points)
    assert not np.allclose(first.points, rnd.points)
    assert not np.allclose(first.points, fps.points)
    raw = load_dataset(root, "test", num_points=16, normalize=False, progress=False)
    expect = np.loadtxt(root / "chair" / "chair_0001.txt", delimiter=",")[:16, :3]
    assert np.allclose(raw.points[0], expect, atol=1e-6)


def test_second_load_comes_from_the_cache(tmp_path, monkeypatch):
    root = write_resampled(tmp_path / "mn")
    a = load_dataset(root, "train", num_points=32, progress=False)
    import flowam.data.io as io

    monkeypatch.setattr(io.np, "loadtxt", lambda *a, **k: pytest.fail("file read again"))
    b = load_dataset(root, "train", num_points=32, progress=False)
    assert np.array_equal(a.points, b.points)


def test_editing_a_file_invalidates_the_cache(tmp_path):
    root = write_resampled(tmp_path / "mn")
    a = load_dataset(root, "train", num_points=32, progress=False)
    np.savetxt(root / "chair" / "chair_0002.txt", cloud(70), delimiter=",", fmt="%.6f")
    b = load_dataset(root, "train", num_points=32, progress=False)
    assert not np.allclose(a.points[0], b.points[0])


def test_modelnet_hdf5(tmp_path):
    root = write_hdf5(tmp_path / "h5")
    assert detect_format(root) == "modelnet40_ply_hdf5_2048"
    train = load_dataset(root, "train", num_points=50, use_normals=True, progress=False)
    assert train.points.shape == (8, 50, 3) and train.normals.shape == (8, 50, 3)
    assert train.labels.tolist() == [0, 1, 2, 1] * 2
    assert train.names[5] == "ply_data_train1_0001"
    with h5py.File(root / "ply_data_train1.h5") as h5:
        raw = h5["data"][1, :50]
    centred = raw - raw.mean(0)
    assert np.allclose(train.points[5], centred / np.linalg.norm(centred, axis=1).max(), atol=1e-5)
    assert len(load_dataset(root, "test", num_points=50, progress=False)) == 4


def test_modelnet_off_meshes_with_fused_header(tmp_path):
    root = write_off_meshes(tmp_path / "off")
    assert detect_format(root) == "modelnet_off"
    v, f = read_off(root / "box" / "train" / "box_0000.off")  # fused "OFF8 12 0"
    assert v.shape == (8, 3) and f.shape == (12, 3)
    d = load_dataset(root, "train", num_points=256, progress=False)
    assert d.points.shape == (4, 256, 3) and d.classes == ["box", "cone"]
    box = d.points[0]
    # points lie on the cube's surface: one coordinate at the extreme of its axis
    assert np.all(np.isclose(np.abs(box - box.mean(0)).max(1), np.abs(box).max(), atol=0.2))


def test_off_polygons_are_triangulated(tmp_path):
    path = tmp_path / "quad.off"
    path.write_text("OFF\n# a comment\n4 1 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n")
    _, f = read_off(path)
    assert f.tolist() == [[0, 1, 2], [0, 2, 3]]


def test_shapenet_part(tmp_path):
    root = write_shapenet(tmp_path / "sn")
    assert detect_format(root) == "shapenet_part"
    train = load_dataset(root, "train", num_points=40, use_normals=True, progress=False)
    assert train.classes == ["Airplane", "Mug"] and len(train) == 4
    assert len(load_dataset(root, "trainval", num_points=40, progress=False)) == 6
    assert load_dataset(root, "test", num_points=40, progress=False).labels.tolist() == [0, 1]


def test_generic_folder_with_every_file_type(tmp_path):
    root = write_folder(tmp_path / "mine")
    assert detect_format(root) == "folder"
    everything = load_dataset(root, "all", num_points=40, progress=False)
    assert len(everything) == 12 and everything.classes == ["mug", "rock"]
    train = load_dataset(root, "train", num_points=40, progress=False)
    test = load_dataset(root, "test", num_points=40, progress=False)
    assert len(train) + len(test) == 12
    assert not set(train.names) & set(test.names)


def test_generic_folder_with_split_folders(tmp_path):
    root = write_folder(tmp_path / "mine", split_folders=True)
    assert len(load_dataset(root, "train", num_points=40, progress=False)) == 12
    assert load_dataset(root, "test", num_points=40, progress=False).names == ["mug/g", "rock/g"]


@pytest.mark.skipif(not MODELNET_SAMPLE.is_dir(), reason="../shared/data not available")
def test_genuine_modelnet40_files():
    train = load_dataset(
        MODELNET_SAMPLE, "train", num_points=1024, use_normals=True, progress=False
    )
    assert len(train.classes) == 40
    assert [train.classes[k] for k in train.labels] == ["cone", "cup", "sofa"]
    assert np.allclose(np.linalg.norm(train.normals, axis=-1), 1.0, atol=0.01)
    test = load_dataset(MODELNET_SAMPLE, "test", num_points=10_000, progress=False)
    vase = test.points[0]
    e = np.ptp(vase, axis=0)
    assert e[1] == e.max()  # y is up in ModelNet40, as in the procedural data
    assert np.isclose(np.linalg.norm(vase, axis=1).max(), 1.0, atol=1e-5)
    with pytest.raises(Exception, match="fewer than the 10001 requested"):
        load_dataset(MODELNET_SAMPLE, "test", num_points=10_001, progress=False)


def test_per_class_keeps_the_first_objects_of_each_class(tmp_path):
    root = write_resampled(tmp_path / "mn", per_class=4)
    every = load_dataset(root, "train", num_points=16, progress=False)
    two = load_dataset(root, "train", num_points=16, per_class=2, progress=False)
    assert every.counts() == {"chair": 3, "night_stand": 3}
    assert two.counts() == {"chair": 2, "night_stand": 2}
    assert two.names == [n for n in every.names if n.endswith(("0002", "0003"))]
    assert np.array_equal(two.points, every.subset(np.isin(every.names, two.names)).points)


def test_splits_concatenate_and_refuse_to_mix_sizes(tmp_path):
    root = write_resampled(tmp_path / "mn", per_class=3)
    train = load_dataset(root, "train", num_points=16, progress=False)
    test = load_dataset(root, "test", num_points=16, progress=False)
    both = concatenate([train, test])
    assert len(both) == 6 and both.split == "train+test" and both.names[-1] == test.names[-1]
    assert np.array_equal(both.labels, np.concatenate([train.labels, test.labels]))
    with pytest.raises(DataError, match="differ in classes or size"):
        concatenate([train, load_dataset(root, "test", num_points=8, progress=False)])
