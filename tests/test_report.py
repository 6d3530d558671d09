"""The HTML run report: written by every run, self-contained, with the notebook's figures, every
gate and the lineage; `image-pipeline report` rewrites it for a past run."""
import base64
import io
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from components.image_example_gen import manifest
from components.run_report import evaluation_results, run_summary
from modules import features, registry
from tests.conftest import CLI
from tests.report_page import Report

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

NOTEBOOK_FIGURES = {"sample images per class", "class distribution", "training curves", "prediction grid",
                    "confusion matrix", "precision and recall per class", "calibration"}


@pytest.fixture(scope="module")
def report_path(sample_run):
    return Path(sample_run.report)


@pytest.fixture(scope="module")
def report(report_path):
    return Report(report_path.read_text(encoding="utf-8"))


def test_every_run_writes_its_report_as_the_last_steps_artifact(sample_run, sample_settings, report_path):
    assert sample_run.components[-1].component_id == "RunReport"
    assert report_path.name == "report.html"
    assert report_path.parent.parent == sample_settings.pipeline_root / "RunReport" / "report"
    assert [p.name for p in report_path.parent.iterdir()] == ["report.html"]  # no partial file


def test_report_is_self_contained(report):
    assert report.references == []  # no stylesheet, script, image or link fetched from anywhere
    for image in report.images:
        assert image["src"].startswith("data:image/png;base64,")
        png = Image.open(io.BytesIO(base64.b64decode(image["src"].split(",", 1)[1])))
        assert png.format == "PNG" and min(png.size) > 100, image["alt"]


def test_report_has_every_section_and_the_notebook_figures(report):
    assert report.sections == ["verdict-section", "evaluation", "predictions", "training", "data", "lineage"]
    assert NOTEBOOK_FIGURES <= {image["alt"] for image in report.images}


def test_metrics_tables_cover_every_class(report, sample_settings):
    classes = sorted(p.name for p in (sample_settings.data_root / "train").iterdir())
    per_class = report.tables["per-class-metrics"]
    assert per_class[0] == ["class", "precision", "recall", "F1", "eval examples"]
    assert sorted(row[0] for row in per_class[1:]) == classes
    assert all(row[4] == "8" for row in per_class[1:])  # 8 validation images per class in the sample
    overall = {row[0]: row[1] for row in report.tables["overall-metrics"][1:]}
    assert overall["example_count"] == "80"  # a count
    assert 0.0 <= float(overall["expected calibration error (top label, 10 bins)"]) <= 1.0
    # The pushed model.tflite scored on the same eval split, beside the SavedModel it was made from.
    assert float(overall["model.tflite's top class = the SavedModel's"]) >= 0.995
    lite, saved = (float(overall[name]) for name in ("accuracy of model.tflite (TensorFlow Lite)",
                                                     "sparse_categorical_accuracy"))
    assert abs(lite - saved) <= 1 / 80
    # And its int8 copy, which may differ from it on a few images (docs/benchmarks.md: 1.2 to 2.5% of a fold).
    int8, agreement = (float(overall[name]) for name in ("accuracy of model_int8.tflite (TensorFlow Lite)",
                                                         "model_int8.tflite's top class = the SavedModel's"))
    assert abs(int8 - saved) <= 0.1 and agreement >= 0.85


def test_the_evaluation_is_sliced_by_every_image_property_and_gated_on_none(report, sample_settings, sample_run):
    rows = report.tables["slice-metrics"]
    assert rows[0] == ["property", "value", "eval examples", "accuracy"]
    by_property = {}
    for feature_key, _, count, accuracy in rows[1:]:
        by_property[feature_key] = by_property.get(feature_key, 0) + int(count)
        assert 0.0 <= float(accuracy) <= 1.0
    # Every eval image in one slice of each property (the sample: RGB JPEGs, 256 px on the long side).
    assert by_property == {key: 80 for key in features.SLICE_KEYS}
    assert ("original_colour", "rgb", "80") in {tuple(row[:3]) for row in rows[1:]}
    gated = {row[0] for row in report.tables["gates"][1:]}
    assert not any(key in gate for gate in gated for key in features.SLICE_KEYS)
    evaluation = evaluation_results.of_run(
        run_summary.find_run(str(sample_settings.metadata_path), sample_settings.pipeline_name, sample_run.run_id))
    assert evaluation.overall["example_count"] == 80  # the property slices leave the overall figures alone
    assert len(evaluation.weakest_slices(3)) == 3


