"""What each Gradio generation sends, and what g4f_flux_plugin._messages makes of it.

One table per function, each row a payload one generation really sends,
named ``<generation>-<case>`` after it:

- ``4.44``: routes without ``/gradio_api``; ``gr.Error`` has no title, and
  the queue reports it as ``str(error)``, which Gradio 4 defines as
  ``repr(message)`` (quotes included); ``log`` messages carry no title;
  ``FileData.url`` may be missing (only ``path``) behind a proxy;
- ``5.0``: ``/gradio_api``, errors still quoted and untitled;
- ``5.38``/``5.x``: ``gr.Error(title=...)``; the queue output carries the
  plain message, ``title`` on the message and in the output, titled toasts;
- ``6.12`` (and every 4.x and 5.x): the ``/call/`` stream's ``event: error``
  data is ``null``, whatever the function raised;
- ``6.13+``: that data is an object ``{"error", "title", "visible", ...}``;
- ``6.x``: the queue protocol, the same from 5.38 to 6.31.

Payloads marked "captured" are the bytes of a Gradio 6.31 server, copied
literally; the older ones follow that generation's ``error_payload``,
``ProcessCompletedMessage`` and ``LogMessage`` (gradio/utils.py,
gradio/server_messages.py, gradio/routes.py ``simple_predict_get``).
"""

from __future__ import annotations

from typing import Any

import pytest

from g4f_flux_plugin._config import SpaceConfig, parse_config
from g4f_flux_plugin._errors import (
    JobCancelledError,
    QuotaExceededError,
    SpaceBusyError,
    SpaceError,
    SpaceProtocolError,
)
from g4f_flux_plugin._events import GeneratedImage, ProgressEvent
from g4f_flux_plugin._messages import (
    call_error,
    image_from_output,
    parse_json,
    queue_progress,
    queue_result,
)
from g4f_flux_plugin._params import normalise

ROOT = "https://black-forest-labs-flux-1-schnell.hf.space"
EVENT_ID = "3efc6a7269624d2293effd3f4ad9ed1a"

# -- the Space, as each generation's /config describes it ---------------------------
_DEPENDENCY = {
    "id": 2,
    "api_name": "infer",
    "targets": [[5, "click"], [4, "submit"]],
    "inputs": [4, 8, 9, 11, 12, 15],
    "outputs": [6, 8],
}


def _config(version: str, **extra) -> SpaceConfig:
    return parse_config(
        ROOT,
        {
            "version": version,
            "protocol": "sse_v3",
            "enable_queue": True,
            "dependencies": [_DEPENDENCY],
            **extra,
        },
    )


#: Gradio 4 has no ``api_prefix`` key: its routes (and its file route) are at the root.
GRADIO4 = _config("4.44.1")
GRADIO5 = _config("5.50.0", api_prefix="/gradio_api")
GRADIO6 = _config("6.31.0", api_prefix="/gradio_api")

REQUEST = normalise("a cat holding a sign", width=512, height=768, steps=4, seed=1234)


def test_the_configs_are_the_generations_they_claim():
    # The file route built from a bare path depends on exactly this.
    assert (GRADIO4.api_prefix, GRADIO5.api_prefix, GRADIO6.api_prefix) == ("", "/gradio_api", "/gradio_api")
    assert (GRADIO4.fn_index, GRADIO4.trigger_id) == (2, 5)
    assert REQUEST.data() == ["a cat holding a sign", 1234, False, 512, 768, 4]


# -- payloads -----------------------------------------------------------------------
PATH = "/tmp/gradio/a37a74105f7111f04b434f5458da87ecbb9a68bc696769b7dd526ec00b8d7bd2/image.webp"
#: FileData as Gradio 6.31 sends it behind HF's proxy (captured: the url's host is the
#: X-Forwarded-Host of the request that submitted the job).
FILE_6 = {
    "path": PATH,
    "url": f"{ROOT}/gradio_api/file={PATH}",
    "size": None,
    "orig_name": "image.webp",
    "mime_type": None,
    "is_stream": False,
    "meta": {"_type": "gradio.FileData"},
}
#: FileData without a url (some Gradio 4 setups, or a proxy that drops the field):
#: the client builds the file route from the path.
FILE_NO_URL = {**FILE_6, "url": None}

