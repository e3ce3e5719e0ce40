"""The documents: every relative link in README, RESULTS, BENCHMARKS and the guide in
``docs/`` points to a file that exists and, with ``#anchor``, to a heading in it; the
README stays a manual (≤ 350 lines); every command line they show parses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted(
    [ROOT / "README.md", ROOT / "RESULTS.md", ROOT / "BENCHMARKS.md", ROOT / "DEVELOPERS.md"]
    + list((ROOT / "docs").glob("*.md"))
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def headings(path: Path) -> set[str]:
    """GitHub's anchors of the headings of Markdown file ``path`` (code blocks skipped)."""
    anchors, fenced = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            text = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


def links(path: Path) -> list[str]:
    """Relative link targets in ``path`` outside code blocks."""
    out, fenced = [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            out += [t for t in LINK.findall(line) if not re.match(r"[a-z]+:", t)]
    return out


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(document):
    broken = []
    for target in links(document):
        file, _, anchor = target.partition("#")
        path = (document.parent / file).resolve() if file else document
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in headings(path):
            broken.append(f"{target}: no such heading")
    assert not broken, broken


def test_readme_is_a_manual_and_links_every_guide_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 350
    for page in (ROOT / "docs").glob("*.md"):
        assert f"docs/{page.name}" in readme, page.name


def test_every_method_option_is_documented():
    import dataclasses

    from flowam.methods import SECTIONS
    from flowam.param import KINDS

    reference = (ROOT / "docs" / "methods.md").read_text().split("## Method fields", 1)[1]
    listed: dict[str, set[str]] = {}
    owner = ""
    for line in reference.splitlines():
        cells = line.split("|")
        if line.startswith("### "):
            owner = line.split("`[", 1)[1].split("]")[0]
        if not line.startswith("| ") or len(cells) < 3:
            continue
        if heading := re.fullmatch(r" \*\*`(?:kind = \"(\w+)\"|\[(\w+)\])`\*\*.*", cells[1]):
            owner = heading[1] or heading[2]
        elif cells[1].startswith(" **the method"):
            owner = "method"
        listed.setdefault(owner, set()).update(re.findall(r"`(\w+)`", cells[1]))
    wanted = {s: {f.name for f in dataclasses.fields(c)} for s, c in SECTIONS.items()}
    wanted |= {k: {f.name for f in dataclasses.fields(c)} for k, c in KINDS.items()}
    wanted |= {"param": {"kind"}, "method": {"name", "description"}}
    # points' options are listed once; smooth and latent take them too ("as for points")
    for kind in ("smooth", "latent"):
        wanted[kind] -= wanted["points"]
    assert {k: v for k, v in listed.items() if v} == wanted


def command_lines(path: Path) -> list[str]:
    """The ``flowam ...`` lines of the code blocks of ``path`` (continuations joined,
    comments dropped)."""
    lines, fenced, pending = [], False, ""
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            continue
        line = pending + line.split(" #")[0].strip()
        pending = line[:-1] + " " if line.endswith("\\") else ""
        if not pending and line.startswith("flowam ") and line.split()[1] != "--version":
            lines.append(line)
    return lines


def test_every_command_line_in_the_documents_parses():
    """Each ``flowam ...`` line shown in the documents names a command and options it has
    with values its checks take (CUDA is asked for as the CPU: no GPU here)."""
    import shlex

    from conftest import cli_commands

    commands = cli_commands()
    shown = [(p.name, line) for p in DOCUMENTS for line in command_lines(p)]
    assert len(shown) >= 20
    for name, line in shown:
        words = shlex.split(line.replace("--device cuda", "--device cpu"))[1:]
        found = [k for k in commands if tuple(words[: len(k)]) == k]
        assert found, f"{name}: {line}: no such command"
        key = max(found, key=len)
        try:
            commands[key].make_context(" ".join(key), words[len(key) :])
        except Exception as e:  # click's usage errors and flowam's one-line checks
            pytest.fail(f"{name}: {line}: {e}")


SOURCES = sorted((ROOT / "src" / "flowam").rglob("*.py")) + sorted(
    (ROOT / "src" / "flowam" / "configs").rglob("*.toml")
)
"""The package's modules and presets."""
SECTION = re.compile(r"§(H?)(\d+)(?:[–-]H?(\d+))?")
SECTION_HEADING = re.compile(r"^## (H?)(\d+)\. ", re.M)


def numbered(path: Path) -> list[int]:
    """The numbers of ``path``'s numbered ``## N.`` (or ``## HN.``) sections, in order."""
    return [int(m[2]) for m in SECTION_HEADING.finditer(path.read_text())]


def test_results_is_numbered_contiguously_and_every_section_reference_resolves():
    """RESULTS.md's sections run 1, 2, …, n; a "§N" anywhere names one of them and a "§HN"
    one of docs/history.md's sections."""
    results = numbered(ROOT / "RESULTS.md")
    assert results == list(range(1, len(results) + 1))
    history = set(numbered(ROOT / "docs" / "history.md"))
    texts = DOCUMENTS + sorted((ROOT / "docs" / "directions").glob("*.toml")) + SOURCES
    dangling = []
    for path in texts:
        for m in SECTION.finditer(path.read_text()):
            known = history if m[1] else set(results)
            ends = [int(m[2])] + ([int(m[3])] if m[3] else [])
            dangling += [f"{path.name}: {m[0]}" for n in ends if n not in known]
    assert not dangling, dangling


def test_no_issue_numbers_outside_the_history():
    """The source, the README and the guide speak of the project; docs/history.md keeps
    the issues."""
    texts = [ROOT / "README.md"] + [p for p in DOCUMENTS if p.parent.name == "docs"] + SOURCES
    found = [
        f"{path.relative_to(ROOT)}: {m[0]}"
        for path in texts
        if path.name != "history.md"
        for m in re.finditer(r"\bissues?[ -]#?\d+", path.read_text(), re.I)
    ]
    assert not found, found
