"""One table of directions over several models, from their ``flowam experiment faithful``
folders: a row per direction (the starts, real objects and natural exemplars kept), for
each model its 1-NN on the trained, randomized and dropout models, the logit as a share of
vanilla's, the mean share the other architectures read as the target, legality and the
seconds per model (– where a resumed run does not know them).

Run: ``python scripts/levers_table.py --run PointNet=runs/levers/pointnet --run
DGCNN=runs/levers/dgcnn ... [--out table.md]``; ``LABEL=A+B`` reads a model's rows from
several folders (a direction's from the first that has it: a full run, then a screening
pass with ``--no-damaged``). Prints the Markdown table (and writes it to ``--out``); the
directions are those of the first model's folders, in their order.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cells(row: dict | None) -> list[str]:
    """One model's cells of a direction's row (dashes where the model lacks it)."""
    if row is None:
        return ["–"] * 4
    judged = [v for k, v in row.items() if k.startswith("recognised_by_")]
    damaged = " / ".join(
        f"{row[k]:.0%}" if k in row else "–"
        for k in ("recognised_randomized", "recognised_dropout")
    )
    read = f"{sum(judged) / len(judged):.0%}" if judged else "–"
    legal = "" if row["legal"] == 1.0 else f" ({row['legal']:.0%} legal)"
    seconds = "–" if row["seconds"] is None else f"{row['seconds']:.0f}" if row["seconds"] else ""
    return [
        f"**{row['recognised_trained']:.0%}**{legal}",
        damaged,
        f"{row['logit_ratio']:.0%} · {read}",
        seconds,
    ]


def found(paths: list[Path]) -> list[dict]:
    """The rows of every folder's ``faithful.json``, a direction's from the first folder
    that has it."""
    rows: dict[str, dict] = {}
    for path in paths:
        for row in json.loads((path / "faithful.json").read_text()):
            rows.setdefault(row["direction"], row)
    return list(rows.values())


def table(runs: dict[str, list[Path]]) -> str:
    """The Markdown table of every direction of the first run over all ``runs``."""
    rows = {label: found(paths) for label, paths in runs.items()}
    by_label = {label: {r["direction"]: r for r in kept} for label, kept in rows.items()}
    first = next(iter(rows.values()))
    head = ["direction"]
    for label in runs:
        head += [f"{label} 1-NN", "rand. / drop.", "logit · read by others", "s"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for r in first:
        name = r["direction"]
        line = [name]
        for label in runs:
            line += cells(by_label[label].get(name))
        lines.append("| " + " | ".join(line) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", action="append", required=True, help="LABEL=FOLDER")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    runs = dict(item.split("=", 1) for item in args.run)
    text = table({label: [Path(f) for f in folders.split("+")] for label, folders in runs.items()})
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
