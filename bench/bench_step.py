"""Throughput of one distillation step: CMAPKD against the plain open_clip distillation a researcher would write.

Prints one JSON object. Every ratio is taken between configurations measured in this same run.

  python bench/bench_step.py                 # GPU when present (gpu preset, batch 256, 224 px) and CPU tiny preset
  python bench/bench_step.py --only cpu      # CPU tiny preset against its own plain baseline only

(a) plain: teacher forward under no_grad, student forward + backward, CLIP loss + MSE between the student's
    embedding (linearly projected) and the teacher's, AdamW (fused on GPU).
(b) cmapkd: the full CMAPKD step of the preset (teacher taps, pyramids, ALSN, four loss terms).
(c) cmapkd_cache: the same with the teacher's features read from memory instead of running the teacher
    (the teacher cache), against (a') plain_cache: the plain step with cached teacher embeddings.
(d) the tiny preset on CPU against its own plain baseline.
(r) ALSN's reward step (held-out task gradient + two shifted student forwards + the policy gradient), run every
    `method.alsn_every` steps of the stages that train ALSN: its time and its overhead per step at that interval.
"""
import argparse, json, statistics, time
import torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode
from open_clip.loss import ClipLoss
from cmapkd.config import preset, apply_overrides, validate, apply_variant
from cmapkd.backbones import build_backbone
from cmapkd.baselines import build_method, stages_for
from cmapkd.trainer import Distiller, _param_groups, Runtime

# dense bf16 peak TFLOP/s by device name (no sparsity)
PEAK_BF16 = {'H100': 989.0, 'H200': 989.0, 'A100': 312.0}


def peak_for(name: str):
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize()


class Plain(nn.Module):
    "The simplest distillation step: CLIP loss + MSE of projected student embeddings on the teacher's."
    def __init__(self, student, t_dim):
        super().__init__()
        self.student, self.proj = student, nn.Linear(student.embed_dim, t_dim)
        self.clip = ClipLoss()

    def forward(self, images, tokens, tf, stage=None):
        m = self.student.model
        si, st = m.encode_image(images), m.encode_text(tokens)
        task = self.clip(F.normalize(si, dim=-1), F.normalize(st, dim=-1), m.logit_scale.exp())
        mse = F.mse_loss(self.proj(si), tf['v_emb']) + F.mse_loss(self.proj(st), tf['t_emb'])
        return {'loss': task + mse}


def measure(step, dev, steps, warmup):
    for _ in range(warmup): step()
    sync(dev)
    if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t = time.perf_counter(); step(); sync(dev); times.append(time.perf_counter() - t)
    return statistics.median(times), (torch.cuda.max_memory_allocated() / 2**30 if dev.type == 'cuda' else None)


def bench(preset_name, batch, steps, warmup, device, extra=()):
    cfg = apply_variant(validate(apply_overrides(preset(preset_name), [f'device={device}', 'teacher_train_steps=0', f'data.batch_size={batch}', *extra])))
    rt = Runtime(cfg)
    dev = rt.device
    torch.manual_seed(0)
    teacher = build_backbone(cfg.teacher, frozen=True, device=dev)
    n, ctx = cfg.data.image_size, teacher.model.context_length if hasattr(teacher.model, 'context_length') else 77
    images = torch.randn(batch, 3, n, n, device=dev)
    tokens = torch.randint(1, 400, (batch, ctx), device=dev); tokens[:, ctx // 2] = tokens.max() + 1
    stage = stages_for(cfg)[2]   # 'fine': every level active
    out = {}
    for name in ('plain', 'plain_cache', 'cmapkd', 'cmapkd_cache'):
        student = build_backbone(cfg.student, device=dev)
        if name.startswith('plain'):
            model = Plain(student, teacher.embed_dim).to(dev)
            feats = lambda: {'v_emb': teacher.encode_image(images).float(), 't_emb': teacher.encode_text(tokens).float()}
            params = list(model.parameters())
            groups = [dict(params=params)]
        else:
            method = build_method(cfg, teacher, student).to(dev)
            model = Distiller(student, method)
            feats = lambda: method.teacher_features(teacher(images, tokens))
            groups = _param_groups(model.groups(), 0.1)
            for g in groups: g.pop('group')
        opt = torch.optim.AdamW(groups, lr=1e-5, fused=dev.type == 'cuda')
        with torch.no_grad(), rt.autocast(): cached = {k: v.detach() for k, v in feats().items()}

        def step():
            with rt.autocast():
                with torch.no_grad(): tf = cached if name.endswith('cache') else feats()
                loss = model(images, tokens, tf, stage)['loss']
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        with FlopCounterMode(display=False) as fc: step()
        sec, mem = measure(step, dev, steps, warmup)
        if name == 'cmapkd':   # ALSN's reward step on the same batch, the held-out batch being another one
            held = (torch.randn_like(images), tokens.roll(1, 0))
            reward = lambda: method.alsn_step(student, images, tokens, cached, stage, *held)
            reward_sec, _ = measure(reward, dev, steps, warmup)
        flops = fc.get_total_flops()
        out[name] = dict(images_per_s=round(batch / sec, 1), step_ms=round(sec * 1e3, 2), tflops_per_step=round(flops / 1e12, 4),
                         achieved_tflops=round(flops / sec / 1e12, 2), peak_mem_gib=None if mem is None else round(mem, 2))
        peak = peak_for(torch.cuda.get_device_name()) if dev.type == 'cuda' else None
        if peak: out[name]['mfu'] = round(flops / sec / 1e12 / peak, 3)
        del model, opt, student
        if dev.type == 'cuda': torch.cuda.empty_cache()
    r = lambda a, b: round(out[a]['images_per_s'] / out[b]['images_per_s'], 3)
    ratios = {'cmapkd_vs_plain': r('cmapkd', 'plain'), 'cmapkd_cache_vs_plain': r('cmapkd_cache', 'plain'),
              'plain_cache_vs_plain': r('plain_cache', 'plain'),
              'step_time_cmapkd_over_plain': round(out['cmapkd']['step_ms'] / out['plain']['step_ms'], 3)}
    every = cfg.method.alsn_every
    out['alsn_reward'] = dict(step_ms=round(reward_sec * 1e3, 2), every=every,
                              overhead_per_step=round(reward_sec / every / (out['cmapkd']['step_ms'] / 1e3), 3))
    ratios['step_time_cmapkd_with_reward_over_plain'] = round((out['cmapkd']['step_ms'] + reward_sec * 1e3 / every) / out['plain']['step_ms'], 3)
    if dev.type == 'cuda':
        ratios['peak_mem_cmapkd_over_plain'] = round(out['cmapkd']['peak_mem_gib'] / out['plain']['peak_mem_gib'], 3)
    name = torch.cuda.get_device_name() if dev.type == 'cuda' else f'cpu x{torch.get_num_threads()} threads'
    return dict(preset=preset_name, device=name, batch=batch, image_size=cfg.data.image_size, results=out, ratios=ratios)


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
        report['gpu'] = bench('gpu', a.gpu_batch, a.steps, a.warmup, 'cuda')
    elif a.only == 'gpu':
        raise SystemExit('--only gpu: no CUDA device is visible')
    if a.only != 'gpu':
        report['cpu_tiny'] = bench('tiny', a.cpu_batch, a.steps, a.warmup, 'cpu')
    print(json.dumps(report, indent=1))


if __name__ == '__main__':
    main()
