"""Security: where the token goes, which URLs are followed, how much is read.

- The Hugging Face token (``api_key=`` or ``$HF_TOKEN``) is sent to the
  Space's origin only: not to a file URL on another host, not across a
  redirect to another host, never written to a log line, an exception message
  or a repr.
- Only ``http``/``https`` URLs are requested: a redirect to ``file:`` is
  refused, and a ``FileData`` URL of another scheme is never yielded.
- Answers are size-limited: JSON bodies over 1 MiB are refused (SSE lines and
  events: see test_faults.py).

The "foreign host" is a second fault server on another loopback address (or
port): a different origin that records every request it receives.
"""

from __future__ import annotations

import logging
import traceback

import pytest
from fault_server import (  # noqa: F401  (fixtures)
    IMAGE_PATH,
    fast_retries,
    foreign,
    free_port,
    fresh,
    generate,
    space,
)

from g4f_flux_plugin._errors import SpaceProtocolError
from g4f_flux_plugin._events import GeneratedImage, ProgressEvent
from g4f_flux_plugin._g4f_errors import G4F_TWINS
from g4f_flux_plugin._gradio import SpaceClient
from g4f_flux_plugin._http import HttpClient
from g4f_flux_plugin._transports._aiohttp import AiohttpTransport
from g4f_flux_plugin._transports._curl_cffi import CurlCffiTransport
from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell, FluxImageResponse, FluxProgress

TOKEN = "hf_SeCrEtToKeN0123456789abcdefABCDEF"
TRANSPORTS = ("aiohttp", "curl_cffi")
PROTOCOLS = ("call", "queue")
COMBOS = [(t, p) for t in TRANSPORTS for p in PROTOCOLS]

pytestmark = pytest.mark.usefixtures("fresh", "fast_retries", "clean_env")


def authorizations(server) -> list[str | None]:
    """The token header of each request; ``Authorization`` must never be sent
    (Hugging Face's proxy would pass it on to the Space's own code)."""
    assert all("authorization" not in recorded.headers for recorded in server.requests)
    return [recorded.headers.get("x-hf-authorization") for recorded in server.requests]


def assert_token_only_at(space, *others) -> None:
    assert space.requests, "the Space got no request"
    assert authorizations(space) == [f"Bearer {TOKEN}"] * len(space.requests)
    for other in others:
        for recorded in other.requests:
            assert "authorization" not in recorded.headers and "x-hf-authorization" not in recorded.headers
            assert TOKEN not in str(recorded.headers) and TOKEN.encode() not in recorded.body


# -- the token's scope ------------------------------------------------------------


class _NoTransport(AiohttpTransport):
    """Never used for I/O: headers_for is pure."""


