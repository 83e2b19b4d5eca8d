"""Writing the reference fixtures, shared by the make_*_fixtures.py scripts: JSON (indented, a trailing
newline), float32 .npy files, and a case folder emptied before it is written again."""
import json
import shutil

import numpy as np


def dump_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def fresh_dir(d):
    """d, removed with everything in it and created again (parents too)."""
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def save_npy(path, a):
    np.save(path, np.ascontiguousarray(np.asarray(a, dtype=np.float32)))


def save(d, name, a):
    """d / name as little-endian float32."""
    np.save(d / name, np.ascontiguousarray(a, dtype="<f4"))
