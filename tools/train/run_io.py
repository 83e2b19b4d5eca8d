"""What the training scripts share: the run's start (threads, seeds, work folder, log) and writing a
Hugging Face folder (model.safetensors, config.json, preprocessor_config.json), each file atomically."""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import st_io  # noqa: E402


def start(args):
    """Threads and seeds from args (threads, seed); creates args.work. Returns (numpy rng, say), where
    say(msg) prints and appends to <work>/log.txt."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.work, exist_ok=True)
    log = open(os.path.join(args.work, "log.txt"), "a")

    def say(msg):
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    return rng, say


def _replace(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def write_hf_folder(out_dir, tensors, config, preprocessor):
    """tensors: name -> float32 numpy array (HF names)."""
    os.makedirs(out_dir, exist_ok=True)
    _replace(os.path.join(out_dir, "model.safetensors"),
             lambda p: st_io.save_file(tensors, p, metadata={"format": "pt"}))
    for name, obj in (("config.json", config), ("preprocessor_config.json", preprocessor)):
        def dump(p, obj=obj):
            with open(p, "w") as f:
                json.dump(obj, f, indent=2)
        _replace(os.path.join(out_dir, name), dump)
