"""The sealed code at dispatch time: one hash over the code fingerprints, and a watcher.

`CodeWatch` re-checks the sealed code files before every dispatch of a sweep:
a stat first, a hash only when the stat changed, so the check costs microseconds
per dispatch and a file swapped mid-sweep is seen before the next run starts.
"""

from __future__ import annotations

from pathlib import Path

from . import seal
from .errors import FingerprintError
from .spec import Plan


def code_hash(prints: dict[str, str]) -> str:
    """One sha256 over the code entries (`code:`, `import:`) of a fingerprint dict."""
    import hashlib

    code = sorted((k, v) for k, v in prints.items() if k.startswith(("code:", "import:")))
    return hashlib.sha256(repr(code).encode("utf-8")).hexdigest()


class CodeWatch:
    """The sealed code files, re-checked before every dispatch: stat first, hash on a change.

    `check()` returns the code hash now on disk, or raises FingerprintError naming the
    file when a sealed file no longer hashes as sealed.
    """

    def __init__(self, plan: Plan, recorded: dict[str, str]):
        self.plan = plan
        self.sealed = {k: v for k, v in recorded.items() if k.startswith(("code:", "import:"))}
        self.hash = code_hash(self.sealed)
        paths = {k: (plan.folder / k.split(":", 1)[1]).resolve() for k in self.sealed}
        # an installed package's file is labelled inside site-packages: checked at sweep start
        self.files = {k: p for k, p in paths.items() if p.is_file()}
        self.stats = {k: self._stat(p) for k, p in self.files.items()}

    @staticmethod
    def _stat(path: Path):
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def check(self) -> str:
        for key, path in self.files.items():
            now = self._stat(path)
            if now == self.stats[key]:
                continue
            digest = seal.sha256_file(path) if now is not None else None
            if digest != self.sealed[key]:
                raise FingerprintError(
                    f"{self.plan.path}: sealed file {key.split(':', 1)[1]} changed during the "
                    f"sweep ({'removed' if digest is None else 'new sha256 ' + digest[:12]}…); "
                    "stopped before dispatching more runs. Restore it and `exante run` again, "
                    f"or record the change with `exante amend {self.plan.path} ...`")
            self.stats[key] = now  # touched, same bytes
        return self.hash
