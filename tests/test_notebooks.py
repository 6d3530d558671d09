"""notebooks/ executed top to bottom against the sample run, as a user would open them."""
import os
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from components.run_report import run_summary
from pipeline import configs
from tests.conftest import REPO_ROOT, record_another_run

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.notebook]

NOTEBOOK = REPO_ROOT / "notebooks" / "tfma_evaluation.ipynb"


def test_tfma_evaluation_notebook_shows_the_newest_evaluated_run(sample_settings, sample_run, monkeypatch, tmp_path):
    metadata = str(sample_settings.metadata_path)
    # The newest run of the pipeline, whichever test made it last (the end-to-end test re-runs it).
    newest = run_summary.find_run(metadata, sample_settings.pipeline_name).run_id
    # A copy of the store whose newest run has no evaluation: the notebook goes back to the one before.
    shutil.copy(metadata, tmp_path / "metadata.sqlite")
    stopped = record_another_run(str(tmp_path / "metadata.sqlite"), sample_settings.pipeline_name)
    assert run_summary.find_run(str(tmp_path / "metadata.sqlite"), sample_settings.pipeline_name).run_id == stopped
    monkeypatch.setenv("PIPELINE_ROOT", str(tmp_path))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()  # raises on any error

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "\n".join(output.get("text", "") for output in outputs)
    assert f"run {newest}" in text and stopped not in text
    tables = [output.data["text/html"] for output in outputs if "text/html" in output.get("data", {})]
    per_class = next(table for table in tables if "f1_score" in table)
    assert all(name in per_class for name in os.listdir(configs.SAMPLE_DATA_ROOT / "train"))
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(figures) == 3  # confusion matrix, precision/recall, calibration per class
