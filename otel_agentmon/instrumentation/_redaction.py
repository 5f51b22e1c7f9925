"""Redaction of secrets and personal data in captured content: one place for every capture path.

Everything otel-agentmon records as content goes through ``redact``: message text, tool call
arguments and tool results (``tool_call`` / ``tool_call_response`` parts, via
``bounded_json``), system instructions, and evaluation explanations.

Detectors (names as used by ``AGENTMON_REDACT``)::

    api_key      provider keys: OpenAI sk- / sk-proj-, Anthropic sk-ant-, AWS AKIA/ASIA,
                 GitHub ghp_ / github_pat_, Google AIza, Slack xox?-; long hex/base64 values
                 after a key / token / secret label
    bearer       Bearer tokens, Authorization / x-api-key header values
    jwt          JSON Web Tokens
    private_key  PEM private key blocks
    password     values of password= / api_key: / "secret": "..." (and similar names), in
                 key=value, key: value and JSON form, and of such keys in tool arguments
    email        e-mail addresses
    phone        international (+CC ...) and national (US, UK, FR style) phone numbers
    card         payment card numbers, 13 to 19 digits, Luhn-checked
    national_id  US SSN, UK National Insurance number, Spanish DNI / NIE (check letter)

Credentials are replaced by ``[REDACTED]``; personal data by a mark naming what it was
(``[REDACTED:email]``, ``[REDACTED:phone]``, ``[REDACTED:card]``, ``[REDACTED:national_id]``);
``AGENTMON_REDACT_DENY`` matches by ``[REDACTED:custom]``.

Configuration (validated at start by ``settings_from_env``, read again when it changes)::

    AGENTMON_REDACT        detectors in force: "all" (default), "none", "-email,-phone", "none,card"
    AGENTMON_REDACT_ALLOW  values never redacted: literals, or re:<regex> matched in full
    AGENTMON_REDACT_DENY   extra regexes always redacted (even with AGENTMON_REDACT=none)

A configuration that does not parse outside ``settings_from_env`` falls back to every
detector on, without allow list: redaction fails closed.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from otel_agentmon._settings import (
    AGENTMON_REDACT,
    AGENTMON_REDACT_ALLOW,
    AGENTMON_REDACT_DENY,
    ConfigurationError,
)

__all__ = [
    "DETECTORS",
    "REDACTED",
    "RedactionPolicy",
    "current_policy",
    "is_secret_key",
    "might_redact",
    "parse_redaction",
    "redact",
]

_logger = logging.getLogger("otel_agentmon")

REDACTED = "[REDACTED]"

DETECTORS = ("api_key", "bearer", "jwt", "private_key", "password", "email", "phone", "card", "national_id")
"""Detector names, as ``AGENTMON_REDACT`` takes them."""

_MARK_EMAIL = "[REDACTED:email]"
_MARK_PHONE = "[REDACTED:phone]"
_MARK_CARD = "[REDACTED:card]"
_MARK_NATIONAL_ID = "[REDACTED:national_id]"
_MARK_CUSTOM = "[REDACTED:custom]"


# --- policy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedactionPolicy:
    """Which detectors run, which values are never redacted, which patterns always are."""

    detectors: frozenset[str] = frozenset(DETECTORS)
    allow_literals: frozenset[str] = frozenset()  # compared case-insensitively
    allow_patterns: tuple[re.Pattern[str], ...] = ()  # matched against the whole value
    deny: tuple[re.Pattern[str], ...] = ()

    def allows(self, value: str) -> bool:
        """Whether ``value`` (quotes and spaces around it ignored) is on the allow list."""
        if not self.allow_literals and not self.allow_patterns:
            return False
        value = value.strip().strip("\"'").strip()
        if value.casefold() in self.allow_literals:
            return True
        return any(pattern.fullmatch(value) for pattern in self.allow_patterns)


DEFAULT_POLICY = RedactionPolicy()


def _split_list(value: str) -> list[str]:
    """Comma-separated items; commas inside (), [] or {} or escaped as \\, stay in the item."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    escaped = False
    for char in value:
        if escaped:
            current.append(char if char == "," else "\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            if char in "([{":
                depth += 1
            elif char in ")]}" and depth > 0:
                depth -= 1
            current.append(char)
    if escaped:
        current.append("\\")
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def _compile(variable: str, source: str) -> re.Pattern[str]:
    try:
        pattern = re.compile(source)
    except re.error as exc:
        raise ConfigurationError(f"{variable}: pattern '{source}' is not a valid regular expression ({exc})") from None
    if pattern.match("") is not None:
        raise ConfigurationError(f"{variable}: pattern '{source}' matches the empty string; it must match some text")
    return pattern


def parse_redaction(environ: Mapping[str, str] | None = None) -> RedactionPolicy:
    """The policy from ``AGENTMON_REDACT``, ``AGENTMON_REDACT_ALLOW`` and ``AGENTMON_REDACT_DENY``.

    Raises ConfigurationError naming the variable and the item (unknown detector, bad regex).
    """
    env = os.environ if environ is None else environ
    enabled = set(DETECTORS)
    for item in _split_list(env.get(AGENTMON_REDACT, "") or ""):
        word = item.lower()
        if word == "all":
            enabled = set(DETECTORS)
        elif word == "none":
            enabled = set()
        elif word.lstrip("-+") in DETECTORS:
            (enabled.discard if word.startswith("-") else enabled.add)(word.lstrip("-+"))
        else:
            raise ConfigurationError(
                f"{AGENTMON_REDACT}: unknown detector {item!r}; expected all, none or "
                f"(-)name with name one of {', '.join(DETECTORS)}"
            )
    literals: set[str] = set()
    allow_patterns: list[re.Pattern[str]] = []
    for item in _split_list(env.get(AGENTMON_REDACT_ALLOW, "") or ""):
        if item.startswith("re:"):
            allow_patterns.append(_compile(AGENTMON_REDACT_ALLOW, item[3:]))
        else:
            literals.add(item.casefold())
    deny = tuple(
        _compile(AGENTMON_REDACT_DENY, item[3:] if item.startswith("re:") else item)
        for item in _split_list(env.get(AGENTMON_REDACT_DENY, "") or "")
    )
    policy = RedactionPolicy(frozenset(enabled), frozenset(literals), tuple(allow_patterns), deny)
    return DEFAULT_POLICY if policy == DEFAULT_POLICY else policy


_cached_key: tuple[Any, Any, Any] = (None, None, None)
_cached_policy = DEFAULT_POLICY


def current_policy() -> RedactionPolicy:
    """The policy of the current environment (parsed again only when the variables change)."""
    global _cached_key, _cached_policy
    env = os.environ
    key = (env.get(AGENTMON_REDACT), env.get(AGENTMON_REDACT_ALLOW), env.get(AGENTMON_REDACT_DENY))
    if key != _cached_key:
        try:
            policy = parse_redaction(env)
        except ConfigurationError as exc:
            _logger.error("otel-agentmon: %s; redacting with every detector on and no allow list", exc)
            policy = DEFAULT_POLICY
        _cached_key, _cached_policy = key, policy
    return _cached_policy


# --- credentials --------------------------------------------------------------------------

_ASCII_I = re.ASCII | re.IGNORECASE

# The policy of the redact() call in progress on this thread, read by the replacements.
_active = threading.local()


def _allowed(value: str) -> bool:
    return getattr(_active, "policy", DEFAULT_POLICY).allows(value)


def _sub(pattern: re.Pattern[str], template: str, kept: int = 0) -> Callable[[str], str]:
    """Replace matches by ``template``; the text after group ``kept`` is the secret (allow list)."""

    def replace(match: re.Match[str]) -> str:
        secret = match.string[match.end(kept) if kept else match.start() : match.end()]
        if _allowed(secret):
            return match.group(0)
        return match.expand(template) if kept else template

    return lambda text: pattern.sub(replace, text)


# Names whose value is a secret, in key=value text and in "key": "value" text. A name matches
# on how it ends ("OPENAI_API_KEY", "DBPASSWORD", "access_token"), in any case.
_SECRET_NAMES = tuple(
    sorted(
        {f"{word}{sep}key" for word in ("api", "access", "secret", "private") for sep in ("_", "-", "")}
        | {f"client{sep}secret" for sep in ("_", "-", "")}
        | {"secret", "password", "passwd", "token", "signature", "credential", "credentials", "authorization"},
        key=lambda name: (-len(name), name),
    )
)
_SECRET_NAME = "(?:" + "|".join(re.escape(name) for name in _SECRET_NAMES) + ")"
_LONGEST_NAME = len(_SECRET_NAMES[0])
_NAME_TRIGGERS = ("key", "secret", "passw", "token", "signature", "credential", "authorization")


# name = value: the name ends right before the "=", the value is a quoted string or a bare word.
_VALUE_AFTER_EQUALS = re.compile(
    r"[ \t]*(?![=\s]|\[REDACTED\])(\"[^\"\n]*\"?|'[^'\n]*'?|[^\s&;,\"'<>)\]}]+)", re.ASCII
)


def _secret_name_ends_at(text: str, end: int) -> bool:
    while end > 0 and text[end - 1] in " \t":
        end -= 1
    return text[max(0, end - _LONGEST_NAME) : end].lower().endswith(_SECRET_NAMES)


def _redact_assignments(text: str) -> str:
    """``api_key=value``, ``OPENAI_API_KEY=...``, ``?access_token=...``: the value replaced.

    Scans for "=" instead of running a pattern at every position (prose has few "=").
    Comparisons (``==``) are left alone; quotes around a value are kept.
    """
    pieces: list[str] = []
    done = 0
    at = text.find("=")
    while at != -1:
        following = text[at + 1 : at + 2]
        if following != "=" and text[at - 1 : at] not in ("=", "!", "<", ">") and _secret_name_ends_at(text, at):
            value = _VALUE_AFTER_EQUALS.match(text, at + 1)
            if value is not None and not _allowed(value.group(1)):
                raw = value.group(1)
                quote = raw[0] if raw[0] in "\"'" else ""
                closed = quote if quote and len(raw) >= 2 and raw[-1] == quote else ""
                pieces.append(text[done : value.start(1)])
                pieces.append(f"{quote}{REDACTED}{closed}" if closed else REDACTED)
                done = value.end(1)
                at = text.find("=", done)
                continue
        at = text.find("=", at + 2 if following == "=" else at + 1)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


# password: value (YAML, logs, prose), unquoted or quoted. An unquoted value must look like a
# secret (a digit or symbol and 6+ characters, or 12+ characters) so "Password: required" stays.
_COLON_PASSWORD = re.compile(
    r"(?<![\w\-\"'])((?:[A-Za-z0-9_\-]{0,30}?)(?:password|passwd|pwd|passphrase|client[_\-]?secret"
    r"|secret[_\-]?key|api[_\-]?key|access[_\-]?token|auth[_\-]?token)[ \t]*:[ \t]*)"
    r"(?!\[REDACTED)(\"[^\"\n]+\"|'[^'\n]+'|(?=[^\s,;]{6,})(?=[^\s,;]*[^A-Za-z\s,;])[^\s,;]+|[^\s,;]{12,})",
    _ASCII_I,
)


def _redact_colon_password(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        value = match.group(2)
        if _allowed(value):
            return match.group(0)
        quote = value[0] if value[0] in "\"'" else ""
        return f"{match.group(1)}{quote}{REDACTED}{quote}"

    return _COLON_PASSWORD.sub(replace, text)


# (detector, cheap lower-case substrings, rule): a rule runs only when one of its substrings is
# in the text. Every rule is ASCII-only and cannot match without one of its substrings, so
# skipping it is safe; text with none of them (and no digit or "@") is returned as is.
_RULES: tuple[tuple[str, tuple[str, ...], Callable[[str], str]], ...] = (
    # PEM private keys, also when the END line was cut off.
    (
        "private_key",
        ("-----begin",),
        _sub(
            re.compile(
                r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
                r"(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
                re.ASCII | re.DOTALL,
            ),
            REDACTED,
        ),
    ),
    # Header lines: "Authorization: Basic ...", "x-api-key: ...".
    (
        "bearer",
        ("authorization", "api-key"),
        _sub(
            re.compile(
                r"(?<![\w-])((?:proxy-)?authorization|x-api-key|api-key|x-goog-api-key)(\s*:\s*)"
                r"(?!\[REDACTED\])[^\s\"'][^\r\n\"']*",
                _ASCII_I,
            ),
            rf"\1\2{REDACTED}",
            2,
        ),
    ),
    # "api_key": "value" / 'password': 'value' (JSON and Python reprs), also unterminated.
    (
        "password",
        _NAME_TRIGGERS,
        _sub(
            re.compile(
                r"([\"'])([A-Za-z0-9_.\-]{0,40}?" + _SECRET_NAME + r")\1(\s*:\s*)([\"'])"
                r"(?:\\.|(?!\4)[^\\\n])*(?:\4|(?=\n)|\Z)",
                _ASCII_I,
            ),
            rf"\1\2\1\3\4{REDACTED}\4",
            4,
        ),
    ),
    ("password", _NAME_TRIGGERS, _redact_assignments),
    ("password", ("passw", "passphrase", "pwd", "secret", "key", "token"), _redact_colon_password),
    # user:password@host in connection strings and URLs.
    ("password", ("://",), _sub(re.compile(r"(://[^/\s:@]*:)(?!\[REDACTED)[^@\s/]+(?=@)", re.ASCII), rf"\1{REDACTED}", 1)),
    # Bearer <token>: a token has a digit, or is long (so "Bearer bonds" stays).
    (
        "bearer",
        ("bearer",),
        _sub(
            re.compile(
                r"\b(bearer)(\s+)(?:(?=[A-Za-z\-._~+/]{0,256}[0-9])[A-Za-z0-9\-._~+/]{8,}"
                r"|[A-Za-z0-9\-._~+/]{20,})=*",
                _ASCII_I,
            ),
            rf"\1\2{REDACTED}",
            2,
        ),
    ),
    # JSON Web Tokens (base64url JSON header, a dot, the rest), also when cut off.
    ("jwt", ("eyj",), _sub(re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-.]*", re.ASCII), REDACTED)),
    # OpenAI (sk-, sk-proj-, sk-svcacct-) and Anthropic (sk-ant-) keys.
    (
        "api_key",
        ("sk-",),
        _sub(re.compile(r"(?<![A-Za-z0-9_\-])sk-(?=[A-Za-z_\-]{0,256}[0-9])[A-Za-z0-9_\-]{16,}", re.ASCII), REDACTED),
    ),
    # AWS access key ids (long-term AKIA, temporary ASIA).
    ("api_key", ("akia", "asia"), _sub(re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", re.ASCII), REDACTED)),
    # GitHub tokens.
    (
        "api_key",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        _sub(re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})", re.ASCII), REDACTED),
    ),
    # Google API keys.
    ("api_key", ("aiza",), _sub(re.compile(r"\bAIza[0-9A-Za-z_\-]{35}", re.ASCII), REDACTED)),
    # Slack tokens.
    ("api_key", ("xox",), _sub(re.compile(r"\bxox[baprs]-[A-Za-z0-9\-]{10,}", re.ASCII), REDACTED)),
    # A long hex or base64 value after a key / token / secret label: "API key is 9f86d08...",
    # "secret: c2VjcmV0...". It has letters and digits; UUIDs are not taken for keys.
    (
        "api_key",
        ("key", "token", "secret"),
        _sub(
            re.compile(
                r"\b((?:api|access|secret|private|auth|signing|encryption)?[ _\-]?(?:key|token|secret)s?\b"
                r"[\"']?[ \t]*(?:[:=]|\bis\b|\bwas\b)?[ \t]*[\"'`]?)"
                r"(?![0-9a-fA-F]{8}-[0-9a-fA-F]{4}-)(?=[A-Za-z0-9+/_\-]{0,200}[0-9])(?=[A-Za-z0-9+/_\-]{0,200}[A-Za-z])"
                r"[A-Za-z0-9+/_\-]{32,}={0,2}",
                _ASCII_I,
            ),
            rf"\1{REDACTED}",
            1,
        ),
    ),
)


# --- personal data ------------------------------------------------------------------------


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_CARD = re.compile(r"(?<![\w.\-+/:])[2-6]\d{3}(?:[ \-]?\d){9,15}(?![\w\-]|[.,:/]\d)", re.ASCII)
_CARD_GROUPS = re.compile(r"[ \-]")


def _is_card(text: str) -> bool:
    digits = _CARD_GROUPS.sub("", text)
    if not 13 <= len(digits) <= 19 or not _luhn(digits):
        return False
    if len(digits) == len(text):
        return True
    separators = set(_CARD_GROUPS.findall(text))
    if len(separators) != 1:
        return False
    groups = [len(group) for group in _CARD_GROUPS.split(text)]
    if groups in ([4, 6, 5], [4, 6, 4]):  # American Express, Diners Club
        return True
    return all(length == 4 for length in groups[:-1]) and 1 <= groups[-1] <= 4


_PHONE = re.compile(
    r"(?<![\w+.\-/:#$€£])(?:"
    r"\+\d{1,3}(?:[ .\-]?\(?\d{1,5}\)?){1,6}"  # +44 20 7946 0958, +1 (415) 555-2671, +14155552671
    r"|\(\d{3}\)[ .\-]?\d{3}[ .\-]\d{4}"  # (415) 555-2671
    r"|[2-9]\d{2}([.\- ])\d{3}\1\d{4}"  # 415-555-2671, 415.555.2671, 415 555 2671
    r"|0\d{2,4}[ \-]\d{3,4}[ \-]?\d{3,4}"  # 020 7946 0958, 07700 900123, 030-1234-5678
    r"|0[1-9](?:[ .]\d{2}){4}"  # 01 23 45 67 89
    r")(?![\w\-]|[.,:/]\d)",
    re.ASCII,
)


def _is_phone(text: str) -> bool:
    digits = sum(char.isdigit() for char in text)
    if text[0] == "+":
        return 8 <= digits <= 15
    return 10 <= digits <= 11


_SSN = re.compile(
    r"(?<![\w\-.])(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w\-]|\.\d)"
    r"|(?<=(?i:ssn)[ :#])[ ]?(?!000|666|9)\d{3} ?(?!00)\d{2} ?(?!0000)\d{4}\b",
    re.ASCII,
)
# UK National Insurance number: two letters (not BG, GB, KN, NK, NT, TN, ZZ; no D, F, I, Q, U, V;
# O not second), six digits, A-D.
_NINO = re.compile(
    r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", re.ASCII
)
# Spanish DNI (8 digits) and NIE (X/Y/Z and 7 digits), with their check letter.
_DNI = re.compile(r"\b(?:[XYZ][ \-]?\d{7}|\d{8})[ \-]?[A-Z]\b", re.ASCII)
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _is_dni(text: str) -> bool:
    compact = text.replace(" ", "").replace("-", "")
    number = compact[:-1]
    if number[0] in "XYZ":
        number = str("XYZ".index(number[0])) + number[1:]
    return _DNI_LETTERS[int(number) % 23] == compact[-1]


def _validated(pattern: re.Pattern[str], mark: str, valid: Callable[[str], bool] | None = None) -> Callable[[str], str]:
    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        if (valid is not None and not valid(found)) or _allowed(found):
            return found
        return mark

    return lambda text: pattern.sub(replace, text)


_EMAIL = re.compile(
    r"(?<![\w.%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}\b",
    re.ASCII,
)

_EMAIL_RULE = _validated(_EMAIL, _MARK_EMAIL)
# Run on text with a digit, in this order: cards before phones (a card is not a phone).
_NUMBER_RULES: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("card", _validated(_CARD, _MARK_CARD, _is_card)),
    ("national_id", _validated(_SSN, _MARK_NATIONAL_ID)),
    ("national_id", _validated(_NINO, _MARK_NATIONAL_ID)),
    ("national_id", _validated(_DNI, _MARK_NATIONAL_ID, _is_dni)),
    ("phone", _validated(_PHONE, _MARK_PHONE, _is_phone)),
)
# Every number rule needs at least this: six or more digits and separators, digits at both ends.
_NUMBER_RUN = re.compile(r"\d[\d \-.()/]{4,}\d", re.ASCII).search
_NUMBER_DETECTORS = frozenset(detector for detector, _ in _NUMBER_RULES)


# --- redact -------------------------------------------------------------------------------

_TRIGGERS = frozenset(trigger for _, triggers, _ in _RULES for trigger in triggers)
# Each substring search scans the whole text, so those containing "-" or "_" are only searched
# for when the text has that character at all.
_PLAIN_TRIGGERS = tuple(sorted(t for t in _TRIGGERS if "-" not in t and "_" not in t))
_DASH_TRIGGERS = tuple(sorted(t for t in _TRIGGERS if "-" in t))
_UNDERSCORE_TRIGGERS = tuple(sorted(t for t in _TRIGGERS if "_" in t and "-" not in t))


def _present_triggers(lowered: str) -> list[str]:
    present = [trigger for trigger in _PLAIN_TRIGGERS if trigger in lowered]
    if "-" in lowered:
        present.extend(trigger for trigger in _DASH_TRIGGERS if trigger in lowered)
    if "_" in lowered:
        present.extend(trigger for trigger in _UNDERSCORE_TRIGGERS if trigger in lowered)
    return present


# Words the converters write themselves (roles, part types, finish reasons, modalities).
_PLAIN_WORDS = frozenset(
    {"system", "user", "assistant", "tool", "developer", "text", "tool_call", "tool_call_response"}
    | {"reasoning", "blob", "uri", "file", "server_tool_call", "server_tool_call_response"}
    | {"image", "audio", "video", "document", "stop", "length", "content_filter", "error", "[omitted]"}
)


def _custom(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda match: match.group(0) if not match.group(0) else _MARK_CUSTOM, text)


def redact(text: str, policy: RedactionPolicy | None = None) -> str:
    """``text`` with secrets and personal data replaced; ``None`` if ``text`` is not a string.

    ``policy`` defaults to the one of the environment (``current_policy``). See the module
    documentation for the detectors and their marks.
    """
    try:
        if not isinstance(text, str):
            return None  # type: ignore[return-value]
        if text in _PLAIN_WORDS:
            return text
        if policy is None:
            policy = current_policy()
        for pattern in policy.deny:
            text = _custom(pattern, text)
        enabled = policy.detectors
        if not enabled:
            return text
        lowered = text.lower()
        present = _present_triggers(lowered)
        has_digit = _NUMBER_RUN(text) is not None
        has_at = "@" in text
        if not present and not has_digit and not has_at:
            return text
        outer = getattr(_active, "policy", DEFAULT_POLICY)
        _active.policy = policy
        try:
            if present:
                found = set(present)
                for detector, triggers, rule in _RULES:
                    if detector in enabled and not found.isdisjoint(triggers):
                        text = rule(text)
            if has_digit:
                for detector, rule in _NUMBER_RULES:
                    if detector in enabled:
                        text = rule(text)
            if has_at and "email" in enabled:
                text = _EMAIL_RULE(text)
        finally:
            _active.policy = outer
        return text
    except Exception:
        return None  # type: ignore[return-value]


def might_redact(text: str, policy: RedactionPolicy | None = None) -> bool:
    """False only when ``redact`` surely leaves ``text`` (or any string inside it, if it is JSON)
    as it is: no deny pattern, no trigger substring, no "@" and no run of digits."""
    if policy is None:
        policy = current_policy()
    if policy.deny:
        return True
    enabled = policy.detectors
    if not enabled:
        return False
    if "@" in text and "email" in enabled:
        return True
    if not _NUMBER_DETECTORS.isdisjoint(enabled) and _NUMBER_RUN(text) is not None:
        return True
    return bool(_present_triggers(text.lower()))


# Keys of structured data (tool arguments, tool results) whose string or number values are
# secrets: the key ends with one of these names ("password", "DB_PASSWORD", "githubToken").
_SECRET_KEY = re.compile(
    r".*(?:api[_\-]?key|access[_\-]?key|secret[_\-]?key|private[_\-]?key|secret|password|passwd"
    r"|token|authorization|credentials?)",
    _ASCII_I | re.DOTALL,
)


def is_secret_key(name: str, value: Any = None, policy: RedactionPolicy | None = None) -> bool:
    """Whether the value under key ``name`` in tool arguments or results is to be hidden whole."""
    if _SECRET_KEY.fullmatch(name) is None:
        return False
    if policy is None:
        policy = current_policy()
    if "password" not in policy.detectors:
        return False
    return not (isinstance(value, str) and policy.allows(value))
