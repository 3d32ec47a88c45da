"""Where CMAPKD differed from the method outline: each option against the first implementation's (issue 27, item 1).

One CMAPKD run per row on the tiny preset, fine-tuning setting, seed 0, scored by mean recall on the validation split
(the test split is never read). The base row pins every option at the first implementation's choice; each other row
changes one field to the outline's choice, so a row measures that one difference whatever the current defaults are.
The row `outline` has all of them at the outline's choice; `--current` adds a row at the current defaults (no option
pinned; its `value` records them). The base rate is CMAPKD's
tuned rate when the fine-tuning choice file has one (`--choice`), else 3e-4; the distillation weight is 1.

The schedule and rate rows (SCHEDULE_RATES) change one thing of the *current defaults* and are read against the row
`current`: the outline's stage layout (one ALSN stage of 5 / 25 of the run instead of our policy + joint split, as a
joint stage or as our policy phase at that share, or the split with the policy phase at that share), the adapters at
the first implementation's 2x the student's rate (the outline's: 0.5x), and ALSN at the first implementation's
1e-3 (2x its 5e-4 base, a fixed rate: 1/3 of the tuned 3e-3) instead of the outline's 2x.

  OMP_NUM_THREADS=1 python bench/deviations.py --lr 3e-3 --current --force current --jobs 2 --out runs/deviations \
      --only current stages adapters_lr_ratio alsn_lr_ratio --json bench/results/deviations_tiny_cpu.json
  # the adapters' difference at seed 0 (+0.57) checked at a second seed (rows carry their seed)
  OMP_NUM_THREADS=1 python bench/deviations.py --lr 3e-3 --current --seed 1 --jobs 2 --out runs/deviations \
      --only current adapters_lr_ratio --json bench/results/deviations_tiny_cpu.json

  OMP_NUM_THREADS=1 python bench/deviations.py --current --out runs/deviations \
      --json bench/results/deviations_tiny_cpu.json

Finished runs are kept (a rerun only scores what is missing); the JSON is rewritten after each row and keeps the rows
of other rates (a run at another rate replaces the training run of the same name under --out).
"""

import argparse
import datetime
import json
from pathlib import Path

# the first implementation's choice of every option; the outline's differs in exactly one field per row of OPTIONS
BASE = {
    'bridge': 'heads',
    'align_beta': 1.0,
    'relation_gamma': 1.0,
    'relation_levels': 'both',
    'alsn_activation': 'gelu',
    'alsn_dropout': 0.0,
    'level_norm': 'layernorm',
    'logit_temperature': None,
    'language_pooling': 'window_attention',
}
OPTIONS = [
    ('bridge', 'v2l_l2v'),
    ('align_beta', 0.5),
    ('relation_gamma', 0.3),
    ('relation_levels', 'visual'),
    ('alsn_activation', 'relu'),
    ('alsn_dropout', 0.1),
    ('level_norm', 'l2'),
    ('logit_temperature', 0.07),
    ('language_pooling', 'mha'),
]
METRIC = 'val/mean_recall'


def stage_layouts(total: int) -> dict:
    """The schedule rows: the current progressive schedule's coarse / medium / fine stages, then the ALSN part as the
    outline lays it out."""
    from cmapkd.config import progressive
    from dataclasses import asdict, replace

    coarse, medium, fine, policy, joint = progressive(total)
    alsn = round(total * 5 / 25)  # the outline's ALSN stage: 5 of 25 epochs
    layouts = {
        'alsn_stage': [coarse, medium, fine, replace(joint, name='alsn', steps=alsn)],  # one stage, all training
        'alsn_policy_stage': [coarse, medium, fine, replace(policy, steps=alsn)],  # one stage, student frozen
        'policy_at_outline_share': [
            coarse,
            medium,
            replace(fine, steps=fine.steps - alsn + policy.steps),
            replace(policy, steps=alsn),
            joint,
        ],
    }  # our split, policy at 5 / 25
    for v in layouts.values():
        assert sum(s.steps for s in v) == total, v
    return {k: [asdict(s) for s in v] for k, v in layouts.items()}


SCHEDULE_RATES = [
    ('stages', 'alsn_stage'),
    ('stages', 'alsn_policy_stage'),
    ('stages', 'policy_at_outline_share'),
    ('adapters_lr_ratio', 2.0),
    ('alsn_lr_ratio', None),
]  # alsn_lr_ratio: 1e-3 / the base rate


def _run(args):
    "One row's run (in a worker process when --jobs > 1): its result file."
    from cmapkd.experiments import run_one

    name, out, common, ov, force, seed = args
    return run_one(f'deviations/{name}', 'tiny', 'cmapkd', None, seed, out, common + ov, force=force, progress=False)


def tuned_rate(choice: Path) -> float:
    "CMAPKD's tuned base rate from the fine-tuning choice file, else 3e-4 (the rate the scratch row chose)."
    if choice.exists():
        c = json.loads(choice.read_text())['choice'].get('cmapkd')
        if c:
            return float(c['lr'])
    return 3e-4


