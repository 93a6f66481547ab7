"""The fault matrix: every way a Space, a proxy or the network can misbehave.

Each case runs over both transports and, where it applies, both protocols,
against :class:`fault_server.FaultServer` on loopback. Each asserts the exact
outcome (an image, or the documented error type), that the generation ended
within its deadline (``elapsed < timeout + SLACK``), how many times the job was
submitted (retries are bounded, and never made for errors that cannot heal),
and (inside :func:`fault_server.generate`) that no task was left behind.

Retries use the provider's attempts with millisecond backoff (the
``fast_retries`` fixture) except in the tests of the backoff itself.
"""

from __future__ import annotations

import itertools
import socket
import tracemalloc

import g4f.errors
import pytest
from fault_server import (  # noqa: F401  (fixtures)
    FAST_RETRY_ATTEMPTS,
    IMAGE_PATH,
    QUOTA_ERROR,
    fast_retries,
    foreign,
    free_port,
    fresh,
    generate,
    legacy_space,
    pending_tasks,
    space,
)

from g4f_flux_plugin import _errors as client_errors
from g4f_flux_plugin._errors import (
    NotAGradioAppError,
    QuotaExceededError,
    SpaceBusyError,
)
from g4f_flux_plugin._g4f_errors import G4F_TWINS
from g4f_flux_plugin._retry import RetryPolicy
from g4f_flux_plugin._transports import Timeouts
from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell

TRANSPORTS = ("aiohttp", "curl_cffi")
PROTOCOLS = ("call", "queue")
SLACK = 3.0  # seconds a generation may overrun its deadline (cancel courtesy, loop latency)
TIMEOUT = 5.0  # the deadline of cases where the deadline is not the point

pytestmark = pytest.mark.usefixtures("fresh", "fast_retries")


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    return request.param


@pytest.fixture(params=list(itertools.product(TRANSPORTS, PROTOCOLS)), ids="-".join)
def combo(request):
    """(transport, protocol)"""
    return request.param


async def run(space, combo, *, timeout: float = TIMEOUT, **kwargs):
    transport, protocol = combo
    outcome = await generate(space.root, transport=transport, protocol=protocol, timeout=timeout, **kwargs)
    assert outcome.elapsed < timeout + SLACK, f"overran its {timeout} s deadline: {outcome.elapsed:.2f} s"
    return outcome


def expect_image(outcome, space, *, url: str | None = None):
    assert outcome.error is None, f"expected an image, got {outcome.error!r}"
    image = outcome.image
    assert image is not None
    assert image.urls == [url or f"{space.root}{space.prefix}/file={IMAGE_PATH}"]
    assert image.options["seed"] == 7
    return image


def expect_error(outcome, kind):
    assert outcome.error is not None, f"expected {kind.__name__}, got an image"
    # What the provider raises is the error's g4f-facing twin (see _g4f_errors).
    assert type(outcome.error) is G4F_TWINS[kind], f"expected {kind.__name__}, got {outcome.error!r}"
    return outcome.error


# -- the network ---------------------------------------------------------------


async def test_connection_refused_is_retried_then_raised(transport):
    root = f"http://127.0.0.1:{free_port()}"
    outcome = await generate(root, transport=transport, timeout=TIMEOUT)
    assert outcome.elapsed < TIMEOUT + SLACK
    error = expect_error(outcome, client_errors.SpaceConnectError)
    assert isinstance(error, g4f.errors.ResponseError)
    assert len(outcome.events("retry")) == FAST_RETRY_ATTEMPTS - 1


