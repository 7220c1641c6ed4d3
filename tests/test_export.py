"""Exporters: every closed form in every format agrees with SymPy's evalf at 50 digits (1e-12
relative) at 200 valid points, returns NaN where a condition fails, and carries its provenance."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from sampling import all_records, cached_valid_points, close, fixture_records, violating_points

from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.errors import UnknownNameError, UnsafeFormulaError
from inferonomics.symbolic.export import FORMATS, export, load_formula
from inferonomics.symbolic.export.to_latex import escape_text

RECORDS = all_records()
IDS = [r.name for r in RECORDS]
CC = shutil.which("cc")
NODE = shutil.which("node")


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return [tmp_path / name for name in files]


def _assert_all_close(record, got, refs, fmt):
    bad = [(i, g, r) for i, (g, r) in enumerate(zip(got, refs)) if not close(g, r)]
    assert not bad, f"{record.name} [{fmt}]: {len(bad)} of {len(refs)} points off, first {bad[0]}"


def _assert_all_nan(record, got, fmt):
    assert all(math.isnan(g) for g in got), f"{record.name} [{fmt}]: guard did not return NaN: {got}"


# -- the API -------------------------------------------------------------------------------------
def test_formats_and_unknown_format_suggests():
    assert FORMATS == ("latex", "python", "numpy", "c", "javascript", "json")
    with pytest.raises(UnknownNameError, match="did you mean javascript"):
        export(RECORDS[0], "javscript")


def test_round_trips_cover_every_formula():
    from inferonomics.symbolic.formulas import all_formulas

    assert {f.name for f in all_formulas()} <= set(IDS)
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_file_has_provenance(fmt):
    record = RECORDS[0]
    files = export(record, fmt)
    assert len(files) == (2 if fmt == "c" else 1)
    for text in files.values():
        if fmt == "json":
            prov = json.loads(text)["provenance"]
            text = json.dumps(prov)
        for needle in (f"inferonomics.symbolic.formulas:{record.name}", sp.__version__, "NaN", "inferonomics"):
            assert needle in text, (fmt, needle)


@pytest.mark.parametrize("fmt", ["python", "numpy", "c", "javascript"])
def test_args_in_documented_order_not_free_symbols_order(fmt):
    record = next(r for r in RECORDS if r.name == "fx_kv_condition")
    text = "".join(export(record, fmt).values())
    signature = ", ".join(("double " if fmt == "c" else "") + a.name for a in record.args)
    assert f"{record.name}({signature})" in text
    assert [a.name for a in record.args] != sorted(a.name for a in record.expr.free_symbols)


def test_c_pair_and_basename():
    files = export(RECORDS[0], "c", basename="out")
    assert list(files) == ["out.h", "out.c"]
    assert '#include "out.h"' in files["out.c"]


def test_printer_choices():
    pw = next(r for r in RECORDS if r.name == "fx_step_piecewise")
    assert "numpy.maximum" in export(pw, "numpy")["fx_step_piecewise_np.py"]
    assert "numpy.select" in export(pw, "numpy")["fx_step_piecewise_np.py"]
    assert "fmax(" in export(pw, "c")["fx_step_piecewise.c"] and "fmin(" in export(pw, "c")["fx_step_piecewise.c"]
    assert "Math.max(" in export(pw, "javascript")["fx_step_piecewise.mjs"]
    assert "max(" in export(pw, "python")["fx_step_piecewise.py"]
    fl = next(r for r in RECORDS if r.name == "fx_sqrt_log_exp")
    assert "0.1234567890123456" in export(fl, "c")["fx_sqrt_log_exp.c"]  # not SymPy's 15-digit default
    assert "M_PI" not in export(fl, "c")["fx_sqrt_log_exp.c"]  # POSIX, not C99
    assert "M_SQRT2" not in "".join(export(RECORDS[IDS.index("optimal_tp_degree")], "c").values())


def test_comment_text_cannot_escape_comments():
    import dataclasses

    record = dataclasses.replace(RECORDS[0], meaning="ends */ here\nx = 1 // \u2028 y\\")
    for fmt in ("python", "numpy", "c", "javascript", "latex"):
        for name, text in export(record, fmt).items():
            if fmt == "c":
                assert text.count("*/") == text.count("/*"), name
            for line in text.splitlines():
                if "ends" in line or "x = 1" in line:
                    assert line.lstrip().startswith(("#", "//", "*", "/*", "%", "'", '"')), (name, line)


def test_hostile_symbol_names_refused_by_every_exporter():
    import dataclasses

    evil = sp.Symbol("__import__('os').system('x')", positive=True)
    record = dataclasses.replace(RECORDS[0], expr=evil * s.F, args=(evil, *RECORDS[0].args))
    for fmt in FORMATS:
        with pytest.raises(UnsafeFormulaError):
            export(record, fmt)


def test_latex_equation_conditions_and_derivation():
    record = next(r for r in RECORDS if r.name == "fx_kv_condition")
    (text,) = export(record, "latex").values()
    assert record.latex() in text and r"\begin{equation}" in text and r"\label{eq:fx_kv_condition}" in text
    assert record.conditions_latex()[0] in text and "critical context" in text
    assert r"\begin{align*}" not in text
    be = RECORDS[0]
    (text,) = export(be, "latex", steps=True).values()
    for step in be.steps:
        assert step.latex().split(" = ")[0] in text
    assert r"\& solve; 100\% of N cancels." in text


def test_escape_text_keeps_inline_math():
    assert escape_text("a_b & $x_{1}$ 50%") == r"a\_b \& $x_{1}$ 50\%"


# -- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize("record", RECORDS, ids=IDS)
def test_python_round_trip(record, tmp_path):
    (path,) = _write(tmp_path, export(record, "python"))
    fn = getattr(_import(path, f"gen_py_{record.name}"), record.name)
    points, refs = cached_valid_points(record)
    _assert_all_close(record, [fn(*p) for p in points], refs, "python")
    _assert_all_nan(record, [fn(*p) for p in violating_points(record)], "python")


@pytest.mark.parametrize("record", RECORDS, ids=IDS)
def test_numpy_round_trip_vectorised(record, tmp_path):
    (path,) = _write(tmp_path, export(record, "numpy"))
    fn = getattr(_import(path, f"gen_np_{record.name}"), record.name)
    points, refs = cached_valid_points(record)
    bad = violating_points(record)
    cols = np.array(points + bad).T
    got = fn(*cols)
    assert got.shape == (len(points) + len(bad),)
    _assert_all_close(record, got[: len(points)].tolist(), refs, "numpy")
    _assert_all_nan(record, got[len(points):].tolist(), "numpy")
    # broadcasting: one array argument, the rest scalars; scalars give a scalar
    scalar = fn(*points[0])
    assert np.ndim(scalar) == 0 and close(float(scalar), refs[0])
    mixed = fn(*(np.array([p[0] for p in points[:5]]) if i == 0 else points[0][i] for i in range(len(points[0]))))
    assert np.shape(mixed) == (5,)


@pytest.mark.parametrize("record", RECORDS, ids=IDS)
def test_json_round_trip(record):
    for steps in (False, True):
        (text,) = export(record, "json", steps=steps).values()
        loaded = load_formula(text)
        assert loaded.expr == record.expr and loaded.args == record.args and loaded.conditions == record.conditions
        assert loaded.condition_text == record.condition_text and loaded.name == record.name
        assert loaded.error_bound == record.error_bound  # the MoE record's bound survives the trip
        if steps:
            assert loaded.steps == record.steps and loaded.residual == record.residual
    points, refs = cached_valid_points(record)
    from inferonomics.symbolic.numeric import compile_record

    got = compile_record(loaded)(*np.array(points).T)
    _assert_all_close(record, got.tolist(), refs, "json")


@pytest.fixture(scope="module")
def c_results(tmp_path_factory):
    """All records compiled into one C program (cc -std=c99 -Wall -Wextra -pedantic -Werror), run once."""
    if CC is None:
        pytest.skip("no C compiler `cc` on PATH: C round trip not run")
    d = tmp_path_factory.mktemp("c")
    sources = []
    for r in RECORDS:
        files = export(r, "c")
        _write(d, files)
        sources.append(d / f"{r.name}.c")
    cases = "\n".join(
        f"        case {i}: r = {rec.name}({', '.join(f'a[{j}]' for j in range(len(rec.args)))}); break;"
        for i, rec in enumerate(RECORDS))
    (d / "main.c").write_text(
        "#include <stdio.h>\n" + "".join(f'#include "{r.name}.h"\n' for r in RECORDS)
        + "static const int nargs[] = {" + ", ".join(str(len(r.args)) for r in RECORDS) + "};\n"
        + "int main(void) {\n    int idx;\n    double a[64], r = 0;\n"
        + "    while (scanf(\"%d\", &idx) == 1) {\n        int j;\n"
        + "        for (j = 0; j < nargs[idx]; j++) if (scanf(\"%lf\", &a[j]) != 1) return 1;\n"
        + "        switch (idx) {\n" + cases + "\n        default: return 2;\n        }\n"
        + "        printf(\"%.17g\\n\", r);\n    }\n    return 0;\n}\n")
    exe = d / "roundtrip"
    build = subprocess.run([CC, "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", "-o", str(exe),
                            str(d / "main.c"), *map(str, sources), "-lm"], capture_output=True, text=True)
    assert build.returncode == 0, f"generated C does not compile:\n{build.stderr[:3000]}"
    batches = []
    lines = []
    for i, r in enumerate(RECORDS):
        points, _ = cached_valid_points(r)
        bad = violating_points(r)
        batches.append((len(points), len(bad)))
        lines += [" ".join([str(i), *map(repr, p)]) for p in points + bad]
    out = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    values = [float(v) for v in out.stdout.split()]
    results, k = {}, 0
    for r, (n_ok, n_bad) in zip(RECORDS, batches):
        results[r.name] = (values[k:k + n_ok], values[k + n_ok:k + n_ok + n_bad])
        k += n_ok + n_bad
    return results


@pytest.mark.parametrize("record", RECORDS, ids=IDS)
def test_c_round_trip(record, c_results):
    got, got_bad = c_results[record.name]
    _, refs = cached_valid_points(record)
    _assert_all_close(record, got, refs, "c")
    _assert_all_nan(record, got_bad, "c")


@pytest.fixture(scope="module")
def js_results(tmp_path_factory):
    """All records as ES modules, imported and evaluated by one `node` process."""
    if NODE is None:
        pytest.skip("no `node` on PATH: JavaScript round trip not run")
    d = tmp_path_factory.mktemp("js")
    job = []
    for r in RECORDS:
        _write(d, export(r, "javascript"))
        points, _ = cached_valid_points(r)
        job.append({"module": f"./{r.name}.mjs", "name": r.name,
                    "points": [list(p) for p in points + violating_points(r)]})
    (d / "job.json").write_text(json.dumps(job))
    (d / "harness.mjs").write_text(
        "import { readFileSync } from 'node:fs';\n"
        "const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));\n"
        "const out = {};\n"
        "for (const item of job) {\n"
        "  const mod = await import(item.module);\n"
        "  out[item.name] = item.points.map((p) => mod[item.name](...p));\n"
        "}\n"
        "process.stdout.write(JSON.stringify(out));\n")
    run = subprocess.run([NODE, str(d / "harness.mjs"), str(d / "job.json")], capture_output=True, text=True,
                         check=True, cwd=d)
    raw = json.loads(run.stdout)  # JSON has no NaN: node writes null
    return {name: [math.nan if v is None else float(v) for v in vals] for name, vals in raw.items()}


@pytest.mark.parametrize("record", RECORDS, ids=IDS)
def test_javascript_round_trip(record, js_results):
    points, refs = cached_valid_points(record)
    got = js_results[record.name]
    _assert_all_close(record, got[: len(points)], refs, "javascript")
    _assert_all_nan(record, got[len(points):], "javascript")


def test_piecewise_without_default_is_nan_outside_its_pieces(tmp_path):
    from inferonomics.symbolic.numeric import compile_record

    record = next(r for r in RECORDS if r.name == "fx_piecewise_and")
    outside = (16.0, 8192.0)  # batch > 8 and context >= 4096: no piece applies
    paths = _write(tmp_path, {**export(record, "python"), **export(record, "numpy")})
    assert math.isnan(getattr(_import(paths[0], "gen_pw_py"), record.name)(*outside))
    assert np.isnan(getattr(_import(paths[1], "gen_pw_np"), record.name)(*outside))
    assert np.isnan(compile_record(record)(*outside))
    assert "NAN" in export(record, "c")["fx_piecewise_and.c"]
    assert "NaN" in export(record, "javascript")["fx_piecewise_and.mjs"]


def test_fixture_records_exercise_every_printed_node_type():
    kinds = set()
    for r in fixture_records():
        for e in (r.expr, *r.conditions):
            kinds |= {type(a).__name__ for a in sp.preorder_traversal(e)}
    for k in ("Add", "Mul", "Pow", "Max", "Min", "Piecewise", "Abs", "log", "exp", "Rational", "Float", "Pi", "And",
              "StrictLessThan", "StrictGreaterThan"):
        assert k in kinds, k


def test_repr_latex_for_jupyter():
    record = RECORDS[0]
    assert record._repr_latex_() == f"$\\displaystyle {record.latex()}$"
    loaded = load_formula(export(record, "json")[f"{record.name}.json"])
    assert loaded._repr_latex_() == record._repr_latex_()


# -- the CLI -------------------------------------------------------------------------------------
def _cli(argv, capsys):
    from inferonomics.optimize.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_export_one_formula_to_stdout_and_file(tmp_path, capsys):
    code, out, _ = _cli(["export", "--formula", "utilization", "--format", "python"], capsys)
    assert code == 0 and "def utilization(" in out
    target = tmp_path / "u.py"
    code, _, _ = _cli(["export", "--formula", "utilization", "--format", "python", "-o", str(target)], capsys)
    assert code == 0 and "def utilization(" in target.read_text()
    code, _, _ = _cli(["export", "--formula", "utilization", "--format", "c", "-o", str(tmp_path / "u.c")], capsys)
    assert code == 0 and '#include "u.h"' in (tmp_path / "u.c").read_text() and (tmp_path / "u.h").exists()
    code, _, _ = _cli(["export", "--formula", "break_even_batch", "--format", "latex", "--steps",
                       "-o", str(tmp_path / "b.tex")], capsys)
    assert code == 0 and r"\begin{align*}" in (tmp_path / "b.tex").read_text()


def test_cli_export_all_formats_to_a_folder(tmp_path, capsys):
    from inferonomics.symbolic.formulas import all_formulas

    code, _, _ = _cli(["export", "--all", "--format", "all", "-o", str(tmp_path / "out")], capsys)
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(names) == 7 * len(all_formulas())  # tex, py, _np.py, h, c, mjs, json
    assert not [n for n in names if n.endswith(".tmp")]
    code, _, _ = _cli(["export", "--all", "--format", "json", "-o", str(tmp_path / "j")], capsys)
    assert code == 0 and len(list((tmp_path / "j").iterdir())) == len(all_formulas())


@pytest.mark.parametrize("argv, needle", [
    (["export", "--formula", "utilizaton", "--format", "c"], "did you mean utilization"),
    (["export", "--formula", "utilization", "--format", "jsn"], "did you mean json"),
])
def test_cli_unknown_names_one_line_exit_2(argv, needle, capsys):
    code, out, err = _cli(argv, capsys)
    assert code == 2 and needle in err and err.count("\n") == 1 and out == ""


def test_cli_unwritable_output_one_line_exit_2_and_nothing_half_written(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    code, _, err = _cli(["export", "--formula", "utilization", "--format", "python", "-o", str(blocker / "x.py")],
                        capsys)
    assert code == 2 and err.count("\n") == 1 and "-o" in err
    existing = tmp_path / "dir"
    existing.mkdir()
    code, _, err = _cli(["export", "--formula", "utilization", "--format", "python", "-o", str(existing)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"] and not list(existing.iterdir())
    assert blocker.read_text() == "keep"


def test_cli_import_formula(tmp_path, capsys):
    path = tmp_path / "k.json"
    _cli(["export", "--formula", "break_even_batch_with_kv", "--format", "json", "-o", str(path)], capsys)
    code, out, _ = _cli(["import-formula", str(path)], capsys)
    assert code == 0 and out.startswith("break_even_batch_with_kv(total_params, ") and "valid when" in out
    code, out, _ = _cli(["import-formula", str(path), "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and set(data) == {"name", "expression", "args", "conditions"}
    assert data["args"][0] == "total_params" and len(data["conditions"]) == 1


@pytest.mark.parametrize("text", [
    "{not json",
    json.dumps({"schema": "inferonomics.formula/1", "name": "f", "expr": {"symbol": "__import__('os')"}, "args": []}),
    json.dumps({"schema": "inferonomics.formula/1", "name": "f", "expr": {"op": "Lambda", "args": []}, "args": []}),
])
def test_cli_import_hostile_or_malformed_one_line_exit_2(text, tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(text)
    code, out, err = _cli(["import-formula", str(path)], capsys)
    assert code == 2 and err.count("\n") == 1 and out == ""
    code, _, err = _cli(["import-formula", str(tmp_path / "absent.json")], capsys)
    assert code == 2 and err.count("\n") == 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
