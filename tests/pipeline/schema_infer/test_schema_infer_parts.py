"""The small rules of `lightrank.pipeline.schema_infer`: presence bounds, names, quoting, `--data`."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightrank.models.yaml_loader import load_yaml
from lightrank.pipeline.schema_infer import SchemaInferError
from lightrank.pipeline.schema_infer.roles import words
from lightrank.pipeline.schema_infer.schema import min_fraction
from lightrank.pipeline.schema_infer.sources import resolve_sources
from lightrank.pipeline.schema_infer.writer import commented, pipeline_name, yaml_scalar


@pytest.mark.parametrize(
    ("fraction", "bound"),
    [(1.0, 0.5), (0.75, 0.37), (0.905, 0.45), (0.131, 0.065), (0.0041, 0.002), (0.0, 0.0)],
)
def test_min_fraction_is_half_the_share_rounded_down_to_two_digits(fraction: float, bound: float):
    assert min_fraction(fraction) == bound


def test_words_split_names_at_punctuation_and_camel_case():
    assert words("meta.ranking.is_top3") == ("meta", "ranking", "is", "top3")
    assert words("heavyRankPos") == ("heavy", "rank", "pos")
    assert words("ref_rank") == ("ref", "rank")


@pytest.mark.parametrize(
    "text", ["clicked", "label.sent", "data/*.gz", "on", "1e5", "it's", "a: b", "x #y", "null"]
)
def test_yaml_scalars_read_back_as_the_same_string(text: str):
    assert load_yaml(f"key: {yaml_scalar(text)}") == {"key": text}
    assert load_yaml(commented(f"key: {yaml_scalar(text)}", "why", column=4)) == {"key": text}


def test_pipeline_names_come_from_the_out_directory_or_a_checked_flag():
    assert pipeline_name("schema/My Catalog!", None) == "my-catalog"
    assert pipeline_name("out/2024", None) == "lightrank-2024"
    assert pipeline_name("out/x", "team-a") == "team-a"
    with pytest.raises(SchemaInferError, match="--name 'Team_A'"):
        pipeline_name("out/x", "Team_A")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (["DATA", "DATA"], "give one --data GLOB"),
        (["train=DATA", "DATA"], "give one --data GLOB"),
        (["train=DATA", "train=DATA", "eval=DATA"], "names the split 'train' twice"),
        (["Train=DATA", "eval=DATA"], "a split name is lower-case letters"),
        (["train=DATA/a*", "eval=DATA/*"], "a.gz is matched by both --data train="),
        (["gs://bucket/data"], "reads local files only"),
    ],
)
def test_data_arguments_a_config_cannot_express_are_refused(data: list[str], message: str, tmp_path: Path):
    (tmp_path / "a.gz").write_bytes(b"")
    with pytest.raises(SchemaInferError, match=message.replace("*", r"\*")):
        resolve_sources([value.replace("DATA", str(tmp_path)) for value in data])


def test_named_sources_keep_the_patterns_as_given(tmp_path: Path):
    for name in ("train", "eval"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "part.gz").write_bytes(b"")
    train, eval_ = resolve_sources([f"train={tmp_path}/train", f"eval={tmp_path}/eval/*.gz"])
    assert (train.split, train.pattern, train.files) == (
        "train",
        f"{tmp_path}/train",
        (f"{tmp_path}/train/part.gz",),
    )
    assert eval_.label == f"eval={tmp_path}/eval/*.gz"
