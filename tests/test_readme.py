"""The README's commands name what the code makes: a new user copies them as they are."""
import re
import shlex

from components import ids
from pipeline import configs
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_the_tensorboard_command_points_at_what_the_first_command_writes():
    # The first command (`bash scripts/run.sh`) runs the bundled sample under its own pipeline name.
    command = shlex.split(re.search(r"^\.venv/bin/tensorboard .*$", README, re.MULTILINE).group(0))
    log_dir = command[command.index("--logdir") + 1]
    expected = configs.OUTPUT_ROOT / "pipelines" / configs.SAMPLE_PIPELINE_NAME / ids.TRAINER
    assert log_dir == f"{expected}/model_run"
