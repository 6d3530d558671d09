"""Podman on this machine, for the tests that build the Kubeflow image and run pipeline steps in it:
the settings of scripts/container/podman_env.sh, the stand-in base (scripts/container/base.sh), the
wheelhouse (kubeflow/wheelhouse.sh) and `podman build` / `podman run` with every wait bounded."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = "localhost/image-pipeline-base:py3.10"
WHEELHOUSE = REPO_ROOT / "kubeflow" / "wheelhouse"


def environment() -> dict:
    """This process's environment with podman's settings files (scripts/container/podman_env.sh)."""
    script = REPO_ROOT / "scripts" / "container" / "podman_env.sh"
    printed = subprocess.run(["bash", "-c", f'source "{script}" && echo "$CONTAINERS_CONF" && '
                                            'echo "$CONTAINERS_STORAGE_CONF"'],
                             capture_output=True, text=True, check=True).stdout.split()
    return dict(os.environ, CONTAINERS_CONF=printed[0], CONTAINERS_STORAGE_CONF=printed[1])


def podman(*args, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=environment(), check=check)


def script(path: str, *args, timeout: float = 900) -> str:
    """Runs one of the project's scripts; returns what it printed (stdout and stderr)."""
    result = subprocess.run(["bash", str(REPO_ROOT / path), *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, env=environment())
    assert result.returncode == 0, f"{path} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


@dataclasses.dataclass
class Build:
    returncode: int
    seconds: float
    log: str


def build(tag: str, context: Path = REPO_ROOT, base: str = BASE_IMAGE, timeout: float = 1500,
          cache: bool = True) -> Build:
    """`podman build` of kubeflow/Dockerfile with no network at all: the wheelhouse must be enough.
    Without `cache`, every step runs (podman's cache does not look into a mounted wheelhouse)."""
    started = time.monotonic()
    result = subprocess.run(["podman", "build", *([] if cache else ["--no-cache"]), "--network=none",
                             "--build-arg", f"BASE={base}", "-f",
                             str(context / "kubeflow" / "Dockerfile"), "-t", tag, str(context)],
                            capture_output=True, text=True, timeout=timeout, env=environment())
    return Build(result.returncode, time.monotonic() - started, result.stdout + result.stderr)


def image_size(tag: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())


def run(image: str, command: Sequence[str], log: Path, timeout: float, mounts: Sequence[tuple[str, bool]] = ()) -> int:
    """Runs `command` in a new container of `image`, with no network, each mount at the same path
    inside as outside ((path, writable) pairs); its output goes to `log`. Returns the exit code; a
    container still running after `timeout` seconds is killed (exit code 124)."""
    name = f"kfp-task-{uuid.uuid4().hex[:12]}"
    volumes = [f"--volume={path}:{path}:{'rw' if writable else 'ro'}" for path, writable in mounts]
    with open(log, "w") as out:
        process = subprocess.Popen(["podman", "run", "--rm", "--name", name, "--network=none", *volumes, image,
                                    *command], stdout=out, stderr=subprocess.STDOUT, env=environment())
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            podman("rm", "--force", "--time=0", name, check=False)
            process.kill()
            process.wait(timeout=60)
            out.write(f"\nkilled after {timeout:.0f} s\n")
            return 124
