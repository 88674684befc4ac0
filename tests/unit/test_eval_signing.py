"""The evaluation signs as each provider publishes its scheme.

Known answers were computed with ``openssl dgst -sha256 -hmac`` (an implementation that
is neither ours nor the desk's); then each scheme is checked against the desk's own
verification, which must accept a fresh signature and refuse another secret, another
body, and (where a time is signed) a stale one. The same check through a real HTTP
endpoint is in tests/integration/test_eval_through_webhooks.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from orderops.evaluation.signing import SIGNATURE_HEADERS, SIGNERS, UnknownProvider, sign
from orderops.ingest import signatures

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # unix 1772442000
SECRET = "s3cret-0123456789abcdef0123456789abcdef"

VERIFY: dict[str, Callable[..., None]] = {
    "shopify": signatures.verify_shopify,
    "stripe": signatures.verify_stripe,
    "easypost": signatures.verify_easypost,
    "shippo": signatures.verify_shippo,
    "aftership": signatures.verify_aftership,
    "zendesk": signatures.verify_zendesk,
}
TIMESTAMPED = ("stripe", "shippo", "zendesk")


def verify(provider: str, headers: dict[str, str], body: bytes, secret: str, now: datetime) -> None:
    check = VERIFY[provider]
    if provider in TIMESTAMPED:
        check(headers=headers, body=body, secret=secret, now=now)
    else:
        check(headers=headers, body=body, secret=secret)


@pytest.mark.parametrize(
    ("provider", "secret", "body", "expected"),
    [
        (
            "stripe", "whsec_test_secret_0123456789abcdef", b'{"id":"evt_1"}',
            {"Stripe-Signature": "t=1772442000,v1="
             "2d6333e41ed2b4f27eaba19ab97e493b6fc17fc7c372679b2143ed5dbb6a2fd5"},
        ),
        (
            "shopify", "shpss_0123456789abcdef0123456789abcdef", b'{"id":1}',
            {"X-Shopify-Hmac-Sha256": "4GHarqKT6Ii21bNJz9F4jAwZD+ZP23np8M9NQRhQqZI="},
        ),
        (
            "zendesk", "zendesk-secret-0123456789abcdef012345", b'{"ticket":{"id":1}}',
            {"X-Zendesk-Webhook-Signature": "C1JLz3VCvYgchSfKRYFogBuBS9HjkX5vJBc9imw2qcU=",
             "X-Zendesk-Webhook-Signature-Timestamp": "2026-03-02T09:00:00Z"},
        ),
        (
            "easypost", "easypost-secret-0123456789abcdef0123", b'{"id":"trk"}',
            {"X-Hmac-Signature": "hmac-sha256-hex="
             "d2d15055bfafd88b90b976167aaf8be51315313ce7aa8aaae40496a968047ebe"},
        ),
        (
            "shippo", "shippo-secret-0123456789abcdef012345", b'{"event":"track_updated"}',
            {"Shippo-Auth-Signature": "t=1772442000,v1="
             "2b131c3c1de1f101190f9c19fb1c9d927a6dfd39d43bc3ef45ae5db2bbea491d"},
        ),
        (
            "aftership", "aftership-secret-0123456789abcdef0123", b'{"msg":{}}',
            {"aftership-hmac-sha256": "kvsaipSNN8qiCQPNqEYx/Ocbj/IGBK+THwcWpxpbSII="},
        ),
    ],
)  # fmt: skip
def test_signatures_match_the_published_scheme(
    provider: str, secret: str, body: bytes, expected: dict[str, str]
) -> None:
    assert sign(provider, body, secret, AT) == expected


@pytest.mark.parametrize("provider", sorted(SIGNERS))
def test_the_desk_accepts_a_fresh_signature(provider: str) -> None:
    body = b'{"id":"x","amount":100}'

    headers = sign(provider, body, SECRET, AT)

    verify(provider, headers, body, SECRET, AT + timedelta(seconds=30))  # raises if refused
    assert {name.lower() for name in headers} <= SIGNATURE_HEADERS


@pytest.mark.parametrize("provider", sorted(SIGNERS))
def test_the_desk_refuses_another_secret(provider: str) -> None:
    body = b'{"id":"x"}'
    headers = sign(provider, body, "another-" + SECRET, AT)

    with pytest.raises(signatures.SignatureError, match="does not match"):
        verify(provider, headers, body, SECRET, AT)


@pytest.mark.parametrize("provider", sorted(SIGNERS))
def test_the_desk_refuses_a_body_changed_after_signing(provider: str) -> None:
    headers = sign(provider, b'{"amount":100}', SECRET, AT)

    with pytest.raises(signatures.SignatureError, match="does not match"):
        verify(provider, headers, b'{"amount":900}', SECRET, AT)


@pytest.mark.parametrize("provider", TIMESTAMPED)
def test_a_signature_made_too_long_before_now_is_stale(provider: str) -> None:
    body = b'{"id":"x"}'
    headers = sign(provider, body, SECRET, AT)

    with pytest.raises(signatures.SignatureError, match="outside the"):
        verify(provider, headers, body, SECRET, AT + timedelta(minutes=10))


def test_easypost_signs_with_the_nfkd_form_of_the_secret() -> None:
    body = b'{"id":"trk"}'
    full_width = "\uff45\uff41\uff53\uff59" + SECRET  # full-width "easy"

    assert sign("easypost", body, full_width, AT) == sign("easypost", body, "easy" + SECRET, AT)


def test_a_provider_without_a_scheme_is_refused() -> None:
    with pytest.raises(UnknownProvider, match="paypal"):
        sign("paypal", b"{}", SECRET, AT)
