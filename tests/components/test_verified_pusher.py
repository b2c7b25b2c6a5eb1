"""The verified Pusher: a push is complete and loadable, or nothing is at the version path."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils
from tiny_transform import RAW_SPEC, TINY_FEATURES, write_transform_graph

from lightrank.components import verified_pusher
from lightrank.components.verified_pusher import (
    ALREADY_PUSHED_PROPERTY,
    PUSHED_FROM_FILE,
    SKIPPED_PROPERTY,
    PushTargetError,
    PushVerificationError,
    VerifiedPusherExecutor,
)
from lightrank.errors import UserError
from lightrank.models.deepnorm.config import DeepNormConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker
from lightrank.models.export import export_serving_model
from lightrank.models.features import CONTINUOUS, SPARSE_IDS

BITS = 6
FEATURES = TINY_FEATURES


def _row(i: int) -> dict[str, object]:
    return {
        "u.age": [float(10 * i)],
        "u.opens": [float(i % 4)] if i % 3 else [],
        "c.likes": [float(i)],
        "c.source": [[b"in", b"oon"][i % 2]],
        "u.id": [i + 1],
        "meta.key": i // 4,
        "meta.weight": 1.0,
        "meta.score": 0.5,
        "label.top3": i % 2,
    }


@pytest.fixture(scope="module")
def trainer_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Trainer's Model artifact directory: a tiny DeepNorm export in `Format-Serving`."""
    work = tmp_path_factory.mktemp("trainer")
    transform_output = write_transform_graph(
        [_row(i) for i in range(16)], RAW_SPEC, FEATURES, BITS, str(work / "transform")
    )
    config = DeepNormConfig(input_size_bits=BITS, sparse_embedding_size=2, dense_embedding_size=4)
    model = deepnorm_light_ranker(config, len(FEATURES.continuous))
    settings = {"kind": "deepnorm", "task": "HeavyRankPosition", "deepnorm": config.model_dump(mode="json")}
    uri = work / "model"
    export_serving_model(
        model, transform_output, FEATURES, (CONTINUOUS, SPARSE_IDS), str(uri / "Format-Serving"), settings
    )
    return str(uri)


def _run(model_uri: str, serving_dir: Path, out: Path, blessed: int = 1) -> standard_artifacts.PushedModel:
    """One Pusher execution, as TFX's launcher calls it; returns its PushedModel."""
    model = standard_artifacts.Model()
    model.uri = model_uri
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(out / "blessing")
    blessing.set_int_custom_property("blessed", blessed)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(out / "pushed_model")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(serving_dir))
    )
    VerifiedPusherExecutor().Do(
        {"model": [model], "model_blessing": [blessing]},
        {"pushed_model": [pushed]},
        {"push_destination": proto_utils.proto_to_json(destination)},
    )
    return pushed


def _versions(serving_dir: Path) -> list[str]:
    """Everything in the serving dir, hidden temporaries included."""
    return sorted(os.listdir(serving_dir)) if serving_dir.exists() else []


def _scores(version_dir: str) -> np.ndarray:
    serve = tf.saved_model.load(version_dir).signatures["serving_default"]
    empty = tf.train.Example().SerializeToString()
    return serve(examples=tf.constant([empty] * 3))["prediction"].numpy()


