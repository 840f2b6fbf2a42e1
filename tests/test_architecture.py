"""The package's layers point down: the library never imports the command line, and no module imports
itself back through others (imports at any depth, function-level ones included)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import lima_hf

PACKAGE = Path(lima_hf.__file__).parent
CLI_MODULE = re.compile(r"^lima_hf\.(commands|cli|cli_args)(\.|$)")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> set[str]:
    """The lima_hf modules ``name`` imports, anywhere in the file."""
    found = set()
    package = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {module for module in found if module in MODULES and module != name}


def _mentions(name: str) -> set[str]:
    """Imports plus module names written as strings (lazy-export tables, ``importlib`` calls)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    return _imports(name) | {s for s in strings if s in MODULES}


def test_the_library_never_imports_the_command_line():
    library = [name for name in MODULES if not CLI_MODULE.match(name)]
    offenders = {name: sorted(m for m in _mentions(name) if CLI_MODULE.match(m)) for name in library}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_import_cycle():
    graph = {name: _imports(name) for name in MODULES}
    cycles, state = [], {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [name, target] if target in stack else [name, target])
            elif target not in state:
                visit(target, stack + [name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert cycles == []


def test_the_architecture_map_names_every_module():
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text[text.index("Modules, one concept each:"):]
    unnamed = []
    for name, path in MODULES.items():
        parts = name.split(".")
        if path.name == "__init__.py" or parts[-1].startswith("_") or "evaluation" in parts:
            continue  # packages, private helpers; the evaluation package maps itself (its own issue)
        relative = "/".join(parts)
        folders = ["/".join(parts[:i]) + "/*" for i in range(2, len(parts))]
        if not (f"{relative}.py" in text or any(f in text for f in folders) or re.search(rf"\b{parts[-1]}\b", table)):
            unnamed.append(name)
    assert unnamed == []
