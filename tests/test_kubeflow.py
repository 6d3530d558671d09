"""The Kubeflow Pipelines compile: spec 2.1, no resolver, offline, module-path code, one image, the DAG,
and `compile-kubeflow` flags checked like `run`'s. tests/test_kubeflow_execution.py executes the spec."""
import json
import os
import shutil
import subprocess

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from kubeflow import runner
from modules import settings
from pipeline.configs import SAMPLE_DATA_ROOT
from tests.conftest import CLI, REPO_ROOT, run_cli_in_process

IMAGE = "gcr.io/example-project/image-pipeline:1.0"
ROOT = "gs://example-bucket/tfx"  # unreachable from here: compiling must not touch it


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    output = tmp_path_factory.mktemp("kfp") / "pipeline.json"
    result = subprocess.run(compile_command(output), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(output.read_text())
    return document, json_format.ParseDict(document["pipelineSpec"], pipeline_spec_pb2.PipelineSpec(),
                                           ignore_unknown_fields=False)


def compile_command(output, *extra, data_root=SAMPLE_DATA_ROOT):
    return [CLI, *compile_args(output, *extra, data_root=data_root)]


def compile_args(output, *extra, data_root=SAMPLE_DATA_ROOT):
    return ["compile-kubeflow", "--output", str(output), "--pipeline-root", ROOT, "--image", IMAGE,
            "--data-root", str(data_root), *extra]


def parameter(spec, task, name):
    return spec.root.dag.tasks[task].inputs.parameters[name].runtime_value.constant.string_value


def test_spec_2_1_with_every_parameter_a_constant(compiled):
    document, spec = compiled
    assert spec.schema_version == "2.1.0"
    for name, task in spec.root.dag.tasks.items():
        for key, value in task.inputs.parameters.items():
            assert value.runtime_value.HasField("constant"), (name, key)  # not 2.0's constantValue
    assert "constantValue" not in json.dumps(document)


def test_dag_edges_from_the_image_folders_to_the_report(compiled):
    _, spec = compiled
    dependencies = {name: set(task.dependent_tasks) for name, task in spec.root.dag.tasks.items()}
    assert dependencies["ImageExampleGen"] == set()
    assert dependencies["LatestPushedModel"] == set()
    assert dependencies["StatisticsGen"] == {"ImageExampleGen", "ImportSchemaGen"}
    assert dependencies["ExampleValidator"] == {"StatisticsGen", "ImportSchemaGen"}
    assert dependencies["Transform"] == {"ImageExampleGen", "ImportSchemaGen"}
    assert dependencies["Trainer"] == {"ImageExampleGen", "ImportSchemaGen", "Transform"}
    assert dependencies["Evaluator"] == {"ImageExampleGen", "Trainer", "LatestPushedModel"}
    assert dependencies["Pusher"] == {"Trainer", "Evaluator"}
    assert dependencies["RunReport"] == {"ImageExampleGen", "StatisticsGen", "ExampleValidator", "Trainer",
                                         "Evaluator", "Pusher"}


def test_every_task_is_a_container_running_the_given_image(compiled):
    _, spec = compiled
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    assert {kind for e in executors.values() for kind in e} == {"container"}  # no resolver, no importer
    assert len(executors) == 10
    assert {e["container"]["image"] for e in executors.values()} == {IMAGE}


def test_the_first_task_reads_the_image_folders(compiled):
    _, spec = compiled
    assert parameter(spec, "ImageExampleGen", "input_base") == str(SAMPLE_DATA_ROOT)
    splits = json.loads(parameter(spec, "ImageExampleGen", "input_config"))["splits"]
    assert splits == [{"name": "train", "pattern": "train/*/*"}, {"name": "eval", "pattern": "validation/*/*"}]
    executor = json_format.MessageToDict(spec.deployment_spec)["executors"]["ImageExampleGen_executor"]["container"]
    arguments = executor["args"]
    assert arguments[arguments.index("--executor_class_path") + 1] == "components.image_example_gen.executor.Executor"


def test_the_baseline_step_is_never_cached(compiled):
    _, spec = compiled
    tasks = spec.root.dag.tasks
    assert not tasks["LatestPushedModel"].caching_options.enable_cache
    assert tasks["Trainer"].caching_options.enable_cache
    assert parameter(spec, "LatestPushedModel", "serving_model_dir") == f"{ROOT}/serving_model"


def test_code_is_referenced_by_module_path_with_no_upload(compiled):
    document, spec = compiled
    assert parameter(spec, "Trainer", "run_fn") == "modules.trainer.run_fn"
    assert parameter(spec, "Transform", "preprocessing_fn") == "modules.preprocessing.preprocessing_fn"
    assert "module_file" not in json.dumps(document) and "_wheels" not in json.dumps(document)


def test_component_parameters(compiled):
    document, spec = compiled
    assert document["runtimeConfig"]["gcsOutputDirectory"] == ROOT
    custom_config = json.loads(parameter(spec, "Trainer", "custom_config"))
    assert len(custom_config["class_names"]) == 10
    # modules/settings.py's Training, whole, as modules/trainer.py reads it back.
    trainer_config = custom_config["training"]
    assert settings.from_custom_config(custom_config)[0] == settings.Training().resolved()
    assert trainer_config["model_name"] == "efficientnet_lite1" and trainer_config["seed"] == 111
    # The model's own recipe, resolved at compile time.
    recipe = trainer_config["recipe"]
    assert (recipe["epochs"], recipe["learning_rate"], recipe["learning_rate_schedule"], recipe["augment"],
            recipe["balance_classes"], recipe["frozen_blocks"]) == (
        5, 5e-4, "warmup_cosine", True, True, 7)
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
    result = run_cli_in_process(*compile_args(output, *(f"--beam-arg={arg}" for arg in DATAFLOW_ARGS)))
    assert result.returncode == 0, result.stderr[-2000:]
    executors = json.loads(output.read_text())["pipelineSpec"]["deploymentSpec"]["executors"]
    for component in ("ImageExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator"):
        arguments = executors[f"{component}_executor"]["container"]["args"]
        assert arguments[-len(DATAFLOW_ARGS):] == DATAFLOW_ARGS, component
        assert "--direct_running_mode=in_memory" not in arguments  # the options replace the local default


def test_image_and_root_may_come_from_the_environment(tmp_path):
    output = tmp_path / "pipeline.json"
    env = {**os.environ, "KFP_IMAGE": IMAGE, "KFP_PIPELINE_ROOT": ROOT, "BEAM_PIPELINE_ARGS": "--runner=FlinkRunner"}
    result = subprocess.run([CLI, "compile-kubeflow", "--output", str(output), "--data-root", str(SAMPLE_DATA_ROOT)],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(output.read_text())
    assert document["runtimeConfig"]["gcsOutputDirectory"] == ROOT
    transform = document["pipelineSpec"]["deploymentSpec"]["executors"]["Transform_executor"]["container"]
    assert transform["image"] == IMAGE and transform["args"][-1] == "--runner=FlinkRunner"


def test_the_dockerfile_takes_its_base_as_an_argument_and_installs_the_runtime_lock_hash_checked():
    # tests/test_kubeflow_execution.py builds it and runs the spec in it; this is the fast-tier check.
    dockerfile = (REPO_ROOT / "kubeflow" / "Dockerfile").read_text()
    assert "ARG BASE=tensorflow/tfx:1.16.0" in dockerfile and "FROM ${BASE}" in dockerfile
    assert "--require-hashes" in dockerfile and "-r requirements.lock" in dockerfile
    assert "requirements-dev" not in dockerfile and "TF_USE_LEGACY_KERAS" not in dockerfile
    assert f"{runner.IMAGE_SCHEMA_DIR}" in dockerfile


def test_run_flags_reach_the_compiled_spec(tmp_path):
    output = tmp_path / "pipeline.json"
    result = run_cli_in_process(*compile_args(output, "--model", "arch_1", "--epochs", "1", "--accuracy-floor", "0",
                                              "--class-recall-floor", "0.25", "--pipeline-name", "clothes"))
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(output.read_text())
    spec = json_format.ParseDict(document["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    assert spec.pipeline_info.name == "clothes"
    trainer_config = json.loads(parameter(spec, "Trainer", "custom_config"))["training"]
    assert (trainer_config["model_name"], trainer_config["recipe"]["epochs"]) == ("arch_1", 1)
    assert json.loads(parameter(spec, "Transform", "custom_config")) == {"image_size": 128}
    gates = json.loads(parameter(spec, "Evaluator", "eval_config"))["metrics_specs"][0]["metrics"][1]
    bounds = [t["threshold"]["value_threshold"].get("lower_bound", 0.0) for t in gates["per_slice_thresholds"]]
    assert bounds == [0.0, 0.25]


def test_a_shells_training_variables_do_not_reach_a_compiled_spec(tmp_path, monkeypatch):
    monkeypatch.setenv("EPOCHS", "3")
    monkeypatch.setenv("MODEL_NAME", "arch_1")
    monkeypatch.setenv("ACCURACY_FLOOR", "0.99")
    output = tmp_path / "pipeline.json"
    result = run_cli_in_process(*compile_args(output))
    assert result.returncode == 0, result.stderr[-2000:]
    spec = json_format.ParseDict(json.loads(output.read_text())["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    trainer_config = json.loads(parameter(spec, "Trainer", "custom_config"))["training"]
    assert (trainer_config["model_name"], trainer_config["recipe"]["epochs"]) == ("efficientnet_lite1", 5)
    assert "0.99" not in parameter(spec, "Evaluator", "eval_config")


def test_a_test_folder_adds_the_test_split(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA_ROOT, data)
    shutil.copytree(data / "validation", data / "test")
    output = tmp_path / "pipeline.json"
    result = run_cli_in_process(*compile_args(output, data_root=data))
    assert result.returncode == 0, result.stderr[-2000:]
    spec = json_format.ParseDict(json.loads(output.read_text())["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    splits = json.loads(parameter(spec, "ImageExampleGen", "input_config"))["splits"]
    assert [s["name"] for s in splits] == ["train", "eval", "test"]


@pytest.mark.parametrize("flags, fragment", [
    (["--image", ""], "--image: '' is not a container image name"),
    (["--image", "my image"], "is not a container image name"),
    (["--class-names", ""], "--class-names: '' has an empty class name"),
    (["--class-names", "a,a, b ,,"], "has an empty class name"),
    (["--class-names", "a,b,a"], "names class 'a' more than once"),
    (["--epochs", "-1"], "--epochs"),
    (["--accuracy-floor", "2"], "between 0 and 1"),
    (["--model", "resnet"], "unknown model 'resnet'"),
])
def test_bad_compile_values_are_one_line_and_exit_2(tmp_path, flags, fragment):
    output = tmp_path / "pipeline.json"
    result = run_cli_in_process(*compile_args(output, *flags))
    assert result.returncode == 2, result.stderr[-2000:]
    error = [line for line in result.stderr.splitlines() if line.startswith("image-pipeline: error: ")]
    assert len(error) == 1 and fragment in error[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr and not output.exists()


def test_a_data_root_without_the_layout_is_refused_before_compiling(tmp_path):
    (tmp_path / "data" / "train").mkdir(parents=True)
    output = tmp_path / "pipeline.json"
    result = run_cli_in_process(*compile_args(output, data_root=tmp_path / "data"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("image-pipeline: error: ")
    assert "required split folder is missing" in result.stderr and not output.exists()


@pytest.mark.parametrize("data_root", ["ram://no-such-bucket/data", "s3://no-such-bucket/data"])
def test_a_remote_data_root_that_cannot_be_read_suggests_the_class_names(tmp_path, data_root):
    output = tmp_path / "pipeline.json"
    result = run_cli_in_process(*compile_args(output, data_root=data_root))
    assert result.returncode == 2 and not output.exists()
    assert result.stderr.strip().splitlines() == [
        f"image-pipeline: error: {data_root}: data root could not be read (missing, unreachable or not permitted); "
        "give --class-names to compile without reading it"]
