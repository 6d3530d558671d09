"""Wrong arguments or paths: one clear line on stderr and exit code 2, never a traceback."""
import subprocess
import sys

import pytest

from cli import arguments, commands, main as cli
from pipeline import configs
from modules import settings
from tests.conftest import CLI, LOCAL_RUNNER, copy_sample, run_cli_in_process


def run_cli(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True)


def assert_usage_error(result, *fragments):
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    error_lines = [line for line in lines if line.startswith("image-pipeline: error: ")]
    assert len(error_lines) == 1, lines
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in error_lines[0]


@pytest.mark.parametrize("args, fragments", [
    (["run", "--epochs", "ten"], ["--epochs", "'ten' is not a whole number"]),
    (["run", "--epochs", "-1"], ["--epochs", "negative"]),
    (["run", "--epochs", "0"], ["--epochs", "0 is not between 1 and 1000"]),
    (["run", "--epochs", "99999999999999999999"], ["--epochs", "not between 1 and 1000"]),
    (["run", "--tune", "--tuning-epochs", "0"], ["--tuning-epochs", "not between 1 and 1000"]),
    (["run", "--learning-rate", "inf"], ["--learning-rate", "inf is above 1"]),
    (["run", "--learning-rate", "nan"], ["--learning-rate", "not above 0"]),
    (["run", "--learning-rate", "2"], ["--learning-rate", "above 1"]),
    (["run", "--batch-size", "0"], ["--batch-size", "at least 1"]),
    (["run", "--accuracy-floor", "1.5"], ["--accuracy-floor", "between 0 and 1"]),
    (["run", "--model", "resnet"], ["unknown model 'resnet'", "arch_2"]),
    (["run", "--learning-rate", "0"], ["--learning-rate", "not above 0"]),
    (["run", "--learning-rate-schedule", "step"], ["unknown learning-rate schedule 'step'", "warmup_cosine"]),
    (["run", "--tune", "--tuning-trials", "0"], ["--tuning-trials", "at least 1"]),
    (["run", "--frozen-blocks", "-2"], ["--frozen-blocks", "negative"]),
    (["run", "--label-smoothing", "1"], ["--label-smoothing", "1 is not from 0 to below 1"]),
    (["run", "--frozen-blocks", "22"], ["--frozen-blocks", "efficientnet_lite1 has only 21 blocks"]),
    (["run", "--model", "arch_2", "--frozen-blocks", "1"], ["--frozen-blocks", "arch_2 has no EfficientNet-Lite"]),
    (["run", "--model", "arch_2", "--frozen-batchnorm"],
     ["--frozen-batchnorm", "arch_2 has no ImageNet BatchNorm statistics to keep"]),
    (["run", "--data-root", "/no/such/folder"], ["/no/such/folder: no such directory"]),
    (["ingest", "--data-root", "/no/such/folder", "--output", "/tmp/x"], ["no such directory"]),
    (["evaluate", "--model", "/tmp", "--data", "/no/such/folder"], ["/no/such/folder: no such directory"]),
    (["predict", "--model", "/tmp", "/no/such/image.jpg"], ["/tmp: neither a SavedModel"]),
    (["compile-kubeflow", "--output", "x.json"], ["required", "--pipeline-root"]),
    (["run", "--pipeline-name", "My Pipeline"], ["--pipeline-name", "lower-case letters"]),
    (["frobnicate"], ["invalid choice: 'frobnicate'"]),
    # Outputs that cannot be written: refused before any work.
    (["run", "--output-root", "/etc/passwd"], ["--output-root", "/etc/passwd: exists and is not a directory"]),
    (["run", "--serving-dir", "/etc/passwd/models"], ["--serving-dir", "/etc/passwd is not a directory"]),
    (["ingest", "--data-root", "/tmp", "--output", "/etc/passwd"], ["/etc/passwd: exists and is not a directory"]),
    (["evaluate", "--model", "/tmp", "--data", "/tmp", "--json", "/tmp"],
     ["--json", "/tmp: is a directory, not a file"]),
    (["report", "--output", "/tmp"], ["--output", "/tmp: is a directory, not a file"]),
    (["compile-kubeflow", "--output", "/tmp", "--pipeline-root", "gs://b/root", "--image", "r/i:1", "--data-root",
      "gs://b/data"], ["--output", "/tmp: is a directory, not a file"]),
])
def test_argument_errors(args, fragments):
    assert_usage_error(run_cli_in_process(*args), *fragments)


