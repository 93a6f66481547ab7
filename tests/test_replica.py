"""The local Space replica is faithful to FLUX.1-schnell on both Gradio generations.

These tests speak Gradio's wire protocols with the standard library only, so
that the plugin's own tests can trust the replica they run against.
"""

from __future__ import annotations

import http.client
import io
import json
import signal
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from replica import INFO_MESSAGE, QUOTA_MESSAGE, QUOTA_TITLE, WARNING_MESSAGE, seed_colour

# WebP is lossy even for a solid colour: allow a few levels per channel.
COLOUR_TOLERANCE = 10


def _post_json(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def _status(url: str, method: str = "GET") -> int:
    request = urllib.request.Request(
        url,
        method=method,
        data=b"{}" if method == "POST" else None,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def _call_events(api_url: str, data: list) -> list[tuple[str, Any]]:
    """One job over the ``/call/`` protocol: ``[(event, data), ...]`` until the server closes."""
    event_id = _post_json(f"{api_url}/call/infer", {"data": data})["event_id"]
    events: list[tuple[str, Any]] = []
    event = None
    with urllib.request.urlopen(f"{api_url}/call/infer/{event_id}", timeout=30) as stream:
        for raw in stream:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                event = line[len("event:") :].strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line[len("data:") :])))
    return events


def _queue_messages(api_url: str, session_hash: str) -> Iterator[dict[str, Any]]:
    """The ``queue/data`` messages of one session, until ``close_stream``."""
    url = f"{api_url}/queue/data?session_hash={session_hash}"
    with urllib.request.urlopen(url, timeout=30) as stream:
        for raw in stream:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("data:"):
                message = json.loads(line[len("data:") :])
                yield message
                if message["msg"] == "close_stream":
                    return


def _join(replica, data: list, session_hash: str) -> str:
    infer = _infer_dependency(_get_json(f"{replica.url}/config"))
    body = {
        "data": data,
        "event_data": None,
        "fn_index": infer["id"],
        "trigger_id": infer["targets"][0][0],
        "session_hash": session_hash,
    }
    return _post_json(f"{replica.api_url}/queue/join", body)["event_id"]


def _infer_dependency(config: dict) -> dict:
    (infer,) = [dep for dep in config["dependencies"] if dep.get("api_name") == "infer"]
    return infer


def _download_image(url: str) -> Image.Image:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.headers["Content-Type"] == "image/webp"
        image = Image.open(io.BytesIO(response.read()))
        image.load()
    return image


def _assert_colour(image: Image.Image, seed: int) -> None:
    pixel = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    expected = seed_colour(seed)
    assert all(abs(a - b) <= COLOUR_TOLERANCE for a, b in zip(pixel, expected, strict=True)), (
        pixel,
        expected,
    )


def _jobs_for(replica, prompt: str) -> list[dict]:
    return [job for job in replica.jobs() if job["prompt"] == prompt]


def test_config_matches_the_space(any_replica):
    config = _get_json(f"{any_replica.url}/config")
    assert config["protocol"] == "sse_v3"
    assert config["enable_queue"] is True
    assert config["show_error"] is False
    expected_prefix = "" if any_replica.gradio_version.startswith("4.") else "/gradio_api"
    assert (config.get("api_prefix") or "") == expected_prefix == any_replica.prefix

    components = {component["id"]: component for component in config["components"]}
    dependencies = config["dependencies"]
    infer = _infer_dependency(config)
    # The Space's examples come first: infer is not fn_index 0 there, and a
    # client that assumes it is will call the wrong function.
    assert dependencies.index(infer) == 2 and infer["id"] == 2
    run_button = components[infer["targets"][0][0]]
    assert (run_button["type"], run_button["props"]["value"]) == ("button", "Run")
    assert infer["targets"][0][1] == "click"
    assert components[infer["targets"][1][0]]["type"] == "textbox"

    inputs = [components[i] for i in infer["inputs"]]
    assert [c["type"] for c in inputs] == ["textbox", "slider", "checkbox", "slider", "slider", "slider"]
    ranges = [
        (c["props"]["minimum"], c["props"]["maximum"], c["props"]["step"], c["props"]["value"])
        for c in inputs
        if c["type"] == "slider"
    ]
    assert ranges == [(0, 2147483647, 1, 0), (256, 2048, 32, 1024), (256, 2048, 32, 1024), (1, 50, 1, 4)]
    assert inputs[2]["props"]["value"] is True  # randomize_seed
    result, seed = (components[i] for i in infer["outputs"])
    assert (result["type"], result["props"]["format"]) == ("image", "webp")
    assert seed is inputs[1]

    info = _get_json(f"{any_replica.api_url}/info")
    parameters = info["named_endpoints"]["/infer"]["parameters"]
    assert [p["parameter_name"] for p in parameters] == [
        "prompt",
        "seed",
        "randomize_seed",
        "width",
        "height",
        "num_inference_steps",
    ]


def test_routes_follow_the_generation(any_replica):
    # Gradio 5+ serves the API under /gradio_api only; Gradio 4 only unprefixed.
    other = "" if any_replica.prefix else "/gradio_api"
    assert _status(f"{any_replica.url}{other}/call/infer", "POST") == 404
    assert _status(f"{any_replica.url}/config") == 200
    assert _status(f"{any_replica.api_url}/file=/etc/passwd") == 403


