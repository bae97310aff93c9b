"""Talking to the storage emulator with the real google-cloud-storage client."""

from __future__ import annotations

from pathlib import Path

from default_risk.contract.artifacts import MODEL_FILE, MODELS_PREFIX, PREP_FILE
from tests.support.local_cloud import Server
from training.release.publish import publish_version

BUCKET = "risk-models"


def storage_client(emulator: Server):
    """A google-cloud-storage client talking to ``emulator`` anonymously."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="local-project", credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator.url}
    )


def publish(version_dir: Path, emulator: Server, bucket_name: str = BUCKET) -> dict[str, str]:
    """Upload a version to ``gs://bucket/models/<version>/``; return its MODEL_URL and PREP_URL."""
    client = storage_client(emulator)
    bucket = client.bucket(bucket_name)
    if not bucket.exists():
        client.create_bucket(bucket_name)
    result = publish_version(version_dir, bucket_name, client=client)
    return {"MODEL_URL": result.model_url, "PREP_URL": result.prep_url}


def artifact_urls(bucket_name: str, version: str) -> dict[str, str]:
    """The function's MODEL_URL and PREP_URL for a published version."""
    prefix = f"gs://{bucket_name}/{MODELS_PREFIX}/{version}"
    return {"MODEL_URL": f"{prefix}/{MODEL_FILE}", "PREP_URL": f"{prefix}/{PREP_FILE}"}
