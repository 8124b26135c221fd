"""Every Python block of README.md runs as written, top to bottom, in one namespace (like a notebook).

The blocks use small data or short settings so that this stays a smoke run;
they run in a subprocess with the Agg backend (plots that would show are
drawn and dropped).
"""
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks():
    return BLOCK.findall(README.read_text())


def test_readme_has_python_blocks():
    assert len(python_blocks()) >= 4


def test_readme_opening_commands_name_the_test_extras():
    text = README.read_text()
    assert 'pip install -e ".[test,deep]" && python -m pytest -n 2 -q tests' in text
    assert "--index-url https://download.pytorch.org/whl/cpu" in text  # the CPU build of torch


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_readme_python_blocks_run(tmp_path):
    pytest.importorskip("torch")  # the deep co-clustering blocks need it
    runner = textwrap.dedent('''
        import sys, traceback
        blocks = {blocks!r}
        namespace = {{"__name__": "__readme__"}}
        for number, source in enumerate(blocks, 1):
            try:
                exec(compile(source, f"README.md python block {{number}}", "exec"), namespace)
            except Exception:
                traceback.print_exc()
                sys.exit(f"README python block {{number}} failed:\\n{{source}}")
    ''').format(blocks=python_blocks())
    script = tmp_path / "readme_blocks.py"
    script.write_text(runner)
    env = {"MPLBACKEND": "Agg", "OMP_WAIT_POLICY": "PASSIVE", "PYTHONWARNINGS": "ignore"}
    import os

    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=900, env={**os.environ, **env})
    assert result.returncode == 0, result.stderr[-4000:]
