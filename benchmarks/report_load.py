"""How fast a large report opens: a 40-class × 8-method run in headless Chromium.

Run: ``.venv/bin/python benchmarks/report_load.py [--classes 40] [--methods 8]
[--steps 1000] [--repeats 3]`` (needs ``apt-get install -y chromium``).

The run folder is made up (random 512-point clouds, starts and histories of ``--steps``
steps with five terms, the layout ``flowam explain`` writes), so that only the page is
measured. Printed: the page's size; seconds from navigation until the page is ready (its
views drawn, ``flowam-ready``), of which the part before the page's own script starts
(parsing plotly.js and the data, ``flowam-start``); and the seconds to switch to another
class. Chromium draws WebGL in software here (SwiftShader): a browser on a machine with
a GPU is faster. Nothing is asserted; BENCHMARKS.md keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from flowam.outputs import write_config
from flowam.report import write_report


def fake_run(root: Path, classes: int, methods: int, steps: int, points: int = 512) -> None:
    """A run folder like ``flowam explain`` writes, with random clouds and histories."""
    rng = np.random.default_rng(0)
    names = [f"class_{i:02d}" for i in range(classes)]
    labels = [f"method_{j}" for j in range(methods)]
    write_config(root, "explain", methods=labels, classes=names, model="none", seed=0)
    for label in labels:
        folder = root / label
        folder.mkdir(parents=True)
        starts = {}
        for name in names:
            key = f"{name}_0"
            np.save(folder / f"{key}.npy", rng.uniform(-1, 1, (points, 3)).astype(np.float32))
            starts[key] = rng.uniform(-1, 1, (points, 3)).astype(np.float32)
            scores = {"target_logit": float(rng.normal(10)), "chamfer_to_real": 0.1}
            record = {"class": name, "restart": 0, "scores": scores, "steps_run": steps}
            (folder / f"{key}.json").write_text(json.dumps(record))
        np.savez(folder / "starts.npz", **starts)
        terms = ("logit", "align", "continuity", "legality", "total")
        np.savez(
            folder / "history.npz", **{t: rng.normal(size=(steps + 1, classes)) for t in terms}
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--classes", type=int, default=40)
    parser.add_argument("--methods", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "run"
        fake_run(root, args.classes, args.methods, args.steps)
        begin = time.perf_counter()
        page_path = write_report(root, real=0)
        written = time.perf_counter() - begin
        size = page_path.stat().st_size / 1e6
        print(f"{args.classes} classes × {args.methods} methods: page {size:.1f} MB, ", end="")
        print(f"written in {written:.1f} s")
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium,
                args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
            )
            for _ in range(args.repeats):
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.goto(page_path.as_uri())
                page.wait_for_selector("body[data-ready=true]", timeout=120_000)
                marks = dict(
                    page.evaluate(
                        "performance.getEntriesByType('mark').map(m => [m.name, m.startTime])"
                    )
                )
                switch = page.evaluate(
                    """() => {
                        const t = performance.now();
                        const c = document.getElementById('class');
                        c.value = c.options[c.options.length - 1].value;
                        c.dispatchEvent(new Event('change'));
                        return performance.now() - t;
                    }"""
                )
                print(
                    f"ready {marks['flowam-ready'] / 1e3:.2f} s (parsing before the page's "
                    f"script {marks['flowam-start'] / 1e3:.2f} s); another class "
                    f"{switch / 1e3:.2f} s"
                )
                page.close()
            browser.close()


if __name__ == "__main__":
    main()
