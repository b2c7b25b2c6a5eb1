"""`lightrank.cli`: the wiring of every sub-command, how `main` ends, and the commands' user errors.

Each command's behaviour is tested next to its layer through `main`, as the console script
runs it; `COMMAND_TESTS` names those tests, and a test here checks that every command has one.
`BENCH_COMMAND_TESTS` does the same for `lightrank-bench` and every step of `make bench`.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tomli

from lightrank import cli
from lightrank.cli import build_parser, main
from lightrank.errors import ConfigError, UserError
from lightrank.kubeflow import cli as deploy_commands
from lightrank.kubeflow import spec_cli as spec_commands
from lightrank.pipeline.commands import data as data_commands
from lightrank.pipeline.commands import eval as eval_commands
from lightrank.pipeline.commands import lineage as lineage_commands
from lightrank.pipeline.commands import run as run_commands
from lightrank.pipeline.commands import schema as schema_commands
from lightrank.pipeline.commands.common import PipelineFailedError

REPO = Path(__file__).resolve().parents[1]

#: Every command `lightrank` has, as documented in `lightrank/cli.py`: the shortest command line
#: that parses, and the module function that handles it. A new command fails
#: `test_the_parser_has_exactly_the_documented_commands` until it is added here and to `COMMAND_TESTS`.
COMMANDS: dict[str, tuple[list[str], object, str]] = {
    "data generate": (["data", "generate"], data_commands, "_generate"),
    "schema infer": (["schema", "infer", "--data", "d", "--out", "o"], schema_commands, "_infer"),
    "run": (["run"], run_commands, "_run"),
    "eval": (["eval", "--model", "m", "--data", "d"], eval_commands, "_handle"),
    "runs": (["runs"], lineage_commands, "_runs"),
    "lineage": (["lineage"], lineage_commands, "_lineage"),
    "compare": (["compare", "a", "b"], lineage_commands, "_compare"),
    "report": (["report"], lineage_commands, "_report"),
    "compile": (["compile", "--target", "vertex"], deploy_commands, "_compile"),
    "submit": (["submit", "--target", "kubeflow"], deploy_commands, "_submit"),
    "run-spec": (["run-spec", "pipeline.json"], spec_commands, "_run_spec"),
}

#: The tests that run each command's real handler through `lightrank.cli.main` on tiny inputs
#: and assert what it does (exit status, printed lines, files written).
COMMAND_TESTS: dict[str, list[str]] = {
    "data generate": [
        "tests/test_cli.py::test_generate_refuses_to_overwrite_and_if_missing_skips",
        "tests/test_cli.py::test_generate_catalog_writes_train_and_eval_and_honours_overwrite",
        "tests/test_cli.py::test_generate_picks_the_profile_s_default_directory",
    ],
    "schema infer": [
        "tests/pipeline/schema_infer/test_schema_infer_cli.py::"
        "test_a_full_out_dir_is_refused_and_overwrite_replaces_it_with_the_given_roles"
    ],
    "run": [
        "tests/e2e/test_run_cli.py::test_lightrank_run_trains_evaluates_and_pushes_on_tiny_data",
        "tests/test_cli.py::test_a_failing_run_exits_1_naming_its_log",
        "tests/test_cli.py::test_a_missing_data_path_is_named_and_nothing_is_written",
    ],
    "eval": [
        "tests/pipeline/test_evaluate.py::test_eval_through_the_command_line_writes_report_metrics_and_log"
    ],
    "runs": ["tests/pipeline/test_lineage_cli.py::test_runs_prints_a_table_and_json_newest_first"],
    "lineage": [
        "tests/pipeline/test_lineage_cli.py::test_lineage_dot_and_downstream_need_no_artifact_files",
        "tests/pipeline/test_lineage_cli.py::test_lineage_notes_a_missing_evaluation_and_still_shows_the_rest",
    ],
    "compare": [
        "tests/pipeline/test_lineage_cli.py::test_compare_reads_the_config_a_run_stopped_at_the_gate_recorded",
    ],
    "report": [
        "tests/pipeline/test_lineage_cli.py::"
        "test_compare_and_report_note_a_missing_evaluation_and_still_show_the_rest",
    ],
    "compile": [
        "tests/kubeflow/test_example_configs.py::test_the_kubeflow_example_compiles_through_the_command_line",
    ],
    "submit": [
        "tests/kubeflow/test_submit.py::test_kubeflow_submit_reads_the_endpoint_and_token_from_the_environment",
        "tests/kubeflow/test_submit.py::test_kubeflow_submit_sends_the_namespace_experiment_and_token_flags",
    ],
    "run-spec": [
        "tests/e2e/test_spec_run.py::test_kubeflow_spec_runs_every_task_on_a_window_of_days_and_fills_the_ui_artifacts",
        "tests/kubeflow/test_spec_cli.py::test_a_spec_compiled_from_another_config_is_refused",
    ],
}

#: The folder of each package of the distribution (`lightrank.models` lives in `models/`, ...).
PYPROJECT = tomli.loads((REPO / "pyproject.toml").read_text())
PACKAGE_DIRS: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]


# --- the parser: exactly the documented commands, each with its handler -------------------------


def _sub_commands(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[str]:
    """The leaf commands of `parser` (`data generate`, `run`, ...), in registration order."""
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not actions:
        yield prefix
        return
    (action,) = actions
    for name, sub_parser in action.choices.items():
        yield from _sub_commands(sub_parser, f"{prefix} {name}".strip())


def test_the_parser_has_exactly_the_documented_commands():
    assert list(_sub_commands(build_parser())) == list(COMMANDS)
    usage = [line.strip() for line in cli.__doc__.split("\n\n")[1].splitlines()]
    for command in COMMANDS:
        assert any(f" {command} " in f" {line} " for line in usage), f"{command} is not in the usage"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_has_its_handler(command):
    argv, module, name = COMMANDS[command]
    assert build_parser().parse_args(argv).handler is getattr(module, name)


def _calls_main(function: ast.FunctionDef, helpers: dict[str, ast.FunctionDef], seen: set[str]) -> bool:
    """Whether `function` calls `main(...)` / `x.main(...)`, itself or through the module's helpers."""
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func
        name = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", None)
        if name == "main":
            return True
        if name in helpers and name not in seen:
            seen.add(name)
            if _calls_main(helpers[name], helpers, seen):
                return True
    return False


