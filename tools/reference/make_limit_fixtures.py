#!/usr/bin/env python3
"""Makes tests/fixtures/limits/: tiny checkpoints that would need far more memory than they hold, made
with REAL torch.save (run with /usr/bin/python3, Debian python3-torch).

  broadcast_4gib.pth   one float32 tensor of shape [1048576, 1024] that is a stride-0 expansion of a
                       single stored element: the file is ~1 KB, loading it as a dense float32 tensor
                       needs exactly 4 GiB (1048576 · 1024 · 4 bytes).
"""
import argparse
import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parent.parent.parent / "tests/fixtures/limits"


def main():
    argparse.ArgumentParser(description=__doc__).parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    big = torch.ones(1, 1).expand(1 << 20, 1 << 10)
    assert big.stride() == (0, 0)
    torch.save({"big": big}, OUT / "broadcast_4gib.pth")


if __name__ == "__main__":
    main()
