"""Predict every measured row from datasheet figures plus calibration parameters (vectorised NumPy).

Each kind's prediction is assembled from the SymPy builders of :mod:`inferonomics.symbolic.kernels`,
compiled once (:func:`compiled`; the serving rows: the symbolic serving model of :mod:`.serving_model`), so the
numbers fitted here are those of the symbolic model.
``env`` maps symbol-table names (``eta_flop``, ``kernel_overhead_s``, ``hbm_bandwidth_bytes_per_s``...) to
values; :func:`hardware_env` fills in a card's datasheet figures.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from sympy import Symbol

from inferonomics.symbolic import catalog
from inferonomics.symbolic import kernels as K
from inferonomics.symbolic.numpy_lambdify import lambdify_numpy
from inferonomics.symbolic.symbols import TABLE

from inferonomics.optimize.calibration.hardware import datasheet
from inferonomics.optimize.calibration.parallel import SCALEOUT_BYTES_PER_S
from inferonomics.optimize.calibration.readers import Table
from inferonomics.optimize.calibration.serving import serving_ttft, serving_tpot

#: the model our layer measurements ran (measure_roofline.py / measure_moe_mixed.py): its catalog architecture
LAYER_MODEL = "llama3.1-8b"


@lru_cache(maxsize=None)
def _layer():
    """(architecture, the (n, k) of its four weight matmuls: qkv, o, gate+up, down) of :data:`LAYER_MODEL`."""
    a = catalog.model(LAYER_MODEL).architecture
    d, h, kvh, hd, ff = a.d_model, a.n_heads, a.n_kv_heads, a.head_dim, a.ffn_dim
    return a, (((h + 2 * kvh) * hd, d), (d, h * hd), (2 * ff, d), (d, ff))


def _x(name: str) -> Symbol:
    return Symbol(f"x_{name}", positive=True)


@lru_cache(maxsize=None)
def compiled(builder: str, shape: tuple[str, ...], **static: object):
    """``kernels.<builder>`` over shape symbols ``x_<name>``, compiled to NumPy: f(shapes: dict, env: dict)."""
    syms = [_x(n) for n in shape]
    expr = getattr(K, builder)(*syms, **static)
    params = sorted((p for p in expr.free_symbols if p.name in TABLE), key=lambda p: p.name)
    fn = lambdify_numpy(syms + params, expr)

    def call(shapes: dict[str, object], env: dict[str, float]) -> np.ndarray:
        return fn(*[shapes[n] for n in shape], *[env[p.name] for p in params])

    call.params = tuple(p.name for p in params)  # type: ignore[attr-defined]
    return call


def hbm_capacity(name: str) -> float:
    """HBM bytes of one chip of catalog hardware ``name`` (its datasheet figure)."""
    return float(catalog.hardware(name).hbm_capacity_bytes)


def hardware_env(name: str, ceilings: dict[str, float] | None = None) -> dict[str, float]:
    """Datasheet figures of ``name`` as symbol values; with ``ceilings`` (ours), the measured copy bandwidth
    and 8192^3 GEMM rates replace the datasheet's (and the fitted efficiencies then apply to those)."""
    ds = datasheet(name)
    env = {"hbm_bandwidth_bytes_per_s": ds.hbm_bandwidth_bytes_per_s,
           "peak_bf16": ds.peak_bf16_flop_per_s, "peak_fp8": ds.peak_fp8_flop_per_s,
           "peak_fp4": ds.peak_fp4_flop_per_s or ds.peak_fp8_flop_per_s,
           "fp4_tensor_cores": 1.0 if ds.peak_fp4_flop_per_s else 0.0,
           "link_bandwidth_bytes_per_s": ds.link_bandwidth_bytes_per_s, "sm_count": float(ds.sm_count),
           "split_kv_tokens_per_block": K.split_kv_tokens(1.0 if ds.peak_fp4_flop_per_s else 0.0),
           "hbm_capacity_bytes": hbm_capacity(name), "l2_capacity_bytes": ds.l2_bytes}
    env.update(_domain(name))
    if ceilings:
        if "d2d_copy_bf16_2GiB" in ceilings:
            env["hbm_bandwidth_bytes_per_s"] = ceilings["d2d_copy_bf16_2GiB"] * 1e12
        if "gemm_bf16_8192cubed" in ceilings:
            env["peak_bf16"] = ceilings["gemm_bf16_8192cubed"] * 1e12
        if "gemm_fp8_8192cubed" in ceilings:
            env["peak_fp8"] = ceilings["gemm_fp8_8192cubed"] * 1e12
    return env


