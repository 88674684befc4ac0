"""Content-addressed blob stores: a blob's address is the SHA-256 of its bytes.

Addressing by content gives three properties for free: storing the same bytes twice
keeps one copy; an address can never silently point at other bytes, because every read
re-hashes and refuses a mismatch; and a write is confirmed by reading it back.

Only the filesystem store ships. An S3-compatible store would implement ``BlobStore``
the same way (key = tenant/sha256, a HEAD before PUT for dedupe, a GET and re-hash on
read); it is left out until it can be tested against a local server without network.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orderops.domain.errors import NotFound, OrderOpsError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TENANT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class EvidenceTampered(OrderOpsError):
    """Stored evidence no longer hashes to its address: it was changed or damaged."""

    code = "evidence-tampered"


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size_bytes: int
    existed: bool
    """True when these bytes were already stored: nothing new was written."""


class BlobStore(Protocol):
    def put(self, tenant_id: str, data: bytes) -> StoredBlob: ...

    def get(self, tenant_id: str, sha256: str) -> bytes: ...

    def exists(self, tenant_id: str, sha256: str) -> bool: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_address(value: str) -> bool:
    return bool(_SHA256.match(value))


class FileBlobStore:
    """Blobs as read-only files under ``root/<tenant>/<aa>/<sha256>``.

    Per-tenant folders keep one tenant's evidence out of another's reach even at the
    file level, at the cost of not sharing identical bytes across tenants.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, tenant_id: str, sha256: str) -> Path:
        if not _TENANT.match(tenant_id):
            raise ValueError(f"unsafe tenant id for a path: {tenant_id!r}")
        if not is_address(sha256):
            raise NotFound(f"{sha256!r} is not a SHA-256 address")
        return self.root / tenant_id / sha256[:2] / sha256

    def put(self, tenant_id: str, data: bytes) -> StoredBlob:
        digest = sha256_hex(data)
        path = self.path_of(tenant_id, digest)
        if path.exists() and _hash_file(path) == digest:
            return StoredBlob(digest, len(data), existed=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside and rename: a crash never leaves a half-written blob at its address.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o444)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        if _hash_file(path) != digest:
            raise EvidenceTampered(f"blob {digest} did not read back as written")
        return StoredBlob(digest, len(data), existed=False)

    def get(self, tenant_id: str, sha256: str) -> bytes:
        path = self.path_of(tenant_id, sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"no evidence {sha256}") from exc
        if sha256_hex(data) != sha256:
            raise EvidenceTampered(
                f"evidence {sha256} no longer matches its hash: the stored file was altered"
            )
        return data

    def exists(self, tenant_id: str, sha256: str) -> bool:
        return self.path_of(tenant_id, sha256).exists()

    def delete(self, tenant_id: str, sha256: str) -> bool:
        """Remove a blob (retention or erasure); whether it was there. Only the evidence
        row's owner calls this: a blob is shared by every case of the tenant naming it."""
        path = self.path_of(tenant_id, sha256)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
