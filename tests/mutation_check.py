"""Plant known bugs one at a time and show that tests of independently computed values catch each one.

Not collected by pytest (no ``test_`` prefix). Run from the repository root in the test environment:

    python tests/mutation_check.py            # every mutant; prints one line each and "N/M mutants caught"
    python tests/mutation_check.py -k ring    # only mutants whose name contains "ring"

Each mutant is a string replacement in a temporary copy of the source tree (the working tree is never
touched), imported ahead of the installed package through PYTHONPATH. For each mutant only its relevant
tests run, and never a snapshot test (the golden LaTeX strings, the derivations-current check), which fails
on any edit and so proves nothing: a mutant counts as caught only when a test that compares the code with a
value computed by hand, by brute force or by a second numerical method fails. The unmutated copy must pass
the same tests first, or the check stops.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AUDIT = "tests/test_math_audit.py::"


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository root
    old: str
    new: str
    tests: tuple[str, ...]  # pytest node ids, relative to the repository root
    count: int = 1  # occurrences of ``old`` replaced (all of them; the check insists on this many)


MUTANTS = (
    Mutant("latency_floor counts t hops, not t - 1", "symbolic/forms_roofline.py",
           "latency = roof1 + 2 * s.L * s.n_ar * (s.t - 1) * s.alpha",
           "latency = roof1 + 2 * s.L * s.n_ar * s.t * s.alpha",
           (AUDIT + "test_latency_floor_includes_the_per_layer_cost",)),
    Mutant("latency_floor drops the per-layer cost L t_layer", "symbolic/forms_roofline.py",
           "(s.t - 1) * s.alpha + s.L * e.t_layer + e.t_o", "(s.t - 1) * s.alpha + e.t_o",
           (AUDIT + "test_latency_floor_includes_the_per_layer_cost",)),
    Mutant("min_user_base divides by rho_tr (swing inverted)", "symbolic/forms_economics.py",
           "expr = s.MINUTES_PER_DAY * s.C * s.rho_tr / s.m", "expr = s.MINUTES_PER_DAY * s.C / (s.rho_tr * s.m)",
           (AUDIT + "test_min_user_base_keeps_c_users_active_at_the_trough",)),
    Mutant("fleet demand divides by the peak-to-mean ratio", "optimize/constraints.py",
           "* peak_to_mean * tokens_per_active_minute / 60", "/ peak_to_mean * tokens_per_active_minute / 60",
           (AUDIT + "test_demand_from_users_sizes_the_fleet_for_the_peak_of_the_day",)),
    Mutant("API crossover: 60 seconds an hour", "symbolic/forms_economics.py", "/ (3600 * s.api)", "/ (60 * s.api)",
           (AUDIT + "test_api_price_crossover_by_hand_and_by_the_step_model",)),
    Mutant("step model splits the KV cache over t chips", "symbolic/model.py",
           "return Min(s.t, s.h_kv)", "return s.t",
           (AUDIT + "test_each_chip_reads_whole_kv_heads",)),
    Mutant("closed forms ignore KV replication", "symbolic/forms_common.py",
           "_r = Max(1, s.t / s.h_kv)", "_r = sp.S.One",
           (AUDIT + "test_llama70b_critical_context_halves_from_tp8_to_tp16",)),
    Mutant("solver memory splits the KV cache over t chips", "optimize/option_eval.py",
           'return min(vec[INDEX["tp"]], vec[INDEX["n_kv_heads"]])', 'return vec[INDEX["tp"]]',
           (AUDIT + "test_solver_memory_counts_replicated_kv_heads",)),
    Mutant("sweep memory splits the KV cache over t chips", "optimize/sweep.py",
           'v.get("kv_bytes_per_token", 0.0) / min(t, v["n_kv_heads"])', 'v.get("kv_bytes_per_token", 0.0) / t',
           (AUDIT + "test_sweep_memory_counts_replicated_kv_heads",)),
    Mutant("mixed steps all-reduce the decoded tokens only", "symbolic/model.py",
           "t_comm(s.B + prefill)", "t_comm(s.B)",
           (AUDIT + "test_mixed_step_all_reduces_decoded_and_prompt_tokens",), count=2),
    Mutant("ring all-reduce pays t - 1 hop latencies, not 2(t - 1)", "symbolic/model.py",
           "return 2 * (s.t - 1) * s.alpha + ", "return (s.t - 1) * s.alpha + ",
           (AUDIT + "test_mixed_step_all_reduces_decoded_and_prompt_tokens",)),
    Mutant("sqrt-law optimum raised to 1/2, not 2/3", "symbolic/forms_tp.py",
           "(2 * s.N * s.b_w / (s.alpha_s * s.L * s.n_ar * s.W)) ** Rational(2, 3)",
           "(2 * s.N * s.b_w / (s.alpha_s * s.L * s.n_ar * s.W)) ** Rational(1, 2)",
           (AUDIT + "test_sqrt_law_optimum_is_the_numeric_minimum",)),
    Mutant("ring optimum loses its factor 2", "symbolic/forms_tp.py",
           "expr = sqrt(s.N * s.b_w / (2 * e.eta_W * s.W * s.L * s.n_ar * s.alpha))",
           "expr = sqrt(s.N * s.b_w / (e.eta_W * s.W * s.L * s.n_ar * s.alpha))",
           (AUDIT + "test_ring_law_optimum_is_the_numeric_minimum_and_the_laws_scale_differently",)),
    Mutant("MoE record drops its B_lo >= 1 condition", "symbolic/forms_roofline.py",
           ">= 2 * s.Na * s.W,),", ">= 0 * s.Na * s.W,),",
           (AUDIT + "test_moe_bound_fails_without_its_condition",)),
    Mutant("break-even batch counts one FLOP per weight", "symbolic/forms_roofline.py",
           "expr = e.eta_F * s.F * s.b_w / (2 * e.eta_W * s.W)", "expr = e.eta_F * s.F * s.b_w / (e.eta_W * s.W)",
           ("tests/test_anchors.py::test_kipply_a100_critical_ratio",)),
    Mutant("matmuls do one FLOP per parameter", "symbolic/model.py",
           "return 2 * s.Na * (batch + prefill)", "return s.Na * (batch + prefill)",
           ("tests/test_anchors.py::test_essay_compute_time",)),
    Mutant("critical context loses its factor 2", "symbolic/forms_roofline.py",
           "expr = 2 * s.N * e.eta_kv * s.W / (s.kv", "expr = s.N * e.eta_kv * s.W / (s.kv",
           (AUDIT + "test_llama70b_critical_context_halves_from_tp8_to_tp16",)),
    Mutant("break-even with KV adds the cache term", "symbolic/forms_roofline.py",
           "(2 * s.N * e.eta_kv * s.W - s.ctx", "(2 * s.N * e.eta_kv * s.W + s.ctx",
           (AUDIT + "test_break_even_with_kv_diverges_at_the_critical_context",)),
    Mutant("utilization counts one FLOP per weight", "symbolic/forms_roofline.py",
           "memory_arm = 2 * s.N * s.B * s.W", "memory_arm = s.N * s.B * s.W",
           ("tests/test_formulas.py::test_utilization_regimes",)),
)

#: snapshot tests: never run here (they fail on any edit, so they prove nothing about a mutant)
SNAPSHOTS = ("tests/test_latex_golden.py", "tests/test_derivations.py::test_committed_derivations_are_current")


def _copy_tree(dest: Path) -> Path:
    """A copy of the repository beside a ``shared`` link, with an import path that shadows the install."""
    repo = dest / "repo"
    skip = shutil.ignore_patterns("__pycache__", ".git", ".hypothesis", "*.pyc")
    for name in ("symbolic", "optimize", "tests", "derivations"):
        shutil.copytree(ROOT / name, repo / name, ignore=skip)
    shutil.copy2(ROOT / "pyproject.toml", repo / "pyproject.toml")
    if (ROOT.parent / "shared").is_dir():  # tests read ../shared beside the checkout
        (dest / "shared").symlink_to(ROOT.parent / "shared")
    pkg = dest / "path" / "inferonomics"
    pkg.mkdir(parents=True)
    for name in ("symbolic", "optimize"):
        (pkg / name).symlink_to(repo / name)
    return repo


def _run(repo: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess:
    for t in tests:
        if t.startswith(SNAPSHOTS):
            raise SystemExit(f"mutation_check: {t} is a snapshot test; pick a test of an independent value")
    env = dict(os.environ, PYTHONPATH=str(repo.parent / "path"), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", default="", help="only mutants whose name contains this text")
    args = ap.parse_args(argv)
    mutants = [m for m in MUTANTS if args.k in m.name]
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        repo = _copy_tree(Path(tmp))
        every = tuple(dict.fromkeys(t for m in mutants for t in m.tests))
        base = _run(repo, every)
        if base.returncode != 0:
            print(base.stdout[-3000:], base.stderr[-2000:])
            print("mutation_check: the unmutated tree fails its tests; nothing to compare against")
            return 2
        # the copy really is what the tests import (else every mutant would look survived)
        probe = subprocess.run([sys.executable, "-c", "import inferonomics.symbolic.formulas as f; print(f.__file__)"],
                               env=dict(os.environ, PYTHONPATH=str(repo.parent / "path")), capture_output=True,
                               text=True, cwd=repo)
        if not probe.stdout.strip().startswith(str(repo.parent)):
            print(f"mutation_check: the copy is not imported first ({probe.stdout.strip() or probe.stderr[-500:]})")
            return 2
        caught = 0
        for m in mutants:
            path = repo / m.path
            original = path.read_text()
            if original.count(m.old) != m.count:
                print(f"mutation_check: {m.name}: expected {m.count} x {m.old!r} in {m.path}, found "
                      f"{original.count(m.old)} (update the mutant)")
                return 2
            path.write_text(original.replace(m.old, m.new))
            try:
                res = _run(repo, m.tests)
            finally:
                path.write_text(original)
            ok = res.returncode == 1  # 1: a test failed; 2+ would be an error of the run itself
            caught += ok
            failed = next((ln for ln in res.stdout.splitlines() if ln.startswith("FAILED")), "")
            verdict = "caught" if ok else f"SURVIVED (pytest exit {res.returncode})"
            print(f"{verdict:>8}  {m.name}  [{m.path}]" + (f"\n          by {failed[7:].split(' - ')[0]}"
                                                             if failed else ""))
        print(f"{caught}/{len(mutants)} mutants caught")
    return 0 if caught == len(mutants) else 1


if __name__ == "__main__":
    sys.exit(main())
