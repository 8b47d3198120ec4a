"""The organizer view, `/admin`: everything, and the kill switch.

Served only when an organizer token is configured (see `organizer_auth`). It shows what
spectators must not see — fault ids, the diff each fault pushed, failing checks, hints
given, anomalies, PagerDuty details — and offers halt all / halt a team / resume as POST
forms carrying a CSRF token. `/admin/api/status` is the full `status --json` document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any
from urllib.parse import parse_qs, quote

from jinja2 import Environment, PackageLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.game.timeline import FaultInstance
from bot.web.humanize import LocalClock, how_it_ended, human_duration, who_fixed
from bot.web.organizer_auth import COOKIE, OrganizerAuth, same_origin

MAX_FORM_BYTES = 4096  # the forms here carry a team name and a CSRF token


@dataclass(frozen=True)
class OrganizerSide:
    """What the organizer view reads and the controls it drives (the daemon supplies them)."""

    auth: OrganizerAuth
    event: str
    instances: Callable[[], Sequence[FaultInstance]]
    teams: Callable[[], Mapping[str, bool]]
    """Every team and whether it is halted."""
    diff: Callable[[str, str], str | None]
    halt: Callable[[str | None], str]
    resume: Callable[[str | None], str]
    zone: tzinfo = timezone.utc
    plans: Callable[[], Mapping[str, Sequence[str]]] = dict
    """Each team's planned faults, in order (those not scheduled yet are listed as planned)."""


_ENV = Environment(loader=PackageLoader("bot.web", "templates"), autoescape=True)


def _rows(side: OrganizerSide, instances: Sequence[FaultInstance]) -> dict[str, list[dict[str, Any]]]:
    clock = LocalClock.for_instances(instances, side.zone)
    rows: dict[str, list[dict[str, Any]]] = {}
    for instance in instances:
        pager = instance.pager
        rows.setdefault(instance.team, []).append({
            "fault": instance.fault,
            "state": instance.state.value,
            "how": how_it_ended(instance),
            "by": who_fixed(instance) if instance.fix_kind else "",
            "scheduled": clock.show(instance.scheduled_at),
            "injected": clock.show(instance.injected_at),
            "sha": (instance.injected_sha or "")[:10],
            "fixed": clock.show(instance.fixed_at),
            "time_to_fix": human_duration(instance.time_to_fix_s),
            "failing": list(instance.failing),
            "hints": [(clock.show(at), text) for at, text in instance.hints],
            "anomalies": list(instance.anomalies),
            "stale": list(instance.stale),
            "pager": pager,
            "mtta": human_duration(instance.mtta_s),
            "messages": [(clock.show(m.at), m.kind.replace("_", " "), m.by or "", m.text)
                         for m in (pager.messages if pager else ())],
            "diff": side.diff(instance.team, instance.fault) if instance.injected_sha else None,
        })
    for team, faults in side.plans().items():
        known = {row["fault"] for row in rows.get(team, [])}
        rows.setdefault(team, []).extend({"fault": fault, "state": "planned", "how": "", "by": "", "scheduled": "",
                                          "injected": "", "sha": "", "fixed": "", "time_to_fix": "", "failing": [],
                                          "hints": [], "anomalies": [], "stale": [], "pager": None, "mtta": "",
                                          "messages": [], "diff": None}
                                         for fault in faults if fault not in known)
    return rows


def render_admin(side: OrganizerSide, csrf: str, flash: str | None = None) -> str:
    """The organizer page for one signed-in session."""
    instances = list(side.instances())
    teams = side.teams()
    return _ENV.get_template("admin.html").render(
        event=side.event, csrf=csrf, flash=flash, teams=teams, rows=_rows(side, instances),
        note=LocalClock.for_instances(instances, side.zone).note,
        generated=datetime.now(timezone.utc).astimezone(side.zone).strftime("%H:%M:%S"),
    )


def _login_page(failed: bool = False) -> str:
    return _ENV.get_template("admin_login.html").render(failed=failed)


async def _form(request: Request) -> dict[str, str] | None:
    """A small urlencoded form, or None when it is too big or not a form."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def admin_routes(side: OrganizerSide) -> list[Route]:
    """The organizer's routes; add them only when a token is configured."""
    auth = side.auth

    def nonce_of(request: Request) -> str | None:
        return auth.session_nonce(request.cookies.get(COOKIE))

    async def page(request: Request) -> Response:
        nonce = nonce_of(request)
        if nonce is None:
            return HTMLResponse(_login_page(), status_code=401)
        return HTMLResponse(render_admin(side, auth.csrf_for(nonce), request.query_params.get("done")),
                            headers={"cache-control": "no-store"})

    async def login(request: Request) -> Response:
        form = await _form(request)
        if form is None or not auth.token_matches(form.get("token")):
            return HTMLResponse(_login_page(failed=True), status_code=401)
        response = RedirectResponse("/admin", status_code=303)
        response.set_cookie(COOKIE, auth.new_session(), httponly=True, samesite="strict", path="/admin",
                            secure=request.url.scheme == "https")
        return response

    def action(run: Callable[[str | None], str]) -> Callable[[Request], Any]:
        async def post(request: Request) -> Response:
            nonce = nonce_of(request)
            form = await _form(request)
            base = f"{request.url.scheme}://{request.url.netloc}"
            if nonce is None or form is None or not auth.csrf_ok(nonce, form.get("csrf")) \
                    or not same_origin(request.headers, base):
                return JSONResponse({"error": "not signed in, or the form's CSRF token is missing or wrong"},
                                    status_code=403)
            team = form.get("team") or None
            if team is not None and team not in side.teams():
                return JSONResponse({"error": f"no team named {team!r}"}, status_code=400)
            said = run(team)
            return RedirectResponse("/admin?done=" + quote(said), status_code=303)

        return post

    async def full_status(request: Request) -> Response:
        if nonce_of(request) is None and not auth.bearer_ok(request.headers):
            return JSONResponse({"error": "organizer token required"}, status_code=401)
        return JSONResponse([i.as_json() for i in side.instances()])

    return [
        Route("/admin", page),
        Route("/admin/login", login, methods=["POST"]),
        Route("/admin/halt", action(side.halt), methods=["POST"]),
        Route("/admin/resume", action(side.resume), methods=["POST"]),
        Route("/admin/api/status", full_status),
    ]
