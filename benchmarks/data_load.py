"""Time generating the default procedural dataset and loading it back from the cache.

Run: ``.venv/bin/python benchmarks/data_load.py``. Uses a temporary cache folder, so it
measures a cold generation followed by warm loads (each in a fresh process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

LOAD = (
    "import time; t = time.perf_counter(); from flowam.data import load_dataset; "
    "[load_dataset('procedural', s, progress=False) for s in ('train', 'test')]; "
    "print(time.perf_counter() - t)"
)


def timed_process(env: dict[str, str]) -> float:
    """Seconds a fresh interpreter needs to import flowam and load both default splits."""
    out = subprocess.run([sys.executable, "-c", LOAD], env=env, check=True, capture_output=True)
    return float(out.stdout.decode().split()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "FLOWAM_CACHE_DIR": cache}
        start = time.perf_counter()
        cold = timed_process(env)
        print(f"generate default train+test (cold cache): {cold:6.2f} s")
        warm = [timed_process(env) for _ in range(3)]
        print(
            f"load default train+test from cache (import included): "
            f"best {min(warm):.2f} s, worst {max(warm):.2f} s"
        )
        print(f"total {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
