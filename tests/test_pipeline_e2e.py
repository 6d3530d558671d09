"""The whole pipeline under LocalDagRunner on the bundled sample, checked through ML Metadata,
the pushed model and the command-line tool, as a user would."""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from PIL import Image, ImageOps
from tfx import v1 as tfx

from cli import local
from modules import exporter, features
from client import pushed_model
from components.run_report import evaluation_results, run_summary
from pipeline import configs
from client.pushed_model import version_dirs
from tests.conftest import CLI, COMPONENTS, record_another_run

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SAMPLE_CLASSES = {p.name for p in (configs.SAMPLE_DATA_ROOT / "train").iterdir()}


@pytest.fixture(scope="module")
def settings(sample_settings):
    return sample_settings


@pytest.fixture(scope="module")
def first_run(sample_run):
    return sample_run


@pytest.fixture(scope="module")
def pushed_dir(first_run):
    return Path(first_run.pushed_destination)


def test_every_component_executed(first_run):
    assert {c.component_id for c in first_run.components} == COMPONENTS
    assert {c.state for c in first_run.components} == {"COMPLETE"}


def test_model_was_blessed_and_pushed_to_a_version_directory(first_run, settings, pushed_dir):
    assert first_run.blessed is True
    assert pushed_dir.parent == settings.serving_dir
    assert pushed_dir.name.isdigit()
    assert (pushed_dir / "saved_model.pb").is_file()


def test_both_signatures_of_the_pushed_model_agree(pushed_dir):
    loaded = tf.saved_model.load(str(pushed_dir))
    images = [p.read_bytes() for p in sorted((configs.SAMPLE_DATA_ROOT / "validation" / "hat").glob("*.jpg"))[:3]]
    examples = [features.make_example(image, 0, "", "").SerializeToString() for image in images]
    by_example = loaded.signatures["serving_default"](examples=tf.constant(examples))
    by_bytes = loaded.signatures["serving_jpeg"](image_bytes=tf.constant(images))
    np.testing.assert_allclose(by_example["probabilities"].numpy(), by_bytes["probabilities"].numpy(), rtol=1e-4)
    np.testing.assert_array_equal(by_example["class_name"].numpy(), by_bytes["class_name"].numpy())
    assert {n.decode() for n in by_bytes["class_name"].numpy()} <= SAMPLE_CLASSES


def test_the_pushed_version_holds_a_tflite_model_that_answers_as_the_saved_model(pushed_dir):
    # The default model (EfficientNet-Lite1) in TensorFlow Lite, pushed with its SavedModel.
    images = [p.read_bytes() for p in sorted((configs.SAMPLE_DATA_ROOT / "validation").rglob("*.jpg"))]
    by_saved_model = pushed_model.PushedModel(pushed_dir).probabilities(images)
    by_tflite = pushed_model.PushedModel(pushed_dir, "tflite").probabilities(images)
    assert len(images) == 80 and (by_tflite.argmax(1) == by_saved_model.argmax(1)).mean() >= 0.995
    np.testing.assert_allclose(by_tflite, by_saved_model, atol=1e-4)
    # Its int8 copy beside it, calibrated on training images: a quarter of the bytes (the report scores it).
    version = pushed_model.resolve_model_dir(pushed_dir)
    float32, int8 = ((version / name).stat().st_size for name in (exporter.TFLITE_FILE, exporter.TFLITE_INT8_FILE))
    assert int8 < float32 / 3


def test_evaluation_has_overall_and_per_class_metrics(first_run, settings):
    evaluation = sorted((settings.pipeline_root / "Evaluator" / "evaluation").iterdir())[-1]
    result = tfma.load_eval_result(str(evaluation))
    slices = {slice_key: metrics[""][""] for slice_key, metrics in result.slicing_metrics}
    assert "sparse_categorical_accuracy" in slices[()]
    assert slices[()]["example_count"]["doubleValue"] == 80
    per_class = {key[0][1] for key in slices if key and key[0][0] == "label_name"}
    assert per_class == SAMPLE_CLASSES
    plots = dict(result.plots)[()][""][""]
    matrix = plots["multiClassConfusionMatrixAtThresholds"]["matrices"][0]["entries"]
    assert sum(entry.get("numWeightedExamples", 0) for entry in matrix) == 80


def test_per_class_metrics_are_those_of_the_arg_max_prediction(first_run, settings, pushed_dir):
    run = run_summary.find_run(str(settings.metadata_path), settings.pipeline_name, first_run.run_id)
    evaluation = evaluation_results.of_run(run)
    # sklearn on the same images, read from the folder and scored through serving_jpeg.
    scores = pushed_model.score_folder(pushed_model.PushedModel(pushed_dir), configs.SAMPLE_DATA_ROOT / "validation")
    matrix = np.array(scores["confusion_matrix"])
    np.testing.assert_array_equal(evaluation.confusion_matrix, matrix)
    for class_id, (name, metrics) in enumerate(evaluation.per_class.items()):
        expected = scores["per_class"][name]
        assert metrics["recall"] == pytest.approx(expected["recall"], abs=1e-6), name
        assert metrics["accuracy"] == pytest.approx(expected["recall"], abs=1e-6), name  # the gated figure
        if matrix[:, class_id].sum():
            assert metrics["precision"] == pytest.approx(expected["precision"], abs=1e-6), name
        else:  # never predicted: precision undefined, in TFMA's figures and `evaluate`'s alike
            assert "precision" not in metrics and expected["precision"] is None
    assert evaluation.overall[evaluation_results.MACRO_F1] == pytest.approx(scores["macro_f1"], abs=1e-6)
    assert evaluation.overall["sparse_categorical_accuracy"] == pytest.approx(scores["accuracy"], abs=1e-6)