@pytest.fixture
def unanswered_port():
    """A port whose listener never accepts and whose backlog is full: Linux
    drops further SYNs, so a connect hangs until the client's connect timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        probe = socket.socket()
        fillers.append(probe)
        probe.settimeout(0.3)
        try:
            probe.connect(("127.0.0.1", port))
        except TimeoutError:
            pass  # the SYN was dropped: the port is what we need
        except OSError:
            pytest.skip("this system refuses connections to a full backlog instead of dropping them")
        else:
            pytest.skip("this system accepted a connection beyond the backlog")
        yield port
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


async def test_connect_timeout_is_retried_then_raised(unanswered_port, transport):
    async with short_timeout_transport(transport, connect=0.5) as client:
        outcome = await generate(
            f"http://127.0.0.1:{unanswered_port}", transport=client, timeout=TIMEOUT, check_tasks=False
        )
    assert not pending_tasks()
    expect_error(outcome, client_errors.SpaceConnectError)
    assert len(outcome.events("retry")) == FAST_RETRY_ATTEMPTS - 1
    # each attempt waited for its connect timeout, and not for the deadline
    assert FAST_RETRY_ATTEMPTS * 0.5 <= outcome.elapsed < TIMEOUT


async def test_reset_before_event_id_then_success(space, combo):
    space.use("submit_reset", times=1)
    outcome = await run(space, combo)
    expect_image(outcome, space)
    assert space.count("submit") == 2
    retries = len(outcome.events("retry"))
    # libcurl silently resends a request whose reused connection died before
    # any answer, so on curl_cffi the provider may never see this reset.
    assert retries == 1 if combo[0] == "aiohttp" else retries <= 1


async def test_reset_before_event_id_every_time(space, combo):
    space.use("submit_reset")
    outcome = await run(space, combo)
    error = expect_error(outcome, client_errors.SpaceConnectionError)
    assert "reset" in str(error).lower() or "broke" in str(error)
    if combo[0] == "aiohttp":
        assert space.count("submit") == FAST_RETRY_ATTEMPTS
    else:  # at most one silent resend by libcurl per attempt
        assert FAST_RETRY_ATTEMPTS <= space.count("submit") <= 2 * FAST_RETRY_ATTEMPTS
    assert space.count("stream") == 0


async def test_reset_mid_stream_then_success(space, combo):
    space.use("stream_reset", times=1)
    outcome = await run(space, combo)
    expect_image(outcome, space)
    assert space.count("submit") == 2
    assert space.count("cancel") == 1  # the broken job was cancelled, not left queued


async def test_reset_mid_stream_every_time(space, combo):
    space.use("stream_reset")
    outcome = await run(space, combo)
    expect_error(outcome, client_errors.SpaceConnectionError)
    assert space.count("submit") == FAST_RETRY_ATTEMPTS
    assert space.count("cancel") == FAST_RETRY_ATTEMPTS


# -- HTTP statuses ---------------------------------------------------------------


@pytest.mark.parametrize(
    "status,reason", [(502, "Bad Gateway"), (503, "Service Unavailable"), (504, "Gateway Timeout")]
)
async def test_gateway_error_page_is_retried_then_raised(space, combo, status, reason):
    space.use("submit_status", status=status)
    outcome = await run(space, combo)
    error = expect_error(outcome, client_errors.SpaceStatusError)
    assert isinstance(error, g4f.errors.ResponseStatusError)
    assert error.status == status
    message = str(error)
    assert f"{status} {reason}" in message  # the page's <title>
    assert "<" not in message and "font-family" not in message and "upstream" not in message
    assert space.count("submit") == FAST_RETRY_ATTEMPTS
    assert space.count("stream") == 0


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_error_page_then_success(space, combo, status):
    space.use("submit_status", status=status, times=FAST_RETRY_ATTEMPTS - 1)
    outcome = await run(space, combo)
    expect_image(outcome, space)
    assert space.count("submit") == FAST_RETRY_ATTEMPTS


async def test_huge_error_page_is_read_only_in_part(space, combo):
    space.use("submit_status", status=502, body_bytes=8 << 20)
    outcome = await run(space, combo)
    error = expect_error(outcome, client_errors.SpaceStatusError)
    assert "502 Bad Gateway" in str(error) and len(str(error)) < 400


async def test_429_retry_after_is_honoured(space, combo):
    space.use("submit_status", status=429, html=False, retry_after="1", times=1)
    outcome = await run(space, combo)
    expect_image(outcome, space)
    assert space.count("submit") == 2
    first, second = [r for r in space.requests if r.route == "submit"]
    assert second.at - first.at >= 1.0, "the Retry-After wait was not made"
    (retry,) = outcome.events("retry")
    assert retry.eta >= 1.0


async def test_429_retry_after_beyond_the_deadline_is_raised_at_once(space, combo):
    space.use("submit_status", status=429, html=False, retry_after="60")
    outcome = await run(space, combo)
    error = expect_error(outcome, client_errors.SpaceRateLimitError)
    assert isinstance(error, g4f.errors.RateLimitError)
    assert error.retry_after == 60
    assert space.count("submit") == 1
    assert outcome.events("retry") == []  # raised at once: no wait was planned, none slept


async def test_queue_full_then_success(space, combo):
    space.use("queue_full", times=1)
    outcome = await run(space, combo)
    expect_image(outcome, space)
    assert space.count("submit") == 2


async def test_queue_full_every_time(space, combo):
    space.use("queue_full")
    outcome = await run(space, combo)
    error = expect_error(outcome, client_errors.SpaceRateLimitError)
    assert isinstance(error, g4f.errors.RateLimitError) and error.status == 503
    assert "Queue is full" in str(error)
    assert space.count("submit") == FAST_RETRY_ATTEMPTS


@pytest.mark.parametrize(
    "status,kind",
    [
        (400, client_errors.SpaceStatusError),
        (401, client_errors.SpaceAuthError),
        (403, client_errors.SpaceAuthError),
        (422, client_errors.SpaceStatusError),
    ],
)
async def test_client_errors_are_not_retried(space, combo, status, kind):
    space.use(
        "submit_status", status=status, html=False, detail="Value 4096 is greater than maximum value 2048."
    )
    outcome = await run(space, combo)
    error = expect_error(outcome, kind)
    assert error.status == status
    assert "Value 4096 is greater" in str(error)
    assert space.count("submit") == 1


async def test_408_is_retried(space, combo):
    space.use("submit_status", status=408)
    outcome = await run(space, combo)
    assert expect_error(outcome, client_errors.SpaceStatusError).status == 408
    assert space.count("submit") == FAST_RETRY_ATTEMPTS


async def test_500_on_submit_rediscovers_the_config_once(space, combo):
    space.use("submit_status", status=500, html=False)
    outcome = await run(space, combo)
    assert expect_error(outcome, client_errors.SpaceStatusError).status == 500
    assert space.routes() == ["config", "submit", "config", "submit"]


async def test_whole_space_404(space, transport):
    space.use("space_404")
    outcome = await run(space, (transport, "auto"))
    assert expect_error(outcome, client_errors.SpaceStatusError).status == 404
    assert space.routes() == ["config"]


async def test_config_missing(space, transport):
    space.use("config_404")
    outcome = await run(space, (transport, "auto"))
    assert expect_error(outcome, client_errors.SpaceStatusError).status == 404
    assert space.routes() == ["config"]


async def test_config_not_json(space, transport):
    space.use("config_not_json")
    outcome = await run(space, (transport, "auto"))
    # An HTML page where /config's JSON was due: a front answered, not the app
    # (a SpaceProtocolError; for a Space named by id, the Hub is asked why).
    error = expect_error(outcome, NotAGradioAppError)
    assert isinstance(error, client_errors.SpaceProtocolError)
    assert "/config" in str(error) and "<html" not in str(error)
    assert space.routes() == ["config"]


async def test_config_gateway_error_then_success(space, combo):
    space.use("config_status", status=503, times=1)
    outcome = await run(space, combo)
    expect_image(outcome, space)
    assert space.routes() == ["config", "config", "submit", "stream"]


async def test_event_id_missing(space, combo):
    space.use("no_event_id")
    outcome = await run(space, combo)
    error = expect_error(outcome, client_errors.SpaceProtocolError)
    assert "event id" in str(error)
    assert space.routes() == ["config", "submit"]


# -- streams that end badly or never -------------------------------------------


@pytest.mark.parametrize(
    "combo,close_stream",
    [
        (combo, close)
        for combo in itertools.product(TRANSPORTS, PROTOCOLS)
        for close in ([True, False] if combo[1] == "queue" else [True])  # only the queue has close_stream
    ],
    ids=lambda value: "-".join(value) if isinstance(value, tuple) else ("close_stream" if value else "eof"),
)
async def test_heartbeats_then_end_of_stream(space, combo, close_stream):
    space.use("stream_cut", close_stream=close_stream)
    outcome = await run(space, combo)
    expect_error(outcome, client_errors.StreamCutError)
    # The original provider re-read the stream in a tight loop (26,000
    # requests in 3 s): here each attempt is one submit, one read and one
    # cancel (the job's own stream was open and is dropped: no second one).
    assert space.count("submit") == FAST_RETRY_ATTEMPTS
    assert space.count("stream") == FAST_RETRY_ATTEMPTS
    assert space.count("cancel") == FAST_RETRY_ATTEMPTS
    assert space.count() == 1 + 3 * FAST_RETRY_ATTEMPTS


async def test_heartbeats_forever_end_at_the_deadline(space, combo):
    space.use("heartbeats_forever")
    outcome = await run(space, combo, timeout=2.0)
    error = expect_error(outcome, client_errors.SpaceTimeoutError)
    assert isinstance(error, g4f.errors.TimeoutError)
    assert outcome.elapsed >= 2.0
    assert space.count("submit") == 1
    assert space.count("cancel") == 1  # the abandoned job was cancelled


async def test_stream_without_headers_ends_at_the_deadline(space, combo):
    space.use("no_headers")
    outcome = await run(space, combo, timeout=2.0)
    expect_error(outcome, client_errors.SpaceTimeoutError)
    assert outcome.elapsed >= 2.0
    assert space.count("submit") == 1
    assert space.count("cancel") == 1


async def test_crlf_line_ends(space, combo):
    space.use("crlf")
    expect_image(await run(space, combo), space)


async def test_events_split_byte_by_byte(space, combo):
    space.use("bytewise")
    expect_image(await run(space, combo), space)


async def test_unexpected_error_on_the_queue(space, transport):
    space.use("unexpected_error")
    outcome = await run(space, (transport, "queue"))
    error = expect_error(outcome, client_errors.SpaceProtocolError)
    assert "404: Not Found" in str(error)
    assert space.count("submit") == 1


# -- what the Space says about the job --------------------------------------------


@pytest.mark.parametrize(
    "payload,words,title",
    [
        (None, "hides its details", None),  # Gradio <= 6.12, and the queue's {"error": null}
        ({"error": None}, "hides its details", None),
        (
            {"error": "CUDA out of memory", "title": "GPU trouble", "visible": True, "duration": 10},
            "GPU trouble: CUDA out of memory",
            "GPU trouble",
        ),
        ("404: Not Found", "404: Not Found", None),  # a dropped /call/ job
    ],
    ids=["null", "error-null", "object", "string"],
)
async def test_error_from_the_space(space, combo, payload, words, title):
    space.use("error_event", payload=payload)
    outcome = await run(space, combo)
    error = expect_error(outcome, client_errors.SpaceError)
    assert isinstance(error, g4f.errors.ResponseError)
    assert words in str(error)
    assert "null" not in str(error) and "None" not in str(error)
    # The queue's process_completed carries Gradio's default title "Error".
    assert error.title == (title or ("Error" if combo[1] == "queue" else None))
    assert space.count("submit") == 1  # the Space's verdict is final


async def test_quota_is_raised_at_once_with_retry_after(space, combo):
    space.use("quota")
    outcome = await run(space, combo)
    error = expect_error(outcome, client_errors.QuotaExceededError)
    assert isinstance(error, g4f.errors.RateLimitError)
    assert error.retry_after == 5 * 60 + 12
    assert QUOTA_ERROR["error"].strip() in str(error) and "ZeroGPU quota exceeded" in str(error)
    assert space.count("submit") == 1
    assert outcome.events("retry") == []  # raised at once, never slept on


@pytest.mark.parametrize("gradio", ["6", "4"])
async def test_complete_with_path_only(space, legacy_space, combo, gradio):
    server = space if gradio == "6" else legacy_space
    BlackForestLabs_Flux1Schnell.config_cache.clear()
    server.use(
        "complete", file={"path": IMAGE_PATH, "orig_name": "image.webp", "meta": {"_type": "gradio.FileData"}}
    )
    outcome = await run(server, combo)
    prefix = "/gradio_api" if gradio == "6" else ""
    expect_image(outcome, server, url=f"{server.root}{prefix}/file={IMAGE_PATH}")


@pytest.mark.parametrize("output", [[], None], ids=["empty-list", "null"])
async def test_complete_without_output_is_a_cancelled_job(space, combo, output):
    # Gradio completes a cancelled job successfully with no output: data null
    # on the call protocol, output {} on the queue's.
    space.use("complete", output=output)
    outcome = await run(space, combo)
    expect_error(outcome, client_errors.JobCancelledError)
    assert space.count("submit") == 1


async def test_malformed_json_in_data(space, combo):
    space.use("malformed_json")
    outcome = await run(space, combo)
    error = expect_error(outcome, client_errors.SpaceProtocolError)
    assert "malformed JSON" in str(error)
    assert space.count("submit") == 1


# -- sizes ---------------------------------------------------------------------


async def test_line_of_several_megabytes(space, combo):
    space.use("huge_line", size=8 << 20)
    tracemalloc.start()
    try:
        outcome = await run(space, combo)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    error = expect_error(outcome, client_errors.SpaceProtocolError)
    assert "max_line_bytes" in str(error)
    # The decoder stops at its 1 MiB limit: the 8 MiB line is never held whole.
    assert peak < 6 << 20, f"peak {peak / 2**20:.1f} MiB"
    assert space.count("submit") == 1


async def test_endless_bytes_without_a_line_end(space, combo):
    space.use("endless_bytes")
    outcome = await run(space, combo, timeout=20.0)
    error = expect_error(outcome, client_errors.SpaceProtocolError)
    assert "max_line_bytes" in str(error)
    assert outcome.elapsed < 2.0, "the size limit, not the deadline, must end it"


async def test_event_of_several_megabytes(space, combo):
    space.use("huge_event", size=3 << 20)
    outcome = await run(space, combo)
    assert "max_event_bytes" in str(expect_error(outcome, client_errors.SpaceProtocolError))


# -- where the image is --------------------------------------------------------


async def test_file_url_on_another_host(space, foreign, combo):
    space.use("foreign_file", host=foreign.root)
    outcome = await run(space, combo, api_key="hf_faultmatrixtoken")
    expect_image(outcome, space, url=f"{foreign.root}/gradio_api/file={IMAGE_PATH}")
    assert foreign.requests == []  # the provider yields the URL, it never fetches it
    assert all(
        r.headers.get("x-hf-authorization") == "Bearer hf_faultmatrixtoken"
        and "authorization" not in r.headers
        for r in space.requests
    )


# -- deadlines, timeouts and backoff ---------------------------------------------


def test_default_timeouts_outlast_gradio_heartbeats():
    timeouts = Timeouts()
    assert timeouts.connect == 10
    assert timeouts.read > 15  # Gradio sends a heartbeat every 15 s


async def test_transports_have_no_total_timeout():
    from g4f_flux_plugin._transports._aiohttp import AiohttpTransport
    from g4f_flux_plugin._transports._curl_cffi import CurlCffiTransport

    async with AiohttpTransport() as transport:
        timeout = transport._get_session().timeout
        # sock_connect, not connect: aiohttp's connect also counts a wait for a free connection.
        assert (timeout.total, timeout.connect, timeout.sock_connect, timeout.sock_read) == (
            None,
            None,
            10,
            45,
        )
    async with CurlCffiTransport() as transport:
        from curl_cffi import CurlOpt

        session = transport._get_session()
        # No total; libcurl keeps the connect timeout, the transport the 45 s bound on silence.
        assert session.timeout == 0 and session.curl_options[CurlOpt.CONNECTTIMEOUT_MS] == 10_000
        assert transport._timeouts.read == 45


def short_timeout_transport(name, *, connect=1.0, read=1.0):
    from g4f_flux_plugin._transports._aiohttp import AiohttpTransport
    from g4f_flux_plugin._transports._curl_cffi import CurlCffiTransport

    cls = AiohttpTransport if name == "aiohttp" else CurlCffiTransport
    return cls(timeouts=Timeouts(connect=connect, read=read))


async def test_a_long_stream_that_keeps_talking_is_not_cut(space, combo):
    # 2.5 s of heartbeats every 0.3 s with a 1 s read timeout: only silence counts.
    space.use("slow_stream", duration=2.5, interval=0.3)
    async with short_timeout_transport(combo[0]) as transport:
        # The caller's transport owns its tasks until it is closed.
        outcome = await run(space, (transport, combo[1]), timeout=8.0, check_tasks=False)
    assert not pending_tasks()
    expect_image(outcome, space)
    assert outcome.elapsed >= 2.5
    assert space.count("submit") == 1


async def test_silence_longer_than_the_read_timeout_is_retried(space, combo):
    # No byte after the headers: curl_cffi's read timeout is libcurl's
    # low-speed limit (under 1 B/s for connect + read seconds, judged on a
    # speed averaged over about 5 s), so it fires after 2-3 s here, and only
    # some seconds late after a stream that sent heartbeats before dying.
    space.use("silent_stream", silence=6.0, heartbeat=False, times=1)
    async with short_timeout_transport(combo[0]) as transport:
        outcome = await run(space, (transport, combo[1]), timeout=10.0, check_tasks=False)
    assert not pending_tasks()
    expect_image(outcome, space)
    assert space.count("submit") == 2
    assert 1.0 <= outcome.elapsed < 4.5, "the read timeout, not the silence's end, must cut it"
    (retry,) = outcome.events("retry")
    assert "read timeout" in retry.message


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy()
    error = RuntimeError()
    for retry, top in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)]:
        delays = [policy.delay(retry, error) for _ in range(200)]
        assert top / 2 <= min(delays) and max(delays) <= top
        assert max(delays) - min(delays) > top / 10  # jitter: not all the same
    asked = client_errors.SpaceRateLimitError("busy", 429, retry_after=30)
    assert policy.delay(0, asked) == 30


async def test_backoff_waits_between_attempts(monkeypatch, space):
    monkeypatch.setattr(BlackForestLabs_Flux1Schnell, "retry_policy", RetryPolicy())  # the real policy
    space.use("stream_cut")
    outcome = await run(space, ("aiohttp", "call"), timeout=TIMEOUT)
    expect_error(outcome, client_errors.StreamCutError)
    first, second = (event.eta for event in outcome.events("retry"))
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0
    assert outcome.elapsed >= first + second
    times = [r.at for r in space.requests if r.route == "submit"]
    assert times[1] - times[0] >= first and times[2] - times[1] >= second


async def test_no_wait_is_made_that_would_pass_the_deadline(monkeypatch, space):
    # Backoff of 5-10 s before the first retry, against a 5 s deadline: the
    # wait cannot fit, so the cut stream's error is raised at once instead of
    # sleeping into a timeout. (No timing bound here: the point is the type.)
    monkeypatch.setattr(BlackForestLabs_Flux1Schnell, "retry_policy", RetryPolicy(base=10.0, cap=10.0))
    space.use("stream_cut")
    outcome = await run(space, ("aiohttp", "call"), timeout=5.0)
    expect_error(outcome, client_errors.StreamCutError)
    assert space.count("submit") == 1


# -- ZeroGPU: busy answers retried, a quota remembered ----------------------------
BUSY_ERRORS = {
    "queue-timeout": {
        "error": "No GPU was available after 60s [Create a free account](https://huggingface.co/join) "
        "to get a higher priority in ZeroGPU queues.",
        "title": "ZeroGPU queue timeout",
    },
    "no-gpu": {"error": "No GPU was available", "title": "ZeroGPU client error"},
    "expired-token": {"error": "Expired ZeroGPU proxy token", "title": "ZeroGPU client error"},
}


@pytest.mark.parametrize("busy", list(BUSY_ERRORS))
async def test_zerogpu_busy_once_then_an_image(space, combo, busy):
    space.use("error_event", payload={**BUSY_ERRORS[busy], "duration": 10, "visible": True}, times=1)
    outcome = await run(space, combo)
    expect_image(outcome, space)
    assert space.count("submit") == 2
    # Every request says it comes from an API client, as gradio_client's do.
    assert {recorded.headers.get("x-gradio-user") for recorded in space.requests} == {"api"}
    [retry] = outcome.events("retry")
    assert "No GPU was available" in retry.message or "Expired ZeroGPU proxy token" in retry.message


async def test_zerogpu_busy_every_time_is_raised_as_busy(space, combo):
    space.use("error_event", payload={**BUSY_ERRORS["no-gpu"], "duration": 10, "visible": True})
    outcome = await run(space, combo)
    error = expect_error(outcome, SpaceBusyError)
    assert isinstance(error, g4f.errors.ResponseError)
    assert error.reason == "no_gpu"
    assert space.count("submit") == FAST_RETRY_ATTEMPTS


async def test_a_remembered_quota_costs_no_request(space, combo):
    space.use("quota")
    first = expect_error(await run(space, combo), QuotaExceededError)
    assert not first.remembered
    seen = space.count()
    again = expect_error(await run(space, combo), QuotaExceededError)
    assert space.count() == seen  # not even /config
    assert again.remembered and "remembered" in str(again)
    assert 0 < again.retry_after <= first.retry_after
    assert again.message == first.message
