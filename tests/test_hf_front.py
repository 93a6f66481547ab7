"""Hugging Face's front: where the token goes, and what the Space's own code can read.

HF's proxy authenticates a request by ``X-HF-Authorization`` and strips that
header before the request reaches the Space; ``Authorization`` and everything
else are passed on, where any function of the Space can read them from
``gr.Request``. The relay here does exactly that in front of the real Gradio
replica (and sets ``X-Forwarded-Host`` as HF does, so the file URLs Gradio
writes point back through the relay). Two records are checked:

- the relay's: what the client sent (the token, in ``x-hf-authorization`` only);
- the replica's own: every header the app received and every header its
  ``infer`` saw, where the token must never appear.

Also here: a token never crosses a network in clear text (plain ``http`` to a
host that is not loopback), the user-agent, and connection failures said in
plain words.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
from contextlib import aclosing

import pytest
from _helpers import (
    PROTOCOLS,
    SMALL_CLI,
    TRANSPORTS,
    ForwardProxy,
    Provider,
    RecordingProxy,
    images,
    the_server_job,
    unique,
)

from g4f_flux_plugin._download import download_image
from g4f_flux_plugin._errors import FluxClientError, SpaceConnectError
from g4f_flux_plugin._http import USER_AGENT, HttpClient, choose_token, is_loopback
from g4f_flux_plugin._transports import make_transport

TOKEN = "hf_FrontRelayToken0123456789abcdefXYZ"
COMBOS = [(transport, protocol) for transport in TRANSPORTS for protocol in PROTOCOLS]
NOT_LOOPBACK = "http://space.example"  # never reached: the forward proxy records it


pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
async def front(any_replica):
    """HF's front in front of the replica: consumes X-HF-Authorization."""
    relay = await RecordingProxy(any_replica.url, consume=("x-hf-authorization",), forwarded=True).start()
    try:
        yield relay
    finally:
        await relay.close()


def _kind(method: str, path: str) -> str:
    path = path.split("?")[0]
    if path.endswith("/config"):
        return "config"
    if "/file=" in path:
        return "download"
    if path.endswith("/cancel"):
        return "cancel"
    if method == "POST":
        return "submit"
    return "stream"


def _leaks(headers, token: str) -> list[str]:
    return [name for name, value in headers if token in value]


async def _replica_requests_since(replica, count: int) -> list[dict]:
    return (await asyncio.to_thread(replica.requests))[count:]


@pytest.mark.parametrize(("transport", "protocol"), COMBOS)
async def test_the_spaces_code_never_sees_the_token(any_replica, front, transport, protocol):
    before = len(await asyncio.to_thread(any_replica.requests))
    prompt = unique("a token behind the front")
    items = [
        item
        async for item in Provider.create_async_generator(
            "flux-schnell",
            None,
            prompt=prompt,
            seed=5,
            width=256,
            height=256,
            num_inference_steps=1,
            api_key=TOKEN,
            api_base=front.url,
            transport=transport,
            protocol=protocol,
        )
    ]
    url = images(items)[0].images[0]
    assert url.startswith(front.url + "/"), "Gradio's file URL should point back through the front"

    # A job stopped right after submission posts /cancel (another request kind).
    stopped = Provider.create_async_generator(
        "flux-schnell",
        None,
        prompt=unique("stopped [[sleep=2]]"),
        num_inference_steps=2,
        api_key=TOKEN,
        api_base=front.url,
        transport=transport,
        protocol=protocol,
    )
    async with aclosing(stopped):
        await anext(stopped)  # "submitted"

    # The command line's download path.
    chosen, _ = make_transport(transport)
    async with chosen:
        data, kind = await download_image(HttpClient(chosen, front.url, TOKEN), url)
    assert kind == "webp" and data

    # What the client sent, as the front received it.
    sent = {_kind(r.method, r.path) for r in front.requests}
    assert sent == {"config", "submit", "stream", "cancel", "download"}
    for recorded in front.requests:
        assert recorded.headers.get("x-hf-authorization") == f"Bearer {TOKEN}", recorded.path
        assert "authorization" not in recorded.headers, recorded.path
        assert recorded.headers.get("user-agent") == USER_AGENT, recorded.path
        assert _leaks(recorded.headers.items(), TOKEN) == ["x-hf-authorization"], recorded.path

    # What the Space's app received, from its own record: no token anywhere.
    seen = await _replica_requests_since(any_replica, before)
    assert {_kind(r["method"], r["path"]) for r in seen} == sent
    for request in seen:
        assert _leaks(request["headers"], TOKEN) == [], request["path"]
        assert "x-hf-authorization" not in dict(request["headers"]), request["path"]
        assert dict(request["headers"]).get("user-agent") == USER_AGENT, request["path"]
    job = await the_server_job(any_replica, prompt)
    assert job["headers"], "the replica recorded no gr.Request headers"
    assert _leaks(job["headers"], TOKEN) == []


