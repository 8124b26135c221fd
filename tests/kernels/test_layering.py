"""kernels/ is a layer of its own: it never imports coclust_deep, and only imports as coclust_deep.kernels."""
import ast
import subprocess
import sys
from pathlib import Path

KERNELS = Path(__file__).resolve().parents[2] / "kernels"


def _imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield "." * node.level + (node.module or "")


def test_kernels_never_import_coclust_deep():
    assert not [(p.name, m) for p in KERNELS.glob("*.py") for m in _imported_modules(p)
                if m.startswith(("coclust_deep", ".."))]


def test_importing_the_folder_as_top_level_kernels_names_the_right_import():
    result = subprocess.run([sys.executable, "-c", "import kernels"], cwd=KERNELS.parent,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "import coclust_deep.kernels" in result.stderr