def _imports(tree: ast.Module, module: str) -> bool:
    """Whether a test file imports `module` (`from a.b import main`, `from a import b`, `import a.b`)."""
    parent, _, leaf = module.rpartition(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level:
            leaf_imported = node.module == parent and any(alias.name == leaf for alias in node.names)
            if node.module == module or leaf_imported:
                return True
        if isinstance(node, ast.Import) and any(alias.name == module for alias in node.names):
            return True
    return False


def _assert_goes_through_main(test_id: str, entry_module: str) -> None:
    """`test_id` exists and calls `main` (itself or through its file's helpers), from `entry_module`."""
    path, name = test_id.split("::")
    tree = ast.parse((REPO / path).read_text())
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert name in functions, f"{test_id} does not exist"
    assert _calls_main(functions[name], functions, set()), f"{test_id} does not go through main"
    assert _imports(tree, entry_module), f"{path} does not import {entry_module}"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_has_a_test_through_main(command):
    assert COMMAND_TESTS.keys() == COMMANDS.keys()
    for test_id in COMMAND_TESTS[command]:
        _assert_goes_through_main(test_id, "lightrank.cli")


#: The same for the benchmarks' command, `lightrank-bench` (bench/, a distribution of its own), and
#: the module `make bench` ends with: the tests that run each real handler through its `main`.
BENCH_COMMAND_TESTS: dict[str, tuple[str, list[str]]] = {
    "serving": ("lightrank_bench.cli", [
        "tests/bench/test_bench_cli.py::test_serving_writes_its_table_and_the_document_takes_it",
    ]),
    "comparators": ("lightrank_bench.cli", [
        "tests/bench/test_bench_cli.py::test_comparators_take_the_label_from_the_config_and_time_every_system",
    ]),
    "training": ("lightrank_bench.cli", [
        "tests/bench/test_bench_cli.py::test_training_measures_each_batch_size_with_the_configs_model",
    ]),
    "quality": ("lightrank_bench.cli", [
        "tests/bench/test_bench_cli.py::test_quality_scores_the_chosen_models_and_variants_on_the_eval_split",
        "tests/bench/test_bench_cli.py::test_quality_trains_the_fair_lightgbm_on_the_raw_examples",
    ]),
    "pipeline": ("lightrank_bench.cli", [
        "tests/e2e/test_bench_pipeline_e2e.py::test_pipeline_benchmark_times_every_component_that_ran",
        "tests/bench/test_bench_cli.py::test_pipeline_checks_its_arguments_before_writing_anything",
    ]),
    "evaluation": ("lightrank_bench.cli", [
        "tests/bench/test_bench_cli.py::test_evaluation_puts_lightrank_eval_and_each_evaluator_beside_plain_serving",
        "tests/bench/test_bench_cli.py::test_evaluation_rejects_a_bad_evaluator_before_measuring_anything",
    ]),
    "-m lightrank_bench.document": ("lightrank_bench.document", [
        "tests/bench/test_bench_cli.py::test_serving_writes_its_table_and_the_document_takes_it",
    ]),
}  # fmt: skip


def test_every_bench_command_and_every_step_of_make_bench_has_a_test_through_main():
    from lightrank_bench.cli import build_parser as bench_parser

    sub_commands = list(_sub_commands(bench_parser()))
    assert sub_commands == [name for name in BENCH_COMMAND_TESTS if not name.startswith("-m ")]
    recipe = (REPO / "Makefile").read_text().split("\nbench: setup\n")[1].split("\n\n")[0]
    used = set(re.findall(r"\$\(BENCH\) (\S+)", recipe)) | set(
        re.findall(r"(-m lightrank_bench\.\w+)", recipe)
    )
    assert used == set(BENCH_COMMAND_TESTS), (
        "make bench runs a command without a test here, or no longer runs one"
    )
    for entry_module, test_ids in BENCH_COMMAND_TESTS.values():
        for test_id in test_ids:
            _assert_goes_through_main(test_id, entry_module)


# --- nothing imports the CLI: it is the top layer ------------------------------------------------


def _package_sources() -> Iterator[tuple[str, Path]]:
    """(module name, file) of every source file of the distribution."""
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join((package, *parts)), path


def cli_imports(source: str, module: str, is_package: bool = False) -> list[int]:
    """The lines of `source` (module `module`) that import `lightrank.cli` or name it for importlib."""
    package = module if is_package else module.rpartition(".")[0]
    lines = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        if any(name == "lightrank.cli" or name.startswith("lightrank.cli.") for name in names):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize(
    ("source", "module", "found"),
    [
        ("import lightrank.cli", "lightrank.pipeline.x", True),
        ("import lightrank.cli as entry", "lightrank.models.x", True),
        ("from lightrank.cli import main", "lightrank.kubeflow.x", True),
        ("from lightrank import cli", "lightrank.components.x", True),
        ("from .. import cli", "lightrank.pipeline.x", True),
        ("from . import cli", "lightrank.x", True),
        ("importlib.import_module('lightrank.cli')", "lightrank.pipeline.x", True),
        ("from lightrank.kubeflow import cli", "lightrank.x", False),
        ("from . import cli", "lightrank.kubeflow.x", False),
        ("import lightrank.client", "lightrank.x", False),
    ],
)
def test_the_import_scan_finds_every_form_of_import(source, module, found):
    assert bool(cli_imports(source, module)) is found


def test_no_module_of_the_package_imports_the_cli():
    sources = dict(_package_sources())
    expected = {"lightrank.kubeflow.cli", "lightrank.pipeline.commands.lineage", "lightrank.models"}
    assert expected <= set(sources)
    offenders = [
        f"{path.relative_to(REPO)}:{line}"
        for module, path in sources.items()
        if module != "lightrank.cli"
        for line in cli_imports(path.read_text(), module, is_package=path.name == "__init__.py")
    ]
    assert offenders == []


# --- how `main` ends: 0, 2 for a user error, 1 for a failed pipeline, 141 for a closed pipe ---------


def _user_error_classes() -> list[tuple[str, str]]:
    """(module, class) of every subclass of `UserError` defined in the package, found in its source."""
    defined = [
        (module, node)
        for module, path in _package_sources()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
    ]
    names, found = {"UserError"}, []
    while True:
        new = [
            (module, node.name)
            for module, node in defined
            if node.name not in names
            and any(getattr(base, "id", getattr(base, "attr", None)) in names for base in node.bases)
        ]
        if not new:
            return sorted(found)
        found.extend(new)
        names.update(name for _, name in new)


USER_ERROR_CLASSES = _user_error_classes()


def _raising(error: BaseException) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        raise error

    return handler


def test_every_user_error_class_of_the_package_is_checked():
    names = {name for _, name in USER_ERROR_CLASSES}
    assert {"ConfigError", "LineageError", "EvalInputError", "InputDataError", "DeploymentError"} <= names
    assert {"SubmitError", "CompileError", "RunParameterError", "DataAnomaliesError"} <= names


@pytest.mark.parametrize(("module", "name"), USER_ERROR_CLASSES, ids=[n for _, n in USER_ERROR_CLASSES])
def test_a_user_error_of_any_class_is_one_line_with_exit_2(monkeypatch, capsys, module, name):
    error_class = getattr(importlib.import_module(module), name)
    assert issubclass(error_class, UserError)
    monkeypatch.setattr(lineage_commands, "_runs", _raising(error_class("no run 'x' in store.db")))
    assert main(["runs"]) == 2
    assert capsys.readouterr() == ("", "lightrank: error: no run 'x' in store.db\n")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_turns_a_user_error_into_one_line_with_exit_2(monkeypatch, capsys, command):
    argv, module, name = COMMANDS[command]
    monkeypatch.setattr(module, name, _raising(ConfigError(f"{command}: unknown key 'modle'")))
    assert main(argv) == 2
    assert capsys.readouterr() == ("", f"lightrank: error: {command}: unknown key 'modle'\n")


@pytest.mark.parametrize("error", [FileNotFoundError("no file x.yaml"), FileExistsError("out exists")])
def test_a_missing_or_existing_file_is_one_line_with_exit_2(monkeypatch, capsys, error):
    monkeypatch.setattr(data_commands, "_generate", _raising(error))
    assert main(["data", "generate"]) == 2
    assert capsys.readouterr() == ("", f"lightrank: error: {error}\n")


def test_a_failed_pipeline_exits_1_with_one_line_and_the_log(monkeypatch, capsys):
    message = "Trainer: ValueError: in user code:\n\n    File model.py, line 3\n\n  NaN loss at step 20"
    monkeypatch.setattr(run_commands, "_run", _raising(PipelineFailedError(message, "/tmp/run.log")))
    assert main(["run"]) == 1
    assert capsys.readouterr() == (
        "",
        "lightrank: the pipeline failed: Trainer: ValueError: in user code: ... NaN loss at step 20\n"
        "(full log: /tmp/run.log)\n",
    )


def test_any_other_error_is_a_bug_and_keeps_its_traceback(monkeypatch):
    monkeypatch.setattr(lineage_commands, "_lineage", _raising(KeyError("execution")))
    with pytest.raises(KeyError, match="execution"):
        main(["lineage"])


def test_a_closed_pipe_stops_quietly_with_141(capsys, monkeypatch, tmp_path):
    """`lightrank runs | head`: the reader went away while the handler printed."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    stdout = os.fdopen(write_end, "w")
    monkeypatch.setattr(sys, "stdout", stdout)

    def print_many_rows(args: argparse.Namespace) -> int:
        for i in range(100_000):
            print(f"run-{i}")
        return 0

    monkeypatch.setattr(lineage_commands, "_runs", print_many_rows)
    try:
        assert main(["runs"]) == 141
        print("more after the reader left")  # stdout now goes to /dev/null
        stdout.flush()
    finally:
        monkeypatch.undo()
        stdout.close()
    assert capsys.readouterr().err == ""


# --- `lightrank` alone, `--help`, and a group without its command -------------------------------


def test_lightrank_alone_names_the_missing_command_and_exits_2(capsys):
    with pytest.raises(SystemExit) as stopped:
        main([])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: lightrank") and "the following arguments are required: command" in err


def test_help_lists_every_command_and_exits_0(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert "{data,schema,run,eval,runs,lineage,compare,report,compile,submit,run-spec}" in out


@pytest.mark.parametrize(
    ("argv", "status", "stream", "text"),
    [
        ([], 2, "stderr", "the following arguments are required: command"),
        (
            ["--help"],
            0,
            "stdout",
            "{data,schema,run,eval,runs,lineage,compare,report,compile,submit,run-spec}",
        ),
        (["data"], 2, "stderr", "the following arguments are required: data_command"),
        (["data", "generate", "--help"], 0, "stdout", "--if-missing"),
    ],
)
def test_the_console_script_exit_statuses(argv, status, stream, text):
    script = Path(sys.executable).parent / "lightrank"
    if not script.is_file():
        pytest.skip("the lightrank console script is not installed (pip install -e .)")
    done = subprocess.run([str(script), *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == status
    assert text in getattr(done, stream) and "Traceback" not in done.stderr


# --- the commands' own checks, through `main` -----------------------------------------------------


def test_a_config_typo_is_one_clear_error(tmp_path, capsys):
    config = tmp_path / "typo.yaml"
    config.write_text("name: x\nroot: r\nserving_dir: s\nmodle: {}\n")
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lightrank: error: unknown key 'modle'")
    assert "did you mean 'model'?" in err


def test_a_missing_data_path_is_named_and_nothing_is_written(tmp_path, capsys):
    root = tmp_path / "root"
    code = main(
        [
            "run",
            "--set", f"data.path={tmp_path}/nowhere",
            "--set", f"root={root}",
            "--set", f"metadata.sqlite={tmp_path}/m.db",
            "--set", f"serving_dir={tmp_path}/serving",
        ]
    )  # fmt: skip
    assert code == 2
    assert f"data path {tmp_path}/nowhere does not exist" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "m.db") and not os.path.exists(tmp_path / "serving")


def test_generate_refuses_to_overwrite_and_if_missing_skips(tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["data", "generate", "--out", str(out), "--requests", "3", "--shards", "1"]) == 0
    assert "candidates of 3 requests" in capsys.readouterr().out
    before = sorted(os.listdir(out))
    assert main(["data", "generate", "--out", str(out), "--requests", "3"]) == 2
    assert str(out) in capsys.readouterr().err
    assert main(["data", "generate", "--out", str(out), "--if-missing"]) == 0
    assert "already present" in capsys.readouterr().out
    assert sorted(os.listdir(out)) == before


def _catalog_rows(folder: Path) -> list[dict[str, list]]:
    """Every example of the gzipped TFRecords in `folder`, as feature -> values."""
    import tensorflow as tf

    rows = []
    for path in sorted(folder.iterdir()):
        for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP").as_numpy_iterator():
            feature = tf.train.Example.FromString(record).features.feature
            rows.append({name: list(getattr(f, f.WhichOneof("kind")).value) for name, f in feature.items()})
    return rows


def test_generate_catalog_writes_train_and_eval_and_honours_overwrite(tmp_path, capsys):
    out = tmp_path / "catalog"
    argv = ["data", "generate", "--profile", "catalog", "--out", str(out), "--requests", "6", "--shards", "2"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"candidates of 6 requests to {out}" in printed
    assert "train: " in printed and "of 5 requests in 2 files" in printed
    assert "eval: " in printed and "of 1 requests in 1 file," in printed
    assert sorted(os.listdir(out)) == ["eval", "train"]
    assert sorted(os.listdir(out / "train")) == [f"part-0000{i}-of-00002.tfrecord.gz" for i in range(2)]
    assert os.listdir(out / "eval") == ["part-00000-of-00001.tfrecord.gz"]
    train, eval_ = _catalog_rows(out / "train"), _catalog_rows(out / "eval")
    assert {"query_id", "ts", "viewer_id", "item_id", "ref_score", "ref_rank", "clicked"} <= set(train[0])
    assert not any(name.startswith(("meta.", "user.", "candidate.", "label.")) for name in train[0])
    assert len({row["query_id"][0] for row in train}) == 5 and len({row["query_id"][0] for row in eval_}) == 1
    assert max(row["ts"][0] for row in train) < min(row["ts"][0] for row in eval_)
    before = {path: path.read_bytes() for path in out.rglob("*.gz")}

    assert main(argv) == 2
    assert str(out) in capsys.readouterr().err
    assert main(["data", "generate", "--profile", "catalog", "--out", str(out), "--if-missing"]) == 0
    assert "Catalog data already present" in capsys.readouterr().out
    assert {path: path.read_bytes() for path in out.rglob("*.gz")} == before
    assert main([*argv, "--seed", "1", "--overwrite"]) == 0
    after = {path: path.read_bytes() for path in out.rglob("*.gz")}
    assert after.keys() == before.keys() and all(after[path] != before[path] for path in before)
    assert os.listdir(tmp_path) == ["catalog"]  # no staging or old copy left behind


def test_generate_picks_the_profile_s_default_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["data", "generate", "--profile", "catalog", "--requests", "1"]) == 2
    assert "--profile catalog needs --requests of at least 2" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
    assert main(["data", "generate", "--profile", "catalog", "--requests", "2", "--shards", "1"]) == 0
    assert sorted(os.listdir(tmp_path / "data" / "catalog")) == ["eval", "train"]
    assert main(["data", "generate", "--requests", "2", "--shards", "1"]) == 0
    assert "Wrote " in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "data")) == ["catalog", "sample"]
    assert os.listdir(tmp_path / "data" / "sample") == ["part-00000-of-00001.tfrecord.gz"]
    # `--profile sample` is the default, byte for byte.
    explicit = ["data", "generate", "--profile", "sample", "--out", "x", "--requests", "2", "--shards", "1"]
    assert main(explicit) == 0
    name = "part-00000-of-00001.tfrecord.gz"
    assert (tmp_path / "x" / name).read_bytes() == (tmp_path / "data" / "sample" / name).read_bytes()


@pytest.mark.parametrize(
    "argv", [["frobnicate"], ["run", "--bogus"], ["data", "generate", "--profile", "bogus"]]
)
def test_unknown_commands_and_flags_are_rejected_by_argparse(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--requests", "0", "0 is below the minimum of 1"),
        ("--requests", "-5", "-5 is below the minimum of 1"),
        ("--shards", "0", "0 is below the minimum of 1"),
        ("--seed", "-1", "-1 is below the minimum of 0"),
        ("--requests", "many", "'many' is not an integer"),
    ],
)
def test_generate_rejects_a_bad_count_naming_the_flag(tmp_path, capsys, flag, value, message):
    out = tmp_path / "data"
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "generate", "--out", str(out), flag, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: {message}" in err
    assert not out.exists()


def _run_with(tmp_path, *overrides: str) -> int:
    settings = [
        f"root={tmp_path}/root",
        f"metadata.sqlite={tmp_path}/m.db",
        f"serving_dir={tmp_path}/serving",
        f"data.path={tmp_path}/nowhere",  # never read: the name check comes first
        *overrides,
    ]
    return main(["run", *[arg for setting in settings for arg in ("--set", setting)]])


def test_a_failing_run_exits_1_naming_its_log(tmp_path, capfd, monkeypatch):
    """The real `run` handler around a pipeline that fails for a reason other than bad input."""
    import lightrank.pipeline.local_runner as local_runner

    def failing_run_local(config, console, log_file, **run_options):
        console.write("ImportExampleGen                 complete    1.0 s\n")
        raise RuntimeError("Trainer: in user code:\n\n    File model.py\n\n  NaN loss at step 20")

    monkeypatch.setattr(local_runner, "run_local", failing_run_local)
    log = tmp_path / "logs" / "run.log"
    sets = [f"root={tmp_path}/root", f"metadata.sqlite={tmp_path}/m.db", f"data.path={tmp_path}/data"]
    code = main(["run", "--log-file", str(log), *[arg for s in sets for arg in ("--set", s)]])
    out, err = capfd.readouterr()
    assert code == 1
    header = out.splitlines()[:3]
    assert header[0] == f"Pipeline 'lightrank-sample' on {tmp_path}/data"
    assert header[1].startswith("Model: ") and header[2] == f"Full log: {log}"
    assert "Quality gates: " in out and "ImportExampleGen                 complete" in out
    assert err == (
        "lightrank: the pipeline failed: RuntimeError: Trainer: in user code: ... NaN loss at step 20\n"
        f"(full log: {log})\n"
    )
    assert log.is_file() and not (tmp_path / "m.db").exists()


def test_a_misspelt_threshold_metric_fails_before_the_data_is_read(tmp_path, capsys):
    code = _run_with(tmp_path, "evaluation.thresholds={auc_unweigthed: {lower_bound: 0.5}}")
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "lightrank: error: evaluation.thresholds.auc_unweigthed: unknown metric 'auc_unweigthed'; "
        "did you mean 'auc_unweighted'?"
    )
    assert not os.path.exists(tmp_path / "m.db") and not os.path.exists(tmp_path / "serving")
    assert os.listdir(tmp_path / "root") == ["logs"]  # only the run's log, whose path was printed


def test_a_misspelt_slice_feature_is_an_error_not_a_missing_slice(tmp_path, capsys):
    code = _run_with(tmp_path, "evaluation.slices=[[candidate.source], [candidate.sorce]]")
    assert code == 2
    err = capsys.readouterr().err
    assert "evaluation.slices[1]: unknown feature 'candidate.sorce'; did you mean 'candidate.source'?" in err


def test_a_lineage_error_is_one_line_with_exit_2(tmp_path, capsys):
    code = main(["runs", "--config", _config_with_store(tmp_path, tmp_path / "absent.db")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("lightrank: error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_compile_error_is_one_line_with_exit_2(tmp_path, capsys):
    # The sample config resolves the last blessed model, which open-source KFP v2 cannot run.
    code = main(["compile", "--target", "kubeflow", "--out", str(tmp_path / "spec.yaml")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("lightrank: error: ") and "Traceback" not in err
    assert not (tmp_path / "spec.yaml").exists()


def _config_with_store(tmp_path, store) -> str:
    from lightrank.pipeline.config import SAMPLE_CONFIG

    config = tmp_path / "config.yaml"
    text = Path(SAMPLE_CONFIG).read_text().replace("sqlite: runs/sample/metadata.db", f"sqlite: {store}")
    config.write_text(text)
    return str(config)


def test_a_reader_that_left_before_the_last_buffered_line_also_gives_141(capsys, monkeypatch):
    """`lightrank runs | head -0`: the handler's few lines are still buffered when it returns."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    stdout = os.fdopen(write_end, "w")
    monkeypatch.setattr(sys, "stdout", stdout)

    def print_one_row(args: argparse.Namespace) -> int:
        print("run-1")  # buffered: nothing reaches the pipe before main flushes
        return 0

    monkeypatch.setattr(lineage_commands, "_runs", print_one_row)
    try:
        assert main(["runs"]) == 141
        stdout.flush()  # as Python does at exit: must not raise any more
    finally:
        monkeypatch.undo()
        stdout.close()
    assert capsys.readouterr().err == ""
