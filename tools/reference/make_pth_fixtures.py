#!/usr/bin/env python3
"""Makes the torch .pth fixtures in tests/fixtures/pth with REAL torch.save, from the DINO reference
fixture weights (tests/fixtures/vit/dino_timm/model.safetensors, made by make_vit_fixtures.py):

  zip_bare.pth        plain state dict, zip format
  zip_wrapped.pth     {"model": state dict with DataParallel "module." prefixes, "epoch", "args": Namespace}
  legacy.pth          _use_new_zipfile_serialization=False (pre-1.6 stream)
  half.pth            every tensor float16 (expected: outputs of the fp16-rounded weights, half_expected/)
  views.pth           non-contiguous tensors (transposed views) and tensors sharing one storage
  detr_original.pth   the DETR fixture's original facebookresearch/detr-named weights wrapped as the hub
                      files are ({"model": ..., "epoch": ...}); legacy format, as the 2020 releases may be
  hostile_*.pth       pickles that try to run `touch attnscope-hostile-marker` (os.system, builtins.eval,
                      subprocess.call, nested REDUCE inside a wrapped checkpoint, legacy format)

Run with /usr/bin/python3 (Debian python3-torch). The outputs of zip/legacy/views must equal the
safetensors path exactly; half.pth is checked against a float32 torch re-run of the rounded weights.
"""
import argparse
import builtins
import os
import pathlib
import subprocess
import sys

import numpy as np
import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import st_io  # noqa: E402

ROOT = HERE.parent.parent
SRC = ROOT / "tests/fixtures/vit/dino_timm/model.safetensors"
OUT = ROOT / "tests/fixtures/pth"
MARKER_CMD = "touch attnscope-hostile-marker"


class SystemCall:
    def __reduce__(self):
        return (os.system, (MARKER_CMD,))


class EvalCall:
    def __reduce__(self):
        return (builtins.eval, ("__import__('os').system('%s')" % MARKER_CMD,))


class SubprocessCall:
    def __reduce__(self):
        return (subprocess.call, (MARKER_CMD.split(),))


def main():
    argparse.ArgumentParser(description=__doc__).parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    sd = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in st_io.load_file(str(SRC))[0].items()}

    torch.save(sd, OUT / "zip_bare.pth")
    wrapped = {"model": {"module." + k: v for k, v in sd.items()}, "epoch": 300,
               "args": argparse.Namespace(lr=5e-4, model="dino_custom")}
    torch.save(wrapped, OUT / "zip_wrapped.pth")
    torch.save(sd, OUT / "legacy.pth", _use_new_zipfile_serialization=False)
    torch.save({k: v.half() for k, v in sd.items()}, OUT / "half.pth")

    # views: every 2-D weight saved as the transpose of a contiguous transposed copy (non-contiguous),
    # and the two final-norm tensors as rows of one shared [2, D] storage with an offset.
    views = {}
    for k, v in sd.items():
        views[k] = v.t().contiguous().t() if v.dim() == 2 else v
    shared = torch.stack([sd["norm.weight"], sd["norm.bias"]])
    views["norm.weight"], views["norm.bias"] = shared[0], shared[1]
    assert not views["blocks.0.attn.qkv.weight"].is_contiguous()
    assert views["norm.bias"].storage_offset() > 0
    torch.save(views, OUT / "views.pth")

    # expected values for half.pth: the weights rounded to fp16 and back, as safetensors for the C++ test
    st_io.save_file({k: v.half().float().numpy() for k, v in sd.items()}, str(OUT / "half_expected.safetensors"))

    detr = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in
            st_io.load_file(str(ROOT / "tests/fixtures/detr/r50tiny/original/model.safetensors"))[0].items()}
    torch.save({"model": detr, "epoch": 499}, OUT / "detr_original.pth", _use_new_zipfile_serialization=False)

    torch.save(SystemCall(), OUT / "hostile_os_system.pth")
    torch.save(EvalCall(), OUT / "hostile_eval.pth")
    torch.save(SubprocessCall(), OUT / "hostile_subprocess.pth")
    torch.save({"model": sd, "extra": {"nested": [SystemCall()]}}, OUT / "hostile_nested.pth")
    torch.save(SystemCall(), OUT / "hostile_legacy.pth", _use_new_zipfile_serialization=False)

    # self-checks: torch reads the benign ones back identically
    for name in ("zip_bare.pth", "legacy.pth", "views.pth"):
        back = torch.load(OUT / name)
        assert all(torch.equal(back[k], sd[k]) for k in sd), name
    back = torch.load(OUT / "zip_wrapped.pth")["model"]
    assert all(torch.equal(back["module." + k], sd[k]) for k in sd)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total / 1024:.0f} KiB in {OUT}")
    assert total < 1_700_000


if __name__ == "__main__":
    main()