QUOTA_TEXT = "You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in 0:05:12. "
QUOTA_TITLE = "ZeroGPU quota exceeded"
#: The quota text as the Space sends it, without the trailing space error_from_space strips.
QUOTA_WORDS = QUOTA_TEXT.strip()
#: What a hidden error says (compared case-blind: its capitalisation is _errors' business).
HIDDEN = "the space reported an error but hides its details (show_error is off)"
CANCELLED = "the job was cancelled on the Space before it produced an image"


def _completed(output: dict, success: bool, title: str | None = None, generation: str = "6") -> dict:
    """A ``process_completed`` message: Gradio 4 and 5.0 send no ``title`` key at all."""
    message = {"msg": "process_completed", "event_id": EVENT_ID, "output": output, "success": success}
    if generation not in ("4.44", "5.0"):
        message.update(title=title, used_cache=None, cache_duration=None, avg_time=None)
    return message


def _gr_error(text: str, generation: str) -> dict:
    """The failed ``process_completed`` of a ``gr.Error(text)`` as Gradio 4.44 and 5.0
    send it: ``str(error)``, which is ``repr(text)``, and no title."""
    return _completed({"error": repr(text), "duration": 10, "visible": True}, False, generation=generation)


def _check_error(error: BaseException, cls: type, message, title, text: str, retry_after=None) -> None:
    assert type(error) is cls
    assert error.message == message
    assert error.title == title
    assert (str(error).lower() if text is HIDDEN else str(error)) == text
    if cls is QuotaExceededError:
        assert error.retry_after == retry_after
        assert error.status == 429


# -- parse_json ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("null", None, id="all-call-error-null"),  # <= 6.12 error, heartbeat data
        pytest.param('"404: Not Found"', "404: Not Found", id="all-call-error-dropped-job"),
        pytest.param('{"error": null}', {"error": None}, id="6.13-call-error-hidden"),
        pytest.param(
            '{"msg":"close_stream","event_id":null}',
            {"msg": "close_stream", "event_id": None},
            id="6.x-queue-close_stream",
        ),
        pytest.param(
            '[{"path": "/tmp/x.webp", "url": null}, 7]',
            [{"path": "/tmp/x.webp", "url": None}, 7],
            id="4.44-call-complete",
        ),
    ],
)
def test_parse_json_reads_every_generations_data(text, value):
    assert parse_json(text) == value


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty-data-line"),
        pytest.param("Internal Server Error", id="plain-text"),
        pytest.param('{"msg":"estimation","event_id":"3efc', id="cut-json"),
        pytest.param("data: null", id="field-not-stripped"),
    ],
)
def test_parse_json_refuses_what_is_not_json(text):
    with pytest.raises(SpaceProtocolError) as caught:
        parse_json(text)
    assert str(caught.value) == f"malformed JSON in an event: {text!r}"
    # raise ... from None: the json module's traceback says nothing more.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_parse_json_quotes_only_the_start_of_a_long_payload():
    text = "<" + "x" * 300
    with pytest.raises(SpaceProtocolError) as caught:
        parse_json(text)
    assert str(caught.value) == f"malformed JSON in an event: {text[:100]!r}"