@pytest.mark.parametrize(
    "url,gets_token",
    [
        ("https://space.hf.space/config", True),
        ("https://SPACE.hf.space:443/gradio_api/file=/tmp/x.webp", True),  # same origin, spelled otherwise
        ("http://space.hf.space/config", False),  # another scheme
        ("https://space.hf.space:8443/config", False),  # another port
        ("https://other.hf.space/config", False),  # another host
        ("https://space.hf.space.evil.example/config", False),  # a suffix is not the host
        ("https://evil.example/?https://space.hf.space/", False),
        ("https://space.hf.space@evil.example/config", False),  # userinfo trick
    ],
)
def test_headers_for_scopes_the_token_to_the_space_origin(url, gets_token):
    http = HttpClient(_NoTransport(), "https://space.hf.space", TOKEN)
    headers = http.headers_for(url)
    assert "authorization" not in headers
    assert ("x-hf-authorization" in headers) is gets_token
    if gets_token:
        assert headers["x-hf-authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str({k: v for k, v in headers.items() if k != "x-hf-authorization"})


def test_headers_for_without_a_token():
    http = HttpClient(_NoTransport(), "https://space.hf.space", None)
    headers = http.headers_for("https://space.hf.space/config")
    assert "authorization" not in headers and "x-hf-authorization" not in headers


@pytest.mark.parametrize("source", ["api_key", "env"])
@pytest.mark.parametrize("combo", COMBOS, ids="-".join)
async def test_token_goes_to_every_request_of_the_space(space, combo, source, monkeypatch):
    kwargs = {"api_key": TOKEN} if source == "api_key" else {}
    if source == "env":
        monkeypatch.setenv("HF_TOKEN", TOKEN)
    outcome = await generate(space.root, transport=combo[0], protocol=combo[1], **kwargs)
    assert outcome.image is not None, outcome.error
    assert_token_only_at(space)


async def test_api_key_wins_over_the_environment(space, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_from_the_environment")
    outcome = await generate(space.root, api_key=TOKEN)
    assert outcome.image is not None
    assert_token_only_at(space)


@pytest.mark.parametrize("combo", COMBOS, ids="-".join)
async def test_no_token_to_a_file_url_on_another_host(space, foreign, combo, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    space.use("foreign_file", host=foreign.root)
    outcome = await generate(space.root, transport=combo[0], protocol=combo[1])
    assert outcome.image.urls == [f"{foreign.root}/gradio_api/file={IMAGE_PATH}"]
    assert foreign.requests == []  # yielded, never fetched
    assert_token_only_at(space)
    # and if a caller fetches it with the provider's client, no token goes along
    http = HttpClient(_NoTransport(), space.root, TOKEN)
    assert "x-hf-authorization" not in http.headers_for(outcome.image.urls[0])


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_config_redirect_to_another_host_drops_the_token(space, foreign, transport, status):
    space.use("redirect", route="config", status=status, location=f"{foreign.root}/config")
    outcome = await generate(space.root, transport=transport, api_key=TOKEN)
    assert outcome.image is not None, outcome.error
    assert [r.route for r in foreign.requests] == ["config"]  # followed, without the token
    assert_token_only_at(space, foreign)


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("combo", COMBOS, ids="-".join)
async def test_submit_redirect_to_another_host_drops_the_token(space, foreign, combo, status):
    space.use("redirect", route="submit", status=status, location=foreign.root + "{path}")
    outcome = await generate(space.root, transport=combo[0], protocol=combo[1], api_key=TOKEN)
    assert outcome.image is not None, outcome.error
    (moved,) = foreign.requests
    assert moved.method == "POST" and moved.route == "submit"
    assert moved.json()["data"][0] == "a cat"  # 307/308 keep the method and the body
    assert_token_only_at(space, foreign)


async def test_redirect_within_the_space_keeps_the_token_and_loops_are_bounded(space):
    space.use("redirect", route="config", location="/config")
    outcome = await generate(space.root, api_key=TOKEN)
    assert isinstance(outcome.error, SpaceProtocolError)
    assert "redirects" in str(outcome.error)
    assert space.count() == 6  # the request and 5 redirects, then it stops: no retry either
    assert_token_only_at(space)


# -- only http(s) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    ["file:///etc/passwd", "javascript:alert(1)", "data:text/plain,hello", "ftp://127.0.0.1/config"],
)
@pytest.mark.parametrize("route", ["config", "submit"])
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_redirect_to_a_non_http_url_is_refused(space, transport, route, location):
    space.use("redirect", route=route, location=location)
    outcome = await generate(space.root, transport=transport, api_key=TOKEN)
    assert type(outcome.error) is G4F_TWINS[SpaceProtocolError]
    assert "non-HTTP" in str(outcome.error)
    assert space.routes().count(route) == 1  # refused, not retried


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "javascript:alert(document.cookie)",
        "data:image/webp;base64,UklGRg==",
        "ftp://127.0.0.1/image.webp",
    ],
)
@pytest.mark.parametrize("combo", COMBOS, ids="-".join)
async def test_file_url_of_another_scheme_is_not_yielded(space, combo, url):
    # With a path, the image is the Space's own file route for it.
    space.use("complete", file={"path": IMAGE_PATH, "url": url})
    outcome = await generate(space.root, transport=combo[0], protocol=combo[1])
    assert outcome.image.urls == [f"{space.root}/gradio_api/file={IMAGE_PATH}"]
    # Without one, there is no image at all.
    space.use("complete", file={"url": url})
    outcome = await generate(space.root, transport=combo[0], protocol=combo[1])
    assert type(outcome.error) is G4F_TWINS[SpaceProtocolError]
    assert outcome.image is None
    assert all(url not in str(getattr(item, "urls", "")) for item in outcome.items)


@pytest.mark.parametrize("api_base", ["file:///etc/passwd", "ftp://127.0.0.1/", "javascript:alert(1)"])
async def test_api_base_must_be_http(api_base):
    outcome = await generate(api_base)
    assert type(outcome.error) is ValueError
    assert "http" in str(outcome.error)