def pinned(fields: dict) -> list[str]:
    return [f"method.{k}={'null' if v is None else v}" for k, v in fields.items()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default='runs/deviations', help='runs and result files go here (never paper/)')
    ap.add_argument('--json', default='bench/results/deviations_tiny_cpu.json')
    ap.add_argument(
        '--choice',
        default='runs/regime/results/tuning/finetune/choice.json',
        help="the fine-tuning choices (row 'cmapkd')",
    )
    ap.add_argument('--lr', type=float, help='base rate (default: the tuned one, else 3e-4)')
    ap.add_argument(
        '--only',
        nargs='+',
        help="rows: base, outline, current, option names, stages, adapters_lr_ratio or alsn_lr_ratio "
        "(default: all but current)",
    )
    ap.add_argument('--current', action='store_true', help='also a row at the current defaults')
    ap.add_argument('--device', default='cpu (2 cores, shared)', help='the machine, in words, for the record')
    ap.add_argument('--force', nargs='*', default=[], help='rows to rerun even where their result file is current')
    ap.add_argument('--jobs', type=int, default=1, help='runs at a time (worker processes)')
    ap.add_argument('--seed', type=int, default=0, help='the seed of these runs (a second seed checks a difference)')
    a = ap.parse_args()
    from cmapkd.config import MethodSpec, OptimSpec
    from cmapkd.experiments import experiment_config
    from cmapkd.io import atomic_write
    from cmapkd.tune import validation_overrides

    lr = a.lr or tuned_rate(Path(a.choice))
    common = validation_overrides('tiny') + ['setting=finetune', f'optim.lr_student={lr}', 'method.distill_weight=1']
    rows = [('base', None, pinned(BASE))]
    rows += [(k, v, pinned({**BASE, k: v})) for k, v in OPTIONS]
    rows += [('outline', None, pinned({**BASE, **dict(OPTIONS)}))]
    rows += [('current', None, [])] if a.current else []
    total = sum(s.steps for s in experiment_config('tiny', overrides=common).stages)
    layouts = stage_layouts(total)
    for k, v in SCHEDULE_RATES:
        if k == 'stages':
            rows.append((k, v, [f'stages={json.dumps(layouts[v])}']))
        else:
            v = v if v is not None else round(1e-3 / lr, 6)
            rows.append((k, v, [f'optim.{k}={v}']))
    rows = [r for r in rows if not a.only or r[0] in a.only]
    out = Path(a.json)
    record = json.loads(out.read_text()) if out.exists() else {}
    done = {
        (Path(r['result']).parent.name, r['lr_student'], r.setdefault('seed', 0)): r for r in record.get('rows', [])
    }  # by run, rate and seed (rows from before the seed field: seed 0)
    names = [option if value is None else f'{option}-{value}' for option, value, _ in rows]
    work = [
        (n, a.out, common, ov, n in a.force or option in a.force, a.seed) for n, (option, _, ov) in zip(names, rows)
    ]
    if a.jobs > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(a.jobs, mp_context=mp.get_context('spawn'))
        paths = pool.map(_run, work)
    else:
        paths = map(_run, work)
    for name, (option, value, ov), path in zip(names, rows, paths):  # in order, as each run finishes
        res = json.loads(path.read_text())
        if option == 'current':  # the defaults it ran at
            value = {k: getattr(MethodSpec(), k) for k in BASE}
            value.update(
                adapters_lr_ratio=OptimSpec().adapters_lr_ratio,
                alsn_lr_ratio=OptimSpec().alsn_lr_ratio,
                stages=', '.join(f"{s['name']} {s['steps']}" for s in res['config']['stages']),
            )
        if option == 'outline':
            value = dict(OPTIONS)
        row = dict(
            option=option,
            value=value,
            val_mean_recall=round(res['metrics'][METRIC], 3),
            seconds=res['wall_s'],
            lr_student=lr,
            seed=a.seed,
            commit=res['commit'],
            device=a.device,
            result=str(path),
            date=datetime.date.fromtimestamp(path.stat().st_mtime).isoformat(),
        )
        if option == 'stages':
            row['steps'] = ', '.join(f"{s['name']} {s['steps']}" for s in res['config']['stages'])
        if option in ('stages', 'adapters_lr_ratio', 'alsn_lr_ratio'):
            row['against'] = 'current'
        done[(name, lr, a.seed)] = row
        print(f"{name}: {res['metrics'][METRIC]:.2f} in {res['wall_s']:.0f} s", flush=True)
        order = (
            ['base']
            + [k for k, _ in OPTIONS]
            + ['outline', 'current']
            + list(dict.fromkeys(k for k, _ in SCHEDULE_RATES))
        )
        rows_now = sorted(done.values(), key=lambda r: (-r['lr_student'], r.get('seed', 0), order.index(r['option'])))
        record = dict(
            preset='tiny', setting='finetune', seed=0, metric=METRIC, distill_weight=1.0, base=BASE, rows=rows_now
        )  # seed: the default; each row has its own
        atomic_write(out, json.dumps(record, indent=1))


if __name__ == '__main__':
    main()
