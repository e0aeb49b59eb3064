"""The object store: one interface, a local-folder backend and an S3 backend.

Keys are content hashes plus a readable suffix (``renditions/ab/abcdef.../song.flac``);
a write becomes visible only when complete (rename on a folder, a single PUT on S3).
"""
from __future__ import annotations

from companion.storage.base import ObjectStore, StoredObject, content_key
from companion.storage.local import LocalStore


def open_store(config) -> ObjectStore:
    """The store the configuration names."""
    if config.storage == "s3":
        from companion.storage.s3 import S3Store

        return S3Store(
            bucket=config.s3_bucket,
            endpoint_url=config.s3_endpoint_url or None,
            region=config.s3_region,
            access_key_id=config.s3_access_key_id or None,
            secret_access_key=config.s3_secret_access_key or None,
            presign_seconds=config.s3_presign_seconds,
        )
    if config.storage == "local":
        return LocalStore(config.storage_dir)
    raise ValueError(f"unknown storage backend {config.storage!r} (use 'local' or 's3')")


__all__ = ["ObjectStore", "StoredObject", "LocalStore", "open_store", "content_key"]
