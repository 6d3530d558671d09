"""Runs the pipeline on this machine (LocalDagRunner, ML Metadata on SQLite, Beam's DirectRunner):
`image-pipeline run` with the same flags.

    python local_runner.py                     # the sample bundled in pipeline/sample
    python local_runner.py --data-root ../shared/datasets/clothing-dataset-small
    python local_runner.py --help              # every flag
"""
import sys

from cli import main as cli

if __name__ == "__main__":
    sys.exit(cli.main(["run", *sys.argv[1:]]))
