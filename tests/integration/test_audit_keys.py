"""The audit chain cannot be rewritten from inside the database.

Record hashes are keyed (HMAC-SHA256 with a key that lives in the settings, not in the
database), so someone who edits a row and recomputes every later hash and the stored head,
without the key, is caught by ``audit verify``. A signed checkpoint taken earlier and kept
outside the database also catches a rewrite made *with* the key: the record at its
sequence number no longer has the hash it signed.

Chains written before keys existed keep verifying by their own (unkeyed) scheme, but only
as a prefix, and only where something outside the database vouches for them: a checkpoint,
or the operator's explicit setting.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from builders.database_roles import owner_sessions
from builders.events import order_placed, payment
from orderops.audit.keys import audit_key_of
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App, bootstrap
from orderops.cli import cli
from orderops.domain.clock import FixedClock
from orderops.storage.tables import AuditHead, AuditRecord
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep

Rehash = Callable[[str, AuditRecord], str]


def canonical(prev_hash: str, row: AuditRecord) -> bytes:
    """The record body exactly as the chain serialises it."""
    return json.dumps(
        {
            "prev": prev_hash,
            "tenant": row.tenant_id,
            "seq": row.seq,
            "at": row.at.isoformat(timespec="microseconds"),
            "actor": row.actor,
            "action": row.action,
            "entity_type": row.entity_type,
            "entity_id": row.entity_id,
            # Keyed records since migration 0038 hash their payload's digest instead.
            **(
                {"data_sha256": row.data_digest}
                if row.key_id is not None and row.data_digest is not None
                else {"data": row.data}
            ),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    ).encode("utf-8")


def unkeyed(prev_hash: str, row: AuditRecord) -> str:
    """What the chain used before keys: anyone with the database can compute it."""
    return hashlib.sha256(canonical(prev_hash, row)).hexdigest()


def with_key(secret: bytes) -> Rehash:
    def rehash(prev_hash: str, row: AuditRecord) -> str:
        return hmac.new(secret, canonical(prev_hash, row), hashlib.sha256).hexdigest()

    return rehash


@pytest.fixture
def audited(app: App, clock: FixedClock) -> App:
    at = clock.now() - timedelta(days=1)
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[
            order_placed("o-1", at=at),
            payment("o-1", status="failed", at=at + timedelta(minutes=1), payment_ref="pi_1"),
        ],
        channel="test",
        clock=clock,
    )
    sweep(app.sessions, tenant_id="acme", clock=clock)  # the decline's grace is long past
    return app


def rewrite(
    app: App, *, seq: int, rehash: Rehash, key_id: str | bool | None = True, edit: bool = True
) -> None:
    """Edit record ``seq``, then recompute every later hash and the head, as a forger with
    write access to the database would. ``key_id``: True keeps each row's marker, a
    string or None replaces it (None claims the rows predate keys)."""
    with owner_sessions(app)() as session:
        rows = session.scalars(
            select(AuditRecord).where(AuditRecord.tenant_id == "acme").order_by(AuditRecord.seq)
        ).all()
        prev = rows[seq - 2].hash if seq > 1 else "0" * 64
        for row in rows[seq - 1 :]:
            if row.seq == seq and edit:
                row.actor = "user:someone-else"
            if key_id is not True:
                row.key_id = key_id  # type: ignore[assignment]
            row.prev_hash = prev
            row.hash = rehash(prev, row)
            prev = row.hash
        head = session.get(AuditHead, "acme")
        assert head is not None
        head.hash = prev
        session.commit()


def verify_cli(app: App, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("ORDEROPS_DATABASE_URL", app.settings.resolved_database_url)
    monkeypatch.setenv("ORDEROPS_DATA_DIR", str(app.settings.data_dir))
    monkeypatch.setenv("ORDEROPS_DEMO_MODE", "true")  # the demo secret, as the app fixture's
    result = CliRunner().invoke(cli, ["audit", *args])
    return result.exit_code, result.output


def checkpoint(app: App, monkeypatch: pytest.MonkeyPatch, out: Path) -> dict[str, object]:
    code, output = verify_cli(app, monkeypatch, "checkpoint", "--tenant", "acme", "--out", str(out))
    assert code == 0, output
    loaded: dict[str, object] = json.loads(out.read_text("utf-8"))
    return loaded


def test_an_intact_keyed_chain_verifies_and_names_its_key(audited: App) -> None:
    result = verify_tenant(audited.sessions, tenant_id="acme")
    with UnitOfWork(audited.sessions, tenant_id="acme", write=False) as uow:
        key = audit_key_of(uow.session)
        markers = {r.key_id for r in uow.audit.records()}

    assert result.ok, result.problem
    assert result.checked == 4
    assert markers == {key.key_id}


@pytest.mark.parametrize(
    ("forgery", "complaint"),
    [
        ("unkeyed, marked as from before keys", "unkeyed"),
        ("unkeyed, marker kept", "does not match its hash"),
        ("wrong key, marker kept", "does not match its hash"),
        ("wrong key, its own marker", "audit key"),
    ],
)
def test_a_rewrite_without_the_key_fails_verification(
    audited: App, forgery: str, complaint: str
) -> None:
    rehash = unkeyed if forgery.startswith("unkeyed") else with_key(b"a guessed key")
    marker: str | bool | None = True
    if "before keys" in forgery:
        marker = None
    elif "its own marker" in forgery:
        marker = "f0f0f0f0f0f0f0f0"

    rewrite(audited, seq=2, rehash=rehash, key_id=marker)
    result = verify_tenant(audited.sessions, tenant_id="acme")

    assert result.ok is False
    assert result.bad_seq == 2
    assert complaint in (result.problem or "")


def test_a_checkpoint_catches_a_rewrite_even_by_someone_holding_the_key(
    audited: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kept = tmp_path / "acme.checkpoint.json"
    saved = checkpoint(audited, monkeypatch, kept)
    assert (saved["tenant"], saved["seq"]) == ("acme", 4)
    assert verify_cli(audited, monkeypatch, "verify", "-t", "acme", "--against", str(kept))[0] == 0
    with UnitOfWork(audited.sessions, tenant_id="acme", write=False) as uow:
        secret = audit_key_of(uow.session).record_secret

    rewrite(audited, seq=2, rehash=with_key(secret))
    assert verify_tenant(audited.sessions, tenant_id="acme").ok  # the key holder's rewrite
    code, output = verify_cli(audited, monkeypatch, "verify", "-t", "acme", "--against", str(kept))

    assert code == 1
    assert "record 4 no longer has the hash the checkpoint signed" in " ".join(output.split())


def test_verifying_against_a_checkpoint_catches_a_rewrite_without_the_key(
    audited: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "cp.json"
    checkpoint(audited, monkeypatch, out)

    rewrite(audited, seq=1, rehash=unkeyed, key_id=None)
    code, output = verify_cli(audited, monkeypatch, "verify", "-t", "acme", "--against", str(out))

    assert code == 1
    assert "no longer has the hash" in " ".join(output.split())


@pytest.mark.parametrize("field", ["seq", "hash", "tenant"])
def test_an_edited_checkpoint_is_refused(
    audited: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, field: str
) -> None:
    out = tmp_path / "cp.json"
    saved = checkpoint(audited, monkeypatch, out)
    saved[field] = {"seq": 2, "hash": "a" * 64, "tenant": "acme "}[field]
    out.write_text(json.dumps(saved), "utf-8")

    code, output = verify_cli(audited, monkeypatch, "verify", "-t", "acme", "--against", str(out))

    assert code == 1
    assert "signature" in output


def test_a_checkpoint_of_another_tenant_is_refused(
    audited: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "cp.json"
    checkpoint(audited, monkeypatch, out)

    code, output = verify_cli(audited, monkeypatch, "verify", "-t", "globex", "--against", str(out))

    assert code == 1
    assert "tenant acme" in output


def test_removing_records_after_a_checkpoint_is_caught(
    audited: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "cp.json"
    checkpoint(audited, monkeypatch, out)
    with owner_sessions(audited)() as session:
        last = session.scalars(
            select(AuditRecord).where(AuditRecord.tenant_id == "acme", AuditRecord.seq == 4)
        ).one()
        session.delete(last)
        head = session.get(AuditHead, "acme")
        assert head is not None
        head.seq, head.hash = 3, last.prev_hash
        session.commit()

    code, output = verify_cli(audited, monkeypatch, "verify", "-t", "acme", "--against", str(out))

    assert verify_tenant(audited.sessions, tenant_id="acme").ok  # a clean cut, without a checkpoint
    assert code == 1
    assert "ends at 3" in output


def test_an_export_writes_a_signed_checkpoint_next_to_it(
    audited: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "acme.jsonl"
    code, output = verify_cli(audited, monkeypatch, "export", "-t", "acme", "--out", str(out))
    assert code == 0, output
    written = tmp_path / "acme.checkpoint.json"
    saved = json.loads(written.read_text("utf-8"))
    last = json.loads(out.read_text("utf-8").splitlines()[-2])

    assert (saved["seq"], saved["hash"]) == (last["seq"], last["hash"])
    assert verify_cli(audited, monkeypatch, "verify", "-t", "acme", "--against", str(written)) == (
        0,
        "audit chain of acme verifies: 4 records; checkpoint at seq 4 holds\n",
    )


# -- chains from before keys ------------------------------------------------------------


def legacy_chain(app: App) -> None:
    """Turn the stored chain into what a database written before keys holds."""
    rewrite(app, seq=1, rehash=unkeyed, key_id=None, edit=False)


def append_keyed(app: App, clock: FixedClock) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.audit.append(
            at=clock.now(),
            actor="system:test",
            action="test.after_upgrade",
            entity_type="tenant",
            entity_id="acme",
            data={},
        )
        uow.commit()


def test_an_old_unkeyed_prefix_verifies_against_a_checkpoint_and_with_the_setting(
    audited: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    legacy_chain(audited)
    append_keyed(audited, clock)
    plain = verify_tenant(audited.sessions, tenant_id="acme")
    assert plain.ok is False
    assert plain.bad_seq == 1
    assert "unkeyed" in (plain.problem or "")

    monkeypatch.setenv("ORDEROPS_AUDIT_ACCEPT_UNKEYED", "true")
    out = tmp_path / "cp.json"
    checkpoint(audited, monkeypatch, out)
    trusting = bootstrap(audited.settings.model_copy(update={"audit_accept_unkeyed": True}))
    try:
        accepted = verify_tenant(trusting.sessions, tenant_id="acme")
    finally:
        trusting.close()
    monkeypatch.delenv("ORDEROPS_AUDIT_ACCEPT_UNKEYED")
    append_keyed(audited, clock)

    assert (accepted.ok, accepted.checked, accepted.unkeyed) == (True, 5, 4)
    assert verify_cli(audited, monkeypatch, "verify", "-t", "acme", "--against", str(out))[0] == 0


def test_an_unkeyed_record_after_a_keyed_one_is_a_downgrade(
    audited: App, clock: FixedClock
) -> None:
    legacy_chain(audited)
    append_keyed(audited, clock)
    append_keyed(audited, clock)
    rewrite(audited, seq=6, rehash=unkeyed, key_id=None)
    trusting = bootstrap(audited.settings.model_copy(update={"audit_accept_unkeyed": True}))
    try:
        result = verify_tenant(trusting.sessions, tenant_id="acme")
    finally:
        trusting.close()

    assert (result.ok, result.bad_seq) == (False, 6)
    assert "after keyed records" in (result.problem or "")
