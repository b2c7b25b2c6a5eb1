"""`lightrank-bench`: every sub-command through `main` on the tiny inputs, and its user errors.

Each run appends its table to an `--out` file that already holds a line, as `make bench` does,
and is checked on the table's command line and rows. No speed is asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import ml_metadata as mlmd
import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

from lightrank.pipeline.commands.data import SAMPLE_DATA_DIR
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
from lightrank_bench import document
from lightrank_bench.cli import build_parser, main
from lightrank_bench.quality import MODELS
from lightrank_bench.serving import SERVING_BATCH_SIZES
from lightrank_bench.training import TRAINING_BATCH_SIZES

#: A Keras budget of seconds for the training and quality runs.
QUICK = ["--set", "model.training.max_steps=4", "--set", "model.training.eval_every_steps=2",
         "--set", "model.training.batch_size=32"]  # fmt: skip


def _out(tmp_path) -> str:
    path = tmp_path / "part.md"
    path.write_text("an earlier table\n")
    return str(path)


def _appended(out: str, printed: str) -> str:
    """The table `main` appended to `out`: after the earlier line, exactly what it printed."""
    with open(out) as f:
        text = f.read()
    assert text.startswith("an earlier table\n")
    table = text[len("an earlier table\n") :]
    assert table.strip() and table.strip() in printed
    return table


def _rows(table: str, which: int = 0) -> list[list[str]]:
    """The cells of the data rows of the output's `which`-th table (header and separator left out)."""
    tables: list[list[str]] = []
    previous = ""
    for line in table.splitlines():
        if line.startswith("|") and not previous.startswith("|"):
            tables.append([])
        if line.startswith("| "):  # not the |---| separator
            tables[-1].append(line)
        previous = line
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in tables[which][1:]]


def _column(table: str, name: str) -> int:
    """The index of the column headed `name` (tables gain columns; tests read theirs by name)."""
    header = next(line for line in table.splitlines() if line.startswith("| "))
    return [cell.strip() for cell in header.strip("|").split("|")].index(name)


def _one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lightrank-bench: error: "), err
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def test_parser_defaults_are_makes_and_the_samples():
    parser = build_parser()
    serving = parser.parse_args(["serving", "--model", "m"])
    assert serving.batch_sizes == list(SERVING_BATCH_SIZES) == [100, 1_000, 5_000]
    assert (serving.threads, serving.seconds, serving.out) == ([1, 0], 3.0, None)
    assert serving.data == SAMPLE_DATA_DIR
    comparators = parser.parse_args(["comparators", "--model", "m", "--seconds", "0.5"])
    assert comparators.seconds == 0.5 and comparators.label is None and comparators.config == SAMPLE_CONFIG
    training = parser.parse_args(["training", "--transform", "t", "--batch-sizes", "32"])
    assert training.batch_sizes == [32] and (training.steps, training.warmup_steps) == (200, 20)
    assert parser.parse_args(["training", "--transform", "t"]).batch_sizes == list(TRAINING_BATCH_SIZES)
    quality = parser.parse_args(["quality", "--transform", "t", "--set", "model.training.max_steps=5"])
    assert quality.models == list(MODELS) and quality.set == ["model.training.max_steps=5"]
    pipeline = parser.parse_args(["pipeline", "--requests", "5"])
    assert (pipeline.seed, pipeline.root, pipeline.config, pipeline.set) == (0, None, SAMPLE_CONFIG, [])
    evaluation = parser.parse_args(["evaluation", "--model", "m"])
    assert (evaluation.data, evaluation.config, evaluation.set) == (SAMPLE_DATA_DIR, SAMPLE_CONFIG, [])
    assert (evaluation.evaluator, evaluation.seconds, evaluation.out) == ([], 3.0, None)
    for args in (serving, comparators, training, quality, pipeline, evaluation):
        assert args.handler.__name__ == f"_{args.command}"


@pytest.mark.parametrize(
    "argv",
    [[], ["bench", "serving"], ["serving"], ["quality", "--transform", "t", "--models", "xgboost"],
     ["serving", "--model", "m", "--batch-sizes", "ten"], ["pipeline", "--requests", "many"]],
    ids=["no command", "old bench prefix", "no model", "unknown model", "batch not a number", "requests"],
)  # fmt: skip
def test_malformed_command_lines_exit_2_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "usage: lightrank-bench" in capsys.readouterr().err


