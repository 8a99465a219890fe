"""Loaded into a child emulator by tests: any connection off the loopback fails loudly."""

import ipaddress
import socket
import sys

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


def connect(self: socket.socket, address: object) -> None:
    if not _loopback(address):
        raise _refuse(f"connect {address!r}")
    _connect(self, address)  # type: ignore[arg-type]


def connect_ex(self: socket.socket, address: object) -> int:
    if not _loopback(address):
        raise _refuse(f"connect {address!r}")
    return _connect_ex(self, address)  # type: ignore[arg-type]


def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
    if host not in (None, "localhost") and not _loopback((host,)):
        raise _refuse(f"lookup {host!r}")
    return _getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


socket.socket.connect = connect  # type: ignore[method-assign]
socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
