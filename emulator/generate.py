"""Generated replies: what the emulator says when no fixture scripts the answer.

Every choice draws from its own random stream, seeded from what shapes a reply (model,
messages, tools, tool_choice, response_format, seed) and the choice's index, never from
how the reply is delivered or cut. So choice 0 of `n: 3` is the reply of `n: 1`, and a
stop sequence or token limit cuts the very text the request gets without it.

Tool decision rule for `tool_choice: "auto"` (documented in the README):
    after a tool result the reply is text, so agent loops end on their own;
    otherwise the tool whose name and description share most words with the last user
    message is called (the first tool on a tie); with `parallel_tool_calls` left on, every
    other tool the user message names outright is called too.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib
import importlib.util
import json
import random
import re
import unicodedata
from array import array
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from . import cachefiles
from .matching import message_text
from .types import Draft, DraftToolCall, Request, Script

# Request fields that shape what a reply says (design.md); nothing else seeds the generator.
SHAPING_FIELDS = ("model", "messages", "tools", "tool_choice", "response_format", "seed", "parallel_tool_calls")

_SCRIPT_LOCALES = {
    "CJK": "zh_CN",
    "HIRAGANA": "ja_JP",
    "KATAKANA": "ja_JP",
    "CYRILLIC": "ru_RU",
    "ARABIC": "ar_AA",
    "GREEK": "el_GR",
    "HEBREW": "he_IL",
    "THAI": "th_TH",
}
# A few frequent words that tell Latin-script languages apart.
_STOPWORDS = {
    "fr_FR": {"le", "la", "les", "est", "et", "une", "des", "je", "vous", "pour", "quel", "quelle"},
    "de_DE": {"der", "die", "das", "und", "ist", "ich", "nicht", "ein", "eine", "wie", "was", "bitte"},
    "es_ES": {"el", "los", "las", "es", "y", "una", "por", "qué", "que", "cómo", "hola", "para"},
    "it_IT": {"il", "lo", "gli", "è", "e", "una", "per", "che", "come", "ciao", "sono", "della"},
    "pt_BR": {"o", "os", "as", "é", "e", "um", "uma", "para", "que", "como", "olá", "não"},
}
_FULL_STOP_LOCALES = {"zh_CN", "ja_JP"}


def request_seed(request: Request, server_seed: int, counter: int) -> int:
    """The seed of a request's reply: its shaping fields, with the server seed and (when the
    request has no `seed`) its arrival count, so unseeded replies vary but replay from --seed."""
    shaping = {name: request.get(name) for name in SHAPING_FIELDS}
    salt = [server_seed, counter] if request.get("seed") is None else [request["seed"]]
    try:
        material = orjson.dumps([shaping, salt], option=orjson.OPT_SORT_KEYS)  # ~10x json.dumps' speed
    except orjson.JSONEncodeError:  # integers past 64 bits, which only the stdlib writes
        material = json.dumps([shaping, salt], sort_keys=True, ensure_ascii=False, default=str).encode()
    return int.from_bytes(hashlib.blake2b(material, digest_size=8).digest(), "big")


def choice_seed(seed: int, index: int) -> int:
    """The seed of choice `index`'s draws."""
    return seed * 1_000_003 + index


def generate(request: Request, seed: int) -> Script:
    """A generated answer for every choice the request asks for."""
    n = request.get("n") or 1
    drafts = tuple(draft(request, choice_seed(seed, index)) for index in range(n))
    return Script(drafts, "generated")  # positional (types.py)


def draft(request: Request, seed: int) -> Draft:
    """What one choice says, drawn from the choice's seed."""
    calls = tool_calls(request, seed)
    if calls:
        return Draft(tool_calls=calls, generated=True)
    return Draft(content=content(request, seed), generated=True)


def content(request: Request, seed: int) -> str:
    """Text, or JSON when `response_format` asks for it."""
    response_format = request.get("response_format") or {}
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
        return json.dumps(_fake_json(schema, random.Random(seed), request_locale(request)), ensure_ascii=False)
    if kind == "json_object":
        return json.dumps({"answer": text(request, seed)}, ensure_ascii=False)
    return text(request, seed)


# Faker's paragraph: 1-4 sentences (+/-40%) of 6 words (+/-40%), so at most 5 sentences of 8
# words, each sentence one draw for its length and one a word, after two for the count.
_MOST_DRAWS = 2 + 5 * (1 + 8)
_SEED_SPAN = 1 << 128  # a seed is hashed as 16 bytes


