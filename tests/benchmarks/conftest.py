"""Running a benchmark script's quick mode in a fresh process, as a user would."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_quick(tmp_path):
    """``run_quick(name, *args)`` runs ``python -m benchmarks.<name> --quick`` and returns (JSON, stdout)."""
    def run(name, *args):
        out = tmp_path / f"{name}.json"
        proc = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--quick", *args, "--out", str(out)],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(out.read_text()), proc.stdout

    return run