# -- call_error: the /call/ stream's "event: error" data ----------------------------
@pytest.mark.parametrize(
    ("data", "cls", "message", "title", "text", "retry_after"),
    [
        # Gradio <= 6.12 (simple_predict_get): data = output.get("data"), and a failed
        # job's output has only "error", so every failure is null: the text is lost.
        pytest.param(None, SpaceError, None, None, HIDDEN, None, id="4.44-null"),
        pytest.param(None, SpaceError, None, None, HIDDEN, None, id="5.x-null"),
        pytest.param(None, SpaceError, None, None, HIDDEN, None, id="6.12-null"),
        # Gradio 6.13+ (captured on 6.31): gr.Error as raised by ZeroGPU's spaces package.
        pytest.param(
            {"error": QUOTA_TEXT, "duration": 10, "visible": True, "title": QUOTA_TITLE},
            QuotaExceededError,
            QUOTA_WORDS,
            QUOTA_TITLE,
            f"{QUOTA_TITLE}: {QUOTA_WORDS}",
            312.0,
            id="6.13-quota",
        ),
        # Captured: a plain exception with show_error off ...
        pytest.param({"error": None}, SpaceError, None, None, HIDDEN, None, id="6.13-exception-hidden"),
        # ... and with show_error on: str(exc), no title.
        pytest.param(
            {"error": "CUDA out of memory (simulated plain exception)", "visible": True},
            SpaceError,
            "CUDA out of memory (simulated plain exception)",
            None,
            "CUDA out of memory (simulated plain exception)",
            None,
            id="6.13-exception-shown",
        ),
        pytest.param(
            {
                "error": "No GPU was available after 60s",
                "duration": 10,
                "visible": True,
                "title": "ZeroGPU client error",
            },
            SpaceBusyError,
            "No GPU was available after 60s",
            "ZeroGPU client error",
            "ZeroGPU client error: No GPU was available after 60s",
            None,
            id="6.13-zerogpu-client-error",
        ),
        # A job the Space no longer has (its GET stream was dropped while it was
        # queued): an UnexpectedErrorMessage, whose message is sent as a bare
        # JSON string on every generation (captured on 6.31).
        pytest.param(
            "404: Not Found",
            SpaceError,
            "404: Not Found",
            None,
            "404: Not Found",
            None,
            id="4.44-dropped-job",
        ),
        pytest.param(
            "404: Not Found", SpaceError, "404: Not Found", None, "404: Not Found", None, id="6.x-dropped-job"
        ),
    ],
)
def test_call_error(data, cls, message, title, text, retry_after):
    _check_error(call_error(data), cls, message, title, text, retry_after)


@pytest.mark.parametrize(
    ("data", "title", "retry_after"),
    [
        # ZeroGPU's wait is str(timedelta): hours past a day, days, fractions.
        pytest.param(
            {
                "error": "You have exceeded your free ZeroGPU quota (60s requested vs. 0s left). "
                "Try again in 23:59:09.",
                "title": QUOTA_TITLE,
            },
            QUOTA_TITLE,
            86349.0,
            id="6.13-quota-hours",
        ),
        pytest.param(
            {
                "error": "You have exceeded your Pro ZeroGPU quota (60s requested vs. 1s left). "
                "Try again in 1 day, 0:00:05.",
                "title": QUOTA_TITLE,
            },
            QUOTA_TITLE,
            86405.0,
            id="6.13-quota-pro-days",
        ),
        pytest.param(
            {
                "error": "You have exceeded your free ZeroGPU quota (60s requested vs. 2s left). "
                "Try again in 0:00:30.500000. Authenticate with a Hugging Face token for more quota - "
                "https://huggingface.co/settings/tokens",
                "title": QUOTA_TITLE,
            },
            QUOTA_TITLE,
            30.5,
            id="6.13-quota-fraction-and-tier-suffix",
        ),
        # The text alone says quota, whatever the title (runs limit: no wait given).
        pytest.param(
            {"error": "You have exceeded your ZeroGPU runs limit.", "title": "Error"},
            "Error",
            None,
            id="6.13-runs-limit",
        ),
        pytest.param(
            {"error": "Space app has reached its GPU limit", "title": QUOTA_TITLE},
            QUOTA_TITLE,
            None,
            id="6.13-space-gpu-limit",
        ),
        # The title alone says quota.
        pytest.param({"error": None, "title": QUOTA_TITLE}, QUOTA_TITLE, None, id="6.13-quota-title-only"),
    ],
)
def test_call_error_zerogpu_quota_variants(data, title, retry_after):
    error = call_error(data)
    assert type(error) is QuotaExceededError
    assert error.retry_after == retry_after
    assert error.title == title
    assert error.message == data["error"]


def test_call_error_html_link_is_dropped():
    link = '<a href="https://huggingface.co/subscribe/pro" target="_blank">Subscribe to Pro</a>'
    error = call_error({"error": QUOTA_TEXT + link, "title": QUOTA_TITLE})
    assert type(error) is QuotaExceededError
    assert error.message == QUOTA_WORDS + " Subscribe to Pro"
    assert error.retry_after == 312.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # Nothing a Gradio sends, but the error must still name what came.
        pytest.param(5, "5", id="malformed-number"),
        pytest.param([1, 2], "[1, 2]", id="malformed-list"),
        pytest.param({"error": ["x"], "title": 7}, "['x']", id="malformed-object-fields"),
    ],
)
def test_call_error_of_a_malformed_payload_is_still_a_space_error(data, message):
    _check_error(call_error(data), SpaceError, message, None, message)


