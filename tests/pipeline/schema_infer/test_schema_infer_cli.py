"""`lightrank schema infer` through `lightrank.cli.main`, on a tiny catalog of every kind of feature.

The written files must work as they are: the feature spec resolves against the schema, the
config loads and its names check, and the schema accepts the data it came from. Bad input exits
2 with one line naming the culprit and writes nothing.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from google.protobuf import text_format
from schema_infer_data import write_catalog, write_records
from tensorflow_metadata.proto.v0 import schema_pb2

from lightrank.cli import main
from lightrank.models.features import resolve_files
from lightrank.models.yaml_loader import load_yaml
from lightrank.pipeline.config import SAMPLE_CONFIG, DataConfig, load_config
from lightrank.pipeline.config.names import check_config_names

OUT = "schema/catalog"


def run(cwd: Path, *argv: str) -> tuple[int, str, str]:
    """`lightrank schema infer ARGV` run from `cwd`: exit status, stdout, stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = main(["schema", "infer", *argv])
    finally:
        os.chdir(previous)
    return status, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory holding the catalog in `data/` (2 gzipped files, 400 examples)."""
    work = tmp_path_factory.mktemp("work")
    write_catalog(str(work / "data"))
    return work


@pytest.fixture(scope="module")
def guessed(work: Path) -> str:
    """The summary of one run with every role guessed, written to `schema/catalog`."""
    status, out, err = run(work, "--data", "data/*.gz", "--out", OUT)
    assert status == 0, err
    return out


def _features(path: Path) -> dict[str, schema_pb2.Feature]:
    schema = text_format.Parse(path.read_text(), schema_pb2.Schema())
    assert list(schema.default_environment) == ["TRAINING", "SERVING"]
    return {feature.name: feature for feature in schema.feature}


def test_every_role_is_guessed_and_the_summary_says_why(guessed: str):
    assert "Read 400 examples from 2 files:" in guessed
    assert (
        "request key: query_id (INT in [1000, 1049], always present, 50 distinct values; "
        "guessed: name contains 'query')" in guessed
    )
    assert "label: clicked (FLOAT 0/1, always present; guessed: name contains 'clicked'" in guessed
    assert "-> task clicked" in guessed and "label: relevance (FLOAT in [0.125, 1]" in guessed
    assert (
        "weight: ref_rank (INT in [0, 7], always present, 8 distinct values; guessed: name contains 'rank')"
        in guessed
    )
    score = "heavy score: ref_score (FLOAT in [0.2, 0.9], always present; guessed: name contains 'score' and"
    assert f"{score} 'ref')" in guessed
    assert "Partial presence: item_ctr (75.0%)" in guessed
    assert "Multi-valued: item_tags (0-5 values)" in guessed
    assert "String domains: item_tags (12 values); viewer_country (5 values)" in guessed
    assert "Ignored (not model inputs): ts: timestamp-like INT (name contains 'ts')" in guessed
    assert "Review before your first run:" in guessed
    assert "pass --request-key, --label, --weight, --heavy-score to choose others" in guessed
    assert "breaks the schema" not in guessed  # the schema accepts the data it came from
    assert guessed.rstrip().endswith(f"Next: lightrank run --config {OUT}/config.yaml")


def test_the_schema_follows_the_project_conventions(work: Path, guessed: str):
    text = (work / OUT / "schema.pbtxt").read_text()
    assert text.startswith("# Inferred by `lightrank schema infer` on ")
    assert "#   --data data/*.gz (2 files, 400 examples)" in text
    features = _features(work / OUT / "schema.pbtxt")
    assert not any(feature.HasField("shape") for feature in features.values())
    key = features["query_id"]
    assert (key.type, key.value_count.min, key.value_count.max) == (schema_pb2.INT, 1, 1)
    assert (key.presence.min_fraction, key.presence.min_count) == (1.0, 1)
    assert key.int_domain.min == 0 and not key.not_in_environment
    partial = features["item_ctr"]  # absent from a quarter: half the share seen, rounded down
    assert partial.presence.min_fraction == 0.37 and partial.presence.min_count == 1
    assert (partial.float_domain.min, partial.float_domain.max) == (0, pytest.approx(1e15))  # float32
    assert not partial.float_domain.disallow_nan and not partial.not_in_environment
    tags = features["item_tags"]
    assert (tags.value_count.min, tags.value_count.max, tags.presence.min_fraction) == (0, 5, 1.0)
    assert len(tags.string_domain.value) == 12
    assert sorted(features["viewer_country"].string_domain.value) == ["BR", "GB", "IN", "JP", "US"]
    assert not features["item_id"].HasField("string_domain")
    for label in ("clicked", "relevance"):
        domain = features[label].float_domain
        assert (domain.min, domain.max, domain.disallow_nan, domain.disallow_inf) == (0, 1, True, True)
    for reserved in ("clicked", "relevance", "ref_rank", "ref_score"):
        assert list(features[reserved].not_in_environment) == ["SERVING"]
    assert features["ref_rank"].int_domain.min == 0 and features["ts"].type == schema_pb2.INT


def test_the_feature_spec_resolves_and_the_config_runs_as_written(
    work: Path, guessed: str, monkeypatch: pytest.MonkeyPatch
):
    out = work / OUT
    features = resolve_files(out / "schema.pbtxt", out / "feature_spec.yaml")
    assert (features.request_key, features.example_weight, features.heavy_score) == (
        "query_id",
        "ref_rank",
        "ref_score",
    )
    assert dict(features.labels) == {"clicked": "clicked", "relevance": "relevance"}
    assert features.continuous == ("item_age_hours", "item_ctr")
    assert features.sparse == ("item_id", "item_tags", "viewer_country")  # ts is ignored
    text = (out / "config.yaml").read_text()
    assert "Relative paths are relative to the" in text and "e.g. [[viewer_country]]" in text
    monkeypatch.chdir(work)  # relative paths, as given on the command line
    config = load_config(out / "config.yaml")
    assert check_config_names(config) == features
    assert (config.name, config.model.kind, config.model.task) == ("catalog", "deepnorm", "clicked")
    assert config.data.path == str(work / "data" / "*.gz")
    assert config.schema.path == str(out / "schema.pbtxt")
    assert config.root == str(work / "runs" / "catalog" / "pipeline")
    assert config.metadata.sqlite == str(work / "runs" / "catalog" / "metadata.db")
    sample = load_config(SAMPLE_CONFIG)
    assert config.evaluation.thresholds == sample.evaluation.thresholds
    assert config.evaluation.slices == [] and config.beam_args == sample.beam_args


def test_named_splits_become_data_splits(work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    out = tmp_path / "named"
    status, summary, err = run(
        work,
        "--data",
        "train=data/part-0*",
        "--data",
        "eval=data/part-1*",
        "--out",
        str(out),
        "--name",
        "cat-2",
    )
    assert status == 0, err
    assert "  --data train=data/part-0*: 1 file, 200 examples" in summary
    data = load_yaml((out / "config.yaml").read_text())["data"]
    assert data == {"splits": {"train": "data/part-0*", "eval": "data/part-1*"}}
    if "splits" in DataConfig.model_fields:  # named input splits (data.splits) are in this tree
        monkeypatch.chdir(work)
        config = load_config(out / "config.yaml")
        check_config_names(config)
        assert config.name == "cat-2" and config.data.splits["eval"] == str(work / "data" / "part-1*")


def test_a_full_out_dir_is_refused_and_overwrite_replaces_it_with_the_given_roles(work: Path, tmp_path: Path):
    out = tmp_path / "picked"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    flags = ["--request-key", "query_id", "--label", "relevance", "--label", "clicked"]
    flags += ["--weight", "ref_rank", "--heavy-score", "ref_score", "--name", "picked"]
    status, _, err = run(work, "--data", "data", "--out", str(out), *flags)
    assert (
        status == 2
        and err == f"lightrank: error: --out {out} exists and is not empty; pass --overwrite to replace it\n"
    )
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    status, summary, err = run(work, "--data", "data", "--out", str(out), *flags, "--overwrite")
    assert status == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "feature_spec.yaml", "schema.pbtxt"]
    assert (
        "label: relevance (FLOAT in [0.125, 1], always present; given by --label) -> task relevance"
        in summary
    )
    assert "50 distinct values; given by --request-key)" in summary
    assert "to choose others" not in summary
    config = load_yaml((out / "config.yaml").read_text())
    assert (config["name"], config["model"]["task"], config["data"]["path"]) == (
        "picked",
        "relevance",
        "data",
    )
    assert [p.name for p in tmp_path.iterdir()] == ["picked"]  # no staging or old copy left behind


def test_nan_in_a_label_is_reported_before_the_first_run(tmp_path: Path):
    def nan_relevance(features: dict[str, list]) -> dict[str, list]:
        if features["query_id"] == [1003] and features["ref_rank"] == [0]:
            features["relevance"] = [math.nan]
        return features

    write_catalog(str(tmp_path / "data"), files=1, change=nan_relevance)
    status, summary, err = run(tmp_path, "--data", "data", "--out", "out")
    assert status == 0, err
    (line,) = [line for line in summary.splitlines() if "breaks the schema" in line]
    assert "relevance: " in line and "NaN" in line


def _no_score(root: Path, data: Path) -> list[str]:
    write_catalog(str(root / "noscore"), 1, lambda f: {k: v for k, v in f.items() if k != "ref_score"})
    return ["--data", str(root / "noscore")]


def _text(root: Path, data: Path) -> list[str]:
    (root / "text").mkdir()
    (root / "text" / "notes.txt").write_text("not a record " * 20)
    return ["--data", str(root / "text")]


def _records(name: str, records: list[bytes]) -> Callable[[Path, Path], list[str]]:
    def write(root: Path, data: Path) -> list[str]:
        return ["--data", os.path.dirname(write_records(str(root / name / "part.gz"), records))]

    return write


def _with(*flags: str) -> Callable[[Path, Path], list[str]]:
    return lambda root, data: [flag.replace("DATA", str(data)) for flag in flags]


#: Case -> (the arguments, given a scratch root and the catalog; what the one error line names).
BAD_INPUTS: dict[str, tuple[Callable[[Path, Path], list[str]], list[str]]] = {
    "no file matches": (_with("--data", "DATA/*.tfrecord"), ["data/*.tfrecord matches no file"]),
    "a file": (_with("--data", "DATA/part-0.tfrecord.gz"), ["part-0.tfrecord.gz is a file"]),
    "not TFRecord": (_text, ["text/notes.txt is not a readable TFRecord file"]),
    "not tf.Example": (_records("raw", [b"\xff" * 9] * 3), ["raw/part.gz: record 0 is not a serialized"]),
    "zero examples": (_records("empty", []), ["no examples: the 1 file of --data", "hold no record"]),
    "unknown label": (
        _with("--data", "DATA", "--label", "clikced"),
        ["--label 'clikced': no such feature in the data; closest: clicked"],
    ),
    "label outside [0, 1]": (
        _with("--data", "DATA", "--label", "ref_rank"),
        ["--label 'ref_rank': label has values in [0, 7]; a label must lie in [0, 1]"],
    ),
    "role not guessed": (_no_score, ["could not guess the heavy score", "pass --heavy-score NAME"]),
    "split missing": (_with("--data", "train=DATA"), ["must include train and eval; missing: eval"]),
    "bad name": (_with("--data", "DATA", "--name", "My_Catalog"), ["--name 'My_Catalog': a pipeline name"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_naming_the_culprit_and_writes_nothing(
    case: str, work: Path, tmp_path: Path
):
    arguments, culprits = BAD_INPUTS[case]
    root = tmp_path / "root"
    root.mkdir()
    argv = arguments(root, work / "data")
    status, out, err = run(tmp_path, *argv, "--out", "out/schema")
    assert status == 2, out + err
    assert err.startswith("lightrank: error: ") and err.count("\n") == 1, err
    for culprit in culprits:
        assert culprit in err
    assert not (tmp_path / "out").exists() and out == ""
