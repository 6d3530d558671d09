"""RunReport: writes the run's HTML report from the run's own artifacts, with no ML Metadata store.

So a Kubeflow run has its report under the pipeline root too. It runs last, after the Pusher, and
reads each upstream artifact it is given; `image-pipeline report` renders the same page again for
any past run from ML Metadata (adding the steps' states and wall times, which only the store has).
"""
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import component_spec, standard_artifacts

from components import RunReport as RunReportArtifact
from components.run_report import executor

class RunReportSpec(types.ComponentSpec):
    PARAMETERS = {
        "pipeline_name": component_spec.ExecutionParameter(type=str),
        "eval_config": component_spec.ExecutionParameter(type=str),  # the Evaluator's, as JSON
    }
    INPUTS = {
        "examples": component_spec.ChannelParameter(type=standard_artifacts.Examples),
        "statistics": component_spec.ChannelParameter(type=standard_artifacts.ExampleStatistics),
        "anomalies": component_spec.ChannelParameter(type=standard_artifacts.ExampleAnomalies),
        "model": component_spec.ChannelParameter(type=standard_artifacts.Model),
        "model_run": component_spec.ChannelParameter(type=standard_artifacts.ModelRun),
        "evaluation": component_spec.ChannelParameter(type=standard_artifacts.ModelEvaluation),
        "blessing": component_spec.ChannelParameter(type=standard_artifacts.ModelBlessing),
        "pushed_model": component_spec.ChannelParameter(type=standard_artifacts.PushedModel),
    }
    OUTPUTS = {"report": component_spec.ChannelParameter(type=RunReportArtifact)}


class RunReport(base_component.BaseComponent):
    SPEC_CLASS = RunReportSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, *, pipeline_name: str, eval_config_json: str, **channels):
        super().__init__(spec=RunReportSpec(pipeline_name=pipeline_name, eval_config=eval_config_json,
                                            report=types.Channel(type=RunReportArtifact), **channels))