def test_the_installed_command_reports_a_usage_error_the_same_way():
    assert_usage_error(run_cli("run", "--epochs", "0"), "--epochs", "0 is not between 1 and 1000")


@pytest.mark.parametrize("command", ["ingest", "run"])
def test_data_root_without_class_folders(tmp_path, command):
    (tmp_path / "train").mkdir()
    (tmp_path / "validation").mkdir()
    assert_usage_error(run_cli(command, "--data-root", str(tmp_path),
                               "--output" if command == "ingest" else "--output-root",
                               str(tmp_path / "out")),
                       f"{tmp_path / 'train'}: no class subfolders")


def test_a_data_root_with_one_class_is_refused_before_any_work(tmp_path):
    copy_sample(tmp_path / "data", classes=("hat",))
    assert_usage_error(run_cli("run", "--data-root", tmp_path / "data", "--output-root", tmp_path / "out"),
                       f"{tmp_path / 'data' / 'train'}: only class folder 'hat'; a classifier needs at least 2")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("variable, value, fragment", [
    ("EPOCHS", "lots", "environment variable EPOCHS='lots': 'lots' is not a whole number"),
    ("EPOCHS", "0", "environment variable EPOCHS='0': 0 is not between 1 and 1000"),
    ("ACCURACY_FLOOR", "high", "environment variable ACCURACY_FLOOR='high': 'high' is not a number"),
    ("MODEL_NAME", "resnet", "unknown model 'resnet'"),
    ("PRECISION", "float16", "environment variable PRECISION='float16': unknown precision 'float16' (known: float32"),
])
def test_bad_configuration_from_the_environment(variable, value, fragment, tmp_path, monkeypatch):
    # A valid command line: the environment alone is wrong.
    monkeypatch.setenv(variable, value)
    assert_usage_error(run_cli_in_process("run", "--output-root", tmp_path), fragment)
    assert not any(tmp_path.iterdir())


def test_the_environment_fills_in_what_the_flags_leave_out(monkeypatch, tmp_path):
    monkeypatch.setenv("EPOCHS", "3")
    monkeypatch.setenv("IMAGE_PIPELINE_OUTPUT", str(tmp_path))
    monkeypatch.setenv("BEAM_PIPELINE_ARGS", "--direct_num_workers=2")
    args = arguments.build_parser(command="run").parse_args(["run", "--data-root", str(tmp_path)])
    run = arguments.run_settings(args)
    assert (run.settings.training.recipe.epochs, run.output_root, run.beam_pipeline_args) == (
        3, tmp_path.resolve(), ["--direct_num_workers=2"])
    flagged = arguments.run_settings(arguments.build_parser(command="run").parse_args(
        ["run", "--data-root", str(tmp_path), "--epochs", "4", "--beam-arg=--direct_num_workers=1"]))
    # Flags win.
    assert (flagged.settings.training.recipe.epochs, flagged.beam_pipeline_args) == (4, ["--direct_num_workers=1"])
    assert arguments.build_parser().parse_args(["run"]).epochs is None  # read only for the command being run


def test_model_path_that_is_not_a_model(tmp_path):
    (tmp_path / "data" / "hat").mkdir(parents=True)
    assert_usage_error(run_cli("evaluate", "--model", str(tmp_path), "--data", str(tmp_path / "data")),
                       "neither a SavedModel", str(tmp_path))


