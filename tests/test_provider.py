"""The provider's contract (issue 2), against local replicas of the Space.

Every test runs the real provider over real HTTP against tests/replica.py
(Gradio 6 with ``/gradio_api``, Gradio 4 without a prefix) and checks the
server's side through the replica's record of ``infer`` calls.
"""

from __future__ import annotations

import g4f.errors
import pytest
from _helpers import (
    EXCEPTION_MESSAGE,
    PROTOCOLS,
    QUOTA_MESSAGE,
    QUOTA_RETRY_AFTER,
    QUOTA_TITLE,
    TRANSPORTS,
    ForwardProxy,
    Provider,
    RecordingProxy,
    assert_image,
    download,
    events,
    generate,
    server_jobs,
    the_image,
    the_server_job,
    unique,
)
from g4f.providers.base_provider import AsyncGeneratorProvider, ProviderModelMixin
from g4f.providers.response import ImageResponse

from g4f_flux_plugin._client import URL_ENV
from g4f_flux_plugin._config import ConfigCache
from g4f_flux_plugin._errors import QuotaExceededError, SpaceError
from g4f_flux_plugin._g4f_errors import G4F_TWINS
from g4f_flux_plugin.providers import FluxImageResponse, FluxProgress

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("clean_env")]


@pytest.fixture
async def recorder(replica):
    """A recording proxy in front of the Gradio 6 replica."""
    proxy = await RecordingProxy(replica.url).start()
    yield proxy
    await proxy.close()


@pytest.fixture
def fresh_config_cache(monkeypatch):
    """An empty process-wide /config cache, so every request of the test is made."""
    monkeypatch.setattr(Provider, "config_cache", ConfigCache())


# -- the program from the issue -------------------------------------------------------
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_newcomers_program(any_replica, transport, protocol, capsys):
    prompt = unique("a tiny astronaut hatching from an egg on the moon")
    model = "flux-schnell"
    messages = [{"role": "user", "content": prompt}]

    found = []
    async for response in Provider.create_async_generator(
        model,
        messages,
        width=512,
        height=512,
        num_inference_steps=2,
        api_base=any_replica.url,
        transport=transport,
        protocol=protocol,
    ):
        if response and response.images:
            print(response.images[0])
            found.append(response)

    assert len(found) == 1
    image = found[0]
    assert capsys.readouterr().out == f"{image.images[0]}\n"
    assert isinstance(image, ImageResponse)
    assert isinstance(image.images, list) and len(image.images) == 1
    assert image.get_list() == image.images and image.urls == image.images
    assert image.alt == prompt
    job = await the_server_job(any_replica, prompt)
    assert job["state"] == "completed"
    assert (job["width"], job["height"], job["steps"]) == (512, 512, 2)
    assert image.options["seed"] == job["seed"]
    assert (image.get("width"), image.get("height"), image.get("num_inference_steps")) == (512, 512, 2)
    assert image.get("model") == Provider.default_model

    content_type, data = await download(image.images[0])
    assert content_type == "image/webp"
    assert_image(data, 512, 512, job["seed"])


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_space_comes_from_the_environment(replica, transport, monkeypatch):
    monkeypatch.setenv(URL_ENV, replica.url)
    prompt = unique()
    image = the_image(await generate(prompt=prompt, transport=transport, seed=99))
    assert (await the_server_job(replica, prompt))["seed"] == 99
    assert image.get("seed") == 99


async def test_api_base_wins_over_the_environment(replica, closed_url, monkeypatch):
    monkeypatch.setenv(URL_ENV, closed_url)
    prompt = unique()
    the_image(await generate(replica, prompt=prompt))
    assert len(await server_jobs(replica, prompt)) == 1


def test_the_public_space_by_default(monkeypatch):
    assert Provider.space_root() == "https://black-forest-labs-flux-1-schnell.hf.space"
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9/ ")
    assert Provider.space_root() == "http://127.0.0.1:9"
    assert Provider.space_root("http://127.0.0.1:7/") == "http://127.0.0.1:7"


# -- seeds ----------------------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_given_seed_is_used_as_given_and_returned(replica, transport):
    prompt = unique()
    image = the_image(await generate(replica, prompt=prompt, seed=0x0A0B0C, transport=transport))
    job = await the_server_job(replica, prompt)
    assert job["seed"] == 0x0A0B0C
    assert image.get("seed") == 0x0A0B0C and image.get("randomize_seed") is False
    assert_image((await download(image.images[0]))[1], 256, 256, 0x0A0B0C)


async def test_no_seed_lets_the_space_pick_one_and_returns_it(replica):
    prompt = unique()
    image = the_image(await generate(replica, prompt=prompt, seed=None))
    job = await the_server_job(replica, prompt)
    # randomize_seed went out true: the Space drew a seed (0 is what the provider sent).
    assert job["seed"] != 0
    assert image.get("seed") == job["seed"] and image.get("randomize_seed") is True
    assert_image((await download(image.images[0]))[1], 256, 256, job["seed"])