def test_serving_writes_its_table_and_the_document_takes_it(tiny, tmp_path, capsys):
    parts = tmp_path / "parts"
    parts.mkdir()
    out = _out(parts).replace("part.md", "serving.md")
    os.rename(_out(parts), out)
    argv = ["serving", "--model", tiny["serving"], "--data", tiny["data"], "--batch-sizes", "10", "30",
            "--threads", "1", "--seconds", "0.2", "--out", out]  # fmt: skip
    assert main(argv) == 0
    table = _appended(out, capsys.readouterr().out)
    assert f"- Command: `lightrank-bench serving --model {tiny['serving']} --data {tiny['data']}" in table
    rows = _rows(table)
    assert [row[:2] for row in rows] == [["1 thread", "10"], ["1 thread", "30"]]
    assert all(len(row) == 9 and float(row[2].replace(",", "")) > 0 for row in rows)  # candidates/s

    document_out = tmp_path / "BENCHMARKS.md"
    assert document.main(["--parts-dir", str(parts), "--out", str(document_out)]) == 0
    text = document_out.read_text()
    assert "## Serving throughput" in text and table.strip() in text and "## Training throughput" not in text


@pytest.mark.e2e
def test_comparators_take_the_label_from_the_config_and_time_every_system(tiny, tmp_path, capsys):
    out = _out(tmp_path)
    argv = ["comparators", "--model", tiny["model"], "--data", tiny["data"], "--config", tiny["config"],
            "--batch-sizes", "20", "--threads", "1", "--seconds", "0.05", "--out", out]  # fmt: skip
    assert main(argv) == 0
    table = _appended(out, capsys.readouterr().out)
    assert f"--config {tiny['config']} --batch-sizes 20 --threads 1 --seconds 0.05`" in table
    assert "`lightrank-bench comparators --model" in table and "label.top3" in table
    systems = {row[2]: row for row in _rows(table)}
    assert systems["LightGBM"][4] != "did not convert" and float(systems["LightGBM"][4].replace(",", "")) > 0
    reference = next(row for name, row in systems.items() if "`serving_default`" in name)
    assert reference[:2] == ["1 thread", "20"] and reference[-1] == "1.00x"


def test_training_measures_each_batch_size_with_the_configs_model(tiny, tmp_path, capsys):
    out = _out(tmp_path)
    argv = ["training", "--transform", tiny["transform"], "--config", tiny["config"], *QUICK,
            "--batch-sizes", "8", "16", "--steps", "4", "--warmup-steps", "2", "--out", out]  # fmt: skip
    assert main(argv) == 0
    table = _appended(out, capsys.readouterr().out)
    assert "--set model.training.batch_size=32 --batch-sizes 8 16 --steps 4 --warmup-steps 2`" in table
    rows = _rows(table)
    assert [row[:2] for row in rows] == [["8", "4"], ["16", "4"]]
    for batch, _, per_sec, ms in rows:
        assert float(per_sec.replace(",", "")) == pytest.approx(int(batch) * 1000 / float(ms), rel=0.01)


def test_quality_scores_the_chosen_models_and_variants_on_the_eval_split(tiny, tmp_path, capsys):
    out = _out(tmp_path)
    argv = ["quality", "--transform", tiny["transform"], "--config", tiny["config"], *QUICK,
            "--models", "random", "deepnorm-default", "lightgbm-continuous",
            "--variant", "sgd:model.training.optimizer=sgd", "--out", out]  # fmt: skip
    assert main(argv) == 0
    table = _appended(out, capsys.readouterr().out)
    assert (
        "--models random deepnorm-default lightgbm-continuous --variant sgd:model.training.optimizer=sgd`"
        in table
    )
    assert "- Eval split: 100 candidates of 5 requests" in table
    rows = _rows(table)
    assert [row[0] for row in rows] == [
        "deepnorm-default",
        "lightgbm-continuous",
        "random",
        "sgd",
    ]  # MODELS order
    training = _column(table, "training")
    assert rows[0][training].startswith("4 steps") and rows[3][training].startswith("4 steps")
    assert all(0.0 <= float(row[1]) <= 1.0 for row in rows)  # AUC
    # Under it, the default against every other row, paired over the same 5 eval requests.
    paired = _rows(table, which=1)
    assert [row[0] for row in paired] == ["lightgbm-continuous", "random", "sgd"]
    verdicts = ("ahead", "behind", "tie")
    assert all(row[2] in verdicts and row[4] in verdicts for row in paired)


