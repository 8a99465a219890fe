"""What the `contains` index hands back decides how many fixtures a request tries."""

from __future__ import annotations

from emulator.substrings import SubstringIndex


def test_a_long_prompt_among_many_needles_is_looked_up_not_tried_against_every_needle() -> None:
    # Trying a needle means searching the whole text for it, so trying them all costs more the
    # longer the text: a prompt longer than there are needles must not bring every one back.
    index: SubstringIndex[int] = SubstringIndex(lambda i: (0, i))
    for i in range(2_000):
        index.add(i, f"Question {i}?")
    prompt = "Some context for the model. " * 120 + "Question 1234?"  # 3,374 characters
    found = index.candidates((prompt,))
    assert 1234 in found
    assert len(found) < 20
