"""A Pusher whose serving directory only ever holds complete, blessed model versions.

TFX's Pusher copies the model file by file into `<serving dir>/<version>/`. A run killed
mid-copy leaves a partial version there, which TF Serving then tries to load (it watches
the directory for new numeric subfolders). This Pusher copies into a staging directory
beside the serving directory, `.<serving dir name>.staging/`, and renames the finished copy
into place: on a local or POSIX filesystem the rename is atomic, so a version directory
either does not exist or is complete. Pushes into one serving directory take turns under a lock
(`.<serving dir name>.lock` beside it), so leftovers found in staging are a killed push's, and the
next push removes them.

It also does not publish a second copy of the model that is already the newest version
(same SavedModel fingerprint): re-running a pipeline on unchanged data re-blesses the same
model, and TF Serving would otherwise reload it as a "new" version.

Object stores (gs://, s3://) have no atomic directory rename; there it behaves as TFX's Pusher,
which copies saved_model.pb last so that a reader sees the version only once it is complete.
"""
from __future__ import annotations

import contextlib
import functools
import fcntl
import logging
import os
import shutil
import time
from pathlib import Path

from tfx import v1 as tfx
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, json_utils, proto_utils

from components import crash_points, ids
from components.latest_pushed_model import versions as serving_versions
from modules import filesystem



# How long a push waits for another push into the same serving directory to finish.
LOCK_WAIT_SECONDS = 900
# custom_config key: push over a model of other classes (modules/settings.py, Gates.replace_class_list).
REPLACE_CLASS_LIST = "replace_class_list"


class ClassListChanged(Exception):
    """The serving directory's newest version classifies other classes than the model to push."""


def staging_root(serving_dir: Path) -> Path:
    return serving_dir.parent / f".{serving_dir.name}.staging"


def lock_file(serving_dir: Path) -> Path:
    return serving_dir.parent / f".{serving_dir.name}.lock"


def same_model(a: Path, b: Path) -> bool:
    fingerprints = [p / serving_versions.FINGERPRINT for p in (a, b)]
    return all(f.is_file() for f in fingerprints) and fingerprints[0].read_bytes() == fingerprints[1].read_bytes()


@contextlib.contextmanager
def exclusive(serving_dir: Path):
    """One push at a time into `serving_dir`, across processes (an flock, which the kernel releases when
    its holder dies): so whatever is in staging while we hold it was left by a push that is gone."""
    path = lock_file(serving_dir)
    with open(path, "a", encoding="utf-8") as handle:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path}: another push into {serving_dir} has held it for over "
                                       f"{LOCK_WAIT_SECONDS} s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish(model_dir: str | os.PathLike, serving_dir: str | os.PathLike, replace_class_list: bool = False) -> Path:
    """Publishes model_dir as a new version of serving_dir (atomically) and returns its directory.

    Returns the newest existing version instead when it is the same model. Raises ClassListChanged
    when the newest version classifies other classes, unless `replace_class_list`. Concurrent pushes
    into one serving directory take turns (`exclusive`): each gets its own version, and the second
    of two identical models finds the first already published.
    """
    model_dir, serving_dir = Path(model_dir), Path(serving_dir)
    serving_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(serving_dir):
        staging = staging_root(serving_dir)
        if staging.exists():
            logging.info("pusher: removing %s, left by a push that did not finish", staging)
            shutil.rmtree(staging)

        versions = serving_versions.local_dirs(serving_dir)
        differs = serving_versions.other_classes(str(model_dir), str(versions[-1])) if versions else None
        if differs and not replace_class_list:
            raise ClassListChanged(f"not pushed: {differs}; give this data its own --pipeline-name (or "
                                   "--serving-dir), or push with --replace-class-list to replace it")
        if versions and same_model(model_dir, versions[-1]):
            logging.info("pusher: this model is already the newest version, %s; not copying it again", versions[-1])
            return versions[-1]

        # Unix seconds, as TFX and TF Serving expect, kept above the newest version so that it sorts last.
        version = str(max(int(time.time()), int(versions[-1].name) + 1 if versions else 0))
        staged = staging / version
        shutil.copytree(model_dir, staged)
        destination = serving_dir / version
        filesystem.publish(staged, destination, before=functools.partial(crash_points.reached, "pusher-before-publish"))
        staging.rmdir()
    logging.info("pusher: published %s", destination)
    return destination


class Executor(pusher_executor.Executor):
    """TFX's Pusher executor, publishing through `publish` on local filesystems."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        serving_dir = destination.filesystem.base_directory
        if not filesystem.is_local(serving_dir):
            super().Do(input_dict, output_dict, exec_properties)
            return

        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        custom_config = json_utils.loads(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "null")
        try:
            published = publish(model_path, serving_dir, bool((custom_config or {}).get(REPLACE_CLASS_LIST)))
        except ClassListChanged as refused:
            logging.error("pusher: %s", refused)
            self._MarkNotPushed(model_push)
            model_push.set_string_custom_property(ids.PUSH_REFUSED, str(refused))
            return
        io_utils.copy_dir(model_path, model_push.uri)  # the archive copy that TFX's Pusher keeps too
        self._MarkPushed(model_push, pushed_destination=str(published), pushed_version=published.name)


class AtomicPusher(tfx.components.Pusher):
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
