"""Where CMAPKD differed from the method outline: each option against the first implementation's (issue 27, item 1).

One CMAPKD run per row on the tiny preset, fine-tuning setting, seed 0, scored by mean recall on the validation split
(the test split is never read). The base row pins every option at the first implementation's choice; each other row
changes one field to the outline's choice, so a row measures that one difference whatever the current defaults are.
The row `outline` has all of them at the outline's choice; `--current` adds a row at the current defaults (no option
pinned; its `value` records them). The base rate is CMAPKD's
tuned rate when the fine-tuning choice file has one (`--choice`), else 3e-4; the distillation weight is 1.

  OMP_NUM_THREADS=1 python bench/deviations.py --current --out runs/deviations \
      --json bench/results/deviations_tiny_cpu.json

Finished runs are kept (a rerun only scores what is missing); the JSON is rewritten after each row and keeps the rows
of other rates (a run at another rate replaces the training run of the same name under --out).
"""
import argparse, datetime, json
from pathlib import Path

# the first implementation's choice of every option; the outline's differs in exactly one field per row of OPTIONS
BASE = {'bridge': 'heads', 'align_beta': 1.0, 'relation_gamma': 1.0, 'relation_levels': 'both',
        'alsn_activation': 'gelu', 'alsn_dropout': 0.0, 'level_norm': 'layernorm', 'logit_temperature': None,
        'language_pooling': 'window_attention'}
OPTIONS = [('bridge', 'v2l_l2v'), ('align_beta', 0.5), ('relation_gamma', 0.3), ('relation_levels', 'visual'),
           ('alsn_activation', 'relu'), ('alsn_dropout', 0.1), ('level_norm', 'l2'), ('logit_temperature', 0.07),
           ('language_pooling', 'mha')]
METRIC = 'val/mean_recall'


def tuned_rate(choice: Path) -> float:
    "CMAPKD's tuned base rate from the fine-tuning choice file, else 3e-4 (the rate the scratch row chose)."
    if choice.exists():
        c = json.loads(choice.read_text())['choice'].get('cmapkd')
        if c: return float(c['lr'])
    return 3e-4


def pinned(fields: dict) -> list[str]:
    return [f"method.{k}={'null' if v is None else v}" for k, v in fields.items()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default='runs/deviations', help='runs and result files go here (never paper/)')
    ap.add_argument('--json', default='bench/results/deviations_tiny_cpu.json')
    ap.add_argument('--choice', default='runs/regime/results/tuning/finetune/choice.json',
                    help="the fine-tuning choices (row 'cmapkd')")
    ap.add_argument('--lr', type=float, help='base rate (default: the tuned one, else 3e-4)')
    ap.add_argument('--only', nargs='+', help="rows: base, outline, current or option names (default: all but current)")
    ap.add_argument('--current', action='store_true', help='also a row at the current defaults')
    ap.add_argument('--device', default='cpu (2 cores, shared)', help='the machine, in words, for the record')
    a = ap.parse_args()
    from cmapkd.config import MethodSpec
    from cmapkd.experiments import run_one
    from cmapkd.io import atomic_write
    from cmapkd.tune import validation_overrides
    lr = a.lr or tuned_rate(Path(a.choice))
    common = validation_overrides('tiny') + ['setting=finetune', f'optim.lr_student={lr}', 'method.distill_weight=1']
    rows = [('base', None, pinned(BASE))]
    rows += [(k, v, pinned({**BASE, k: v})) for k, v in OPTIONS]
    rows += [('outline', None, pinned({**BASE, **dict(OPTIONS)}))]
    rows += [('current', None, [])] if a.current else []
    rows = [r for r in rows if not a.only or r[0] in a.only]
    out = Path(a.json)
    record = json.loads(out.read_text()) if out.exists() else {}
    done = {(Path(r['result']).parent.name, r['lr_student']): r for r in record.get('rows', [])}   # by run and rate
    for option, value, ov in rows:
        name = option if value is None else f'{option}-{value}'
        path = run_one(f'deviations/{name}', 'tiny', 'cmapkd', None, 0, a.out, common + ov)
        res = json.loads(path.read_text())
        if option == 'current': value = {k: getattr(MethodSpec(), k) for k in BASE}   # the defaults it ran at
        if option == 'outline': value = dict(OPTIONS)
        done[(name, lr)] = dict(option=option, value=value, val_mean_recall=round(res['metrics'][METRIC], 3),
                          seconds=res['wall_s'], lr_student=lr, commit=res['commit'], device=a.device, result=str(path),
                          date=datetime.date.fromtimestamp(path.stat().st_mtime).isoformat())
        print(f"{name}: {res['metrics'][METRIC]:.2f} in {res['wall_s']:.0f} s", flush=True)
        order = ['base'] + [k for k, _ in OPTIONS] + ['outline', 'current']
        rows_now = sorted(done.values(), key=lambda r: (-r['lr_student'], order.index(r['option'])))
        record = dict(preset='tiny', setting='finetune', seed=0, metric=METRIC, distill_weight=1.0, base=BASE,
                      rows=rows_now)
        atomic_write(out, json.dumps(record, indent=1))


if __name__ == '__main__':
    main()
