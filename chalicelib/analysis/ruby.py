"""Ruby gem cataloger: installed gem specifications under `specifications/` directories.

RubyGems writes each installed gem's specification as Ruby source (`Gem::Specification#to_ruby`):
a `Gem::Specification.new do |s|` block of `s.attribute = literal` assignments. The parser reads
those assignments without running Ruby. It understands string literals (double-quoted with
escapes, single-quoted, `%q`/`%Q`), arrays of them over one or more lines, `%w[]` word arrays,
`.freeze` suffixes and trailing `if` modifiers. An assignment of anything else (a constant, a
method call) is treated as absent.
"""

from __future__ import annotations

import logging
import re

from packageurl import PackageURL

from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import Package, PackageType, Unknown

logger = logging.getLogger(__name__)

# Syft 1.18 uses the same glob, so default gems in `specifications/default/` are found too.
SPECIFICATION_PATTERNS = ("**/specifications/**/*.gemspec",)

_BLOCK = re.compile(
    r"Gem::Specification\.new\b[^\n]*?(?:\bdo|\{)[ \t]*\|[ \t]*([A-Za-z_]\w*)[ \t]*\|"
)
_ATTRIBUTES = ("name", "version", "authors", "author", "licenses", "license", "homepage", "files")
# RubyGems' rules for a gem name (`Gem::Specification::VALID_NAME_PATTERN`) and a version
# (`Gem::Version::ANCHORED_VERSION_PATTERN`, prerelease segments included).
_GEM_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
_GEM_VERSION = re.compile(r"^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")
_PERCENT_CLOSERS = {"(": ")", "[": "]", "{": "}", "<": ">"}
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "s": " ", "e": "\x1b"}


class _NotLiteral(ValueError):
    """The value of an assignment is not a literal that the parser reads."""


