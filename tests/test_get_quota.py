"""``get_quota``, g4f's quota hook, answered through g4f's own routes in a fresh process.

g4f 8.8 (8.8.0, the lowest declared, and 8.8.6) calls ``await
provider.get_quota(api_key=...)`` from two routes: the API's ``GET
/api/{provider}/quota`` (the key from ``Authorization: Bearer``) and the
GUI backend's ``GET /backend-api/v2/quota/<provider>`` (the key from
``x-api-key``), mounted into the API app when ``a2wsgi`` is installed.
The process starts with the plugin registered by its start-up hook; a
generation against a scripted Space (``MockTransport``) meets a
ZeroGPU quota, and the routes then report it, for that token only, without
a request to the Space.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from g4f_subprocess import PROVIDER, G4FProcess, require_installed_plugin
from test_client_mock import ROOT, TOKEN
from test_zerogpu_client import FREE_QUOTA

pytestmark = pytest.mark.timeout(180)

TESTS = Path(__file__).parent

CODE = """
import asyncio, json, sys
from fastapi.testclient import TestClient
import g4f.api
from g4f_flux_plugin import MockTransport, QuotaExceededError
from g4f.Provider import ProviderUtils
from test_client_mock import TOKEN
from test_zerogpu_client import FREE_QUOTA, QUOTA_TITLE, failed, joins, space

provider = ProviderUtils.convert[{provider!r}]
gui = {gui!r}
app = g4f.api.create_app_with_gui_and_debug() if gui else g4f.api.create_app()
client = TestClient(app)

def ask(token=None):
    if gui:
        path, headers = "/backend-api/v2/quota/{provider}", {{"x-api-key": token}} if token else {{}}
    else:
        path, headers = "/api/{provider}/quota", {{"authorization": f"Bearer {{token}}"}} if token else {{}}
    response = client.get(path, headers=headers)
    return [response.status_code, response.json()]

async def provoke(transport):
    try:
        async for _ in provider.create_async_generator(
            "flux", [], prompt="a fox", api_key=TOKEN, transport=transport, protocol="queue"
        ):
            pass
    except QuotaExceededError as error:
        return type(error).__module__
    return None

answers = {{"before": ask(TOKEN)}}
transport = MockTransport(space(failed(QUOTA_TITLE, FREE_QUOTA)))
answers["raised"] = asyncio.run(provoke(transport))
asked = len(transport.requests)
answers["token"] = ask(TOKEN)
answers["anonymous"] = ask()
answers["other_token"] = ask("hf_AnotherToken0123456789")
answers["requests_during_quota_queries"] = len(transport.requests) - asked
answers["joins"] = joins(transport)
print(json.dumps(answers))
"""


@pytest.mark.parametrize("gui", [False, True], ids=["api-route", "gui-route"])
def test_get_quota_answers_through_g4fs_route(tmp_path, gui):
    require_installed_plugin()
    if gui:
        pytest.importorskip("a2wsgi", reason="a2wsgi (g4f api's GUI mount) is not installed")
    proc = G4FProcess(tmp_path)
    answers = proc.json(
        CODE.format(provider=PROVIDER, gui=gui),
        env={"G4F_FLUX_SCHNELL_URL": ROOT, "HF_TOKEN": ""},
        pythonpath=[TESTS],
    )
    assert answers["before"] == [
        200,
        {"space": ROOT, "available": True, "retry_after": None, "tier": None, "message": None},
    ]
    assert answers["raised"] == "g4f_flux_plugin._g4f_errors"  # g4f's twin of the quota
    assert answers["joins"] == 1
    status, quota = answers["token"]
    assert status == 200
    assert quota["space"] == ROOT
    assert quota["available"] is False
    assert 0 < quota["retry_after"] <= 312.0
    assert quota["tier"] == "free"
    assert quota["message"] == FREE_QUOTA.strip()
    # Another caller's quota is not this one.
    assert answers["anonymous"] == [
        200,
        {"space": ROOT, "available": True, "retry_after": None, "tier": "anonymous", "message": None},
    ]
    assert answers["other_token"][1]["available"] is True
    assert answers["requests_during_quota_queries"] == 0
    assert TOKEN not in str(answers)