def _domain(name: str) -> dict[str, float]:
    """The card's scale-up domain size (catalog) and scale-out NIC bandwidth per chip
    (:data:`.parallel.SCALEOUT_BYTES_PER_S`), where known: collectives past the domain cross nodes."""
    out = {}
    size = catalog.hardware(name).scaleup_domain_size
    if size and name in SCALEOUT_BYTES_PER_S:
        out = {"scaleup_domain_size": float(size), "scaleout_bandwidth_bytes_per_s": SCALEOUT_BYTES_PER_S[name]}
    return out


#: GEMM kernel families: a serving engine's GEMMs (NVIDIA's TRT-LLM measurements) stream weights at
#: eta_bw, PyTorch's (ours: torch.matmul, torch._scaled_mm) at eta_bw_torch; both pay the same in-graph
#: fixed time (kernel_overhead_s, kernel_overhead_fp8_s)
_FAMILY_BW = {"engine": "eta_bw", "torch": "eta_bw_torch"}


def with_precision(env: dict[str, float], precision: str, family: str = "engine") -> dict[str, float]:
    """``env`` with ``peak_flop_per_s``, ``eta_flop``, the weight-streaming ``eta_bw`` and the GEMM fixed time
    ``kernel_overhead_s`` set for GEMMs at ``precision`` (bf16, fp8, fp8_block, fp4) of kernel ``family``
    (engine or torch). Block-scaled fp8 GEMMs read their own terms (``eta_bw_fp8_block``,
    ``kloop_rate_fp8_block_bytes_per_s``...) directly: see :func:`gemm`."""
    out = dict(env)
    out["eta_bw"] = env[_FAMILY_BW[family]]
    if precision == "fp4":
        # FP4 compute (NVFP4/MXFP4): its own fraction of the datasheet FP4 peak and k-loop pace (fitted on a
        # card that has FP4 tensor cores), the fixed time of the other block-scaled low-precision kernels
        out["peak_flop_per_s"], out["eta_flop"] = env.get("peak_fp4", env["peak_fp8"]), env["eta_flop_fp4"]
        out["kernel_overhead_s"] = env["kernel_overhead_fp8_s"]
    elif precision.startswith("fp8"):
        eta = env["eta_flop_fp8_block"] if precision == "fp8_block" else env["eta_flop_fp8"]
        out["peak_flop_per_s"], out["eta_flop"] = env["peak_fp8"], eta
        out["kernel_overhead_s"] = env["kernel_overhead_fp8_s"]
    else:
        out["peak_flop_per_s"] = env["peak_bf16"]
    return out


def gemm(m, n, k, b_in, b_w, env: dict[str, float], precision: str = "bf16", family: str = "engine",
         resident: bool = False) -> np.ndarray:
    """Time of GEMMs ``[m,k] @ [k,n]`` (arrays broadcast) at ``precision``; ``resident``: weights re-read from L2."""
    e = with_precision(env, precision, family)
    if precision == "fp8_block":  # its own tile model: the tiles are the kernel's choice, decided numerically
        # Blackwell (the cards with FP4 tensor cores) runs DeepGEMM's SM100 kernel: operands always swapped, its
        # tiles and multicast pairs, its epilogue under the next tile's k-loop
        fp4_cores = float(env.get("fp4_tensor_cores", 0.0))
        sm100 = fp4_cores > 0
        tile_rows, waves, padded, area = K.blockscaled_tiles(m, n, env["sm_count"], K.blockscaled_swap_below(fp4_cores),
                                                             sm100)
        f = compiled("blockscaled_gemm_time",
                     ("m", "n", "k", "b_in", "b_w", "tile_rows", "waves", "padded_rows", "tile_area"),
                     resident=resident, epilogue=not sm100)
        return f({"m": m, "n": n, "k": k, "b_in": b_in, "b_w": b_w, "tile_rows": tile_rows, "waves": waves,
                  "padded_rows": padded, "tile_area": area}, e)
    f = compiled("gemm_time", ("m", "n", "k", "b_in", "b_w"), resident=resident, split_k=precision != "fp4")
    return f({"m": m, "n": n, "k": k, "b_in": b_in, "b_w": b_w}, e)