# -- image_from_output: the /call/ "complete" data and the queue's output.data -----
@pytest.mark.parametrize(
    ("config", "data", "url", "seed"),
    [
        # Captured (6.31 behind a proxy): the url is absolute, and used as given.
        pytest.param(GRADIO6, [FILE_6, 5], f"{ROOT}/gradio_api/file={PATH}", 5, id="6.x-url"),
        pytest.param(
            GRADIO6,
            [{**FILE_6, "url": f"http://127.0.0.1:7860/gradio_api/file={PATH}"}, 1234],
            f"http://127.0.0.1:7860/gradio_api/file={PATH}",
            1234,
            id="6.x-url-loopback",
        ),
        # No url: the file route of this generation, built from the path.
        pytest.param(GRADIO4, [FILE_NO_URL, 7], f"{ROOT}/file={PATH}", 7, id="4.44-path-only"),
        pytest.param(GRADIO5, [FILE_NO_URL, 7], f"{ROOT}/gradio_api/file={PATH}", 7, id="5.x-path-only"),
        pytest.param(
            GRADIO6,
            [{k: v for k, v in FILE_6.items() if k != "url"}, 7],
            f"{ROOT}/gradio_api/file={PATH}",
            7,
            id="6.x-no-url-key",
        ),
        # Gradio 4 builds the url as "/file=<path>" and prefixes its root only when it
        # knows one: a relative url is not followable, so the path decides.
        pytest.param(
            GRADIO4, [{**FILE_6, "url": f"/file={PATH}"}, 7], f"{ROOT}/file={PATH}", 7, id="4.44-relative-url"
        ),
        # A url of another scheme is never followed; the path is used instead.
        pytest.param(
            GRADIO6,
            [{**FILE_6, "url": "file:///etc/passwd"}, 7],
            f"{ROOT}/gradio_api/file={PATH}",
            7,
            id="6.x-foreign-scheme-url",
        ),
        # Gradio 3 and older serialised a file output as the bare path.
        pytest.param(GRADIO4, [PATH, 7], f"{ROOT}/file={PATH}", 7, id="3.x-bare-path"),
    ],
)
def test_image_from_output(config, data, url, seed):
    image = image_from_output(config, data, EVENT_ID, REQUEST)
    assert image == GeneratedImage(url=url, seed=seed, path=PATH, mime_type=None, event_id=EVENT_ID)
    assert image.request is REQUEST  # request is left out of ==: check it by identity


@pytest.mark.parametrize(
    ("seed_item", "seed"),
    [
        pytest.param([2147483647], 2147483647, id="6.x-max-seed"),
        pytest.param([0], 0, id="6.x-seed-0"),
        pytest.param([42.0], 42, id="6.x-float-seed"),  # a Number component may send 42.0
        pytest.param([], None, id="6.x-no-seed-output"),
        pytest.param([None], None, id="6.x-null-seed"),
        pytest.param([True], None, id="malformed-bool-seed"),
        pytest.param(["42"], None, id="malformed-string-seed"),
    ],
)
def test_image_from_output_seed(seed_item, seed):
    assert image_from_output(GRADIO6, [FILE_6, *seed_item], EVENT_ID, REQUEST).seed == seed


def test_image_from_output_keeps_a_mime_type():
    image = image_from_output(GRADIO6, [{**FILE_6, "mime_type": "image/webp"}, 5], EVENT_ID, REQUEST)
    assert image.mime_type == "image/webp"


