"""Named points where a run can be made to die by SIGKILL, to prove that a crash loses nothing.

Set IMAGE_PIPELINE_KILL_AT=<point> (one of POINTS) and the process kills itself, with no
cleanup and no exception handler running, when it reaches that point. Without the variable
this is a no-op. The crash-safety tests use it where the window is too short to hit from
outside: between writing a result and publishing it.
"""
import logging
import os
import signal

ENVIRONMENT_VARIABLE = "IMAGE_PIPELINE_KILL_AT"
POINTS = {
    "ingestion-before-publish": "the dataset is fully written to its temporary directory, not yet renamed",
    "pusher-before-publish": "the model is fully copied to the staging directory, not yet renamed",
}


def reached(point: str) -> None:
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}")
    if os.environ.get(ENVIRONMENT_VARIABLE) == point:
        logging.warning("crash point %s reached (%s): killing this process", point, POINTS[point])
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
