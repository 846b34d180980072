"""Where artifacts live (export files, LOCAL fine-tuned models): this host's disk under TUNEYARD_HOME (the default),
or an S3-compatible object store that every host shares (TUNEYARD_STORAGE_URL), so that any replica serves a
download and any worker loads a model, wherever it was made.

Artifacts are named by keys relative to the store's root: `exports/<file>`, `models/<job id>/merged/...`. On local
disk a key is the path under TUNEYARD_HOME (today's layout); in a bucket it is the object's name under the URL's
prefix. Files are always written on this host first (`local_dir`: the store itself on disk, a workspace and cache
otherwise), then stored whole: an object appears complete or not at all.
"""

from __future__ import annotations

from tuneyard.core.config import Settings
from tuneyard.core.storage.base import ArtifactStore, Download, StorageError, StoredObject, check_key
from tuneyard.core.storage.local import LocalStore

__all__ = ["ArtifactStore", "Download", "LocalStore", "StorageError", "StoredObject", "artifact_store", "check_key"]

_stores: dict[tuple[object, ...], ArtifactStore] = {}


def artifact_store(settings: Settings) -> ArtifactStore:
    """The configured store, rooted at TUNEYARD_HOME or at the URL's prefix (one object per configuration: an S3
    client keeps its connections)."""
    if settings.storage_url is None:
        return LocalStore(settings.home)
    secret = settings.storage_secret_access_key
    key = (
        settings.storage_url, settings.storage_endpoint_url, settings.storage_region, settings.storage_access_key_id,
        None if secret is None else secret.get_secret_value(), settings.storage_allow_http, settings.storage_downloads,
        settings.storage_url_expiry_seconds, settings.home,
    )  # fmt: skip
    found = _stores.get(key)
    if found is None:
        from tuneyard.core.storage.s3 import ObjectStorage  # obstore is only loaded where a store is configured

        found = _stores[key] = ObjectStorage.from_settings(settings)
    return found
