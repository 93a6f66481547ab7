"""Fetching a generated image from the Space's file cache.

Requests go through :class:`~._http.HttpClient`, so the token is sent only
to the Space's own origin (a file URL or redirect elsewhere gets none) and
only ``http(s)`` URLs are followed. The body is bounded, and the bytes must
be an image whose headers can be read.
"""

from __future__ import annotations

from ._errors import SpaceProtocolError, error_from_status
from ._http import HttpClient, read_excerpt
from ._metadata import MetadataError, dimensions, sniff

__all__ = ["MAX_IMAGE_BYTES", "download_image"]

#: A 2048x2048 WebP from the Space is a few MB; anything past this is not an image of it.
MAX_IMAGE_BYTES = 64 << 20


async def download_image(http: HttpClient, url: str, *, limit: int = MAX_IMAGE_BYTES) -> tuple[bytes, str]:
    """GET ``url``; return ``(bytes, format)`` with format ``"webp"``, ``"png"`` or ``"jpeg"``.

    Raises :class:`~._errors.SpaceStatusError` (and its kin) for an error status
    and :class:`~._errors.SpaceProtocolError` for a body too large or not an image.
    """
    response = await http.open("GET", url, accept="image/webp,image/png,image/jpeg,*/*;q=0.5")
    async with response:
        if response.status >= 400:
            # The head only: read(limit) would refuse a long error page whole
            # and lose the <title> that says what went wrong.
            body = await read_excerpt(response)
            raise error_from_status(
                response.status, body, response.headers.get("retry-after"), "downloading the image"
            )
        data = await response.read(limit)
    kind = sniff(data)
    if kind is None:
        raise SpaceProtocolError(
            f"downloading the image: the Space sent {len(data)} bytes that are not a WebP, PNG or JPEG image"
        )
    try:
        dimensions(data)  # a truncated file fails here
    except MetadataError as error:
        raise SpaceProtocolError(f"downloading the image: {error}") from error
    return data, kind
