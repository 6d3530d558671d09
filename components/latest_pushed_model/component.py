"""LatestPushedModel: the newest version in the push destination, as a Model artifact.

It replaces TFX's latest-blessed-model Resolver, whose `resolver` tasks only Vertex AI runs
(open-source Kubeflow Pipelines refuses them). The baseline a candidate must not fall behind is
the model serving now, which is what this reads, on any orchestrator.

Caching must never hand back a stale answer: the driver (LocalDagRunner) puts the serving
directory's state into the execution's properties, so a cached result is reused only while the
newest version is unchanged; Kubeflow compiles the task with caching off (kubeflow/runner.py).
"""
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import component_spec, standard_artifacts

from components.latest_pushed_model import driver, executor

SERVING_MODEL_DIR_KEY = "serving_model_dir"
SERVING_STATE_KEY = driver.SERVING_STATE_KEY
MODEL_KEY = "model"


class LatestPushedModelSpec(types.ComponentSpec):
    PARAMETERS = {
        SERVING_MODEL_DIR_KEY: component_spec.ExecutionParameter(type=str),
        # Filled in at run time by the driver; part of the cache key.
        SERVING_STATE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {}
    OUTPUTS = {MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model)}


class LatestPushedModel(base_component.BaseComponent):
    """Outputs `model`: a copy of the newest pushed version, or an empty Model with has_model=0."""

    SPEC_CLASS = LatestPushedModelSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
    DRIVER_CLASS = driver.Driver

    def __init__(self, serving_model_dir: str):
        super().__init__(spec=LatestPushedModelSpec(
            serving_model_dir=serving_model_dir, model=types.Channel(type=standard_artifacts.Model)))
