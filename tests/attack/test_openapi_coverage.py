"""Schemathesis can only attack what the OpenAPI document lists.

``tests/integration/test_openapi_contract.py`` sends generated valid and invalid requests
to every operation of ``/openapi.json`` (both generation modes, bounded and derandomised)
and fails on any server error. This holds it to every API route the app serves: a route
left out of the document (``include_in_schema=False``) would escape it unseen.
"""

from __future__ import annotations

from builders.app_routes import app_routes
from orderops.api.app import create_app
from orderops.bootstrap import App

OUT_OF_THE_DOCUMENT = {
    ("GET", "/"): "a redirect to the console, which is HTML, not API",
    ("GET", "/choice/{token}"): "the customer's choice page, HTML (test_customer_choices.py)",
    ("POST", "/choice/{token}"): "the customer's choice form, HTML (test_customer_choices.py)",
}


def test_every_api_route_is_in_the_openapi_document(app: App) -> None:
    document = create_app(app).openapi()
    operations = {(m.upper(), path) for path, item in document["paths"].items() for m in item}
    served = {(m, p) for m, p, _ in app_routes() if not p.startswith("/console")}

    assert served - operations == set(OUT_OF_THE_DOCUMENT)
    assert operations <= served
