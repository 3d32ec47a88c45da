"""The paper's regime on the tiny preset, one seed: tuned rows on the validation split, the length check, and the
fine-tuning effect on the test split (issue 25).

For one setting (`finetune`: every student starts from the pretrained scenes student; `scratch`: from random weights)
it tunes the rows of ROWS with `cmapkd.tune.tune` (the grid of `TUNE_GRID`, validation mean recall, one seed),
scores the reference rows and the CMAPKD schedule variants and DTO rows on the validation split at their methods'
choices, trains every tuned row again at other lengths (`--length-factors`, default half: the length check), and
for `finetune` scores the pretrained student, the teacher and the student fine-tuned without a teacher on the test
split with three seeds. Everything runs under `--out` (its result files are the records); the table is printed and
written to `--json`.

  python bench/regime.py --setting finetune --rows scratch clipkd promptkd cmapkd switchkd --length-factors 0.5 2 \
      --out runs/regime --jobs 2 --json bench/results/regime_finetune_cpu.json
  python bench/regime.py --setting scratch --steps 960 --rows scratch clipkd cmapkd --rate-only --no-variants \
      --rates 2.5e-4 5e-4 1e-3 2e-3 4e-3 --out runs/regime --jobs 2 --json bench/results/regime_scratch_cpu.json
"""

import argparse
import json
import time
from pathlib import Path
import numpy as np

ROWS = {
    'finetune': [('scratch', None), ('clipkd', None), ('promptkd', None), ('cmapkd', None)],
    'scratch': [('scratch', None), ('clipkd', None), ('cmapkd', None)],
}
VARIANTS = [('cmapkd', 'one_stage'), ('cmapkd', 'one_stage_lr_matched'), ('cmapkd', 'dto'), ('clipkd', 'dto')]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--preset', default='tiny')
    ap.add_argument('--setting', choices=list(ROWS), default='finetune')
    ap.add_argument('--steps', type=int, default=0, help='student length (default: the preset\'s)')
    ap.add_argument('--out', default='runs/regime')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--json', required=True)
    ap.add_argument('--rate-only', action='store_true', help='tune the base rate only (the weight stays 1)')
    ap.add_argument('--rates', nargs='+', type=float, help="the rate grid (default: TUNE_GRID's for the setting)")
    ap.add_argument('--rows', nargs='+', help='methods to tune (default: ROWS of the setting)')
    ap.add_argument('--no-variants', action='store_true', help='skip the CMAPKD schedule variants and the DTO rows')
    ap.add_argument(
        '--length-factors',
        nargs='+',
        type=float,
        default=[0.5],
        help='the length check: every tuned row again at these multiples of the length (default 0.5)',
    )
    a = ap.parse_args()
    from cmapkd.experiments import run_many, row_name, length_overrides
    from cmapkd.io import atomic_write, git_commit
    from cmapkd.presets import preset
    from cmapkd.tune import tune, steps_overrides, validation_overrides, TUNE_GRID, TUNE_METRIC

    t0, out = time.time(), Path(a.out)
    rows = [(m, None) for m in a.rows] if a.rows else ROWS[a.setting]
    full = preset(a.preset).stages
    factor = a.steps / sum(s.steps for s in full) if a.steps else 1.0
    length = steps_overrides(a.preset, a.steps)
    grid = dict(
        TUNE_GRID[a.setting],
        **({'distill_weight': (1.0,)} if a.rate_only else {}),
        **({'lr': tuple(a.rates)} if a.rates else {}),
    )
    TUNE_GRID[a.setting] = grid
    choice = tune(a.preset, out, rows, a.setting, jobs=a.jobs, overrides=length)

    def score(p):
        return json.loads(p.read_text())['metrics']

    val = validation_overrides(a.preset) + [f'setting={a.setting}'] + length
    refs = [('pretrained', None, 0), ('teacher', None, 0)] if a.setting == 'finetune' else []
    scored = refs + ([] if a.no_variants else [(m, v, 0) for m, v in VARIANTS])
    extra = run_many(f'regime/{a.setting}/val', a.preset, scored, out, val, jobs=a.jobs)
    table = {row: dict(val=c['score'], lr=c['lr'], distill_weight=c['distill_weight']) for row, c in choice.items()}
    for (m, v, _), p in zip(scored, extra):
        table[row_name(m, v)] = dict(val=score(p)[TUNE_METRIC])
    record = dict(
        setting=a.setting,
        steps=sum(max(1, round(s.steps * factor)) for s in full),
        grid=grid,
        metric=TUNE_METRIC,
        rows=table,
        commit=git_commit(),
    )
    atomic_write(a.json, json.dumps(record, indent=1))  # kept as the phases finish
    if a.setting == 'finetune':  # fine-tuning against the seed spread, and the teacher, on the test split
        test = run_many(
            f'regime/{a.setting}/test',
            a.preset,
            [('pretrained', None, 0), ('teacher', None, 0)] + [('scratch', None, s) for s in (0, 1, 2)],
            out,
            [f'setting={a.setting}', 'eval.tasks=[retrieval]'],
            jobs=a.jobs,
        )
        mr = [score(p)['scenes/mean_recall'] for p in test]
        record['test'] = dict(
            pretrained=mr[0],
            teacher=mr[1],
            finetuned_no_teacher=mr[2:],
            finetuned_mean=float(np.mean(mr[2:])),
            finetuned_std=float(np.std(mr[2:], ddof=1)),
        )
    atomic_write(a.json, json.dumps(record, indent=1))
    for f in a.length_factors:  # the length check: every tuned row again at f times the length, at its choice
        name = 'half' if f == 0.5 else f'x{f:g}'
        scaled = validation_overrides(a.preset) + [f'setting={a.setting}'] + length_overrides(a.preset, factor * f)
        runs = run_many(
            f'regime/{a.setting}/{name}', a.preset, [(m, None, 0) for m, _ in rows], out, scaled, jobs=a.jobs
        )
        for (m, _), p in zip(rows, runs):
            table[m][f'val_{name}'] = score(p)[TUNE_METRIC]
        atomic_write(a.json, json.dumps(record, indent=1))
    record['wall_s'] = round(time.time() - t0, 1)
    atomic_write(a.json, json.dumps(record, indent=1))
    print(json.dumps(record, indent=1))


if __name__ == '__main__':
    main()
