"""The filesystem blob store: content addressing, dedupe, read-back and tamper detection."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from orderops.domain.errors import NotFound
from orderops.evidence.store import EvidenceTampered, FileBlobStore


@pytest.fixture
def store(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "evidence")


def stored_files(store: FileBlobStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file())


def test_a_blob_is_addressed_by_the_sha256_of_its_bytes(store: FileBlobStore) -> None:
    blob = store.put("acme", b"proof of delivery")

    assert blob.sha256 == hashlib.sha256(b"proof of delivery").hexdigest()
    assert (blob.size_bytes, blob.existed) == (17, False)
    assert store.get("acme", blob.sha256) == b"proof of delivery"
    assert stored_files(store) == [store.root / "acme" / blob.sha256[:2] / blob.sha256]


def test_the_same_bytes_are_stored_once(store: FileBlobStore) -> None:
    first = store.put("acme", b"same")
    second = store.put("acme", b"same")
    other = store.put("acme", b"different")

    assert (first.sha256, second.existed, other.existed) == (second.sha256, True, False)
    assert len(stored_files(store)) == 2


def test_tenants_keep_separate_copies(store: FileBlobStore) -> None:
    acme = store.put("acme", b"shared text")
    globex = store.put("globex", b"shared text")

    assert (acme.sha256, globex.existed) == (globex.sha256, False)
    assert store.exists("globex", acme.sha256)
    assert not store.exists("initech", acme.sha256)


def test_an_altered_file_is_refused_on_read(store: FileBlobStore) -> None:
    blob = store.put("acme", b"original")
    (path,) = stored_files(store)
    path.chmod(0o644)
    path.write_bytes(b"forged!!")

    with pytest.raises(EvidenceTampered, match="altered"):
        store.get("acme", blob.sha256)


def test_storing_good_bytes_again_repairs_a_damaged_file(store: FileBlobStore) -> None:
    blob = store.put("acme", b"original")
    (path,) = stored_files(store)
    path.chmod(0o644)
    path.write_bytes(b"damaged")

    again = store.put("acme", b"original")

    assert again.existed is False
    assert store.get("acme", blob.sha256) == b"original"


def test_stored_files_are_read_only_and_no_temporary_files_remain(store: FileBlobStore) -> None:
    store.put("acme", b"evidence")

    (path,) = stored_files(store)
    assert path.stat().st_mode & 0o222 == 0
    assert not [p for p in store.root.rglob(".incoming-*")]


@pytest.mark.parametrize("address", ["../../etc/passwd", "abc", "G" * 64, "A" * 64])
def test_anything_but_a_lowercase_sha256_is_not_an_address(
    store: FileBlobStore, address: str
) -> None:
    with pytest.raises(NotFound):
        store.get("acme", address)


def test_a_missing_blob_is_not_found(store: FileBlobStore) -> None:
    with pytest.raises(NotFound):
        store.get("acme", "0" * 64)


@pytest.mark.parametrize("tenant", ["../acme", "a/b", ""])
def test_a_tenant_id_that_is_not_a_safe_folder_name_is_refused(
    store: FileBlobStore, tenant: str
) -> None:
    with pytest.raises(ValueError, match="unsafe tenant"):
        store.put(tenant, b"x")
