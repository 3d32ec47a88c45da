"""How the tiny preset's rows move with the training length, at their committed tuning choices (issue 31).

Design 3.10 runs a setting at convergence: a length where the no-teacher row changes by less than a point from half
to full length, with the ordering of the rows holding. Each (row, seed, factor) is one `cmapkd.experiments.run_one`
run of the final protocol (test split, the rates and weights of `paper/results/tuning/`) at `factor` times the preset's
length, into `--out`; a run whose result file exists for the same config is kept. The table (mean, sample std over
the seeds) is printed and written to `--json` with every run's record.

  python bench/length_probe.py --runs scratch:2 clipkd:2 cmapkd:2 scratch:4 --seeds 0 1 2 --out runs/length_probe \
      --json bench/results/length_probe_tiny_cpu.json
"""

import argparse
import json
import os
from pathlib import Path
import numpy as np
from cmapkd.experiments import length_overrides, run_many


def record(path, factor: float) -> dict:
    r = json.loads(Path(path).read_text())
    return dict(
        method=r['method'],
        seed=r['seed'],
        factor=factor,
        steps=sum(s['steps'] for s in r['config']['stages']),
        lr=r['config']['optim']['lr_student'],
        distill_weight=r['config']['method']['distill_weight'],
        mean_recall=r['metrics']['scenes/mean_recall'],
        wall_s=r['wall_s'],
        commit=r['commit'],
        device=r['device'],
        result=Path(path).relative_to(Path(path).parents[2]).as_posix(),
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--runs', nargs='+', required=True, metavar='ROW:FACTOR', help='e.g. scratch:2 (960 steps)')
    ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    ap.add_argument('--out', default='runs/length_probe', help='where the runs and their result files go')
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 1)
    ap.add_argument('--json', help='write the table and every run here')
    a = ap.parse_args(argv)
    by_factor = {}
    for spec in a.runs:
        method, _, factor = spec.partition(':')
        if not factor:
            ap.error(f"--runs: expected ROW:FACTOR such as scratch:2, got {spec!r}")
        by_factor.setdefault(float(factor), []).extend((method, None, s) for s in a.seeds)
    runs = []
    for factor, rows in by_factor.items():  # one experiment per length, its runs `--jobs` at a time
        paths = run_many(f'length_x{factor:g}', 'tiny', rows, a.out, length_overrides('tiny', factor), jobs=a.jobs)
        runs += [record(p, factor) for p in paths]
    table = {}
    for r in runs:
        table.setdefault(f"{r['method']} {r['steps']}", []).append(r['mean_recall'])
    rows = {
        k: dict(mean=float(np.mean(v)), std=float(np.std(v, ddof=1)) if len(v) > 1 else None, n=len(v))
        for k, v in table.items()
    }
    for k, v in rows.items():
        std = f" ± {v['std']:.2f}" if v['std'] is not None else ''
        print(f"{k:>16} steps: mean recall {v['mean']:.2f}{std} ({v['n']} seeds)")
    if a.json:
        Path(a.json).write_text(json.dumps(dict(rows=rows, runs=runs), indent=1))


if __name__ == '__main__':
    main()
