"""Loaded into a child emulator by tests: any connection off the loopback fails loudly."""

from __future__ import annotations

import _socket
import ipaddress
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _socket import _Address
    from socket import _GetAddrInfoResult

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _loopback(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # unix sockets stay on the machine
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse(what: str) -> OSError:
    print(f"BLOCKED non-loopback {what}", file=sys.stderr, flush=True)
    return OSError(f"network disabled by test: {what}")


def connect(self: _socket.socket, address: _Address) -> None:
    if not _loopback(address):
        raise _refuse(f"connect {address!r}")
    _connect(self, address)


def connect_ex(self: _socket.socket, address: _Address) -> int:
    if not _loopback(address):
        raise _refuse(f"connect {address!r}")
    return _connect_ex(self, address)


def getaddrinfo(
    host: bytes | str | None, port: bytes | str | int | None, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
) -> _GetAddrInfoResult:
    if host not in (None, "localhost") and not _loopback((host,)):
        raise _refuse(f"lookup {host!r}")
    return _getaddrinfo(host, port, family, type, proto, flags)


# Patched on the class and the module: every socket and every lookup in the process goes through them.
socket.socket.connect = connect  # type: ignore[method-assign]
socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = getaddrinfo
