"""Malformed input, generated: every reader answers with one ``FlowamError`` line (or
reads the input, where a mutation left it valid), never another exception, and leaves
no file half-written.

Each test starts from a small valid input (a dataset the tests write, a checkpoint, a
generator, a method file), replaces one file with a mutation of it (truncated, random
bytes, bytes overwritten, a number replaced by NaN, infinity, a huge or an empty value,
a column dropped or added, a line repeated many times) and reads it through the public
entry point. CI runs ``FLOWAM_FUZZ_EXAMPLES`` examples per test (default 15);
``benchmarks/fuzz_inputs.py`` runs thousands.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowam.data import PointCloudDataset, load_dataset
from flowam.errors import FlowamError
from test_data import write_folder, write_hdf5, write_off_meshes, write_resampled, write_shapenet

# an overflow or invalid value on the way is a silent wrong result waiting to happen
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")
EXAMPLES = int(os.environ.get("FLOWAM_FUZZ_EXAMPLES", "15"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis folder in the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NUMBER = re.compile(rb"-?\d+(\.\d+)?(e-?\d+)?")
ODD_VALUES = [b"nan", b"inf", b"-inf", b"1e39", b"1e308", b"", b"x", b"0x1f", b"--1", b"1,", b" "]


@st.composite
def mutation(draw, valid: bytes) -> bytes:
    """One malformed (or, by chance, still valid) version of ``valid``."""
    kind = draw(st.sampled_from(["truncate", "random", "overwrite", "number", "column", "repeat"]))
    if kind == "truncate":
        return valid[: draw(st.integers(0, max(len(valid) - 1, 0)))]
    if kind == "random":
        return draw(st.binary(max_size=4096))
    if kind == "overwrite":
        at = draw(st.integers(0, max(len(valid) - 1, 0)))
        patch = draw(st.binary(min_size=1, max_size=64))
        return valid[:at] + patch + valid[at + len(patch) :]
    lines = valid.split(b"\n")
    row = draw(st.integers(0, max(len(lines) - 1, 0)))
    if kind == "number":  # one number becomes NaN, infinity, huge, empty or not a number
        found = list(NUMBER.finditer(valid))
        if not found:
            return valid + draw(st.sampled_from(ODD_VALUES))
        m = found[draw(st.integers(0, len(found) - 1))]
        return valid[: m.start()] + draw(st.sampled_from(ODD_VALUES)) + valid[m.end() :]
    if kind == "column":  # a row loses or gains a field
        sep = b"," if b"," in lines[row] else b" "
        fields = lines[row].split(sep)
        fields = fields[:-1] if draw(st.booleans()) and len(fields) > 1 else [*fields, b"1.0"]
        lines[row] = sep.join(fields)
        return b"\n".join(lines)
    times = draw(st.sampled_from([2, 1000, 20000]))  # a line repeated: a huge file
    return b"\n".join(lines[:row] + [lines[row]] * times + lines[row + 1 :])


def leftovers(folder: Path) -> list[Path]:
    """Temporary files of :func:`flowam.cache.atomic_path` (``.stem.XXXX.suffix``)."""
    return [p for p in folder.rglob(".*") if p.is_file()]


@contextmanager
def fresh() -> Iterator[Path]:
    """A folder of one example, with its own cache (``FLOWAM_CACHE_DIR``)."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    before = os.environ.get("FLOWAM_CACHE_DIR")
    os.environ["FLOWAM_CACHE_DIR"] = str(folder / "cache")
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop("FLOWAM_CACHE_DIR", None)
        else:
            os.environ["FLOWAM_CACHE_DIR"] = before
        shutil.rmtree(folder, ignore_errors=True)


