"""Turns bench.txt (Go benchmark lines + 'TORCH ...' lines from torch_bench.py) into the
markdown tables of the report: model step, GEMM per shape (ours vs cuBLASLt vs PyTorch) and
attention per level. Usage: python3 table.py bench.txt"""

import re
import sys


def main(path):
    go, torch = {}, {}
    for line in open(path):
        m = re.match(r"Benchmark(\S+?)(-\d+)?\s+\d+\s+[\d.]+ ns/op(.*)", line)
        if m:
            metrics = dict((u, float(v)) for v, u in re.findall(r"([\d.e+-]+) (\S+)", m.group(3)))
            go[m.group(1)] = metrics
            continue
        if line.startswith("TORCH "):
            parts = line.split()
            name = parts[1]
            if "eager" in parts:
                torch[name] = {"eager": float(parts[parts.index("eager") + 1]), "graph": float(parts[parts.index("graph") + 1])}
            else:
                torch[name] = {"ms": float(parts[2])}

    print("\n### Denoiser step (128x512 roll, ms per evaluation; ratio = torch.compile RO / ours)")
    print("| batch | ours (graph) | ours (no graph) | kernels | torch eager | torch.compile reduce-overhead | ratio |")
    print("|---|---|---|---|---|---|---|")
    for b in (1, 16):
        g = go.get(f"HDiT/b={b}/graph=true", {})
        n = go.get(f"HDiT/b={b}/graph=false", {})
        e = torch.get(f"model_eager_b{b}", {}).get("ms")
        c = torch.get(f"model_compile_ro_b{b}", {}).get("ms")
        ours = g.get("ms/eval")
        ratio = f"{c / ours:.2f}x" if c and ours else "-"
        print(f"| {b} | {fmt(ours)} | {fmt(n.get('ms/eval'))} | {int(g.get('kernels', 0))} | {fmt(e)} | {fmt(c)} | {ratio} |")

    print("\n### GEMM at the model's shapes (M x N x K; TFLOP/s, torch in ms)")
    print("| shape | ours TFLOP/s | cuBLASLt TFLOP/s | ours/cuBLASLt | ours ms | torch eager ms | torch graph ms |")
    print("|---|---|---|---|---|---|---|")
    tot_ours = tot_lt = 0.0
    for name, m in go.items():
        if not name.startswith("Gemm/ours/"):
            continue
        shape = name[len("Gemm/ours/"):]
        lt = go.get("Gemm/cublaslt/" + shape, {})
        t = torch.get("linear_" + shape, {})
        r = m.get("TFLOP/s", 0) / lt["TFLOP/s"] if lt.get("TFLOP/s") else None
        tot_ours += m.get("ms/eval", 0)
        tot_lt += lt.get("ms/eval", 0)
        print(f"| {shape} | {fmt(m.get('TFLOP/s'))} | {fmt(lt.get('TFLOP/s'))} | {fmt(r)} | {fmt(m.get('ms/eval'))} | {fmt(t.get('eager'))} | {fmt(t.get('graph'))} |")
    if tot_lt:
        print(f"| all shapes (time-weighted) | | | {tot_lt / tot_ours:.2f} | {tot_ours:.4f} | | |")

    print("\n### Attention per level (ours: fused q/k norm + RoPE + shifted windows + flash; torch: sdpa alone)")
    print("| level, batch | ours ms | ours TFLOP/s | torch sdpa eager ms | torch sdpa graph ms |")
    print("|---|---|---|---|---|")
    for name, m in go.items():
        if not name.startswith("Attention/"):
            continue
        lvl = name.split("/")[1]
        i, b = lvl.split("_")[0][1:], lvl.split("_")[1][1:]
        t = torch.get(f"sdpa_L{i}_b{b}", {})
        print(f"| {lvl} | {fmt(m.get('ms/eval'))} | {fmt(m.get('TFLOP/s'))} | {fmt(t.get('eager'))} | {fmt(t.get('graph'))} |")


def fmt(v):
    if v is None:
        return "-"
    return f"{v:.4f}" if v < 10 else f"{v:.1f}"


if __name__ == "__main__":
    main(sys.argv[1])
