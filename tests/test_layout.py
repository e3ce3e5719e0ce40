"""Tests follow the modules: every module of flowam with logic has a test file named for
it (``tests/test_<module>.py``) or for its package (``tests/test_<package>.py``, e.g.
test_models.py for flowam/models/), and that file names the module it tests."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "flowam"

EXEMPT = {
    "__init__.py": "the package's version and its lazy flowam.show",
    "__main__.py": "the entry point: run in subprocesses by test_stopping.py, test_runfolder.py",
    "errors.py": "the exception and warning classes, nothing else",
}
"""Modules without a test file of their own, and why."""


def names(text: str, module: str) -> bool:
    """Whether a test file's ``text`` names ``module`` (dotted, or imported from its parent)."""
    parent, _, stem = module.rpartition(".")
    return module in text or re.search(rf"from {parent} import [^\n]*\b{stem}\b", text)


def test_every_module_has_its_test_file_which_names_it():
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC)
        if str(relative) in EXEMPT:
            continue
        module = ".".join(("flowam", *relative.with_suffix("").parts)).removesuffix(".__init__")
        package = module.rsplit(".", 1)[0]
        own = ROOT / "tests" / f"test_{module.rpartition('.')[2]}.py"
        shared = ROOT / "tests" / f"test_{package.rpartition('.')[2]}.py"
        if not any(
            file.is_file() and names(file.read_text(), name)
            for file, name in ((own, module), (shared, package))
            if name != "flowam"
        ):
            missing.append(str(relative))
    assert not missing, "modules without a test file that names them: " + ", ".join(missing)


def test_exemptions_are_of_modules_that_exist():
    assert all((SRC / name).is_file() for name in EXEMPT)
