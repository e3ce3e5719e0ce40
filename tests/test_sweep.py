"""flowam sweep: ranges, objectives, SQLite, and a real PostgreSQL with two workers and a
killed one."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time

import optuna
import pytest

from flowam.errors import FlowamError
from flowam.methods import load_method
from flowam.sweep import Param, apply, parse_objectives, parse_param

CLI = "import sys; from flowam.cli import main; sys.argv[0] = 'flowam'; main()"


def test_ranges_parse_and_apply_as_set_would():
    beta = Param("objective.beta", "float", 0.0, 1.0)
    assert parse_param("objective.beta=0:1") == beta
    fc2 = Param("objective.align.fc2", "log", 0.01, 10.0)
    assert parse_param("objective.align.fc2=log:0.01:10") == fc2
    assert parse_param("run.steps=int:10:50") == Param("run.steps", "int", 10, 50)
    assert parse_param("run.optimizer=adam|sgd").choices == ("adam", "sgd")
    for bad, message in [
        ("beta", "write NAME=LOW:HIGH"),
        ("beta=1:0", "LOW must be below HIGH"),
        ("lr=log:0:1", "LOW > 0"),
        ("steps=int:1.5:3", "whole numbers"),
        ("beta=a:b", "two numbers"),
    ]:
        with pytest.raises(FlowamError, match=message):
            parse_param(bad)
    flow = load_method("flow")
    changed = apply(flow, {"objective.beta": 0.25, "objective.align.fc2": 3.0, "run.steps": 7})
    assert (changed.objective.beta, changed.run.steps) == (0.25, 7)
    align = changed.objective.align
    assert float(align["fc2"]) == 3.0 and set(align) == set(flow.objective.align)
    assert parse_objectives("logit, cd") == ["logit", "cd"]
    with pytest.raises(FlowamError, match="choose from logit, recognised, cd, gap"):
        parse_objectives("logit,beauty")


def sweep_args(tiny_model, tiny_data, out, *extra):
    return [
        "sweep",
        "--model",
        str(tiny_model),
        "--data",
        str(tiny_data),
        "--method",
        "vanilla",
        "--param",
        "run.lr=log:0.001:0.1",
        "--out",
        str(out),
        *extra,
    ]


def test_sweep_on_sqlite_writes_the_front_and_resumes(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    from conftest import run_cli

    out = tmp_path / "sweep"
    args = sweep_args(tiny_model, tiny_data, out, "--objective", "logit,cd,gap")
    args += ["--trials", "3", "--steps", "3", "--seed", "1"]
    code, _, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO((out / "trials.csv").read_text())))
    assert [r["state"] for r in rows] == ["COMPLETE"] * 3
    assert all(-1 <= float(r["gap"]) <= 1 and float(r["cd"]) > 0 for r in rows)
    table = (out / "pareto.md").read_text()
    assert "Pareto front" in table and "| logit ↑ | cd ↓ | gap ↑ |" in table
    assert (out / "pareto.png").stat().st_size > 5000
    config = json.loads((out / "config.json").read_text())
    assert config["command"] == "sweep" and config["storage"].startswith("sqlite:///")
    assert config["params"][0] == {
        "name": "run.lr",
        "kind": "log",
        "low": 0.001,
        "high": 0.1,
        "choices": [],
    }
    study = optuna.load_study(study_name="vanilla", storage=config["storage"])
    assert len(study.trials) == 3
    # the same command again joins the finished study: no new trial
    code, _, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    assert len(optuna.load_study(study_name="vanilla", storage=config["storage"]).trials) == 3
    # other objectives on the same study, and a misspelt field: one line each
    code, _, err = run_cli([*args[:-6], "--objective", "logit"], monkeypatch, capsys)
    assert code == 1 and "exists with other objectives" in err and "Traceback" not in err
    bad = sweep_args(tiny_model, tiny_data, tmp_path / "bad", "--param", "btea=0:1")
    code, _, err = run_cli(bad, monkeypatch, capsys)
    assert code == 1 and "--param btea: unknown method option" in err
    assert not (tmp_path / "bad").exists()  # refused before anything was written
    bad = sweep_args(tiny_model, tiny_data, tmp_path / "bad", "--storage", "postgresql://u:pw@")
    code, _, err = run_cli(bad, monkeypatch, capsys)
    assert code == 1 and "cannot open it" in err and "pw" not in err and len(err.splitlines()) == 1
    bad = sweep_args(tiny_model, tiny_data, tmp_path / "bad", "--storage", "mysql://u@h/db")
    code, _, err = run_cli(bad, monkeypatch, capsys)  # a driver that is not installed
    assert code == 1 and "--storage mysql://u@h/db: cannot open it" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad").exists()


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A real PostgreSQL server of this test module (the pgserver wheel's binaries)."""
    pgserver = pytest.importorskip("pgserver")
    server = pgserver.get_server(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


def _worker(tiny_model, tiny_data, out, url, *extra):
    args = sweep_args(tiny_model, tiny_data, out, "--storage", url, "--study", "shared")
    args += ["--objective", "logit,cd", "--heartbeat", "1", "--grace", "3", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", CLI, *args], stderr=subprocess.PIPE, text=True, env=env
    )


def _ran(log: str) -> list[int]:
    """Trial numbers a worker's log says it ran."""
    return [int(n) for n in re.findall(r"^trial (\d+) \(", log, flags=re.M)]


def _study(url):
    from flowam.sweep import storage_url

    return optuna.load_study(study_name="shared", storage=storage_url(url, None))


def test_two_workers_on_postgresql_lose_no_trial_and_a_killed_one_is_marked_failed(
    postgres, tiny_model, tiny_data, tmp_path
):
    workers = [
        _worker(
            tiny_model,
            tiny_data,
            tmp_path / f"w{i}",
            postgres,
            "--worker",
            str(i),
            "--trials",
            "8",
            "--steps",
            "40",
        )
        for i in range(2)
    ]
    logs = [w.communicate(timeout=300)[1] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    ran = [_ran(log) for log in logs]
    assert ran[0] and ran[1], "both workers took trials"
    assert not set(ran[0]) & set(ran[1]), "no trial ran twice"
    trials = _study(postgres).trials
    complete = {t.number for t in trials if t.state == optuna.trial.TrialState.COMPLETE}
    assert complete == set(ran[0]) | set(ran[1]), "no trial lost"
    assert len(trials) >= 8 and len(complete) == len(trials)
    assert {t.user_attrs["worker"] for t in trials} == {
        re.search(r"^trial \d+ \((\S+)\)", log, flags=re.M)[1] for log in logs
    }

    # a worker killed in the middle of a trial: marked failed by the next worker, retried
    n = len(trials)
    slow = _worker(
        tiny_model,
        tiny_data,
        tmp_path / "slow",
        postgres,
        "--trials",
        str(n + 1),
        "--steps",
        "1000000",
    )
    deadline = time.time() + 120
    while True:
        running = [t for t in _study(postgres).trials if t.state.name == "RUNNING" and t.params]
        if running or time.time() > deadline:
            break
        time.sleep(0.5)
    assert running, "the slow worker never started a trial"
    slow.send_signal(signal.SIGKILL)
    slow.wait()
    time.sleep(4)  # past the grace period without a heartbeat
    (killed,) = running
    # it runs until the study holds n + 2 trials: the killed one and its retry
    after = _worker(
        tiny_model, tiny_data, tmp_path / "after", postgres, "--trials", str(n + 2), "--steps", "3"
    )
    assert after.communicate(timeout=300)[1] is not None and after.returncode == 0
    trials = {t.number: t for t in _study(postgres).trials}
    assert trials[killed.number].state == optuna.trial.TrialState.FAIL
    retries = [t for t in trials.values() if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].state == optuna.trial.TrialState.COMPLETE
    assert retries[0].params == trials[killed.number].params == killed.params
    assert not [t for t in trials.values() if t.state.name == "RUNNING"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "after" / "trials.csv").read_text())))
    assert any(r["retry_of"] == str(killed.number) for r in rows)