@pytest.mark.parametrize(
    "data",
    [
        # Captured (6.31): a /call/ job cancelled while queued completes with
        # "event: complete" and data null (its output is {}: no "data").
        pytest.param(None, id="6.x-call-cancelled-null"),
        pytest.param(None, id="4.44-call-cancelled-null"),
        pytest.param([], id="6.x-empty-list"),
        pytest.param({}, id="6.x-empty-object"),
    ],
)
def test_image_from_output_of_a_cancelled_job(data):
    with pytest.raises(JobCancelledError) as caught:
        image_from_output(GRADIO6, data, EVENT_ID, REQUEST)
    _check_error(caught.value, JobCancelledError, CANCELLED, None, CANCELLED)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param("x", "the Space's output is not a list", id="malformed-string"),
        pytest.param(5, "the Space's output is not a list", id="malformed-number"),
        pytest.param({"data": [FILE_6, 5]}, "the Space's output is not a list", id="malformed-object"),
        pytest.param([None, 5], "the Space returned no image", id="malformed-null-image"),
        pytest.param([{}, 5], "the Space's output names no image file", id="malformed-empty-filedata"),
        pytest.param(
            [{"path": None, "url": None}, 5],
            "the Space's output names no image file",
            id="malformed-null-path-and-url",
        ),
        pytest.param(
            [{"path": "", "url": None}, 5],
            "the Space's output names no image file",
            id="malformed-empty-path",
        ),
        pytest.param(
            [{"path": 5, "url": None}, 5],
            "the Space's output names no image file",
            id="malformed-number-path",
        ),
        pytest.param(
            [{"url": "javascript:alert(1)"}, 5],
            "the Space's output names no image file",
            id="malformed-javascript-url",
        ),
        pytest.param(
            [{"url": "https://"}, 5], "the Space's output names no image file", id="malformed-no-host"
        ),
        pytest.param([7, 5], "the Space's output names no image file", id="malformed-number-file"),
    ],
)
def test_image_from_output_refuses_what_names_no_image(data, reason):
    with pytest.raises(SpaceProtocolError) as caught:
        image_from_output(GRADIO6, data, EVENT_ID, REQUEST)
    assert type(caught.value) is SpaceProtocolError
    assert str(caught.value) == reason


# -- queue_result: process_completed --------------------------------------------------
#: Captured (6.31): a job's success, output with data and timing fields.
COMPLETED_6 = {
    "msg": "process_completed",
    "event_id": EVENT_ID,
    "output": {
        "data": [FILE_6, 1],
        "is_generating": False,
        "duration": 0.6059010028839111,
        "average_duration": 0.4436396598815918,
        "render_config": None,
        "changed_state_ids": [],
        "used_cache": None,
    },
    "success": True,
    "title": None,
    "used_cache": None,
    "cache_duration": 0.6059010028839111,
    "avg_time": 0.4436396598815918,
}


@pytest.mark.parametrize(
    ("config", "message", "url"),
    [
        pytest.param(GRADIO6, COMPLETED_6, f"{ROOT}/gradio_api/file={PATH}", id="6.x-success"),
        pytest.param(
            GRADIO5,
            _completed({"data": [FILE_6, 1], "is_generating": False}, True, generation="5.38"),
            f"{ROOT}/gradio_api/file={PATH}",
            id="5.x-success",
        ),
        pytest.param(
            GRADIO4,
            _completed({"data": [FILE_NO_URL, 1], "is_generating": False}, True, generation="4.44"),
            f"{ROOT}/file={PATH}",
            id="4.44-success-path-only",
        ),
    ],
)
def test_queue_result_success(config, message, url):
    image = queue_result(config, message, EVENT_ID, REQUEST)
    assert image == GeneratedImage(url=url, seed=1, path=PATH, mime_type=None, event_id=EVENT_ID)
    assert image.request is REQUEST


