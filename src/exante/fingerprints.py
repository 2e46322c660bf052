"""The fingerprints of what a plan or a bet module runs and reads, and their re-check.

`fingerprints` hashes every file a YAML plan depends on: the trial's module or
script and everything under `code:` (`code_files`), the project modules those
import (`closure_files`, labelled `import:`), and its data files or generated
data sets. `bet_fingerprints` does the same for a bet module and the files it
imports from its own folder. `check_fingerprints` and `check_bet_code` compare
them with what the lock recorded and raise FingerprintError naming each file
that changed. `registration` records them at lock and amend.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

from . import seal
from .errors import FingerprintError, InputError
from .spec import Plan



def code_files(plan: Plan) -> list[Path]:
    """The files the plan runs: the trial's module or script, and everything under `code:`."""
    files: list[Path] = []
    trial = plan.trial
    if trial is not None and trial.target:
        files += _module_files(trial.target.split(":")[0], plan)
    if trial is not None and trial.kind == "hydra":  # its composed config is code too
        conf = plan.folder / trial.hydra["config_path"]
        files += sorted(p for p in conf.rglob("*") if p.suffix in (".yaml", ".yml"))
    if trial is not None and trial.kind == "command":
        cwd = plan.folder / (trial.cwd or ".")
        for token in trial.argv:
            if "{" not in token and (cwd / token).is_file():
                files.append(cwd / token)
    for entry in plan.code:
        path = plan.folder / entry
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{plan.path}: code: {entry}: no such file or folder")
    return sorted(set(p.resolve() for p in files))


def project_roots(plan: Plan) -> list[Path]:
    """Where the project's own modules live: the plan's folder and `trial.pythonpath`."""
    pythonpath = plan.trial.pythonpath if plan.trial is not None else ()
    return [plan.folder.resolve(), *((plan.folder / p).resolve() for p in pythonpath)]


def _module_files(module: str, plan: Plan) -> list[Path]:
    from .closure import local_module_file

    # the project's own file first: find_spec would answer from sys.modules, i.e. the
    # module of another experiment that shares this name and was imported in this process
    local = local_module_file(module, project_roots(plan))
    if local is not None:
        return [local]
    extra = [str(plan.folder)] + [str((plan.folder / p).resolve()) for p in plan.trial.pythonpath]
    added = [p for p in extra if p not in sys.path]
    sys.path[:0] = added
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        raise InputError(f"{plan.path}: trial: cannot find module {module!r}: {exc}") from exc
    finally:
        for p in added:
            sys.path.remove(p)
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise InputError(f"{plan.path}: trial: cannot find module {module!r} (is the package "
                         "installed, or the module next to the plan or on trial.pythonpath?)")
    return [Path(spec.origin)]


def _label(path: Path, plan: Plan) -> str:
    """The file relative to the plan's folder (`..` allowed), so a clone elsewhere still matches.

    Files of installed packages are named by their path inside site-packages.
    """
    import os

    resolved = path.resolve()
    for parent in resolved.parents:
        if parent.name in ("site-packages", "dist-packages"):
            return str(resolved.relative_to(parent))
    return os.path.relpath(resolved, plan.folder.resolve())


def closure_files(plan: Plan) -> list[Path]:
    """Project files the trial's module or a Python command script imports (not site-packages)."""
    from .closure import import_closure

    entries = [p for p in code_files(plan) if p.suffix == ".py"]
    roots = project_roots(plan)
    sealed = set(entries)
    found: set[Path] = set()
    for entry in entries:
        found |= set(import_closure(entry, [*roots, entry.parent]))
    return sorted(found - sealed)


def fingerprints(plan: Plan) -> dict[str, str]:
    """sha256 of every code and data file (and generated data set) the plan depends on.

    `import:` entries are the project modules the trial imports (see `closure`).
    """
    prints = {f"code:{_label(p, plan)}": seal.sha256_file(p) for p in code_files(plan)}
    prints.update({f"import:{_label(p, plan)}": seal.sha256_file(p) for p in closure_files(plan)})
    for entry in plan.data:
        if entry.path is not None:
            path = plan.folder / entry.path
            if not path.is_file():
                raise InputError(f"{plan.path}: data: {entry.path}: no such file")
            prints[f"data:{entry.path}"] = seal.sha256_file(path)
        else:
            prints[f"data:{entry.generator}"] = _generated(plan, entry)
    return prints


def _generated(plan: Plan, entry) -> str:
    """A data generator's fingerprint; its failure (even sys.exit) is one input error."""
    from .errors import ControlSignal
    from .trials import resolve

    try:
        return str(resolve(entry.generator, plan.folder)(dict(entry.params)))
    except (ControlSignal, InputError):
        raise
    except BaseException as exc:
        raise InputError(f"{plan.path}: data: generator {entry.generator} failed: "
                         f"{type(exc).__name__}: {exc}") from None


def check_fingerprints(plan: Plan, recorded: dict[str, str]) -> None:
    """Raise FingerprintError naming every file that changed since the lock or last amendment."""
    now = fingerprints(plan)
    if not any(k.startswith("import:") for k in recorded):  # locked before imports were sealed
        now = {k: v for k, v in now.items() if not k.startswith("import:")}
    changed = sorted(k for k in recorded.keys() & now.keys() if recorded[k] != now[k])
    added = sorted(now.keys() - recorded.keys())
    gone = sorted(recorded.keys() - now.keys())
    if changed or added or gone:
        parts = [f"changed: {', '.join(changed)}"] if changed else []
        parts += [f"new: {', '.join(added)}"] if added else []
        parts += [f"missing: {', '.join(gone)}"] if gone else []
        raise FingerprintError(f"{plan.path}: sealed code/data changed since the lock ({'; '.join(parts)}). "
                               f"Refusing to run. Restore the files, or record the change with "
                               f"`exante amend {plan.path} --reason ... --seen ...`")



def bet_code_files(module: Path) -> list[Path]:
    """The files a bet module imports from its own folder or below (`from ._common import ...`,
    `import _common`, `from experiments.bets._common import ...`), followed through those
    files: sealed with the module. The walk is the trial seal's (`closure.import_closure`),
    rooted at the bet's folder and every folder above it."""
    from .closure import import_closure

    module = Path(module).resolve()
    home = module.parent
    deps = [p for p in import_closure(module, [home, *home.parents])
            if p != module and (p.parent == home or home in p.parents)]
    for dep in deps:  # a broken import is refused at lock, as the bet module itself is
        try:
            ast.parse(dep.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError) as exc:
            raise InputError(f"{dep}: not a Python module ({exc})") from exc
    return deps


def bet_fingerprints(module: Path) -> dict[str, str]:
    """sha256 of every file the bet imports from its folder, labelled as YAML plans label code."""
    import os

    folder = Path(module).resolve().parent
    return {f"code:{os.path.relpath(p, folder)}": seal.sha256_file(p)
            for p in bet_code_files(module)}

def check_bet_code(path: Path, recorded: dict[str, str]) -> None:
    """Raise FingerprintError naming every imported file that changed since the lock."""
    now = bet_fingerprints(path)
    changed = sorted(k for k in now.keys() | recorded.keys() if now.get(k) != recorded.get(k))
    if changed:
        raise FingerprintError(f"{seal.TAMPERED} {path}: code the bet imports changed since "
                               f"the lock ({', '.join(changed)}); restore the files, or record "
                               f"the change with `exante amend {path} --reason ... --seen ...`")
