"""Publish a local model version to ``gs://BUCKET/models/<version>/``, uploading only what the bucket lacks.

A published version is never replaced: an object already in the bucket with the same bytes is skipped,
one with other bytes stops the publish with an error, and new objects are created with
``if_generation_match=0`` (create only). Each object carries its sha256 in custom metadata; every
upload is read back and hashed before it counts. The manifest goes last, so a version whose manifest
is in the bucket is complete.

    python -m training.release.publish --bucket NAME [--version V] [--models-dir DIR] [--require-quality-gate]

prints ``VERSION=...``, ``MODEL_URL=gs://...`` and ``PREP_URL=gs://...`` on stdout (ready for
``$GITHUB_OUTPUT``); progress and errors go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from default_risk.contract.artifacts import (
    LATEST_POINTER,
    MANIFEST_FILE,
    MODEL_FILE,
    MODELS_PREFIX,
    PREP_FILE,
    VERSION_FILES,
    IntegrityError,
    parse_manifest,
    sha256_hex,
    verify_file,
)
from training.release.gate import gate_refusal

SHA256_METADATA_KEY = "sha256"


class PublishError(RuntimeError):
    """The version cannot be published (missing, inconsistent, below the gate, or failed verification)."""


@dataclass(frozen=True)
class PublishResult:
    version: str
    uploaded: tuple[str, ...]
    skipped: tuple[str, ...]
    model_url: str
    prep_url: str


def object_name(version: str, file_name: str) -> str:
    return f"{MODELS_PREFIX}/{version}/{file_name}"


def read_version_files(version_dir: Path) -> tuple[dict, dict[str, bytes]]:
    """The manifest and every file of a local version, each checked against the manifest."""
    manifest_path = version_dir / MANIFEST_FILE
    if not manifest_path.is_file():
        raise PublishError(f"{version_dir} is not a model version: {MANIFEST_FILE} is missing")
    raw_manifest = manifest_path.read_bytes()
    try:
        manifest = parse_manifest(raw_manifest)
        files = {}
        for name in VERSION_FILES:
            path = version_dir / name
            if not path.is_file():
                raise PublishError(f"{version_dir} lacks {name}")
            files[name] = path.read_bytes()
            verify_file(manifest, name, files[name])
    except IntegrityError as error:
        raise PublishError(f"{version_dir}: {error}") from error
    if manifest["version"] != version_dir.name:
        raise PublishError(f"{version_dir} holds version {manifest['version']!r}; the folder name must match")
    files[MANIFEST_FILE] = raw_manifest
    return manifest, files


def publish_version(version_dir: Path, bucket_name: str, client=None) -> PublishResult:
    """Upload ``version_dir`` to ``gs://bucket_name/models/<version>/`` where GCS lacks the same sha256.

    ``client`` is a ``google.cloud.storage.Client``; None builds one from the environment
    (``STORAGE_EMULATOR_HOST`` points it at the emulator).
    """
    from google.api_core import exceptions
    from google.auth.exceptions import GoogleAuthError
    from google.cloud import storage

    manifest, files = read_version_files(Path(version_dir))
    version = manifest["version"]
    try:
        client = client or storage.Client()
    except GoogleAuthError as error:
        raise PublishError(f"no Google Cloud credentials: {error}") from error
    bucket = client.bucket(bucket_name)
    uploaded, skipped = [], []
    try:
        for name in (*VERSION_FILES, MANIFEST_FILE):  # manifest last: its presence means the version is complete
            data, expected = files[name], sha256_hex(files[name])
            existing = bucket.get_blob(object_name(version, name))
            if existing is not None:
                _check_same_object(existing, name, expected)
                skipped.append(name)
                continue
            blob = bucket.blob(object_name(version, name))
            blob.metadata = {SHA256_METADATA_KEY: expected}
            # if_generation_match=0: create only; an object written meanwhile is never overwritten.
            blob.upload_from_string(data, content_type=_content_type(name), if_generation_match=0)
            _verify_upload(bucket, version, name, expected)
            uploaded.append(name)
    except exceptions.NotFound as error:
        raise PublishError(f"bucket {bucket_name!r} does not exist or is not reachable: {error.message}") from error
    except exceptions.PreconditionFailed as error:
        raise PublishError(f"another publish wrote version {version} at the same time: {error.message}") from error
    except exceptions.GoogleAPICallError as error:
        raise PublishError(f"cannot publish to gs://{bucket_name}: {error}") from error
    return PublishResult(
        version=version,
        uploaded=tuple(uploaded),
        skipped=tuple(skipped),
        model_url=f"gs://{bucket_name}/{object_name(version, MODEL_FILE)}",
        prep_url=f"gs://{bucket_name}/{object_name(version, PREP_FILE)}",
    )


def _check_same_object(blob, name: str, expected: str) -> None:
    """An object of the version exists already: it must hold exactly the local file (it is never replaced)."""
    actual = sha256_hex(blob.download_as_bytes())
    if actual != expected:
        raise PublishError(
            f"gs://{blob.bucket.name}/{blob.name} exists with other content (sha256 {actual[:12]}..., local "
            f"{name} {expected[:12]}...); a published version is never replaced: investigate the bucket "
            "(the object holds and retention keep it as it is) and publish a new version instead"
        )


def _verify_upload(bucket, version: str, name: str, expected: str) -> None:
    """Read the object back: its bytes and its metadata must both give ``expected``."""
    blob = bucket.get_blob(object_name(version, name))
    if blob is None:
        raise PublishError(f"{name} was uploaded but gs://{bucket.name}/{object_name(version, name)} is missing")
    actual = sha256_hex(blob.download_as_bytes())
    recorded = (blob.metadata or {}).get(SHA256_METADATA_KEY)
    if actual != expected or recorded != expected:
        raise PublishError(
            f"verification of gs://{bucket.name}/{object_name(version, name)} failed: "
            f"content sha256 {actual[:12]}..., metadata {str(recorded)[:12]}..., expected {expected[:12]}..."
        )


def _content_type(name: str) -> str:
    return "application/json" if name.endswith(".json") else "application/octet-stream"


def resolve_version_dir(models_dir: Path, version: str | None) -> Path:
    """``models_dir/version``, or the version ``models_dir/LATEST`` names."""
    if version is None:
        pointer = models_dir / LATEST_POINTER
        if not pointer.is_file():
            raise PublishError(f"no --version given and {pointer} does not exist; run `make train` first")
        version = pointer.read_text().strip()
    version_dir = models_dir / version
    if not version_dir.is_dir():
        raise PublishError(f"version {version!r} not found under {models_dir}")
    return version_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.release.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bucket", required=True, help="bucket name, without gs://")
    parser.add_argument("--version", help="version folder name (default: the one models/LATEST names)")
    parser.add_argument("--models-dir", type=Path, default=Path(MODELS_PREFIX), help="local models folder")
    parser.add_argument(
        "--require-quality-gate",
        action="store_true",
        help="refuse (exit 1) a version whose manifest test metrics miss the quality gate",
    )
    args = parser.parse_args(argv)
    bucket = args.bucket.removeprefix("gs://").strip("/")
    try:
        version_dir = resolve_version_dir(args.models_dir, args.version)
        if args.require_quality_gate:
            manifest, _ = read_version_files(version_dir)
            refusal = gate_refusal(manifest)
            if refusal:
                raise PublishError(refusal)
        result = publish_version(version_dir, bucket)
    except PublishError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"published {result.version} to gs://{bucket}: uploaded {list(result.uploaded)}, "
        f"unchanged {list(result.skipped)}",
        file=sys.stderr,
    )
    print(f"VERSION={result.version}\nMODEL_URL={result.model_url}\nPREP_URL={result.prep_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
