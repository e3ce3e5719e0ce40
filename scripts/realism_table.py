"""Per-class accuracy of several models on one real dataset, side by side, from their
``flowam experiment realism`` (or ``eval-model``) folders: a row per class with its
number of objects, and for each model its accuracy and the two classes its objects are
most often taken for (with counts); then the mean of classes and the overall accuracy.

Run: ``python scripts/realism_table.py --run "v5 model=runs/realism-v5" --run "v6
model=runs/realism-v6" [--out table.md]``. Prints the Markdown table (and writes it to
``--out``).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


def mistakes(predictions: list[dict], name: str, top: int = 2) -> str:
    """The ``top`` classes the objects of class ``name`` are most often taken for."""
    wrong = Counter(
        p["predicted"] for p in predictions if p["class"] == name and p["predicted"] != name
    )
    return ", ".join(f"{c.replace('_', ' ')} {n}" for c, n in wrong.most_common(top)) or "–"


def table(runs: dict[str, dict]) -> str:
    """The Markdown table of ``runs`` (label: a realism.json's contents)."""
    first = next(iter(runs.values()))
    head = ["class", "objects"] + [
        f"{label}: {what}" for label in runs for what in ("accuracy", "most often taken for")
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|---|" * len(runs)]
    for name, row in first["per_class"].items():
        cells = [name.replace("_", " "), f"{row['objects']:,}"]
        for run in runs.values():
            cells += [
                f"{run['per_class'][name]['accuracy']:.0%}",
                mistakes(run["predictions"], name),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    for key, label in (
        ("mean_class_accuracy", "**mean of classes**"),
        ("overall_accuracy", "overall"),
    ):
        cells = [label, ""] + [c for run in runs.values() for c in (f"**{run[key]:.1%}**", "")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, help="LABEL=FOLDER")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    runs = {}
    for spec in args.run:
        label, _, folder = spec.partition("=")
        path = Path(folder) / "realism.json"
        if not path.is_file():
            parser.error(f"--run {spec}: {path} does not exist")
        runs[label] = json.loads(path.read_text())
    text = table(runs)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
