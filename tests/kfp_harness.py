"""Executes a compiled Kubeflow pipeline spec (2.1) here, task by task, as open-source KFP v2 would.

A test harness, not a product feature: no cluster, no Docker and no `kfp.local` pipeline runner can
run here (docs/kubeflow.md, "What was executed here"). What it follows, from kubeflow/pipelines' backend
(backend/src/v2/compiler/argocompiler, driver and component/launcher_v2.go):
- the job is refused whole if any executor is not a `container` or `importer` (the Argo compiler
  has no `resolver` and the Google-only `customJob`);
- tasks run in dependency order; each container task gets its ExecutorInput JSON substituted for
  `{{$}}`: input artifacts (name, type, uri, metadata) resolved from the producers' outputs,
  parameters as `parameterValues` only (the 2.1 `constant`s), output artifact URIs under the
  pipeline root, and the file to write its ExecutorOutput to;
- the container's `lifecycle.preCacheCheck` hook is not run (no open-source code reads it);
- a task whose `cachingOptions.enableCache` is true is not run again when its cache key is one seen
  before: the names of its input artifacts, its parameter values, its output types, its command
  and image (cacheutils.GenerateCacheKey). Its recorded outputs are reused instead;
- importer tasks register their artifact URI with its metadata, without running anything.

Each container task runs in a new container of the image the spec names (tests/containers.py: podman,
no network), with the pipeline root and the data root mounted at the same paths, as a cluster's
shared storage would give them; nothing else from this machine.
"""
from __future__ import annotations

import concurrent.futures
import copy
import dataclasses
import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Mapping, Optional, Sequence

from tests import containers

SUPPORTED_EXECUTORS = ("container", "importer")


class JobRefused(Exception):
    """What the open-source KFP backend would refuse at run creation."""


@dataclasses.dataclass
class TaskRun:
    name: str
    state: str        # COMPLETE, CACHED, IMPORTED
    seconds: float
    outputs: dict     # output key -> [RuntimeArtifact as a dict]


@dataclasses.dataclass
class Cluster:
    """What outlives one run: the cache (like KFP's cache database) and the artifact counter."""
    cache: dict = dataclasses.field(default_factory=dict)
    next_artifact: int = 1
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def artifact_name(self) -> str:
        name = f"artifacts/{self.next_artifact}"  # unique, as ML Metadata's ids are
        self.next_artifact += 1
        return name


def check_accepted(pipeline_job: dict) -> None:
    """Raises JobRefused for any executor the open-source backend does not implement."""
    for label, executor in pipeline_job["pipelineSpec"]["deploymentSpec"]["executors"].items():
        kinds = set(executor) - set(SUPPORTED_EXECUTORS)
        if kinds:
            raise JobRefused(f"executor {label}: {', '.join(sorted(kinds))} executors not implemented")


def task_order(tasks: Mapping[str, dict]) -> list[str]:
    order, done = [], set()
    while len(order) < len(tasks):
        ready = sorted(name for name, task in tasks.items()
                       if name not in done and set(task.get("dependentTasks", [])) <= done)
        if not ready:
            raise JobRefused(f"dependency cycle among {sorted(set(tasks) - done)}")
        order += ready
        done |= set(ready)
    return order


class TaskFailed(RuntimeError):
    """A task's container exited non-zero: the run stops there, as Argo stops the workflow."""


def run_pipeline(pipeline_job: dict, cluster: Cluster, run_id: str, mounts: Sequence[tuple[str, bool]],
                 log_dir: Path, timeout: float = 900, parallel: int = 3) -> dict[str, TaskRun]:
    """Runs every task of the job; returns each task's TaskRun. Raises TaskFailed, naming the task and
    with its log's last lines, if a task fails; the tasks after it do not run.

    Like Argo, a task starts as soon as the tasks it depends on have succeeded (up to `parallel` at once).
    """
    check_accepted(pipeline_job)
    tasks = pipeline_job["pipelineSpec"]["root"]["dag"]["tasks"]
    task_order(tasks)  # refuses a cycle before anything runs
    runs: dict[str, TaskRun] = {}
    running: dict = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        while len(runs) < len(tasks):
            for name in sorted(tasks):
                if name not in runs and name not in running and set(tasks[name].get("dependentTasks", [])) <= set(runs):
                    running[name] = pool.submit(_run_task, pipeline_job, name, runs, cluster, run_id, mounts,
                                                log_dir, timeout)
            done, _ = concurrent.futures.wait(running.values(), return_when=concurrent.futures.FIRST_COMPLETED)
            for name in [n for n, future in running.items() if future in done]:
                runs[name] = running.pop(name).result()  # re-raises a failed task's error
    return {name: runs[name] for name in task_order(tasks)}


