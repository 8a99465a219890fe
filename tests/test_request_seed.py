"""The seed of a request's reply stays what it was: replies recorded against --seed replay the same."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.generate import request_seed

_HI = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(
    ("request_body", "server_seed", "counter", "seed"),
    [
        ({"model": "gpt-4o-mini", "messages": _HI}, 1, 0, 1310556464553904966),
        ({"model": "gpt-4o-mini", "messages": _HI}, 1, 1, 15346321977259648016),
        ({"model": "gpt-4o", "messages": _HI, "seed": 7}, 99, 5, 10064683706488063919),
        (
            {
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "Grüße, 世界"}],
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"b": 1, "a": 2}}}],
                "tool_choice": "auto",
                "temperature": 0.5,
                "stream": True,
            },
            3,
            2,
            12095941398919927510,
        ),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "big"}], "seed": 2**70}, 1, 0, 4197887517286113544),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "n", "x": 2**65}]}, 1, 0, 13632993946891229920),
    ],
    ids=["unseeded", "next-arrival", "seeded", "tools-unicode-and-delivery-fields", "seed-past-64-bits", "value-past-64-bits"],
)
def test_request_seeds_are_pinned(request_body: dict[str, Any], server_seed: int, counter: int, seed: int) -> None:
    assert request_seed(request_body, server_seed, counter) == seed
