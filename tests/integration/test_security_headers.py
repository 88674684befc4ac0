"""Browser-facing protections: headers on every answer, docs served from the app itself,
evidence downloaded as an attachment that no browser will run."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from builders.access import key_for
from builders.case_work import open_payment_case
from builders.console import console_person, signed_in
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role


@pytest.fixture
def client(app: App, service_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(app), headers={"Authorization": f"Bearer {service_key}"}) as c:
        yield c


def assert_protected(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-eval" not in policy
    assert not re.search(r"https?://", policy), "the policy names no other origin"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_strict_transport_security_is_sent_over_tls_only(app: App, service_key: str) -> None:
    auth = {"Authorization": f"Bearer {service_key}"}
    with TestClient(create_app(app), base_url="https://desk.example", headers=auth) as tls:
        over_tls = tls.get("/v1/cases")
    with TestClient(create_app(app), base_url="http://desk.example", headers=auth) as plain:
        over_http = plain.get("/v1/cases")

    assert over_tls.status_code == over_http.status_code == 200
    assert over_tls.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert "strict-transport-security" not in over_http.headers


def test_a_console_page_carries_the_security_headers(app: App, clock: FixedClock) -> None:
    client = signed_in(app, console_person(app, clock, role=Role.AGENT))

    page = client.get("/console/queues")
    login = TestClient(create_app(app)).get("/console/login")

    assert page.status_code == 200
    assert_protected(page)
    assert_protected(login)
    scripts_and_sheets = page.headers["content-security-policy"].split("style-src-attr")[0]
    assert "'unsafe-inline'" not in scripts_and_sheets, "only the console's own files"


def test_the_api_and_its_errors_carry_the_security_headers(client: TestClient) -> None:
    listed = client.get("/v1/cases")
    missing = client.get("/v1/cases/nope")
    unauthenticated = TestClient(client.app).get("/v1/cases")

    assert (listed.status_code, missing.status_code, unauthenticated.status_code) == (
        200,
        404,
        401,
    )
    for response in (listed, missing, unauthenticated):
        assert_protected(response)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_load_only_from_the_app_itself(client: TestClient, page: str) -> None:
    response = client.get(page)

    assert response.status_code == 200
    assert_protected(response)
    html = response.text
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html), "nothing from another host"
    assert "<script>" not in html, "no inline script: the policy would block it"
    assets = re.findall(r"(?:src|href|spec-url)=\"(/[^\"]+)\"", html)
    assert assets
    for asset in assets:
        loaded = client.get(asset)
        assert loaded.status_code == 200, asset
        assert not re.search(rb"https?://cdn", loaded.content[:5000]), asset


def test_evidence_downloads_are_attachments_never_run_by_a_browser(
    app: App, clock: FixedClock
) -> None:
    case_id = open_payment_case(app, clock, "o-evidence")
    key = key_for(app, tenant_id="acme", name="al", role=Role.ADMIN, clock=clock)
    with TestClient(create_app(app), headers={"Authorization": f"Bearer {key.secret}"}) as client:
        url = f"/v1/cases/{case_id}/evidence"
        page = b"<html><script>alert(document.cookie)</script></html>"
        svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
        pdf = b"%PDF-1.4 carrier claim form"
        served = {}
        uploads = {"text/html": page, "image/svg+xml": svg, "application/pdf": pdf}
        for media, content in uploads.items():
            stored = client.post(url, content=content, headers={"Content-Type": media})
            served[media] = client.get(f"/v1/evidence/{stored.json()['sha256']}")

    for media, response in served.items():
        assert response.status_code == 200, media
        assert response.headers["content-disposition"].startswith("attachment; filename=")
        assert response.headers["x-content-type-options"] == "nosniff"
    assert served["text/html"].headers["content-type"] == "application/octet-stream"
    assert served["image/svg+xml"].headers["content-type"] == "application/octet-stream"
    assert served["application/pdf"].headers["content-type"] == "application/pdf"
    assert served["application/pdf"].headers["content-disposition"].endswith('.pdf"')
