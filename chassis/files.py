"""Attachments of consultations and decisions: what files are accepted, and where they are kept.

Files never travel through RabbitMQ: the gateway checks and stores them (content-addressed by their
SHA-256) and the consultations service keeps only their metadata. The content type is decided by
the file's own bytes, and a file whose declared type disagrees is refused as mislabelled.
"""
from __future__ import annotations

import hashlib
import io
import os
import zipfile
import zlib
from pathlib import Path

PDF, DOCX, XLSX, ODT, ODS, PNG, JPEG = (
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "image/png",
    "image/jpeg",
)
# An ODF `mimetype` entry is a few dozen bytes, stored uncompressed: anything declared larger, or
# inflating much more than its compressed size, is not a document but a zip bomb.
MIMETYPE_MAX_BYTES = 256
MAX_INFLATE_RATIO = 100
ALLOWED = {PDF: ".pdf", DOCX: ".docx", XLSX: ".xlsx", ODT: ".odt", ODS: ".ods", PNG: ".png", JPEG: ".jpg"}


def sniff(data: bytes) -> str | None:
    """The content type the bytes really are, among the accepted ones (else None)."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = set(z.namelist())
                if "mimetype" in names:
                    mime = _small_entry(z, "mimetype")
                    return mime if mime in (ODT, ODS) else None
                if "[Content_Types].xml" in names:
                    if any(n.startswith("word/") for n in names):
                        return DOCX
                    if any(n.startswith("xl/") for n in names):
                        return XLSX
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError):
            return None  # broken, encrypted or oddly compressed: not a document we accept
    return None


def _small_entry(z: zipfile.ZipFile, name: str) -> str | None:
    """A short text entry, read as a bounded prefix once its declared size and ratio are sane."""
    info = z.getinfo(name)
    if info.file_size > MIMETYPE_MAX_BYTES or info.file_size > MAX_INFLATE_RATIO * max(info.compress_size, 1):
        return None
    with z.open(info) as f:
        return f.read(MIMETYPE_MAX_BYTES + 1)[:MIMETYPE_MAX_BYTES].decode("ascii", "replace").strip()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileStore:
    """A directory of blobs named by their SHA-256 (the default store)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        digest = sha256(data)
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return digest

    def get(self, digest: str) -> bytes | None:
        path = self._path(digest)
        return path.read_bytes() if path.exists() else None


class S3FileStore:  # pragma: no cover - optional, needs boto3 and an S3-compatible endpoint
    """Blobs in an S3-compatible bucket: FILE_STORE=s3://bucket/prefix (credentials and endpoint
    from boto3's usual environment variables)."""

    def __init__(self, url: str):
        import boto3

        bucket, _, prefix = url[len("s3://"):].partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL"))

    def _key(self, digest: str) -> str:
        return f"{self.prefix}/{digest}" if self.prefix else digest

    def put(self, data: bytes) -> str:
        digest = sha256(data)
        self.client.put_object(Bucket=self.bucket, Key=self._key(digest), Body=data)
        return digest

    def get(self, digest: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(digest))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None


def store_from(setting: str):
    return S3FileStore(setting) if setting.startswith("s3://") else FileStore(setting)
