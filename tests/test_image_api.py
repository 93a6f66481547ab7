"""What g4f's image API promises, through g4f itself (issue 13).

- ``n`` (1..4): g4f's ``Client``/``AsyncClient`` pass it to the provider as a
  keyword (``Images._generate_image_response`` forwards ``**kwargs``), and
  ``g4f api`` does too (``ImageGenerationConfig.n``, dumped into
  ``images.generate``). Each image is its own job on the Space; the seeds
  each job ran with are read from the replica's record, and the image bytes
  are matched to them (the replica paints the seed's colour), so the order
  of the URLs is checked as well as their number.
- partial and total failure (the replica's ``[[exception_seed=N]]`` and
  ``[[quota_seed=N]]`` markers fail one seed only), ``n`` out of range;
- stopping early cancels every job (the replica's record of each job's state);
- ``aspect_ratio``: the sizes sent, from the replica's record;
- g4f's GUI backend stream (``POST /backend-api/v2/conversation``): the last
  status before the image says it is done.

Every g4f call runs in a fresh interpreter (tests/g4f_subprocess.py) with the
plugin found through its start-up hook, and only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import io
import json
import urllib.request
import uuid

import pytest
import replica as replica_script
from g4f_servers import g4f_api, g4f_gui, image_of
from g4f_subprocess import PROVIDER, G4FProcess, require_installed_plugin

pytestmark = pytest.mark.timeout(180)

#: Small and quick: the replica's work does not depend on the size.
SMALL = {"width": 256, "height": 256, "num_inference_steps": 1}


def unique(marker: str = "") -> str:
    return f"a kite {uuid.uuid4().hex} {marker}".strip()


def jobs_of(replica, prompt: str) -> list[dict]:
    return [job for job in replica.jobs() if job["prompt"] == prompt]


def painted_with(raw: bytes, seed: int) -> bool:
    """Whether ``raw`` is the replica's image for ``seed`` (it paints the
    seed's colour; WebP is lossy, hence the tolerance)."""
    from PIL import Image

    image = Image.open(io.BytesIO(raw)).convert("RGB")
    actual = image.getpixel((image.width // 2, image.height // 2))
    return all(abs(a - e) <= 8 for a, e in zip(actual, replica_script.seed_colour(seed), strict=True))


def download(urls: list[str]) -> list[bytes]:
    raws = []
    for url in urls:
        with urllib.request.urlopen(url, timeout=30) as response:
            raws.append(response.read())
    return raws


def in_order(raws: list[bytes], seeds: list[int]) -> bool:
    """Whether the images are those of ``seeds``, in that order.

    Consecutive seeds differ by one in red only, which lossy WebP does not
    keep apart (Gradio even stores both as one file, by content hash); the
    seeds whose order is checked here cross a 256 boundary (255 -> 256 is
    red 255 -> green 1), or are far apart.
    """
    return len(raws) == len(seeds) and all(
        painted_with(raw, seed) for raw, seed in zip(raws, seeds, strict=True)
    )


# --- through g4f's client --------------------------------------------------------

CLIENT = """
    import json
    from g4f.client import Client
    try:
        result = Client().images.generate({prompt!r}, provider={provider!r}, response_format="url",
                                          **{kwargs!r})
        print(json.dumps({{"provider": result.provider, "urls": [d.url for d in result.data]}}))
    except Exception as error:
        import g4f.errors
        print(json.dumps({{"error": type(error).__name__, "message": str(error),
                           "rate_limit": isinstance(error, g4f.errors.RateLimitError),
                           "value_error": isinstance(error, ValueError)}}))
"""

ASYNC_CLIENT = """
    import asyncio, json
    from g4f.client import AsyncClient
    async def main():
        result = await AsyncClient().images.generate({prompt!r}, provider={provider!r},
                                                     response_format="url", **{kwargs!r})
        print(json.dumps({{"provider": result.provider, "urls": [d.url for d in result.data]}}))
    asyncio.run(main())
"""


def client_generate(
    proc: G4FProcess, url: str, prompt: str, *, code: str = CLIENT, provider: str | None = PROVIDER, **kwargs
) -> dict:
    return proc.json(
        code.format(prompt=prompt, provider=provider, kwargs=kwargs),
        env={"G4F_FLUX_SCHNELL_URL": url},
        timeout=150,
    )


def test_client_n3_with_a_seed_runs_seeds_s_to_s_plus_2(proc, replica):
    prompt = unique()
    result = client_generate(proc, replica.url, prompt, n=3, seed=100, **SMALL)
    assert result.get("provider") == PROVIDER, result
    assert len(result["urls"]) == 3
    assert all(url.startswith(replica.url + "/") for url in result["urls"])
    jobs = jobs_of(replica, prompt)
    assert sorted(job["seed"] for job in jobs) == [100, 101, 102]
    assert {job["state"] for job in jobs} == {"completed"}


def test_client_images_come_in_seed_order(proc, replica):
    prompt = unique()
    result = client_generate(proc, replica.url, prompt, n=2, seed=255, **SMALL)
    assert sorted(job["seed"] for job in jobs_of(replica, prompt)) == [255, 256]
    assert in_order(download(result["urls"]), [255, 256])


def test_client_without_n_makes_one_image(proc, replica):
    prompt = unique()
    result = client_generate(proc, replica.url, prompt, seed=7, **SMALL)
    assert len(result["urls"]) == 1
    assert [job["seed"] for job in jobs_of(replica, prompt)] == [7]


def test_async_client_n2_without_a_seed_gets_two_distinct_seeds(proc, replica):
    prompt = unique()
    result = client_generate(proc, replica.url, prompt, code=ASYNC_CLIENT, n=2, **SMALL)
    assert len(result["urls"]) == 2
    seeds = [job["seed"] for job in jobs_of(replica, prompt)]
    assert len(seeds) == 2 and len(set(seeds)) == 2
    raws = download(result["urls"])
    assert in_order(raws, seeds) or in_order(raws, seeds[::-1])


def test_seeds_wrap_past_the_spaces_maximum(proc, replica):
    prompt = unique()
    top = replica_script.MAX_SEED
    result = client_generate(proc, replica.url, prompt, n=3, seed=top - 1, **SMALL)
    assert sorted(job["seed"] for job in jobs_of(replica, prompt)) == [0, top - 1, top]
    assert in_order(download(result["urls"]), [top - 1, top, 0])


def test_model_routing_passes_n_on(proc, replica):
    prompt = unique()
    result = client_generate(
        proc, replica.url, prompt, provider=None, model="flux-schnell", n=2, seed=40, **SMALL
    )
    assert result.get("provider") == PROVIDER, result
    assert sorted(job["seed"] for job in jobs_of(replica, prompt)) == [40, 41]
    assert len(result["urls"]) == 2


@pytest.mark.parametrize("n", [0, 5, 50, -1, 2.5, "2", True, [2]])
def test_n_out_of_range_is_refused_before_any_request(proc, replica, closed_url, n):
    prompt = unique()
    # The closed port: had anything been sent, the error would be a connection error.
    result = client_generate(proc, closed_url, prompt, n=n, **SMALL)
    assert result["error"] == "ValueError" and result["value_error"], result
    assert "n must" in result["message"]
    assert jobs_of(replica, prompt) == []


# --- what one generation yields, through g4f's registry -----------------------------

ITEMS = """
    import asyncio, json, logging
    records = []
    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())
    logging.getLogger("g4f_flux_plugin").addHandler(Keep())
    from g4f.Provider import {provider}
    async def main():
        items = []
        try:
            async for item in {provider}.create_async_generator("flux-schnell", None, prompt={prompt!r},
                                                                 timeout=60, **{kwargs!r}):
                items.append({{"type": type(item).__name__, "str": str(item).strip(),
                               "images": list(item.images),
                               "status": getattr(item, "status", None),
                               "options": getattr(item, "options", None)}})
            error = None
        except Exception as caught:
            error = {{"type": type(caught).__name__, "message": str(caught),
                      "notes": getattr(caught, "__notes__", []),
                      "quota": type(caught).__name__ == "QuotaExceededError"}}
        print(json.dumps({{"items": items, "error": error, "log": records}}))
    asyncio.run(main())
"""


def provider_items(proc: G4FProcess, url: str, prompt: str, **kwargs) -> dict:
    kwargs.setdefault("api_base", url)
    return proc.json(ITEMS.format(provider=PROVIDER, prompt=prompt, kwargs=kwargs), timeout=150)


def test_progress_says_which_image_and_the_image_comes_last(proc, replica):
    prompt = unique()
    result = provider_items(proc, replica.url, prompt, n=2, seed=10, protocol="queue", **SMALL)
    items = result["items"]
    assert result["error"] is None
    assert [item["type"] for item in items[-2:]] == ["FluxDone", "FluxImageResponse"]
    progress = [item for item in items if item["type"] == "FluxProgress"]
    assert progress and all(item["images"] == [] for item in progress)
    assert {item["status"].split(":")[0] for item in progress} == {"Image 1 of 2", "Image 2 of 2"}
    assert all(item["status"].startswith(("Image 1 of 2: ", "Image 2 of 2: ")) for item in progress)
    options = items[-1]["options"]
    assert options["seed"] == 10 and options["seeds"] == [10, 11] and options["failed"] == []
    assert items[-2]["status"] == "Done: 2 images, seeds 10, 11"
    assert len(items[-1]["images"]) == 2


def test_one_image_keeps_its_progress_text(proc, replica):
    prompt = unique()
    result = provider_items(proc, replica.url, prompt, seed=42, protocol="queue", **SMALL)
    items = result["items"]
    progress = [item["status"] for item in items if item["type"] == "FluxProgress"]
    assert progress[0] == "Submitted to the Space"
    assert not any(status.startswith("Image ") for status in progress)
    assert items[-2]["status"] == "Done: seed 42"
    assert items[-1]["options"]["seeds"] == [42]


def test_a_failed_seed_returns_the_others_and_says_which(proc, replica):
    prompt = unique("[[exception_seed=256]]")
    result = provider_items(proc, replica.url, prompt, n=3, seed=255, **SMALL)
    assert result["error"] is None
    image = result["items"][-1]
    assert image["type"] == "FluxImageResponse" and len(image["images"]) == 2
    assert image["options"]["seeds"] == [255, 257]
    [failed] = image["options"]["failed"]
    assert failed["seed"] == 256 and failed["error"].startswith("SpaceError: ")
    assert any("seed 256" in line and "SpaceError" in line for line in result["log"]), result["log"]
    assert result["items"][-2]["status"] == "Done: 2 of 3 images, seeds 255, 257 (failed: seed 256)"
    states = {job["seed"]: job["state"] for job in jobs_of(replica, prompt)}
    assert states == {255: "completed", 256: "failed", 257: "completed"}
    assert in_order(download(image["images"]), [255, 257])


def test_partial_failure_through_the_client_returns_the_images_that_succeeded(proc, replica):
    prompt = unique("[[quota_seed=256]]")
    result = client_generate(proc, replica.url, prompt, n=2, seed=255, **SMALL)
    assert in_order(download(result["urls"]), [255])
    assert {job["seed"]: job["state"] for job in jobs_of(replica, prompt)} == {
        255: "completed",
        256: "failed",
    }


def test_when_every_image_fails_the_quota_error_comes_first(proc, replica):
    # Image 1 fails with a job error, image 2 with the quota: the quota is
    # raised, so that g4f's chains move on to another provider.
    prompt = unique("[[exception_seed=300]] [[quota_seed=301]]")
    result = provider_items(proc, replica.url, prompt, n=2, seed=300, **SMALL)
    assert result["items"][-1]["type"] != "FluxImageResponse"
    assert result["error"]["quota"], result["error"]
    assert any("seed 300" in note for note in result["error"]["notes"])
    client = client_generate(proc, replica.url, prompt + " again", n=2, seed=300, **SMALL)
    assert client["rate_limit"] and client["error"] == "QuotaExceededError", client


def test_when_every_image_fails_the_single_generation_error_is_raised(proc, replica):
    prompt = unique("[[exception]]")
    result = provider_items(proc, replica.url, prompt, n=2, seed=1, **SMALL)
    assert result["error"]["type"] == "SpaceError"
    assert [job["state"] for job in jobs_of(replica, prompt)] == ["failed", "failed"]


# --- stopping early cancels every job ------------------------------------------------------

STOP = """
    import asyncio, json
    from g4f.Provider import {provider}
    async def main():
        gen = {provider}.create_async_generator("flux", None, prompt={prompt!r}, n=3, seed=500,
                                                api_base={url!r}, width=256, height=256,
                                                num_inference_steps=4, protocol="queue",
                                                timeout={timeout})
        stepping = set()
        async def consume():
            async for item in gen:
                event = getattr(item, "event", None)
                if event is not None and event.kind == "step":
                    stepping.add(item.image_number)
                if len(stepping) == 3:  # every job runs on the Space
                    if {how!r} == "break":
                        break
                    if {how!r} == "aclose":
                        await gen.aclose()
                        return
                    if {how!r} == "cancel":
                        await asyncio.sleep(3600)  # cancelled by main
        task = asyncio.create_task(consume())
        outcome = None
        try:
            if {how!r} == "cancel":
                while len(stepping) < 3 and not task.done():
                    await asyncio.sleep(0.05)
                task.cancel()
            await task
        except asyncio.CancelledError:
            outcome = "cancelled"
        except Exception as error:
            outcome = type(error).__name__
        print(json.dumps({{"outcome": outcome, "stepping": sorted(stepping)}}))
    asyncio.run(main())
"""


@pytest.fixture(scope="module")
def wide_replica(start_replica):
    """A replica running four jobs at once, so that all of one call's jobs run together."""
    return start_replica("6", concurrency_limit=4)


@pytest.mark.parametrize("how", ["aclose", "break", "cancel", "deadline"])
def test_stopping_early_cancels_every_job(proc, wide_replica, how):
    prompt = unique("[[sleep=30]]" if how == "deadline" else "[[sleep=1]]")
    # deadline: each job needs 2 minutes; the timeout ends them all after 8 s.
    result = proc.json(
        STOP.format(
            provider=PROVIDER,
            prompt=prompt,
            url=wide_replica.url,
            how=how,
            timeout=8 if how == "deadline" else 60,
        ),
        timeout=150,
    )
    if how == "deadline":
        assert result["outcome"] == "SpaceTimeoutError"
    elif how == "cancel":
        assert result["outcome"] == "cancelled" and result["stepping"] == [1, 2, 3]
    else:
        assert result["outcome"] is None and result["stepping"] == [1, 2, 3]

    def ended():
        jobs = jobs_of(wide_replica, prompt)
        return jobs if len(jobs) == 3 and all(job["state"] != "running" for job in jobs) else None

    jobs = _wait(ended)
    assert sorted(job["seed"] for job in jobs) == [500, 501, 502]
    assert [job["state"] for job in jobs] == ["cancelled"] * 3


def _wait(check, timeout: float = 30.0):
    """Poll the replica's record until ``check()`` holds (bounded; not a timing assertion)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"the replica's record did not settle within {timeout:.0f} s")
        time.sleep(0.1)


# --- aspect_ratio ------------------------------------------------------------------


@pytest.mark.parametrize(
    "ratio, size",
    [
        ("16:9", (1024, 576)),
        ("3:2", (1024, 680)),
        ("9:16", (576, 1024)),
        ("4:5", (832, 1040)),
        ("1:1", (1024, 1024)),
    ],
)
def test_aspect_ratio_sends_g4f_size(proc, replica, ratio, size):
    prompt = unique()
    client_generate(proc, replica.url, prompt, aspect_ratio=ratio, num_inference_steps=1)
    assert [(job["width"], job["height"]) for job in jobs_of(replica, prompt)] == [size]


@pytest.mark.parametrize(
    "given, size",
    [
        ({"size": "512x384"}, (512, 384)),
        ({"width": 320, "height": 256}, (320, 256)),
        ({"width": 512}, (512, 1024)),
    ],
)
def test_an_explicit_size_takes_precedence_over_aspect_ratio(proc, replica, given, size):
    prompt = unique()
    client_generate(proc, replica.url, prompt, aspect_ratio="16:9", num_inference_steps=1, **given)
    assert [(job["width"], job["height"]) for job in jobs_of(replica, prompt)] == [size]


def test_an_unknown_aspect_ratio_is_refused_and_the_known_ones_listed(proc, replica, closed_url):
    prompt = unique()
    result = client_generate(proc, closed_url, prompt, aspect_ratio="7:3", num_inference_steps=1)
    assert result["value_error"], result
    assert "7:3" in result["message"] and "16:9" in result["message"] and "3:2" in result["message"]
    assert jobs_of(replica, prompt) == []


# --- g4f api with the OpenAI SDK --------------------------------------------------------


@pytest.fixture(scope="module")
def server_proc(tmp_path_factory) -> G4FProcess:
    require_installed_plugin()
    return G4FProcess(tmp_path_factory.mktemp("g4f-image-api"))


@pytest.fixture(scope="module")
def api_server(server_proc, replica):
    """``g4f api`` (with its GUI mount), the Space pointed at the replica."""
    with g4f_api(server_proc, replica.url) as server:
        yield server


@pytest.fixture(scope="module")
def gui_server(server_proc, replica):
    """``g4f gui`` (Flask), the Space pointed at the replica."""
    with g4f_gui(server_proc, replica.url) as server:
        yield server


@pytest.mark.parametrize("response_format", ["url", "b64_json"])
@pytest.mark.parametrize("route", ["provider", "model"])
def test_openai_sdk_n2_through_g4f_api(api_server, replica, openai_client, route, response_format):
    prompt = unique()
    if route == "provider":
        client, model = openai_client(f"{api_server.base}/api/{PROVIDER}"), None
    else:
        client, model = openai_client(f"{api_server.base}/v1"), "flux-schnell"
    kwargs = {"model": model} if model else {}
    result = client.images.generate(
        prompt=prompt,
        n=2,
        size="256x256",
        response_format=response_format,
        extra_body={"seed": 511},
        **kwargs,
    )
    assert result.provider == PROVIDER
    assert len(result.data) == 2
    assert sorted(job["seed"] for job in jobs_of(replica, prompt)) == [511, 512]
    assert in_order([image_of(data, response_format) for data in result.data], [511, 512])


def test_openai_sdk_aspect_ratio_through_g4f_api(api_server, replica, openai_client):
    prompt = unique()
    client = openai_client(f"{api_server.base}/api/{PROVIDER}")
    result = client.images.generate(
        prompt=prompt, response_format="url", extra_body={"aspect_ratio": "16:9", "num_inference_steps": 1}
    )
    assert len(result.data) == 1
    assert [(job["width"], job["height"]) for job in jobs_of(replica, prompt)] == [(1024, 576)]


def test_openai_sdk_n50_is_refused_before_any_request(api_server, replica, openai_client):
    prompt = unique()
    client = openai_client(f"{api_server.base}/api/{PROVIDER}")
    # g4f answers any provider error with HTTP 500 "Request execution
    # failed"; its log has the provider's ValueError.
    import openai  # installed: the openai_client fixture checked

    with pytest.raises(openai.InternalServerError):
        client.images.generate(prompt=prompt, n=50, response_format="url")
    assert "ValueError: n must lie in 1..4, not 50" in api_server.log(50000)
    assert jobs_of(replica, prompt) == []


# --- g4f's GUI: the last status before the image ------------------------------------------


def _conversation(base: str, prompt: str, **extra) -> list[dict]:
    """POST the GUI's conversation route; its SSE events as dicts, in order."""
    body = {
        "model": "flux-schnell",
        "provider": PROVIDER,
        "download_media": False,
        "messages": [{"role": "user", "content": prompt}],
        **extra,
    }
    request = urllib.request.Request(
        f"{base}/backend-api/v2/conversation",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        text = response.read().decode()
    return [json.loads(line[len("data: ") :]) for line in text.splitlines() if line.startswith("data: ")]


def _last_status_before_the_image(events: list[dict]) -> tuple[str | None, dict]:
    contents = [i for i, event in enumerate(events) if event["type"] == "content"]
    assert contents, events
    image = contents[-1]
    statuses = [
        event["status"]
        for event in events
        if event["type"] == "reasoning" and isinstance(event.get("status"), str)
    ]
    after = [event for event in events[image + 1 :] if event["type"] == "reasoning" and event.get("status")]
    assert after == [], "no status may follow the image (the GUI would show it instead)"
    return (statuses[-1] if statuses else None), events[image]


@pytest.mark.parametrize("server", ["api_server", "gui_server"], ids=["g4f-api-gui", "g4f-gui"])
@pytest.mark.parametrize("n, expected", [(None, "Done: seed 800"), (2, "Done: 2 images, seeds 800, 801")])
def test_gui_shows_done_not_generating_once_the_image_is_there(request, replica, server, n, expected):
    base = request.getfixturevalue(server).base
    prompt = unique()
    extra = {"seed": 800, "num_inference_steps": 2, "width": 256, "height": 256}
    if n:
        extra["n"] = n
    events = _conversation(base, prompt, **extra)
    status, image = _last_status_before_the_image(events)
    assert status == expected
    assert "Generating" not in status
    # The progress statuses did reach the GUI before it (the Space's own).
    assert any(
        event["type"] == "reasoning" and event.get("status", "").endswith("Submitted to the Space")
        for event in events
    )
    assert len(image["urls"]) == (n or 1)
    assert all(url.startswith(replica.url + "/") for url in image["urls"])
    assert sorted(job["seed"] for job in jobs_of(replica, prompt)) == [800, 801][: n or 1]
