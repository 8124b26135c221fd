"""``python -m benchmarks.multisub --quick --cases digits`` runs and writes the expected JSON (no timing assertions)."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]


def test_quick_digits_run_writes_every_figure(tmp_path):
    out = tmp_path / "multisub.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.multisub", "--quick", "--cases", "digits",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    digits = result["digits"]
    assert set(digits["multisub"]) == {"digit identity", "stroke thickness"}
    for source in ("multisub", "untrained_proxies", "kmeans_pixels"):
        for scores in digits[source].values():
            assert all(0.0 <= s["median"] <= 1.0 for s in scores.values())
    # the two concepts give two different groupings, each closer to its own label
    assert digits["multisub"]["digit identity"]["digit"]["median"] > digits["multisub"]["digit identity"]["thickness"]["median"]
    assert digits["multisub"]["stroke thickness"]["thickness"]["median"] > digits["multisub"]["stroke thickness"]["digit"]["median"]
    assert math.isfinite(digits["fit_seconds"]["median"]) and len(result["loadavg_before"]) == 3
    assert "| MultiSub: digit identity |" in proc.stdout
