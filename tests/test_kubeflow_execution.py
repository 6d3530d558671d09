"""The Kubeflow image is built from kubeflow/Dockerfile (no network: the locked wheelhouse only), and the
compiled spec executes in it: every task's command run in a container of that image, in DAG order, the
way open-source KFP v2's driver and launcher run it (tests/kfp_harness.py), twice on the bundled sample.
Only the pipeline root and the data root are mounted into the containers."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import tensorflow_model_analysis as tfma

from pipeline import configs
from tests import containers, kfp_harness
from tests.conftest import CLI

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.container]

IMAGE = "localhost/image-pipeline:test"
TASKS = {"ImageExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator", "Transform", "Trainer",
         "LatestPushedModel", "Evaluator", "Pusher", "RunReport"}


@pytest.fixture(scope="module")
def wheelhouse():
    print("\n" + containers.script("scripts/container/base.sh").strip().splitlines()[-1])
    print(containers.script("kubeflow/wheelhouse.sh").strip().splitlines()[-1])
    return containers.WHEELHOUSE


@pytest.fixture(scope="module")
def image(wheelhouse):
    build = containers.build(IMAGE)
    assert build.returncode == 0, build.log[-5000:]
    assert "installing from the wheelhouse, offline" in build.log
    size = containers.image_size(IMAGE)
    print(f"image {IMAGE}: built in {build.seconds:.0f} s, {size / 2**30:.2f} GiB")  # the closing note quotes it
    # Earlier builds' images, now untagged, and this build's throwaway wheel stage: several GB a run.
    # The tagged image keeps its layers, so the next build still reuses the installed lock.
    containers.podman("image", "prune", "--force", timeout=300)
    return IMAGE


def test_the_image_has_the_cli_and_the_schema_and_chooses_tf_keras(image):
    result = containers.podman("run", "--rm", "--network=none", image, "image-pipeline", "--help")
    assert result.returncode == 0 and "compile-kubeflow" in result.stdout
    probe = ("import modules, tensorflow as tf; from pipeline import configs; "
             "print(tf.keras.__name__, configs.SCHEMA_DIR, configs.SAMPLE_DATA_ROOT.is_dir())")
    result = containers.podman("run", "--rm", "--network=none", image, "python", "-c", probe)
    keras, schema_dir, sample = result.stdout.split()
    assert keras.startswith("tf_keras") and "site-packages" in schema_dir and sample == "True"
    result = containers.podman("run", "--rm", "--network=none", image, "test", "-f", "/pipeline/schema/schema.pbtxt",
                               check=False)
    assert result.returncode == 0


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, image):
    base = tmp_path_factory.mktemp("kfp-run")
    data = shutil.copytree(configs.SAMPLE_DATA_ROOT, base / "data", ignore=shutil.ignore_patterns("*.md", "LICENSE"))
    output = base / "pipeline.json"
    result = subprocess.run([CLI, "compile-kubeflow", "--output", str(output), "--pipeline-root", str(base / "root"),
                             "--image", image, "--data-root", str(data), "--model", "arch_1",
                             "--epochs", "1", "--accuracy-floor", "0", "--class-recall-floor", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    (base / "root").mkdir()
    return base, json.loads(output.read_text())


def mounts(base):
    return [(str(base / "root"), True), (str(base / "data"), False)]


@pytest.fixture(scope="module")
def two_runs(compiled):
    base, job = compiled
    cluster = kfp_harness.Cluster()
    first = kfp_harness.run_pipeline(job, cluster, "run-1", mounts(base), base / "logs")
    second = kfp_harness.run_pipeline(job, cluster, "run-2", mounts(base), base / "logs")
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
    version = base / "root" / "serving_model" / pushed["pushed_destination"].rsplit("/", 1)[-1]
    assert pushed["pushed_destination"] == str(version) and version.name.isdigit()
    assert (version / "saved_model.pb").is_file()
    examples = metadata(first, "ImageExampleGen", "examples")
    assert examples["files_found"] == examples["files_ingested"] == 320
    assert json.loads(examples["split_names"]) == ["train", "eval"]
    report = kfp_harness.artifact(first, "RunReport", "report")["uri"] + "/report.html"
    assert report.startswith(str(base / "root"))
    with open(report, encoding="utf-8") as page:
        assert "BLESSED: pushed to" in page.read()


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


def test_a_task_failing_in_its_container_fails_the_run_by_name_and_pushes_nothing(compiled, tmp_path):
    base, job = compiled
    # The data root is not mounted: ingestion, the first task, cannot read it inside the container.
    root = tmp_path / "root"
    root.mkdir()
    job = json.loads(json.dumps(job).replace(str(base / "root"), str(root)))
    with pytest.raises(kfp_harness.TaskFailed, match=r"task ImageExampleGen failed with exit code 1") as failure:
        kfp_harness.run_pipeline(job, kfp_harness.Cluster(), "run-1", [(str(root), True)], tmp_path / "logs")
    assert "last lines:" in str(failure.value) and str(base / "data") in str(failure.value)
    assert not (root / "serving_model").exists()


def test_a_job_with_a_resolver_task_is_refused(compiled):
    _, job = compiled
    refused = json.loads(json.dumps(job))
    refused["pipelineSpec"]["deploymentSpec"]["executors"]["extra_executor"] = {"resolver": {}}
    with pytest.raises(kfp_harness.JobRefused, match="resolver executors not implemented"):
        kfp_harness.check_accepted(refused)
    kfp_harness.check_accepted(job)  # the compiled job itself is accepted


def context_with(tmp_path, change) -> Path:
    """A build context of the Dockerfile, the lock and a copy of the wheelhouse (hard links), changed."""
    context = tmp_path / "context"
    (context / "kubeflow").mkdir(parents=True)
    shutil.copy(containers.REPO_ROOT / "kubeflow" / "Dockerfile", context / "kubeflow")
    shutil.copy(containers.REPO_ROOT / "requirements.lock", context)
    shutil.copytree(containers.WHEELHOUSE, context / "kubeflow" / "wheelhouse", copy_function=os.link)
    change(context / "kubeflow" / "wheelhouse")
    return context


def first_wheel(wheelhouse):
    return sorted(wheelhouse.glob("*.whl"))[0]


def test_a_tampered_wheel_fails_the_build_naming_it(wheelhouse, tmp_path):
    def tamper(folder):
        wheel = first_wheel(folder)
        data = wheel.read_bytes()
        wheel.unlink()  # a new file, not the hard-linked original
        wheel.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    context = context_with(tmp_path, tamper)
    build = containers.build("localhost/image-pipeline:tampered", context, timeout=600, cache=False)
    assert build.returncode != 0
    assert "DO NOT MATCH THE HASHES" in build.log and first_wheel(wheelhouse).name in build.log, build.log[-3000:]


def test_a_missing_wheel_fails_the_build_naming_it(wheelhouse, tmp_path):
    context = context_with(tmp_path, lambda folder: first_wheel(folder).unlink())
    build = containers.build("localhost/image-pipeline:missing", context, timeout=600, cache=False)
    assert build.returncode != 0
    named = re.findall(r"No matching distribution found for ([\w.-]+)==", build.log)
    assert [normalised(name) for name in named] == [normalised(first_wheel(wheelhouse).name.split("-")[0])], \
        build.log[-3000:]


def normalised(project: str) -> str:
    return re.sub(r"[-_.]+", "_", project).lower()