def benchmark_gemm(m, n, k, b_in, b_w, env: dict[str, float], precision: str) -> np.ndarray:
    """A GEMM as NVIDIA's collector times it: repeated over a few weight copies, which stay in L2 when they fit
    (:func:`inferonomics.symbolic.kernels.l2_resident`)."""
    m, n, k = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (m, n, k)))
    hot = K.l2_resident(k * n * b_w, env["l2_capacity_bytes"], env["l2_resident_fraction"])
    out = np.empty(m.shape)
    for resident in (False, True):
        sel = hot == resident
        if sel.any():
            out[sel] = gemm(m[sel], n[sel], k[sel], b_in, b_w, env, precision, resident=resident)
    return out


def roofline(flops, nbytes, env: dict[str, float], precision: str = "bf16") -> np.ndarray:
    """A grouped kernel given its FLOPs and bytes: max(compute, memory) + kernel fixed time."""
    e = with_precision(env, precision)
    return compiled("roofline_time", ("flops", "nbytes"))({"flops": flops, "nbytes": nbytes}, e)


def split_kv_tokens(env: dict[str, float]) -> float:
    """Cached tokens per KV block of the card's split-KV attention kernel: the environment's value, else the rule's
    (:func:`~inferonomics.symbolic.kernels.split_kv_tokens`) from whether the card has FP4 tensor cores."""
    v = env.get("split_kv_tokens_per_block")
    return float(v) if v is not None else K.split_kv_tokens(env.get("fp4_tensor_cores", 0.0))


def decode_attention(batch, context, heads, kv_heads, head_dim, b_kv, env, split: bool) -> np.ndarray | float:
    """Decode attention (arrays broadcast). A split-KV engine kernel gets its KV blocks from the kernel's rule
    (:func:`~inferonomics.symbolic.kernels.xqa_blocks`) and its class per row (KV dtype x GQA/MHA,
    :data:`~inferonomics.symbolic.kernels.ATTENTION_KERNELS`)."""
    e = with_precision(env, "bf16")
    shape = ("batch", "context", "heads", "kv_heads", "head_dim", "b_kv")
    if not split:
        f = compiled("decode_attention_time", shape, split=False)
        return f({"batch": batch, "context": context, "heads": heads, "kv_heads": kv_heads, "head_dim": head_dim,
                  "b_kv": b_kv}, e)
    b, c, h, hkv, hd, bkv = np.broadcast_arrays(*(np.asarray(a, dtype=float)
                                                  for a in (batch, context, heads, kv_heads, head_dim, b_kv)))
    blocks = K.xqa_blocks(b, hkv, c, env["sm_count"], split_kv_tokens(env))
    out = np.full(b.shape, np.nan)
    fp8, gqa = bkv < 1.5, h > hkv
    for kernel in K.ATTENTION_KERNELS:
        sel = (fp8 == (kernel[0] == "8")) & (gqa == (kernel[1] == "gqa"))
        if sel.any():
            f = compiled("decode_attention_time", (*shape, "blocks"), split=True, kernel=kernel)
            out[sel] = f({"batch": b[sel], "context": c[sel], "heads": h[sel], "kv_heads": hkv[sel],
                          "head_dim": hd[sel], "b_kv": bkv[sel], "blocks": blocks[sel]}, e)
    return out if out.ndim else float(out)


def prefill_attention(tokens, heads, head_dim, span, env) -> np.ndarray:
    e = with_precision(env, "bf16")
    f = compiled("prefill_attention_time", ("tokens", "heads", "head_dim", "span"))
    return f({"tokens": tokens, "heads": heads, "head_dim": head_dim, "span": span}, e)