def test_local_runner_takes_the_same_flags():
    result = subprocess.run([sys.executable, LOCAL_RUNNER, "--epochs", "x"], capture_output=True, text=True)
    assert_usage_error(result, "--epochs")


def settings_for(*args):
    return arguments.run_settings(arguments.build_parser().parse_args(["run", *args]))


def test_no_data_root_means_the_sample_smoke_profile():
    run = settings_for()
    assert run.data_root == configs.SAMPLE_DATA_ROOT
    assert run.settings == configs.SAMPLE_SETTINGS and run.settings.training.recipe.epochs == 5
    assert run.settings.gates.accuracy_floor == 0.0
    assert run.pipeline_name == configs.PIPELINE_NAME + "-sample"
    assert run.serving_dir == configs.OUTPUT_ROOT.resolve() / "serving_model" / run.pipeline_name


def test_explicit_flags_win_over_the_sample_profile():
    run = settings_for("--epochs", "7", "--accuracy-floor", "0.4", "--pipeline-name", "mine")
    chosen = (run.settings.training.recipe.epochs, run.settings.gates.accuracy_floor, run.pipeline_name)
    assert chosen == (7, 0.4, "mine")


def test_real_data_gets_the_default_settings(tmp_path):
    run = settings_for("--data-root", str(tmp_path))
    assert run.data_root == tmp_path
    assert run.settings == settings.Settings()  # modules/settings.py's defaults, whole
    assert run.pipeline_name == configs.PIPELINE_NAME


def test_a_full_data_run_trains_the_default_model_with_its_own_recipe(tmp_path):
    training = settings_for("--data-root", str(tmp_path)).settings.training
    assert training.model_name == "efficientnet_lite1"
    # None: the model's own, filled in by resolved() (tests/test_kubeflow.py checks the compiled values).
    assert training.recipe.unset() == list(settings.RECIPE_FIELDS)


def test_recipe_and_tuning_flags():
    run = settings_for("--model", "arch_2", "--no-augment", "--balance-classes", "--learning-rate", "3e-4",
                       "--learning-rate-schedule", "warmup_cosine", "--tune", "--tuning-trials", "3")
    recipe = run.settings.training.recipe
    assert (recipe.augment, recipe.balance_classes, recipe.learning_rate, recipe.learning_rate_schedule) == (
        False, True, 3e-4, "warmup_cosine")
    assert settings_for("--frozen-blocks", "4").settings.training.recipe.frozen_blocks == 4
    # A third of the sample profile's 5 epochs, at least 1.
    assert run.settings.tuning == settings.Tuning(trials=3, epochs=1)
    assert settings_for("--model", "arch_2", "--data-root", "/", "--tune").settings.tuning == settings.Tuning(
        trials=settings.Tuning().trials, epochs=33)


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    from modules import outputs
    (tmp_path / "taken").mkdir()
    with pytest.raises(OSError):
        outputs.write_text(tmp_path / "taken", "x" * 1_000_000)
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
    assert outputs.write_text(tmp_path / "new" / "a.json", "{}").read_text() == "{}"
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["a.json"]


def test_help_lists_every_command_in_whole_sentences():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "report on a run, compile for Kubeflow." in " ".join(result.stdout.split())
    for command in commands.COMMANDS:
        assert command in result.stdout


def test_a_diverged_training_ends_the_run_in_one_line(monkeypatch, capsys, tmp_path):
    # Real divergence is tests/test_trainer.py's; here, what the command line makes of it.
    from cli import local
    from modules import trainer

    def diverge(run):
        raise trainer.TrainingDiverged("training diverged: the loss is nan at epoch 2, batch 7; try a lower "
                                       "--learning-rate (this run's: 0.5)")
    monkeypatch.setattr(local, "run", diverge)
    assert cli.main(["run", "--output-root", str(tmp_path)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1] == ("image-pipeline: error: Trainer: training diverged: the loss is nan at epoch 2, batch 7; "
                         "try a lower --learning-rate (this run's: 0.5); nothing was pushed")
