"""A verified-prefix checkpoint, so re-reading a long ledger does not re-verify all of it.

After a full verification, ``ledger.jsonl.verified`` records how far the
chain was checked: the byte offset, the number of lines, the seq and hash
of the last checked record, and the sha256 of those prefix bytes. The next
verified read of the same file re-checks only what comes after the offset,
and trusts the prefix only when all of this holds:

- the checkpoint's MAC verifies: an HMAC-SHA256, under a key that lives
  outside the registry (``$EXANTE_STATE_DIR`` or ``~/.local/state/exante``,
  mode 0600), over its fields and the ledger's resolved path. Whoever edits
  a ledger line cannot write a checkpoint that vouches for the edit without
  that key, and a checkpoint copied from another ledger or machine does not
  verify;
- the file still holds at least `offset` bytes, ending in a newline there;
- those first `offset` bytes hash to `prefix_sha256` (one sha256 pass at C
  speed: any edit, insertion or removal inside the prefix changes it);
- the record at that line has the recorded seq and hash.

Anything else and the checkpoint is simply ignored: the whole chain is
verified from the genesis, which is the ground truth either way (a ledger
that fails there fails loudly). A checkpoint can make a read faster, never
make a broken chain pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .ledger_bytes import link_of

SUFFIX = ".verified"
# below this many newly verified bytes, a rewrite of the checkpoint is not worth its write
MIN_GAIN = 256 * 1024


@dataclass(frozen=True)
class Checkpoint:
    offset: int  # bytes of the verified prefix (whole lines)
    lines: int  # records in it
    seq: int  # seq of its last record
    head: str  # hash of its last record


def path_for(ledger: Path) -> Path:
    return ledger.with_name(ledger.name + SUFFIX)


def state_dir() -> Path:
    """exante's per-user state folder, outside any registry."""
    base = os.environ.get("EXANTE_STATE_DIR")
    if base:
        return Path(base)
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "exante"


def _key_file() -> Path:
    return state_dir() / "checkpoint.key"


def state_key(create: bool) -> bytes | None:
    """This machine's key for what exante keeps to go faster (checkpoints, the plan cache)."""
    return _key(create)


def _key(create: bool) -> bytes | None:
    """This machine's checkpoint key; None (checkpoints off) when it cannot be had."""
    path = _key_file()
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        if not create:
            return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        return bytes.fromhex(path.read_text().strip())
    except FileExistsError:  # another process made it meanwhile
        return _key(create=False)
    except (OSError, ValueError):
        return None


def _mac(key: bytes, ledger: Path, fields: dict[str, Any]) -> str:
    message = json.dumps({"ledger": str(ledger.resolve()), **fields}, sort_keys=True)
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def load(ledger: Path, raw: bytes, cut: int) -> Checkpoint | None:
    """The checkpoint for these ledger bytes if every check above holds, else None."""
    try:
        stored = json.loads(path_for(ledger).read_text(encoding="utf-8"))
        fields = {k: stored[k] for k in ("offset", "lines", "seq", "head", "prefix_sha256")}
        offset, mac = int(fields["offset"]), str(stored["mac"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    key = _key(create=False)
    if key is None or not hmac.compare_digest(mac, _mac(key, ledger, fields)):
        return None
    if not 0 < offset <= cut or raw[offset - 1:offset] != b"\n":
        return None
    if hashlib.sha256(memoryview(raw)[:offset]).hexdigest() != fields["prefix_sha256"]:
        return None
    return Checkpoint(offset, int(fields["lines"]), int(fields["seq"]), str(fields["head"]))


def agrees(point: Checkpoint, records: list[Any]) -> bool:
    """The parsed prefix ends where the checkpoint says (belt and braces over the digest)."""
    if len(records) < point.lines or point.lines == 0:
        return False
    return link_of(records[point.lines - 1]) == (point.seq, point.head)


def save(ledger: Path, raw: bytes, cut: int, records: list[Any],
         previous: Checkpoint | None) -> None:
    """Record that `raw[:cut]` verified, when that is worth a write; never raises."""
    if not records or cut - (previous.offset if previous else 0) < MIN_GAIN:
        return
    key = _key(create=True)
    if key is None:
        return
    seq, head = link_of(records[-1])
    fields = {"offset": cut, "lines": len(records), "seq": seq, "head": head,
              "prefix_sha256": hashlib.sha256(memoryview(raw)[:cut]).hexdigest()}
    target = path_for(ledger)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps({**fields, "mac": _mac(key, ledger, fields)}, sort_keys=True)
                       + "\n", encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)
