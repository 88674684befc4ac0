"""`orderops sso set|show|remove` and `orderops users totp enable|disable`.

The client secret is read from a hidden prompt or from stdin, never from an argument (an
argument lands in shell history and in every process listing). ``set`` fetches the
issuer's discovery document first, so a wrong issuer URL is found now rather than at the
first person's sign-in, and prints the redirect URIs to register at the provider. The TOTP
URI is printed once: it holds the secret, which is stored sealed and cannot be shown again.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from orderops.commands.shared import AppFactory, TenantOpt, command_group, opened_app

if TYPE_CHECKING:
    from orderops.bootstrap import App
    from orderops.tenancy.sso_config import SsoView

# The services (storage, cryptography, httpx) are imported inside each command, so that
# `orderops --help` does not load them.

ACTOR = "cli"
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="The console's public base URL, for the redirect URIs to register at the "
        "provider; default http://{ORDEROPS_HOST}:{ORDEROPS_PORT}.",
    ),
]


def _default_app() -> App:
    """The configured desk, refusing the demo secret key: secrets sealed with it could not be
    opened by a server running with the real one."""
    from orderops.bootstrap import bootstrap
    from orderops.config import Settings

    return bootstrap(Settings())


def register(cli: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    """Add the ``sso`` group and ``users totp`` to ``cli``; tests pass their own app."""
    factory = app_factory or _default_app
    console = Console()
    group = typer.Typer(no_args_is_help=True, help="Console single sign-on (OpenID Connect).")
    cli.add_typer(group, name="sso")
    totp_cli = typer.Typer(no_args_is_help=True, help="Authenticator codes for password sign-in.")
    command_group(cli, "users", "Users and service identities.").add_typer(totp_cli, name="totp")

    def opened(tenant: str) -> AbstractContextManager[App]:
        """Strict settings refuse the placeholder secret key; the tenant must exist."""
        return opened_app(factory, console, tenant=tenant)

    def show(view: SsoView, base_url: str) -> None:
        s = view.settings
        console.print(f"single sign-on for tenant {view.tenant_id}: {s.display_name}")
        console.print(f"  issuer:           {s.issuer}", soft_wrap=True)
        console.print(f"  client id:        {s.client_id}", soft_wrap=True)
        console.print("  client secret:    (stored encrypted; never shown)")
        console.print(f"  scopes:           {' '.join(s.scopes)}")
        for number, rule in enumerate(s.rules, start=1):
            console.print(f"  role rule {number}:      {rule}", soft_wrap=True)
        console.print(f"  new people:       {'created' if s.provision else 'refused'}")
        console.print(f"  local passwords:  {'allowed' if s.allow_passwords else 'refused'}")
        console.print(f"  redirect URI:     {base_url}/console/sso/callback", soft_wrap=True)
        console.print(f"  post-logout URI:  {base_url}/console/login", soft_wrap=True)
        console.print(f"  changed:          {view.updated_at.isoformat()} by {view.updated_by}")

    def base(app: App, base_url: str | None) -> str:
        return (base_url or f"http://{app.settings.host}:{app.settings.port}").rstrip("/")

    @group.command("set")
    def sso_set(
        tenant: TenantOpt,
        issuer: Annotated[str, typer.Option(help="The provider's issuer URL (https).")],
        client_id: Annotated[str, typer.Option("--client-id", help="This tenant's client id.")],
        name: Annotated[str, typer.Option(help="Shown as 'Sign in with <name>'.")],
        rule: Annotated[
            list[str],
            typer.Option(
                "--map",
                help="claim=value:role, e.g. groups=ops-leads:approver; repeat, first match wins.",
            ),
        ],
        scope: Annotated[
            list[str] | None, typer.Option("--scope", help="Repeat; default: openid email profile.")
        ] = None,
        provision: Annotated[
            bool, typer.Option(help="Create people at their first sign-in (else refuse them).")
        ] = False,
        passwords: Annotated[
            bool, typer.Option(help="Keep local passwords working beside single sign-on.")
        ] = True,
        secret_stdin: Annotated[
            bool, typer.Option("--secret-stdin", help="Read the client secret from stdin.")
        ] = False,
        new_secret: Annotated[
            bool,
            typer.Option(help="Prompt for a new client secret (a new client always asks)."),
        ] = False,
        check: Annotated[
            bool, typer.Option(help="Fetch the issuer's discovery document before saving.")
        ] = True,
        base_url: BaseUrlOpt = None,
    ) -> None:
        """Create or change the tenant's OpenID Connect client (audited, secret sealed)."""
        from orderops.domain.sso import DEFAULT_SCOPES, ClaimRule, SsoSettings
        from orderops.tenancy import sso_config
        from orderops.tenancy.oidc import OidcClient

        with opened(tenant) as app:
            settings = SsoSettings(
                display_name=name,
                issuer=issuer.strip(),
                client_id=client_id,
                scopes=tuple(scope) if scope else DEFAULT_SCOPES,
                rules=tuple(ClaimRule.parse(text) for text in rule),
                provision=provision,
                allow_passwords=passwords,
            )
            exists = sso_config.show_sso(app.sessions, tenant_id=tenant) is not None
            secret: str | None = None
            if secret_stdin:
                secret = sys.stdin.readline().strip()
            elif new_secret or not exists:
                secret = typer.prompt("client secret", hide_input=True)
            if check:
                found = OidcClient(timeout=app.settings.sso_http_timeout_seconds).metadata(
                    settings.issuer
                )
                console.print(f"discovery ok: authorize at {found.authorization_endpoint}")
            view = sso_config.set_sso(
                app.sessions,
                tenant_id=tenant,
                settings=settings,
                client_secret=secret,
                secret_key=app.settings.secret_key,
                clock=app.clock,
                actor=ACTOR,
            )
            show(view, base(app, base_url))

    @group.command("show")
    def sso_show(tenant: TenantOpt, base_url: BaseUrlOpt = None) -> None:
        """The tenant's client, without its secret, and the URIs the provider must allow."""
        from orderops.tenancy import sso_config

        with opened(tenant) as app:
            view = sso_config.show_sso(app.sessions, tenant_id=tenant)
            if view is None:
                console.print(f"tenant {tenant} has no single sign-on")
                raise typer.Exit(1)
            show(view, base(app, base_url))

    @group.command("remove")
    def sso_remove(tenant: TenantOpt) -> None:
        """Stop single sign-on for the tenant (people and their passwords stay)."""
        from orderops.tenancy import sso_config

        with opened(tenant) as app:
            sso_config.remove_sso(app.sessions, tenant_id=tenant, clock=app.clock, actor=ACTOR)
            console.print(f"single sign-on removed for tenant {tenant}")

    @totp_cli.command("enable")
    def totp_enable(
        tenant: TenantOpt,
        user: Annotated[str, typer.Option("--user", "-u", help="User id or email.")],
    ) -> None:
        """Make the person enter an authenticator code after their password; prints the
        otpauth:// URI for their app, once."""
        from orderops.tenancy.totp import enable_totp

        with opened(tenant) as app:
            enrolled = enable_totp(
                app.sessions,
                tenant_id=tenant,
                user_ref=user,
                secret_key=app.settings.secret_key,
                clock=app.clock,
                actor=ACTOR,
            )
            console.print(f"authenticator codes required for {enrolled.email or enrolled.user_id}")
            console.print("add this to their authenticator app (shown once):")
            console.print(enrolled.uri, soft_wrap=True, markup=False, highlight=False)

    @totp_cli.command("disable")
    def totp_disable(
        tenant: TenantOpt,
        user: Annotated[str, typer.Option("--user", "-u", help="User id or email.")],
    ) -> None:
        """Stop asking the person for codes (their secret is deleted)."""
        from orderops.tenancy.totp import disable_totp

        with opened(tenant) as app:
            done = disable_totp(
                app.sessions, tenant_id=tenant, user_ref=user, clock=app.clock, actor=ACTOR
            )
            console.print(
                f"authenticator codes {'no longer required' if done else 'were not required'} "
                f"for {user}"
            )
