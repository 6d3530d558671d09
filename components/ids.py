"""The pipeline's component ids: the names its artifacts are found by in ML Metadata (summaries,
reports, tests) and its task names in a compiled Kubeflow spec. pipeline/pipeline.py gives each
node its id with `.with_id`, so none depends on TFX naming a node after its class."""

IMAGE_EXAMPLE_GEN = "ImageExampleGen"
SCHEMA_GEN = "ImportSchemaGen"
STATISTICS_GEN = "StatisticsGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
TRANSFORM = "Transform"
TUNER = "Tuner"
TRAINER = "Trainer"
BASELINE = "LatestPushedModel"
EVALUATOR = "Evaluator"
PUSHER = "Pusher"
RUN_REPORT = "RunReport"

# The page inside RunReport's artifact.
REPORT_FILE = "report.html"

# Custom properties that say why a step set something aside, read by the summary and the report:
# on the Evaluator's evaluation, why the serving model was no baseline (components/evaluator.py);
# on the Pusher's pushed_model, why a blessed model was not pushed (components/atomic_pusher.py).
BASELINE_REFUSED = "baseline_refused"
PUSH_REFUSED = "push_refused"