def _run_task(pipeline_job: dict, name: str, runs: Mapping[str, TaskRun], cluster: Cluster, run_id: str,
              mounts: Sequence[tuple[str, bool]], log_dir: Path, timeout: float) -> TaskRun:
    spec = pipeline_job["pipelineSpec"]
    root = pipeline_job["runtimeConfig"]["gcsOutputDirectory"].rstrip("/")
    task = spec["root"]["dag"]["tasks"][name]
    component = spec["components"][task["componentRef"]["name"]]
    executor = spec["deploymentSpec"]["executors"][component["executorLabel"]]
    parameters = {key: value["runtimeValue"]["constant"]
                  for key, value in task.get("inputs", {}).get("parameters", {}).items()}
    inputs = {key: runs[value["taskOutputArtifact"]["producerTask"]].outputs[
                  value["taskOutputArtifact"]["outputArtifactKey"]]
              for key, value in task.get("inputs", {}).get("artifacts", {}).items()}
    started = time.time()
    if "importer" in executor:
        with cluster.lock:
            return TaskRun(name, "IMPORTED", 0.0, _import(executor["importer"], parameters, cluster))
    container = executor["container"]
    output_types = {key: value["artifactType"]
                    for key, value in component.get("outputDefinitions", {}).get("artifacts", {}).items()}
    key = _cache_key(inputs, parameters, output_types, container)
    caching = task.get("cachingOptions", {}).get("enableCache", False)
    if caching and key in cluster.cache:
        return TaskRun(name, "CACHED", 0.0, copy.deepcopy(cluster.cache[key]))
    task_root = f"{root}/{run_id}/{name}"
    with cluster.lock:
        planned = {k: {"artifacts": [{"name": cluster.artifact_name(), "type": t, "uri": f"{task_root}/{k}",
                                      "metadata": {}}]} for k, t in output_types.items()}
    executor_input = {
        "inputs": {"artifacts": {k: {"artifacts": v} for k, v in inputs.items()}, "parameterValues": parameters},
        "outputs": {"artifacts": planned, "outputFile": f"{task_root}/executor_output.json"},
    }
    args = [json.dumps(executor_input) if part == "{{$}}" else part for part in container["args"]]
    log = log_dir / f"{run_id}-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    code = containers.run(container["image"], container["command"] + args, log, timeout, mounts)
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise TaskFailed(f"task {name} failed with exit code {code}; log: {log}; last lines:\n{tail}")
    outcome = TaskRun(name, "COMPLETE", time.time() - started,
                      _published_outputs(executor_input, Path(executor_input["outputs"]["outputFile"])))
    if caching:
        with cluster.lock:
            cluster.cache[key] = copy.deepcopy(outcome.outputs)
    return outcome


def _published_outputs(executor_input: dict, output_file: Path) -> dict:
    """The launcher's record of the task's outputs: its URIs, with the metadata the executor wrote."""
    written = json.loads(output_file.read_text()).get("artifacts", {}) if output_file.is_file() else {}
    outputs = {}
    for key, planned in executor_input["outputs"]["artifacts"].items():
        artifacts = copy.deepcopy(planned["artifacts"])
        for artifact, reported in zip(artifacts, written.get(key, {}).get("artifacts", [])):
            artifact["metadata"] = reported.get("metadata", {})
        outputs[key] = artifacts
    return outputs


def _import(importer: dict, parameters: dict, cluster: Cluster) -> dict:
    uri = importer["artifactUri"].get("constant") or parameters.get("artifact_uri")
    return {"artifact": [{"name": cluster.artifact_name(), "type": importer["typeSchema"], "uri": uri,
                          "metadata": importer.get("metadata", {})}]}


def _cache_key(inputs: dict, parameters: dict, output_types: dict, container: dict) -> str:
    key = {"inputArtifactNames": {k: [a["name"] for a in v] for k, v in sorted(inputs.items())},
           "inputParameterValues": parameters, "outputArtifactsSpec": output_types,
           "container": {"image": container["image"], "cmdArgs": container["command"] + container["args"]}}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def artifact(runs: Mapping[str, TaskRun], task: str, key: str) -> Optional[dict]:
    found = runs[task].outputs.get(key)
    return found[0] if found else None
