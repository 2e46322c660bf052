"""What a catalogue entry takes from a plan, kept between rollups so a plan is parsed once.

A rollup of 1,000 experiments spent a fifth of its time safe-loading YAML and
validating plans whose text had not changed since the last rollup. The fields
an entry takes from its plan (experiment id, hypothesis, retractions, ladder,
the registered rules as the summary prints them) are a function of the plan's
text alone, so they are kept per sha256 of that text, beside a hash of exante's
own source (another exante, or an edited checkout, may read the same text
differently).

The cache lives outside the registry (``$EXANTE_STATE_DIR`` or
``~/.local/state/exante``, one file per registry folder), and is trusted only
when its HMAC verifies under the same machine key as the ledger checkpoints
(`ledger_checkpoint`): whoever can edit the registry cannot make the catalogue
show a hypothesis or a rule the plan does not say. Anything else (no key, a
bad MAC, another version, an unreadable file) and every plan is parsed again;
a plan that does not load is never cached, so its error is reported each time.
The audit never uses it: it loads every plan itself.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

import orjson

from .. import ledger_checkpoint as CP

SCHEMA = 1
FIELDS = ("experiment_id", "hypothesis", "retracts", "ladder", "rules")


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _path(root: Path) -> Path:
    folder = hashlib.sha256(str(Path(root).resolve()).encode("utf-8")).hexdigest()[:32]
    return CP.state_dir() / "catalogue" / f"{folder}.json"


def _mac(key: bytes, root: Path, body: bytes) -> str:
    message = str(Path(root).resolve()).encode("utf-8") + b"\0" + body
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@functools.cache
def code_id() -> str:
    """sha256 of every source file of this exante: what parsed the cached plans."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _body(entries: dict[str, dict[str, Any]]) -> bytes:
    return orjson.dumps({"schema": SCHEMA, "code": code_id(), "entries": entries},
                        option=orjson.OPT_SORT_KEYS)


class PlanCache:
    """The plan fields of one registry's last catalogue; `get` a hit, `put` a fresh parse."""

    def __init__(self, root: Path, entries: dict[str, dict[str, Any]] | None = None):
        self.root = Path(root)
        self.old = entries or {}
        self.new: dict[str, dict[str, Any]] = {}

    @classmethod
    def load(cls, root: Path) -> "PlanCache":
        key = CP.state_key(create=False)
        try:
            stored = orjson.loads(_path(root).read_bytes())
            body, mac = orjson.dumps(stored["body"]), str(stored["mac"])
            inner = stored["body"]
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
            return cls(root)
        if key is None or not hmac.compare_digest(mac, _mac(key, root, body)):
            return cls(root)
        if inner.get("schema") != SCHEMA or inner.get("code") != code_id():
            return cls(root)
        entries = inner.get("entries")
        return cls(root, entries if isinstance(entries, dict) else {})

    def get(self, text: str) -> dict[str, Any] | None:
        k = text_key(text)
        hit = self.old.get(k)
        if isinstance(hit, dict) and all(f in hit for f in FIELDS):
            self.new[k] = hit
            return hit
        return None

    def put(self, text: str, fields: dict[str, Any]) -> None:
        kept = {f: fields[f] for f in FIELDS}
        try:  # only what reads back as itself (a YAML date or a tuple would not): else parse
            if orjson.loads(orjson.dumps(kept)) != kept:
                return
        except (TypeError, orjson.JSONEncodeError):
            return
        self.new[text_key(text)] = kept

    def save(self) -> None:
        """Keep exactly the plans seen this time (a removed plan leaves the cache); never
        raises: a cache that cannot be written only means the next rollup parses again."""
        if self.new == self.old:
            return
        key = CP.state_key(create=True)
        if key is None:
            return
        body = _body(self.new)
        target = _path(self.root)
        tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            stored = orjson.loads(body)
            tmp.write_bytes(orjson.dumps({"body": stored, "mac": _mac(key, self.root,
                                                                       orjson.dumps(stored))}))
            os.replace(tmp, target)
        except (OSError, TypeError, orjson.JSONEncodeError):
            tmp.unlink(missing_ok=True)