def answers(read: Callable[[], object], folder: Path) -> None:
    """``read`` succeeds (a dataset it returns holds finite points and valid labels) or
    raises one FlowamError line; no temporary file stays behind, and a failed read leaves
    no cache entry."""
    try:
        result = read()
        if isinstance(result, PointCloudDataset):
            assert len(result) and np.isfinite(result.points).all()
            assert result.normals is None or np.isfinite(result.normals).all()
            assert result.labels.min() >= 0 and result.labels.max() < len(result.classes)
    except FlowamError as e:
        text = str(e)
        assert text and "\n" not in text, repr(text)
        cache = folder / "cache"
        assert not cache.exists() or not [p for p in cache.rglob("*") if p.is_file()]
    assert not leftovers(folder)


def fuzz_file(build: Callable[[Path], Path], target: str, read: Callable[[Path], object]):
    """A property: the dataset (or file) ``build`` writes, with ``target`` (relative to
    what ``build`` returns) replaced by a mutation, read by ``read(root)``."""
    with fresh() as folder:
        root = build(folder / "input")
        valid = (root / target).read_bytes()

    @FUZZ
    @given(data=st.data())
    def prop(data):
        with fresh() as folder:
            root = build(folder / "input")
            (root / target).write_bytes(data.draw(mutation(valid)))
            answers(lambda: read(root), folder)

    prop()


def loader(split: str = "train", **options) -> Callable[[Path], object]:
    return lambda root: load_dataset(root, split, num_points=32, progress=False, **options)


@pytest.mark.parametrize(
    "target",
    [
        "chair/chair_0002.txt",
        "modelnet40_train.txt",
        "modelnet40_shape_names.txt",
    ],
)
def test_modelnet_resampled_files(target):
    fuzz_file(write_resampled, target, loader(use_normals=True))


def test_modelnet_hdf5_files():
    fuzz_file(write_hdf5, "ply_data_train0.h5", loader())


@given(
    data=st.one_of(
        st.just(None),
        st.lists(st.integers(0, 4), min_size=1, max_size=3).map(tuple),
    ),
    labels=st.one_of(st.just(None), st.integers(-2, 5), st.sampled_from([np.nan, 1e9])),
    values=st.sampled_from([0.0, np.nan, np.inf, 1e30]),
    dtype=st.sampled_from(["float32", "float64", "int8", "uint8"]),
)
@FUZZ
def test_modelnet_hdf5_arrays(data, labels, values, dtype):
    """Valid HDF5 files whose arrays have the wrong shape, type, values or labels."""
    with fresh() as folder:
        root = write_hdf5(folder / "input")
        with h5py.File(root / "ply_data_train0.h5", "w") as h5:
            if data is not None:
                array = np.full(data, values) if dtype.startswith("float") else np.ones(data)
                h5["data"] = array.astype(dtype)
            if labels is not None:
                count = data[0] if data else 1
                h5["label"] = np.full((count, 1), labels, dtype=np.float64)
        answers(lambda: loader()(root), folder)


def test_off_meshes():
    fuzz_file(write_off_meshes, "box/train/box_0001.off", loader())


@pytest.mark.parametrize(
    "target",
    ["02691156/156abc0.txt", "train_test_split/shuffled_train_file_list.json"],
)
def test_shapenet_part_files(target):
    fuzz_file(write_shapenet, target, loader())


@pytest.mark.parametrize(
    "target", ["mug/a.txt", "mug/b.npy", "mug/c.ply", "mug/d.obj", "mug/e.off"]
)
def test_folder_files(target):
    fuzz_file(write_folder, target, loader())


def write_checkpoint(folder: Path, suffix: str) -> Path:
    """A small PointNet's weights (with metadata for safetensors) in ``folder``."""
    from flowam.models import get_model
    from flowam.models.checkpoint import save_model

    folder.mkdir(parents=True)
    model = get_model("pointnet", 3).eval()
    if suffix == ".safetensors":
        meta = {"architecture": "pointnet", "num_classes": 3, "classes": ["a", "b", "c"]}
        save_model(model, folder / "model.safetensors", meta)
    else:
        torch.save({"model_state_dict": model.state_dict()}, folder / "model.pth")
    return folder


def read_classifier(name: str) -> Callable[[Path], object]:
    from flowam.models import load_classifier

    return lambda root: load_classifier(root / name)


