"""``run_jobs``' mailbox: what the jobs post reaches the one reader, in order,
and a reader cancelled while it waits loses nothing posted later."""

from __future__ import annotations

import asyncio

import pytest

from g4f_flux_plugin._batch import _Mailbox


async def test_items_come_out_in_the_order_they_were_posted():
    mailbox = _Mailbox()
    for index in range(5):
        mailbox.put((index, f"item {index}"))
    assert [await mailbox.get() for _ in range(5)] == [(index, f"item {index}") for index in range(5)]


async def test_a_waiting_reader_wakes_when_an_item_is_posted():
    mailbox = _Mailbox()
    reader = asyncio.ensure_future(mailbox.get())
    await asyncio.sleep(0)
    assert not reader.done()
    mailbox.put((3, "image"))
    assert await asyncio.wait_for(reader, 5) == (3, "image")


async def test_a_cancelled_reader_loses_nothing_posted_after():
    mailbox = _Mailbox()
    reader = asyncio.ensure_future(mailbox.get())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    mailbox.put((0, "progress"))
    mailbox.put((0, "image"))
    assert await asyncio.wait_for(mailbox.get(), 5) == (0, "progress")
    assert await asyncio.wait_for(mailbox.get(), 5) == (0, "image")
