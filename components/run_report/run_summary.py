"""What a pipeline run did, read back from ML Metadata: each component's state and wall time,
the Evaluator's verdict and where the Pusher put the model."""
from __future__ import annotations

import dataclasses
import os
from typing import Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components import ids
from components.run_report import gates
from components.image_example_gen import duplicates



@dataclasses.dataclass
class ComponentRun:
    component_id: str
    state: str          # COMPLETE, CACHED, FAILED, ...
    seconds: float
    started: float = 0.0  # seconds since the epoch


# The failed gates a summary prints (a run with many classes can fail hundreds; the report has them all).
FAILED_GATES_SHOWN = 10


@dataclasses.dataclass
class RunSummary:
    run_id: str
    components: list[ComponentRun]
    blessed: Optional[bool]
    pushed_destination: Optional[str]  # the pushed model's version directory
    failed_gates: list[str] = dataclasses.field(default_factory=list)  # why it was not blessed
    report: Optional[str] = None  # the run's HTML report (components/run_report/report.py)
    # What ingestion found, when it found any (components/image_example_gen/duplicates.py).
    duplicates: Optional[str] = None
    push_refused: Optional[str] = None  # why a blessed model was not pushed (components/atomic_pusher.py)

    @property
    def failed_steps(self) -> list[str]:
        return [c.component_id for c in self.components if c.state == "FAILED"]

    def format(self, steps: bool = False) -> str:
        """The run's outcome in a few lines; with `steps`, a line per component (state, seconds) too."""
        cached = sum(c.state == "CACHED" for c in self.components)
        lines = [f"run {self.run_id}: {len(self.components)} steps, {cached} of them cached, "
                 f"{sum(c.seconds for c in self.components):.0f} s"]
        if steps:
            lines.append(f"  {'component':<34}{'state':<10}{'seconds':>8}")
            lines += [f"  {c.component_id:<34}{c.state:<10}{c.seconds:>8.1f}" for c in self.components]
        verdict = {None: "no evaluation", True: "BLESSED", False: "NOT BLESSED"}[self.blessed]
        if self.failed_steps:
            verdict += f" ({', '.join(self.failed_steps)} failed)"
        lines.append(f"  model: {verdict}; pushed to: {self.pushed_destination or 'nothing pushed'}")
        if self.push_refused:
            lines.append(f"  push: {self.push_refused}")
        lines += [f"  failed gate: {gate}" for gate in self.failed_gates[:FAILED_GATES_SHOWN]]
        if len(self.failed_gates) > FAILED_GATES_SHOWN:
            lines.append(f"  ... and {len(self.failed_gates) - FAILED_GATES_SHOWN} more failed gates (the report lists "
                         "every one)")
        if self.duplicates:
            lines.append(f"  data: {self.duplicates}")
        if self.report:
            lines.append(f"  report: {self.report}")
        return "\n".join(lines)


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(metadata_path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def execution_state(metadata_path: str, execution_id: int) -> str:
    """The recorded state of one execution: COMPLETE, CACHED, FAILED, ..."""
    execution, = open_store(metadata_path).get_executions_by_id([execution_id])
    return _state_name(execution)


def _state_name(execution) -> str:
    return metadata_store_pb2.Execution.State.Name(execution.last_known_state)


@dataclasses.dataclass
class RunRecord:
    """One pipeline run in ML Metadata: its executions and every artifact they wrote."""
    run_id: str
    executions: list  # metadata_store_pb2.Execution, oldest first
    component_of: dict  # execution id -> component id
    outputs: dict  # component id -> {output key: [metadata_store_pb2.Artifact]}
    # The Evaluator's EvalConfig as JSON, where no execution records it (components/run_report).
    eval_config_json: Optional[str] = None

    def output(self, component_id: str, key: str):
        """The first artifact a component wrote under `key` in this run, or None."""
        found = self.outputs.get(component_id, {}).get(key)
        return found[0] if found else None

    def execution(self, component_id: str):
        return next((e for e in self.executions if self.component_of[e.id] == component_id), None)

    def eval_config(self) -> Optional[str]:
        """The EvalConfig JSON the run's Evaluator ran with."""
        if self.eval_config_json:
            return self.eval_config_json
        evaluator = self.execution(ids.EVALUATOR)
        return evaluator.custom_properties["eval_config"].string_value if evaluator else None


def pipeline_names(metadata_path: str) -> list[str]:
    return sorted(c.name for c in open_store(metadata_path).get_contexts_by_type("pipeline"))


def find_run(metadata_path: str, pipeline_name: str, run_id: Optional[str] = None) -> RunRecord:
    """The run `run_id` of `pipeline_name` (default: its newest run) recorded in the SQLite store."""
    store = open_store(metadata_path)
    runs = _runs_of(store, pipeline_name)
    if run_id is not None:
        runs = [c for c in runs if c.name == run_id]
    if not runs:
        which = f"run '{run_id}'" if run_id else "run"
        raise LookupError(f"{metadata_path}: no {which} of pipeline '{pipeline_name}' recorded")
    return _record(store, runs[0])


def evaluated_runs(metadata_path: str, pipeline_name: str) -> list[RunRecord]:
    """The runs of `pipeline_name` whose Evaluator wrote an evaluation, newest first (a run can stop
    before it)."""
    return list(_evaluated(open_store(metadata_path), pipeline_name))


def newest_evaluated_run(metadata_path: str, pipeline_name: str) -> RunRecord:
    """The newest run of `pipeline_name` that has an evaluation; LookupError, saying so, if none has."""
    run = next(_evaluated(open_store(metadata_path), pipeline_name), None)
    if run is None:
        raise LookupError(f"{metadata_path}: no run of pipeline '{pipeline_name}' has an evaluation (none reached "
                          "the Evaluator, or it failed)")
    return run


def _evaluated(store, pipeline_name: str):
    """The pipeline's evaluated runs, newest first, each read from the store only when asked for."""
    for context in _runs_of(store, pipeline_name):
        run = _record(store, context)
        if run.output(ids.EVALUATOR, "evaluation") is not None:
            yield run


def _runs_of(store, pipeline_name: str) -> list:
    """The pipeline's run contexts, newest first."""
    pipeline_executions = {e.id for e in _executions_of(store, "pipeline", pipeline_name)}
    runs = [c for c in store.get_contexts_by_type("pipeline_run")
            if {e.id for e in store.get_executions_by_context(c.id)} & pipeline_executions]
    return sorted(runs, key=lambda c: c.create_time_since_epoch, reverse=True)


def _record(store, run) -> RunRecord:
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: e.create_time_since_epoch)
    component_of = {}
    for execution in executions:
        node = next(c.name for c in store.get_contexts_by_execution(execution.id) if c.type == "node")
        component_of[execution.id] = node.split(".", 1)[-1]
    events = store.get_events_by_execution_ids(list(component_of))
    artifacts = {a.id: a for a in store.get_artifacts_by_id(list({e.artifact_id for e in events}))}
    outputs = {}
    for event in events:
        if event.type == metadata_store_pb2.Event.OUTPUT and event.path.steps:
            keyed = outputs.setdefault(component_of[event.execution_id], {})
            keyed.setdefault(event.path.steps[0].key, []).append(artifacts[event.artifact_id])
    return RunRecord(run.name, executions, component_of, outputs)