# -- size limits -----------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("route", ["config", "submit"])
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_json_over_one_mebibyte_is_refused(space, transport, route, chunked):
    space.use("huge_json", route=route, size=(1 << 20) + 1, chunked=chunked)
    outcome = await generate(space.root, transport=transport)
    assert type(outcome.error) is G4F_TWINS[SpaceProtocolError]
    assert "limit" in str(outcome.error)
    assert space.routes().count(route) == 1


@pytest.mark.parametrize("combo", COMBOS, ids="-".join)
async def test_json_under_the_limit_is_read(space, combo):
    space.use("huge_json", route="submit", size=(1 << 20) - 100)
    outcome = await generate(space.root, transport=combo[0], protocol=combo[1])
    # The padded answer is accepted: its event id "x" is then read on the stream.
    assert outcome.image is not None, outcome.error


# -- the token is never written anywhere --------------------------------------------------

LEAK_SCENARIOS = [
    ("ok", {}, 5.0),
    ("error_event", {"payload": {"error": "boom", "title": "Oops"}}, 5.0),
    ("quota", {}, 5.0),
    ("stream_cut", {}, 5.0),  # retries log at INFO
    ("stream_reset", {}, 5.0),
    ("submit_status", {"status": 502}, 5.0),
    ("submit_status", {"status": 401, "html": False}, 5.0),
    ("heartbeats_forever", {}, 0.5),  # deadline; the cancel logs at DEBUG
    ("malformed_json", {}, 5.0),
    ("redirect", {"route": "config", "location": "file:///etc/passwd"}, 5.0),
    ("refused", {}, 5.0),
]


def exception_texts(error: BaseException) -> list[str]:
    """Message, repr and formatted traceback of an error and of all it chains to."""
    texts = ["".join(traceback.format_exception(error))]
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        texts += [str(error), repr(error), repr(getattr(error, "args", ""))]
        error = error.__cause__ or error.__context__
    return texts


@pytest.mark.parametrize("source", ["api_key", "env"])
@pytest.mark.parametrize("combo", COMBOS, ids="-".join)
async def test_token_in_no_log_line_exception_or_repr(space, combo, source, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)  # every logger: ours, aiohttp's, asyncio's
    kwargs = {"api_key": TOKEN} if source == "api_key" else {}
    if source == "env":
        monkeypatch.setenv("HF_TOKEN", TOKEN)
    refused = f"http://127.0.0.1:{free_port()}"
    for scenario, options, timeout in LEAK_SCENARIOS:
        if scenario != "refused":
            space.use(scenario, **options)
        outcome = await generate(
            refused if scenario == "refused" else space.root,
            transport=combo[0],
            protocol=combo[1],
            timeout=timeout,
            **kwargs,
        )
        if outcome.error is not None:
            for text in exception_texts(outcome.error):
                assert TOKEN not in text, (scenario, text[:300])
        for item in outcome.items:
            assert TOKEN not in repr(item) and TOKEN not in str(item)
            assert TOKEN not in repr(getattr(item, "event", None))
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for record in caplog.records:
        assert TOKEN not in record.getMessage(), record.getMessage()
        assert TOKEN not in repr(record.args) and TOKEN not in str(record.exc_info)


@pytest.mark.parametrize("transport_class", [AiohttpTransport, CurlCffiTransport])
async def test_reprs_hide_the_token_and_proxy_credentials(transport_class):
    transport = transport_class(proxy=f"http://user:{TOKEN}@127.0.0.1:3128")
    async with transport:
        http = HttpClient(transport, "https://space.hf.space", TOKEN)
        client = SpaceClient(http)
        request_objects = [
            transport,
            http,
            client,
            ProgressEvent("retry", eta=1.0, message="connection broke"),
            GeneratedImage(url="https://space.hf.space/gradio_api/file=/tmp/x.webp", seed=7),
            FluxImageResponse(["https://space.hf.space/gradio_api/file=/tmp/x.webp"], "a cat", {"seed": 7}),
            FluxProgress(ProgressEvent("submitted", event_id="abc")),
        ]
        for thing in request_objects:
            assert TOKEN not in repr(thing) and TOKEN not in str(thing), type(thing).__name__
        assert "token=set" in repr(http)


async def test_the_provider_class_keeps_no_token(space):
    outcome = await generate(space.root, api_key=TOKEN)
    assert outcome.image is not None
    for name in dir(BlackForestLabs_Flux1Schnell):
        if not name.startswith("__"):
            assert TOKEN not in repr(getattr(BlackForestLabs_Flux1Schnell, name, None)), name