def test_rerun_reuses_ingestion_and_cached_components(first_run, settings):
    second = local.run(settings)
    assert second.run_id != first_run.run_id
    states = {c.component_id: c.state for c in second.components}
    for component in ("ImageExampleGen", "StatisticsGen", "Transform", "Trainer"):
        assert states[component] == "CACHED", states
    # The serving directory changed (the first run pushed): the baseline step read it again.
    assert states["LatestPushedModel"] == "COMPLETE"
    assert len(list((settings.pipeline_root / "ImageExampleGen" / "examples").iterdir())) == 1
    # The same model, re-blessed against itself, is not published a second time.
    assert second.blessed is True and second.pushed_destination == first_run.pushed_destination
    assert version_dirs(settings.serving_dir) == [Path(first_run.pushed_destination)]


def test_a_run_summarises_itself_even_when_a_newer_run_was_recorded_meanwhile(settings, tmp_path, monkeypatch):
    # A copy of the run's state, where "another process" records a run while ours is running.
    copy = local.LocalRunSettings(data_root=settings.data_root, output_root=tmp_path,
                                  pipeline_name=settings.pipeline_name, settings=settings.settings)
    shutil.copytree(settings.pipeline_root, copy.pipeline_root)
    run_with_ir = tfx.orchestration.LocalDagRunner.run_with_ir

    def run_as_another_starts(runner, compiled, *args, **kwargs):
        run_with_ir(runner, compiled, *args, **kwargs)
        record_another_run(str(copy.metadata_path), settings.pipeline_name)  # newer than ours

    monkeypatch.setattr(tfx.orchestration.LocalDagRunner, "run_with_ir", run_as_another_starts)
    summary = local.run(copy)
    assert run_summary.find_run(str(copy.metadata_path), settings.pipeline_name).run_id == "another-run"
    assert summary.run_id != "another-run"
    assert {c.component_id for c in summary.components} == COMPONENTS  # every step of ours, not one of theirs
    assert summary.blessed is True and Path(summary.pushed_destination).parent == copy.serving_dir


def flipped_copies(source: Path, target: Path, per_class: int = 2) -> int:
    """A folder the model has never seen: mirrored, re-encoded validation images."""
    count = 0
    for class_dir in sorted(source.iterdir()):
        (target / class_dir.name).mkdir(parents=True)
        for path in sorted(class_dir.glob("*.jpg"))[:per_class]:
            ImageOps.mirror(Image.open(path)).save(target / class_dir.name / f"mirrored-{path.name}", quality=85)
            count += 1
    return count


def test_cli_evaluate_scores_an_unseen_folder(settings, pushed_dir, tmp_path):
    newest_version = max(settings.serving_dir.iterdir(), key=lambda p: int(p.name))
    count = flipped_copies(configs.SAMPLE_DATA_ROOT / "validation", tmp_path / "unseen")
    (tmp_path / "unseen" / "hat" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out = tmp_path / "scores.json"
    result = subprocess.run([CLI, "evaluate", "--model", str(settings.serving_dir), "--data",
                             str(tmp_path / "unseen"), "--json", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    scores = json.loads(out.read_text())
    assert scores["model"] == str(newest_version)  # the serving directory means its newest version
    assert scores["n"] == count
    assert sum(c["support"] for c in scores["per_class"].values()) == count
    assert set(scores["per_class"]) == {p.name for p in (tmp_path / "unseen").iterdir()}
    matrix = np.array(scores["confusion_matrix"])
    assert scores["accuracy"] == pytest.approx(np.trace(matrix) / count)
    assert [r["path"] for r in scores["rejected"]] == ["hat/broken.jpg"]


def test_cli_predict_prints_top_classes(pushed_dir):
    image = sorted((configs.SAMPLE_DATA_ROOT / "validation" / "shoes").glob("*.jpg"))[0]
    result = subprocess.run([CLI, "predict", "--model", str(pushed_dir), "--top-k", "2", str(image)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith(f"{image}: ")
    probabilities = [float(part.split()[-1]) for part in line.split(": ", 1)[1].split(", ")]
    assert len(probabilities) == 2 and probabilities[0] >= probabilities[1] > 0


def test_cli_predict_on_a_file_that_is_not_an_image(pushed_dir, tmp_path):
    notes = tmp_path / "notes.jpg"
    notes.write_text("shopping list")
    result = subprocess.run([CLI, "predict", "--model", str(pushed_dir), str(notes)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"image-pipeline: error: {notes}: not an image: content is text"


def test_cli_rejects_a_saved_model_it_did_not_push(pushed_dir, tmp_path):
    foreign = tmp_path / "foreign"
    shutil.copytree(pushed_dir, foreign)
    shutil.rmtree(foreign / "assets.extra")
    result = subprocess.run([CLI, "evaluate", "--model", str(foreign),
                             "--data", str(configs.SAMPLE_DATA_ROOT / "validation")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "not a model this pipeline pushed" in result.stderr.strip().splitlines()[-1]
