"""One worker of a multi-worker training: the real modules.trainer.run_fn, as a TFX Trainer's
executor calls it on each machine of a cluster, with the cluster and this worker's place in it
in TF_CONFIG (tests/test_distributed_training.py starts two of these on 127.0.0.1).

    python -m tests.distributed_worker JOB_JSON

JOB_JSON: {"train": pattern, "eval": pattern, "examples": dir, "transform": dir, "serving_model_dir": dir,
"model_run_dir": dir, "custom_config": {...}}. An error ends it with one line and exit code 1.
"""
import json
import logging
import sys

from modules import registry

SMALL_MODEL = "arch_1_small"


def register_small_model(image_size: int) -> None:
    """The notebook's arch_1 at the test images' size (fast to train, with its own recipe)."""
    registry.MODELS[SMALL_MODEL] = registry.ModelSpec("arch_1", image_size)


def main(job: dict) -> int:
    from tfx.components.trainer import fn_args_utils
    from tfx.components.util import tfxio_utils
    from tfx.types import artifact_utils, standard_artifacts

    from modules import trainer

    register_small_model(job["image_size"])
    examples = standard_artifacts.Examples()
    examples.uri = job["examples"]
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    accessor = fn_args_utils.DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([examples], []),
        record_batch_factory=None, data_view_decode_fn=None)
    fn_args = fn_args_utils.FnArgs(
        train_files=[artifact_utils.get_split_uri([examples], "train") + "/*"],
        eval_files=[artifact_utils.get_split_uri([examples], "eval") + "/*"], data_accessor=accessor,
        transform_output=job["transform"], serving_model_dir=job["serving_model_dir"],
        model_run_dir=job["model_run_dir"], custom_config=job["custom_config"])
    try:
        trainer.run_fn(fn_args)
    except Exception as e:  # one line for the person reading the worker's log
        print(f"worker: error: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr, force=True)
    sys.exit(main(json.loads(sys.argv[1])))