def test_gates_show_value_threshold_and_result(report, sample_run):
    gates = report.tables["gates"]
    assert gates[0] == ["gate", "kind", "value", "threshold", "result"]
    rows = {(row[0], row[1]): row for row in gates[1:]}
    accuracy = rows[("sparse_categorical_accuracy", "value")]
    assert accuracy[3] == ">= 0" and accuracy[4] == "pass"
    change = rows[("sparse_categorical_accuracy", "change vs. baseline")]
    assert change[4] == "skipped" and "nothing pushed yet" in change[3]  # the first run
    assert sum(1 for key in rows if key[0].startswith("recall of class ")) == 10
    assert sample_run.blessed is True and "BLESSED: pushed to" in Path(sample_run.report).read_text()


def test_lineage_names_the_data_the_model_and_the_run(report, sample_settings, sample_run):
    lineage = dict(report.tables["lineage-table"][1:])
    ingested = next((sample_settings.pipeline_root / "ImageExampleGen" / "examples").iterdir())
    assert lineage["data (manifest content hash)"] == manifest.read(ingested)["content_hash"]
    assert lineage["run id"] == sample_run.run_id
    assert lineage["pushed model version"] == Path(sample_run.pushed_destination).name
    assert lineage["code version"].startswith("git ")  # an editable install: its checkout's commit


def test_data_section_counts_and_rejections(report):
    counts = {row[0]: row[1:] for row in report.tables["class-counts"][1:]}
    assert counts["total"] == ["240", "80"]
    assert "rejected" not in report.tables  # the sample has no bad files


def test_report_command_rewrites_a_past_run(sample_settings, sample_run, report, tmp_path):
    output = tmp_path / "again.html"
    result = subprocess.run([CLI, "report", "--pipeline-root", str(sample_settings.pipeline_root),
                             "--run-id", sample_run.run_id, "--output", str(output)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == str(output)
    again = Report(output.read_text(encoding="utf-8"))
    assert again.sections == report.sections
    for table in ("gates", "per-class-metrics", "overall-metrics", "lineage-table", "class-counts"):
        assert again.tables[table] == report.tables[table], table
    # From ML Metadata it also has every step's state and wall time, which the run itself cannot know.
    steps = {row[0]: row[1] for row in again.tables["steps"][1:]}
    assert steps["Trainer"] == "COMPLETE" and steps["Pusher"] == "COMPLETE" and len(steps) == 10


@pytest.mark.parametrize("arguments, message", [
    (["--run-id", "1999-01-01T00:00:00"], "no run '1999-01-01T00:00:00' of pipeline"),
    (["--pipeline-name", "some-other-pipeline"], "pipeline some-other-pipeline not recorded here"),
])
def test_report_command_errors_are_one_line(sample_settings, sample_run, arguments, message):
    result = subprocess.run([CLI, "report", "--pipeline-root", str(sample_settings.pipeline_root), *arguments],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr.strip().splitlines()[-1]


def small_originals(paths) -> int:
    """How many of the image files ingestion would put in the "under 128 px" slice."""
    small = 0
    for path in paths:
        with Image.open(path) as image:
            small += features.size_bucket(min(image.size)) == features.SMALL_SIZE
    return small


def test_the_training_table_lists_every_setting_of_the_run_flat(report, sample_settings):
    rows = dict(row for row in report.tables["training-config"][1:])
    training = sample_settings.settings.training.resolved()
    # The recipe's fields beside the others, as the Trainer read them from its custom_config.
    assert rows["model_name"] == training.model_name and rows["epochs"] == str(training.recipe.epochs)
    # The default model has a recipe for small data too, which the sample's 240 training images take
    # by their count: few, though mostly not small pictures.
    assert rows["frozen_blocks"] == str(training.small_data_recipe.frozen_blocks) and "recipe" not in rows
    train = sorted((sample_settings.data_root / "train").glob("*/*"))
    small = small_originals(train)
    assert 0 < small < len(train) / 2 and len(train) < registry.FEW_IMAGES  # the premise
    assert rows["recipe chosen"] == (f"the model's recipe for small data: {len(train)} training images (under "
                                     f"{registry.FEW_IMAGES} is small), {small} of them under 128 px "
                                     "(over half is small)")
    assert "small_data_recipe" not in rows
    # The sample's classes are the clothing's, but its one epoch is not the recipe the shipped bias was fitted for.
    assert "decision bias" not in rows
