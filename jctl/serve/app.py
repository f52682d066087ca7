"""The Journeys API routes: parse and check HTTP input, call the Runner on the engine thread, answer envelopes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jctl.serve.catalog import Catalog, load_catalog
from jctl.serve.engine import EngineThread, ServeSettings
from jctl.serve.problems import HttpProblem, from_engine_error, problem_response
from jctl.tasks.request import InboundRequest

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from jctl.engine.runner import Runner
    from jctl.store.models import Instance

API = "/api/v1/journeys"


def create_app(settings: ServeSettings, catalog: Catalog | None = None) -> Starlette:
    catalog = catalog if catalog is not None else load_catalog(settings.folders)
    engine = EngineThread(settings)
    api = JourneysApi(settings, catalog, engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ticker = asyncio.create_task(api.tick_loop())
        try:
            yield
        finally:
            engine.stopping.set()
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await asyncio.to_thread(engine.close)
            sys.stderr.write("jctl serve: stopped; every transition in flight was committed\n")

    routes = [
        Route(f"{API}/{{journeyName}}/start", api.start, methods=["POST"]),
        Route(API, api.list_journeys, methods=["GET"]),
        Route(f"{API}/{{journeyId}}", api.status, methods=["GET"]),
        Route(f"{API}/{{journeyId}}/result", api.result, methods=["GET"]),
        Route(f"{API}/{{journeyId}}/steps/{{stepId}}", api.step, methods=["POST"]),
        Route("/_jctl/clock", api.clock, methods=["GET", "POST"]),
        Route("/_jctl/instances", api.summaries, methods=["GET"]),
        Route("/_jctl/instances/{journeyId}/history", api.history, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HttpProblem: _problem, 404: _not_found, 405: _not_allowed,
                                        Exception: _internal})
    app.state.api = api
    return app


class JourneysApi:
    def __init__(self, settings: ServeSettings, catalog: Catalog, engine: EngineThread):
        self.settings, self.catalog, self.engine = settings, catalog, engine
        self.max_body = settings.max_body_bytes or body_limit()

    # -- routes ---------------------------------------------------------------------------------------------
    async def start(self, request: Request) -> Response:
        name = request.path_params["journeyName"]
        if name not in self.catalog.journeys:
            raise_problem(404, "JOURNEY_UNKNOWN", "No such journey",
                          f"no journey named {name!r} is served here; GET {API} lists instances, "
                          f"the server log lists the journeys it loaded")
        document = await self.json_body(request)
        key = idempotency_key(request)
        path, sync = self.catalog.journeys[name], self.catalog.start_mode(name) == "sync"
        mocks = self.settings.mocks
        inbound = InboundRequest(headers=dict(request.headers), query=dict(request.query_params))  # §2.8 bindings
        runner_key, fingerprint = (f"{name}/{key}", request_hash(document)) if key is not None else (None, None)
        # the runner commits the key and the body's hash with the instance it creates, and its answer with the
        # drive: a repeat replays that answer, another body is refused (409), a crash in between never starts twice
        body = await self.run(lambda runner: runner.start(path, document, mocks=mocks, detach=not sync,
                                                          request=inbound, idempotency_key=runner_key,
                                                          request_hash=fingerprint))
        status = 200 if sync else 202
        headers = {"Location": f"{API}/{body['journeyId']}"} if status == 202 else {}
        return await self.with_cookies(JSONResponse(body, status_code=status, headers=headers), body)

    async def status(self, request: Request) -> Response:
        from jctl.engine.envelopes import journey_status

        instance = await self.instance(request.path_params["journeyId"])
        return JSONResponse(await self.shown(journey_status(instance)), headers=metadata_headers(instance))

    async def result(self, request: Request) -> Response:
        from jctl.engine.envelopes import journey_outcome

        instance = await self.instance(request.path_params["journeyId"])
        if instance.phase == "RUNNING":
            raise_problem(409, "NOT_TERMINAL", "Journey not terminal yet",
                          f"journey {instance.id} is RUNNING at {instance.current_state}; poll "
                          f"{API}/{instance.id} until its phase is SUCCEEDED or FAILED")
        outcome = JSONResponse(await self.shown(journey_outcome(instance)), headers=metadata_headers(instance))
        return add_set_cookies(outcome, instance)

    async def step(self, request: Request) -> Response:
        journey_id, step = request.path_params["journeyId"], request.path_params["stepId"]
        instance = await self.instance(journey_id)
        if step == "cancel" and "cancel" not in (instance.definition.get("spec") or {}).get("states", {}):
            body = await self.run(lambda runner: runner.cancel(instance.id))  # §2.7: the canonical cancel step
            return JSONResponse(body)
        document = await self.json_body(request)
        key = idempotency_key(request)
        body = await self.run(lambda runner: runner.signal(instance.id, document, step=step, idempotency_key=key))
        return await self.with_cookies(JSONResponse(body), body)

    async def list_journeys(self, request: Request) -> Response:
        from jctl.engine.envelopes import journey_status

        query = request.query_params
        phase = query.get("phase")
        if phase is not None and phase not in ("RUNNING", "SUCCEEDED", "FAILED"):
            raise_problem(400, "BAD_QUERY", "Invalid phase", f"phase {phase!r} is not RUNNING, SUCCEEDED or FAILED")
        limit = query.get("limit", "50")
        if not limit.isdigit() or int(limit) > 10_000:
            raise_problem(400, "BAD_QUERY", "Invalid limit", "limit is a whole number from 0 to 10000")
        tags = query.getlist("tag")
        wanted = {k: query[k] for k in ("subjectId", "tenantId") if k in query}
        journey = query.get("journeyName")

        def select(runner: Runner) -> list[Instance]:
            return runner.store.list_instances(phase=phase, journey=journey, limit=int(limit), tags=tags,
                                               attributes=wanted)

        instances = await self.run(select)
        items = await self.shown([journey_status(i) for i in instances])
        return JSONResponse({"items": items, "nextPageToken": None})

    async def summaries(self, request: Request) -> Response:
        """`jctl list --target`: the rows `jctl list --format json` prints locally."""
        from jctl.documents import instance_summary

        query = request.query_params
        phase, limit = query.get("phase"), query.get("limit", "50")
        if (phase is not None and phase not in ("RUNNING", "SUCCEEDED", "FAILED")) or not limit.isdigit():
            raise_problem(400, "BAD_QUERY", "Invalid query", "phase is RUNNING, SUCCEEDED or FAILED; limit a number")
        journey = query.get("journeyName")
        found = await self.run(lambda runner: list(runner.store.instance_summaries(phase=phase, journey=journey,
                                                                                   limit=int(limit))))
        return JSONResponse({"items": [instance_summary(summary) for summary in found]})

    async def history(self, request: Request) -> Response:
        """`jctl history --target`: the events `jctl history --format json` prints locally."""
        from jctl.documents import event_document, shown_history_of

        instance = await self.instance(request.path_params["journeyId"])
        events = await self.run(lambda runner: shown_history_of(runner.store, instance.id, runner.secrets))
        return JSONResponse({"items": [event_document(e) for e in events]})

    async def clock(self, request: Request) -> Response:
        from jctl.clock import format_rfc3339

        if not self.settings.simulated_clock:
            raise_problem(404, "CLOCK_NOT_SIMULATED", "The clock is wall time",
                          "start the server with --clock simulated to read and move its clock")
        ran: list[str] = []
        if request.method == "POST":
            document = await self.json_body(request)
            move = clock_move(document)
            ran = await self.run(move)
        now = await self.run(lambda runner: runner.store.now())
        return JSONResponse({"now": format_rfc3339(now), "mode": "simulated", "ran": ran})

    # -- helpers --------------------------------------------------------------------------------------------
    async def shown(self, body: Any) -> Any:
        """An answer built outside the runner, with the local secret values blanked out as the runner's are."""
        return self.engine.secrets.scrubbed(body)

    async def run(self, work: Any) -> Any:
        try:
            return await self.engine.call(work)
        except HttpProblem:
            raise
        except Exception as error:
            raise from_engine_error(error) from None

    async def with_cookies(self, response: Response, body: dict[str, Any]) -> Response:
        """A response carrying a succeeded run's outcome also carries the cookies returnToClient selected."""
        if body.get("phase") != "SUCCEEDED" or not body.get("setCookie"):
            return response
        return add_set_cookies(response, await self.instance(str(body["journeyId"])))

    async def instance(self, journey_id: str) -> Instance:
        instance: Instance = await self.run(lambda runner: runner.store.get_instance(journey_id))
        if instance.id != journey_id:  # the API takes whole ids; id prefixes are a CLI convenience
            raise_problem(404, "JOURNEY_NOT_FOUND", "Journey instance not found", f"no instance {journey_id!r}")
        return instance

    async def json_body(self, request: Request) -> Any:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise_problem(415, "UNSUPPORTED_MEDIA_TYPE", "Body must be JSON",
                          f"Content-Type {media or '(none)'} is not application/json")
        limit = self.max_body
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise_problem(413, "BODY_TOO_LARGE", "Request body too large", too_large(limit))
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise_problem(413, "BODY_TOO_LARGE", "Request body too large", too_large(limit))
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks), parse_constant=_reject_constant)
        except (ValueError, RecursionError) as error:
            raise_problem(400, "MALFORMED_JSON", "Body is not valid JSON", str(error)[:300])

    async def tick_loop(self) -> None:
        """Run due work (timers, detached starts, resumes of instances whose runner died) and purge instances
        finished longer ago than the retention."""
        from jctl.clock import wall_now

        count = 0
        while not self.engine.stopping.is_set():
            simulated = self.settings.simulated_clock
            try:  # a failing tick is logged and retried, never ends the server
                await self.engine.call(lambda r: r.tick(until_idle=True) if simulated else r.catch_up(wall_now()))
                if count % self.settings.purge_every_ticks == 0:
                    await self.engine.call(self.purge)
            except Exception as error:
                sys.stderr.write(f"jctl serve: tick failed, retrying: {type(error).__name__}: {error}\n")
            count += 1
            await asyncio.sleep(self.settings.tick_interval_s)

    def purge(self, runner: Runner) -> list[str]:
        return runner.store.purge_finished(runner.store.now() - self.settings.retention)


