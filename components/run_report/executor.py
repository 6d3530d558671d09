"""Renders components/run_report/report.py's page from the artifacts handed to this execution."""
import logging

from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import ids
from modules import filesystem, outputs


# Input key -> (component id, output key), the names components/run_report/report.py reads a run by.
INPUTS = {
    "examples": (ids.IMAGE_EXAMPLE_GEN, "examples"),
    "statistics": (ids.STATISTICS_GEN, "statistics"),
    "anomalies": (ids.EXAMPLE_VALIDATOR, "anomalies"),
    "model": (ids.TRAINER, "model"),
    "model_run": (ids.TRAINER, "model_run"),
    "evaluation": (ids.EVALUATOR, "evaluation"),
    "blessing": (ids.EVALUATOR, "blessing"),
    "pushed_model": (ids.PUSHER, "pushed_model"),
}


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        from components.run_report import report, run_summary
        recorded = {}
        for key, (component_id, output_key) in INPUTS.items():
            if input_dict.get(key):
                recorded.setdefault(component_id, {})[output_key] = [a.mlmd_artifact for a in input_dict[key]]
        # Kubeflow passes no pipeline run id to executors: the task's unique id (the name of its
        # output folder there) stands in for it. TFX 1.16's Context has no public accessor for it.
        run_id = self._context.pipeline_run_id or getattr(self._context, "_unique_id", None) or "unknown"
        run = run_summary.RunRecord(run_id=str(run_id), executions=[], component_of={}, outputs=recorded,
                                    eval_config_json=exec_properties["eval_config"])
        output_uri = artifact_utils.get_single_instance(output_dict["report"]).uri
        target = filesystem.join(output_uri, ids.REPORT_FILE)
        try:
            document = report.render(run, exec_properties["pipeline_name"])
        except Exception as error:  # the run's outcome stands without its report
            logging.error("run report failed (%s: %s); write it again with: image-pipeline report",
                          type(error).__name__, error)
            return
        outputs.write_text(target, document)  # Kubeflow's launcher does not create the folder: this does
        logging.info("report: %s", target)
