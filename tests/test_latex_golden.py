"""Golden LaTeX strings of every closed form (SymPy pinned to 1.14: printing order changes between releases).

Each string was checked by hand against its derivation (e.g. 10^6/3600: tokens per million over seconds per hour
in the API crossover, a sum leads with its positive term,
sqrt(2)/2 = sqrt(1/2) in the optimal TP degree); a change here is a change in what readers see.
"""

from __future__ import annotations

import pytest
import sympy

from inferonomics.symbolic.formulas import all_formulas, get_formula

GOLDEN = {
    "break_even_batch": r"B^{*} = \frac{b_{w} F}{2 W}",
    "break_even_batch_with_kv": r"B^{*}_{kv} = \frac{b_{w} F N}"
                                r"{2 W N - c k F \max\left(1, \frac{t}{h_{kv}}\right)}",
    "critical_context": r"c^{*} = \frac{2 W N}{k F \max\left(1, \frac{t}{h_{kv}}\right)}",
    "utilization": r"u(B) = \min\left(1, \frac{2 B W N}"
                   r"{F \left(B c k \max\left(1, \frac{t}{h_{kv}}\right) + b_{w} N\right)}\right)",
    "latency_floor": r"\tau_{1}(t) = 2 n_{ar} \alpha L \left(t - 1\right) + t_{\ell} L + t_{o} + "
                     r"\max\left(\frac{2 N}{F t}, \frac{b_{w} N}{W t}\right)",
    "min_user_base": r"U_{min} = \frac{1440 C \rho_{\mathrm{tr}}}{m}",
    "optimal_tp_degree": r"t^{*} = \frac{\sqrt{2} \sqrt{b_{w}} \sqrt{N}}"
                         r"{2 \sqrt{n_{ar}} \sqrt{W} \sqrt{\alpha} \sqrt{L}}",
    "optimal_tp_degree_sqrt": r"t^{*}_{\surd} = \frac{2^{\frac{2}{3}} b_{w}^{\frac{2}{3}} N^{\frac{2}{3}}}"
                              r"{\alpha_{s}^{\frac{2}{3}} n_{ar}^{\frac{2}{3}} W^{\frac{2}{3}} L^{\frac{2}{3}}}",
    "tp_comm_crossover": r"t_{\times} = \sqrt{\frac{1}{4} + \frac{b_{w} N}{2 n_{ar} W \alpha L}} + \frac{1}{2}",
    "api_price_crossover": r"B_{\pi} = \frac{10^{6} b_{w} p N}{3600 \pi W}",
    "api_price_crossover_users": r"U_{\pi} = \frac{1440 \cdot 10^{6} b_{w} \rho_{\mathrm{tr}} p N}{3600 \pi W m}",
    "moe_break_even_batch": r"B^{*}_{MoE} = \frac{b_{w} F \left(N_{d} + N_{e} E\right)}{2 N_{a} W}",
    # issue 16, the inverse forms (720 = 1440/2: the minimum user base at C = B* = r b_w/2)
    "bandwidth_for_break_even_batch": r"W_{B} = \frac{b_{w} F}{2 B}",
    "bandwidth_for_batch1_speed": r"W_{v} = \frac{b_{w} v N}{\eta_{W}}",
    "chips_to_hold_model": r"t_{M} = \frac{b_{w} N}{M}",
    "min_user_base_vs_balance": r"U_{r} = \frac{720 b_{w} r \rho_{\mathrm{tr}}}{m}",
    "single_user_cost_ratio": r"\kappa_{1} = \frac{b_{w} F}{2 W}",
    # issue 14, speculative decoding: E = (1 - a^(g+1))/(1 - a); S = E max(B, B*)/(g c max(B, B*) + max((g+1) B, B*));
    # B*_spec = B* (E - g c)/(g + 1), with B* = b_w F/(2W)
    "spec_decode_tokens_per_step": r"\bar{n}_{spec} = \frac{1 - \alpha_{\mathrm{acc}}^{\gamma + 1}}{1 - \alpha_{\mathrm{acc}}}",
    "spec_decode_speedup": r"S_{spec}(B) = \frac{\left(1 - \alpha_{\mathrm{acc}}^{\gamma + 1}\right) "
                           r"\max\left(B, \frac{b_{w} F}{2 W}\right)}{\left(1 - \alpha_{\mathrm{acc}}\right) "
                           r"\left(c_{\mathrm{d}} \gamma \max\left(B, \frac{b_{w} F}{2 W}\right) + "
                           r"\max\left(B \left(\gamma + 1\right), \frac{b_{w} F}{2 W}\right)\right)}",
    "spec_decode_break_even_batch": r"B^{*}_{spec} = \frac{b_{w} F \left(\frac{1 - \alpha_{\mathrm{acc}}^{\gamma + 1}}"
                                    r"{1 - \alpha_{\mathrm{acc}}} - c_{\mathrm{d}} \gamma\right)}"
                                    r"{2 W \left(\gamma + 1\right)}",
    # checked by hand: rho = mu_d / mu_p = [B W / (n_out (N b_w + B c k))] / [F / (2 N_a n_in)]
    # issue 14, pipeline parallelism, checked by hand: tau_pp = max(2 N B/(n_pp t F), N b_w/(t W)) + (n_pp - 1) h with
    # h = (sqrt(alpha) + sqrt(B d b_a/(2 n_pp beta)))^2; G_pp = tau_1(B)/tau_pp; B*_pp = n_pp B*; ceil(N b_w/(t M))
    "pp_token_time": r"\tau_{pp} = \left(n_{\mathrm{pp}} - 1\right) \left(\frac{\sqrt{2} \sqrt{B} \sqrt{b_{a}} \sqrt{d}}"
                     r"{2 \sqrt{\beta} \sqrt{n_{\mathrm{pp}}}} + \sqrt{\alpha}\right)^{2} + "
                     r"\max\left(\frac{b_{w} N}{W t}, \frac{2 B N}{F n_{\mathrm{pp}} t}\right)",
    "pp_throughput_gain": r"G_{pp} = \frac{\max\left(\frac{2 B N}{F t}, \frac{b_{w} N}{W t}\right)}{\left(n_{\mathrm{pp}} - 1\right) "
                          r"\left(\frac{\sqrt{2} \sqrt{B} \sqrt{b_{a}} \sqrt{d}}{2 \sqrt{\beta} \sqrt{n_{\mathrm{pp}}}} + "
                          r"\sqrt{\alpha}\right)^{2} + \max\left(\frac{b_{w} N}{W t}, \frac{2 B N}{F n_{\mathrm{pp}} t}\right)}",
    "pp_break_even_batch": r"B^{*}_{pp} = \frac{b_{w} F n_{\mathrm{pp}}}{2 W}",
    "pp_stages_to_fit": r"n_{pp,M} = \left\lceil{\frac{b_{w} N}{M t}}\right\rceil",
    "disagg_pool_ratio": r"\rho_{p/d} = \frac{2 N_{a} B W n_{\mathrm{in}}}{n_{\mathrm{out}} F \left(B c k + b_{w} N\right)}",
}


def test_sympy_minor_version_is_the_pinned_one():
    assert sympy.__version__.startswith("1.14."), "golden strings are for SymPy 1.14; re-check them by hand"


def test_every_formula_has_a_golden_string():
    assert set(GOLDEN) == {f.name for f in all_formulas()}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_latex_golden(name):
    assert get_formula(name).latex() == GOLDEN[name]


def test_repr_latex_for_jupyter():
    f = get_formula("break_even_batch")
    assert f._repr_latex_() == r"$\displaystyle " + GOLDEN["break_even_batch"] + "$"
