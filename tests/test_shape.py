"""The package keeps the shape issue 12 asked for: no class over 300 lines, no function over 80, no
attribute a method sets that __init__ (or the class body) does not declare, and no checker silenced
without a rule and a reason."""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

import tidings

MAX_CLASS, MAX_FUNCTION = 300, 80
ROOT = Path(tidings.__file__).parent
FILES = sorted(ROOT.rglob("*.py"))


def _lines(node: ast.AST) -> int:
    return node.end_lineno - node.lineno + 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_long_classes_or_functions(path: Path):
    too_long = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ClassDef) and _lines(node) > MAX_CLASS:
            too_long.append(f"class {node.name}: {_lines(node)} lines")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _lines(node) > MAX_FUNCTION:
            too_long.append(f"def {node.name}: {_lines(node)} lines")
    assert not too_long, f"{path.name}: {too_long}"


def _self_targets(fn: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(fn):
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        for t in targets:
            for el in (t.elts if isinstance(t, ast.Tuple) else [t]):
                if isinstance(el, ast.Attribute) and isinstance(el.value, ast.Name) and el.value.id == "self":
                    names.add(el.attr)
    return names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_attributes_are_declared_in_init(path: Path):
    stray = []
    for cls in (n for n in ast.walk(ast.parse(path.read_text("utf-8"))) if isinstance(n, ast.ClassDef)):
        declared = set()
        for stmt in cls.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                declared.add(stmt.target.id)
            elif isinstance(stmt, ast.Assign):
                declared |= {t.id for t in stmt.targets if isinstance(t, ast.Name)}
        methods = [f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))]
        declared |= set().union(*(_self_targets(f) for f in methods if f.name == "__init__"))
        for f in methods:
            if f.name != "__init__":
                stray += [f"{cls.name}.{f.name} sets self.{a}" for a in sorted(_self_targets(f) - declared)]
    assert not stray, f"{path.name}: {stray}"


_SUPPRESSION = re.compile(r"#\s*(noqa|type:\s*ignore)\b(.*)")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_suppression_names_its_rule_and_says_why(path: Path):
    """`# noqa: CODE - why` and `# type: ignore[code]  # why`: never a bare one that silences everything."""
    bare = []
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text("utf-8")).readline):
        if tok.type != tokenize.COMMENT or not (m := _SUPPRESSION.search(tok.string)):
            continue
        kind, rest = m.groups()
        ok = (re.match(r":\s*[A-Z]+\d+(,\s*[A-Z]+\d+)*\s+-\s+\S", rest) if kind == "noqa"
              else re.match(r"\[[a-z-]+(,\s*[a-z-]+)*\]\s+#\s*\S", rest))
        if not ok:
            bare.append(f"line {tok.start[0]}: {tok.string}")
    assert not bare, f"{path.name}: {bare}"
