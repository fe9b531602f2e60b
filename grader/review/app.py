"""``grader review``'s web app (Starlette): the TA's queues over one gradebook, behind a random token.

Security, the way Jupyter does it for a local server:
* nothing is served without the token: ``?token=...`` once (it sets an HttpOnly, SameSite=Strict session cookie
  and redirects to the same page without it) or an ``Authorization: token ...`` header;
* every state-changing request (POST) needs the session cookie, an ``Origin`` (or ``Referer``) of this very
  server and the session's CSRF token in the ``X-CSRF-Token`` header;
* every response carries a Content-Security-Policy with ``default-src 'self'`` and no inline script at all, so
  even a student's answer that got past the escaping could not run anything.
Every save is an event in the gradebook with the id of the event it was based on; a stale one is answered 409
with who changed it and when.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from grader.errors import UsageError
from grader.review import actions, render
from grader.review.queue import ResultsCache, build_queues, flag_queue, next_ungraded
from grader.store.events import StaleEdit
from grader.store.gradebook import Gradebook

COOKIE = "grader_review"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
       "img-src 'self' data:; object-src 'none'; frame-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")


@dataclass
class ReviewConfig:
    """What one ``grader review`` serves: the gradebook, who grades, the token, the order's seed."""

    gradebook: Path
    grader: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    assignment: str | None = None
    lang: str = "ko"
    seed: str = ""
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)  # session id → {"csrf", "grader"}
    hosts: frozenset[str] = frozenset()  # the Host headers served (empty: any); refuses DNS-rebinding names


class Guard:
    """ASGI middleware: the token/session check on every request, the CSRF check on state-changing ones, and
    the security headers on every response."""

    def __init__(self, app: ASGIApp, config: ReviewConfig) -> None:
        self.app, self.config = app, config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response = self._refuse(request, scope)
        if response is not None:
            await _secured(response)(scope, receive, send)
            return

        async def send_secured(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _HEADERS
            await send(message)
        await self.app(scope, receive, send_secured)

    def _refuse(self, request: Request, scope: Scope) -> Response | None:
        cfg = self.config
        if cfg.hosts and request.headers.get("host", "") not in cfg.hosts:
            return PlainTextResponse("unknown Host", status_code=403)
        token = request.query_params.get("token")
        if token is not None:
            if not secrets.compare_digest(token, cfg.token):
                return PlainTextResponse("wrong token / 잘못된 토큰", status_code=403)
            sid = secrets.token_urlsafe(24)
            cfg.sessions[sid] = {"csrf": secrets.token_urlsafe(24),
                                 "grader": request.query_params.get("grader") or cfg.grader}
            resp = RedirectResponse(str(request.url.remove_query_params(["token", "grader"])), status_code=303)
            resp.set_cookie(COOKIE, sid, httponly=True, samesite="strict", path="/")
            return resp
        sid = request.cookies.get(COOKIE, "")
        session = cfg.sessions.get(sid)
        header = request.headers.get("authorization", "")
        if session is None and header.startswith("token ") and secrets.compare_digest(header[6:], cfg.token):
            session = {"csrf": "", "grader": cfg.grader}
            if request.method == "POST":  # a token header is for reading (scripts); saving needs a session
                return JSONResponse({"error": "saving needs a browser session (open the URL with the token)"},
                                    status_code=403)
        if session is None:
            return PlainTextResponse("this server needs its access token: open the URL `grader review` printed "
                                     "/ `grader review` 가 출력한 토큰이 든 주소로 여세요", status_code=403)
        scope.setdefault("state", {})["session"] = session
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            return _csrf(request, session)
        return None


_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin"), (b"cache-control", b"no-store")]


def _secured(response: Response) -> Response:
    for k, v in _HEADERS:
        response.headers[k.decode()] = v.decode()
    return response


def _csrf(request: Request, session: dict[str, str]) -> Response | None:
    """403 unless the request comes from a page of this server (Origin, else Referer) and carries the
    session's CSRF token."""
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    here = request.headers.get("host", "")
    if not origin or urlsplit(origin).netloc != here:
        return JSONResponse({"error": "cross-site request refused (Origin)"}, status_code=403)
    sent = request.headers.get("x-csrf-token", "")
    if not session.get("csrf") or not secrets.compare_digest(sent, session["csrf"]):
        return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
    return None


def create_app(config: ReviewConfig) -> Starlette:
    """The Starlette app of ``config`` (its handlers open the gradebook per request: several TAs, several
    servers, one SQLite file)."""

    cache = ResultsCache()

    def gb() -> Gradebook:
        return Gradebook(config.gradebook, create=False)

    def session(request: Request) -> dict[str, str]:
        return dict(request.scope["state"]["session"])

    async def index(request: Request) -> Response:
        with gb() as book:
            results = cache.results(book, config.assignment)
            queues = build_queues(book, config.assignment, config.seed, results)
            flagged = flag_queue(results)
        return HTMLResponse(render.index(queues, flagged, config.lang, session(request)["csrf"]))

    async def answer(request: Request) -> Response:
        aid, cid, where = (request.path_params[k] for k in ("assignment", "check", "pos"))
        with gb() as book:
            queues = build_queues(book, config.assignment, config.seed, cache.results(book, config.assignment))
            q = next((q for q in queues if q.assignment == aid and q.check_id == cid), None)
            if q is None or not q.answers:
                return PlainTextResponse(f"no queue {aid}/{cid}", status_code=404)
            pos = _position(q, where, request.query_params.get("after"))
            if pos is None:
                return RedirectResponse("/", status_code=303)
            if str(pos) != where:
                return RedirectResponse(f"/q/{aid}/{cid}/{pos}", status_code=303)
            items = book.rubric(aid).get(cid, [])
            bank = actions.comment_bank(book, aid, cid)
        prompt = actions.prompt(aid, q.answers[pos].check, config.lang)
        return HTMLResponse(render.answer_page(q, pos, items, bank, prompt, config.lang, session(request)["csrf"],
                                               sum(x.left for x in queues), actions.run_groups(aid)))

    async def flags(request: Request) -> Response:
        with gb() as book:
            results = flag_queue(cache.results(book, config.assignment))
        return HTMLResponse(render.flags_page(results, config.lang, session(request)["csrf"]))

    async def api(request: Request) -> Response:
        kind = request.path_params["kind"]
        handler = {"grade": actions.grade, "rubric": actions.edit_rubric, "flag": actions.decide_flag}.get(kind)
        if handler is None:
            return JSONResponse({"error": f"unknown action {kind}"}, status_code=404)
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise UsageError("the request body must be a JSON object")
            with gb() as book:
                return JSONResponse(handler(book, body, session(request)["grader"], config))
        except StaleEdit as exc:
            return JSONResponse({"error": str(exc), "latest": exc.latest.to_dict()}, status_code=409)
        except (UsageError, ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [Route("/", index), Route("/favicon.ico", favicon), Route("/q/{assignment}/{check}/{pos}", answer),
              Route("/flags", flags),
              Route("/api/{kind}", api, methods=["POST"]),
              Mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")))]
    return Starlette(routes=routes, middleware=[Middleware(Guard, config=config)])


def _position(q: Any, where: str, after: str | None) -> int | None:
    """The answer position a URL names: a number, ``start`` (the first ungraded, else 0) or ``ungraded``."""
    if where == "start":
        found = next_ungraded(q, -1)
        return 0 if found is None else found
    if where == "ungraded":
        return next_ungraded(q, int(after or -1))
    pos = int(where) if where.isdigit() else 0
    return min(pos, len(q.answers) - 1)
