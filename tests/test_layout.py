"""Imports run one way (README, "Layout"): entry point -> CLI -> runners -> pipeline -> components ->
modules, the model client beside the pipeline; and no module imports itself back through others."""
import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

# Lower ranks are imported by higher ones, never the reverse.
RANKS = {"modules": 0, "components": 1, "pipeline": 2, "client": 2, "kubeflow": 3, "cli.local": 3, "cli": 4,
         "local_runner": 5}
PACKAGES = ("modules", "components", "pipeline", "client", "kubeflow", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def rank(module: str) -> int:
    return next(RANKS[prefix] for prefix in sorted(RANKS, key=len, reverse=True)
                if module == prefix or module.startswith(prefix + "."))


def project_imports(path: Path) -> set:
    """Every project module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name.split(".")[0] in PACKAGES + ("local_runner",)}
    return found


def graph() -> dict:
    files = [REPO_ROOT / "local_runner.py"] + [
        p for package in PACKAGES for p in (REPO_ROOT / package).rglob("*.py")]
    modules = {module_name(p): p for p in files}
    # "from components import ids" names a module; "from pipeline import configs" too: keep what exists.
    return {name: {i for i in project_imports(path) if i in modules and i != name} for name, path in modules.items()}


def test_every_import_goes_down_the_layers():
    wrong = [(module, imported) for module, imports in graph().items() for imported in imports
             if rank(imported) > rank(module) or (rank(imported) == rank(module)
                                                  and imported.split(".")[0] != module.split(".")[0])]
    assert not wrong, wrong


def test_no_import_circle():
    edges = graph()
    state = {}

    def visit(module, path):
        state[module] = "open"
        for imported in edges[module]:
            assert state.get(imported) != "open", " -> ".join(path + [imported])
            if imported not in state:
                visit(imported, path + [imported])
        state[module] = "done"

    for module in edges:
        if module not in state:
            visit(module, [module])
