"""The filesystem Pusher, made atomic, verified and idempotent (docs/reliability.md, Push).

TFX 1.16's Pusher executor copies the model straight into `<serving_dir>/<version>`,
`saved_model.pb` last. A SIGKILL, a full disk or a read-only directory in the middle leaves a
version directory with variables but no `saved_model.pb`: a model server's newest version that
does not load, a `model.warm_start_from` target that fails minutes in, and, because the half
pushed model was still the last blessed one, a push condition ("differs from the last blessed
model") that stayed false for ever. `VerifiedPusherExecutor` therefore:

1. Copies the model into a hidden temporary sibling of the version directory (same parent,
   `.<version>.pushing-<random>`), so a model server watching `serving_dir` never sees it
   (TF Serving skips names that are not numbers) and the final rename stays on one filesystem.
2. Writes `pushed_from.json` into it: the Trainer's model artifact URI and a SHA-256 of
   `saved_model.pb` and `variables/variables.index` (the index holds a checksum per tensor,
   so it tells two trainings of one architecture apart). This fingerprint names the model.
3. Verifies the copy: `tf.saved_model.load` and its `serving_default` scoring a few empty
   tf.Examples (every absent feature becomes the missing marker or an empty id list, so a
   working export scores them; the scores must be finite and in [0, 1]).
4. Fsyncs its files and directories (local paths), then renames it to the version path and
   fsyncs the parent: the version appears complete or not at all. On a remote filesystem the
   rename is `tf.io.gfile.rename`; on GCS that is a copy and a delete, not atomic, but the
   verification has happened before it, and the fingerprint is inside the copy.
5. Skips the push, recording `pushed` = 0 and `push_skipped` with the reason, when a complete,
   loadable version with the same fingerprint is already in `serving_dir`: the Pusher runs for
   every blessed model (`lightrank.pipeline.pipeline._push_condition`), and a re-run of an
   unchanged pipeline must not serve a copy.

A failed push removes its temporary, leaves nothing at the version path, raises (so the
execution fails and ML Metadata records no PushedModel) and names the serving dir and the
reason; a full disk, a read-only or unwritable directory is a `PushTargetError`, a `UserError`
(the CLI prints one line and exits 2). The next run pushes again. The PushedModel's `pushed`,
`pushed_destination` and `pushed_version` are written exactly as TFX's executor writes them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import tensorflow as tf
from absl import logging
from tfx import types
from tfx.components.pusher import component as pusher_component
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from lightrank.errors import UserError
from lightrank.models.export import PREDICTION
from lightrank.models.paths import is_remote

#: The fingerprint file inside every version this executor pushes.
PUSHED_FROM_FILE = "pushed_from.json"
#: PushedModel custom property: why a blessed model was not pushed (next to `pushed` = 0).
SKIPPED_PROPERTY = "push_skipped"
#: PushedModel custom property: the complete version that already holds this model.
ALREADY_PUSHED_PROPERTY = "already_pushed_destination"
SAVED_MODEL_FILE = "saved_model.pb"
VARIABLES_INDEX = os.path.join("variables", "variables.index")
SERVING_SIGNATURE = "serving_default"
#: How many empty candidates the verification scores.
PROBE_CANDIDATES = 4
#: Errors of the destination, not of the model or the code: the user frees space or fixes access.
_TARGET_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
_TARGET_OP_ERRORS = (tf.errors.PermissionDeniedError, tf.errors.ResourceExhaustedError)


class PushTargetError(UserError):
    """The serving dir cannot take the model (full, read-only, not writable); nothing was pushed."""


class PushVerificationError(RuntimeError):
    """The copied model does not load or score; nothing was pushed (an export bug, not the user's)."""


def _digest(model_dir: str) -> str:
    """SHA-256 over `saved_model.pb` and the variables index: the model's content, cheaply."""
    digest = hashlib.sha256()
    for name in (SAVED_MODEL_FILE, VARIABLES_INDEX):
        path = os.path.join(model_dir, name)
        if tf.io.gfile.exists(path):
            digest.update(name.encode())
            with tf.io.gfile.GFile(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def model_fingerprint(model_uri: str, model_dir: str) -> dict[str, str]:
    """What names a model in `serving_dir`: the Trainer artifact it came from and its content.

    Args:
        model_uri: The Trainer's Model artifact URI (a cached Trainer hands the same one over).
        model_dir: The SavedModel directory inside it (`Format-Serving`).
    """
    return {"model_uri": model_uri, "sha256": _digest(model_dir)}


def read_fingerprint(version_dir: str) -> dict[str, str] | None:
    """The `pushed_from.json` of a version, or None (pushed by TFX's own executor, or unreadable)."""
    path = os.path.join(version_dir, PUSHED_FROM_FILE)
    try:
        with tf.io.gfile.GFile(path) as f:
            value = json.load(f)
    except (tf.errors.OpError, OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def verify_model(model_dir: str) -> None:
    """Loads `model_dir` and scores a few empty candidates with `serving_default`.

    Empty tf.Examples need no knowledge of the features: the serving parse makes an absent
    continuous value the missing marker and an absent sparse feature an empty id list, so a
    working export scores them like any sparse candidate.

    Raises:
        PushVerificationError: The model does not load, lacks the signature, or scores
            something other than one finite probability per candidate.
    """
    if not tf.io.gfile.exists(os.path.join(model_dir, SAVED_MODEL_FILE)):
        raise PushVerificationError(f"{model_dir} has no {SAVED_MODEL_FILE}")
    try:
        loaded = tf.saved_model.load(model_dir)
        serve = loaded.signatures[SERVING_SIGNATURE]
        examples = tf.constant([tf.train.Example().SerializeToString()] * PROBE_CANDIDATES)
        outputs = serve(examples=examples)
    except Exception as error:  # any failure means: not servable
        raise PushVerificationError(
            f"{model_dir} does not load and score: {type(error).__name__}: {error}"
        ) from error
    if PREDICTION not in outputs:
        raise PushVerificationError(f"{model_dir}: {SERVING_SIGNATURE} returns no {PREDICTION!r}")
    scores = [float(value) for value in tf.reshape(outputs[PREDICTION], [-1]).numpy()]
    if len(scores) != PROBE_CANDIDATES or not all(math.isfinite(s) and 0.0 <= s <= 1.0 for s in scores):
        raise PushVerificationError(
            f"{model_dir} scored {PROBE_CANDIDATES} empty candidates as {scores}, not one probability each"
        )


def find_complete_push(serving_dir: str, fingerprint: dict[str, str]) -> str | None:
    """The newest version in `serving_dir` that holds this model completely and loads, or None.

    Only numeric names are versions (as for TF Serving); hidden temporaries of pushes in
    progress or killed are not. A version
    with the fingerprint that no longer verifies (damaged since) does not count: push again.
    """
    if not tf.io.gfile.isdir(serving_dir):
        return None
    names = (name.rstrip("/") for name in tf.io.gfile.listdir(serving_dir))
    for name in sorted((name for name in names if name.isdigit()), key=int, reverse=True):
        version_dir = os.path.join(serving_dir, name)
        if read_fingerprint(version_dir) != fingerprint:
            continue
        try:
            verify_model(version_dir)
        except PushVerificationError as error:
            logging.warning("%s holds this model but is not servable (%s); pushing again", version_dir, error)
            continue
        return version_dir
    return None


def _copy_file(src: str, dst: str) -> None:
    """One file, with `shutil` locally (an OSError with its errno) and gfile elsewhere."""
    if is_remote(src) or is_remote(dst):
        tf.io.gfile.copy(src, dst, overwrite=True)
    else:
        shutil.copyfile(src, dst)


def _make_dir(path: str) -> None:
    if is_remote(path):
        tf.io.gfile.makedirs(path)
    else:
        os.makedirs(path, exist_ok=True)


def _rename(src: str, dst: str) -> None:
    """The commit: `os.rename` locally (atomic), `tf.io.gfile.rename` elsewhere (GCS: copy + delete)."""
    if is_remote(src):
        tf.io.gfile.rename(src, dst, overwrite=False)
    else:
        os.rename(src, dst)


def _files(root: str) -> Iterator[str]:
    """Relative paths of the files under `root`, `saved_model.pb` last.

    TF Serving and TFX treat `saved_model.pb` as "the model is there"; the temporary is
    never watched, but a killed copy then still looks unfinished to anyone who opens it.
    """
    found = []
    for directory, _, names in tf.io.gfile.walk(root):
        for name in names:
            found.append(os.path.relpath(os.path.join(directory, name), root))
    yield from sorted(found, key=lambda rel: (rel == SAVED_MODEL_FILE, rel))


def copy_model(src: str, dst: str) -> None:
    """Copies the SavedModel directory `src` to `dst` (created), `saved_model.pb` last."""
    _make_dir(dst)
    for rel in _files(src):
        target = os.path.join(dst, rel)
        _make_dir(os.path.dirname(target))
        _copy_file(os.path.join(src, rel), target)


def _fsync_tree(root: str) -> None:
    """Flushes every file and directory under a local `root` to the disk before the rename.

    Without it, a power loss after the rename can leave the renamed directory with empty
    files: the rename is journaled before the data.
    """
    for directory, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(directory, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(directory)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    """Removes a temporary, whatever state it is in; a failure here must not hide the first one."""
    with contextlib.suppress(Exception):
        if tf.io.gfile.exists(path):
            tf.io.gfile.rmtree(path)


def _target_reason(error: BaseException) -> str | None:
    """Why the destination refused a write, if it is the destination's fault; else None."""
    if isinstance(error, OSError) and error.errno in _TARGET_ERRNOS:
        return _TARGET_ERRNOS[error.errno]
    if isinstance(error, _TARGET_OP_ERRORS):
        return error.message
    if isinstance(error, tf.errors.OpError):
        message = error.message.lower()
        for reason in _TARGET_ERRNOS.values():
            if reason in message:
                return reason
    return None


def _version(serving_dir: str) -> str:
    """TFX's UNIX_TIMESTAMP version, moved past any entry already there (never overwrite)."""
    version = int(time.time())
    while tf.io.gfile.exists(os.path.join(serving_dir, str(version))):
        version += 1
    return str(version)


#: What marks a push in progress: `.<version>.pushing-<random>` beside the versions.
TEMPORARY_MARK = ".pushing-"


def remove_abandoned_temporaries(serving_dir: str) -> list[str]:
    """Deletes what killed pushes left (one run per store at a time holds the run lock).

    A push killed with SIGKILL cannot clean up its hidden temporary; the next push removes it,
    so `serving_dir` holds only whole versions again. Returns what was removed.
    """
    removed = []
    for name in tf.io.gfile.listdir(serving_dir) if tf.io.gfile.isdir(serving_dir) else []:
        name = name.rstrip("/")
        if name.startswith(".") and TEMPORARY_MARK in name:
            logging.warning("Removing %s, left by a push that did not finish", name)
            _remove(os.path.join(serving_dir, name))
            removed.append(name)
    return removed


def push_model(model_dir: str, serving_dir: str, version: str, fingerprint: dict[str, str]) -> str:
    """Copies, verifies and renames the model into `<serving_dir>/<version>`; all or nothing.

    Returns:
        The version directory.

    Raises:
        PushTargetError: The serving dir is full, read-only or not writable.
        PushVerificationError: The copy does not load and score.
        OSError, tf.errors.OpError: Any other failure of the copy; nothing was pushed either.
    """
    version_dir = os.path.join(serving_dir, version)
    temporary = os.path.join(serving_dir, f".{version}{TEMPORARY_MARK}{uuid.uuid4().hex[:8]}")
    try:
        _make_dir(serving_dir)
        remove_abandoned_temporaries(serving_dir)
        copy_model(model_dir, temporary)
        with tf.io.gfile.GFile(os.path.join(temporary, PUSHED_FROM_FILE), "w") as f:
            f.write(json.dumps(fingerprint, indent=1, sort_keys=True))
        verify_model(temporary)
        if not is_remote(temporary):
            _fsync_tree(temporary)
        _rename(temporary, version_dir)
        if not is_remote(serving_dir):
            _fsync_dir(serving_dir)
    except BaseException as error:
        _remove(temporary)
        reason = _target_reason(error)
        if reason is not None:
            where = getattr(error, "filename", None) or serving_dir
            raise PushTargetError(
                f"push to serving_dir {serving_dir} failed: {reason} ({where}); nothing was pushed, "
                "the next run pushes again"
            ) from error
        if isinstance(error, PushVerificationError):
            raise PushVerificationError(
                f"push to serving_dir {serving_dir} refused: {error}; nothing was pushed"
            ) from error
        raise
    return version_dir


class VerifiedPusherExecutor(pusher_executor.Executor):
    """TFX's filesystem Pusher, atomic, verified and idempotent (see the module docstring)."""

    def Do(  # noqa: N802  (TFX's executor interface)
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        """Pushes a blessed model to the filesystem destination unless it is already there.

        Args:
            input_dict: `model`, `model_blessing` (and TFX's optional `infra_blessing`).
            output_dict: `pushed_model`: marked pushed, or not pushed with the reason.
            exec_properties: `push_destination`, a filesystem `PushDestination` (JSON).

        Raises:
            PushTargetError: The serving dir cannot take the model (exit 2 at the CLI).
            PushVerificationError: The copied model does not load and score.
            NotImplementedError: A destination other than the filesystem, or a versioning
                other than TFX's UNIX timestamp (as TFX's executor).
        """
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_dir = self.GetModelPath(input_dict)
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if destination.WhichOneof("destination") != "filesystem":
            raise NotImplementedError(f"Invalid push destination {destination.WhichOneof('destination')}")
        filesystem = destination.filesystem
        if filesystem.versioning not in (pusher_pb2.Versioning.AUTO, pusher_pb2.Versioning.UNIX_TIMESTAMP):
            raise NotImplementedError(f"Invalid Versioning {filesystem.versioning}")
        serving_dir = filesystem.base_directory

        models = input_dict.get(standard_component_specs.MODEL_KEY)
        model_uri = artifact_utils.get_single_instance(models).uri if models else model_dir
        fingerprint = model_fingerprint(model_uri, model_dir)
        existing = find_complete_push(serving_dir, fingerprint)
        if existing is not None:
            reason = f"this model is already pushed, complete and loadable, at {existing}"
            logging.info("Not pushing: %s", reason)
            self._MarkNotPushed(model_push)
            model_push.set_string_custom_property(SKIPPED_PROPERTY, reason)
            model_push.set_string_custom_property(ALREADY_PUSHED_PROPERTY, existing)
            return

        version = _version(serving_dir)
        logging.info("Model version: %s", version)
        version_dir = push_model(model_dir, serving_dir, version, fingerprint)
        logging.info("Model written to serving path %s, verified and complete.", version_dir)
        # As TFX: a copy in the PushedModel artifact for archiving.
        io_utils.copy_dir(model_dir, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=version_dir, pushed_version=version)
        logging.info("Model pushed to %s.", model_push.uri)


class VerifiedPusher(pusher_component.Pusher):
    """TFX's Pusher with `VerifiedPusherExecutor`: the same spec, inputs, outputs and parameters.

    A subclass rather than `custom_executor_spec`, which TFX 1.16 deprecates ("customize
    component directly"). The pipeline gives it the id `Pusher`, so the DAG and the views keep
    their names.
    """

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(VerifiedPusherExecutor)