def test_quality_trains_the_fair_lightgbm_on_the_raw_examples(tiny, tmp_path, capsys):
    out = _out(tmp_path)
    argv = ["quality", "--transform", tiny["transform"], "--examples", tiny["examples"],
            "--config", tiny["config"], "--models", "lightgbm", "--seeds", "2", "--out", out]  # fmt: skip
    assert main(argv) == 0
    table = _appended(out, capsys.readouterr().out)
    assert f"--transform {tiny['transform']} --examples {tiny['examples']} --config" in table
    assert "--models lightgbm --seeds 2`" in table
    assert "- Seeds: every row is the mean of 2 trainings" in table
    assert (
        "- `lightgbm` inputs: 2 continuous features as they are (NaN when absent); 1 ids as categorical"
        in table
    )
    [row] = _rows(table)
    assert row[0] == "lightgbm" and 0.0 <= float(row[1]) <= 1.0
    # Train holds all 15 requests (bench_tiny): 2 of them decide early stopping, for each seed.
    training, seconds = _column(table, "training"), _column(table, "training time")
    assert "trees of 31 leaves" in row[training] and row[training].count("on 2 of 15 train requests") == 2
    assert row[seconds].endswith(" s")
    per_seed = row[_column(table, "per seed: AUC / recall (10, 3)")].split(", ")
    aucs = [float(pair.split(" / ")[0]) for pair in per_seed]
    assert len(aucs) == 2 and float(row[1]) == pytest.approx(sum(aucs) / 2, abs=1e-4)


def test_pipeline_checks_its_arguments_before_writing_anything(tiny, tmp_path, capsys):
    root = tmp_path / "bench"
    assert main(["pipeline", "--requests", "0", "--root", str(root)]) == 2
    _one_line_error(capsys, "--requests=0 is invalid")
    assert main(["pipeline", "--requests", "3", "--root", str(root), "--set", "model.nope=1"]) == 2
    _one_line_error(capsys, "model.nope")
    assert not root.exists()
    foreign = tmp_path / "runs"
    (foreign / "pipeline").mkdir(parents=True)
    assert main(["pipeline", "--requests", "3", "--root", str(foreign), "--seed", "-1"]) == 2
    _one_line_error(capsys, "--seed=-1 is invalid")
    assert main(["pipeline", "--requests", "3", "--root", str(foreign)]) == 2
    _one_line_error(capsys, f"--root {foreign} is not empty")
    assert os.listdir(foreign) == ["pipeline"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["serving", "--model", "{missing}", "--data", "{data}"], "is not an exported model"),
        (["comparators", "--model", "{missing}", "--data", "{data}", "--label", "label.top3"],
         "is not an exported model"),
        (["serving", "--model", "{serving}", "--seconds", "0"], "--seconds=0.0 is invalid"),
        (["comparators", "--model", "{serving}", "--seconds", "-1"], "--seconds=-1.0 is invalid"),
        (["serving", "--model", "{serving}", "--batch-sizes", "0"], "--batch-sizes=[0] is invalid"),
        (["serving", "--model", "{serving}", "--batch-sizes", "10", "-5"], "--batch-sizes=[10, -5] is"),
        (["serving", "--model", "{serving}", "--threads", "-1"], "--threads=[-1] is invalid"),
        (["serving", "--model", "{serving}", "--data", "{missing}"], "does not exist"),
        (["training", "--transform", "{missing}"], "is not a Transform output"),
        (["training", "--transform", "{transform}", "--batch-sizes", "0"], "--batch-sizes=[0] is invalid"),
        (["training", "--transform", "{transform}", "--steps", "0"], "--steps=0"),
        (["training", "--transform", "{transform}", "--config", "{missing}"], "{missing}"),
        (["quality", "--transform", "{missing}"], "is not a Transform output"),
        (["quality", "--transform", "{transform}", "--variant", "no colon"], "--variant: variant 'no colon'"),
        (["quality", "--transform", "{transform}", "--seeds", "0"], "--seeds=0 is invalid"),
        (["quality", "--transform", "{transform}", "--set", "model.kind=xgboost"], "xgboost"),
        (["quality", "--transform", "{transform}", "--config", "{config}", "--models", "lightgbm"],
         "does not record which examples"),
        (["quality", "--transform", "{transform}", "--examples", "{missing}", "--models", "lightgbm"],
         "has no files in Split-train, Split-eval"),
    ],
)  # fmt: skip
def test_bad_inputs_exit_2_with_one_line(tiny, tmp_path, capsys, argv, needle):
    paths = {**tiny, "missing": str(tmp_path / "nothing-here")}
    assert main([arg.format(**paths) for arg in argv]) == 2
    _one_line_error(capsys, needle.format(**paths))
    assert capsys.readouterr().out == ""


