"""The Kubeflow Pipelines compile: offline, module-path code, one image, the pipeline's DAG."""
import json
import os
import subprocess

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from kubeflow import runner
from pipeline.configs import REPO_ROOT
from tests.conftest import CLI

IMAGE = "gcr.io/example-project/image-pipeline:1.0"
ROOT = "gs://example-bucket/tfx"  # unreachable from here: compiling must not touch it


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    output = tmp_path_factory.mktemp("kfp") / "pipeline.json"
    result = subprocess.run([CLI, "compile-kubeflow", "--output", str(output), "--pipeline-root", ROOT,
                             "--image", IMAGE], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(output.read_text())
    return document, json_format.ParseDict(document["pipelineSpec"], pipeline_spec_pb2.PipelineSpec(),
                                           ignore_unknown_fields=False)


def parameter(spec, task, name):
    return spec.root.dag.tasks[task].inputs.parameters[name].runtime_value.constant_value.string_value


def test_dag_edges(compiled):
    _, spec = compiled
    dependencies = {name: set(task.dependent_tasks) for name, task in spec.root.dag.tasks.items()}
    assert dependencies["examples_importer"] == set()
    assert dependencies["StatisticsGen"] == {"examples_importer", "ImportSchemaGen"}
    assert dependencies["ExampleValidator"] == {"StatisticsGen", "ImportSchemaGen"}
    assert dependencies["Transform"] == {"examples_importer", "ImportSchemaGen"}
    assert dependencies["Trainer"] == {"examples_importer", "ImportSchemaGen", "Transform"}
    assert dependencies["Evaluator"] == {"examples_importer", "Trainer", "latest_blessed_model_resolver-model-resolver"}
    assert dependencies["Pusher"] == {"Trainer", "Evaluator"}


def test_every_container_runs_the_given_image(compiled):
    _, spec = compiled
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    images = {name: e["container"]["image"] for name, e in executors.items() if "container" in e}
    assert len(images) == 7  # the importer and resolvers run in the KFP driver, not a container
    assert set(images.values()) == {IMAGE}


def test_code_is_referenced_by_module_path_with_no_upload(compiled):
    document, spec = compiled
    assert parameter(spec, "Trainer", "run_fn") == "modules.trainer.run_fn"
    assert parameter(spec, "Transform", "preprocessing_fn") == "modules.preprocessing.preprocessing_fn"
    assert "module_file" not in json.dumps(document) and "_wheels" not in json.dumps(document)


def test_component_parameters(compiled):
    document, spec = compiled
    assert document["runtimeConfig"]["gcsOutputDirectory"] == ROOT
    assert parameter(spec, "examples_importer", "artifact_uri") == f"{ROOT}/ingested"
    importer = json_format.MessageToDict(spec.deployment_spec)["executors"]["examples_importer_executor"]["importer"]
    assert json.loads(importer["metadata"]["split_names"]) == ["train", "eval"]
    assert importer["typeSchema"]["instanceSchema"].startswith("title: tfx.Examples")
    trainer_config = json.loads(parameter(spec, "Trainer", "custom_config"))
    assert trainer_config["model_name"] == "efficientnet_lite1" and trainer_config["seed"] == 111
    assert len(trainer_config["class_names"]) == 10
    # The model's own recipe, resolved at compile time.
    assert (trainer_config["epochs"], trainer_config["learning_rate"], trainer_config["learning_rate_schedule"],
            trainer_config["augment"], trainer_config["balance_classes"]) == (8, 5e-4, "warmup_cosine", True, True)
    assert json.loads(parameter(spec, "Transform", "custom_config")) == {"image_size": 240}
    assert json.loads(parameter(spec, "Pusher", "push_destination"))["filesystem"]["base_directory"] == \
        f"{ROOT}/serving_model"


def test_the_pusher_is_the_atomic_one(compiled):
    _, spec = compiled
    pusher = json_format.MessageToDict(spec.deployment_spec)["executors"]["Pusher_executor"]["container"]
    arguments = pusher["args"]
    assert arguments[arguments.index("--executor_class_path") + 1] == "components.atomic_pusher.Executor"


DATAFLOW_ARGS = ["--runner=DataflowRunner", "--project=example-project", "--region=europe-west1",
                 f"--temp_location={ROOT}/beam-tmp", "--setup_file=/pipeline/setup.py"]


def test_beam_options_reach_every_beam_component(tmp_path):
    output = tmp_path / "pipeline.json"
    result = subprocess.run([CLI, "compile-kubeflow", "--output", str(output), "--pipeline-root", ROOT,
                             "--image", IMAGE, *(f"--beam-arg={arg}" for arg in DATAFLOW_ARGS)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    executors = json.loads(output.read_text())["pipelineSpec"]["deploymentSpec"]["executors"]
    for component in ("StatisticsGen", "Transform", "Trainer", "Evaluator"):
        arguments = executors[f"{component}_executor"]["container"]["args"]
        assert arguments[-len(DATAFLOW_ARGS):] == DATAFLOW_ARGS, component
        assert "--direct_running_mode=in_memory" not in arguments  # the options replace the local default


def test_image_and_root_may_come_from_the_environment(tmp_path):
    output = tmp_path / "pipeline.json"
    env = {**os.environ, "KFP_IMAGE": IMAGE, "KFP_PIPELINE_ROOT": ROOT, "BEAM_PIPELINE_ARGS": "--runner=FlinkRunner"}
    result = subprocess.run([CLI, "compile-kubeflow", "--output", str(output)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(output.read_text())
    assert document["runtimeConfig"]["gcsOutputDirectory"] == ROOT
    transform = document["pipelineSpec"]["deploymentSpec"]["executors"]["Transform_executor"]["container"]
    assert transform["image"] == IMAGE and transform["args"][-1] == "--runner=FlinkRunner"


def test_the_dockerfile_builds_the_image_the_compile_expects():
    dockerfile = (REPO_ROOT / "kubeflow" / "Dockerfile").read_text()
    assert "FROM tensorflow/tfx:1.16.0" in dockerfile
    assert f"COPY schema/ {runner.IMAGE_SCHEMA_DIR}/" in dockerfile
    assert "ENV TF_USE_LEGACY_KERAS=1" in dockerfile
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in dockerfile
    for package in ("pipeline/", "modules/", "components/"):  # every package a component imports
        assert f"COPY {package} {package}" in dockerfile
