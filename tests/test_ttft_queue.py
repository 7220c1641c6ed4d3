"""The closed-loop TTFT queue (kernels.closed_loop_ttft_wait), checked against a discrete-event simulation of
a closed-loop benchmark and against hand arithmetic."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from inferonomics.optimize.calibration import predict as P

WAIT = ("concurrency", "resident", "t_prompt", "output", "tpot")


def _simulated_wait(clients: int, slots: int, service_s: float, cycles: int = 400) -> float:
    """Mean wait for a slot of ``clients`` closed-loop clients on ``slots`` servers of deterministic service
    time: each client sends its next request the moment the last one completes; requests are served first come
    first served. Event by event, no formula."""
    free_at = [0.0] * slots  # when each slot next frees
    heapq.heapify(free_at)
    arrivals = [(0.0, c) for c in range(clients)]  # all clients start at once
    heapq.heapify(arrivals)
    waits = []
    for _ in range(clients * cycles):
        t, c = heapq.heappop(arrivals)
        start = max(t, heapq.heappop(free_at))
        waits.append(start - t)
        heapq.heappush(free_at, start + service_s)
        heapq.heappush(arrivals, (start + service_s, c))
    return float(np.mean(waits[len(waits) // 2:]))  # steady state: the second half


@pytest.mark.parametrize("clients, slots", [(10, 4), (16, 5), (64, 48), (7, 7), (3, 8)])
def test_free_slot_wait_is_littles_law_of_a_simulated_closed_loop(clients, slots):
    output, tpot = 128.0, 0.02
    f = P.compiled("closed_loop_ttft_wait", WAIT, backend="vllm")
    model = float(f({"concurrency": clients, "resident": slots, "t_prompt": 0.0, "output": output, "tpot": tpot},
                    {"prompt_queue_vllm": 0.0}))
    assert model == pytest.approx(_simulated_wait(clients, slots, output * tpot), rel=2e-3, abs=1e-9)  # a half-run of a periodic schedule


def test_prompts_ahead_by_hand():
    """9 clients, 16 slots (no slot wait): each waits behind kappa of the 8 other prompts, 0.1 s each."""
    f = P.compiled("closed_loop_ttft_wait", WAIT, backend="sglang")
    got = f({"concurrency": 9.0, "resident": 16.0, "t_prompt": 0.1, "output": 100.0, "tpot": 0.01},
            {"prompt_queue_sglang": 0.5})
    assert float(got) == pytest.approx(0.5 * 8 * 0.1)
    # over the slots, only the resident prompts queue ahead, and the slot wait adds (20/16 - 1) * 100 * 0.01
    got = f({"concurrency": 20.0, "resident": 16.0, "t_prompt": 0.1, "output": 100.0, "tpot": 0.01},
            {"prompt_queue_sglang": 0.5})
    assert float(got) == pytest.approx(0.5 * 15 * 0.1 + 0.25 * 1.0)


def test_one_client_waits_for_nothing():
    """At concurrency 1 the TTFT is the prompt's own step plus the engine's request overhead, whatever the
    fitted queue shares are."""
    from inferonomics.optimize.calibration import load_calibration
    from inferonomics.optimize.calibration.serving import architecture, serving_ttft_s, step_time

    env = {**P.hardware_env("h100-sxm"), **load_calibration().values}
    a = architecture("meta-llama/Llama-3.1-8B-Instruct")
    one = np.array([1.0])
    args = (a, one, 2048.0, 256.0, 1.0, 1.0, 1.0, 1.0, "bf16", "trtllm", env)
    own = step_time(*args, prefill_tokens=2048.0, context=2048.0, one_prompt=True)
    assert serving_ttft_s(*args) == pytest.approx(own + env["request_overhead_trtllm_s"])
    # and more clients wait longer
    many = serving_ttft_s(a, np.array([64.0]), 2048.0, 256.0, 1.0, 1.0, 1.0, 1.0, "bf16", "trtllm", env)
    assert many > serving_ttft_s(*args)


def _simulated_wave_wait(clients: int, prompt_step_s: float) -> float:
    """Mean wait of the wave that starts a closed-loop run: ``clients`` prompts arrive at once and are prefilled
    in arrival order, one prompt-only step each (no decode batch yet). Event by event, no formula."""
    t, waits = 0.0, []
    for _ in range(clients):  # each prompt starts when the one before it has finished its step
        waits.append(t)
        t += prompt_step_s
    return float(np.mean(waits))


@pytest.mark.parametrize("clients", [2, 5, 16])
def test_prompts_ahead_cost_their_prompt_only_steps_as_in_a_simulated_start_wave(clients):
    """With kappa_q = 1/2 (one wave, prefilled in arrival order) the composite's queue behind the other
    prompts equals the simulated wave's mean wait when each prompt ahead costs the step of that prompt alone
    (step_time at decode batch 0, the whole prompt on one group): the serving model's t_p."""
    from inferonomics.optimize.calibration import load_calibration
    from inferonomics.optimize.calibration.serving import architecture, serving_ttft_s, step_time

    env = {**P.hardware_env("h100-sxm"), **load_calibration().values, "prompt_queue_trtllm": 0.5}
    a = architecture("meta-llama/Llama-3.1-8B-Instruct")
    c, isl = np.array([float(clients)]), 2048.0
    args = (a, c, isl, 256.0, 1.0, 1.0, 1.0, 1.0, "bf16", "trtllm", env)
    own = step_time(*args, prefill_tokens=isl, context=isl, one_prompt=True)
    alone = step_time(a, np.zeros(1), *args[2:], prefill_tokens=isl, context=isl, one_prompt=True)
    assert alone < own  # the prompt's own step carries the resident decode batch too
    queue = serving_ttft_s(*args) - own - env["request_overhead_trtllm_s"]  # resident 16+ sequences: no slot wait
    assert queue == pytest.approx(_simulated_wave_wait(clients, float(alone[0])), rel=1e-9)
