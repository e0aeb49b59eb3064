"""An S3-compatible object store (AWS S3, MinIO, moto's server...) through boto3."""
from __future__ import annotations

from typing import Iterator

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from companion.storage.base import ObjectStore, StoredObject, check_key


class S3Store(ObjectStore):
    name = "s3"

    def __init__(self, bucket: str, endpoint_url: str | None = None, region: str = "us-east-1",
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 presign_seconds: int = 3600, create_bucket: bool = True):
        self.bucket = bucket
        self.presign_seconds = presign_seconds
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            config=BotoConfig(signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"},
                              s3={"addressing_style": "path"}),
        )
        if create_bucket:
            self._ensure_bucket(region)

    def _ensure_bucket(self, region: str) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            kwargs = {"Bucket": self.bucket}
            if region and region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                self.client.create_bucket(**kwargs)
            except ClientError as exc:  # raced with another process
                if exc.response["Error"]["Code"] not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

    def put_file(self, key, path, content_type=None):
        extra = {"ContentType": content_type} if content_type else {}
        # A PUT (or a completed multipart upload) is atomic: readers never see half an object.
        self.client.upload_file(str(path), self.bucket, check_key(key), ExtraArgs=extra or None)
        return self.stat(key)

    def put_bytes(self, key, data, content_type=None):
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self.bucket, Key=check_key(key), Body=data, **extra)
        return StoredObject(key, len(data), content_type)

    def get_bytes(self, key):
        try:
            return self.client.get_object(Bucket=self.bucket, Key=check_key(key))["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                raise KeyError(key) from None
            raise

    def download(self, key, path):
        try:
            self.client.download_file(self.bucket, check_key(key), str(path))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                raise KeyError(key) from None
            raise

    def stat(self, key):
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return StoredObject(key, head["ContentLength"], head.get("ContentType"))

    def delete(self, key):
        self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def list(self, prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"]

    def presigned_url(self, key, expires_in=None):
        seconds = self.presign_seconds if expires_in is None else max(1, min(int(expires_in), self.presign_seconds))
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": check_key(key)}, ExpiresIn=seconds)

    def ping(self):
        self.client.head_bucket(Bucket=self.bucket)