def _enospc_on_saved_model(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Makes the copy fail with a full disk at `saved_model.pb`, after the variables are written."""
    copied: list[str] = []
    real = verified_pusher._copy_file

    def copy(src: str, dst: str) -> None:
        if os.path.basename(src) == "saved_model.pb":
            raise OSError(errno.ENOSPC, "No space left on device", dst)
        real(src, dst)
        copied.append(os.path.relpath(src))

    monkeypatch.setattr(verified_pusher, "_copy_file", copy)
    return copied


def test_a_blessed_model_is_pushed_complete_loadable_and_fingerprinted(trainer_model, tmp_path):
    serving = tmp_path / "serving"
    pushed = _run(trainer_model, serving, tmp_path)
    versions = _versions(serving)
    assert len(versions) == 1 and versions[0].isdigit()
    version_dir = str(serving / versions[0])
    # TFX's own properties, as its executor writes them.
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_destination") == version_dir
    assert pushed.get_string_custom_property("pushed_version") == versions[0]
    assert os.path.isfile(os.path.join(pushed.uri, "saved_model.pb"))  # the archive copy, as TFX
    scores = _scores(version_dir)
    assert scores.shape == (3, 1) and np.all((scores >= 0) & (scores <= 1))
    with open(os.path.join(version_dir, PUSHED_FROM_FILE)) as f:
        fingerprint = json.load(f)
    assert fingerprint["model_uri"] == trainer_model and len(fingerprint["sha256"]) == 64


def test_an_unblessed_model_is_not_pushed(trainer_model, tmp_path):
    pushed = _run(trainer_model, tmp_path / "serving", tmp_path, blessed=0)
    assert pushed.get_int_custom_property("pushed") == 0
    assert _versions(tmp_path / "serving") == []


def test_a_full_disk_midway_leaves_nothing_and_names_the_serving_dir(trainer_model, tmp_path, monkeypatch):
    serving = tmp_path / "serving"
    copied = _enospc_on_saved_model(monkeypatch)
    with pytest.raises(PushTargetError, match=r"serving_dir .*serving failed: no space left") as raised:
        _run(trainer_model, serving, tmp_path)
    assert isinstance(raised.value, UserError)  # the CLI prints one line, exit 2
    assert any("variables" in path for path in copied)  # it did fail midway
    assert _versions(serving) == []  # no version directory, no temporary


def test_a_read_only_serving_dir_is_a_user_error_naming_it(trainer_model, tmp_path, monkeypatch):
    # Tests run as root, which ignores a chmod 0o555: the refusal is simulated where it happens.
    serving = tmp_path / "serving"
    serving.mkdir()

    real = verified_pusher._make_dir

    def refuse(path: str) -> None:  # the serving dir exists; creating anything in it fails
        if os.path.dirname(path) == str(serving):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        real(path)

    monkeypatch.setattr(verified_pusher, "_make_dir", refuse)
    with pytest.raises(PushTargetError, match=r"permission denied \(.*serving/\.\d+\.pushing-"):
        _run(trainer_model, serving, tmp_path)
    assert _versions(serving) == []


def test_a_copy_that_does_not_load_is_refused_before_the_rename(trainer_model, tmp_path, monkeypatch):
    serving = tmp_path / "serving"
    real = verified_pusher._copy_file

    def truncate(src: str, dst: str) -> None:
        real(src, dst)
        if os.path.basename(src) == "saved_model.pb":
            with open(dst, "wb") as f:
                f.write(b"not a SavedModel")

    monkeypatch.setattr(verified_pusher, "_copy_file", truncate)
    with pytest.raises(PushVerificationError, match=r"serving_dir .*serving refused: .*does not load"):
        _run(trainer_model, serving, tmp_path)
    assert _versions(serving) == []


def test_a_second_push_of_the_same_model_is_skipped_and_says_why(trainer_model, tmp_path):
    serving = tmp_path / "serving"
    first = _run(trainer_model, serving, tmp_path / "1")
    second = _run(trainer_model, serving, tmp_path / "2")
    assert len(_versions(serving)) == 1
    assert second.get_int_custom_property("pushed") == 0
    destination = first.get_string_custom_property("pushed_destination")
    assert second.get_string_custom_property(ALREADY_PUSHED_PROPERTY) == destination
    assert "already pushed" in second.get_string_custom_property(SKIPPED_PROPERTY)


def test_a_half_pushed_version_does_not_count_as_pushed(trainer_model, tmp_path):
    # What TFX's own executor left when killed: the version with variables, no saved_model.pb.
    serving = tmp_path / "serving"
    _run(trainer_model, serving, tmp_path / "1")
    (version,) = _versions(serving)
    os.remove(serving / version / "saved_model.pb")
    pushed = _run(trainer_model, serving, tmp_path / "2")
    assert pushed.get_int_custom_property("pushed") == 1
    newest = pushed.get_string_custom_property("pushed_destination")
    assert newest != str(serving / version) and _scores(newest).shape == (3, 1)


def test_the_push_after_a_failed_one_succeeds(trainer_model, tmp_path, monkeypatch):
    serving = tmp_path / "serving"
    with monkeypatch.context() as patch:
        _enospc_on_saved_model(patch)
        with pytest.raises(PushTargetError):
            _run(trainer_model, serving, tmp_path / "1")
    pushed = _run(trainer_model, serving, tmp_path / "2")
    assert pushed.get_int_custom_property("pushed") == 1
    (version,) = _versions(serving)
    assert _scores(str(serving / version)).shape == (3, 1)


def test_a_temporary_left_by_a_killed_push_is_removed_by_the_next(tmp_path):
    from lightrank.components.verified_pusher import TEMPORARY_MARK, remove_abandoned_temporaries

    serving = tmp_path / "serving"
    (serving / f".1700000000{TEMPORARY_MARK}abcd1234" / "variables").mkdir(parents=True)
    (serving / "1700000000").mkdir()
    (serving / ".keep").write_text("not ours")
    assert remove_abandoned_temporaries(str(serving)) == [f".1700000000{TEMPORARY_MARK}abcd1234"]
    assert sorted(os.listdir(serving)) == [".keep", "1700000000"]
