"""Crashes and worse models, on a dataset a CNN learns in one epoch (colour = class).

One pipeline root goes through the story a user lives, each step a real `local_runner.py`
process on the same ML Metadata, artifacts and serving directory:
  1. a good model is trained, blessed and pushed;
  2. an all but untrained one (an epoch at a rate of 1e-7) fails the regression gate: not blessed, not pushed;
  3. a run is SIGKILLed during the Trainer, and 4. re-run: upstream cached, model pushed;
  5. a run is SIGKILLed in the Pusher, between copying and publishing, and 6. re-run.
After every step the serving directory holds only complete copies of blessed models.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tensorflow_model_analysis as tfma

from components import atomic_pusher
from components import crash_points
from components.run_report import run_summary
from client.pushed_model import version_dirs
from tests.conftest import LOCAL_RUNNER, tree, write_colour_dataset
from tests.report_page import Report

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PIPELINE_NAME = "crash-safety"
UPSTREAM = ("ImageExampleGen", "StatisticsGen", "ExampleValidator", "Transform")


class Story:
    def __init__(self, root: Path):
        self.data = write_colour_dataset(root / "data")
        self.output = root / "outputs"
        self.serving = self.output / "serving_model" / PIPELINE_NAME
        self.pipeline_root = self.output / "pipelines" / PIPELINE_NAME

    def command(self, epochs: int, floor: float, learning_rate: float = None):
        # arch_1: the notebook's plain CNN, which separates the colours within an epoch.
        return [sys.executable, LOCAL_RUNNER, "--data-root", str(self.data),
                "--output-root", str(self.output), "--pipeline-name", PIPELINE_NAME, "--model", "arch_1",
                "--epochs", str(epochs), "--accuracy-floor", str(floor), "--class-recall-floor", str(floor),
                *(["--learning-rate", str(learning_rate)] if learning_rate else [])]

    def run(self, epochs: int, floor: float = 0.9, kill_at: str = None, learning_rate: float = None):
        env = dict(os.environ, **({crash_points.ENVIRONMENT_VARIABLE: kill_at} if kill_at else {}))
        result = subprocess.run(self.command(epochs, floor, learning_rate), capture_output=True, text=True, env=env)
        return result.returncode, self.summary()

    def run_killed_during_trainer(self, epochs: int):
        """Starts a run and SIGKILLs its process group once the Trainer has begun fitting."""
        before = set(self.pipeline_root.glob("Trainer/model_run/*/train"))
        process = subprocess.Popen(self.command(epochs, 0.9), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        deadline = time.time() + 300
        while not set(self.pipeline_root.glob("Trainer/model_run/*/train")) - before:
            assert process.poll() is None, "the run ended before its Trainer started fitting"
            assert time.time() < deadline, "the Trainer did not start within 300 s"
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(), self.summary()

    def summary(self):
        return run_summary.latest_run(str(self.pipeline_root / "metadata.sqlite"), PIPELINE_NAME)

    def serving_state(self):
        return sorted(p.name for p in self.serving.iterdir()) if self.serving.exists() else []


def blessed_models(story: Story) -> list:
    """The Trainer model directories that an Evaluator blessed, from ML Metadata."""
    store = run_summary.open_store(str(story.pipeline_root / "metadata.sqlite"))
    blessings = store.get_artifacts_by_type("ModelBlessing")
    return [Path(b.custom_properties["current_model"].string_value) / "Format-Serving"
            for b in blessings if b.custom_properties["blessed"].int_value == 1]


def assert_serving_holds_only_whole_blessed_models(story: Story):
    blessed = [tree(model) for model in blessed_models(story)]
    entries = story.serving_state()
    assert [p.name for p in version_dirs(story.serving)] == entries  # nothing but complete versions
    for version in entries:
        assert tree(story.serving / version) in blessed, f"version {version} is not a whole blessed model"


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    return Story(tmp_path_factory.mktemp("crash"))


@pytest.fixture(scope="module")
def good(story):
    code, summary = story.run(epochs=2)
    assert code == 0
    return summary, story.serving_state()


@pytest.fixture(scope="module")
def worse(story, good):
    # Floors 0: only the regression gate can turn the all but untrained model away.
    code, summary = story.run(epochs=1, floor=0.0, learning_rate=1e-7)
    assert code == 0
    return summary, story.serving_state()


@pytest.fixture(scope="module")
def killed_in_trainer(story, worse):
    return story.run_killed_during_trainer(epochs=3) + (story.serving_state(),)


@pytest.fixture(scope="module")
def rerun_after_trainer_kill(story, killed_in_trainer):
    code, summary = story.run(epochs=3)
    assert code == 0
    return summary, story.serving_state()


@pytest.fixture(scope="module")
def killed_in_pusher(story, rerun_after_trainer_kill):
    return story.run(epochs=4, kill_at="pusher-before-publish") + (story.serving_state(),)


@pytest.fixture(scope="module")
def rerun_after_pusher_kill(story, killed_in_pusher):
    code, summary = story.run(epochs=4)
    assert code == 0
    return summary, story.serving_state()


def states(summary) -> dict:
    return {c.component_id: c.state for c in summary.components}


def test_a_good_model_is_blessed_and_pushed(story, good):
    summary, serving = good
    assert summary.blessed is True
    assert serving == [Path(summary.pushed_destination).name]
    assert_serving_holds_only_whole_blessed_models(story)


def test_a_worse_model_fails_the_regression_gate_and_is_not_pushed(story, good, worse):
    summary, serving = worse
    assert states(summary)["Trainer"] == "COMPLETE" and summary.blessed is False
    assert summary.pushed_destination is None
    assert serving == good[1]
    evaluation = sorted((story.pipeline_root / "Evaluator" / "evaluation").iterdir(), key=lambda p: int(p.name))[-1]
    validation = tfma.load_validation_result(str(evaluation))
    assert not validation.validation_ok
    failures = [failure for per_slice in validation.metric_validations_per_slice for failure in per_slice.failures]
    assert [f.metric_key.name for f in failures] == ["sparse_categorical_accuracy"]
    assert all(f.metric_key.is_diff for f in failures)  # the change threshold against the baseline, not the floor
    assert len(summary.failed_gates) == 1  # and the run's summary says so
    assert summary.failed_gates[0].startswith("sparse_categorical_accuracy (change vs. baseline) = -")
    assert summary.failed_gates[0].endswith(", needs a change >= -0.02")
    # The run's report compares the candidate with its baseline, the good model, and shows the failing gate.
    page = Report(Path(summary.report).read_text(encoding="utf-8"))
    accuracy = {row[0]: row for row in page.tables["overall-metrics"][1:]}["sparse_categorical_accuracy"]
    assert float(accuracy[2]) == 1.0 and float(accuracy[1]) < 1.0
    assert float(accuracy[3]) == pytest.approx(float(accuracy[1]) - 1.0, abs=1e-3)
    change = {(row[0], row[1]): row for row in page.tables["gates"][1:]}[("sparse_categorical_accuracy",
                                                                        "change vs. baseline")]
    assert change[2:] == [accuracy[3], ">= -0.02", "FAIL"]


def test_killed_during_the_trainer_the_serving_directory_is_unchanged(story, worse, killed_in_trainer):
    code, summary, serving = killed_in_trainer
    assert code == -signal.SIGKILL
    assert states(summary)["Trainer"] == "RUNNING"  # what ML Metadata last heard from it
    assert serving == worse[1]
    assert_serving_holds_only_whole_blessed_models(story)


def test_rerun_after_a_trainer_kill_reuses_upstream_and_pushes(story, killed_in_trainer, rerun_after_trainer_kill):
    summary, serving = rerun_after_trainer_kill
    for component in UPSTREAM:
        assert states(summary)[component] == "CACHED", states(summary)
    assert states(summary)["Trainer"] == "COMPLETE"
    assert summary.blessed is True
    assert serving == killed_in_trainer[2] + [Path(summary.pushed_destination).name]
    assert_serving_holds_only_whole_blessed_models(story)


def test_killed_in_the_pusher_nothing_partial_is_served(story, rerun_after_trainer_kill, killed_in_pusher):
    code, summary, serving = killed_in_pusher
    assert code == -signal.SIGKILL
    assert states(summary)["Pusher"] == "RUNNING"
    assert serving == rerun_after_trainer_kill[1]
    assert list(atomic_pusher.staging_root(story.serving).iterdir())  # the copy it was about to publish
    assert_serving_holds_only_whole_blessed_models(story)


def test_rerun_after_a_pusher_kill_publishes_and_clears_the_staging(story, killed_in_pusher, rerun_after_pusher_kill):
    summary, serving = rerun_after_pusher_kill
    for component in UPSTREAM + ("Trainer",):
        assert states(summary)[component] == "CACHED", states(summary)
    assert states(summary)["Pusher"] == "COMPLETE"
    assert serving == killed_in_pusher[2] + [Path(summary.pushed_destination).name]
    assert not atomic_pusher.staging_root(story.serving).exists()
    assert_serving_holds_only_whole_blessed_models(story)
