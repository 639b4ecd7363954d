"""The notebooks: committed without outputs, and each executes top to bottom on small settings.

Executed with nbclient in a temporary folder with HYQ_NOTEBOOK_SMALL=1; the images a notebook
shows must be the PNG files hyq's plot functions wrote there.
"""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = ["01_quickstart", "02_integer_softmax", "03_distribution_scaling", "04_design_space",
            "05_rtl_simulation", "06_pretrained"]


def test_the_six_stories_exist():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} cell {i} has outputs"


def _shown_pngs(nb) -> list[bytes]:
    return [base64.b64decode(o["data"]["image/png"]) for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if "image/png" in o.get("data", {})]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executes(path, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("HYQ_NOTEBOOK_SMALL", "1")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
    shown = _shown_pngs(nb)
    assert shown, f"{path.name} shows no plot"
    written = {p.read_bytes() for p in (tmp_path / "build" / path.stem).rglob("*.png")}
    assert all(png in written for png in shown), "a shown image is not a file hyq's plot functions wrote"
    for png in (tmp_path / "build" / path.stem).rglob("*.png"):
        assert png.with_suffix(".svg").is_file()
