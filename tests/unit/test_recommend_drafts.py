"""Drafts in four languages pass the fact checker; wrong facts and hostile text are blocked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builders.recommend import late_facts
from orderops.recommend.drafting import Drafter, TemplateSource, known_facts
from orderops.recommend.engine import recommend
from orderops.recommend.factcheck import check_text, parse_amount
from orderops.recommend.playbook import default_playbook
from orderops.recommend.redteam import AIM_GOOD, load_redteam, run_redteam
from orderops.recommend.voice import PendingMessage, dedupe_key, merge

PLAYBOOK = default_playbook()


@pytest.mark.parametrize(
    ("language", "credit_text", "greeting"),
    [
        ("en", "$8.00", "Hi Ana,"),
        ("es", "8,00 USD", "Hola Ana:"),
        ("pt", "8,00 USD", "Olá Ana,"),
        ("de", "8,00 USD", "Hallo Ana,"),
    ],
)
def test_template_drafts_in_each_language_cite_the_case_facts_and_pass(
    language: str, credit_text: str, greeting: str
) -> None:
    facts = late_facts(days_late=4, tier="vip", total_minor=8000, language=language)
    advice = recommend(facts, PLAYBOOK)
    drafts = Drafter().draft(facts, advice)
    customer = drafts.customer()
    assert customer is not None
    assert customer.language == language
    assert customer.body.startswith(greeting)
    assert "#1001" in customer.body
    assert credit_text in customer.body
    assert "1Z999AA10123456784" in customer.body
    assert "ana@example.com" not in customer.body  # minimum personal data
    internal = drafts.internal()
    assert internal is not None
    assert "vip_very_late_reship_express_and_credit" in internal.body


def test_the_payment_failed_template_asks_for_a_new_payment_method() -> None:
    from orderops.domain.cases import ExceptionType
    from orderops.domain.statuses import PaymentStatus
    from orderops.recommend.facts import PaymentFact

    facts = late_facts(
        exception_type=ExceptionType.PAYMENT_FAILED,
        payments=(PaymentFact(payment_ref="pi_1", status=PaymentStatus.FAILED, amount_minor=5000),),
        shipments=(),
    )
    customer = Drafter().draft(facts, recommend(facts, PLAYBOOK)).customer()
    assert customer is not None
    assert "did not go through" in customer.body


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("12.34", 1234),
        ("1,234.56", 123456),
        ("1.234,56", 123456),
        ("12,34", 1234),
        ("5,000", 500000),
        ("7", 700),
    ],
)
def test_amounts_are_read_in_english_and_european_notation(text: str, minor: int) -> None:
    assert parse_amount(text) == minor


def _redteam_known():  # type: ignore[no-untyped-def]
    from orderops.recommend.redteam import scenario_facts

    facts = scenario_facts(load_redteam()["scenario"])
    return known_facts(facts, recommend(facts, PLAYBOOK).top)


@pytest.mark.parametrize("item", load_redteam()["hostile"], ids=lambda i: i["id"])
def test_every_hostile_draft_in_the_red_team_set_is_blocked_and_named(item: dict[str, str]) -> None:
    result = check_text(item["text"], _redteam_known())
    assert not result.passed
    assert all(p.message for p in result.problems)


@pytest.mark.parametrize("item", load_redteam()["good"], ids=lambda i: i["id"])
def test_good_drafts_in_the_red_team_set_pass(item: dict[str, str]) -> None:
    assert check_text(item["text"], _redteam_known()).problems == ()


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Order #1001: we added $50.00 of store credit.", "amount", "$50.00"),
        ("Order #1001 was promised for June 7, 2024.", "date", "June 7, 2024"),
        ("Order #1009 is on its way.", "order_number", "#1009"),
        ("Tracking 1Z999AA10999999999.", "tracking_number", "1Z999AA10999999999"),
        ("We wrote to eve@example.net.", "email", "eve@example.net"),
    ],
)
def test_a_mismatch_names_what_is_wrong(text: str, kind: str, value: str) -> None:
    problems = check_text(text, _redteam_known()).problems
    assert (kind, value) in {(p.kind, p.value) for p in problems}


def test_the_red_team_run_blocks_everything_and_passes_the_good() -> None:
    result = run_redteam()
    assert [m for m in result.misses if not m.startswith("good ")] == []
    assert result.blocked_share == 1.0
    assert result.good_passed >= AIM_GOOD * result.good_total > 0


def test_messages_about_one_order_merge_into_one_voice() -> None:
    a = PendingMessage("c1", "Your order #1001", "Hi Ana,\n\nOrder #1001 is late.\n\nThank you.")
    b = PendingMessage("c2", "Your order #1001", "Hi Ana,\n\nWe refunded $5.00.\n\nThank you.")
    merged = merge([a, b])
    assert merged.case_ids == ("c1", "c2")
    assert merged.body == "Hi Ana,\n\nOrder #1001 is late.\n\nWe refunded $5.00.\n\nThank you."
    assert merged.body.count("Hi Ana") == 1
    assert dedupe_key("o1", "a@x", merged.body) == dedupe_key("o1", "a@x", merged.body + "\n")
    assert dedupe_key("o1", "a@x", merged.body) != dedupe_key("o2", "a@x", merged.body)


def test_templates_are_compiled_once_per_folder_and_a_tenant_s_edit_still_shows(
    tmp_path: Path,
) -> None:
    shipped = TemplateSource()
    assert TemplateSource()._env is shipped._env  # compiled templates kept between messages

    (tmp_path / "internal.j2").write_text("first {{ who }}")
    tenant = TemplateSource(tmp_path)
    assert tenant.render("internal.j2", {"who": "Ann"}) == "first Ann"
    assert TemplateSource(tmp_path)._env is tenant._env
    edited = tmp_path / "internal.j2"
    edited.write_text("second {{ who }}")
    later = edited.stat().st_mtime + 5
    os.utime(edited, (later, later))
    assert TemplateSource(tmp_path).render("internal.j2", {"who": "Ann"}) == "second Ann"