def collective(op: str, nbytes, gpus, env, nccl: bool = False) -> np.ndarray:
    return compiled("collective_time", ("nbytes", "gpus"), op=op, nccl=nccl)({"nbytes": nbytes, "gpus": gpus}, env)


# ------------------------------------------------------------------------------------------ per kind
def _gemm_rows(r: np.ndarray, source: str, env) -> np.ndarray:
    out = np.empty(len(r))
    if source == "ours":
        for dt in ("bf16", "fp8"):
            sel = r["dtype"] == dt
            b = 1.0 if dt == "fp8" else 2.0
            m = r["batch_run"][sel] if dt == "fp8" else r["batch"][sel]  # fp8 pads B to a multiple of 16
            # one kernel between two CUDA events, outside a graph: the launch latency shows
            out[sel] = gemm(m, r["N"][sel], r["K"][sel], b, b, env, dt, "torch") + env["launch_overhead_s"]
        return out
    # NVIDIA aiconfigurator-core 0.12.0 measurement data, Apache-2.0: fp8 rows include quantizing activations
    for dt in np.unique(r["dtype"]):
        sel = r["dtype"] == dt
        m, n, k = r["m"][sel], r["n"][sel], r["k"][sel]
        kind = GEMM_DTYPES.get(str(dt))
        if kind is None:  # a kernel we have no model for: no prediction rather than a wrong one
            out[sel] = np.nan
            continue
        precision, b_in, b_w, quantized = kind
        out[sel] = benchmark_gemm(m, n, k, b_in, b_w, env, precision)
        if quantized:  # activations are quantized by a separate kernel first
            out[sel] += compiled("quant_time", ("m", "k"))({"m": m, "k": k}, env)
        if precision in K.FUSED_QUANT:  # ... or inside a block-scaled kernel, on the way in
            out[sel] += compiled("fused_quant_time", ("m", "k"), fmt=precision)({"m": m, "k": k}, env)
    return out


#: GEMM dtype of a measurement file -> (compute precision, bytes per activation in, bytes per weight,
#: whether a separate activation-quantization kernel runs first). Unknown dtypes get no prediction.
#: NVFP4 carries an FP8 scale per 16 elements (4.5 bits); weight-only formats compute at 16 bits.
GEMM_DTYPES = {
    "bfloat16": ("bf16", 2.0, 2.0, False), "float16": ("bf16", 2.0, 2.0, False),
    "bf16": ("bf16", 2.0, 2.0, False), "fp16": ("bf16", 2.0, 2.0, False),
    "fp8": ("fp8", 1.0, 1.0, True), "fp8_ootb": ("fp8", 1.0, 1.0, True),
    "fp8_block": ("fp8_block", 1.0, 1.0, False),  # block-scaled: quantization fused into the kernel
    # NVIDIA's B200 rows time the FP4 GEMM alone: at few tokens they grow linearly in k from 6.3 us at k -> 0,
    # one kernel's fixed time, not a quantization kernel's on top
    "nvfp4": ("fp4", 0.5625, 0.5625, False), "fp4": ("fp4", 0.5625, 0.5625, False),
    "mxfp4": ("fp4", 0.53125, 0.53125, False),
    "int8_wo": ("bf16", 2.0, 1.0, False), "int4_wo": ("bf16", 2.0, 0.5, False),
    "w4afp8": ("fp8", 1.0, 0.5, True),
}


def layer_time(tokens, decode_batch, context, prefill, env) -> np.ndarray:
    """One layer of :data:`LAYER_MODEL` (ours): four GEMMs over all tokens, SDPA decode attention (no KV split),
    causal prefill attention of the chunk, the unfused elementwise traffic and the per-layer fixed cost."""
    a, gemms = _layer()
    t = sum(gemm(tokens, n, k, 2.0, 2.0, env, "bf16", "torch") for n, k in gemms)
    dec = np.where(decode_batch > 0, decode_attention(np.maximum(decode_batch, 1), context, a.n_heads, a.n_kv_heads,
                                                      a.head_dim, 2.0, env, split=False), 0.0)
    pre = np.where(prefill > 0, prefill_attention(np.maximum(prefill, 1), a.n_heads, a.head_dim, prefill / 2, env),
                   0.0)
    act = compiled("elementwise_time", ("tokens", "width"))({"tokens": tokens, "width": (a.d_model + 2 * a.ffn_dim) * 2.0},
                                                           with_precision(env, "bf16", "torch"))
    return t + dec + pre + act + env["layer_overhead_s"]


