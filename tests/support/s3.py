"""An S3-protocol server on 127.0.0.1 for object storage tests: moto in server mode (its own HTTP server, speaking
S3's REST API, signatures and multipart uploads included). It is moto, not AWS S3: what these tests show is that
Tuneyard speaks the S3 protocol correctly, not how a particular provider behaves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import obstore
from moto.server import ThreadedMotoServer
from obstore.store import S3Store

from tests.support import free_port
from tuneyard.core.config import Settings

ACCESS_KEY_ID, SECRET_ACCESS_KEY = "tuneyard-test", "tuneyard-test-secret"


@dataclass
class S3Server:
    endpoint: str

    def bucket(self) -> str:
        """A new, empty bucket of its own."""
        name = f"ty-{uuid.uuid4().hex[:12]}"
        assert httpx.put(f"{self.endpoint}/{name}").status_code == 200
        return name

    def env(self, bucket: str, prefix: str = "tuneyard", downloads: str = "redirect") -> dict[str, str]:
        """TUNEYARD_STORAGE_* settings for the bucket, as a process's environment."""
        return {
            "TUNEYARD_STORAGE_URL": f"s3://{bucket}/{prefix}", "TUNEYARD_STORAGE_ENDPOINT_URL": self.endpoint,
            "TUNEYARD_STORAGE_ACCESS_KEY_ID": ACCESS_KEY_ID, "TUNEYARD_STORAGE_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "TUNEYARD_STORAGE_ALLOW_HTTP": "true", "TUNEYARD_STORAGE_DOWNLOADS": downloads,
        }  # fmt: skip

    def settings(self, home: Path, bucket: str, prefix: str = "tuneyard", **more: Any) -> Settings:
        """Settings of a host whose TUNEYARD_HOME is `home`, storing in the bucket."""
        values = {k.removeprefix("TUNEYARD_").lower(): v for k, v in self.env(bucket, prefix).items()}
        return Settings(home=home, **{**values, **more})

    def client(self, bucket: str) -> S3Store:
        """A client of the bucket itself (whole keys, no prefix), to look at what is really there."""
        return S3Store(bucket, endpoint=self.endpoint, region="us-east-1", access_key_id=ACCESS_KEY_ID,
                       secret_access_key=SECRET_ACCESS_KEY, client_options={"allow_http": True})  # fmt: skip

    def keys(self, bucket: str, prefix: str | None = None) -> dict[str, int]:
        """Every object of the bucket (under `prefix`), with its size."""
        found = obstore.list(self.client(bucket), prefix=prefix).collect()
        return {meta["path"]: meta["size"] for meta in found}

    def read(self, bucket: str, key: str) -> bytes:
        return bytes(obstore.get(self.client(bucket), key).bytes())


@contextmanager
def s3_server() -> Iterator[S3Server]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
