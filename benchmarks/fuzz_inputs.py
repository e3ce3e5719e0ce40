"""The fuzzed input paths at a large example count (CI runs 15 per test).

Run: ``.venv/bin/python benchmarks/fuzz_inputs.py [--examples 1000] [-k hdf5]``. Runs
``tests/test_fuzz.py`` (every dataset format, the checkpoint, metadata, generator and
method-file readers fed malformed files: truncated, random bytes, overwritten bytes,
NaN/infinity/huge/empty values, a column more or less, a line repeated thousands of
times) with ``FLOWAM_FUZZ_EXAMPLES`` examples per test, and prints pytest's summary and
the time. A failure prints the smallest input hypothesis found for it. Nothing is
asserted here beyond what the tests assert.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=1000, help="examples per test")
    parser.add_argument("-k", default=None, help="only the tests matching (pytest -k)")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--tb=short", str(root / "tests" / "test_fuzz.py")]
    if args.k:
        command += ["-k", args.k]
    env = {**os.environ, "FLOWAM_FUZZ_EXAMPLES": str(args.examples)}
    begin = time.perf_counter()
    code = subprocess.call(command, cwd=root, env=env)
    print(f"{args.examples} examples per test: {time.perf_counter() - begin:.0f} s, exit {code}")
    sys.exit(code)


if __name__ == "__main__":
    main()