def text(request: Request, seed: int) -> str:
    """A few readable sentences in the language of the last user message.

    The draws are 16-bit numbers cut from one SHAKE-128 digest of the seed: seeding a Mersenne
    Twister alone took 6 us, and its randint and choices as long again.
    """
    words, connector, full_stop = lorem(request_locale(request))
    draws = array("H", hashlib.shake_128((seed % _SEED_SPAN).to_bytes(16, "big")).digest(2 * _MOST_DRAWS))
    sentences = []
    at = 2
    for _ in range(max(1, (1 + draws[0] % 4) * _percent(draws[1]) // 100)):
        length = max(1, 6 * _percent(draws[at]) // 100)
        chosen = [words[draw % len(words)] for draw in draws[at + 1 : at + 1 + length]]
        at += 1 + length
        chosen[0] = chosen[0].title()
        sentences.append(connector.join(chosen) + full_stop)
    return connector.join(sentences)


def _percent(draw: int) -> int:
    """60 to 140, from one draw."""
    return 60 + draw % 81


@cache
def lorem(locale: str) -> tuple[tuple[str, ...], str, str]:
    """Faker's lorem words for `locale`, the string between words, and the full stop.

    Those of Faker's lorem module for the locale, or its default (Latin) where there is none, as
    Faker itself falls back; building a whole Faker for them took ~13 ms a locale.
    """
    words, connector, punctuation = _lorem_source(locale) or _lorem_module(locale)
    full_stop = "。" if locale in _FULL_STOP_LOCALES else punctuation
    return tuple(words), connector, full_stop


def _lorem_module(locale: str) -> tuple[Sequence[str], str, str]:
    """The word list, connector and punctuation of faker's lorem Provider for `locale`, imported."""
    from faker.providers import lorem as faker_lorem

    try:
        module = importlib.import_module(f"{faker_lorem.__name__}.{locale}")
    except ModuleNotFoundError:
        module = importlib.import_module(f"{faker_lorem.__name__}.{faker_lorem.default_locale}")
    provider = module.Provider
    return provider.word_list, provider.word_connector, provider.sentence_punctuation


def _lorem_source(locale: str) -> tuple[Sequence[str], str, str] | None:
    """What _lorem_module gives, read from faker's source without importing faker (~40 ms of a
    start that may need no lorem), where the locale's Provider derives from the base lorem
    Provider and states its words as a literal; None where it does not (a list built in code).

    Parsing the modules takes ~15 ms (en_US), so what they gave is kept in the cache directory
    with the size and time of each file read, and used while those stay the same.
    """
    spec = importlib.util.find_spec("faker")
    if spec is None or spec.origin is None:
        return None
    kept_name = f"lorem-{locale}.json"
    kept = _kept_lorem(kept_name)
    if kept is not None:
        return kept
    read = _read_lorem(Path(spec.origin).parent / "providers" / "lorem", locale)
    if read is None:
        return None
    lorem, files = read
    cachefiles.write(kept_name, orjson.dumps({"files": [_stamp(path) for path in files], "lorem": lorem}))
    return lorem


def _read_lorem(folder: Path, locale: str) -> tuple[tuple[Sequence[str], str, str], list[Path]] | None:
    """The lorem of `locale` parsed from faker's lorem package in `folder`, and the files that
    tell it (the locale's module, missing or not); None where the source does not say it."""
    base = _provider_literals(folder / "__init__.py")
    if base is None:
        return None
    module, base_class, _ = base
    own_file = folder / locale / "__init__.py"
    source = own_file if own_file.is_file() else folder / str(module.get("default_locale")) / "__init__.py"
    own = _provider_literals(source)
    if own is None:
        return None
    _, own_class, derives_from_base = own
    fields = {**base_class, **own_class}
    if not derives_from_base or not all(key in fields for key in ("word_list", "word_connector", "sentence_punctuation")):
        return None
    lorem = fields["word_list"], fields["word_connector"], fields["sentence_punctuation"]
    return lorem, [folder / "__init__.py", own_file, source]


def _stamp(path: Path) -> list[Any]:
    """What tells a file changed: its path, size and modification time (None when it is missing)."""
    try:
        stat = path.stat()
    except OSError:
        return [str(path), None, None]
    return [str(path), stat.st_size, stat.st_mtime_ns]


def _kept_lorem(name: str) -> tuple[Sequence[str], str, str] | None:
    """The lorem _lorem_source kept as `name`, if every file it was read from is unchanged."""
    try:
        kept = orjson.loads((cachefiles.directory() / name).read_bytes())
        if all(_stamp(Path(stamp[0])) == stamp for stamp in kept["files"]):
            words, connector, punctuation = kept["lorem"]
            return tuple(words), str(connector), str(punctuation)
    except (OSError, ValueError, KeyError, TypeError, IndexError):  # missing, unreadable, or not ours
        pass
    return None


def _provider_literals(path: Path) -> tuple[dict[str, Any], dict[str, Any], bool] | None:
    """A faker provider module's literal assignments, its Provider class's, and whether that
    class derives from the Provider of the package above (`from .. import Provider as X`);
    None when there is no such module or class."""
    try:
        tree = ast.parse(path.read_bytes())
    except OSError:
        return None
    above = [
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module is None
        for alias in node.names
        if alias.name == "Provider"
    ]
    provider = next((node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Provider"), None)
    if provider is None:
        return None
    derives = len(above) == 1 and [ast.unparse(base) for base in provider.bases] == above
    return _literal_assignments(tree.body), _literal_assignments(provider.body), derives


def _literal_assignments(body: list[ast.stmt]) -> dict[str, Any]:
    """The names `body` assigns a literal to (`x = ...` or `x: T = ...`), with their values."""
    found = {}
    for node in body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            with contextlib.suppress(ValueError, TypeError):  # not a literal: built in code
                found[target.id] = ast.literal_eval(value)
    return found


def _fake_json(schema: Mapping[str, Any], rng: random.Random, locale: str) -> Any:
    """jsongen's fake_json, imported on the first JSON a reply makes up: with faker's providers
    and the regex generator it is start-up time (~10 ms) a server answering text never needs."""
    from .jsongen import fake_json

    return fake_json(schema, rng, locale=locale)


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text of the last user message ("" when there is none)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def request_locale(request: Request) -> str:
    """The Faker locale of the language the last user message is written in."""
    return detect_locale(last_user_text(request.get("messages") or ()))


def detect_locale(sample: str) -> str:
    """The Faker locale for the script, or the Latin-script language, `sample` is written in."""
    counts: dict[str, int] = {}
    # ASCII has no letter of those scripts: skip the per-character name look-ups.
    for char in "" if sample.isascii() else sample:
        if char.isalpha():
            script = unicodedata.name(char, "").split(" ", 1)[0]
            locale = _SCRIPT_LOCALES.get(script)
            if locale:
                counts[locale] = counts.get(locale, 0) + 1
    if counts:
        # Kana decides Japanese even among many kanji.
        return "ja_JP" if "ja_JP" in counts else max(counts, key=counts.__getitem__)
    if sample.isascii():
        # One bytes translate lowers the letters and blanks what is not [a-z0-9_] (\w in ASCII).
        words = set(sample.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split())
    else:
        words = set(_WORD.findall(sample.lower()))
    hits: dict[str, int] = {}
    for word in words:
        for locale in _STOPWORD_LOCALES.get(word, ()):
            hits[locale] = hits.get(locale, 0) + 1
    if not hits:
        return "en_US"
    most = max(hits.values())
    return next(locale for locale in _STOPWORDS if hits.get(locale) == most)  # a tie: the first listed


_WORD = re.compile(r"\w+")
_ASCII_WORDS = bytes(
    ord(chr(code).lower()) if chr(code).isascii() and (chr(code).isalnum() or chr(code) == "_") else ord(" ")
    for code in range(256)
)


def _by_stopword() -> dict[str, tuple[str, ...]]:
    """Each stopword with the languages that have it, so a sample's words are looked up, not intersected."""
    found: dict[str, tuple[str, ...]] = {}
    for locale, words in _STOPWORDS.items():
        for word in words:
            found[word] = (*found.get(word, ()), locale)
    return found


_STOPWORD_LOCALES = _by_stopword()


def tool_calls(request: Request, seed: int) -> tuple[DraftToolCall, ...]:
    """The calls a choice makes, by `tool_choice` and the auto rule (module docstring); their
    arguments are drawn from one random stream seeded with `seed`."""
    functions = [t["function"] for t in request.get("tools") or () if t.get("type") == "function"]
    choice = request.get("tool_choice")
    if not functions or choice == "none":
        return ()
    if isinstance(choice, Mapping):
        chosen = _named(choice, functions)
        return (_call(chosen, random.Random(seed), request_locale(request)),) if chosen else ()
    messages = request.get("messages") or ()
    if choice != "required" and messages and messages[-1].get("role") in ("tool", "function"):
        return ()  # a tool loop ends in text: no locale to work out here
    said = last_user_text(messages)
    ranked = _rank(functions, said)
    picked = [ranked[0]]
    if request.get("parallel_tool_calls", True) is not False:
        picked += [f for f in ranked[1:] if f["name"].lower() in said.lower()]
    locale = detect_locale(said)
    rng = random.Random(seed)
    return tuple(_call(f, rng, locale) for f in picked)


def _named(choice: Mapping[str, Any], functions: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The function a named tool_choice (or an allowed_tools list) points at."""
    if choice.get("type") == "allowed_tools":
        allowed = {(t.get("function") or {}).get("name") for t in choice["allowed_tools"].get("tools", ())}
        candidates = [f for f in functions if f["name"] in allowed]
        return candidates[0] if candidates else None
    name = (choice.get("function") or {}).get("name")
    return next((f for f in functions if f["name"] == name), None)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower().replace("_", " ")))


def _rank(functions: list[Mapping[str, Any]], said: str) -> list[Mapping[str, Any]]:
    """Functions by how many words they share with what the user said, stable on ties."""
    heard = _words(said)
    def overlap(f: Mapping[str, Any]) -> int:
        return len(heard & (_words(f["name"]) | _words(f.get("description") or "")))
    return sorted(functions, key=lambda f: -overlap(f))


def _call(function: Mapping[str, Any], rng: random.Random, locale: str) -> DraftToolCall:
    """A call of `function` with arguments that fit its `parameters`, names and places in `locale`."""
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    arguments = _fake_json(schema, rng, locale)
    return DraftToolCall(name=function["name"], arguments=json.dumps(arguments, ensure_ascii=False))
