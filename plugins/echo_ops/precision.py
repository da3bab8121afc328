"""bf16 autocast where the device computes bf16 natively, and only there.

On CUDA, and on x86 CPUs with AMX or AVX512-BF16 (oneDNN then runs bf16 matrix products
on them), autocast to bf16 about halves a training step and a prompt's forward pass
(measured on this project's 4M-parameter model: docs/models.md). On a CPU without them
bf16 is emulated and slower than fp32, so there it stays off whatever is asked. Weights
stay fp32 (mixed precision): only the products are bf16, accumulated in fp32.
"""

from __future__ import annotations

import contextlib
from functools import cache
from pathlib import Path

_NATIVE_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (Linux: /proc/cpuinfo's flags)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])  # fmt: skip
    return any(f in flags for f in _NATIVE_CPU_FLAGS)


def uses_bf16(device: str, cuda: bool, cpu: bool) -> bool:
    """Whether autocast to bf16 is on for `device` ("cuda", "cpu", ...): on CUDA when
    `cuda`, on a CPU with native bf16 when `cpu`."""
    kind = str(device).split(":")[0]
    if kind == "cuda":
        return cuda
    return kind == "cpu" and cpu and cpu_has_native_bf16()


def bf16_autocast(device: str, cuda: bool, cpu: bool):
    """torch.autocast to bf16 on `device` where `uses_bf16`, else a context that does nothing."""
    if not uses_bf16(device, cuda, cpu):
        return contextlib.nullcontext()
    import torch

    return torch.autocast(str(device).split(":")[0], dtype=torch.bfloat16)
