"""A real S3 API on loopback for tests: moto's server in a thread of this test process (one per
xdist worker), and a fresh bucket per test so tests never see each other's objects."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from voicememo.storage.blobs.s3 import S3Config

#: moto takes any credentials; these are passed explicitly so no ~/.aws or environment is read
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "us-east-1"


@contextmanager
def moto_server() -> Iterator[str]:
    """The endpoint URL of a moto S3 server on 127.0.0.1 and a free port, until the block ends."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # returns once the socket listens
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@dataclass(frozen=True)
class Bucket:
    endpoint: str
    name: str
    prefix: str = "vm"

    @property
    def url(self) -> str:
        return f"s3://{self.name}/{self.prefix}"

    def config(self) -> S3Config:
        return S3Config.from_url(
            self.url,
            endpoint_url=self.endpoint,
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret_access_key=SecretStr(SECRET_KEY),
        )

    def settings(self, **more: Any) -> dict[str, Any]:
        """Settings overrides that put a server's blobs in this bucket."""
        return {
            "blob_url": self.url,
            "s3_endpoint_url": self.endpoint,
            "s3_region": REGION,
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key": SECRET_KEY,
            **more,
        }

    def env(self, **more: str) -> dict[str, str]:
        """The same as ``VOICEMEMO_*`` variables, for a server in a subprocess."""
        return {f"VOICEMEMO_{k.upper()}": str(v) for k, v in self.settings(**more).items()}

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def object_keys(self) -> list[str]:
        """Every object in the bucket, by its blob key (the prefix taken off)."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(o["Key"].removeprefix(self.prefix + "/") for page in pages for o in page.get("Contents", []))

    def get(self, key: str) -> bytes:
        body: bytes = self.client().get_object(Bucket=self.name, Key=f"{self.prefix}/{key}")["Body"].read()
        return body


def new_bucket(endpoint: str) -> Bucket:
    bucket = Bucket(endpoint, f"vm-test-{uuid.uuid4().hex[:16]}")
    bucket.client().create_bucket(Bucket=bucket.name)
    return bucket
