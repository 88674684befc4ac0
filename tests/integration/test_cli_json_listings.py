"""Every listing command takes ``--json`` and prints one JSON document, on both databases.

Run as an operator would (the whole `orderops` command, settings from the environment),
against a database that has a tenant with a case, so the documents are not all empty.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from builders.case_work import open_payment_case
from orderops.bootstrap import App
from orderops.cli import cli
from orderops.domain.clock import FixedClock

LISTINGS = [
    ["cases", "list", "--tenant", "acme"],
    ["deadletters", "list", "--tenant", "acme"],
    ["holds", "list", "--tenant", "acme"],
    ["outbox", "list", "--tenant", "acme"],
    ["users", "list", "--tenant", "acme"],
    ["keys", "list", "--tenant", "acme"],
    ["tenant", "key", "list", "--tenant", "acme"],
    ["connections", "list", "--tenant", "acme"],
    ["sources", "list", "--tenant", "acme"],
    ["scopes", "brands", "list", "--tenant", "acme"],
    ["inbox", "lag", "--tenant", "acme"],
    ["webhooks", "list", "--tenant", "acme"],
]


@pytest.fixture
def env(
    app: App,
    database_url: str,
    owner_database_url: str,
    tmp_path: Path,
    clock: FixedClock,
    service_key: str,
) -> dict[str, str]:
    open_payment_case(app, clock, "o-100")
    migration = owner_database_url if owner_database_url != database_url else database_url
    return {
        "COLUMNS": "200",
        "ORDEROPS_DATABASE_URL": database_url,
        "ORDEROPS_MIGRATION_DATABASE_URL": migration,
        "ORDEROPS_DATA_DIR": str(tmp_path),
        "ORDEROPS_DEMO_MODE": "true",  # the app fixture's audit key
    }


def test_each_listing_prints_one_json_document(env: dict[str, str], service_key: str) -> None:
    documents = {}
    for args in LISTINGS:
        answer = CliRunner().invoke(cli, [*args, "--json"], env=env)
        assert answer.exit_code == 0, f"{' '.join(args)}: {answer.output}"
        documents[" ".join(args[:-2])] = json.loads(answer.stdout)

    (case,) = documents["cases list"]["items"]
    assert case["order_ref"] == "o-100"
    for keys in (documents["keys list"], documents["tenant key list"]):
        (key,) = keys["items"]
        assert (key["name"], key["role"], key["state"]) == ("svc", "service", "active")
        assert service_key not in json.dumps(keys)
    assert [t["tenant_id"] for t in documents["inbox lag"]["tenants"]] == ["acme"]
    for name, document in documents.items():
        if name != "inbox lag":
            assert isinstance(document["items"], list), name
