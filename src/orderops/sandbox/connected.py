"""The six sandboxes served on loopback ports and connected to a tenant, as an admin would.

The demo (and anyone trying the desk without vendor accounts) gets writeback through the
same mechanism as production: ``vendor_connections`` rows, sealed and audited, read by the
worker per tenant. Nothing here sets ``ORDEROPS_WRITEBACK_*``. A restart on the same
database finds the connections already there and rotates them onto the new ports (the
sandboxes' keys are fixed, so only the address changes).

Every sandbox account is a test account. Stripe's key says so (``sk_test_``); the others
are declared ``test``. A live environment (the demo's tenant is its account's live one)
therefore needs ``allow_test_mode`` for Stripe, which is set, and audited, here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from starlette.types import ASGIApp

from orderops.bootstrap import App
from orderops.domain.vendor_connections import AccountMode, VendorSystem
from orderops.sandbox.crm import CrmSandbox
from orderops.sandbox.easypost import EasyPostSandbox
from orderops.sandbox.runner import run_sandbox
from orderops.sandbox.shopify import ShopifySandbox
from orderops.sandbox.stripe import StripeSandbox
from orderops.sandbox.wms import WmsSandbox
from orderops.sandbox.zendesk import ZendeskSandbox
from orderops.writeback.vendor_connections import (
    ConnectionNotFound,
    add_connection,
    rotate_connection,
)

ACTOR = "demo"


@dataclass(frozen=True)
class VendorSandboxes:
    """The six sandboxes, made by a caller that seeds them (the demo mirrors its simulated
    store into them: sandbox/seeding.py) before or while they are served."""

    stripe: StripeSandbox = field(default_factory=StripeSandbox)
    shopify: ShopifySandbox = field(default_factory=ShopifySandbox)
    easypost: EasyPostSandbox = field(default_factory=EasyPostSandbox)
    wms: WmsSandbox = field(default_factory=WmsSandbox)
    crm: CrmSandbox = field(default_factory=CrmSandbox)
    zendesk: ZendeskSandbox = field(default_factory=ZendeskSandbox)


@contextmanager
def connected_sandboxes(
    app: App, *, tenant_id: str, sandboxes: VendorSandboxes | None = None
) -> Iterator[dict[str, str]]:
    """Serve the sandboxes (fresh ones unless given) and store the tenant's connection to
    each; yields their URLs."""
    box = sandboxes or VendorSandboxes()
    stripe, shopify, easypost = box.stripe, box.shopify, box.easypost
    wms, crm, zendesk = box.wms, box.crm, box.zendesk
    accounts: dict[VendorSystem, tuple[ASGIApp, str, str | None]] = {
        VendorSystem.STRIPE: (stripe.app, stripe.api_key, None),
        VendorSystem.SHOPIFY: (shopify.app, shopify.access_token, None),
        VendorSystem.EASYPOST: (easypost.app, easypost.api_key, None),
        VendorSystem.WMS: (wms.app, wms.api_key, None),
        VendorSystem.CRM: (crm.app, crm.api_token, None),
        VendorSystem.ZENDESK: (zendesk.app, zendesk.api_token, zendesk.email),
    }
    with ExitStack() as stack:
        urls: dict[str, str] = {}
        for system, (served, secret, username) in accounts.items():
            url = stack.enter_context(run_sandbox(served))
            connect_sandbox(app, tenant_id, system, url, secret, username)
            urls[str(system)] = url
        yield urls


def connect_sandbox(
    app: App, tenant_id: str, system: VendorSystem, url: str, secret: str, username: str | None
) -> None:
    """Store (or rotate) the tenant's connection to one sandbox at ``url``."""
    mode = None if system is VendorSystem.STRIPE else AccountMode.TEST
    try:
        rotate_connection(
            app.sessions,
            tenant_id=tenant_id,
            system=system,
            secret=secret,
            mode=mode,
            base_url=url,
            secret_key=app.settings.secret_key,
            clock=app.clock,
            actor=ACTOR,
        )
    except ConnectionNotFound:
        add_connection(
            app.sessions,
            tenant_id=tenant_id,
            system=system,
            base_url=url,
            secret=secret,
            mode=mode,
            username=username,
            allow_test_mode=True,
            secret_key=app.settings.secret_key,
            clock=app.clock,
            actor=ACTOR,
        )