@pytest.mark.parametrize(
    ("message", "cls", "text_message", "title", "text", "retry_after"),
    [
        # Captured (6.31): ZeroGPU's gr.Error, title on the message and in the output.
        pytest.param(
            _completed(
                {"error": QUOTA_TEXT, "duration": 10, "visible": True, "title": QUOTA_TITLE},
                False,
                QUOTA_TITLE,
            ),
            QuotaExceededError,
            QUOTA_WORDS,
            QUOTA_TITLE,
            f"{QUOTA_TITLE}: {QUOTA_WORDS}",
            312.0,
            id="6.x-quota",
        ),
        # Captured: a plain exception, show_error off: the text is hidden, title "Error".
        pytest.param(
            _completed({"error": None}, False, "Error"),
            SpaceError,
            None,
            "Error",
            HIDDEN,
            None,
            id="6.x-exception-hidden",
        ),
        # Captured: a plain exception, show_error on: str(exc).
        pytest.param(
            _completed(
                {"error": "CUDA out of memory (simulated plain exception)", "visible": True}, False, "Error"
            ),
            SpaceError,
            "CUDA out of memory (simulated plain exception)",
            "Error",
            "CUDA out of memory (simulated plain exception)",
            None,
            id="6.x-exception-shown",
        ),
        # Gradio 5.38+: error_payload sends error.message (unquoted) and error.title.
        pytest.param(
            _completed(
                {
                    "error": "No GPU was available after 60s",
                    "duration": 10,
                    "visible": True,
                    "title": "ZeroGPU client error",
                },
                False,
                "ZeroGPU client error",
                generation="5.38",
            ),
            SpaceBusyError,
            "No GPU was available after 60s",
            "ZeroGPU client error",
            "ZeroGPU client error: No GPU was available after 60s",
            None,
            id="5.38-titled-error",
        ),
        # A title on the message alone still names the error.
        pytest.param(
            _completed({"error": "Illegal duration"}, False, "ZeroGPU illegal duration", generation="5.38"),
            SpaceError,
            "Illegal duration",
            "ZeroGPU illegal duration",
            "ZeroGPU illegal duration: Illegal duration",
            None,
            id="5.38-title-on-message-only",
        ),
        # Gradio 4.44 and 5.0: error_payload sends str(error), and gr.Error.__str__ is
        # repr(message): the quotes are Gradio's, not the Space's. No title anywhere,
        # so a quota is told by its text, and gets ZeroGPU's title.
        pytest.param(
            _gr_error(QUOTA_TEXT, "4.44"),
            QuotaExceededError,
            QUOTA_WORDS,
            QUOTA_TITLE,
            f"{QUOTA_TITLE}: {QUOTA_WORDS}",
            312.0,
            id="4.44-quota-quoted",
        ),
        pytest.param(
            _gr_error(
                "You have exceeded your GPU quota (60s requested vs. 56s left). "
                "Sign-up on Hugging Face to get more quotas or retry in 0:06:53",
                "4.44",
            ),
            QuotaExceededError,
            "You have exceeded your GPU quota (60s requested vs. 56s left). "
            "Sign-up on Hugging Face to get more quotas or retry in 0:06:53",
            QUOTA_TITLE,
            f"{QUOTA_TITLE}: You have exceeded your GPU quota (60s requested vs. 56s left). "
            "Sign-up on Hugging Face to get more quotas or retry in 0:06:53",
            413.0,
            id="4.44-quota-older-wording",
        ),
        pytest.param(
            _gr_error("No GPU was available after 60s", "4.44"),
            # No title on 4.44: the text says it is ZeroGPU's GPU-queue timeout.
            SpaceBusyError,
            "No GPU was available after 60s",
            "ZeroGPU queue timeout",
            "ZeroGPU queue timeout: No GPU was available after 60s",
            None,
            id="4.44-gr-error-quoted",
        ),
        # repr() picks double quotes for a message with an apostrophe.
        pytest.param(
            _gr_error("can't allocate the GPU", "5.0"),
            SpaceError,
            "can't allocate the GPU",
            None,
            "can't allocate the GPU",
            None,
            id="5.0-gr-error-double-quoted",
        ),
        pytest.param(
            _completed({"error": None}, False, generation="4.44"),
            SpaceError,
            None,
            None,
            HIDDEN,
            None,
            id="4.44-exception-hidden",
        ),
        # A failure without any output still fails, in plain words.
        pytest.param(
            _completed(None, False, generation="4.44"),  # type: ignore[arg-type]
            SpaceError,
            None,
            None,
            HIDDEN,
            None,
            id="malformed-null-output",
        ),
        pytest.param(
            {"msg": "process_completed", "event_id": EVENT_ID, "output": {"error": "boom"}},
            SpaceError,
            "boom",
            None,
            "boom",
            None,
            id="malformed-no-success-key",
        ),
    ],
)
def test_queue_result_failure(message, cls, text_message, title, text, retry_after):
    # QuotaExceededError is a rate limit, not a SpaceError: catch the class expected.
    with pytest.raises(cls) as caught:
        queue_result(GRADIO6, message, EVENT_ID, REQUEST)
    _check_error(caught.value, cls, text_message, title, text, retry_after)


