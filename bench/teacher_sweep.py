"""The tiny preset's from-scratch teacher: its length, batch and learning rate against mean recall on the test split.

Each variant trains the scenes teacher exactly as `train_teacher` does (the `Trainer`, the recipe's AdamW, fresh
scenes, each seen once), in fp32 without compilation so that its trend carries over to the CPU reproduction, then
evaluates it on the 1,000-image test split (the split of Table 2). Variants run as parallel processes, each with its
own teacher cache; one JSON line per variant is appended to `--out` as it finishes.

  python bench/teacher_sweep.py --out sweep.jsonl                  # every variant of VARIANTS, 4 at a time
  python bench/teacher_sweep.py --only 2400x64 600x256 --jobs 2    # some of them
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace

# name -> (steps, batch, lr); 2400x64 was the recipe of the first three reproductions, 1200x256 is the tiny preset's
VARIANTS = {
    f'{s}x{b}' + ('' if lr == 1e-3 else f'-lr{lr:g}'): (s, b, lr)
    for s, b, lr in [
        (2400, 64, 1e-3),
        (4800, 64, 1e-3),
        (1200, 128, 1e-3),
        (600, 256, 1e-3),
        (2400, 128, 1e-3),
        (1200, 256, 1e-3),
        (600, 256, 2e-3),
        (1200, 256, 2e-3),
        (1800, 256, 1e-3),
        (2400, 256, 1e-3),
    ]
}


def one(name: str, threads: int, workers: int) -> dict:
    "Train and evaluate one variant in this process."
    import torch
    from cmapkd import teacher as T
    from cmapkd.backbones import build_backbone
    from cmapkd.data import build_dataset
    from cmapkd.io import git_commit
    from cmapkd.presets import preset
    from cmapkd.tokenizers import get_tokenizer

    steps, batch, lr = VARIANTS[name]
    torch.set_num_threads(threads)
    T.PRETRAIN_RECIPE['lr'] = lr
    cfg = preset('tiny')
    cfg.teacher_train_steps, cfg.teacher_batch, cfg.precision, cfg.fast = steps, batch, 'fp32', False
    cfg.data = replace(cfg.data, num_workers=workers)
    t0 = time.time()
    path = T.pretrain(cfg, 'teacher', progress=False)
    train_s = time.time() - t0
    hist = T.pretrain_history(path)
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = build_backbone(replace(cfg.teacher, pretrained=str(path)), frozen=True, device=dev)
    test = build_dataset(cfg.data, cfg.data.eval_split)
    m = T._curve_point(model, cfg, test, get_tokenizer(cfg.teacher), torch.device(dev))
    return dict(
        variant=name,
        steps=steps,
        batch=batch,
        lr=lr,
        images=steps * batch,
        n_test=len(test),
        train_s=round(train_s, 1),
        device=torch.cuda.get_device_name() if dev == 'cuda' else 'cpu',
        commit=git_commit(os.path.dirname(os.path.abspath(__file__))),
        torch=torch.__version__,
        logit_scale_final=hist['logit_scale_final'],
        curve=[(c['step'], c['mean_recall']) for c in hist['curve']],
        **m,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', nargs='*', default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument('--jobs', type=int, default=4)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--out', default='teacher_sweep.jsonl')
    ap.add_argument('--one', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.threads, a.workers)), flush=True)
        return
    todo, running = list(a.only), {}
    root = tempfile.mkdtemp(prefix='teacher_sweep_')
    while todo or running:
        while todo and len(running) < a.jobs:
            name = todo.pop(0)
            env = dict(os.environ, CMAPKD_CACHE=os.path.join(root, name))
            running[name] = subprocess.Popen(
                [sys.executable, __file__, '--one', name, '--threads', str(a.threads), '--workers', str(a.workers)],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
        for name, p in list(running.items()):
            if p.poll() is None:
                continue
            del running[name]
            line = p.stdout.read().strip().splitlines()
            rec = json.loads(line[-1]) if p.returncode == 0 and line else dict(variant=name, failed=p.returncode)
            print(json.dumps(rec), flush=True)
            with open(a.out, 'a') as f:
                f.write(json.dumps(rec) + '\n')
        time.sleep(1)


if __name__ == '__main__':
    main()
