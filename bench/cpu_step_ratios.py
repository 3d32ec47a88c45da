"""What a CMAPKD step costs on the CPU against the plain distillation step, with and without ALSN's reward and DTO.

One run, one process, the tiny preset's models and batch, the trainer's own `train_step` (issue 31, item 3):
  plain        the plain step of bench_step.py: CLIP loss + MSE of projected student embeddings on the teacher's, AdamW
  cmapkd       CMAPKD's step in its `alsn_joint` stage (every level, ALSN's weights), the plain sum of its terms
  cmapkd_dto   the same with DTO-KD's two-objective step (`optim.tradeoff=dto`)
and for each CMAPKD configuration the step that also takes ALSN's reward (held-out task gradient, two shifted student
forwards, the policy gradient), which the trainer runs every `method.alsn_every` steps of a stage that trains ALSN.
Every configuration reads the same precomputed teacher features (the tiny preset caches the teacher), so the ratios
compare the student side. The configurations are timed in alternating rounds, so a load that comes and goes on a
shared machine falls on all of them; each figure is the median over every timed step. Synthetic data (random images
and tokens), the pretrained-student setting's random-weight stand-in (no checkpoint is read).

  OMP_NUM_THREADS=2 python bench/cpu_step_ratios.py --json bench/results/cpu_step_ratios.json
"""

import argparse
import copy
import datetime
import itertools
import json
import os
import platform
import statistics
import time
import torch
from bench_step import Plain, trainer
from cmapkd.io import atomic_write, git_commit
from cmapkd.presets import preset


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--batch', type=int, default=0, help="batch size (default: the tiny preset's)")
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--steps', type=int, default=4, help='timed steps per configuration and round')
    ap.add_argument('--json', required=True)
    a = ap.parse_args()
    batch = a.batch or preset('tiny').data.batch_size
    torch.manual_seed(0)
    trainers = {
        name: trainer('tiny', batch, 'cpu', False, [f'optim.tradeoff={t}'])
        for name, t in (('cmapkd', 'sum'), ('cmapkd_dto', 'dto'))
    }
    tr0 = trainers['cmapkd']
    n, ctx = tr0.cfg.data.image_size, tr0.teacher.model.context_length
    images, tokens = torch.randn(batch, 3, n, n), torch.randint(1, 400, (batch, ctx))
    tokens[:, ctx // 2] = tokens.max() + 1  # an end-of-text token: the text tower pools there
    held = dict(image=torch.randn_like(images), text=tokens.roll(1, 0))
    features = {k: v.detach().clone() for k, v in tr0.teacher_features(None, images, tokens).items()}
    steps = {}
    for name, tr in trainers.items():
        stage = next(s for s in tr.stages if s.name == 'alsn_joint')
        tr._enter_stage(stage)
        tr._set_lr()
        tr.stream, tr.heldout = itertools.repeat(dict(image=images, text=tokens)), itertools.repeat(held)
        tr.teacher_features = lambda b, i, t: features

        def step(tr=tr, stage=stage, reward=False):
            tr.step = 0 if reward else 1  # the trainer takes the reward when the stage's step is a multiple of `every`
            tr.train_step(stage)

        steps[name] = step
        steps[name + '+reward'] = lambda step=step: step(reward=True)
    plain = Plain(copy.deepcopy(tr0.student), tr0.teacher.embed_dim)  # its own student: the runs below step tr0's
    plain_opt = torch.optim.AdamW(plain.parameters(), lr=1e-5)
    with torch.no_grad():
        plain_features = {
            'v_emb': tr0.teacher.encode_image(images).float(),
            't_emb': tr0.teacher.encode_text(tokens).float(),
        }

    def plain_step():
        loss = plain(images, tokens, plain_features)['loss']
        plain_opt.zero_grad(set_to_none=True)
        loss.backward()
        plain_opt.step()

    steps = {'plain': plain_step, **steps}
    for fn in steps.values():  # warm-up: first-call allocations
        fn()
    times = {k: [] for k in steps}
    for _ in range(a.rounds):
        for name, fn in steps.items():
            for _ in range(a.steps):
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    every = tr0.cfg.method.alsn_every
    per_step = {k: ms[k] + (ms[k + '+reward'] - ms[k]) / every for k in trainers}  # the reward on 1 step in `every`
    ratios = {f'{k}_over_plain': round(ms[k] / ms['plain'], 3) for k in steps if k != 'plain'}
    ratios.update({f'{k}_with_reward_every_{every}_over_plain': round(v / ms['plain'], 3) for k, v in per_step.items()})
    ratios['cmapkd_dto_over_cmapkd'] = round(ms['cmapkd_dto'] / ms['cmapkd'], 3)
    record = dict(
        what=__doc__.split('\n')[0],
        preset='tiny',
        batch=batch,
        rounds=a.rounds,
        steps_per_round=a.steps,
        step_ms={k: round(v, 1) for k, v in ms.items()},
        alsn_every=every,
        ratios=ratios,
        device=f'cpu: {platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads',
        load_average=os.getloadavg(),
        torch=torch.__version__,
        commit=git_commit(),
        date=datetime.date.today().isoformat(),
    )
    atomic_write(a.json, json.dumps(record, indent=1))
    print(json.dumps(record, indent=1))


if __name__ == '__main__':
    main()