@pytest.mark.parametrize(
    "message",
    [
        # Captured (6.31): a job cancelled by /cancel completes successfully with output {}.
        pytest.param(
            {
                "msg": "process_completed",
                "event_id": EVENT_ID,
                "output": {},
                "success": True,
                "title": None,
                "used_cache": None,
                "cache_duration": None,
                "avg_time": None,
            },
            id="6.x-cancelled",
        ),
        # Gradio 4.44 and 5.x /cancel push ProcessCompletedMessage(output={}, success=True).
        pytest.param(_completed({}, True, generation="4.44"), id="4.44-cancelled"),
        pytest.param(_completed({}, True, generation="5.0"), id="5.0-cancelled"),
        pytest.param(_completed({"data": []}, True), id="6.x-empty-data"),
        pytest.param(_completed({"data": None}, True), id="6.x-null-data"),
    ],
)
def test_queue_result_of_a_cancelled_job(message):
    with pytest.raises(JobCancelledError) as caught:
        queue_result(GRADIO6, message, EVENT_ID, REQUEST)
    _check_error(caught.value, JobCancelledError, CANCELLED, None, CANCELLED)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        pytest.param(
            _completed({"data": "x"}, True), "the Space's output is not a list", id="malformed-data"
        ),
        pytest.param(
            _completed({"data": [None, 1]}, True), "the Space returned no image", id="malformed-no-image"
        ),
        pytest.param(
            _completed({"data": [{"path": None, "url": None}, 1]}, True),
            "the Space's output names no image file",
            id="malformed-no-file",
        ),
    ],
)
def test_queue_result_refuses_a_malformed_success(message, reason):
    with pytest.raises(SpaceProtocolError) as caught:
        queue_result(GRADIO6, message, EVENT_ID, REQUEST)
    assert type(caught.value) is SpaceProtocolError
    assert str(caught.value) == reason


# -- queue_progress -----------------------------------------------------------------
def _log(text: str, level: str, duration: float, title: str | None = None, *, id: str) -> Any:
    """A case of a Gradio ``log`` message (a toast; ``title``: None where the
    Gradio version sends none) and the event it reads as."""
    message = {
        "msg": "log",
        "event_id": EVENT_ID,
        "log": text,
        "level": level,
        "duration": duration,
        "visible": True,
    }
    if title is not None:
        message["title"] = title
    event = ProgressEvent("log", level=level, title=title, message=text, event_id=EVENT_ID)
    return pytest.param(message, event, id=id)


def _progress(*units: dict) -> dict:
    return {"msg": "progress", "event_id": EVENT_ID, "progress_data": list(units)}


def _unit(index, length, unit="steps") -> dict:
    return {"index": index, "length": length, "unit": unit, "progress": None, "desc": None}


@pytest.mark.parametrize(
    ("message", "event"),
    [
        # Captured (6.31): the estimation of a job with one ahead of it.
        pytest.param(
            {
                "msg": "estimation",
                "event_id": EVENT_ID,
                "rank": 1,
                "queue_size": 2,
                "rank_eta": 1.7018663883209229,
            },
            ProgressEvent("queued", rank=1, queue_size=2, eta=1.7018663883209229, event_id=EVENT_ID),
            id="6.x-estimation",
        ),
        # Captured: no estimate yet (the function has never run).
        pytest.param(
            {"msg": "estimation", "event_id": EVENT_ID, "rank": 0, "queue_size": 1, "rank_eta": None},
            ProgressEvent("queued", rank=0, queue_size=1, eta=None, event_id=EVENT_ID),
            id="6.x-estimation-no-eta",
        ),
        # Gradio 4.44's EstimationMessage: rank is Optional.
        pytest.param(
            {"msg": "estimation", "event_id": EVENT_ID, "rank": None, "queue_size": 3, "rank_eta": None},
            ProgressEvent("queued", rank=None, queue_size=3, eta=None, event_id=EVENT_ID),
            id="4.44-estimation-no-rank",
        ),
        pytest.param(
            {"msg": "estimation", "event_id": EVENT_ID, "rank": True, "queue_size": "2", "rank_eta": "1"},
            ProgressEvent("queued", event_id=EVENT_ID),
            id="malformed-estimation-types",
        ),
        # Captured: process_starts with and without an eta.
        pytest.param(
            {"msg": "process_starts", "event_id": EVENT_ID, "eta": 0.6123877763748169},
            ProgressEvent("started", eta=0.6123877763748169, event_id=EVENT_ID),
            id="6.x-process_starts",
        ),
        pytest.param(
            {"msg": "process_starts", "event_id": EVENT_ID, "eta": None},
            ProgressEvent("started", event_id=EVENT_ID),
            id="6.x-process_starts-no-eta",
        ),
        pytest.param(
            {"msg": "process_starts", "event_id": EVENT_ID, "eta": 2},
            ProgressEvent("started", eta=2.0, event_id=EVENT_ID),
            id="4.44-process_starts-int-eta",
        ),
        # Captured: tqdm's progress, index 0-based before each step; shown 1-based.
        pytest.param(
            _progress(_unit(0, 3)),
            ProgressEvent("step", index=1, length=3, event_id=EVENT_ID),
            id="6.x-progress-first",
        ),
        pytest.param(
            _progress(_unit(2, 3)),
            ProgressEvent("step", index=3, length=3, event_id=EVENT_ID),
            id="6.x-progress-last",
        ),
        # tqdm's final update reports index == length: never "step 4 of 3".
        pytest.param(
            _progress(_unit(3, 3)),
            ProgressEvent("step", index=3, length=3, event_id=EVENT_ID),
            id="6.x-progress-done",
        ),
        # Nested loops send one unit each: the first with a length is the one shown.
        pytest.param(
            _progress(_unit(None, None), _unit(1, 4)),
            ProgressEvent("step", index=2, length=4, event_id=EVENT_ID),
            id="5.x-progress-nested",
        ),
        # Captured (6.31): a gr.Info toast as ZeroGPU sends it while waiting for a GPU.
        _log("Waiting for a GPU to become available", "info", 10.0, "ZeroGPU queue", id="6.x-log-info"),
        _log(
            "GPU task is exceeding its requested duration and might be aborted",
            "warning",
            10.0,
            "ZeroGPU duration",
            id="6.x-log-warning",
        ),
        # Gradio 5.38 LogMessage: title required, level "success" added.
        _log("Successfully acquired a GPU", "success", 10, "ZeroGPU queue", id="5.38-log-success"),
        # Gradio 4.44 and 5.0 LogMessage: no title field.
        _log("Waiting for a GPU to become available", "info", 10, id="4.44-log-untitled"),
    ],
)
def test_queue_progress(message, event):
    assert queue_progress(message, EVENT_ID) == event


