"""The JSON importer builds SymPy objects from a whitelist, never eval/sympify: hostile payloads fail
with one-line UnsafeFormulaError (or SpecError for a malformed file), and no code ever runs."""

from __future__ import annotations

import json

import pytest
import sympy as sp
from sampling import all_records

from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.closedform import ClosedForm
from inferonomics.symbolic.errors import SpecError, UnsafeFormulaError
from inferonomics.symbolic.export import LoadedFormula, check_identifier, export, load_formula
from inferonomics.symbolic.export.tree import to_tree

X = {"symbol": "batch"}


def doc(expr, args=("batch",), conditions=(), **extra):
    d = {"schema": "inferonomics.formula/1", "name": "f", "expr": expr,
         "args": [{"name": a} for a in args], "conditions": [{"tree": c, "text": "t"} for c in conditions]}
    d.update(extra)
    return json.dumps(d)


def test_light_record_without_steps_and_full_record_with_them():
    record = all_records()[0]
    light = load_formula(export(record, "json")[f"{record.name}.json"])
    assert isinstance(light, LoadedFormula) and light.expr == record.expr and light.args == record.args
    full = load_formula(export(record, "json", steps=True)[f"{record.name}.json"])
    assert isinstance(full, ClosedForm) and full.steps == record.steps


def test_loads_from_a_path(tmp_path):
    record = all_records()[-1]
    path = tmp_path / "f.json"
    path.write_text(export(record, "json")[f"{record.name}.json"])
    assert load_formula(path).expr == record.expr
    assert load_formula(str(path)).expr == record.expr


def test_big_integers_up_to_the_limit_round_trip():
    big = sp.Integer(7) ** 1183  # 1000 digits: the limit (no exported formula comes near it)
    loaded = load_formula(doc(to_tree(big * s.B)))
    assert loaded.expr == big * s.B
    with pytest.raises(UnsafeFormulaError, match="digits"):  # 7**1184 has 1001
        load_formula(doc(to_tree(big * 7 * s.B)))


HOSTILE = {
    "code as symbol name": {"symbol": "__import__('os').system('touch /tmp/inferonomics_pwned')"},
    "dunder name": {"symbol": "__class__"},
    "leading underscore": {"symbol": "_x"},
    "attribute-like name": {"symbol": "os.system"},
    "python keyword": {"symbol": "lambda"},
    "js reserved word": {"symbol": "constructor_x", "assumptions": {"__class__": True}},
    "non-ascii name": {"symbol": "b\u00e4tch"},
    "lambda op": {"op": "Lambda", "args": [X, X]},
    "dunder op": {"op": "__class__", "args": []},
    "function op": {"op": "Function", "args": [X]},
    "eval op": {"op": "eval", "args": [{"int": "1"}]},
    "op not a string": {"op": ["Add"], "args": [X, X]},
    "unknown key": {"symbol": "batch", "__reduce__": "x"},
    "not an object": ["Add", X],
    "nan float": {"float": "nan"},
    "inf float": {"float": "inf"},
    "float code": {"float": "__import__('os')"},
    "string int": {"int": "os.system"},
    "int in exponent form": {"int": "1e5"},
    "number where string belongs": {"int": 5},
    "rational numbers": {"rational": [1, 2]},
    "rational zero denominator": {"rational": ["1", "0"]},
    "huge integer": {"int": "9" * (10**6 + 5)},
    "power bomb": {"op": "Pow", "args": [{"int": "10"}, {"int": "1000000000"}]},
    "wrong arity": {"op": "Pow", "args": [X]},
    "bool in arithmetic": {"op": "Add", "args": [X, {"bool": True}]},
    "notation outside steps": {"notation": "t_{compute}"},
    "derivative outside steps": {"op": "Derivative", "args": [X, X]},
    "unknown constant": {"const": "oo"},
    "piecewise bad piece": {"op": "Piecewise", "args": [[X, {"bool": True}]]},
    "piecewise expr as cond": {"op": "Piecewise", "args": [{"expr": X, "cond": X}]},
}


