"""`orderops users set-password`: the password comes from a hidden prompt or stdin, never
from an argument (arguments land in shell history and process listings)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner, Result

from builders.access import Person
from orderops.bootstrap import App
from orderops.commands import access
from orderops.console.accounts import check_login

PASSWORD = "correct horse battery staple"


def _run(app: App, args: list[str], stdin: str) -> Result:
    shell = typer.Typer()
    access.register(shell, app_factory=lambda: app)
    return CliRunner().invoke(shell, args, input=stdin)


def test_a_password_from_stdin_or_the_prompt_signs_in(app: App, agent: Person) -> None:
    email = "alice-agent@acme.example"
    base = ["users", "set-password", "--tenant", "acme", email]

    from_stdin = _run(app, [*base, "--password-stdin"], f"{PASSWORD}\n")
    assert from_stdin.exit_code == 0, from_stdin.output
    assert check_login(app.sessions, tenant_id="acme", email=email, password=PASSWORD)

    prompted = _run(app, base, f"{PASSWORD}-2\n{PASSWORD}-2\n")
    assert prompted.exit_code == 0, prompted.output
    assert f"{PASSWORD}-2" not in prompted.output  # hidden input is not echoed
    assert check_login(app.sessions, tenant_id="acme", email=email, password=f"{PASSWORD}-2")


def test_a_password_argument_is_refused(app: App, agent: Person) -> None:
    args = ["users", "set-password", "--tenant", "acme", "alice-agent@acme.example"]

    refused = _run(app, [*args, "--password", PASSWORD], "")

    assert refused.exit_code == 2
    assert "No such option" in refused.output
