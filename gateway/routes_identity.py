"""Login, the personal cabinet, units, organisations and administration (issue: Registry and
identity; R-1.3, R-2.1, R-2.2, R-2.3, R-2.4, R-3.5, R-3.10)."""
from __future__ import annotations

import uuid
from urllib.parse import quote

from flask import Response, current_app, json, redirect, request
from pydantic import BaseModel

from contracts.identity import Role, RoleOut
from contracts.registry import (AuditEntry, ConsentIn, ConsentText, DevLoginIn, MeOut, MeUpdate, OrganisationIn,
                                OrganisationOut, RoleGrant, SessionOut, UnitIn, UnitOut)
from gateway import auth, oauth
from gateway.clients import registry
from gateway.openapi import ApiSpec


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    person_id: uuid.UUID
    expires_at: str
    consent_required: bool


class UnitList(BaseModel):
    items: list[UnitOut]


class OrganisationList(BaseModel):
    items: list[OrganisationOut]


class AuditList(BaseModel):
    items: list[AuditEntry]


class AuditQuery(BaseModel):
    model_config = {"extra": "forbid"}
    person_id: uuid.UUID | None = None


def _session_response(session: SessionOut, status: int = 200) -> Response:
    token = auth.sign_session(str(session.session_id))
    body = TokenOut(access_token=token, person_id=session.person_id,
                    expires_at=session.model_dump(mode="json")["expires_at"], consent_required=session.consent_required)
    resp = Response(json.dumps(body.model_dump(mode="json")), status=status, mimetype="application/json")
    auth.set_session_cookies(resp, token)
    return resp


def browser_login(session: SessionOut, next_path: str) -> Response:
    """A browser's session starts: cookies set, on to the consent step first when it is due."""
    consent = "/me/consent" + (f"?next={quote(next_path)}" if next_path != "/" else "")
    resp = redirect(consent if session.consent_required else next_path, 302)
    auth.set_session_cookies(resp, auth.sign_session(str(session.session_id)))
    return resp


EXPORTING = ("consultations", "moderation", "notifications", "reports")  # besides the registry


def export_everything(person_id: str) -> dict:
    """R-2.4: the registry's export (its rules on who may export apply first), then what every
    other service keeps about the person, each under its own name, in one document."""
    data = registry.export_me(person_id)
    for service in EXPORTING:
        data[service] = current_app.extensions["rpc"].call(service, "export_person", person_id)
    return data


def _no_content() -> Response:
    return Response(status=204)


