"""Mutants of one Python module: small deliberate bugs found by walking its syntax tree, applied one at a time.

Each mutant is one change a reviewer would try: a comparison swapped or weakened, `and`/`or` swapped, `not`
dropped, a number moved by one, a flag flipped, a branch that refuses skipped, a call's statement deleted, a
returned value replaced by None, a value left out of an f-string, or one operator or keyword of an SQL string
changed. Docstrings, annotations and error messages are left alone: they change no behaviour a test can see
except wording.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass

# SQL operators and keywords, each with what a mutant puts in its place (one occurrence at a time).
_SQL_SWAPS = [
    (r"(?<=\s)<=(?=\s)", "<"), (r"(?<=\s)>=(?=\s)", ">"), (r"(?<=\s)<(?=\s)", "<="), (r"(?<=\s)>(?=\s)", ">="),
    (r"(?<=\s)=(?=\s)", "<>"), (r"\bAND\b", "OR"), (r"\bOR\b", "AND"), (r"\bNOT ", ""), (r"\bIS NULL\b", "IS NOT NULL"),
    (r"\bIS NOT NULL\b", "IS NULL"), (r"\bDESC\b", "ASC"), (r"\bASC\b", "DESC"), (r"\btrue\b", "false"),
    (r"\bfalse\b", "true"), (r"'TRAIN'", "'VALIDATION'"), (r"'VALIDATION'", "'TRAIN'"), (r"@>", "<@"),
    (r"&&", "@>"), (r"\bDISTINCT\b ?", ""), (r"\bcoalesce\(", "nullif("), (r"(?<=[^\w$.])\d+(?=[^\w.])", "+1"),
    (r"\|\| ", "|| 'x' || "),
]  # fmt: skip
_SQL_HINT = re.compile(r"\b(SELECT|WHERE|UPDATE|INSERT|DELETE|EXISTS|NULL|AND|OR|NOT|CASE|ORDER BY|FROM)\b|@>|&&")
_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
}  # fmt: skip
_OPS = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
    ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/",
    ast.FloorDiv: "//",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Mutant:
    """One change: where it is, what it does, and the key that names it across edits elsewhere in the file."""

    path: str
    line: int
    function: str
    change: str
    index: int  # among the mutants of its file, in walking order

    @property
    def key(self) -> str:
        """Names the mutant across edits elsewhere in its file (EQUIVALENT uses it)."""
        return f"{self.path}::{self.function}::{self.change}"


def _short(node: ast.AST, limit: int = 60) -> str:
    """Source text of a node, shortened for a one-line report."""
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Walker(ast.NodeTransformer):
    """Walks a module in a fixed order; lists every mutation site, or applies the one numbered `apply`."""

    def __init__(self, path: str, functions: frozenset[str] | None, apply: int | None = None) -> None:
        """`apply`: the number of the mutant to apply; None only lists them."""
        self.path, self.functions, self.apply = path, functions, apply
        self.found: list[Mutant] = []
        self.scope: list[str] = []
        self.applied = False

    def _site(self, node: ast.AST, change: str) -> bool:
        """Record a site; True when it is the one to apply now."""
        name = ".".join(self.scope) or "<module>"
        if self.functions is not None and not any(part in self.functions for part in self.scope):
            return False
        index = len(self.found)
        # Keys must be unique in a file: a change repeated in one function is told apart by its occurrence.
        seen = sum(1 for m in self.found if m.function == name and m.change.split(" #")[0] == change)
        self.found.append(
            Mutant(self.path, getattr(node, "lineno", 0), name, change + (f" #{seen + 1}" if seen else ""), index)
        )
        if index == self.apply:
            self.applied = True
            return True
        return False

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> ast.AST:
        """Mutate a function's or class's body (never its docstring, decorators or annotations)."""
        self.scope.append(node.name)
        body = node.body
        first = 1 if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else 0
        for i in range(first, len(body)):  # never the docstring, the decorators or the annotations
            body[i] = self.visit(body[i])
        if not isinstance(node, ast.ClassDef):
            node.args.defaults = [self.visit(d) for d in node.args.defaults]
            node.args.kw_defaults = [d if d is None else self.visit(d) for d in node.args.kw_defaults]
        self.scope.pop()
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_Module(self, node: ast.Module) -> ast.AST:
        """Mutate the module's statements, imports and docstring aside."""
        body = node.body[1:] if node.body and isinstance(node.body[0], ast.Expr) else node.body
        start = len(node.body) - len(body)
        for i, statement in enumerate(body):
            if isinstance(statement, ast.ImportFrom | ast.Import):
                continue
            node.body[start + i] = self.visit(statement)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        """Mutate an annotated assignment's value, never its annotation."""
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        """Parameters and their annotations stay."""
        return node

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        """What an error says is wording: whether it is raised is mutated at its `if`."""
        return node  # what an error says is wording; whether it is raised is mutated at its `if`

    def visit_Call(self, node: ast.Call) -> ast.AST:
        """Mutate a call's arguments, except those of an error built to be raised elsewhere."""
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name.endswith("Error"):
            return node  # an error built to be raised elsewhere: its message is wording too
        self.generic_visit(node)
        return node

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        """Assertions state invariants; mutating them tells nothing about the tests."""
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        """Swap or weaken the first comparison operator that has a counterpart."""
        for i, op in enumerate(node.ops):
            swap = _COMPARE_SWAPS.get(type(op))
            if swap and self._site(node, f"`{_OPS[type(op)]}` -> `{_OPS[swap]}` in `{_short(node)}`"):
                node.ops[i] = swap()
                return node
        self.generic_visit(node)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        """Swap `and` and `or`."""
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        if self._site(node, f"`{'and' if isinstance(node.op, ast.And) else 'or'}` swapped in `{_short(node)}`"):
            node.op = other
            return node
        self.generic_visit(node)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        """Swap + and -, * and /."""
        swap = _BINOP_SWAPS.get(type(node.op))
        if swap and self._site(node, f"`{_OPS[type(node.op)]}` -> `{_OPS[swap]}` in `{_short(node)}`"):
            node.op = swap()
            return node
        self.generic_visit(node)
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        """Drop a `not`."""
        if isinstance(node.op, ast.Not) and self._site(node, f"`not` dropped in `{_short(node)}`"):
            return node.operand
        self.generic_visit(node)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        """Flip a flag, move a number by one, or change an SQL string."""
        value = node.value
        if isinstance(value, bool):
            if self._site(node, f"`{value}` -> `{not value}`"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, int | float):
            if self._site(node, f"`{value!r}` -> `{value + 1!r}`"):
                return ast.copy_location(ast.Constant(value + 1), node)
        elif isinstance(value, str) and _SQL_HINT.search(value):
            return self._sql(node, value)
        return node

    def _sql(self, node: ast.Constant, text: str) -> ast.AST:
        """One mutant per SQL operator or keyword occurrence."""
        for pattern, replacement in _SQL_SWAPS:
            for match in re.finditer(pattern, text):
                old = match.group(0)
                new = str(int(old) + 1) if replacement == "+1" else replacement
                context = text[max(0, match.start() - 20) : match.end() + 20].replace("\n", " ").strip()
                if self._site(node, f"SQL `{old.strip()}` -> `{new.strip()}` near `{' '.join(context.split())}`"):
                    mutated = text[: match.start()] + new + text[match.end() :]
                    return ast.copy_location(ast.Constant(mutated), node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        """Leave one value out of a rendered line or SQL text."""
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        # Only text a user reads (lines, SQL): labels such as f"{at}.eq" name where an error is, which is wording.
        spots = enumerate(node.values) if " " in text else ()
        for i, part in spots:
            if isinstance(part, ast.FormattedValue) and self._site(
                node, f"`{{{_short(part.value, 30)}}}` left out of `{_short(node)}`"
            ):
                node.values[i] = ast.Constant("")
                return node
        for i, part in enumerate(node.values):
            if isinstance(part, ast.FormattedValue):
                part.value = self.visit(part.value)
            else:
                node.values[i] = self.visit(part)
        return node

    def visit_If(self, node: ast.If) -> ast.AST:
        """Never take a branch (a refusal skipped, when it raises)."""
        raises = any(isinstance(s, ast.Raise) for s in node.body)
        label = "refusal skipped" if raises else "branch never taken"
        if self._site(node, f"{label}: `if {_short(node.test)}`"):
            node.test = ast.Constant(False)
            return node
        self.generic_visit(node)
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        """Delete a statement that is a call."""
        call = node.value.value if isinstance(node.value, ast.Await) else node.value
        if isinstance(call, ast.Call) and self._site(node, f"statement deleted: `{_short(node)}`"):
            return ast.copy_location(ast.Pass(), node)
        self.generic_visit(node)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        """Return None instead of a value."""
        value = node.value
        returns_something = value is not None and not (isinstance(value, ast.Constant) and value.value is None)
        if returns_something and value and self._site(node, f"returns None instead of `{_short(value)}`"):
            node.value = ast.Constant(None)
            return node
        self.generic_visit(node)
        return node


def mutants(source: str, path: str, functions: frozenset[str] | None = None) -> list[Mutant]:
    """Every mutant of a module (only inside `functions`, classes or functions named so, when given)."""
    walker = _Walker(path, functions)
    walker.visit(ast.parse(source))
    return walker.found


def apply(source: str, path: str, mutant: Mutant, functions: frozenset[str] | None = None) -> str:
    """The module's source with that one mutant in it."""
    walker = _Walker(path, functions, apply=mutant.index)
    tree = walker.visit(copy.deepcopy(ast.parse(source)))
    if not walker.applied:
        raise LookupError(f"no mutant {mutant.index} in {path}")
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"
