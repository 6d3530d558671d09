"""The per-class recall floor: a model that gives up classes is not blessed, not pushed, and the
run summary and report name each failing class (the report also lists the rejected input file)."""
from pathlib import Path

import pytest

from cli import local
from components.run_report import evaluation_results, run_summary
from modules import settings as run_settings
from tests.conftest import COLOURS, write_colour_dataset
from tests.report_page import Report

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    root = tmp_path_factory.mktemp("gates")
    # An all but untrained arch_1 (an epoch at a rate of 1e-7) puts (nearly) every image into one
    # class: that class's recall
    # is high, the others' near 0. No accuracy floor and no baseline (a first run): only the
    # recall floor can turn it away.
    data = write_colour_dataset(root / "data")
    (data / "train" / "blue" / "notes.jpg").write_text("not a picture")  # for the report's rejected list
    return local.LocalRunSettings(
        data_root=data, output_root=root / "outputs", pipeline_name="gates",
        settings=run_settings.Settings(run_settings.Training(model_name="arch_1",
                                                             recipe=run_settings.Recipe(epochs=1, learning_rate=1e-7)),
                                       run_settings.Gates(accuracy_floor=0.0, class_recall_floor=0.5)))


@pytest.fixture(scope="module")
def summary(settings):
    return local.run(settings)


@pytest.fixture(scope="module")
def evaluation(settings, summary):
    run = run_summary.find_run(str(settings.metadata_path), settings.pipeline_name, summary.run_id)
    return evaluation_results.of_run(run)


def test_a_class_below_the_recall_floor_blocks_the_push(summary, settings, evaluation):
    low = sorted(name for name, m in evaluation.per_class.items() if m["recall"] < 0.5)
    assert low, evaluation.per_class  # the premise: the untrained model gives up some class
    assert summary.blessed is False
    assert summary.pushed_destination is None
    assert not settings.serving_dir.exists() or not any(settings.serving_dir.iterdir())
    assert evaluation.validation_ok is False


def test_summary_and_report_name_each_failing_class(summary, evaluation):
    low = sorted(name for name, m in evaluation.per_class.items() if m["recall"] < 0.5)
    assert sorted(line.split()[3] for line in summary.failed_gates) == low
    assert all(line.startswith("recall of class ") for line in summary.failed_gates)
    assert sorted(g.metric.rsplit(" ", 1)[-1] for g in evaluation.failed_gates) == low

    report = Report(Path(summary.report).read_text(encoding="utf-8"))
    failing_rows = [row for row in report.tables["gates"][1:] if row[4] == "FAIL"]
    assert sorted(row[0].rsplit(" ", 1)[-1] for row in failing_rows) == low
    assert all(row[3] == ">= 0.5" for row in failing_rows)
    passing = {row[0] for row in report.tables["gates"][1:] if row[4] == "pass"}
    passing_classes = {f"recall of class {c}" for c in sorted(set(COLOURS) - set(low))}
    assert passing == {"sparse_categorical_accuracy"} | passing_classes
    assert "NOT BLESSED: nothing pushed" in Path(summary.report).read_text(encoding="utf-8")
    assert report.tables["rejected"][1:] == [["train/blue/notes.jpg", "not an image: content is text"]]