def test_call_round_trip(any_replica):
    prompt = f"round trip {uuid.uuid4()}"
    seed = 0x00A0C8E0  # three distinct bytes, so a swapped channel would show
    events = _call_events(any_replica.api_url, [prompt, seed, False, 512, 768, 2])

    assert [name for name, _ in events] == ["complete"]
    file_data, returned_seed = events[0][1]
    assert returned_seed == seed
    assert file_data["orig_name"] == "image.webp"
    assert file_data["url"].startswith(f"{any_replica.api_url}/file=")
    image = _download_image(file_data["url"])
    assert (image.format, image.size) == ("WEBP", (512, 768))
    _assert_colour(image, seed)

    (job,) = _jobs_for(any_replica, prompt)
    assert job["state"] == "completed"
    assert (job["seed"], job["width"], job["height"], job["steps"]) == (seed, 512, 768, 2)
    assert job["started_at"] <= job["ended_at"]


def test_randomize_seed_returns_the_seed_used(replica):
    prompt = f"random {uuid.uuid4()}"
    events = _call_events(replica.api_url, [prompt, 7, True, 256, 256, 1])
    file_data, returned_seed = events[-1][1]
    (job,) = _jobs_for(replica, prompt)
    assert job["seed"] == returned_seed
    _assert_colour(_download_image(file_data["url"]), returned_seed)


def test_quota_error_over_call(replica):
    events = _call_events(replica.api_url, ["[[quota]] a cat", 1, False, 256, 256, 1])
    assert events == [
        ("error", {"error": QUOTA_MESSAGE, "duration": 10, "visible": True, "title": QUOTA_TITLE})
    ]


def test_quota_error_over_queue(any_replica):
    session = uuid.uuid4().hex
    event_id = _join(any_replica, ["[[quota]] queued", 1, False, 256, 256, 1], session)
    completed = [m for m in _queue_messages(any_replica.api_url, session) if m["msg"] == "process_completed"]
    assert len(completed) == 1 and completed[0]["event_id"] == event_id
    assert completed[0]["success"] is False
    # Gradio 4 sends str(gr.Error), the repr of the message, quotes included.
    assert QUOTA_MESSAGE in completed[0]["output"]["error"]


def test_info_toasts_and_progress_over_queue(any_replica):
    session = uuid.uuid4().hex
    _join(any_replica, ["[[info]] [[sleep=0.15]] toasts", 1, False, 256, 256, 3], session)
    messages = list(_queue_messages(any_replica.api_url, session))
    logs = [(m["level"], m["log"]) for m in messages if m["msg"] == "log"]
    assert logs == [("info", INFO_MESSAGE), ("warning", WARNING_MESSAGE)]
    steps = [m["progress_data"][0] for m in messages if m["msg"] == "progress" and m["progress_data"]]
    assert steps and steps[0]["length"] == 3 and steps[0]["unit"] == "steps"
    assert messages[-2]["msg"] == "process_completed" and messages[-2]["success"] is True


def test_cancel_stops_the_running_function(any_replica):
    prompt = f"[[sleep=0.5]] cancel me {uuid.uuid4()}"
    session = uuid.uuid4().hex
    event_id = _join(any_replica, [prompt, 1, False, 256, 256, 40], session)
    infer = _infer_dependency(_get_json(f"{any_replica.url}/config"))
    completed = None
    for message in _queue_messages(any_replica.api_url, session):
        if message["msg"] == "progress" and message["progress_data"]:
            if message["progress_data"][0]["index"] >= 1 and completed is None:
                completed = False
                _post_json(
                    f"{any_replica.api_url}/cancel",
                    {"session_hash": session, "fn_index": infer["id"], "event_id": event_id},
                )
        elif message["msg"] == "process_completed":
            completed = message
    # A cancelled job completes "successfully" with no output at all.
    assert completed and completed["success"] is True and completed["output"] == {}
    (job,) = _jobs_for(any_replica, prompt)
    assert job["state"] == "cancelled"
    assert job["ended_at"] - job["started_at"] < 10  # 40 steps x 0.5 s had it not stopped


@pytest.mark.parametrize("show_error, expected", [(False, None), (True, "CUDA out of memory (simulated)")])
def test_plain_exception_respects_show_error(start_replica, show_error, expected):
    replica = start_replica("6", show_error=show_error)
    events = _call_events(replica.api_url, ["[[exception]] boom", 1, False, 256, 256, 1])
    assert len(events) == 1 and events[0][0] == "error"
    assert events[0][1]["error"] == expected


def test_sigterm_cuts_streams_and_exits_cleanly(start_replica):
    replica = start_replica("6", fresh=True)
    session = uuid.uuid4().hex
    _join(replica, ["[[sleep=1]] shutdown", 1, False, 256, 256, 30], session)
    seen: list[str] = []
    try:
        for message in _queue_messages(replica.api_url, session):
            seen.append(message["msg"])
            if message["msg"] == "progress" and replica.process.poll() is None:
                replica.process.send_signal(signal.SIGTERM)
    except (http.client.IncompleteRead, ConnectionError):
        pass  # the server went away mid-stream, as a dying Space does
    # Like a real server dying mid-job: no terminal message at all.
    assert "progress" in seen and "process_completed" not in seen
    assert replica.process.wait(timeout=15) == 0
