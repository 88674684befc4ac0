"""Which vendor account an environment may hold, and whom the environment's settings reach."""

from __future__ import annotations

import pytest

from orderops.domain.environments import Environment
from orderops.domain.vendor_connections import (
    AccountMode,
    EnvironmentBoundary,
    InvalidConnection,
    VendorSystem,
    account_mode,
    check_base_url,
    check_environment,
    check_username,
    fingerprint,
)
from orderops.writeback.connections import SettingsAccounts, WritebackSettings

LIVE, TEST = AccountMode.LIVE, AccountMode.TEST


@pytest.mark.parametrize(
    ("environment", "system", "mode", "allowed_test", "refused"),
    [
        (Environment.TEST, VendorSystem.STRIPE, LIVE, False, True),
        (Environment.TEST, VendorSystem.STRIPE, LIVE, True, True),  # no flag lets live in
        (Environment.TEST, VendorSystem.WMS, LIVE, False, True),
        (Environment.TEST, VendorSystem.STRIPE, TEST, False, False),
        (Environment.LIVE, VendorSystem.STRIPE, TEST, False, True),
        (Environment.LIVE, VendorSystem.STRIPE, TEST, True, False),
        (Environment.LIVE, VendorSystem.STRIPE, LIVE, False, False),
        (Environment.LIVE, VendorSystem.ZENDESK, TEST, False, False),  # declared: the choice
    ],
)
def test_the_environment_rule(
    environment: Environment,
    system: VendorSystem,
    mode: AccountMode,
    allowed_test: bool,
    refused: bool,
) -> None:
    def check() -> None:
        check_environment(
            tenant_id="acme",
            environment=environment,
            system=system,
            mode=mode,
            allow_test_mode=allowed_test,
        )

    if refused:
        with pytest.raises(EnvironmentBoundary):
            check()
    else:
        check()


@pytest.mark.parametrize(
    ("key", "mode"),
    [
        ("sk_test_x1234567", TEST),
        ("rk_test_x1234567", TEST),
        ("sk_live_x1234567", LIVE),
        ("rk_live_x1234567", LIVE),
    ],
)
def test_stripe_says_its_mode_in_its_key(key: str, mode: AccountMode) -> None:
    assert account_mode(VendorSystem.STRIPE, key, None) is mode
    other = TEST if mode is LIVE else LIVE
    with pytest.raises(InvalidConnection, match=f"a {mode} key"):
        account_mode(VendorSystem.STRIPE, key, other)


def test_other_systems_must_declare_their_mode() -> None:
    assert account_mode(VendorSystem.CRM, "crm-token-1", LIVE) is LIVE
    with pytest.raises(InvalidConnection, match="--mode"):
        account_mode(VendorSystem.CRM, "crm-token-1", None)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.stripe.com/", True),
        ("http://127.0.0.1:8081", True),
        ("http://[::1]:8081", True),
        ("http://localhost:8081", True),
        ("http://10.0.0.5", False),
        ("https://api.stripe.com?x=1", False),
        ("https://api.stripe.com#f", False),
        ("javascript:alert(1)", False),
        ("https://", False),
    ],
)
def test_base_urls(url: str, ok: bool) -> None:
    if ok:
        assert check_base_url(url) == url.rstrip("/")
    else:
        with pytest.raises(InvalidConnection):
            check_base_url(url)


def test_only_zendesk_takes_a_username() -> None:
    assert check_username(VendorSystem.ZENDESK, " a@b.example ") == "a@b.example"
    with pytest.raises(InvalidConnection):
        check_username(VendorSystem.ZENDESK, None)
    with pytest.raises(InvalidConnection):
        check_username(VendorSystem.STRIPE, "a@b.example")


def test_a_fingerprint_depends_on_the_key_and_hides_the_secret() -> None:
    one = fingerprint("sk_test_abcdefgh", key=b"k1")

    assert one == fingerprint("sk_test_abcdefgh", key=b"k1")
    assert one != fingerprint("sk_test_abcdefgh", key=b"k2")
    assert one != fingerprint("sk_test_abcdefgi", key=b"k1")
    assert "abcdefgh" not in one


def settings(**fields: object) -> WritebackSettings:
    return WritebackSettings(
        _env_file=None,
        stripe_url="http://127.0.0.1:1",
        stripe_api_key="sk_live_abcdefgh",
        **fields,  # type: ignore[arg-type]
    )


def test_the_environment_settings_reach_only_the_tenant_they_name() -> None:
    named = SettingsAccounts(settings(tenant="acme"))
    unnamed = SettingsAccounts(settings())

    assert set(named.accounts("acme")) == {"stripe"}
    assert named.accounts("globex") == {}
    assert unnamed.accounts("acme") == {}


def test_the_environment_settings_obey_the_environment_rule() -> None:
    account = SettingsAccounts(settings(tenant="acme.test")).accounts("acme.test")["stripe"]

    assert account.refused is not None
    assert "test environment" in account.refused
