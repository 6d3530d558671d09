"""The compiled Kubeflow spec executes: every task run from its JSON, in DAG order, the way open-source
KFP v2's driver and launcher run it (tests/kfp_harness.py), twice on the bundled sample."""
import json
import subprocess
from pathlib import Path

import pytest
import tensorflow_model_analysis as tfma

from pipeline import configs
from tests import kfp_harness
from tests.conftest import CLI

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

IMAGE = "registry.example/image-pipeline:1.0"
TASKS = {"ImageExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator", "Transform", "Trainer",
         "LatestPushedModel", "Evaluator", "Pusher", "RunReport"}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    base = tmp_path_factory.mktemp("kfp-run")
    output = base / "pipeline.json"
    result = subprocess.run([CLI, "compile-kubeflow", "--output", str(output), "--pipeline-root", str(base / "root"),
                             "--image", IMAGE, "--data-root", str(configs.SAMPLE_DATA_ROOT), "--model", "arch_1",
                             "--epochs", "1", "--accuracy-floor", "0", "--class-recall-floor", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return base, json.loads(output.read_text())


@pytest.fixture(scope="module")
def two_runs(compiled):
    base, job = compiled
    cluster = kfp_harness.Cluster()
    image_paths = {"/pipeline/schema": str(configs.SCHEMA_DIR)}
    first = kfp_harness.run_pipeline(job, cluster, "run-1", image_paths, base / "logs")
    second = kfp_harness.run_pipeline(job, cluster, "run-2", image_paths, base / "logs")
    for name, runs in (("first", first), ("second", second)):  # the closing note quotes these
        print(f"\n{name} run: " + ", ".join(f"{t.name} {t.state} {t.seconds:.1f} s" for t in runs.values()))
    return base, first, second


def metadata(runs, task, key):
    return kfp_harness.artifact(runs, task, key)["metadata"]


def test_the_first_run_pushes_a_serving_version_and_writes_the_report(two_runs):
    base, first, _ = two_runs
    assert set(first) == TASKS and {t.state for t in first.values()} == {"COMPLETE"}
    assert metadata(first, "LatestPushedModel", "model")["has_model"] == 0  # nothing serving yet
    assert metadata(first, "Evaluator", "blessing")["blessed"] == 1
    pushed = metadata(first, "Pusher", "pushed_model")
    assert pushed["pushed"] == 1
    version = Path(pushed["pushed_destination"])
    assert version.parent == base / "root" / "serving_model" and version.name.isdigit()
    assert (version / "saved_model.pb").is_file()
    examples = metadata(first, "ImageExampleGen", "examples")
    assert examples["files_found"] == examples["files_ingested"] == 320
    assert json.loads(examples["split_names"]) == ["train", "eval"]
    report = Path(kfp_harness.artifact(first, "RunReport", "report")["uri"]) / "report.html"
    assert report.is_file() and str(report).startswith(str(base / "root"))
    assert "BLESSED: pushed to" in report.read_text(encoding="utf-8")


def test_the_second_run_evaluates_against_the_first_runs_pushed_model(two_runs):
    _, first, second = two_runs
    for task in ("ImageExampleGen", "StatisticsGen", "Transform", "Trainer"):
        assert second[task].state == "CACHED", task
    # The baseline step is never served from the cache: it reads what is serving now.
    assert second["LatestPushedModel"].state == "COMPLETE"
    baseline = metadata(second, "LatestPushedModel", "model")
    first_version = metadata(first, "Pusher", "pushed_model")["pushed_destination"]
    assert baseline["has_model"] == 1 and baseline["pushed_destination"] == first_version
    assert second["Evaluator"].state == "COMPLETE"
    evaluation = kfp_harness.artifact(second, "Evaluator", "evaluation")["uri"]
    models = {key.model_name for metrics in tfma.load_metrics(evaluation) for key in
              (item.key for item in metrics.metric_keys_and_values)}
    assert models == {"candidate", "baseline"}
    validation = tfma.load_validation_result(evaluation)
    assert validation.validation_ok  # the same model against itself: change 0, within the tolerance
    # The same model is not published twice.
    assert metadata(second, "Pusher", "pushed_model")["pushed_destination"] == first_version


def test_a_job_with_a_resolver_task_is_refused(compiled):
    _, job = compiled
    refused = json.loads(json.dumps(job))
    refused["pipelineSpec"]["deploymentSpec"]["executors"]["extra_executor"] = {"resolver": {}}
    with pytest.raises(kfp_harness.JobRefused, match="resolver executors not implemented"):
        kfp_harness.check_accepted(refused)
    kfp_harness.check_accepted(job)  # the compiled job itself is accepted
