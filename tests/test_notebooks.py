"""notebooks/ executed top to bottom against the sample run, as a user would open them."""
import os
import re
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from cli import local
from components.run_report import run_summary
from modules import settings
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


def execute(name: str, pipeline_root, monkeypatch) -> str:
    """Runs notebooks/NAME top to bottom against `pipeline_root`; returns the text it printed."""
    monkeypatch.setenv("PIPELINE_ROOT", str(pipeline_root))
    path = REPO_ROOT / "notebooks" / name
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()  # raises on any error
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    return "\n".join(output.get("text", "") for output in outputs if output.get("name") != "stderr") + "\n".join(
        output["data"].get("text/html", "") for output in outputs if "data" in output)


def test_run_over_run_shows_every_evaluated_run_and_what_changed(sample_settings, sample_run, tmp_path, monkeypatch):
    # A copy of the sample run's state and a second run of it with the notebook's small network
    # (quicker to train and export than the default): two models to compare.
    second = local.LocalRunSettings(data_root=sample_settings.data_root, output_root=tmp_path,
                                    pipeline_name=sample_settings.pipeline_name, settings=settings.Settings(
                                        settings.Training(model_name="arch_1", recipe=settings.Recipe(epochs=2)),
                                        settings.Gates(accuracy_floor=0.0, class_recall_floor=0.0)))
    shutil.copytree(sample_settings.pipeline_root, second.pipeline_root)
    local.run(second)
    runs = run_summary.evaluated_runs(str(second.metadata_path), second.pipeline_name)
    text = execute("run_over_run.ipynb", second.pipeline_root, monkeypatch)
    assert f"{len(runs)} evaluated run(s)" in text and len(runs) >= 2
    assert all(run.run_id in text for run in runs)  # a row each
    changed = re.search(r"(\d+) of 80 eval images predicted differently by run (\S+) than by run (\S+)", text)
    assert changed and (changed.group(2), changed.group(3)) == (runs[0].run_id, runs[1].run_id)
    assert "now right" in text  # the table of the images that changed


def test_error_analysis_shows_a_cell_of_the_matrix_and_the_weakest_slices(sample_settings, sample_run, monkeypatch):
    text = execute("error_analysis.ipynb", sample_settings.pipeline_root, monkeypatch)
    cell = re.search(r"true (.+), predicted (.+): (\d+) image\(s\) \(the confusion matrix says (\d+)\)", text)
    assert cell and cell.group(3) == cell.group(4)
    assert "image-property slices, lowest accuracy first:" in text
    assert "classes, lowest recall first:" in text
