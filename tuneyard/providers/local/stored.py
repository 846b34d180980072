"""A LOCAL fine-tuned model on this host: TUNEYARD_HOME/models/<job id>/ (adapter/, merged/, manifest.json), where
its worker wrote it, or fetched whole from object storage (TUNEYARD_STORAGE_URL) by a host that lacks it and kept
there (a model's files never change once stored)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tuneyard.core.config import Settings
from tuneyard.core.storage import StorageError, artifact_store
from tuneyard.providers.base import ProviderError, redact

# A LOCAL fine-tune's providerModelId: its folder under TUNEYARD_HOME (tuneyard.finetunes.local), and its key in
# object storage.
FINE_TUNED = re.compile(r"models/[A-Za-z0-9_-]+")
MANIFEST = "manifest.json"  # written by tuneyard.finetunes.local after the saved model


async def fine_tuned_folder(settings: Settings, model_id: str) -> Path | None:
    """The model's folder on this host, fetched from object storage if need be; None when neither has it."""
    if not FINE_TUNED.fullmatch(model_id):
        return None
    try:
        # Local disk: TUNEYARD_HOME/models/<job id> if it is there. Object storage: that folder once complete
        # (stored from here, or fetched before), else fetched now.
        found = await artifact_store(settings).local_folder(model_id)
    except StorageError as error:
        message = f"the LOCAL model {model_id} is not on this host and could not be fetched: {error.message}"
        raise ProviderError(redact(message, settings), error.retryable) from None
    if found is None:
        # Trained here before object storage was configured: never stored, but saved whole (its manifest is
        # written once the merged model is); a folder a dead run left has none.
        folder = settings.home / model_id
        if await asyncio.to_thread((folder / MANIFEST).is_file):
            return folder
    return found


async def model_folder(settings: Settings, path: Path) -> Path:
    """`path` on this host: a folder, or a fine-tuned model's folder or one inside it (merged/), the model fetched
    from object storage if need be; a ProviderError naming it when it is nowhere."""
    try:
        parts = path.relative_to(settings.home).parts
    except ValueError:
        parts = ()
    if len(parts) >= 2 and FINE_TUNED.fullmatch(model_id := "/".join(parts[:2])):
        folder = await fine_tuned_folder(settings, model_id)
        found = None if folder is None else folder.joinpath(*parts[2:])
    else:
        found = path
    if found is None or not await asyncio.to_thread(found.is_dir):
        raise ProviderError(f"{path} is not on this host, nor a fine-tuned model in object storage")
    return found