def clock_move(document: Any) -> Any:
    from jctl.clock import parse_duration, parse_rfc3339

    if not isinstance(document, dict) or len(document) != 1 or not {"advance", "set"} & set(document):
        raise_problem(400, "BAD_CLOCK_MOVE", "Invalid clock move",
                      'send {"advance": "PT10M"} or {"set": "2030-01-01T00:00:00Z"}')
    try:
        if "advance" in document:
            delta = parse_duration(str(document["advance"]))
            return lambda runner: runner.advance(delta)
        to = parse_rfc3339(str(document["set"]))
        return lambda runner: runner.set_clock(to)
    except (ValueError, TypeError) as error:
        raise HttpProblem(400, "BAD_CLOCK_MOVE", "Invalid clock move", str(error)) from None


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not (0 < len(key) <= 255):
        raise_problem(400, "BAD_IDEMPOTENCY_KEY", "Invalid Idempotency-Key", "a key has 1 to 255 characters")
    return key


def request_hash(document: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def add_set_cookies(response: Response, instance: Instance) -> Response:
    """dsl.md 22.4: one Set-Cookie header per cookie spec.cookies.returnToClient returns (the body lists them
    masked)."""
    from jctl.engine.envelopes import returned_cookies

    for line in returned_cookies(instance):
        response.headers.append("set-cookie", line)
    return response


def metadata_headers(instance: Instance) -> dict[str, str]:
    """§2.8 metadata on status/result responses, for proxies and log pipelines that do not parse bodies."""
    headers = {"X-Journey-Name": instance.journey_name, "X-Journey-Phase": instance.phase}
    if instance.tags:
        headers["X-Journey-Tags"] = ",".join(instance.tags)
    for name in ("subjectId", "tenantId"):
        value = instance.attributes.get(name)
        if isinstance(value, str) and value.isprintable():
            headers[f"X-Journey-{name[0].upper()}{name[1:]}"] = value
    return headers


def raise_problem(status: int, code: str, title: str, detail: str) -> Any:
    raise HttpProblem(status, code, title, detail)


def body_limit() -> int:
    """A start or step body may be up to twice the input limit (pretty-printed JSON); the runner then holds its
    compact size to the input limit itself (400 naming the limit), as for `jctl run` and `jctl signal`."""
    from jctl.limits import Limits

    return 2 * Limits.load().input


def too_large(limit: int) -> str:
    return (f"bodies are limited to {limit} bytes (twice the input limit); raise it with JCTL_LIMIT_INPUT or "
            f"`input = ...` under [tool.jctl.limits]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpProblem)
    return problem_response(exc, request.url.path)


async def _not_found(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HttpProblem):
        return problem_response(exc, request.url.path)
    return problem_response(HttpProblem(404, "NOT_FOUND", "Not found", f"no route {request.url.path}"),
                            request.url.path)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    allow = dict(getattr(exc, "headers", None) or {})  # RFC 9110: a 405 lists the methods that are allowed
    return problem_response(HttpProblem(405, "METHOD_NOT_ALLOWED", "Method not allowed",
                                        f"{request.method} is not allowed on {request.url.path}", headers=allow),
                            request.url.path)


async def _internal(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HttpProblem):
        return problem_response(exc, request.url.path)
    sys.stderr.write(f"jctl serve: internal error on {request.method} {request.url.path}: "
                     f"{type(exc).__name__}: {exc}\n")
    return problem_response(HttpProblem(500, "INTERNAL", "Internal error", "see the server log"), request.url.path)


class AccessLog:
    """One JSON line per request on stderr: method, path, status, duration."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), [500]

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            line = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "method": scope["method"],
                    "path": scope["path"], "status": status[0],
                    "ms": round((time.perf_counter() - began) * 1000, 2)}
            sys.stderr.write(json.dumps(line) + "\n")
