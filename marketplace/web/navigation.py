"""Safe redirects after a form or a switch."""

from __future__ import annotations

from urllib.parse import urlsplit


def same_site_path(target: str | None, default: str = "/") -> str:
    """Only follow relative paths on this site, so no redirect can lead elsewhere."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target
