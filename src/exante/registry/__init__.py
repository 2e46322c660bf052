"""The registry: the catalogue (rollup), retractions, ladders, postmortems and the audit.

    build_catalogue(root)        every experiment under root, retractions resolved
    rollup(root)                 SUMMARY.md, SUMMARY.json, index.html
    write_postmortem(id, root)   postmortem.md template (never overwrites)
    postmortem_status(folder)    'written' | 'draft' | 'missing'
    audit(root)                  rows: chain, seal, result-after-lock, fingerprints, git order
"""

from .audit import AuditRow, audit, audit_failed
from .catalogue import Catalogue, Entry, build_catalogue, find_entry
from .postmortem import MARKER, postmortem_status, write_postmortem
from .rollup import rollup

__all__ = [
    "MARKER", "AuditRow", "Catalogue", "Entry", "audit", "audit_failed", "build_catalogue",
    "find_entry", "postmortem_status", "rollup", "write_postmortem",
]