async def test_the_command_line_sends_the_token_the_same_way(any_replica, front, tmp_path):
    before = len(await asyncio.to_thread(any_replica.requests))
    out = tmp_path / "front.webp"
    env = {key: value for key, value in os.environ.items() if key != "HF_TOKEN"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "g4f_flux_plugin",
        unique("cli behind the front"),
        "--api-base",
        front.url,
        "--token",
        TOKEN,
        *SMALL_CLI,
        "--seed",
        "3",
        "-o",
        str(out),
        "--quiet",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()
    assert TOKEN not in stdout.decode() + stderr.decode()
    assert out.stat().st_size > 0
    assert "download" in {_kind(r.method, r.path) for r in front.requests}
    assert all(r.headers.get("x-hf-authorization") == f"Bearer {TOKEN}" for r in front.requests)
    seen = await _replica_requests_since(any_replica, before)
    assert seen and all(_leaks(r["headers"], TOKEN) == [] for r in seen)


# -- no token in clear text across a network --------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1", "127.45.6.7", "localhost", "LOCALHOST", "::1", "[::1]"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["space.example", "128.0.0.1", "10.0.0.1", "localhost.example", "::2", ""])
def test_other_hosts_are_not_loopback(host):
    assert not is_loopback(host)


@pytest.mark.parametrize(
    "root",
    [
        "http://127.0.0.1:7860",
        "http://localhost:7860",
        "http://[::1]:7860",
        "https://space.example",
        "https://10.0.0.1",
    ],
)
def test_a_token_goes_to_https_and_loopback(root):
    assert choose_token(root, TOKEN, None) == TOKEN
    assert choose_token(root, None, TOKEN) == TOKEN


@pytest.mark.parametrize("root", [NOT_LOOPBACK, "http://10.0.0.1:7860", "http://localhost.example"])
def test_an_explicit_token_over_plain_http_is_refused_without_showing_it(root):
    with pytest.raises(ValueError, match="plain http") as caught:
        choose_token(root, TOKEN, None)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_explicit_token_over_plain_http_sends_nothing(transport):
    proxy = await ForwardProxy().start()
    try:
        with pytest.raises(ValueError, match="clear text") as caught:
            await anext(
                Provider.create_async_generator(
                    "flux-schnell",
                    None,
                    prompt="p",
                    api_key=TOKEN,
                    api_base=NOT_LOOPBACK,
                    proxy=proxy.url,
                    transport=transport,
                )
            )
        assert TOKEN not in str(caught.value)
        await asyncio.sleep(0.2)  # anything sent would have reached the proxy by now
        assert proxy.targets == []
    finally:
        await proxy.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_token_from_the_environment_is_not_sent_over_plain_http(transport, monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    proxy = await ForwardProxy().start()
    try:
        # The proxy cannot reach space.example: any of the client's failures.
        with caplog.at_level("DEBUG", logger="g4f_flux_plugin"), pytest.raises(FluxClientError):
            async for _ in Provider.create_async_generator(
                "flux-schnell",
                None,
                prompt="p",
                api_base=NOT_LOOPBACK,
                proxy=proxy.url,
                transport=transport,
                timeout=10,
            ):
                pass
        assert f"GET {NOT_LOOPBACK}/config" in proxy.targets
        assert proxy.heads and all(TOKEN.encode() not in head for head in proxy.heads)
        assert any("not sending $HF_TOKEN" in record.getMessage() for record in caplog.records)
        assert TOKEN not in caplog.text
    finally:
        await proxy.close()


def test_the_command_line_refuses_a_token_over_plain_http(tmp_path):
    import subprocess

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "g4f_flux_plugin",
            "a fox",
            "--api-base",
            NOT_LOOPBACK,
            "--token",
            TOKEN,
            "-o",
            str(tmp_path / "x.webp"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "clear text" in result.stderr and TOKEN not in result.stderr + result.stdout
    assert not (tmp_path / "x.webp").exists()


# -- connection failures in plain words ----------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_refused_connection_says_refused(transport, closed_url):
    with pytest.raises(SpaceConnectError, match="connection refused") as caught:
        async for _ in Provider.create_async_generator(
            "flux-schnell", None, prompt="p", api_base=closed_url, transport=transport, timeout=5
        ):
            pass
    assert closed_url.split("//")[1] in str(caught.value)
    assert caught.value.__cause__ is not None  # the library's exception stays chained
    assert "Error" not in str(caught.value)  # no library class name


@pytest.fixture(scope="module")
def untrusted_tls_server():
    """An HTTPS server on 127.0.0.1 whose certificate no client trusts."""
    import threading

    import trustme

    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    loop = asyncio.new_event_loop()

    async def answer(reader, writer):
        writer.close()

    server = loop.run_until_complete(asyncio.start_server(answer, "127.0.0.1", 0, ssl=context))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        with authority.cert_pem.tempfile() as ca_path:
            yield f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}", ca_path
    finally:

        async def stop():
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_untrusted_certificate_is_said_so(transport, untrusted_tls_server):
    url, _ = untrusted_tls_server
    with pytest.raises(SpaceConnectError, match=r"TLS certificate not valid for 127\.0\.0\.1"):
        async for _ in Provider.create_async_generator(
            "flux-schnell", None, prompt="p", api_base=url, transport=transport, timeout=10
        ):
            pass


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_ca_bundle_to_trust_can_be_given(transport, untrusted_tls_server):
    from g4f_flux_plugin import AiohttpTransport, CurlCffiTransport

    url, ca_path = untrusted_tls_server
    kind = AiohttpTransport if transport == "aiohttp" else CurlCffiTransport
    async with kind(verify=ca_path) as trusting:
        with pytest.raises(FluxClientError) as caught:  # the server hangs up after the handshake
            async for _ in Provider.create_async_generator(
                "flux-schnell", None, prompt="p", api_base=url, transport=trusting, timeout=10
            ):
                pass
    assert "TLS" not in str(caught.value), caught.value  # the handshake itself succeeded


def test_plain_reasons_for_other_failures():
    import errno
    import socket

    from g4f_flux_plugin._transports._failures import os_reason

    assert os_reason(socket.gaierror(-2, "Name or service not known"), "h") == "host not found"
    assert os_reason(TimeoutError(), "h") == "timed out connecting"
    assert "unreachable" in os_reason(OSError(errno.ENETUNREACH, "Network is unreachable"), "h")
    assert "reset" in os_reason(OSError(errno.ECONNRESET, "Connection reset by peer"), "h")
    assert os_reason(ValueError("x"), "h") is None
