"""flowam report: the page's data, and the page itself in a real headless browser."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil

import numpy as np
import pytest

from flowam.errors import FlowamError
from flowam.report import QUANT, page_data, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def decode(blob: str, scale: float) -> np.ndarray:
    """The page's decoding, in numpy: base64 int16 triples → (N, 3)."""
    q = np.frombuffer(base64.b64decode(blob), dtype="<i2").reshape(-1, 3)
    return q.astype(np.float64) * scale / QUANT


@pytest.fixture(scope="module")
def explain_run(tiny_model, tiny_data, tmp_path_factory):
    """``flowam explain`` with two methods on both tiny classes, two restarts, 4 steps."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("explain") / "run"
    args = ["explain", "--model", str(tiny_model), "--data", str(tiny_data)]
    args += ["--method", "vanilla,l2", "--steps", "4", "--restarts", "2", "--no-pictures"]
    args += ["--out", str(out)]
    code = "import sys; from flowam.cli import main; sys.argv[0] = 'flowam'; main()"
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


def test_page_data_holds_every_cloud_start_history_and_table(explain_run):
    data = page_data(explain_run, display_points=0)
    (group,) = data["groups"]
    assert group["methods"] == ["vanilla", "l2"]  # the command's order, not alphabetical
    assert data["classes"] == ["box", "cone"]
    stored = np.load(explain_run / "l2" / "cone_0.npy")
    shown = decode(group["clouds"]["l2"]["cone_0"], data["scale"])
    np.testing.assert_allclose(shown, stored, atol=data["scale"] / QUANT)
    start = np.load(explain_run / "l2" / "starts.npz")["cone_0"]
    np.testing.assert_allclose(
        decode(group["starts"]["l2"]["cone_0"], data["scale"]), start, atol=data["scale"] / QUANT
    )
    record = json.loads((explain_run / "l2" / "cone_0.json").read_text())
    assert group["scores"]["l2"]["cone_0"]["target_logit"] == record["scores"]["target_logit"]
    history = np.load(explain_run / "l2" / "history.npz")
    names = list(np.load(explain_run / "l2" / "starts.npz").keys())
    curve = group["history"]["l2"]["cone_0"]["logit"]
    assert len(curve) == 5 and curve[-1] == pytest.approx(
        history["logit"][-1, names.index("cone_0")], rel=1e-4
    )
    assert len(data["real"]["box"]) == 3 and "first 3" in data["real_note"]
    every = [np.load(p) for p in explain_run.glob("*/*.npy")]
    every += [v for p in explain_run.glob("*/starts.npz") for v in np.load(p).values()]
    assert data["scale"] == max(1.0, max(float(np.abs(c).max()) for c in every))  # no clipping
    (table,) = data["tables"]  # explain writes summary.json only: its table
    assert '<table class="sortable">' in table["html"] and "vanilla" in table["html"]
    assert data["config"]["command"] == "explain"


def test_display_subsamples_the_shown_points_only(explain_run):
    data = page_data(explain_run, display_points=20, real=0)
    shown = decode(data["groups"][0]["clouds"]["vanilla"]["box_0"], data["scale"])
    stored = np.load(explain_run / "vanilla" / "box_0.npy")
    assert shown.shape == (20, 3) and len(stored) == 64
    distances = np.abs(shown[:, None] - stored[None]).max(-1).min(1)  # each shown is stored
    assert (distances <= data["scale"] / QUANT).all()
    assert data["real"] == {} and "--real 0" in data["real_note"]


def test_a_folder_of_tables_and_pictures_only_and_pictures_in_tables(tmp_path):
    from flowam.render import render_views

    render_views(np.random.default_rng(0).normal(size=(50, 3)), tmp_path / "grid.png")
    render_views(np.random.default_rng(1).normal(size=(50, 3)), tmp_path / "other.png")
    table = "# Result\n\n| a | b |\n|---|---:|\n| x | 1 |\n\n![g](grid.png)\n"
    (tmp_path / "summary.md").write_text(table)
    data = page_data(tmp_path)
    assert data["groups"] == [] and data["classes"] == []
    html = data["tables"][0]["html"]
    assert 'src="data:image/png;base64,' in html  # embedded, so the page can move
    assert [p["title"] for p in data["pictures"]] == ["other.png"]  # grid.png shown above
    (tmp_path / "nothing").mkdir()
    with pytest.raises(FlowamError, match="holds no explanations, tables"):
        page_data(tmp_path / "nothing")


def test_report_command_writes_the_page_and_fails_in_one_line(
    explain_run, tmp_path, monkeypatch, capsys
):
    from conftest import run_cli

    out = tmp_path / "page.html"
    code, _, err = run_cli(["report", str(explain_run), "--out", str(out)], monkeypatch, capsys)
    assert code == 0, err
    text = out.read_text()
    assert "Plotly" in text and "<script src=" not in text  # everything embedded
    code, _, err = run_cli(["report", str(tmp_path / "nowhere")], monkeypatch, capsys)
    assert code == 1 and err.strip() == f"error: {tmp_path / 'nowhere'}: no such folder"


def _browser():
    """A headless Chromium through Playwright, or a skip where none is installed (CI
    installs it: there a missing browser fails)."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def open_page(p, url: str):
    """``url`` in a headless Chromium of Playwright ``p`` (software WebGL): the browser, the
    tab, and the lists its console errors and requests are collected into."""
    browser = p.chromium.launch(
        executable_path=CHROMIUM,
        args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
    )
    tab = browser.new_page(viewport={"width": 1300, "height": 900})
    errors, requests = [], []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("request", lambda r: requests.append(r.url))
    tab.goto(url)
    return browser, tab, errors, requests


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_the_page_in_a_real_browser(explain_run, tmp_path):
    page_path = write_report(explain_run, tmp_path / "report.html")
    with _browser() as p:
        browser, page, errors, requests = open_page(p, page_path.as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        page.wait_for_function("document.querySelectorAll('#views canvas').length >= 3")
        titles = page.locator("#views .view").evaluate_all("vs => vs.map(v => v.dataset.title)")
        assert titles[:3] == ["starting cloud", "vanilla", "l2"]
        assert titles[3:] == ["real object 1", "real object 2", "real object 3"]

        view = page.locator("#views .view.method .plot").first
        before = _pixels(view.screenshot())
        background = np.median(before.reshape(-1, 3), axis=0)
        drawn = (np.abs(before - background).sum(-1) > 60).mean()
        assert drawn > 0.002, f"the 3-D view looks blank ({drawn:.2%} of pixels drawn)"

        # another class: its clouds replace the first's
        x_before = page.evaluate("document.querySelectorAll('#views .plot')[1].data[0].x[0]")
        page.select_option("#class", "cone")
        page.wait_for_function(
            "document.getElementById('views-title').textContent.includes('cone')"
        )
        x_after = page.evaluate("document.querySelectorAll('#views .plot')[1].data[0].x[0]")
        assert x_after != x_before
        assert np.abs(_pixels(view.screenshot()) - before).sum() > 0
        page.select_option("#restart", "1")  # and another restart of it
        page.wait_for_function(
            "document.getElementById('views-title').textContent.includes('restart 1')"
        )
        x_restart = page.evaluate("document.querySelectorAll('#views .plot')[1].data[0].x[0]")
        assert x_restart not in (x_before, x_after)

        # the cameras are linked: turning one view turns the others
        eye = "document.querySelectorAll('#views .plot')[{}]._fullLayout.scene.camera.eye.x"
        start = page.evaluate(eye.format(2))
        box = view.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2, steps=8)
        page.mouse.up()
        page.wait_for_function(f"{eye.format(2)} !== {start}", timeout=10_000)

        # the tables sort by a clicked column
        header = page.locator("#class-scores th", has_text="target_logit")
        header.click()
        column = page.locator("#class-scores th").all_inner_texts().index("target_logit")
        values = page.locator(f"#class-scores tbody td:nth-child({column + 1})").all_inner_texts()
        assert [float(v) for v in values] == sorted(float(v) for v in values)
        browser.close()
    assert errors == [], errors
    assert all(u.startswith(("file:", "data:", "blob:")) for u in requests), requests
