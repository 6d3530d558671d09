"""Plain constants: the pipeline's defaults. Nothing here reads the environment; the CLI does, once,
and its flags win (cli/main.py, ENVIRONMENT)."""
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parents[1]

PIPELINE_NAME = "image-classification"

# The small sample of the real data bundled in the repository (data/sample/README.md).
SAMPLE_DATA_ROOT = REPO_ROOT / "data" / "sample"
# A run on the bundled sample is a smoke run of the whole pipeline: 240 training images teach
# little (the notebook's CNN stays at chance, ~0.15 eval accuracy after 12 epochs), so it trains
# briefly, with no accuracy or recall floor: it gates only on "no regression". Its own
# pipeline name keeps its metadata, baseline and pushed models apart from real runs. Flags given
# explicitly still win.
SAMPLE_RUN_OVERRIDES = {"epochs": 5, "accuracy_floor": 0.0, "class_recall_floor": 0.0,
                        "pipeline_name": f"{PIPELINE_NAME}-sample"}
# Everything a local run writes: ingested data, pipeline artifacts, ML Metadata, pushed models.
OUTPUT_ROOT = REPO_ROOT / "outputs"
SCHEMA_DIR = REPO_ROOT / "schema"

# Model code, referenced by module path so that the installed package is all a worker needs.
PREPROCESSING_FN = "modules.preprocessing.preprocessing_fn"
TRAINER_RUN_FN = "modules.trainer.run_fn"
TUNER_FN = "modules.tuner.tuner_fn"

# Training: the registry's default model (modules/model.py) with its own recipe (epochs,
# learning rate, augmentation, class weights) unless these say otherwise.
MODEL_NAME = "efficientnet_lite1"
# Limits of what a run may ask for (more epochs than this is weeks on a laptop; Adam above this
# rate blows the weights up at once).
MAX_EPOCHS = 1000
MAX_LEARNING_RATE = 1.0
EPOCHS = None  # the model's own
# The optional Tuner (`--tune`): hyperparameter sets tried, each trained for a third of the
# model's epochs (modules/tuner.py).
TUNING_TRIALS = 6
BATCH_SIZE = 32
# Keras mixed-precision policy of the training step. "mixed_bfloat16" (float32 weights, bfloat16
# math) nearly halves an epoch on CPUs with AVX512-BF16 or AMX (bench/training_speed.py) but is
# emulated, and slower, elsewhere. The exported model always computes in float32.
PRECISIONS = ("float32", "mixed_bfloat16")
PRECISION = "float32"
SEED = 111

# Quality gates of the Evaluator: the candidate is blessed only if its overall accuracy
# on the eval split reaches the floor and does not fall more than the tolerance below the
# latest blessed model's.
# The notebook's arch_2 reaches ~0.77; a floor of 0.6 stops a broken model, not a slightly worse one.
ACCURACY_FLOOR = 0.6
REGRESSION_TOLERANCE = 0.02
# ...and every class's recall (of the arg-max prediction) must reach this floor, so that a model
# cannot buy overall accuracy by giving up a class. The weakest class on validation
# (bench/accuracy.py): efficientnet_lite0 0.81, efficientnet_lite1 0.78, arch_2 0.69, scratch_cnn 0.57,
# arch_1 0.42.
CLASS_RECALL_FLOOR = 0.4

# Beam options for ingestion and every Beam-based component (StatisticsGen, Transform, Evaluator...).
# Default: DirectRunner in memory, on one machine. BEAM_PIPELINE_ARGS (space-separated) or repeated
# --beam-arg flags replace it; docs/kubeflow.md lists the options for multi-process, Dataflow, Flink and Spark.
DEFAULT_BEAM_PIPELINE_ARGS = [
    "--direct_running_mode=in_memory",
    "--direct_num_workers=1",
]

