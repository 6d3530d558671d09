"""The run summary printed at the end of a run and the report's text: failed gates written as a person
reads them, summarised when a run with many classes fails many; a failed step named."""
import io
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_model_analysis.proto import config_pb2, validation_result_pb2

from components.run_report import report, run_summary


def validation_with_failed_recalls(directory, count: int):
    result = validation_result_pb2.ValidationResult(validation_ok=False)
    for index in range(count):
        per_slice = result.metric_validations_per_slice.add()
        per_slice.slice_key.single_slice_keys.add(column="label_name", bytes_value=f"class-{index:03d}".encode())
        failure = per_slice.failures.add()
        failure.metric_key.name = "sparse_categorical_accuracy"
        failure.metric_value.double_value.value = 0.25
        failure.metric_threshold.value_threshold.lower_bound.value = 0.4
    overall = result.metric_validations_per_slice.add()
    failure = overall.failures.add()
    failure.metric_key.name = "sparse_categorical_accuracy"
    failure.metric_key.is_diff = True
    failure.metric_value.double_value.value = -0.05
    failure.metric_threshold.change_threshold.absolute.value = -0.02
    failure.metric_threshold.change_threshold.direction = config_pb2.MetricDirection.HIGHER_IS_BETTER
    with tf.io.TFRecordWriter(str(directory / "validations.tfrecord")) as writer:
        writer.write(result.SerializeToString())
    return directory


def test_failed_gates_read_as_the_report_writes_them(tmp_path):
    lines = run_summary.failed_gates(str(validation_with_failed_recalls(tmp_path, 1)))
    assert lines == [
        "recall of class class-000 (sparse_categorical_accuracy on its label_name slice) = 0.2500, needs >= 0.4",
        "sparse_categorical_accuracy (change vs. baseline) = -0.0500, needs a change >= -0.02"]


def test_two_hundred_failed_gates_are_summarised(tmp_path):
    gates = run_summary.failed_gates(str(validation_with_failed_recalls(tmp_path, 200)))
    assert len(gates) == 201
    text = run_summary.RunSummary("run-1", [], blessed=False, pushed_destination=None, failed_gates=gates).format()
    shown = [line for line in text.splitlines() if line.startswith("  failed gate: ")]
    assert len(shown) == run_summary.FAILED_GATES_SHOWN
    assert text.splitlines()[-1] == "  ... and 191 more failed gates (the report lists every one)"
    assert "value_threshold" not in text and "{" not in text


def test_a_failed_step_is_named_in_the_summary_and_the_reports_verdict():
    summary = run_summary.RunSummary("run-1", [run_summary.ComponentRun("Trainer", "COMPLETE", 60.0),
                                               run_summary.ComponentRun("Evaluator", "FAILED", 3.0)],
                                     blessed=None, pushed_destination=None)
    assert "  model: no evaluation (Evaluator failed); pushed to: nothing pushed" in summary.format().splitlines()
    assert ">NOT EVALUATED (Evaluator failed): nothing pushed</p>" in report._verdict_section(summary, None)


def test_the_prediction_grid_says_how_many_images_it_shows():
    from components.run_report import figures
    images = [np.full((8, 8, 3), 128, np.uint8)] * 3
    examples = report.EvalExamples(images, np.array([0, 1, 0]), ["a.jpg", "b.jpg", "c.jpg"],
                                   np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]))
    section = report._predictions_section(examples, ["hat", "shoes"], figures)
    assert "Every eval image (3, in an order drawn with seed 111)" in section
    assert "15 eval images" not in section


def test_thumbnails_are_kept_small_and_drawn_as_arrays():
    from PIL import Image
    rows, columns = np.mgrid[0:533, 0:400]
    pixels = np.stack([rows * 255 // 533, columns * 255 // 400, (rows + columns) % 256], axis=-1).astype(np.uint8)
    photo = io.BytesIO()
    Image.fromarray(pixels).save(photo, format="JPEG", quality=90)
    thumbnails = report.Thumbnails()
    thumbnails.add(photo.getvalue())
    thumbnails.add(photo.getvalue())
    assert len(thumbnails) == 2
    assert thumbnails[1].shape == (report.THUMBNAIL, 120, 3) and thumbnails[1].dtype == np.uint8
    drawn = report._thumbnail(photo.getvalue()).astype(float)
    assert np.abs(thumbnails[0] - drawn).mean() < 25  # JPEG's loss, not another image
    assert sys.getsizeof(thumbnails._encoded[0]) < drawn.size / 2


def test_a_store_with_no_evaluated_run_says_so(tmp_path):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(tmp_path / "metadata.sqlite")
    metadata_store.MetadataStore(config)  # an empty store, as a pipeline root holds before its first run ends
    with pytest.raises(LookupError, match=r"metadata.sqlite: no run of pipeline 'clothes' has an evaluation \(none "
                                          r"reached the Evaluator, or it failed\)"):
        run_summary.newest_evaluated_run(str(tmp_path / "metadata.sqlite"), "clothes")