#: The Evaluator's wall time in the stores `_pipeline_store` writes (at least: ML Metadata's clock).
EVALUATOR_SECONDS = 0.3


def _pipeline_store(
    path: str, pipeline: str, examples: str, runs: list[tuple[str, str, tuple[str, ...]]]
) -> str:
    """An ML Metadata store laid out as TFX records runs, with one execution per run.

    Each of `runs`, oldest first, is `(run id, component, input keys)`: the component's execution
    reads `examples` under the key `examples` and a model under every other key. ML Metadata
    stamps the times itself: the execution is recorded running, then complete
    `EVALUATOR_SECONDS` later, which is the wall time `lightrank runs` and the benchmarks read.
    """
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = mlmd.MetadataStore(config)

    def context(kind: str, name: str) -> pb.Context:
        found = store.get_context_by_type_and_name(kind, name)
        if found is None:
            [context_id] = store.put_contexts(
                [pb.Context(type_id=store.put_context_type(pb.ContextType(name=kind)), name=name)]
            )
            found = store.get_contexts_by_id([context_id])[0]
        return found

    def artifact(type_name: str, uri: str) -> pb.Artifact:
        return pb.Artifact(type_id=store.put_artifact_type(pb.ArtifactType(name=type_name)), uri=uri)

    [examples_id] = store.put_artifacts([artifact("Examples", examples)])
    for run_id, component, keys in runs:
        run = context("pipeline_run", run_id)
        store.put_parent_contexts(
            [pb.ParentContext(child_id=run.id, parent_id=context("pipeline", pipeline).id)]
        )
        inputs = []
        for key in keys:
            event = pb.Event(type=pb.Event.INPUT)
            event.path.steps.add().key = key
            event.path.steps.add().index = 0
            read = (
                store.get_artifacts_by_id([examples_id])[0] if key == "examples" else artifact("Model", key)
            )
            inputs.append((read, event))
        execution = pb.Execution(
            type_id=store.put_execution_type(pb.ExecutionType(name=f"tfx.components.{component}")),
            last_known_state=pb.Execution.RUNNING,
        )
        contexts = [context("pipeline", pipeline), run, context("node", f"{pipeline}.{component}")]
        execution.id, _, _ = store.put_execution(execution, inputs, contexts)
        time.sleep(EVALUATOR_SECONDS)
        execution.last_known_state = pb.Execution.COMPLETE
        store.put_executions([execution])
    return path


def _number(cell: str) -> float:
    """A table cell as a number: `12,345` or a ratio `0.123x`."""
    return float(cell.replace(",", "").removesuffix("x"))


def _leftovers() -> list[str]:
    return [
        name for name in os.listdir(tempfile.gettempdir()) if name.startswith("lightrank-bench-evaluation-")
    ]


