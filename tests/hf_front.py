"""Hugging Face's front (``*.hf.space``) as far as ZeroGPU sees it: the token becomes an ``X-IP-Token``.

HF's proxy is closed code. What is **documented**:

- it authenticates a request by ``X-HF-Authorization: Bearer hf_...`` and
  strips that header before the request reaches the Space (gradio_client sends
  the token there; ``tests/test_hf_front.py``);
- it adds ``X-IP-Token``, a JWT the Space's ``spaces`` package reads unverified
  to learn whose ZeroGPU quota to spend: the account's when the request carries
  a token HF accepts ("When you authenticate with your token, your account's GPU
  quota is consumed"), else the caller's IP. A payload with ``error`` makes the
  package warn "Falling back to IP-based quotas (<error>)"; older versions of
  the package read a ``user``.

What is **assumed** (the emulation):

- the JWT's payload is ``{"ip", "user"}`` for an accepted token, ``{"ip"}`` for a
  caller without one, ``{"ip", "error"}`` for a token the front rejects, with
  the words of :data:`REJECTED_REASON`; its header and signature are fakes
  (nobody here verifies them);
- the scheduler (``tests/zerogpu_scheduler.py``) maps the ``user`` to its plan;
  the test accounts are :data:`ACCOUNTS`.

The front is a :class:`_helpers.RecordingProxy`: it records every request it
passes on, which is how tests count what a client spent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from _helpers import RecordingProxy
from aiohttp import web
from zerogpu_scheduler import Plan

#: Test tokens the front accepts, and the account each stands for.
FREE_TOKEN = "hf_ZeroGpuFreeUserToken0123456789abc"
PRO_TOKEN = "hf_ZeroGpuProUserToken0123456789abcd"
#: A token the front does not accept.
REJECTED_TOKEN = "hf_ZeroGpuRevokedToken0123456789abcd"
#: The reason the emulated front gives for a token it rejects (assumed wording).
REJECTED_REASON = "Invalid credentials in X-HF-Authorization header"


@dataclass(frozen=True)
class Account:
    """A Hugging Face account: its user name and ZeroGPU plan."""

    user: str
    plan: Plan


ACCOUNTS: Mapping[str, Account] = {
    FREE_TOKEN: Account("zerogpu-free-user", "regular"),
    PRO_TOKEN: Account("zerogpu-pro-user", "pro"),
}


def plans(accounts: Mapping[str, Account] = ACCOUNTS) -> dict[str, Plan]:
    """The scheduler's view of the accounts: user name to plan."""
    return {account.user: account.plan for account in accounts.values()}


def make_jwt(payload: Mapping[str, object]) -> str:
    """A JWT-shaped token (unsigned: the package reads the payload unverified)."""

    def part(value: Mapping[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}.c2lnbmF0dXJl"


@dataclass
class HFFront:
    """HF's front before ``upstream``: consumes ``X-HF-Authorization``, adds ``X-IP-Token``.

    ``with_ip_token=False`` plays a request that reaches the Space without one
    (the package then says "Space app has reached its GPU limit").
    """

    upstream: str
    accounts: Mapping[str, Account] = field(default_factory=lambda: dict(ACCOUNTS))
    with_ip_token: bool = True
    proxy: RecordingProxy | None = None

    @property
    def url(self) -> str:
        assert self.proxy is not None, "start() the front first"
        return self.proxy.url

    def submits(self) -> int:
        """How many jobs were submitted through the front (either protocol)."""
        assert self.proxy is not None
        return sum(
            1
            for r in self.proxy.requests
            if r.method == "POST" and r.path.split("?")[0].endswith(("/queue/join", "/call/infer"))
        )

    def count(self) -> int:
        """Every request the front passed on or answered."""
        assert self.proxy is not None
        return len(self.proxy.requests)

    def payload_for(self, request: web.Request) -> dict[str, object]:
        """The JWT payload the front gives this request (see the module docstring)."""
        payload: dict[str, object] = {"ip": request.remote or "127.0.0.1"}
        header = request.headers.get("X-HF-Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if not token:
            return payload
        account = self.accounts.get(token)
        if account is None:
            payload["error"] = REJECTED_REASON
        else:
            payload["user"] = account.user
        return payload

    def _headers(self, request: web.Request) -> dict[str, str]:
        if not self.with_ip_token:
            return {}
        return {"X-IP-Token": make_jwt(self.payload_for(request))}

    async def start(self) -> HFFront:
        self.proxy = RecordingProxy(
            self.upstream, consume=("x-hf-authorization",), forwarded=True, add_headers=self._headers
        )
        await self.proxy.start()
        return self

    async def close(self) -> None:
        if self.proxy is not None:
            await self.proxy.close()
