"""The ids a response carries: random letters and digits, or hex digits, as the real API's look."""

from __future__ import annotations

import os
import random
import string

_ALPHANUMERIC = string.ascii_letters + string.digits
# Ids need to be distinct, not secret: seeded from the OS (again in a forked child), then many
# times cheaper than `secrets` per id (3 us against 26 us a chatcmpl id), and no system call
# for each request id, as os.urandom makes (0.25 us against 0.5 us).
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)
# A random byte to a letter or digit (byte % 62: the first eight a little likelier, 5/256 against
# 4/256, which distinct ids do not mind): 0.6 us an id against 3.3 us for `choices`.
_ID_CHARACTERS = bytes(ord(_ALPHANUMERIC[b % len(_ALPHANUMERIC)]) for b in range(256))


def random_id(prefix: str, length: int) -> str:
    """`prefix` + `length` random letters and digits, as the real API's ids look."""
    return prefix + _ids.randbytes(length).translate(_ID_CHARACTERS).decode("ascii")


def request_id() -> str:
    """`req_` + 32 hex digits, as the real API's x-request-id."""
    return "req_" + _ids.randbytes(16).hex()
