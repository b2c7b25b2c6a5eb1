"""`lightrank eval` on data without the model's label: exit 2, one line naming the label, file and record.

Before, TFMA failed minutes in with exit 1 and "add_input failed on <..._StreamingCombiner
object ...> 'labels': None", naming neither. The model here is a stand-in scorer carrying the
sample features' `ModelAsset`, so the command needs no `--config` and no training.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tensorflow as tf

from lightrank.cli import main
from lightrank.models.export import ModelAsset, write_model_asset
from lightrank.models.features import load_schema, resolve_files
from lightrank.pipeline.eval.predictions import CandidateColumns

pytestmark = pytest.mark.faults

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schema" / "sample" / "schema.pbtxt"
FEATURE_SPEC = REPO / "schema" / "sample" / "feature_spec.yaml"
#: The label of the task the model asset names (schema/sample/feature_spec.yaml).
TASK, LABEL = "HeavyRankPosition", "meta.ranking.is_top3"
#: Candidates written, and the first one without the label: past the head of the file.
CANDIDATES, UNLABELLED_FROM = 40, 30


class _Scorer(tf.Module):
    """Scores every candidate 0.5: enough for an evaluation to start."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"prediction": tf.fill([tf.shape(examples)[0], 1], 0.5)}


def _candidate(index: int) -> bytes:
    feature = {
        "meta.trace_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[index // 10])),
        "meta.ranking.weighted_oonc_model_score": tf.train.Feature(
            float_list=tf.train.FloatList(value=[index / CANDIDATES])
        ),
        "meta.weight": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0])),
    }
    if index < UNLABELLED_FROM:
        feature[LABEL] = tf.train.Feature(int64_list=tf.train.Int64List(value=[index % 2]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_eval_on_data_without_the_label_is_one_line_naming_label_file_and_record(tmp_path, capfd):
    model = str(tmp_path / "model")
    scorer = _Scorer()
    tf.saved_model.save(scorer, model, signatures={"serving_default": scorer.serve})
    features = resolve_files(SCHEMA, FEATURE_SPEC)
    dtypes = CandidateColumns.from_features(features, load_schema(SCHEMA)).dtypes
    write_model_asset(model, ModelAsset(features, TASK, {name: d.name for name, d in dtypes.items()}))
    data = tmp_path / "data" / "part-0.tfrecord"
    data.parent.mkdir()
    with tf.io.TFRecordWriter(str(data)) as writer:
        for index in range(CANDIDATES):
            writer.write(_candidate(index))
    out = tmp_path / "out"

    code = main(["eval", "--model", model, "--data", str(data), "--out", str(out)])
    err = capfd.readouterr().err
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err[-2000:]
    assert err.startswith("lightrank: error: ")
    assert f"{data}: record {UNLABELLED_FROM} has no value of the label '{LABEL}'" in err
    assert len(err) < 400
    assert not out.exists()  # a user error leaves nothing behind
