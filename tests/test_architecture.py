"""Dependencies point one way: every import in src/exante against ARCHITECTURE.md's layers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "exante"


def layers() -> dict[str, int]:
    rows = re.findall(r"^\| L(\d) \| ([^|]+) \|$", (ROOT / "ARCHITECTURE.md").read_text(), re.M)
    return {name: int(n) for n, names in rows for name in names.split()}


def exceptions() -> set[tuple[str, str]]:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    return set(re.findall(r"^\| (\w+) \| (\w+) \| [^|]+ \|$", text, re.M))


def imports() -> list[tuple[str, str, int, str]]:
    """(importing top-level module, imported top-level module, line, file) for every import."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        package = ("exante", *parts[:-1])
        here = parts[0] if len(parts) > 1 or parts[0] != "__init__" else "exante"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.level:
                base = list(package[:len(package) - node.level + 1])
                if node.module:
                    targets.append(base + node.module.split("."))
                else:
                    targets += [base + [a.name] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("exante"):
                targets.append(node.module.split("."))
            elif isinstance(node, ast.Import):
                targets += [a.name.split(".") for a in node.names if a.name.startswith("exante")]
            for t in targets:
                there = t[1] if len(t) > 1 else "exante"
                if there != here:
                    out.append((here, there, node.lineno, str(path.relative_to(SRC.parent))))
    return out


def test_every_module_is_on_the_map():
    known = layers()
    modules = {p.stem if p.is_file() else p.name for p in SRC.iterdir()
               if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert modules - set(known) == set(), "add these modules to ARCHITECTURE.md's layer table"


def test_imports_point_down_the_layers():
    known = layers()
    wrong = [f"{file}:{line}: {a} (L{known[a]}) imports {b} (L{known[b]})"
             for a, b, line, file in imports()
             if known[b] > known[a] and (a, b) not in exceptions()]
    assert wrong == [], "\n".join(wrong)


def test_decide_never_imports_the_runner_or_an_executor_and_stats_only_names():
    bad = [f"{file}:{line}: {a} imports {b}" for a, b, line, file in imports()
           if (a == "decide" and b in ("runner", "executors", "trials"))
           or (a == "stats" and b not in ("errors", "verdicts"))]
    assert bad == [], "\n".join(bad)


def test_the_checker_catches_a_wrong_import(tmp_path, monkeypatch):
    """The test itself can fail: plant an upward import and see it reported."""
    fake = tmp_path / "src" / "exante"
    fake.mkdir(parents=True)
    (fake / "spec.py").write_text("from .runner import run\n")
    monkeypatch.setattr(__import__(__name__), "SRC", fake)
    assert [(a, b) for a, b, _, _ in imports()] == [("spec", "runner")]
    assert layers()["runner"] > layers()["spec"]