def test_evaluation_puts_lightrank_eval_and_each_evaluator_beside_plain_serving(tiny, tmp_path, capfd):
    pipeline = load_config(tiny["config"]).name
    store = _pipeline_store(str(tmp_path / "metadata.db"), pipeline, tiny["examples"], [
        ("run-1", "Evaluator", ("examples", "model")),
        ("run-2", "Evaluator", ("examples", "model", "baseline_model")),  # the Tuner's run: two models
    ])  # fmt: skip
    before = _leftovers()
    out = _out(tmp_path)
    labels = [item for label in ("sample", "large", "other") for item in ("--evaluator", f"{label}={store}")]
    argv = ["evaluation", "--model", tiny["serving"], "--data", tiny["data"], "--config", tiny["config"],
            *labels, "--seconds", "0.5", "--out", out]  # fmt: skip
    assert main(argv) == 0
    printed = capfd.readouterr().out
    table = _appended(out, printed)
    assert (
        printed.index("[1/5] Plain serving")
        < printed.index("[2/5] lightrank eval")
        < printed.index("[3/5] Evaluator `sample`")
        < printed.index("[5/5] Evaluator `other`")
        < printed.index("### Evaluation speed")
    )
    assert f"- Command: `lightrank-bench evaluation --model {tiny['serving']} --data {tiny['data']}" in table
    assert f"--evaluator other={store} --seconds 0.5`" in table
    assert "newer runs skipped: run-2 (Evaluator also evaluated a baseline model)" in table
    rows = _rows(table)
    assert [row[0] for row in rows] == [
        "plain serving: `serving_default`, batch 1,000, all cores",
        f"`lightrank eval`, config `{pipeline}`",
        "Evaluator `sample` (run run-1)",
        "Evaluator `large` (run run-1)",
        "Evaluator `other` (run run-1)",
    ]
    what, candidates, seconds, per_sec, ratio, goal, met = (
        _column(table, name)
        for name in ("what", "candidates", "seconds", "candidates/s", "vs serving", "goal", "goal met")
    )
    # The eval split of the tiny examples (bench_tiny): the last 5 requests of 20 candidates.
    assert [row[candidates] for row in rows[1:]] == ["300", "100", "100", "100"]
    assert _number(rows[0][candidates]) % 1_000 == 0 and rows[0][ratio] == "1.00x"
    assert all(_number(row[seconds]) >= EVALUATOR_SECONDS - 0.01 for row in rows[2:])
    reference = _number(rows[0][per_sec])
    for row in rows:
        assert _number(row[per_sec]) == pytest.approx(
            _number(row[candidates]) / _number(row[seconds]), rel=0.03
        )
        assert _number(row[ratio]) == pytest.approx(_number(row[per_sec]) / reference, rel=0.02), row[what]
    assert [(row[goal], row[met]) for row in rows] == [
        ("–", "–"),  # the reference
        (">= 10,000 candidates/s", "not met"),  # TFMA's start-up alone takes seconds on 300 candidates
        ("<= 10 s", "met"),
        ("<= 90 s", "met"),
        ("–", "–"),  # a label without a goal
    ]
    assert _leftovers() == before  # `lightrank eval`'s outputs and the log are gone


#: Stores with runs, none of which has an Evaluator that ran on one model.
BAD_STORES: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "no_evaluator": [("run-1", "ImportExampleGen", ())],
    "baseline_only": [("run-1", "Evaluator", ("examples", "model", "baseline_model"))],
}


@pytest.mark.parametrize(
    ("evaluator", "needle"),
    [
        ("sample", "--evaluator 'sample' is invalid: expected LABEL=METADATA_SQLITE"),
        ("sample={missing}", "--evaluator sample={missing}: no ML Metadata store at {missing}"),
        ("sample={config}", "is not an ML Metadata store"),
        ("sample={no_evaluator}", "has an Evaluator that completed on one model (run-1 (no Evaluator))"),
        ("sample={baseline_only}", "(run-1 (Evaluator also evaluated a baseline model))"),
    ],
    ids=["no =", "missing file", "not a store", "no Evaluator run", "only with a baseline"],
)  # fmt: skip
def test_evaluation_rejects_a_bad_evaluator_before_measuring_anything(
    tiny, tmp_path, capsys, evaluator, needle
):
    pipeline = load_config(tiny["config"]).name
    paths = {**tiny, "missing": str(tmp_path / "nothing-here.db")}
    for name, runs in BAD_STORES.items():
        if f"{{{name}}}" in evaluator:
            paths[name] = _pipeline_store(str(tmp_path / f"{name}.db"), pipeline, tiny["examples"], runs)
    before = _leftovers()
    out = _out(tmp_path)
    argv = ["evaluation", "--model", tiny["serving"], "--data", tiny["data"], "--config", tiny["config"],
            "--evaluator", evaluator.format(**paths), "--out", out]  # fmt: skip
    assert main(argv) == 2
    _one_line_error(capsys, needle.format(**paths))
    assert capsys.readouterr().out == ""
    with open(out) as f:
        assert f.read() == "an earlier table\n"
    assert _leftovers() == before


def test_python_m_runs_the_same_command(tmp_path):
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    argv = [sys.executable, "-m", "lightrank_bench", "pipeline", "--requests", "0", "--root", str(tmp_path)]
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == "lightrank-bench: error: --requests=0 is invalid: expected a positive " \
        "number of requests"  # fmt: skip
    help_text = subprocess.run([sys.executable, "-m", "lightrank_bench", "--help"], capture_output=True,
                               text=True, env=env, check=True).stdout  # fmt: skip
    assert help_text.startswith("usage: lightrank-bench")
    assert "{serving,comparators,training,quality,pipeline,evaluation}" in help_text
