"""Plain constants: the pipeline's defaults. Nothing here reads the environment; the CLI does, once,
and its flags win (cli/arguments.py, ENVIRONMENT)."""
from importlib import resources
from pathlib import Path

from modules.settings import Gates, Recipe, Settings, Training

PIPELINE_NAME = "image-classification"

# The small sample of the real data, shipped inside the package (pipeline/sample/README.md), so that a
# bare `image-pipeline run` works from any folder of any install.
SAMPLE_DATA_ROOT = Path(str(resources.files("pipeline") / "sample"))
# A run on the bundled sample is a smoke run of the whole pipeline: 240 training images teach
# little (the notebook's CNN stays at chance after 12 epochs), so it trains briefly, with no
# accuracy or recall floor: it gates only on "no regression". Its own pipeline name keeps its
# metadata, baseline and pushed models apart from real runs. Flags given explicitly still win.
SAMPLE_SETTINGS = Settings(Training(recipe=Recipe(epochs=5)), Gates(accuracy_floor=0.0, class_recall_floor=0.0))
SAMPLE_PIPELINE_NAME = f"{PIPELINE_NAME}-sample"
# Everything a local run writes: ingested data, pipeline artifacts, ML Metadata, pushed models;
# relative to the working directory.
OUTPUT_ROOT = Path("outputs")
# The curated schema, package data of the `schema` package.
SCHEMA_DIR = Path(str(resources.files("schema")))

# Model code, referenced by module path so that the installed package is all a worker needs.
PREPROCESSING_FN = "modules.preprocessing.preprocessing_fn"
TRAINER_RUN_FN = "modules.trainer.run_fn"
TUNER_FN = "modules.tuner.tuner_fn"

# Beam options for ingestion and every Beam-based component (StatisticsGen, Transform, Evaluator...).
# Default: DirectRunner in memory, on one machine. BEAM_PIPELINE_ARGS (space-separated) or repeated
# --beam-arg flags replace it; docs/kubeflow.md lists the options for multi-process, Dataflow, Flink and Spark.
DEFAULT_BEAM_PIPELINE_ARGS = [
    "--direct_running_mode=in_memory",
    "--direct_num_workers=1",
]