def latest_run(metadata_path: str, pipeline_name: str) -> RunSummary:
    """Summary of the newest run of `pipeline_name` recorded in the SQLite store."""
    return summarize(find_run(metadata_path, pipeline_name))


def summarize(run: RunRecord) -> RunSummary:
    components = [ComponentRun(
        component_id=run.component_of[e.id],
        state=_state_name(e),
        seconds=(e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000,
        started=e.create_time_since_epoch / 1000) for e in run.executions]
    blessing = run.output(ids.EVALUATOR, "blessing")
    pushed = run.output(ids.PUSHER, "pushed_model")
    evaluation = run.output(ids.EVALUATOR, "evaluation")
    report = run.output(ids.RUN_REPORT, "report")
    report_file = f"{report.uri}/{ids.REPORT_FILE}" if report else None
    return RunSummary(
        run_id=run.run_id,
        components=components,
        blessed=bool(flag(blessing, "blessed")) if blessing else None,
        pushed_destination=(property_value(pushed, "pushed_destination") or None
                            if pushed and flag(pushed, "pushed") else None),
        failed_gates=failed_gates(evaluation.uri if evaluation else None),
        report=report_file if report_file and os.path.isfile(report_file) else None,
        duplicates=_duplicates(run.output(ids.IMAGE_EXAMPLE_GEN, "examples")),
        push_refused=(property_value(pushed, ids.PUSH_REFUSED) or None) if pushed else None)


def _duplicates(examples) -> Optional[str]:
    if examples is None:
        return None
    exact, near = (property_value(examples, key) or 0 for key in ("exact_duplicates", "near_duplicates"))
    if not exact and not near:
        return None
    return f"{duplicates.describe(exact, near)} among the images (the report lists them)"


def property_value(artifact, name: str):
    """A custom property of an ML Metadata artifact as a Python value (None if absent).

    Under Kubeflow every property arrives as JSON, which TFX stores as a struct {"__value__": v}.
    """
    from google.protobuf import json_format
    if name not in artifact.custom_properties:
        return None
    value = artifact.custom_properties[name]
    kind = value.WhichOneof("value")
    if kind == "struct_value":
        return json_format.MessageToDict(value.struct_value).get("__value__")
    return getattr(value, kind) if kind else None


def flag(artifact, name: str) -> bool:
    """A 0/1 custom property (an int locally, a JSON number under Kubeflow)."""
    return property_value(artifact, name) == 1


def class_names(run: RunRecord) -> list[str]:
    """The run's class list in label order, from the ingested dataset's manifest ([] if none)."""
    from components.image_example_gen import manifest
    examples = run.output(ids.IMAGE_EXAMPLE_GEN, "examples")
    return manifest.read(examples.uri)["class_names"] if examples else []


def failed_gates(evaluation_uri: Optional[str]) -> list[str]:
    """One line per quality gate the Evaluator's candidate failed, from TFMA's validation result."""
    return [failure.line() for failure in gates.failures(gates.validation(evaluation_uri))]


def _executions_of(store, context_type: str, name: str):
    context = store.get_context_by_type_and_name(context_type, name)
    return store.get_executions_by_context(context.id) if context else []