async def test_randomize_seed_overrides_a_given_seed(replica):
    prompt = unique()
    image = the_image(await generate(replica, prompt=prompt, seed=7, randomize_seed=True))
    job = await the_server_job(replica, prompt)
    assert job["seed"] != 7
    assert image.get("seed") == job["seed"]


# -- sizes and steps ------------------------------------------------------------------
async def test_the_spaces_defaults_arrive(replica):
    prompt = unique()
    image = the_image(
        await generate(replica, prompt=prompt, width=None, height=None, num_inference_steps=None)
    )
    job = await the_server_job(replica, prompt)
    assert (job["width"], job["height"], job["steps"]) == (1024, 1024, 4)
    assert (image.get("width"), image.get("height"), image.get("num_inference_steps")) == (1024, 1024, 4)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ({"width": 100, "height": 4100, "num_inference_steps": 0}, (256, 2048, 1)),
        ({"width": 519, "height": 300.9, "num_inference_steps": 99}, (512, 296, 50)),
        ({"width": "264", "height": " 1e3 ", "num_inference_steps": "3"}, (264, 1000, 3)),
        ({"width": None, "height": None, "size": "512x264"}, (512, 264, 1)),
    ],
)
async def test_sizes_and_steps_are_clamped_before_sending(replica, given, sent):
    prompt = unique()
    image = the_image(await generate(replica, prompt=prompt, seed=5, **given))
    job = await the_server_job(replica, prompt)
    assert (job["width"], job["height"], job["steps"]) == sent
    assert (image.get("width"), image.get("height"), image.get("num_inference_steps")) == sent
    assert_image((await download(image.images[0]))[1], sent[0], sent[1], 5)


# -- input checked before any request -------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        {"prompt": ""},
        {"prompt": "   "},
        {"prompt": None, "messages": []},
        {"prompt": None, "messages": [{"role": "assistant", "content": "only me"}]},
        {"width": "abc"},
        {"height": [512]},
        {"num_inference_steps": "many"},
        {"seed": -1},
        {"seed": 2**31},
        {"seed": 1.5},
        {"timeout": 0},
        {"timeout": -1},
        {"protocol": "websocket"},
        {"transport": "httpx"},
    ],
    ids=lambda bad: ",".join(f"{k}={v!r}" for k, v in bad.items()),
)
async def test_bad_input_raises_value_error_before_any_request(recorder, bad):
    kwargs = {"prompt": unique(), **bad}
    # Each message names what is wrong: the first keyword of the case.
    with pytest.raises(ValueError, match=next(iter(bad))):
        await generate(api_base=recorder.url, **kwargs)
    assert recorder.requests == []


async def test_an_unknown_model_is_refused_before_any_request(recorder):
    with pytest.raises(g4f.errors.ModelNotFoundError, match="dall-e-3"):
        await generate(api_base=recorder.url, prompt=unique(), model="dall-e-3")
    assert recorder.requests == []


@pytest.mark.parametrize("api_base", ["ftp://127.0.0.1/", "file:///etc/passwd", "127.0.0.1:7860", "http://"])
async def test_a_non_http_api_base_is_refused(api_base):
    with pytest.raises(ValueError, match="api_base"):
        await generate(api_base=api_base, prompt=unique())


async def test_a_closed_port_is_a_connection_error_not_a_value_error(closed_url):
    # The counterpart of the tests above: a request really made fails differently.
    with pytest.raises(g4f.errors.ResponseError) as caught:
        await generate(api_base=closed_url, prompt=unique(), timeout=5)
    assert not isinstance(caught.value, ValueError)


# -- prompt and model -------------------------------------------------------------------
async def test_the_prompt_is_the_last_user_message(replica):
    prompt = unique()
    messages = [
        {"role": "system", "content": "you draw"},
        {"role": "user", "content": "an old request"},
        {"role": "assistant", "content": "here it is"},
        {"role": "user", "content": prompt},
    ]
    image = the_image(await generate(replica, messages=messages))
    assert image.alt == prompt
    assert len(await server_jobs(replica, prompt)) == 1


async def test_an_explicit_prompt_wins_over_the_messages(replica):
    prompt = unique()
    image = the_image(
        await generate(replica, messages=[{"role": "user", "content": "not this"}], prompt=prompt)
    )
    assert image.alt == prompt
    assert len(await server_jobs(replica, prompt)) == 1


@pytest.mark.parametrize(
    "model", [None, "", "auto", "flux", "flux-schnell", "black-forest-labs-flux-1-schnell"]
)
async def test_every_name_of_the_model_works(replica, model):
    prompt = unique()
    image = the_image(await generate(replica, prompt=prompt, model=model))
    assert image.get("model") == Provider.default_model
    assert len(await server_jobs(replica, prompt)) == 1


