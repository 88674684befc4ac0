"""The demo's vendors: the six sandboxes reached through stored connections, not settings.

Each connection answers ``check_connection`` (one authenticated read with the stored
credential), and a restart on the same database moves the connections to the new ports
instead of failing on the existing rows.
"""

from __future__ import annotations

from orderops.bootstrap import App
from orderops.domain.vendor_connections import VendorSystem
from orderops.sandbox.connected import connected_sandboxes
from orderops.writeback.vendor_connections import check_connection, list_connections


def test_every_sandbox_is_connected_and_accepts_its_stored_credential(app: App) -> None:
    with connected_sandboxes(app, tenant_id="acme") as urls:
        results = [
            check_connection(
                app.sessions,
                tenant_id="acme",
                system=system,
                secret_key=app.settings.secret_key,
                clock=app.clock,
                actor="test",
            )
            for system in VendorSystem
        ]
        stored = {c.system: c.base_url for c in list_connections(app.sessions, tenant_id="acme")}

    assert [(r.system, r.ok) for r in results] == [(s.value, True) for s in VendorSystem]
    assert stored == urls
    assert list_connections(app.sessions, tenant_id="globex") == []


def test_a_restart_moves_the_connections_to_the_new_ports(app: App) -> None:
    with connected_sandboxes(app, tenant_id="acme") as first:
        pass
    with connected_sandboxes(app, tenant_id="acme") as second:
        stored = list_connections(app.sessions, tenant_id="acme")

    assert first != second
    assert {c.system: c.base_url for c in stored} == second
    assert {c.version for c in stored} == {2}
