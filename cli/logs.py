"""What a command prints while it works. By default: a line as each pipeline step ends, this
project's own lines (prefixed with their step), and errors; `--verbose` adds the libraries' logs.

The step lines come from what TFX does and records, not from the wording of its logs: the local
runner launches each node through TFX's Launcher, and the state that the launch left in ML Metadata
(COMPLETE, or CACHED when an earlier run's outputs were reused) is read back after it.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import time
import warnings
from importlib import util
from typing import Optional, Sequence

import modules

# The third-party packages whose own warnings the default output leaves out (a regular expression on
# the module a warning is raised in; pytest.ini names the same for the test suite).
LIBRARIES = (r"(tensorflow|tensorflow_\w+|tf_keras|keras|tfx|tfx_bsl|ml_metadata|apache_beam|google|absl|kfp"
             r"|pyarrow|numpy|pandas|matplotlib|jupyter_client|keras_tuner|httplib2|pkg_resources|setuptools)(\.|$)")


class _Running:
    """The pipeline step running now, as (its number, its node id), or None between steps."""
    step: Optional[tuple[int, str]] = None


class _FirstLineFormatter(logging.Formatter):
    """TFX logs whole protos; one line per record keeps the progress readable."""

    def format(self, record):
        text = super().format(record)
        if record.exc_info or "\n" not in text:
            return text
        return text.split("\n", 1)[0] + " [...]"


class _StepLines(logging.Filter):
    """The default output: step lines, this project's records (prefixed with the step running),
    and every error; other library records are dropped."""

    def filter(self, record) -> bool:
        if getattr(record, "step_line", False) or record.levelno >= logging.ERROR:
            return True
        if not _is_ours(record.pathname):
            return False
        if _Running.step:
            record.msg = "step %d: %s: " + record.getMessage().replace("%", "%%")
            record.args = _Running.step
        return True


@contextlib.contextmanager
def step_lines(metadata_path: str):
    """While the block runs a pipeline on the ML Metadata store at `metadata_path`, logs a line as
    each step ends: its number, its node id, COMPLETE or CACHED, and its seconds. A step that
    fails logs FAILED before its error."""
    from tfx.orchestration.portable import launcher
    from components.run_report import run_summary

    numbers, launch = itertools.count(1), launcher.Launcher.launch

    @functools.wraps(launch)
    def launch_with_a_line(self):
        _Running.step, started = (next(numbers), self._pipeline_node.node_info.id), time.monotonic()
        try:
            info = launch(self)
            state = run_summary.execution_state(metadata_path, info.execution_id) if info else "SKIPPED"
        except BaseException:
            _log_step(state="FAILED", seconds=time.monotonic() - started)
            raise
        finally:
            step, _Running.step = _Running.step, None
        _log_step(state, time.monotonic() - started, step)
        return info

    launcher.Launcher.launch = launch_with_a_line
    try:
        yield
    finally:
        launcher.Launcher.launch, _Running.step = launch, None


def _log_step(state: str, seconds: float, step: Optional[tuple[int, str]] = None) -> None:
    number, node = step or _Running.step
    logging.info("step %d: %s %s in %.1f s", number, node, state, seconds, extra={"step_line": True})


@functools.lru_cache(maxsize=None)
def _project_paths() -> tuple:
    """Where this project's modules are, however it is installed (editable, a wheel, the image): the
    folders of its distribution's top-level packages and the files of its top-level modules."""
    names = modules.distribution().read_text("top_level.txt").split()
    specs = [spec for spec in map(util.find_spec, names) if spec and spec.origin]
    return tuple(os.path.dirname(spec.origin) + os.sep if spec.submodule_search_locations is not None
                 else spec.origin for spec in specs)


def _is_ours(path: str) -> bool:
    return path.startswith(_project_paths())


def configure(verbose: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_FirstLineFormatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    if not verbose:
        handler.addFilter(_StepLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    if verbose:
        return
    # What libraries warn about themselves (their deprecations, the Python version), at import or deep
    # inside TFX, is not the user's business; a warning raised in this project's own code still shows.
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category, module=LIBRARIES)


def quiet_native_logs(argv: Sequence[str]) -> None:
    """TensorFlow's C++ logs (CUDA registration, oneDNN notices) read their level once, when
    TensorFlow loads, which parsing the flags may do: so the flag is looked for in argv itself."""
    if "--verbose" not in argv:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
