"""A run on other data, pointed at a serving folder that holds a model of other classes: that model is
no baseline (the no-regression gate says why it is skipped), and the new model is not pushed over it
unless the user asks (--replace-class-list): one line, exit code 1, the serving folder untouched."""
import subprocess
from pathlib import Path

import pytest

from client.pushed_model import version_dirs
from components import atomic_pusher
from modules import exporter, model as models
from tests.conftest import CLI, SMALL_IMAGE_SIZE, write_colour_dataset
from tests.report_page import Report

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

OTHER_CLASSES = ["dress", "hat", "longsleeve", "outwear"]


@pytest.fixture(scope="module")
def serving_other_classes(tmp_path_factory, transform_output):
    root = tmp_path_factory.mktemp("other-data")
    exported = root / "exported"
    exporter.export_serving_model(models.arch_1(SMALL_IMAGE_SIZE, len(OTHER_CLASSES)), transform_output, OTHER_CLASSES,
                                  str(exported))
    serving = root / "serving"
    return root, atomic_pusher.publish(exported, serving)


def run(root: Path, *flags) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "run", "--data-root", root / "colours", "--output-root", root / "outputs",
                           "--serving-dir", root / "serving", "--model", "arch_1", "--epochs", "1",
                           "--accuracy-floor", "0", "--class-recall-floor", "0", *flags],
                          capture_output=True, text=True, timeout=900)


def test_a_model_of_other_classes_is_no_baseline_and_is_not_replaced(serving_other_classes):
    root, serving_version = serving_other_classes
    write_colour_dataset(root / "colours")
    result = run(root)
    assert result.returncode == 1, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("image-pipeline: error: ")]
    assert errors == [f"image-pipeline: error: not pushed: {serving_version} classifies other classes (4 classes: "
                      "dress, hat, longsleeve, outwear; this model: 3 classes: blue, green, red); give this data its "
                      "own --pipeline-name (or --serving-dir), or push with --replace-class-list to replace it"]
    assert "model: BLESSED; pushed to: nothing pushed" in result.stdout
    assert version_dirs(root / "serving") == [serving_version]
    assert exporter.read_class_names(str(serving_version)) == OTHER_CLASSES

    report = Report(Path(result.stdout.split("report: ")[1].strip()).read_text(encoding="utf-8"))
    change = next(row for row in report.tables["gates"][1:] if row[1] == "change vs. baseline")
    assert change[3].endswith(f"(no baseline: the serving model {serving_version} classifies other classes "
                              "(4 classes: dress, hat, longsleeve, outwear; this model: 3 classes: blue, green, red))")
    assert change[4] == "skipped"

    # Asked explicitly, the run replaces it (the data steps and the Trainer come from the cache).
    replaced = run(root, "--replace-class-list")
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    newest = version_dirs(root / "serving")[-1]
    assert newest != serving_version and exporter.read_class_names(str(newest)) == ["blue", "green", "red"]
