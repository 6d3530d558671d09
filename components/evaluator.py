"""TFX's Evaluator, taking its baseline from LatestPushedModel (components/latest_pushed_model).

That component always outputs a Model artifact, so that every orchestrator can pass it on; before
anything is pushed it is empty (has_model=0). The executor drops such a baseline, and TFMA then
evaluates the candidate alone, skipping the change thresholds, as on a first run with TFX's
Resolver. It also drops a baseline that classifies other classes (a model of other data pushed to
the same place): comparing accuracies of two different tasks means nothing. The evaluation artifact
then says why (ids.BASELINE_REFUSED), for the report's gate table.
"""
import logging

from tfx import v1 as tfx
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import path_utils

from components import ids
from components.latest_pushed_model import versions
from components.latest_pushed_model.executor import PUSHED_DESTINATION, has_model

BASELINE_KEY = standard_component_specs.BASELINE_MODEL_KEY


class Executor(evaluator_executor.Executor):

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        candidate = path_utils.serving_model_dir(artifact_utils.get_single_uri(input_dict["model"]))
        baselines, refused = [], None
        for model in input_dict.get(BASELINE_KEY, []):
            pushed = model.get_string_custom_property(PUSHED_DESTINATION)
            differs = has_model(model) and versions.other_classes(candidate, path_utils.serving_model_dir(model.uri),
                                                                  pushed)
            if differs:
                refused = f"the serving model {differs}"
                logging.warning("evaluator: %s: not a baseline for this model; the no-regression gate is skipped",
                                refused)
            elif has_model(model):
                baselines.append(model)
        super().Do({**input_dict, BASELINE_KEY: baselines}, output_dict, exec_properties)
        if refused:
            artifact_utils.get_single_instance(output_dict["evaluation"]).set_string_custom_property(
                ids.BASELINE_REFUSED, refused)


class Evaluator(tfx.components.Evaluator):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
