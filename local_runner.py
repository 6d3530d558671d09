"""Runs the pipeline on this machine (LocalDagRunner, ML Metadata on SQLite, Beam's DirectRunner):
`image-pipeline run` with the same flags.

    python local_runner.py                     # the sample bundled in data/sample
    python local_runner.py --data-root ../shared/datasets/clothing-dataset-small
    python local_runner.py --help              # every flag
"""
import sys

from pipeline import configs  # pylint: disable=unused-import  # first: picks the Keras flavour
from cli import main as cli  # pylint: disable=wrong-import-order

if __name__ == "__main__":
    sys.exit(cli.main(["run", *sys.argv[1:]]))