@pytest.mark.parametrize(
    ("suffix", "target"),
    [(".safetensors", "model.safetensors"), (".safetensors", "model.json"), (".pth", "model.pth")],
)
def test_checkpoint_files(suffix, target):
    fuzz_file(lambda f: write_checkpoint(f, suffix), target, read_classifier(f"model{suffix}"))


def write_generator(folder: Path) -> Path:
    """The bundled AE generator's files, copied into ``folder``."""
    from flowam.generative import resolve_generator

    folder.mkdir(parents=True)
    path = resolve_generator("bundled:ae")
    for source in (path, path.with_suffix(".json")):
        shutil.copy(source, folder / f"ae{source.suffix}")
    return folder


@pytest.mark.parametrize("target", ["ae.safetensors", "ae.json"])
def test_generator_files(target):
    from flowam.generative import load_generator

    fuzz_file(write_generator, target, lambda root: load_generator(root / "ae.safetensors"))


def write_method(folder: Path) -> Path:
    """The ``parts`` preset as a method file in ``folder``."""
    from importlib import resources

    folder.mkdir(parents=True)
    text = (resources.files("flowam") / "configs" / "methods" / "parts.toml").read_text()
    (folder / "mine.toml").write_text(text + '\n[objective.align]\n"feat.stn.fc1" = 0.5\n')
    return folder


def sound_method(path: Path):
    """The method in ``path``, loaded and checked; where that succeeds, every number it
    holds is finite and the run can take a step (a silently wrong method is no answer)."""
    import dataclasses

    from flowam.methods import load_method

    config = load_method(path)
    for section in (config.run, config.objective, config.param, config.robustness):
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, float):
                assert math.isfinite(value), (f.name, value)
    assert isinstance(config.run.steps, int) and config.run.steps >= 1
    assert config.run.lr > 0
    return config


def test_method_files():
    fuzz_file(write_method, "mine.toml", lambda root: sound_method(root / "mine.toml"))


KEYS = st.sampled_from(
    [
        "run.steps",
        "run.lr",
        "param.start",
        "run.optimizer",
        "objective.beta",
        "robustness.copies",
        "param.kind",
        "param.smoothing",
        "objective.bound",
        "objective.align",
        "transforms.blur_every",
        "objective.tv_k",
        "nothing",
        "param.generator",
        "run.stop_log_prob",
        "param.start_noise",
    ]
)
VALUES = st.one_of(
    st.integers(-10, 10**9),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
)


@given(values=st.dictionaries(KEYS, VALUES, max_size=4))
@FUZZ
def test_method_values(values):
    """Method files whose values have the wrong type or range: refused in one line when
    loaded and checked, or accepted."""
    import json

    with fresh() as folder:
        path = folder / "mine.json"
        path.write_text(json.dumps(values))
        loaded = []
        answers(lambda: loaded.append(sound_method(path)), folder)
        for key, value in values.items() if loaded else ():
            if key in ("nothing", "objective.align") or isinstance(value, bool | list):
                continue
            section, _, name = key.partition(".")
            kept = getattr(getattr(loaded[0], section), name)  # an accepted value is the one used
            assert kept == value or (isinstance(value, int | float) and kept == float(value))


@pytest.fixture(scope="module")
def run_folder(tiny_model, tiny_data, tmp_path_factory) -> Path:
    """A run folder of ``flowam explain`` (two methods, two classes, starts and history)."""
    from conftest import run_cli

    out = tmp_path_factory.mktemp("fuzz-run") / "run"
    args = ["explain", "--model", str(tiny_model), "--data", str(tiny_data), "--steps", "2"]
    args += ["--method", "vanilla,l2", "--no-pictures", "--out", str(out)]
    mp = pytest.MonkeyPatch()
    try:
        code, _, err = run_cli(args, mp, _NoCapture())
    finally:
        mp.undo()
    assert code == 0, err
    return out


class _NoCapture:
    """Stands in for pytest's capsys where a module-scoped fixture runs the CLI."""

    @staticmethod
    def readouterr() -> tuple[str, str]:
        return "", ""