def test_class_attributes():
    assert issubclass(Provider, AsyncGeneratorProvider) and issubclass(Provider, ProviderModelMixin)
    assert Provider.label == "Black Forest Labs FLUX.1-schnell"
    assert Provider.url == "https://black-forest-labs-flux-1-schnell.hf.space"
    assert Provider.working is True and Provider.needs_auth is False
    assert Provider.default_model == Provider.default_image_model == "black-forest-labs-flux-1-schnell"
    assert Provider.model_aliases == {"flux-schnell": Provider.default_model, "flux": Provider.default_model}
    assert Provider.image_models == [Provider.default_model, "flux-schnell", "flux"]
    assert Provider.models == Provider.image_models
    assert Provider.get_models() == Provider.models
    for alias in Provider.model_aliases:
        assert Provider.get_model(alias) == Provider.default_model
    # g4f's GUI hides providers whose hf_space is true.
    assert not getattr(Provider, "hf_space", False)
    assert issubclass(FluxImageResponse, ImageResponse)
    assert FluxProgress.__mro__[1].__name__ == "Reasoning"


# -- the Space's errors -----------------------------------------------------------------
async def _failed(replica, marker: str, transport: str, protocol: str) -> tuple[str, BaseException]:
    """The prompt of a job with ``marker`` and the g4f error its generation raised."""
    prompt = unique(marker)
    with pytest.raises(g4f.errors.ResponseError) as caught:
        await generate(replica, prompt=prompt, transport=transport, protocol=protocol)
    return prompt, caught.value


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_quota_is_a_rate_limit_error_with_the_spaces_words(any_replica, transport, protocol):
    prompt, error = await _failed(any_replica, "[[quota]]", transport, protocol)
    if any_replica.generation == "4" and protocol == "call":
        # Gradio <= 6.12 sends `data: null` for every error on /call/: the words are lost.
        assert type(error) is G4F_TWINS[SpaceError] and "hides its details" in str(error)
    else:
        assert isinstance(error, QuotaExceededError) and isinstance(error, g4f.errors.RateLimitError)
        assert error.retry_after == QUOTA_RETRY_AFTER
        assert QUOTA_MESSAGE in str(error)
        if any_replica.generation == "6":
            assert QUOTA_TITLE in str(error)
    assert "null" not in str(error)
    # A quota error is raised at once, never retried.
    job = await the_server_job(any_replica, prompt)
    assert job["state"] == "failed"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_hidden_exception_is_said_in_plain_words(any_replica, transport, protocol):
    prompt, error = await _failed(any_replica, "[[exception]]", transport, protocol)
    assert isinstance(error, SpaceError) and not isinstance(error, g4f.errors.RateLimitError)
    assert "hides its details" in str(error) and "show_error" in str(error)
    assert "null" not in str(error).lower() and EXCEPTION_MESSAGE not in str(error)
    assert (await the_server_job(any_replica, prompt))["state"] == "failed"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_shown_exception_keeps_its_text(start_replica, protocol):
    shown = start_replica("6", show_error=True)
    prompt = unique("[[exception]]")
    with pytest.raises(SpaceError) as caught:
        await generate(shown, prompt=prompt, protocol=protocol)
    assert EXCEPTION_MESSAGE in str(caught.value)


# -- proxies ------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_requests_go_through_the_proxy(replica, transport, protocol, fresh_config_cache):
    proxy = await ForwardProxy().start()
    try:
        prompt = unique()
        image = the_image(
            await generate(replica, prompt=prompt, transport=transport, protocol=protocol, proxy=proxy.url)
        )
    finally:
        await proxy.close()
    route = "/queue/join" if protocol == "queue" else "/call/infer"
    assert any(target.endswith("/config") for target in proxy.targets), proxy.targets
    assert any(route in target for target in proxy.targets), proxy.targets
    assert all(
        target.startswith(("GET http://127.0.0.1", "POST http://127.0.0.1")) for target in proxy.targets
    )
    assert image.get("seed") == (await the_server_job(replica, prompt))["seed"]


async def test_a_dead_proxy_is_a_connection_error(replica, closed_url):
    with pytest.raises(g4f.errors.ResponseError, match="connect"):
        await generate(replica, prompt=unique(), proxy=closed_url, timeout=5)


# -- what the items look like ---------------------------------------------------------
async def test_progress_items_have_no_images(replica):
    items = await generate(replica, prompt=unique(), protocol="queue")
    progress = [item for item in items if isinstance(item, FluxProgress)]
    assert progress and all(item.images == [] for item in progress)
    assert next(event.kind for event in events(items)) == "submitted"
    assert all(str(item) == item.event.describe() + "\n" for item in progress)
