"""Admin pages: the approval policy (validated, with the diff shown before it is saved),
users with their roles, console passwords and provenance (who made or changed each, and
when: it decides whose actions they may approve), and API keys: issued for a person or as
a service key with a role, a scope and an expiry, rotated with an overlap, revoked (a new
secret is shown exactly once, on the answer to the form that made it). Changes are made,
and audited, as the signed-in person's stable id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.console.accounts import set_password
from orderops.console.web import PREFIX, ConsoleRoute, Signed, app_of, form_of, redirect, render
from orderops.decide import policy_versions
from orderops.domain.approval_policy import diff_bodies, parse_policy
from orderops.domain.durations import parse_duration
from orderops.domain.errors import InvalidEvent
from orderops.domain.roles import Permission, Role
from orderops.domain.scopes import parse as parse_scope
from orderops.tenancy import access_scopes, identity_acts, key_lifecycle, users

router = APIRouter(prefix=f"{PREFIX}/admin", route_class=ConsoleRoute, include_in_schema=False)


class InvalidPolicyText(InvalidEvent):
    code = "invalid-policy"


def parse_policy_text(text: str) -> dict[str, Any]:
    """YAML (or JSON, a subset) to a validated, normalised policy body."""
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidPolicyText(f"not valid YAML: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidPolicyText("the policy must be a mapping")
    try:
        return parse_policy(body).body()
    except (ValueError, TypeError) as exc:
        raise InvalidPolicyText(f"the policy is not valid: {exc}") from exc


@router.get("/policy")
async def policy_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.POLICIES_MANAGE)
    app = app_of(request)
    versions = await run_in_threadpool(
        policy_versions.list_versions, app.sessions, tenant_id=viewer.tenant_id
    )
    current = versions[-1]
    return render(
        request,
        "policy.html",
        current=current,
        versions=versions[::-1],
        text=yaml.safe_dump(current.body, sort_keys=False),
        changes=None,
    )


@router.post("/policy/preview")
async def policy_preview(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.POLICIES_MANAGE)
    form = await form_of(request, viewer)
    app = app_of(request)
    text = form.get("policy", "")
    current = await run_in_threadpool(
        policy_versions.read_version, app.sessions, tenant_id=viewer.tenant_id
    )
    versions = await run_in_threadpool(
        policy_versions.list_versions, app.sessions, tenant_id=viewer.tenant_id
    )
    try:
        body = parse_policy_text(text)
    except InvalidPolicyText as exc:
        return render(
            request,
            "policy.html",
            status=422,
            current=current,
            versions=versions[::-1],
            text=text,
            changes=None,
            error=exc.message,
        )
    return render(
        request,
        "policy.html",
        current=current,
        versions=versions[::-1],
        text=text,
        changes=diff_bodies(current.body, body),
        note=form.get("note", ""),
    )


@router.post("/policy")
async def policy_save(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.POLICIES_MANAGE)
    form = await form_of(request, viewer)
    body = parse_policy_text(form.get("policy", ""))
    app = app_of(request)
    update = await run_in_threadpool(
        lambda: policy_versions.set_policy(
            app.sessions,
            tenant_id=viewer.tenant_id,
            body=body,
            actor=viewer.principal.identity,
            clock=app.clock,
            note=form.get("note", "").strip() or None,
        )
    )
    message = (
        f"Approval policy v{update.previous_version} → v{update.version} "
        f"({len(update.changes)} change(s))."
        if update.changed
        else f"Nothing changed: still v{update.version}."
    )
    return redirect(f"{PREFIX}/admin/policy", message=message)


# -- users and keys -----------------------------------------------------------------


@router.get("/users")
async def users_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.USERS_MANAGE)
    return await _users(request, viewer, issued=None)


async def _users(request: Request, viewer: Signed, *, issued: Any) -> Response:
    app = app_of(request)
    people = await run_in_threadpool(users.list_users, app.sessions, tenant_id=viewer.tenant_id)
    keys = await run_in_threadpool(
        lambda: key_lifecycle.list_keys(app.sessions, tenant_id=viewer.tenant_id, clock=app.clock)
    )
    acts = await run_in_threadpool(
        identity_acts.acts_by_user, app.sessions, tenant_id=viewer.tenant_id
    )
    scopes = await run_in_threadpool(
        access_scopes.stored_scopes, app.sessions, tenant_id=viewer.tenant_id
    )
    names = {u.id: u.display_name for u in people}
    response = render(
        request,
        "users.html",
        people=people,
        keys=keys,
        key_scopes=scopes.keys,
        names=names,
        acts=acts,
        roles=list(Role),
        issued=issued,
    )
    if issued is not None:
        response.headers["Cache-Control"] = "no-store"  # a secret is on this page
    return response


def _role_of(form: Mapping[str, str]) -> Role:
    role = form.get("role", "")
    if role not in set(Role):
        raise InvalidEvent(f"unknown role {role!r}")
    return Role(role)


@router.post("/users")
async def add_user(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.USERS_MANAGE)
    form = await form_of(request, viewer)
    app = app_of(request)
    role = _role_of(form)
    user = await run_in_threadpool(
        lambda: users.add_user(
            app.sessions,
            tenant_id=viewer.tenant_id,
            display_name=form.get("name", ""),
            role=role,
            email=form.get("email") or None,
            clock=app.clock,
            actor=viewer.principal.identity,
        )
    )
    if form.get("password"):
        await run_in_threadpool(
            lambda: set_password(
                app.sessions,
                tenant_id=viewer.tenant_id,
                user_ref=user.id,
                password=form["password"],
                clock=app.clock,
                actor=viewer.principal.identity,
            )
        )
    return redirect(f"{PREFIX}/admin/users", message=f"Added {user.display_name} ({user.role}).")


@router.post("/users/{user_id}/disable")
async def disable_user(request: Request, viewer: Signed, user_id: str) -> Response:
    viewer.need(Permission.USERS_MANAGE)
    await form_of(request, viewer)
    app = app_of(request)
    user = await run_in_threadpool(
        lambda: users.disable_user(
            app.sessions,
            tenant_id=viewer.tenant_id,
            user_id=user_id,
            clock=app.clock,
            actor=viewer.principal.identity,
        )
    )
    return redirect(f"{PREFIX}/admin/users", message=f"Disabled {user.display_name}.")


@router.post("/users/{user_id}/role")
async def change_role(request: Request, viewer: Signed, user_id: str) -> Response:
    viewer.need(Permission.USERS_MANAGE)
    form = await form_of(request, viewer)
    app = app_of(request)
    role = _role_of(form)
    user = await run_in_threadpool(
        lambda: users.change_role(
            app.sessions,
            tenant_id=viewer.tenant_id,
            user_id=user_id,
            role=role,
            clock=app.clock,
            actor=viewer.principal.identity,
        )
    )
    return redirect(f"{PREFIX}/admin/users", message=f"{user.display_name} is now {user.role}.")


@router.post("/users/{user_id}/password")
async def user_password(request: Request, viewer: Signed, user_id: str) -> Response:
    viewer.need(Permission.USERS_MANAGE)
    form = await form_of(request, viewer)
    app = app_of(request)
    user = await run_in_threadpool(
        lambda: set_password(
            app.sessions,
            tenant_id=viewer.tenant_id,
            user_ref=user_id,
            password=form.get("password", ""),
            clock=app.clock,
            actor=viewer.principal.identity,
        )
    )
    return redirect(f"{PREFIX}/admin/users", message=f"Password set for {user.display_name}.")


@router.post("/users/{user_id}/keys")
async def issue_key(request: Request, viewer: Signed, user_id: str) -> Response:
    viewer.need(Permission.USERS_MANAGE)
    form = await form_of(request, viewer)
    app = app_of(request)
    issued = await run_in_threadpool(
        lambda: users.issue_user_key(
            app.sessions,
            tenant_id=viewer.tenant_id,
            user_id=user_id,
            name=form.get("name") or "console",
            clock=app.clock,
            actor=viewer.principal.identity,
            granted_by=viewer.scope,
        )
    )
    return await _users(request, viewer, issued=issued)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, viewer: Signed, key_id: str) -> Response:
    viewer.need(Permission.USERS_MANAGE)
    await form_of(request, viewer)
    app = app_of(request)
    key = await run_in_threadpool(
        lambda: users.revoke_key(
            app.sessions,
            tenant_id=viewer.tenant_id,
            key_id=key_id,
            clock=app.clock,
            actor=viewer.principal.identity,
        )
    )
    return redirect(f"{PREFIX}/admin/users", message=f"Revoked key {key.prefix}….")


@router.post("/keys")
async def issue_service_key(request: Request, viewer: Signed) -> Response:
    """A key with no person behind it: a role, a scope within the issuer's own, the
    tenant's environment, an expiry; its secret is shown once, on the answer."""
    viewer.need(Permission.USERS_MANAGE)
    form = await form_of(request, viewer)
    app = app_of(request)
    role = _role_of(form)
    asked = form.get("scope", "").replace(";", " ").split()
    scope = parse_scope(asked) if asked else viewer.scope  # none given: the issuer's own
    expires_in = form.get("expires_in", "").strip() or None
    expires_at = key_lifecycle.requested_expiry(app.clock, expires_in=expires_in)
    issued = await run_in_threadpool(
        lambda: key_lifecycle.issue_scoped_key(
            app.sessions,
            tenant_id=viewer.tenant_id,
            name=form.get("name", "").strip()[:100] or "console",
            role=role,
            scope=scope,
            clock=app.clock,
            actor=viewer.principal.identity,
            expires_at=expires_at,
            granted_by=viewer.scope,
        )
    )
    return await _users(request, viewer, issued=issued)


@router.post("/keys/{key_id}/rotate")
async def rotate_key(request: Request, viewer: Signed, key_id: str) -> Response:
    """The successor's secret is shown once; the old key works until the overlap ends."""
    viewer.need(Permission.USERS_MANAGE)
    form = await form_of(request, viewer)
    app = app_of(request)
    overlap = parse_duration(form.get("overlap", "").strip() or "24h")
    rotation = await run_in_threadpool(
        lambda: key_lifecycle.rotate_key(
            app.sessions,
            tenant_id=viewer.tenant_id,
            key_id=key_id,
            clock=app.clock,
            actor=viewer.principal.identity,
            overlap=overlap,
            granted_by=viewer.scope,
        )
    )
    return await _users(request, viewer, issued=rotation.successor)
