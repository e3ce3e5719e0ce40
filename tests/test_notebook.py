"""The tutorial notebook (docs/tutorial.ipynb) runs top to bottom in a real kernel, and the
explanations it displays inline (flowam.notebook) work in a real browser; ``flowam.show``
from Python."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from flowam.errors import FlowamError
from test_report import _browser, _pixels, open_page

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> nbformat.NotebookNode:
    """The tutorial, executed in a fresh python3 kernel (one torch thread: on this 2-core
    machine a second OpenMP thread in a kernel beside other work ran 20x slower)."""
    notebook = nbformat.read(TUTORIAL, as_version=4)
    for cell in notebook.cells:  # fewer steps: the test checks that it runs, not the shapes
        cell.source = cell.source.replace("STEPS = 100", "STEPS = 10")
    assert any("STEPS = 10\n" in c.source for c in notebook.cells)
    folder = tmp_path_factory.mktemp("notebook")
    mp = pytest.MonkeyPatch()
    mp.setenv("OMP_NUM_THREADS", "1")
    try:
        client = NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
        )
        client.execute()
    finally:
        mp.undo()
    return notebook


def _result_cell(notebook: nbformat.NotebookNode):
    """The code cell whose value is ``result`` itself (no call to show)."""
    return next(
        c
        for c in notebook.cells
        if c.cell_type == "code" and c.source.rstrip().endswith("\nresult")
    )


def _html_outputs(cell) -> list[str]:
    return [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]


def test_the_tutorial_runs_and_its_results_display_themselves(executed):
    code = [c for c in executed.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []
    shown = _html_outputs(_result_cell(executed))
    assert len(shown) == 1 and shown[0].startswith("<iframe srcdoc=")
    scores = next(c for c in code if "recognised (randomized)" in c.source)
    text = scores.outputs[0]["data"]["text/plain"]
    assert "'recognised (trained)'" in text and "'taken for (trained)'" in text


def test_an_explanation_shown_inline_works_in_a_real_browser(executed, tmp_path):
    explained = _result_cell(executed)
    page = tmp_path / "cell.html"
    page.write_text(f"<!DOCTYPE html><html><body>{_html_outputs(explained)[0]}</body></html>")
    with _browser() as p:
        browser, tab, errors, requests = open_page(p, page.as_uri())
        frame = tab.frame_locator("iframe")
        frame.locator("body[data-ready=true]").wait_for(timeout=60_000)
        frame.locator("#views canvas").first.wait_for()
        titles = frame.locator("#views .view").evaluate_all("vs => vs.map(v => v.dataset.title)")
        assert titles[:2] == ["starting cloud", "explanation"]
        view = frame.locator("#views .view.method .plot").first
        pixels = _pixels(view.screenshot())
        background = np.median(pixels.reshape(-1, 3), axis=0)
        assert (np.abs(pixels - background).sum(-1) > 60).mean() > 0.002  # drawn, not blank
        browser.close()
    assert errors == [], errors
    assert all(u.startswith(("file:", "data:", "blob:", "about:")) for u in requests), requests


def test_show_takes_a_result_or_a_run_folder(small_model, small_real, tmp_path):
    import flowam
    from flowam.explain import Explainer

    result = Explainer(small_model, small_real).explain(
        small_real.classes[:2], "vanilla", **{"run.steps": 2}, progress=False
    )
    shown = flowam.show(result, label="mine", height=300)
    assert "height: 300px" in shown._repr_html_() and "flowam: mine" in shown.page
    saved = shown.save(tmp_path / "page.html")
    assert saved.read_text() == shown.page and "Plotly" in shown.page
    from flowam.outputs import write_clouds

    write_clouds(result, tmp_path / "run" / "vanilla", [{}] * len(result))
    assert "flowam report: run" in flowam.show(tmp_path / "run").page
    with pytest.raises(FlowamError, match="nowhere: no such folder"):
        flowam.show(tmp_path / "nowhere")