def read_run_folder(read: str) -> Callable[[Path], object]:
    """``flowam evaluate`` or ``flowam report`` of a run folder, through Python."""
    from flowam.evaluation import evaluate_folder
    from flowam.report import write_report

    if read == "evaluate":
        return evaluate_folder
    return lambda root: write_report(root, root / "out.html", real=1)


@pytest.mark.parametrize(
    ("read", "target"),
    [
        ("evaluate", "vanilla/box_0.npy"),
        ("evaluate", "vanilla/box_0.json"),
        ("evaluate", "vanilla/starts.npz"),
        ("evaluate", "config.json"),
        ("report", "l2/cone_0.npy"),
        ("report", "l2/cone_0.json"),
        ("report", "l2/history.npz"),
        ("report", "summary.json"),
    ],
)
def test_run_folder_files(run_folder, read, target, monkeypatch):
    """A run folder with one file mutated: ``evaluate`` and ``report`` read it or answer in
    one line naming the file (a cloud with non-finite coordinates is left out, warned)."""
    valid = (run_folder / target).read_bytes()
    # A mutated config may name the procedural dataset (or another size of it): keep the
    # generation that follows small, so that it costs a second, not a minute per example.
    from flowam.data.procedural import generate

    monkeypatch.setitem(generate.DEFAULTS, "test_per_class", 2)
    monkeypatch.setitem(generate.DEFAULTS, "train_per_class", 2)

    @settings(FUZZ, max_examples=min(EXAMPLES, 10))
    @given(data=st.data())
    def prop(data):
        with fresh() as folder:
            root = Path(shutil.copytree(run_folder, folder / "input"))
            (root / target).write_bytes(data.draw(mutation(valid)))
            try:
                read_run_folder(read)(root)
            except FlowamError as e:
                text = str(e)
                assert text and "\n" not in text, repr(text)
                if target != "config.json":  # else it may name what the config names
                    assert str(folder) in text, text
            assert not leftovers(root)

    with _any_warnings():
        prop()


@contextmanager
def _any_warnings() -> Iterator[None]:
    """Let flowam's warnings about left-out clouds through (they are not errors here)."""
    import warnings

    from flowam.errors import FlowamWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlowamWarning)
        yield


BOUNDS = {
    "--seed": lambda v: v >= 0,
    "--restarts": lambda v: v >= 1,
    "--steps": lambda v: v >= 1,
    "--num-points": lambda v: v >= 32,
    "--chunk-size": lambda v: v >= 1,
}


@given(
    values=st.dictionaries(
        st.sampled_from([*BOUNDS, "--classes", "--snapshots", "--set"]),
        st.one_of(
            st.integers(-(10**12), 10**12).map(str),
            st.floats(allow_nan=True, allow_infinity=True).map(str),
            st.text(max_size=6),
            st.sampled_from(["", " ", ",", "0", "-0", "1e400", "nan", "chair,", "a=1"]),
        ),
        max_size=4,
    )
)
@FUZZ
def test_option_values(values):
    """``flowam explain``'s options with any values: the parser accepts them within their
    bounds or refuses them, as a one-line FlowamError or a usage error, before any work."""
    import typer

    from flowam.cli import app

    # click's base of every command-line mistake (typer vendors click, exporting this one)
    usage_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
    group = typer.main.get_command(app)
    command = group.get_command(typer.Context(group), "explain")
    args = [item for option, value in values.items() for item in (option, value)]
    try:
        ctx = command.make_context("explain", args)
    except FlowamError as e:
        assert str(e) and "\n" not in str(e)
        return
    except usage_error:
        return
    params = ctx.params
    for option, holds in BOUNDS.items():
        value = params[option[2:].replace("-", "_")]
        assert value is None or (holds(value) and math.isfinite(value)), (option, value)
    # the parsed values: None (the default), "all" or names; steps, each at least 0
    classes = params["classes"]
    assert classes in (None, "all") or (classes and all(c and c == c.strip() for c in classes))
    assert all(isinstance(k, int) and k >= 0 for k in params["snapshots"])
