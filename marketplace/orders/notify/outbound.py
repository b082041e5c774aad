"""Requests the marketplace makes to addresses its users chose (webhook endpoints).

Such a request must not reach inside the platform's network: in production every address
a host name resolves to must be global (not private, loopback, link-local, shared
100.64.0.0/10, reserved, multicast, unspecified, nor an IPv4-mapped, 6to4 or Teredo form
of one of these), and the connection goes to the address that was checked: the name is
resolved once, so a second answer from the name's DNS server (rebinding) cannot send the
request elsewhere. Redirects are never followed. In development, private addresses are
allowed (receivers on this machine), but what went wrong with one is not told to the
user: the delivery log must not map the inside of a network.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# Not global, though Python 3.11's table says otherwise (IANA special-purpose registry).
NOT_GLOBAL = (ipaddress.ip_network("192.0.0.0/24"),)


class AddressRefused(OSError):
    """The host name resolves to an address that may not be reached."""


def is_global(address: IPAddress) -> bool:
    """A public unicast address on the internet, also when hidden inside IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None and not is_global(embedded):
            return False
    if any(address in network for network in NOT_GLOBAL):
        return False
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_unspecified
    )


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an address literal: itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:  # unknown, or no valid name at all ("a..b")
        raise AddressRefused(f"cannot resolve {host!r}") from error
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True)
class Target:
    """Where a URL's request goes: its parts, and the checked address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: IPAddress

    @property
    def is_global(self) -> bool:
        return is_global(self.address)


def target_of(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host once and choose the address to connect to; AddressRefused
    when any address is not global and private ones are not allowed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    if not allow_private and not all(is_global(a) for a in addresses):
        raise AddressRefused(f"{host} is not a public address")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.target = target

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self.target.address), self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self.tls)
        self.target = target

    def connect(self) -> None:
        sock = socket.create_connection((str(self.target.address), self.port), self.timeout)
        # The certificate is checked against the host name, not the address.
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.target.host)


def post(target: Target, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    """POST to the checked address; the status of the answer (a redirect is an answer)."""
    connection_type = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_type(target, timeout_s)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # a little of the body, so the connection ends cleanly
        return response.status
    finally:
        connection.close()