def parse_gemspec(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Parse an installed gem specification into one `gem` package.

    A file without a `Gem::Specification.new` block, or without a literal `name` and a valid
    `version` assigned to the block's variable, becomes an `Unknown`.
    """
    text = content.decode(errors="replace")
    block = _BLOCK.search(text)
    if block is None:
        return _unknown(location, "gemspec has no 'Gem::Specification.new do |s|' block")
    variable = block.group(1)
    fields = _assignments(text[block.end() :], variable)

    name = fields.get("name")
    version = fields.get("version")
    if not isinstance(name, str) or not name.strip():
        return _unknown(location, f"gemspec assigns no string to {variable}.name")
    if not isinstance(version, str) or not version.strip():
        return _unknown(location, f"gem {name} assigns no string to {variable}.version")
    name, version = name.strip(), version.strip()
    if not _GEM_NAME.match(name):
        return _unknown(location, f"gemspec has an invalid gem name {name!r}")
    if not _GEM_VERSION.match(version):
        return _unknown(location, f"gem {name} has an invalid version {version!r}")

    authors = _strings(fields.get("authors", fields.get("author")))
    licenses = _strings(fields.get("licenses", fields.get("license")))
    metadata: dict[str, object] = {}
    homepage = fields.get("homepage")
    if isinstance(homepage, str) and homepage:
        metadata["homepage"] = homepage
    if authors:
        metadata["authors"] = authors
    files = _strings(fields.get("files"))
    if files:
        metadata["files"] = files
    package = Package(
        name=name,
        version=version,
        type=PackageType.GEM,
        location=location,
        # Anchore Engine joins gem authors with a bare comma in the `origin` of content rows.
        origin=",".join(authors) or None,
        licenses=list(dict.fromkeys(licenses)),
        purl=PackageURL(type="gem", name=name, version=version).to_string(),
        metadata=metadata,
    )
    return ParseResult(packages=[package])


def _unknown(location: str, reason: str) -> ParseResult:
    return ParseResult(unknowns=[Unknown(location=location, reason=reason)])


def _strings(value: object) -> list[str]:
    """Return a string or list value as a list of its non-empty strings."""
    items = value if isinstance(value, list) else [value]
    return [item.strip() for item in items if isinstance(item, str) and item.strip()]


def _assignments(body: str, variable: str) -> dict[str, str | list[str]]:
    """Read the literal values assigned to `variable.<attribute>` in `body`, keeping the last."""
    pattern = re.compile(
        rf"^[ \t]*{re.escape(variable)}\.({'|'.join(_ATTRIBUTES)})[ \t]*=(?![=~>])[ \t]*",
        re.MULTILINE,
    )
    fields: dict[str, str | list[str]] = {}
    for match in pattern.finditer(body):
        attribute = match.group(1)
        try:
            value, _ = _ValueReader(body, fields, variable).read(match.end())
        except _NotLiteral as error:
            logger.debug("ignoring %s.%s: %s", variable, attribute, error)
            continue
        fields[attribute] = value
    return fields


class _ValueReader:
    """Reads one Ruby literal: a string, an array of strings or a `%w` word array."""

    def __init__(self, text: str, known: dict[str, str | list[str]], variable: str) -> None:
        self.text = text
        self.known = known
        """Values assigned so far, for `#{s.name}` interpolation."""
        self.variable = variable

    def read(self, position: int) -> tuple[str | list[str], int]:
        """Return the literal that starts at `position` and the position after it."""
        text = self.text
        char = text[position : position + 1]
        if char == "[":
            value: str | list[str]
            value, position = self._array(position + 1)
        elif char in ("'", '"'):
            value, position = self._string(position + 1, char, interpolate=char == '"')
        elif char == "%":
            value, position = self._percent(position)
        else:
            raise _NotLiteral(f"value starting {text[position : position + 20]!r} is not a literal")
        return value, self._skip_freeze(position)

    def _skip_freeze(self, position: int) -> int:
        if self.text.startswith(".freeze", position):
            return position + len(".freeze")
        return position

    def _array(self, position: int) -> tuple[list[str], int]:
        items: list[str] = []
        while True:
            position = self._skip_space(position)
            char = self.text[position : position + 1]
            if not char:
                raise _NotLiteral("array is not closed")
            if char == "]":
                return items, position + 1
            item, position = self.read(position)
            if isinstance(item, str):
                items.append(item)
            position = self._skip_space(position)
            if self.text[position : position + 1] == ",":
                position += 1

    def _skip_space(self, position: int) -> int:
        """Skip whitespace, newlines and `#` comments inside an array."""
        text = self.text
        while position < len(text):
            char = text[position]
            if char.isspace():
                position += 1
            elif char == "#":
                end = text.find("\n", position)
                position = len(text) if end == -1 else end + 1
            else:
                break
        return position

    def _percent(self, position: int) -> tuple[str | list[str], int]:
        text = self.text
        kind = text[position + 1 : position + 2]
        if kind in ("w", "W", "q", "Q"):
            opener_at = position + 2
        elif kind and not kind.isalnum() and not kind.isspace():
            kind, opener_at = "Q", position + 1
        else:
            raise _NotLiteral(f"%-literal {text[position : position + 10]!r} is not read")
        opener = text[opener_at : opener_at + 1]
        if not opener or opener.isalnum() or opener.isspace():
            raise _NotLiteral(f"%-literal {text[position : position + 10]!r} has no delimiter")
        closer = _PERCENT_CLOSERS.get(opener, opener)
        end = _find_closer(text, opener_at + 1, opener, closer)
        raw = text[opener_at + 1 : end]
        if kind in ("w", "W"):
            return raw.split(), end + 1
        if kind == "q":
            return raw.replace("\\\\", "\\").replace("\\" + closer, closer), end + 1
        return self._unescape(raw), end + 1

    def _string(self, position: int, quote: str, *, interpolate: bool) -> tuple[str, int]:
        text = self.text
        end = position
        while True:
            end = text.find(quote, end)
            if end == -1:
                raise _NotLiteral("string is not closed")
            backslashes = len(text[position:end]) - len(text[position:end].rstrip("\\"))
            if backslashes % 2 == 0:
                break
            end += 1
        raw = text[position:end]
        if not interpolate:
            return raw.replace("\\\\", "\\").replace("\\'", "'"), end + 1
        return self._unescape(raw), end + 1

    def _unescape(self, raw: str) -> str:
        """Apply double-quoted string escapes and `#{s.name}`-style interpolation."""
        out: list[str] = []
        i = 0
        while i < len(raw):
            char = raw[i]
            if char == "#" and raw.startswith("{", i + 1):
                end = raw.find("}", i + 2)
                if end != -1:
                    out.append(self._interpolate(raw[i + 2 : end], raw[i : end + 1]))
                    i = end + 1
                    continue
            if char != "\\" or i + 1 == len(raw):
                out.append(char)
                i += 1
                continue
            escaped, i = _escape(raw, i + 1)
            out.append(escaped)
        return "".join(out)

    def _interpolate(self, expression: str, original: str) -> str:
        """Return the value of `#{s.name}` or `#{s.version}`; other code is kept as written."""
        for attribute in ("name", "version"):
            value = self.known.get(attribute)
            if expression.strip() == f"{self.variable}.{attribute}" and isinstance(value, str):
                return value
        return original


def _escape(raw: str, i: int) -> tuple[str, int]:
    """Decode the escape whose character after the backslash is at `raw[i]`."""
    char = raw[i]
    if char == "u":
        if raw.startswith("{", i + 1):
            end = raw.find("}", i + 2)
            if end != -1:
                try:
                    return "".join(chr(int(code, 16)) for code in raw[i + 2 : end].split()), end + 1
                except ValueError:
                    pass
        digits = raw[i + 1 : i + 5]
        if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
            return chr(int(digits, 16)), i + 5
        return char, i + 1
    if char == "x":
        digits = re.match(r"[0-9a-fA-F]{1,2}", raw[i + 1 : i + 3])
        if digits:
            return chr(int(digits.group(), 16)), i + 1 + len(digits.group())
    if char in "01234567":
        digits = re.match(r"[0-7]{1,3}", raw[i : i + 3])
        assert digits is not None
        return chr(int(digits.group(), 8)), i + len(digits.group())
    return _SIMPLE_ESCAPES.get(char, char), i + 1


def _find_closer(text: str, position: int, opener: str, closer: str) -> int:
    """Return the index of the delimiter that closes a %-literal, counting nested brackets."""
    depth = 0
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == closer and depth == 0:
            return position
        if opener != closer:
            if char == opener:
                depth += 1
            elif char == closer:
                depth -= 1
        position += 1
    raise _NotLiteral("%-literal is not closed")