@pytest.mark.parametrize("node", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_nodes_are_refused_in_one_line(node, tmp_path):
    with pytest.raises(UnsafeFormulaError) as info:
        load_formula(doc(node))
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_no_code_ran():
    import os

    with pytest.raises(UnsafeFormulaError):
        load_formula(doc(HOSTILE["code as symbol name"]))
    assert not os.path.exists("/tmp/inferonomics_pwned")


def test_depth_bombs():
    node = X
    for _ in range(300):
        node = {"op": "Abs", "args": [node]}
    with pytest.raises(UnsafeFormulaError, match="deeper than 200"):
        load_formula(doc(node))
    text = '{"schema": "inferonomics.formula/1", "name": "f", "expr": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(UnsafeFormulaError):
        load_formula(text)


def test_node_count_bomb():
    with pytest.raises(UnsafeFormulaError):  # 4 MB: over the text limit before any node is built
        load_formula(doc({"op": "Add", "args": [X] * 200_001}))
    with pytest.raises(UnsafeFormulaError, match="nodes"):  # one operation's arguments
        load_formula(doc({"op": "Add", "args": [X] * 65}))
    node = X  # 40 levels of 60 arguments: 2,401 nodes, each operation within its limit
    for _ in range(40):
        node = {"op": "Add", "args": [node] + [X] * 59}
    with pytest.raises(UnsafeFormulaError, match="more than 2000 nodes"):
        load_formula(doc(node))


def test_json_nan_constant_refused():
    with pytest.raises(UnsafeFormulaError, match="NaN"):
        load_formula('{"schema": "inferonomics.formula/1", "name": "f", "expr": {"float": NaN}}')


def test_hostile_names_in_args_conditions_and_formula_name():
    with pytest.raises(UnsafeFormulaError):
        load_formula(doc(X, args=("batch", "__builtins__")))
    with pytest.raises(UnsafeFormulaError):
        load_formula(doc(X, conditions=[{"op": "Gt", "args": [{"symbol": "import"}, X]}]))
    bad_name = json.loads(doc(X))
    bad_name["name"] = "f; import os"
    with pytest.raises(UnsafeFormulaError):
        load_formula(json.dumps(bad_name))
    with pytest.raises(UnsafeFormulaError):  # a condition must be a condition, not an expression
        load_formula(doc(X, conditions=[X]))


@pytest.mark.parametrize("text, field", [
    ("{not json", "json"),
    ('{"schema": "other/1"}', "schema"),
    (doc(X, args=()), "args"),
    (doc(X, sha256="0" * 64), "sha256"),
    (doc(X, conditions=[{"op": "Gt", "args": [X, {"int": "1"}]}], steps="nope"), "steps"),
])
def test_malformed_documents_are_spec_errors(text, field):
    with pytest.raises(SpecError) as info:
        load_formula(text)
    assert info.value.field == field


def test_edited_tree_fails_the_hash():
    record = all_records()[0]
    d = json.loads(export(record, "json")[f"{record.name}.json"])
    d["expr"] = {"op": "Mul", "args": [{"int": "2"}, d["expr"]]}
    with pytest.raises(SpecError, match="sha256"):
        load_formula(json.dumps(d))


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="readable"):
        load_formula(tmp_path / "absent.json")


@pytest.mark.parametrize("name", ["batch", "t_o", "x1"])
def test_check_identifier_accepts_plain_names(name):
    assert check_identifier(name) == name


@pytest.mark.parametrize("name", ["__import__", "_x", "1x", "a.b", "a b", "class", "while", "Math", "numpy", "NAN",
                                  "x" * 101, "f()", "", "\u03b2"])
def test_check_identifier_refuses(name):
    with pytest.raises(UnsafeFormulaError):
        check_identifier(name)
