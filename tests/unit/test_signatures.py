"""Each provider's webhook signature: a correct one passes, a wrong or stale one is refused.

Signatures are computed here from each provider's documented recipe with the standard
library, independently of the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from orderops.domain.errors import Unauthorized
from orderops.ingest.adapters import ADAPTERS
from orderops.ingest.signatures import SignatureError

SECRET = "whsec_test_secret"
BODY = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
NOW = datetime(2024, 8, 2, 19, 30, tzinfo=UTC)


def digest(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def unix(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def shopify(secret: str, body: bytes, at: datetime) -> dict[str, str]:
    return {"X-Shopify-Hmac-Sha256": b64(digest(secret, body))}


def aftership(secret: str, body: bytes, at: datetime) -> dict[str, str]:
    return {"aftership-hmac-sha256": b64(digest(secret, body))}


def easypost(secret: str, body: bytes, at: datetime) -> dict[str, str]:
    return {"X-Hmac-Signature": "hmac-sha256-hex=" + digest(secret, body).hex()}


def stripe(secret: str, body: bytes, at: datetime) -> dict[str, str]:
    t = unix(at)
    return {"Stripe-Signature": f"t={t},v1={digest(secret, t.encode() + b'.' + body).hex()}"}


def shippo(secret: str, body: bytes, at: datetime) -> dict[str, str]:
    t = unix(at)
    return {"Shippo-Auth-Signature": f"t={t},v1={digest(secret, t.encode() + b'.' + body).hex()}"}


def zendesk(secret: str, body: bytes, at: datetime) -> dict[str, str]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "X-Zendesk-Webhook-Signature": b64(digest(secret, stamp.encode() + body)),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


SIGNERS = {
    "shopify": shopify,
    "stripe": stripe,
    "easypost": easypost,
    "shippo": shippo,
    "aftership": aftership,
    "zendesk": zendesk,
}
TIMESTAMPED = ["stripe", "shippo", "zendesk"]


def verify(source: str, headers: dict[str, str], body: bytes = BODY, secret: str = SECRET) -> None:
    ADAPTERS[source].verify(headers=headers, body=body, secret=secret, now=NOW)


def test_every_registered_adapter_has_a_signature_test() -> None:
    assert set(ADAPTERS) == set(SIGNERS)


@pytest.mark.parametrize("source", sorted(SIGNERS))
def test_a_correct_signature_passes(source: str) -> None:
    verify(source, SIGNERS[source](SECRET, BODY, NOW))


@pytest.mark.parametrize("source", sorted(SIGNERS))
def test_header_names_are_case_insensitive(source: str) -> None:
    headers = {k.upper(): v for k, v in SIGNERS[source](SECRET, BODY, NOW).items()}

    verify(source, headers)


@pytest.mark.parametrize("source", sorted(SIGNERS))
def test_a_signature_made_with_another_secret_is_refused(source: str) -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(source, SIGNERS[source]("not-the-secret", BODY, NOW))


@pytest.mark.parametrize("source", sorted(SIGNERS))
def test_a_changed_body_is_refused(source: str) -> None:
    headers = SIGNERS[source](SECRET, BODY, NOW)

    with pytest.raises(SignatureError, match="does not match"):
        verify(source, headers, body=BODY.replace(b"evt_1", b"evt_2"))


@pytest.mark.parametrize("source", sorted(SIGNERS))
def test_a_missing_signature_is_refused(source: str) -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify(source, {})


@pytest.mark.parametrize("source", TIMESTAMPED)
@pytest.mark.parametrize("offset", [timedelta(seconds=301), timedelta(seconds=-301)])
def test_a_stale_or_future_timestamp_is_refused(source: str, offset: timedelta) -> None:
    headers = SIGNERS[source](SECRET, BODY, NOW + offset)

    with pytest.raises(SignatureError, match="outside the 300 s window"):
        verify(source, headers)


@pytest.mark.parametrize("source", TIMESTAMPED)
def test_a_timestamp_inside_the_window_passes(source: str) -> None:
    verify(source, SIGNERS[source](SECRET, BODY, NOW - timedelta(seconds=299)))


def test_stripe_accepts_any_of_several_v1_signatures_during_secret_rotation() -> None:
    t = unix(NOW)
    old = digest("old-secret", t.encode() + b"." + BODY).hex()
    new = digest(SECRET, t.encode() + b"." + BODY).hex()

    verify("stripe", {"Stripe-Signature": f"t={t},v1={old},v1={new},v0=ignored"})


@pytest.mark.parametrize(
    ("header", "reason"),
    [("v1=abc", "no numeric t="), (f"t={unix(NOW)}", "no v1="), ("t=soon,v1=abc", "no numeric t=")],
)
def test_stripe_malformed_headers_are_refused(header: str, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify("stripe", {"Stripe-Signature": header})


def test_easypost_normalises_the_secret_to_nfkd_as_easypost_documents() -> None:
    composed = "caf\u00e9-\ufb01"  # precomposed é and the "fi" ligature
    decomposed = "cafe\u0301-fi"
    headers = {"X-Hmac-Signature": "hmac-sha256-hex=" + digest(decomposed, BODY).hex()}

    verify("easypost", headers, secret=composed)


def test_easypost_refuses_a_signature_without_its_scheme_prefix() -> None:
    with pytest.raises(SignatureError, match="hmac-sha256-hex="):
        verify("easypost", {"X-Hmac-Signature": digest(SECRET, BODY).hex()})


@pytest.mark.parametrize("source", ["shopify", "aftership"])
def test_a_signature_that_is_not_base64_is_refused(source: str) -> None:
    name = next(iter(SIGNERS[source](SECRET, BODY, NOW)))

    with pytest.raises(SignatureError, match="not valid base64"):
        verify(source, {name: "%%%not-base64%%%"})


def test_zendesk_refuses_an_unreadable_timestamp() -> None:
    headers = zendesk(SECRET, BODY, NOW) | {"X-Zendesk-Webhook-Signature-Timestamp": "yesterday"}

    with pytest.raises(SignatureError, match="unreadable signature timestamp"):
        verify("zendesk", headers)


def test_a_signature_error_is_an_unauthorized_domain_error() -> None:
    assert issubclass(SignatureError, Unauthorized)
    assert SignatureError.code == "invalid-signature"
