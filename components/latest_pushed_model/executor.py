"""Copies the newest pushed version into the output Model artifact, as a Trainer lays one out."""
import logging
import posixpath

from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components.latest_pushed_model import versions

HAS_MODEL = "has_model"           # 1: a pushed version was found and copied; 0: none yet
PUSHED_VERSION = "pushed_version"  # its directory name
PUSHED_DESTINATION = "pushed_destination"


def has_model(model_artifact) -> bool:
    # Under Kubeflow the property arrives as a JSON number (1.0; for 0.0 TFX's getter returns None).
    return bool(model_artifact.get_custom_property(HAS_MODEL))


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        model = artifact_utils.get_single_instance(output_dict["model"])
        version = versions.newest(exec_properties["serving_model_dir"])
        model.set_int_custom_property(HAS_MODEL, int(version is not None))
        if version is None:
            logging.info("baseline: nothing pushed to %s yet: no baseline", exec_properties["serving_model_dir"])
            return
        # The Evaluator reads <model uri>/Format-Serving, where the Trainer exports.
        io_utils.copy_dir(version, path_utils.serving_model_dir(model.uri))
        model.set_string_custom_property(PUSHED_VERSION, posixpath.basename(version))
        model.set_string_custom_property(PUSHED_DESTINATION, version)
        logging.info("baseline: %s, the newest pushed version", version)
