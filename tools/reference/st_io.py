"""Minimal, dependency-free safetensors reader/writer (numpy only).

Layout (huggingface/safetensors README, safetensors/src/tensor.rs):
  [u64 LE header length N][N bytes JSON header, space-padded so N % 8 == 0][tensor bytes]
Tensors are written sorted by name, packed back to back, little-endian, C order.
data_offsets are relative to the start of the byte buffer.

Supported dtypes: F32, F16, BF16 (write + read), F64, I64, I32 (read; write from
matching numpy arrays).
"""
import json
import struct

import numpy as np

_NP_TO_ST = {
    np.dtype("<f4"): "F32",
    np.dtype("<f2"): "F16",
    np.dtype("<f8"): "F64",
    np.dtype("<i8"): "I64",
    np.dtype("<i4"): "I32",
}
_ST_TO_NP = {v: k for k, v in _NP_TO_ST.items()}


def f32_to_bf16_bits(a):
    """float32 array -> uint16 bfloat16 bit patterns, round-to-nearest-even (NaN kept NaN)."""
    a = np.ascontiguousarray(a, dtype="<f4")
    u = a.view("<u4").astype(np.uint64)
    rounding = ((u >> 16) & 1) + 0x7FFF
    out = ((u + rounding) >> 16).astype("<u2")
    nan = np.isnan(a)
    out[nan] = ((u[nan] >> 16) | 0x40).astype("<u2")
    return out


def bf16_bits_to_f32(b):
    return (np.asarray(b, dtype="<u2").astype("<u4") << 16).view("<f4")


def round_to(a, dtype):
    """Round a float32 array through F16/BF16 and back to float32 (what a reader sees)."""
    a = np.asarray(a, dtype="<f4")
    if dtype == "F32":
        return a.copy()
    if dtype == "F16":
        return a.astype("<f2").astype("<f4")
    if dtype == "BF16":
        return bf16_bits_to_f32(f32_to_bf16_bits(a)).reshape(a.shape)
    raise ValueError(dtype)


def save_file(tensors, path, dtype="F32", metadata=None):
    """tensors: dict name -> array-like (numpy or torch). Float arrays are stored as `dtype`
    (F32, F16 or BF16); integer arrays keep their own dtype."""
    header = {}
    if metadata is None:
        metadata = {"format": "pt"}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if hasattr(t, "detach"):
            t = t.detach().cpu().numpy()
        a = np.asarray(t)
        if a.dtype.kind == "f":
            if dtype == "F32":
                a, st = np.ascontiguousarray(a, dtype="<f4"), "F32"
            elif dtype == "F16":
                a, st = np.ascontiguousarray(a.astype("<f4").astype("<f2")), "F16"
            elif dtype == "BF16":
                a, st = f32_to_bf16_bits(a.astype("<f4")).reshape(a.shape), "BF16"
            else:
                raise ValueError(f"unsupported float dtype {dtype}")
        else:
            a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
            st = _NP_TO_ST[a.dtype]
        raw = a.tobytes(order="C")
        header[name] = {"dtype": st, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)


def load_file(path, as_float32=True):
    """Returns (dict name -> numpy array, metadata dict, dict name -> dtype string).
    With as_float32, F16/BF16 tensors are widened to float32."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    buf = memoryview(data)[8 + n:]
    # validate like the reference reader: contiguous, covering the whole buffer
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items())
    pos = 0
    for b, e, k in spans:
        assert b == pos, f"gap/overlap at {k}"
        pos = e
    assert pos == len(buf), "buffer not fully covered"
    out, dtypes = {}, {}
    for k, v in header.items():
        b, e = v["data_offsets"]
        shape = tuple(v["shape"])
        st = v["dtype"]
        dtypes[k] = st
        if st == "BF16":
            bits = np.frombuffer(buf[b:e], dtype="<u2").reshape(shape)
            a = bf16_bits_to_f32(bits).reshape(shape) if as_float32 else bits.copy()
        else:
            a = np.frombuffer(buf[b:e], dtype=_ST_TO_NP[st]).reshape(shape).copy()
            if as_float32 and st == "F16":
                a = a.astype("<f4")
        bits_per = {"F32": 32, "F16": 16, "BF16": 16, "F64": 64, "I64": 64, "I32": 32}[st]
        assert int(np.prod(shape, dtype=np.int64)) * bits_per // 8 == e - b, f"size mismatch {k}"
        out[k] = a
    return out, meta, dtypes
