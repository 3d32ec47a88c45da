"""Throughput of one distillation step: CMAPKD against the plain open_clip distillation a researcher would write.

Prints one JSON object (and each configuration's row to stderr as soon as it is measured). Every ratio is taken
between configurations measured in this same run, on one device.

  python bench/bench_step.py                 # GPU when present (gpu preset, batch 256, 224 px) and the CPU tiny preset
  python bench/bench_step.py --only cpu      # CPU tiny preset against its own plain baseline only

(a)  plain: teacher forward under no_grad, student forward + backward, CLIP loss + MSE between the student's
     embedding (linearly projected) and the teacher's, AdamW (fused on GPU), eager.
(a2) plain_compiled: the same with torch.compile on the student's step and on the teacher's forward.
(b)  cmapkd: the full CMAPKD step of the preset as the trainer runs it (its fast path on GPU: compiled step and
     teacher forward, fused AdamW, bf16): teacher taps, pyramids, ALSN weights, four loss terms.
(c)  cmapkd_cache: the same with the teacher's features read from memory instead of running the teacher.
(r)  alsn_reward: ALSN's reward step (held-out task gradient + two shifted student forwards + the policy gradient),
     run every `method.alsn_every` steps of the stages that train ALSN: its time and its overhead per step.
On the CPU (the tiny preset, no compilation): (a) and (b), and (b) with the reward's share added.

Synthetic data (random images and tokens) and random weights, so the figures measure the step alone. FLOPs are
counted by torch's FlopCounterMode on the eager step of each configuration; MFU is against the device's dense
bf16 peak.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode
from open_clip.loss import ClipLoss
from cmapkd.config import apply_overrides
from cmapkd.presets import preset
from cmapkd.loop import Trainer

PEAK_BF16 = {'H100': 989.0, 'H200': 989.0, 'A100': 312.0}  # dense bf16 TFLOP/s (SXM), no sparsity


def peak_for(name: str):
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def sync(dev):
    if dev.type == 'cuda':
        torch.cuda.synchronize()


class Plain(nn.Module):
    "The simplest distillation step: CLIP loss + MSE of projected student embeddings on the teacher's."

    def __init__(self, student, t_dim):
        super().__init__()
        self.student, self.proj = student, nn.Linear(student.embed_dim, t_dim)
        self.clip = ClipLoss()

    def forward(self, images, tokens, tf):
        m = self.student.model
        si, st = m.encode_image(images), m.encode_text(tokens)
        task = self.clip(F.normalize(si, dim=-1), F.normalize(st, dim=-1), m.logit_scale.exp())
        mse = F.mse_loss(self.proj(si), tf['v_emb']) + F.mse_loss(self.proj(st), tf['t_emb'])
        return {'loss': task + mse}


def measure(step, dev, steps, warmup):
    "Median seconds per call after `warmup` calls (compilation happens there), and the peak memory of the timed calls."
    for _ in range(warmup):
        step()
    sync(dev)
    if dev.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        sync(dev)
        times.append(time.perf_counter() - t)
    return statistics.median(times), (torch.cuda.max_memory_allocated() / 2**30 if dev.type == 'cuda' else None)


def counted(fn) -> int:
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def trainer(preset_name, batch, device, fast, overrides=()):
    "The trainer of the preset's CMAPKD run, on random weights (no teacher training), with the fast path on or off."
    cfg = apply_overrides(
        preset(preset_name),
        [
            f'device={device}',
            'teacher_train_steps=0',
            'setting=scratch',
            f'data.batch_size={batch}',
            f'fast={str(fast).lower()}',
            'teacher_cache=false',
            f'out_dir={tempfile.mkdtemp()}',
            *overrides,
        ],
    )
    return Trainer(cfg, progress=False)


def row(batch, sec, mem, flops, dev):
    out = dict(
        images_per_s=round(batch / sec, 1),
        step_ms=round(sec * 1e3, 2),
        tflop_per_step=round(flops / 1e12, 4),
        achieved_tflops=round(flops / sec / 1e12, 3),
        peak_mem_gib=None if mem is None else round(mem, 2),
    )
    peak = peak_for(torch.cuda.get_device_name()) if dev.type == 'cuda' else None
    if peak:
        out['mfu'] = round(flops / sec / 1e12 / peak, 3)
    return out


def bench(preset_name, batch, steps, warmup, device, configs):
    dev = torch.device(device)
    out, flops = {}, {}
    for name in configs:
        fast = name != 'plain' and dev.type == 'cuda'  # the CPU runs everything eager
        tr = trainer(preset_name, batch, device, fast)
        torch.manual_seed(0)
        n, ctx = tr.cfg.data.image_size, tr.teacher.model.context_length
        images = torch.randn(batch, 3, n, n, device=dev)
        tokens = torch.randint(1, 400, (batch, ctx), device=dev)
        tokens[:, ctx // 2] = tokens.max() + 1
        stage = tr.stages[2]  # 'fine': every level active
        tr._enter_stage(stage)
        tr._set_lr()
        if name.startswith('plain'):
            model = Plain(tr.student, tr.teacher.embed_dim).to(dev)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=dev.type == 'cuda')

            def teacher_eager():
                with torch.no_grad(), tr.rt.autocast():
                    return {
                        'v_emb': tr.teacher.encode_image(images).float(),
                        't_emb': tr.teacher.encode_text(tokens).float(),
                    }

            teacher_fn = torch.compile(teacher_eager) if name == 'plain_compiled' else teacher_eager
            forward, eager_forward = (torch.compile(model) if name == 'plain_compiled' else model), model

            def eager_step():
                with tr.rt.autocast():
                    eager_forward(images, tokens, teacher_eager())['loss'].backward()

            def step():
                with tr.rt.autocast():
                    loss = forward(images, tokens, teacher_fn())['loss']
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        else:
            cached = tr.teacher_features(None, images, tokens)
            cached = {k: v.detach().clone() for k, v in cached.items()}
            live = name == 'cmapkd'

            def eager_step():
                with tr.rt.autocast():
                    tf = tr.method.teacher_features(tr.teacher(images, tokens)) if live else cached
                    tr.model(images, tokens, tf, stage)['loss'].backward()

            def step():
                tf = tr.teacher_features(None, images, tokens) if live else cached
                with tr.rt.autocast():
                    loss = tr.module(images, tokens, tf, stage)['loss']
                tr.opt.zero_grad(set_to_none=True)
                loss.backward()
                tr.opt.step()

        flops[name] = counted(eager_step)
        sec, mem = measure(step, dev, steps, warmup)
        out[name] = row(batch, sec, mem, flops[name], dev)
        print(
            json.dumps({'preset': preset_name, name: out[name]}), file=sys.stderr, flush=True
        )  # kept if a later one times out
        if name == 'cmapkd':  # ALSN's reward on the same batch; the held-out batch is another one
            held = (torch.randn_like(images), tokens.roll(1, 0))

            def reward():
                return tr.method.alsn_step(tr.student, images, tokens, cached, stage, *held)

            r_sec, r_mem = measure(reward, dev, max(3, steps // 2), 1)
            every = tr.cfg.method.alsn_every
            out['alsn_reward'] = dict(
                step_ms=round(r_sec * 1e3, 2),
                every=every,
                peak_mem_gib=None if r_mem is None else round(r_mem, 2),
                overhead_per_step=round(r_sec / every / sec, 3),
            )
        tr = None  # frees the trainer before the next config (the closures above share this cell, so not `del`)
        if dev.type == 'cuda':
            torch.cuda.empty_cache()

    def speed(a, b):
        return round(out[a]['images_per_s'] / out[b]['images_per_s'], 3)

    ratios = {f'{a}_vs_{b}': speed(a, b) for a in configs for b in ('plain', 'plain_compiled') if a != b and b in out}
    if 'alsn_reward' in out:
        with_reward = out['cmapkd']['step_ms'] * (1 + out['alsn_reward']['overhead_per_step'])
        ratios['step_time_cmapkd_with_reward_over_plain'] = round(with_reward / out['plain']['step_ms'], 3)
    if dev.type == 'cuda':
        ratios['peak_mem_cmapkd_over_plain'] = round(out['cmapkd']['peak_mem_gib'] / out['plain']['peak_mem_gib'], 3)
    name = torch.cuda.get_device_name() if dev.type == 'cuda' else f'cpu x{torch.get_num_threads()} threads'
    return dict(
        preset=preset_name,
        device=name,
        batch=batch,
        image_size=224 if preset_name == 'gpu' else 64,
        torch=torch.__version__,
        results=out,
        ratios=ratios,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', choices=['gpu', 'cpu'], default=None)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--gpu-batch', type=int, default=256)
    ap.add_argument('--cpu-batch', type=int, default=64)
    a = ap.parse_args()
    report = {}
    if a.only != 'cpu' and torch.cuda.is_available():
        report['gpu'] = bench(
            'gpu', a.gpu_batch, a.steps, a.warmup, 'cuda', ('plain', 'plain_compiled', 'cmapkd', 'cmapkd_cache')
        )
    elif a.only == 'gpu':
        raise SystemExit('--only gpu: no CUDA device is visible')
    if a.only != 'gpu':
        report['cpu_tiny'] = bench('tiny', a.cpu_batch, a.steps, a.warmup, 'cpu', ('plain', 'cmapkd'))
    print(json.dumps(report, indent=1))


if __name__ == '__main__':
    main()