def register(spec: ApiSpec):
    api = spec.blueprint("identity", "/api/v1")
    ADMIN = (Role.admin,)

    # ---- login -----------------------------------------------------------------------------------
    @api.route("/auth/login", summary="Start login with the identity provider (302 to id.gov.ua)",
               status=302, tags=["auth"])
    def auth_login():
        url, cookie = oauth.start()
        resp = redirect(url, 302)
        resp.set_cookie(oauth.OAUTH_COOKIE, cookie, max_age=oauth.STATE_MAX_AGE, httponly=True,
                        samesite="Lax", path="/api/v1/auth",
                        secure=current_app.config["SETTINGS"].public_url.startswith("https://"))
        return resp

    class CallbackQuery(BaseModel):
        model_config = {"extra": "ignore"}
        code: str
        state: str

    @api.route("/auth/callback", summary="The provider returns here: state and code are checked, "
               "a session starts (JSON for API clients, a redirect for browsers)",
               query=CallbackQuery, response=TokenOut, tags=["auth"], errors=(400, 502, 503))
    def auth_callback(query: CallbackQuery):
        info, next_path = oauth.finish(query.code, query.state, request.cookies.get(oauth.OAUTH_COOKIE))
        session = registry.login_userinfo(info)
        if request.accept_mimetypes.best == "application/json" or "json" in request.headers.get("Accept", ""):
            resp = _session_response(session)
        else:
            resp = browser_login(session, next_path)
        return resp

    @api.after_request
    def _forget_state(resp: Response) -> Response:
        """One attempt per login state: the callback clears it, failed or not (a provider's
        `error=` without a code included)."""
        if request.endpoint == f"{api.name}.auth_callback":
            resp.delete_cookie(oauth.OAUTH_COOKIE, path="/api/v1/auth")
        return resp

    if spec.dev_login:
        @api.route("/auth/dev-login", "POST", summary="Dev login: a made-up person with chosen roles "
                   "(only when AUTH_DEV_LOGIN=1, never in production)", body=DevLoginIn,
                   response=TokenOut, tags=["auth"], errors=(403,))
        def auth_dev_login(body: DevLoginIn):
            return _session_response(registry.dev_login(body))

    @api.route("/auth/logout", "POST", summary="End the session (the token stops working at once)",
               status=204, tags=["auth"], auth="login")
    def auth_logout():
        principal = auth.require_login()
        registry.logout(principal.session_id)
        auth.forget_person(principal.person_id)
        resp = _no_content()
        auth.clear_session_cookies(resp)
        return resp

    @api.route("/consent", summary="The current consent text and its version", response=ConsentText,
               tags=["cabinet"])
    def consent_text():
        return registry.consent_text()

    # ---- the personal cabinet --------------------------------------------------------------------
    @api.route("/me", summary="My register entry, eligibility (R-1.3) and roles", response=MeOut,
               tags=["cabinet"], auth="login")
    def me_get():
        return registry.get_me(auth.require_login().person_id)

    @api.route("/me/consent", "POST", summary="Give consent to personal-data processing (R-3.5)",
               body=ConsentIn, response=MeOut, tags=["cabinet"], auth="login")
    def me_consent(body: ConsentIn):
        person_id = auth.require_login().person_id
        out = registry.give_consent(person_id, body)
        auth.forget_person(person_id)
        return out

    @api.route("/me", "PUT", summary="Update my contacts, interests and e-mail preference (R-2.4); "
               "omitted fields stay", body=MeUpdate, response=MeOut, tags=["cabinet"], auth="consent")
    def me_put(body: MeUpdate):
        return registry.update_me(auth.require_consent().person_id, body)

    @api.route("/me", "DELETE", summary="Withdraw consent: contacts and interests are erased at once; "
               "published comments stay public with the author's name", status=204, tags=["cabinet"],
               auth="login")
    def me_delete():
        person_id = auth.require_login().person_id
        registry.erase_me(person_id)
        auth.forget_person(person_id)
        resp = _no_content()
        auth.clear_session_cookies(resp)
        return resp

    @api.route("/me/export", summary="Everything the system keeps about me, from every service, as one "
               "JSON document (R-2.4)", tags=["cabinet"],
               auth="login")
    def me_export():
        data = export_everything(str(auth.require_login().person_id))
        return Response(json.dumps(data, ensure_ascii=False), mimetype="application/json",
                        headers={"Content-Disposition": "attachment; filename=my-data.json"})

    # ---- units and organisations -----------------------------------------------------------------
    @api.route("/units", summary="Structural units of the executive committee", response=UnitList,
               tags=["registry"])
    def units_list():
        return UnitList(items=registry.list_units())

    @api.route("/organisations", summary="Confirmed civil-society institutions (R-2.2)",
               response=OrganisationList, tags=["registry"])
    def organisations_list():
        return OrganisationList(items=registry.list_organisations())

    @api.route("/organisations", "POST", summary="File my institution (R-2.2) with its ЄДРПОУ code "
               "(check digit verified; a code already filed: 409): I become its head once an administrator "
               "confirms it", body=OrganisationIn, response=OrganisationOut,
               status=201, tags=["registry"], auth="consent", errors=(409,))
    def organisations_create(body: OrganisationIn):
        person = auth.require_consent()
        return registry.register_organisation(person.person_id, body), 201

    # ---- administration --------------------------------------------------------------------------
    @api.route("/admin/persons/<uuid:person_id>", summary="A person's register entry (the read is "
               "audited)", response=MeOut, tags=["admin"], auth=ADMIN, errors=(404,))
    def admin_person(person_id: uuid.UUID):
        return registry.admin_get_person(auth.require_login().person_id, person_id)

    @api.route("/admin/persons/<uuid:person_id>/roles", "POST", summary="Grant a role (audited)",
               body=RoleGrant, response=RoleOut, status=201, tags=["admin"], auth=ADMIN,
               errors=(404, 409))
    def admin_grant(person_id: uuid.UUID, body: RoleGrant):
        out = registry.grant_role(auth.require_login().person_id, person_id, body)
        auth.forget_person(person_id)
        return out, 201

    @api.route("/admin/persons/<uuid:person_id>/roles/<uuid:role_id>", "DELETE",
               summary="Revoke a role (audited)", status=204, tags=["admin"], auth=ADMIN,
               errors=(404, 409))
    def admin_revoke(person_id: uuid.UUID, role_id: uuid.UUID):
        registry.revoke_role(auth.require_login().person_id, person_id, role_id)
        auth.forget_person(person_id)
        return _no_content()

    @api.route("/admin/units", "POST", summary="Add a structural unit", body=UnitIn, response=UnitOut,
               status=201, tags=["admin"], auth=ADMIN, errors=(409,))
    def admin_unit(body: UnitIn):
        return registry.create_unit(auth.require_login().person_id, body), 201

    @api.route("/admin/organisations", summary="All institutions, pending ones too",
               response=OrganisationList, tags=["admin"], auth=ADMIN)
    def admin_organisations():
        return OrganisationList(items=registry.list_organisations(auth.require_login().person_id))

    @api.route("/admin/organisations/<uuid:organisation_id>/confirm", "POST",
               summary="Confirm an institution; its head gets the institution_head role",
               response=OrganisationOut, tags=["admin"], auth=ADMIN, errors=(404, 409))
    def admin_confirm(organisation_id: uuid.UUID):
        return registry.confirm_organisation(auth.require_login().person_id, organisation_id)

    @api.route("/admin/audit", summary="Audit trail (role changes, reads of personal data, consent)",
               query=AuditQuery, response=AuditList, tags=["admin"], auth=ADMIN)
    def admin_audit(query: AuditQuery):
        return AuditList(items=registry.audit_log(auth.require_login().person_id, query.person_id))

    return api

