"""TFX's Evaluator, taking its baseline from LatestPushedModel (components/latest_pushed_model).

That component always outputs a Model artifact, so that every orchestrator can pass it on; before
anything is pushed it is empty (has_model=0). The executor drops such a baseline, and TFMA then
evaluates the candidate alone, skipping the change thresholds, as on a first run with TFX's
Resolver.
"""
from tfx import v1 as tfx
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs

from components.latest_pushed_model.executor import has_model

BASELINE_KEY = standard_component_specs.BASELINE_MODEL_KEY


class Executor(evaluator_executor.Executor):

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        baselines = [model for model in input_dict.get(BASELINE_KEY, []) if has_model(model)]
        super().Do({**input_dict, BASELINE_KEY: baselines}, output_dict, exec_properties)


class Evaluator(tfx.components.Evaluator):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
