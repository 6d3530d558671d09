"""Custom TFX components: ImageExampleGen, LatestPushedModel, the Evaluator and Pusher executors, RunReport."""
from tfx import types


class RunReport(types.Artifact):
    """A directory holding one self-contained HTML page, report.html (components/run_report).

    Defined here because a custom artifact type's name must be `<module>.<Class>` with a single dot
    for Kubeflow: the compiled spec titles its schema so, and the container entrypoint imports it.
    """
    TYPE_NAME = "components.RunReport"
