"""Every notebooks/*.ipynb executes top to bottom without error (nbclient)."""
import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
TIMEOUT_S = 300
# pytest-timeout bounds the whole notebook when installed; nbclient's
# per-cell timeout bounds every cell regardless.
HAS_PYTEST_TIMEOUT = importlib.util.find_spec("pytest_timeout") is not None


def _needs_torch(notebook):
    return any("torch" in cell.source or "coclust_deep.deep" in cell.source
               for cell in notebook.cells if cell.cell_type == "code")


def _params():
    marks = [pytest.mark.slow]
    if HAS_PYTEST_TIMEOUT:
        marks.append(pytest.mark.timeout(TIMEOUT_S))
    return [pytest.param(path, id=path.name, marks=marks) for path in NOTEBOOKS]


def test_notebooks_exist():
    names = {path.name for path in NOTEBOOKS}
    assert {"01_lbm_pbmc68k.ipynb", "02_model_selection.ipynb", "05_plot_gallery.ipynb"} <= names


@pytest.mark.parametrize("path", _params())
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    stale = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count)]
    assert not stale, f"{path.name}: clear the outputs of cells {stale} before committing"


@pytest.mark.parametrize("path", _params())
def test_notebook_executes(path, tmp_path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    if _needs_torch(notebook) and importlib.util.find_spec("torch") is None:
        pytest.skip("notebook needs torch (pip install coclust_deep[deep])")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(
        notebook, timeout=TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.get("output_type") == "error"]
    assert not errors
