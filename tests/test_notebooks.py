"""notebooks/ executed top to bottom against the sample run, as a user would open them."""
import os

import nbformat
import pytest
from nbclient import NotebookClient

from components.run_report import run_summary
from pipeline import configs
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.notebook]

NOTEBOOK = REPO_ROOT / "notebooks" / "tfma_evaluation.ipynb"


def test_tfma_evaluation_notebook_runs_on_the_sample_run(sample_settings, sample_run, monkeypatch):
    monkeypatch.setenv("PIPELINE_ROOT", str(sample_settings.pipeline_root))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()  # raises on any error

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "\n".join(output.get("text", "") for output in outputs)
    # The newest run of the pipeline, whichever test made it last (the end-to-end test re-runs it).
    newest = run_summary.find_run(str(sample_settings.metadata_path), sample_settings.pipeline_name).run_id
    assert f"run {newest}" in text
    tables = [output.data["text/html"] for output in outputs if "text/html" in output.get("data", {})]
    per_class = next(table for table in tables if "f1_score" in table)
    assert all(name in per_class for name in os.listdir(configs.SAMPLE_DATA_ROOT / "train"))
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(figures) == 3  # confusion matrix, precision/recall, calibration per class