def _moe_rows(r: np.ndarray, env) -> np.ndarray:
    """Experts run one after another (plain PyTorch GEMMs): per touched expert, gate+up and down GEMMs over
    the tokens routed to it, plus the per-expert fixed cost (gather, activation, scatter)."""
    touched = r["experts_touched"]
    m = r["batch"] * r["top_k"] / touched
    d, ff = r["d_model"], r["ffn_per_expert"]
    per_expert = (gemm(m, 2 * ff, d, 2.0, 2.0, env, "bf16", "torch") + gemm(m, d, ff, 2.0, 2.0, env, "bf16", "torch")
                  + env["expert_overhead_s"])
    return touched * per_expert


#: bytes per element of the dtypes a measurement may name; other dtypes get no prediction (NaN)
ELEMENT_BYTES = {"int8": 1.0, "fp8": 1.0, "float8": 1.0, "half": 2.0, "float16": 2.0, "fp16": 2.0,
                 "bfloat16": 2.0, "bf16": 2.0, "float32": 4.0, "fp32": 4.0, "float": 4.0, "nvfp4": 0.5625}


def element_bytes(dtypes: np.ndarray) -> np.ndarray:
    return np.array([ELEMENT_BYTES.get(str(d), np.nan) for d in dtypes], dtype=float)


def _collective_rows(r: np.ndarray, env) -> np.ndarray:
    size = element_bytes(r["dtype"]) * r["message_size"]
    out = np.empty(len(r))
    nccl = r["kernel_source"] == "NCCL"
    for op in np.unique(r["op_name"]):
        for impl in (True, False):
            sel = (r["op_name"] == op) & (nccl == impl)
            if sel.any():
                out[sel] = collective(str(op), size[sel], r["num_gpus"][sel], env, nccl=impl)
    return out


def _attention_rows(r: np.ndarray, env) -> np.ndarray:
    # NVIDIA aiconfigurator-core 0.12.0 measurement data, Apache-2.0 (TRT-LLM XQA kernels: split-KV)
    ctx = r["step"] + 1.0
    ctx = np.where(r["window_size"] > 0, np.minimum(ctx, r["window_size"]), ctx)
    b_kv = element_bytes(r["kv_cache_dtype"])
    return np.asarray(decode_attention(r["batch_size"], ctx, r["num_heads"], r["num_key_value_heads"],
                                       r["head_dim"], b_kv, env, split=True))


def predict_table(table: Table, env: dict[str, float]) -> np.ndarray:
    """Predicted seconds for every row of ``table`` (NaN where the model does not apply)."""
    r = table.rows
    if table.kind == "gemm":
        return _gemm_rows(r, table.source, env)
    if table.kind == "layer_decode":
        return layer_time(r["batch"], r["batch"], r["context"], np.zeros(len(r)), env)
    if table.kind == "layer_prefill":  # timed eagerly (no CUDA graph): the host's dispatch is a floor
        gpu = layer_time(r["seq"], np.zeros(len(r)), np.ones(len(r)), r["seq"], env)
        return np.maximum(gpu, env["eager_layer_s"])
    if table.kind == "mixed_step":
        b, p = r["decode_batch"], r["prefill_tokens"]
        return layer_time(b + p, b, r["decode_context"], p, env)
    if table.kind == "moe_decode":
        return _moe_rows(r, env)
    if table.kind == "collectives":
        return _collective_rows(r, env)
    if table.kind == "decode_attention":
        return _attention_rows(r, env)
    if table.kind == "serving_tpot":
        return serving_tpot(r, env)
    if table.kind == "serving_ttft":
        return serving_ttft(r, env)
    raise ValueError(f"no predictor for kind {table.kind!r}")
