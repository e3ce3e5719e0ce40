"""The life of a run folder (:mod:`flowam.runfolder`): one run per folder, a lock, run.json,
options refused before anything is written, and stops by real signals (:mod:`flowam.stopping`)
that leave complete files behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from flowam import runfolder
from flowam.errors import FlowamError


def strict_json(path: Path):
    """``path``'s JSON, refusing the NaN and Infinity that strict JSON has not."""

    def refuse(name: str):
        raise AssertionError(f"{path}: {name} is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture
def command(tiny_model, tiny_data):
    """``flowam explain`` of one class of the tiny model, without pictures."""
    return [
        "explain", "--model", str(tiny_model), "--data", str(tiny_data), "--classes", "box",
        "--no-pictures",
    ]  # fmt: skip


@pytest.fixture
def explain(command):
    """:func:`command` for 2 steps: its arguments before ``--method`` and ``--out``."""
    return [*command, "--steps", "2"]


def explain_into(out: Path, args: list[str], monkeypatch, capsys) -> str:
    """``flowam explain ARGS --method vanilla --out OUT``, which must succeed; its stderr."""
    code, _, err = run_cli([*args, "--method", "vanilla", "--out", str(out)], monkeypatch, capsys)
    assert code == 0, err
    return err


def test_a_folder_holds_one_run_and_overwrite_replaces_it(explain, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    explain_into(out, explain, monkeypatch, capsys)
    record = strict_json(out / "run.json")
    assert record["command"] == "explain" and record["status"] == "complete"
    assert not (out / runfolder.LOCK).exists()
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    code, _, err = run_cli([*explain, "--method", "l2", "--out", str(out)], monkeypatch, capsys)
    assert code == 1 and "holds an earlier run (explain)" in err and "--overwrite" in err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before  # untouched
    code, _, err = run_cli(
        [*explain, "--method", "l2", "--overwrite", "--out", str(out)], monkeypatch, capsys
    )
    assert code == 0, err
    assert (out / "l2").is_dir() and not (out / "vanilla").exists()  # nothing of the first
    assert strict_json(out / "config.json")["methods"] == ["l2"]


def test_files_flowam_did_not_write_are_never_removed(explain, tmp_path, monkeypatch, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    for extra in ([], ["--overwrite"]):
        code, _, err = run_cli([*explain, *extra, "--out", str(out)], monkeypatch, capsys)
        assert code == 1 and "not a flowam run (thesis.tex" in err
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def test_a_second_process_is_kept_out_by_the_lock(tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / runfolder.LOCK).write_text(f"{other.pid}\n")
        held = f"another flowam process \\(pid {other.pid}\\)"
        with pytest.raises(FlowamError, match=held), runfolder.claim(out, "explain"):
            pass
    finally:
        other.kill()
        other.wait()
    # its process is gone: the lock is stale and taken over
    with runfolder.claim(out, "explain") as path:
        assert (path / runfolder.LOCK).read_text().split()[0] == str(os.getpid())
    assert not (out / runfolder.LOCK).exists()
    assert strict_json(out / "run.json")["status"] == "complete"


def test_a_fresh_lock_without_a_process_id_counts_as_held(tmp_path):
    out = tmp_path / "racing"
    out.mkdir()
    (out / runfolder.LOCK).write_text("")  # its writer has not written its id yet
    with pytest.raises(FlowamError, match="pid \\?"), runfolder.claim(out, "explain"):
        pass


def test_temporary_files_of_a_killed_run_are_removed(tmp_path):
    out = tmp_path / "killed"
    with runfolder.claim(out, "explain"):
        (out / ".flowam-tmp.chair_0.abc.npy").write_bytes(b"")  # what SIGKILL leaves
    with runfolder.claim(out, "explain", overwrite=True):
        assert not list(out.glob(".flowam-tmp.*"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--restarts", "0"], "--restarts 0: must be at least 1"),
        (["--seed", "-1"], "--seed -1: must be at least 0"),
        (["--set", "run.lr=0"], "run.lr=0.0 must be above 0"),
        (["--num-points", "3"], "--num-points 3: must be at least 32"),
        (["--chunk-size", "0"], "--chunk-size 0: must be at least 1"),
        (["--steps", "0"], "--steps 0: must be at least 1"),
        (["--classes", ""], "--classes '': name at least one class"),
        (["--classes", " , "], "--classes ' , ': name at least one class"),
        (["--snapshots", "abc"], "--snapshots 'abc': expected"),
        (["--snapshots", "-1"], "--snapshots -1"),
        (["--snapshots", "5"], "--snapshots 5: outside method vanilla's 2 steps"),
        (["--set", "objective.align.x=1"], "unknown layer 'x' in PointNet"),
        (["--set", "nosuch=1"], "--set nosuch: unknown method option"),
        (["--classes", "chiar"], "unknown class 'chiar'"),
    ],
)
def test_bad_options_are_one_line_and_leave_nothing_behind(
    explain, extra, message, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "runs" / "never"
    code, _, err = run_cli(
        [*explain, "--method", "vanilla", *extra, "--out", str(out)], monkeypatch, capsys
    )
    assert code == 1, err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not out.parent.exists()  # nor the parent it would have made


@pytest.mark.parametrize("shared", [False, True])
def test_a_refused_run_removes_every_folder_its_claim_made_and_no_other(tmp_path, shared):
    (tmp_path / "kept").mkdir()
    for out in (tmp_path / "runs" / "a" / "b", tmp_path / "kept" / "c"):
        with (
            pytest.raises(FlowamError, match="refused"),
            runfolder.claim(out, "sweep" if shared else "explain", shared=shared),
        ):
            assert out.is_dir()
            raise FlowamError("refused")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
    assert not any((tmp_path / "kept").iterdir())


def test_snapshots_are_written_at_the_steps_asked(explain, tmp_path, monkeypatch, capsys):
    out = tmp_path / "snap"
    args = [*explain, "--method", "vanilla", "--snapshots", "0,1,2", "--out", str(out)]
    code, _, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    with np.load(out / "vanilla" / "snapshots.npz") as saved:
        assert sorted(saved.files) == ["box_0@0", "box_0@1", "box_0@2"]
        start = np.load(out / "vanilla" / "starts.npz")["box_0"]
        assert np.allclose(saved["box_0@0"], start)  # step 0 is the start
        assert not np.allclose(saved["box_0@2"], saved["box_0@0"])  # the cloud moved
        assert saved["box_0@2"].shape == start.shape


def test_summaries_are_strict_json(explain, tmp_path, monkeypatch, capsys):
    out = tmp_path / "strict"
    explain_into(out, explain, monkeypatch, capsys)
    summary = strict_json(out / "summary.json")
    assert summary["vanilla"]["status"] == "finished"
    # one restart of one class: 1-NNA per class is undefined, written as null, not NaN
    assert None in summary["vanilla"].values()
    for path in out.rglob("*.json"):
        strict_json(path)


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_left():
    """A test that fails half-way leaves no long run behind it."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def _start(args: list[str], out: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("TQDM_DISABLE", None)
    with open(log, "w") as f:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowam", *args, "--out", str(out)], stderr=f, stdout=f, env=env
        )
    _STARTED.append(process)
    return process


def _wait_for(log: Path, text: str, process: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while text not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < end, f"no {text!r} in {timeout} s: {log.read_text()}"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("signum", "code", "name"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_a_signal_mid_run_keeps_complete_files_and_a_stopped_record(
    command, signum, code, name, tmp_path, monkeypatch, capsys
):
    out, log = tmp_path / "stopped", tmp_path / "log.txt"
    args = [*command, "--method", "vanilla,l2", "--steps", "200000"]  # far too long
    process = _start(args, out, log)
    # the optimisation has taken steps: its bar's first line after the start (outside a
    # terminal a bar writes a line every few seconds) counts more than 0
    _wait_for(log, "explaining", process)
    end = time.monotonic() + 120
    while not re.search(r"\| *[1-9]\d*/200000 ", log.read_text()):
        assert process.poll() is None and time.monotonic() < end, log.read_text()
        time.sleep(0.1)
    sent = time.monotonic()
    process.send_signal(signum)
    _wait_for(log, f"stopping ({name})", process, timeout=2)  # one line at once
    assert process.wait(timeout=60) == code, log.read_text()
    assert time.monotonic() - sent < 30
    text = log.read_text()
    assert "Traceback" not in text and f"stopped: what was finished is in {out}" in text
    assert strict_json(out / "run.json")["status"] == f"stopped ({name})"
    record = strict_json(out / "vanilla" / "box_0.json")
    assert record["status"].startswith("stopped at step") and record["scores"] == {}
    assert 0 < record["steps_run"] < 200000
    assert np.isfinite(np.load(out / "vanilla" / "box_0.npy")).all()
    summary = strict_json(out / "summary.json")
    assert summary["vanilla"]["status"].startswith("stopped at step")
    assert summary["l2"] == {"status": f"not run: stopped ({name})"}
    assert not list(out.rglob(".flowam-tmp.*")) and not (out / runfolder.LOCK).exists()
    # a stopped run is scored and reported like any other
    code, text, err = run_cli(["evaluate", str(out)], monkeypatch, capsys)
    assert code == 0 and "vanilla" in text + err, err
    code, _, err = run_cli(
        ["report", str(out), "--out", str(out / "report.html")], monkeypatch, capsys
    )
    assert code == 0 and (out / "report.html").is_file(), err


def test_a_signal_while_importing_is_one_line_too(explain, tmp_path):
    out, log = tmp_path / "early", tmp_path / "log.txt"
    process = _start([*explain, "--method", "vanilla"], out, log)
    time.sleep(0.3)  # torch, trimesh and the command line are still being imported
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130, log.read_text()
    text = log.read_text()
    assert "Traceback" not in text and "stopping (Ctrl-C)" in text
    assert not out.exists() or strict_json(out / "run.json")["status"] == "stopped (Ctrl-C)"


def test_a_second_ctrl_c_quits_at_once_leaving_only_complete_files(command, tmp_path):
    out, log = tmp_path / "twice", tmp_path / "log.txt"
    process = _start([*command, "--method", "vanilla", "--steps", "200000"], out, log)
    _wait_for(log, "explaining", process)
    process.send_signal(signal.SIGINT)
    _wait_for(log, "stopping (Ctrl-C)", process, timeout=2)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130, log.read_text()
    assert not list(out.rglob(".flowam-tmp.*")) and not (out / runfolder.LOCK).exists()
    for path in out.rglob("*.json"):
        strict_json(path)  # every file there is whole


@pytest.fixture
def finished(explain, tmp_path, monkeypatch, capsys) -> Path:
    """A finished run folder of two classes."""
    out = tmp_path / "finished"
    args = [*explain, "--classes", "box,cone", "--method", "vanilla", "--out", str(out)]
    code, _, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    return out


def _pickled(path: Path) -> None:
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda run: _pickled(run / "box_0.npy"), "box_0.npy: holds Python objects"),
        (lambda run: (run / "box_0.npy").write_bytes(os.urandom(300)), "box_0.npy: is not a"),
        (lambda run: np.save(run / "box_0.npy", np.zeros((10, 2))), "shape (10, 2); expected"),
        (lambda run: np.save(run / "box_0.npy", np.zeros((0, 3))), "shape (0, 3); expected"),
        (lambda run: np.save(run / "box_0.npy", np.zeros((2, 64, 3))), "shape (2, 64, 3)"),
        (lambda run: np.save(run / "box_0.npy", np.zeros((9, 3))), "9 points, where the run's"),
        (lambda run: (run / "box_0.json").write_text('{"class": "bo'), "box_0.json: malformed"),
        (lambda run: (run / "starts.npz").write_bytes(b"PK\x03\x04junk"), "starts.npz: is not"),
    ],
)
def test_a_damaged_file_is_named_in_one_line_by_evaluate_and_report(
    finished, damage, message, monkeypatch, capsys
):
    damage(finished / "vanilla")
    for command in (["evaluate", str(finished)], ["report", str(finished)]):
        code, _, err = run_cli(command, monkeypatch, capsys)
        if command[0] == "report" and "points, where" in message:
            assert code == 0, err  # the report shows clouds of any size
            continue
        assert code == 1 and message in err, (command, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_truncated_summary_is_named_by_report(finished, monkeypatch, capsys):
    (finished / "summary.json").write_text('{"vanilla": {"target_lo')
    code, _, err = run_cli(["report", str(finished)], monkeypatch, capsys)
    assert code == 1 and "summary.json: malformed JSON" in err, err


def test_evaluate_leaves_out_and_flags_non_finite_clouds(finished, monkeypatch, capsys):
    cloud = np.load(finished / "vanilla" / "box_0.npy")
    cloud[3, 1] = np.nan
    np.save(finished / "vanilla" / "box_0.npy", cloud)
    code, _, err = run_cli(["evaluate", str(finished)], monkeypatch, capsys)
    assert code == 0, err
    assert "warning:" in err and "box_0.npy: non-finite coordinates" in err
    rows = strict_json(finished / "evaluation.json")["runs"]
    assert rows["vanilla"]["recognised_rate"] in (0.0, 1.0)  # the one cone left, scored
    np.save(finished / "vanilla" / "cone_0.npy", np.full_like(cloud, np.inf))
    code, _, err = run_cli(["evaluate", str(finished)], monkeypatch, capsys)
    assert code == 1 and "no explanation with finite coordinates" in err


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_temporary(
    explain, tmp_path, monkeypatch, capsys
):
    import errno

    import flowam.outputs

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setattr(flowam.outputs, "write_ply", lambda points, path: full())
    monkeypatch.setattr(np, "save", full)
    out = tmp_path / "full"
    code, _, err = run_cli(
        [*explain, "--method", "vanilla", "--out", str(out)], monkeypatch, capsys
    )
    assert code == 1 and "box_0.npy: cannot be written: No space left on device" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not list(out.rglob(".flowam-tmp.*")) and not (out / runfolder.LOCK).exists()
    assert strict_json(out / "run.json")["status"].startswith("failed: ")


def test_the_cache_is_optional(explain, tmp_path, monkeypatch, capsys):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # the cache folder cannot be made under a file
    monkeypatch.setenv("FLOWAM_CACHE_DIR", str(blocked / "cache"))
    out = tmp_path / "uncached"
    err = explain_into(out, explain, monkeypatch, capsys)
    warned = [line for line in err.splitlines() if line.startswith("warning: the cache")]
    assert len(warned) == 1 and "FLOWAM_CACHE_DIR" in warned[0]  # once, naming the way out
    assert (out / "vanilla" / "box_0.npy").is_file()