def test_queue_progress_reports_the_event_id_it_is_given():
    # The caller's job id, not the message's (close_stream and heartbeats carry null).
    message = {"msg": "process_starts", "event_id": None, "eta": None}
    assert queue_progress(message, "job-7") == ProgressEvent("started", event_id="job-7")


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"msg": "heartbeat", "event_id": None}, id="6.x-heartbeat"),
        pytest.param({"msg": "close_stream", "event_id": None}, id="6.x-close_stream"),
        # Captured: a generator's intermediate output (6.x sends diffs after the first).
        pytest.param(
            {
                "msg": "process_generating",
                "event_id": EVENT_ID,
                "output": {"data": [FILE_6, 1], "is_generating": True},
                "success": True,
                "time_limit": None,
            },
            id="6.x-process_generating",
        ),
        pytest.param(
            {"msg": "process_streaming", "event_id": EVENT_ID, "output": {}, "success": True},
            id="5.x-process_streaming",
        ),
        # Captured: a session the server does not know (handled by the client, not here).
        pytest.param(
            {
                "msg": "unexpected_error",
                "event_id": None,
                "message": "404: Not Found",
                "session_not_found": True,
                "success": False,
            },
            id="6.x-unexpected_error",
        ),
        pytest.param({"msg": "send_hash", "event_id": None}, id="3.x-send_hash"),
        # progress without a countable unit: gr.Progress(0.5) or tqdm without a total.
        pytest.param(_progress(_unit(None, None)), id="6.x-progress-no-length"),
        pytest.param(_progress(_unit(0, 0)), id="6.x-progress-zero-length"),
        pytest.param(_progress(), id="6.x-progress-empty"),
        pytest.param(
            {"msg": "progress", "event_id": EVENT_ID, "progress_data": None}, id="6.x-progress-null"
        ),
        pytest.param(_progress("step 1"), id="malformed-progress-unit"),  # type: ignore[arg-type]
        pytest.param({"event_id": EVENT_ID}, id="malformed-no-msg"),
    ],
)
def test_queue_progress_ignores_the_rest(message):
    assert queue_progress(message, EVENT_ID) is None


def test_json_nested_past_the_parsers_depth_is_a_protocol_error():
    # Well within the event size limit, but deeper than Python's json parser
    # goes: a RecursionError must not escape the client's error tree.
    with pytest.raises(SpaceProtocolError, match="malformed JSON"):
        parse_json("[" * 100_000)
