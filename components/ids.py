"""The pipeline's component ids: the names its artifacts are found by in ML Metadata (summaries,
reports, tests) and its task names in a compiled Kubeflow spec. pipeline/pipeline.py gives them."""

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
