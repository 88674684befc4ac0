"""Builders for writeback tests: the six vendor sandboxes on real sockets, a fast runtime,
a case to hang writebacks on, and a drain loop that moves the fixed clock between passes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta

from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.vendor_connections import AccountMode, VendorSystem
from orderops.sandbox import AppSlot, run_sandbox
from orderops.sandbox.crm import CrmSandbox
from orderops.sandbox.easypost import EasyPostSandbox
from orderops.sandbox.shopify import ShopifySandbox
from orderops.sandbox.stripe import StripeSandbox
from orderops.sandbox.wms import WmsSandbox
from orderops.sandbox.zendesk import ZendeskSandbox
from orderops.storage.tables import Case, Order
from orderops.storage.uow import UnitOfWork
from orderops.workflow.writeback_worker import WritebackRuntime, open_messages, run_writeback_once
from orderops.writeback.connections import AccountSource, ConnectorPool, WritebackSettings
from orderops.writeback.connectors.base import CircuitBreaker, RetryPolicy
from orderops.writeback.policy import DeliveryPolicy
from orderops.writeback.vendor_connections import StoredAccounts, add_connection

SYSTEMS = ("stripe", "shopify", "easypost", "wms", "crm", "zendesk")
QUICK_RETRY = RetryPolicy(max_attempts=2, initial_backoff=0.0, max_backoff=0.0, jitter=0.0)


@dataclass
class Sandboxes:
    urls: dict[str, str]
    slots: dict[str, AppSlot]
    stripe: StripeSandbox
    shopify: ShopifySandbox
    easypost: EasyPostSandbox
    wms: WmsSandbox
    crm: CrmSandbox
    zendesk: ZendeskSandbox

    def settings(self, tenant: str = "acme") -> WritebackSettings:
        """The sandboxes as ``ORDEROPS_WRITEBACK_*`` for ``tenant`` (the fallback applies to
        the one tenant it names; the Stripe sandbox's key is a test-mode key)."""
        return WritebackSettings(
            _env_file=None,
            tenant=tenant,
            allow_test_mode=True,
            stripe_url=self.urls["stripe"],
            stripe_api_key=self.stripe.api_key,
            shopify_url=self.urls["shopify"],
            shopify_access_token=self.shopify.access_token,
            easypost_url=self.urls["easypost"],
            easypost_api_key=self.easypost.api_key,
            wms_url=self.urls["wms"],
            wms_api_key=self.wms.api_key,
            crm_url=self.urls["crm"],
            crm_api_token=self.crm.api_token,
            zendesk_url=self.urls["zendesk"],
            zendesk_email=self.zendesk.email,
            zendesk_api_token=self.zendesk.api_token,
        )

    def renew(self) -> None:
        """Fresh vendor state behind the same sockets."""
        self.stripe, self.shopify = StripeSandbox(), ShopifySandbox()
        self.easypost, self.wms = EasyPostSandbox(), WmsSandbox()
        self.crm, self.zendesk = CrmSandbox(), ZendeskSandbox()
        for system in SYSTEMS:
            self.slots[system].app = getattr(self, system).app


@contextmanager
def served_sandboxes() -> Iterator[Sandboxes]:
    slots = {system: AppSlot() for system in SYSTEMS}
    with ExitStack() as stack:
        urls = {system: stack.enter_context(run_sandbox(slot)) for system, slot in slots.items()}
        sandboxes = Sandboxes(
            urls=urls,
            slots=slots,
            stripe=StripeSandbox(),
            shopify=ShopifySandbox(),
            easypost=EasyPostSandbox(),
            wms=WmsSandbox(),
            crm=CrmSandbox(),
            zendesk=ZendeskSandbox(),
        )
        sandboxes.renew()
        yield sandboxes


def connect_sandboxes(app: App, clock: FixedClock, box: Sandboxes, *, tenant: str = "acme") -> None:
    """Store a vendor connection to each sandbox for ``tenant``, as an admin would."""
    for system in SYSTEMS:
        sandbox = getattr(box, system)
        secret = next(
            getattr(sandbox, name)
            for name in ("api_key", "access_token", "api_token")
            if hasattr(sandbox, name)
        )
        add_connection(
            app.sessions,
            tenant_id=tenant,
            system=VendorSystem(system),
            base_url=box.urls[system],
            secret=secret,
            mode=None if system == "stripe" else AccountMode.TEST,
            username=box.zendesk.email if system == "zendesk" else None,
            allow_test_mode=True,
            secret_key=app.settings.secret_key,
            clock=clock,
            actor="test-admin",
        )


def stored_accounts(app: App, fallback: WritebackSettings | None = None) -> StoredAccounts:
    """The worker's production source of accounts: the tenants' stored connections."""
    return StoredAccounts(app.sessions, secret_key=app.settings.secret_key, fallback=fallback)


def fast_runtime(
    settings: WritebackSettings | AccountSource,
    clock: FixedClock,
    *,
    policy: DeliveryPolicy | None = None,
    retry: RetryPolicy = QUICK_RETRY,
    breaker_threshold: int = 50,
) -> WritebackRuntime:
    pool = ConnectorPool(
        settings,
        clock=clock,
        retry=retry,
        breaker=CircuitBreaker(clock=clock, failure_threshold=breaker_threshold),
        sleep=lambda _seconds: None,
    )
    return WritebackRuntime(
        connectors=pool,
        policy=policy or DeliveryPolicy(max_attempts=6, base_delay=timedelta(seconds=1)),
        rand=lambda: 0.5,
    )


def drain(app: App, runtime: WritebackRuntime, clock: FixedClock, *, worker_id: str = "w-1") -> int:
    """Run passes until nothing is open, moving time on when nothing is due; the pass count."""
    for passes in range(1, 200):
        if run_writeback_once(app, worker_id=worker_id, runtime=runtime) == 0:
            if open_messages(app) == 0:
                return passes
            clock.advance(timedelta(hours=2))
    raise AssertionError("the outbox did not drain in 200 passes")


def make_case(
    app: App,
    clock: FixedClock,
    *,
    order_ref: str,
    tenant_id: str = "acme",
    customer_id: str | None = None,
    exception_type: str = "payment_failed",
    status: str = "executing",
) -> str:
    """An order and a case on it, written directly: tests that need only the ids."""
    now = clock.now()
    with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
        order = Order(
            tenant_id=tenant_id,
            order_ref=order_ref,
            source="test://shop",
            customer_id=customer_id,
            status="open",
            financial_status="paid",
            fulfillment_status="unfulfilled",
            currency="USD",
            total_minor=10000,
            placed_at=now,
            source_updated_at=now,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(order)
        uow.session.flush()
        case = Case(
            tenant_id=tenant_id,
            order_id=order.id,
            order_ref=order_ref,
            exception_type=exception_type,
            status=status,
            summary="test case",
            detected_at=now,
            opened_at=now,
            updated_at=now,
            facts={},
        )
        uow.session.add(case)
        uow.session.flush()
        case_id = case.id
        uow.commit()
    return case_id
