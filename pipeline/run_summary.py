"""What a pipeline run did, read back from ML Metadata: each component's state and wall time,
the Evaluator's verdict and where the Pusher put the model."""
from __future__ import annotations

import dataclasses
from typing import Optional

from ml_metadata import errors as mlmd_errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2


@dataclasses.dataclass
class ComponentRun:
    component_id: str
    state: str          # COMPLETE, CACHED, FAILED, ...
    seconds: float


@dataclasses.dataclass
class RunSummary:
    run_id: str
    components: list[ComponentRun]
    blessed: Optional[bool]
    pushed_destination: Optional[str]  # the pushed model's version directory
    failed_gates: list[str] = dataclasses.field(default_factory=list)  # why it was not blessed

    def format(self) -> str:
        lines = [f"run {self.run_id}:", f"  {'component':<34}{'state':<10}{'seconds':>8}"]
        lines += [f"  {c.component_id:<34}{c.state:<10}{c.seconds:>8.1f}" for c in self.components]
        verdict = {None: "no evaluation", True: "BLESSED", False: "NOT BLESSED"}[self.blessed]
        lines.append(f"  model: {verdict}; pushed to: {self.pushed_destination or 'nothing pushed'}")
        lines += [f"  failed gate: {gate}" for gate in self.failed_gates]
        return "\n".join(lines)


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(metadata_path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def latest_run(metadata_path: str, pipeline_name: str) -> RunSummary:
    """Summary of the newest run of `pipeline_name` recorded in the SQLite store."""
    store = open_store(metadata_path)
    pipeline_executions = {e.id for e in _executions_of(store, "pipeline", pipeline_name)}
    runs = [c for c in store.get_contexts_by_type("pipeline_run")
            if {e.id for e in store.get_executions_by_context(c.id)} & pipeline_executions]
    if not runs:
        raise LookupError(f"{metadata_path}: no run of pipeline '{pipeline_name}' recorded")
    run = max(runs, key=lambda c: c.create_time_since_epoch)
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: e.create_time_since_epoch)

    components = []
    for execution in executions:
        node = next(c.name for c in store.get_contexts_by_execution(execution.id) if c.type == "node")
        components.append(ComponentRun(
            component_id=node.split(".", 1)[-1],
            state=metadata_store_pb2.Execution.State.Name(execution.last_known_state),
            seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000))
    return RunSummary(
        run_id=run.name,
        components=components,
        blessed=_output_property(store, executions, "ModelBlessing", "blessed", lambda v: bool(v.int_value)),
        pushed_destination=_output_property(
            store, executions, "PushedModel", "pushed_destination", lambda v: v.string_value or None,
            only_if=lambda a: a.custom_properties["pushed"].int_value == 1),
        failed_gates=failed_gates(next((a.uri for a in _outputs_of_type(store, executions, "ModelEvaluation")), None)))


def failed_gates(evaluation_uri: Optional[str]) -> list[str]:
    """One line per quality gate the Evaluator's candidate failed, from TFMA's validation result."""
    if not evaluation_uri:
        return []
    import tensorflow_model_analysis as tfma  # pylint: disable=g-import-not-at-top
    from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
    try:
        validation = tfma.load_validation_result(evaluation_uri)
    except OSError:  # no validation result written (no thresholds configured)
        return []
    lines = []
    for per_slice in validation.metric_validations_per_slice:
        for failure in per_slice.failures:
            name = failure.metric_key.name + (" (change vs. baseline)" if failure.metric_key.is_diff else "")
            value = failure.metric_value.double_value.value
            threshold = text_format.MessageToString(failure.metric_threshold, as_one_line=True)
            lines.append(f"{name} = {value:.4f} fails {threshold}")
    return lines


def _executions_of(store, context_type: str, name: str):
    context = store.get_context_by_type_and_name(context_type, name)
    return store.get_executions_by_context(context.id) if context else []


def _outputs_of_type(store, executions, artifact_type: str) -> list:
    events = store.get_events_by_execution_ids([e.id for e in executions])
    output_ids = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
    try:
        type_id = store.get_artifact_type(artifact_type).id
    except mlmd_errors.NotFoundError:  # a run that died before any such artifact was registered
        return []
    return [a for a in store.get_artifacts_by_id(output_ids) if a.type_id == type_id]


def _output_property(store, executions, artifact_type: str, key: str, read, only_if=lambda a: True):
    """`key` of the (single) output artifact of `artifact_type` in these executions, or None."""
    for artifact in _outputs_of_type(store, executions, artifact_type):
        if key in artifact.custom_properties and only_if(artifact):
            return read(artifact.custom_properties[key])
    return None
