"""The seal: a sha256 of the plan's text, written into the plan itself.

The scheme is byte-compatible with the one published in seed 000: blank the
``sha256: "..."`` field with the regex ``sha256: ".*"``, take the sha256 of
the UTF-8 text, and store the hex digest in that field. A file sealed by the
seed's three-line script verifies here, and the other way round.

exante is stricter than the published script in three places, each of which
closes a way to change the text without changing the hash:

- exactly one seal field must exist (the regex blanks every match, so text
  inside a second ``sha256: "..."`` would be invisible to the hash);
- the field must be exactly ``sha256: "<hex>"`` up to the regex's greedy
  end (a quote later on the same line would widen the blanked span);
- carriage returns are refused at lock time: Python's text mode (which the
  seed's script uses) turns ``\\r\\n`` and ``\\r`` into ``\\n``, so a changed
  line ending would go unseen. exante hashes the exact characters.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, TamperedError

FIELD_RE = re.compile(r'sha256: ".*"')  # the seed's regex, unchanged
STORED_RE = re.compile(r'sha256: "([a-f0-9]+)"')  # the seed's check_prereg regex
BLANK = 'sha256: ""'
_EXACT_FIELD = re.compile(r'sha256: "[a-f0-9]*"')

TAMPERED = "PREREG TAMPERED. Refusing to run."


@dataclass(frozen=True)
class SealState:
    """What `inspect` found: the stored hash (None when unsealed) and the computed one."""

    stored: str | None
    computed: str

    @property
    def sealed(self) -> bool:
        return self.stored is not None

    @property
    def intact(self) -> bool:
        return self.stored == self.computed


def compute_hash(text: str) -> str:
    """sha256 hex digest of `text` with the seal field blanked (seed 000's `lock`)."""
    return hashlib.sha256(FIELD_RE.sub(BLANK, text).encode("utf-8")).hexdigest()


def read_text(path: Path) -> str:
    """The file's exact characters (no newline translation)."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TamperedError(f"{TAMPERED} {path}: not valid UTF-8 at byte {exc.start}") from exc


def _check_field(text: str, path: Path) -> re.Match:
    matches = list(FIELD_RE.finditer(text))
    if not matches:
        raise InputError(f'{path}: no seal field; add a line `sha256: ""` (in a YAML plan, or a '
                         "docstring or comment of a bet module) and lock again")
    if len(matches) > 1:
        lines = [text.count("\n", 0, m.start()) + 1 for m in matches]
        raise TamperedError(f"{TAMPERED} {path}: {len(matches)} seal fields (lines {lines}); "
                            "exactly one `sha256: \"...\"` is allowed")
    match = matches[0]
    if not _EXACT_FIELD.fullmatch(match.group(0)):
        line = text.count("\n", 0, match.start()) + 1
        raise TamperedError(f'{TAMPERED} {path}:{line}: the seal field must read sha256: "<hex>" '
                            "with no other double quote after it on that line")
    return match


def inspect(path: Path) -> SealState:
    """Read `path` and report its stored and computed hashes, without judging."""
    text = read_text(path)
    _check_field(text, path)
    stored = STORED_RE.search(text)
    return SealState(stored.group(1) if stored else None, compute_hash(text))


def verify(path: Path) -> str:
    """Return the plan's hash if the seal is intact; raise TamperedError otherwise."""
    path = Path(path)
    if not FIELD_RE.search(read_text(path)):  # a damaged seal line is tampering, not bad input
        raise TamperedError(f'{TAMPERED} {path}: no seal field `sha256: "<hex>"` (never sealed, '
                            "or the seal line was edited)")
    state = inspect(path)
    if not state.sealed:
        raise TamperedError(f"{TAMPERED} {path}: the plan is not sealed; run `exante lock {path}`")
    if not state.intact:
        hint = " The file contains carriage returns (\\r)." if "\r" in read_text(path) else ""
        raise TamperedError(f"{TAMPERED} {path}: stored sha256 {state.stored[:12]}… but the text "
                            f"hashes to {state.computed[:12]}….{hint}")
    return state.computed


def lock(path: Path) -> str:
    """Write the hash into the file's seal field and return it. Refuses CR line endings."""
    path = Path(path)
    text = read_text(path)
    if "\r" in text:
        raise InputError(f"{path}: contains carriage returns (\\r); convert the file to LF line "
                         "endings before locking (a changed line ending would not change the hash "
                         "under the seed-000 scheme)")
    match = _check_field(text, path)
    digest = compute_hash(text)
    sealed = text[: match.start()] + f'sha256: "{digest}"' + text[match.end():]
    _atomic_write(path, sealed)
    return digest


def _atomic_write(path: Path, text: str) -> None:
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    """sha256 hex digest of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
