"""The Kubeflow Pipelines compile: offline, module-path code, one image, the pipeline's DAG."""
import json
import subprocess

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

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
    assert dependencies["ImportExampleGen"] == set()
    assert dependencies["StatisticsGen"] == {"ImportExampleGen"}
    assert dependencies["ExampleValidator"] == {"StatisticsGen", "ImportSchemaGen"}
    assert dependencies["Transform"] == {"ImportExampleGen", "ImportSchemaGen"}
    assert dependencies["Trainer"] == {"ImportExampleGen", "ImportSchemaGen", "Transform"}
    assert dependencies["Evaluator"] == {"ImportExampleGen", "Trainer", "latest_blessed_model_resolver-model-resolver"}
    assert dependencies["Pusher"] == {"Trainer", "Evaluator"}


def test_every_container_runs_the_given_image(compiled):
    _, spec = compiled
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    images = {name: e["container"]["image"] for name, e in executors.items() if "container" in e}
    assert len(images) == 8
    assert set(images.values()) == {IMAGE}


def test_code_is_referenced_by_module_path_with_no_upload(compiled):
    document, spec = compiled
    assert parameter(spec, "Trainer", "run_fn") == "modules.trainer.run_fn"
    assert parameter(spec, "Transform", "preprocessing_fn") == "modules.preprocessing.preprocessing_fn"
    assert "module_file" not in json.dumps(document) and "_wheels" not in json.dumps(document)


def test_component_parameters(compiled):
    document, spec = compiled
    assert document["runtimeConfig"]["gcsOutputDirectory"] == ROOT
    assert parameter(spec, "ImportExampleGen", "input_base") == f"{ROOT}/ingested"
    trainer_config = json.loads(parameter(spec, "Trainer", "custom_config"))
    assert trainer_config["model_name"] == "arch_2" and trainer_config["seed"] == 111
    assert len(trainer_config["class_names"]) == 10
    assert json.loads(parameter(spec, "Transform", "custom_config")) == {"image_size": 128}
    assert json.loads(parameter(spec, "Pusher", "push_destination"))["filesystem"]["base_directory"] == \
        f"{ROOT}/serving_model"


def test_the_pusher_is_the_atomic_one(compiled):
    _, spec = compiled
    pusher = json_format.MessageToDict(spec.deployment_spec)["executors"]["Pusher_executor"]["container"]
    arguments = pusher["args"]
    assert arguments[arguments.index("--executor_class_path") + 1] == "components.atomic_pusher.Executor"
