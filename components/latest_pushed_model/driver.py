"""Records the serving directory's state before the cache lookup (LocalDagRunner)."""
from tfx.dsl.components.base import base_driver
from tfx.orchestration import data_types_utils
from tfx.proto.orchestration import driver_output_pb2

from components.latest_pushed_model import versions

SERVING_STATE_KEY = "serving_state"


class Driver(base_driver.BaseDriver):
    """Adds `serving_state` (newest version and its SavedModel fingerprint) to the exec properties.

    Like TFX's FileBasedDriver: a component's DRIVER_CLASS must derive from the legacy BaseDriver,
    and the portable launcher of LocalDagRunner calls its `run`.
    """

    def run(self, execution_info) -> driver_output_pb2.DriverOutput:
        result = driver_output_pb2.DriverOutput()
        for key, value in execution_info.exec_properties.items():
            data_types_utils.set_metadata_value(result.exec_properties[key], value)
        state = versions.state(execution_info.exec_properties["serving_model_dir"])
        data_types_utils.set_metadata_value(result.exec_properties[SERVING_STATE_KEY], state)
        return result
