"The experiment notebooks end to end on the smoke preset, as the README's main command runs them."

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
import pytest

TABLES = ['table2_retrieval.tex', 'table3_vqa_zeroshot.tex', 'table4_ablation.tex', 'table5_efficiency.tex']
FIGURES = ['fig3_alsn_difficulty', 'fig4_alsn_radar', 'fig5_tsne', 'fig6_cross_modal', 'training_curves_cmapkd']


ROOT = Path(__file__).resolve().parents[1]
COMMITTED = {}  # the committed paper/ (a copy of it) before the smoke reproduction: {relative path: sha256}


def snapshot(d: Path, skip: str) -> dict:
    return {
        p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob('*'))
        if p.is_file() and p.relative_to(d).parts[0] != skip
    }


@pytest.fixture(scope='module')
def paper(tmp_path_factory):
    """The README's first try from a clone: `cmapkd reproduce --preset smoke --force`, in a folder holding a copy of
    paper/."""
    clone = tmp_path_factory.mktemp('clone')
    shutil.copytree(ROOT / 'paper', clone / 'paper', ignore=shutil.ignore_patterns('runs', 'smoke'))
    COMMITTED.update(snapshot(clone / 'paper', 'smoke'))
    out = clone / 'paper' / 'smoke'  # the smoke preset's own directory (issue 15, item 0)
    stale = out / 'results' / 'main' / 'old_seed0.json'  # a smoke result of an earlier run: --force removes it
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps(dict(preset='smoke', method='old')))
    env = dict(os.environ, CMAPKD_CACHE=str(clone / 'cache'), MPLBACKEND='Agg')
    r = subprocess.run(
        ['cmapkd', 'reproduce', '--preset', 'smoke', '--force'],
        capture_output=True,
        text=True,
        env=env,
        cwd=clone,
        timeout=3000,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


def test_smoke_reproduction_leaves_the_committed_paper_untouched(paper):
    "Every committed file of paper/ (the tiny preset's) is as it was, and nothing was added beside it."
    assert COMMITTED and snapshot(paper.parent, 'smoke') == COMMITTED
    assert not (paper / 'smoke').exists() and (paper / 'results' / 'main' / 'cmapkd_seed0.json').exists()


def test_every_table_and_figure_is_written(paper):
    for t in TABLES:
        assert (paper / 'tables' / t).stat().st_size > 0, t
    for f in FIGURES:
        for ext in ('pdf', 'png'):
            assert (paper / 'figures' / f'{f}.{ext}').stat().st_size > 0, f
    assert (paper / 'README.md').stat().st_size > 0


def test_tables_equal_the_result_files(paper):
    from cmapkd.tables import check_tables

    assert check_tables(paper) > 50


def test_result_files_record_their_run(paper):
    files = sorted((paper / 'results').glob('*/*.json'))
    # main (teacher, pretrained student, 11 methods, 2 DTO rows), ablation (full + 10 variants), efficiency (2), half
    # length (3 methods); the second setting (teacher + 3 students), at half its length (3 students)
    names = sorted(f.parent.name for f in files)
    assert len(files) == 15 + 11 + 2 + 3 + 4 + 3
    assert (names.count('length_half'), names.count('scratch_setting'), names.count('scratch_setting_half')) == (
        3,
        4,
        3,
    )
    main = [json.loads(f.read_text()) for f in files if f.parent.name == 'main']
    assert sorted(r['method'] for r in main if r['variant']) == ['clipkd', 'cmapkd']  # the DTO rows
    scratch = [json.loads(f.read_text()) for f in files if f.parent.name.startswith('scratch_setting')]
    assert {r['config']['setting'] for r in scratch} == {'scratch'}
    full, half = (
        {
            sum(s['steps'] for s in r['config']['stages'])
            for r in scratch
            if r['method'] == 'cmapkd' and r['experiment'] == e
        }
        for e in ('scratch_setting', 'scratch_setting_half')
    )
    assert full == {
        2
        * sum(
            s['steps']
            for s in next(r for r in main if r['method'] == 'cmapkd' and not r['variant'])['config']['stages']
        )
    } and half == {full.pop() // 2}

    def strings(x):
        return (
            [s for v in x.values() for s in strings(v)]
            if isinstance(x, dict)
            else [s for v in x for s in strings(v)]
            if isinstance(x, list)
            else [x]
            if isinstance(x, str)
            else []
        )

    for f in files:
        r = json.loads(f.read_text())
        assert r['seed'] == 0 and r['commit'] and r['device'] and r['config'] and r['metrics'], f
        assert (f.parent / r['per_item']).is_file(), f  # per-item results beside it, named relative to it
        assert not [s for s in strings(r) if os.path.isabs(s) or str(paper) in s], f  # nothing points into this machine


def test_reproduction_records_its_wall_time(paper):
    r = json.loads((paper / 'reproduction_smoke.json').read_text())
    assert r['commit'] and r['device'] and r['force'] is True
    assert set(r['wall_s']) == {'run_main', 'run_ablation', 'run_scratch', 'run_efficiency', 'make_paper', 'total'}
    assert r['wall_s']['total'] >= r['wall_s']['run_main'] > 0


def test_smoke_draft_compiles(paper):
    """make_paper wrote the draft's numbers from the smoke results and compiled it: a PDF, no LaTeX error, nothing
    undefined."""
    from cmapkd.draft import latex_problems, template_dir
    from cmapkd.io import missing_tex

    assert not missing_tex(), f"LaTeX is needed to compile the draft, missing: {missing_tex()} (.ci/run installs it)"
    for name in ('main.tex', 'refs.bib'):  # the repository's paper/ is the single template
        assert (paper / name).read_text() == (template_dir() / name).read_text(), name
    assert r'\newcommand{\cmapkdPreset}{smoke}' in (paper / 'numbers.tex').read_text()
    assert (paper / 'table1_schedule.tex').stat().st_size > 0
    log = (paper / 'main.log').read_text(errors='replace')
    assert latex_problems(log, (paper / 'main.blg').read_text(errors='replace')) == []
    assert 'Output written on main.pdf' in log and (paper / 'main.pdf').read_bytes().startswith(b'%PDF')


def test_first_look_runs_its_rows_then_the_paper(tmp_path):
    """`cmapkd reproduce --first-look`: the FIRST_LOOK rows with one seed, no other experiment, then tables, figures,
    draft."""
    from cmapkd.experiments import FIRST_LOOK

    out = tmp_path / 'quick'
    env = dict(os.environ, CMAPKD_CACHE=str(tmp_path / 'cache'), MPLBACKEND='Agg')
    r = subprocess.run(
        ['cmapkd', 'reproduce', '--preset', 'smoke', '--first-look', '--out', str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=3000,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    files = sorted((out / 'results').glob('*/*.json'))
    assert sorted((f.parent.name, json.loads(f.read_text())['method']) for f in files) == sorted(
        ('main', m) for m in FIRST_LOOK['methods']
    )
    assert (out / 'tables' / 'table2_retrieval.tex').stat().st_size > 0
    assert (out / 'figures' / 'training_curves_cmapkd.png').stat().st_size > 0
    rec = json.loads((out / 'reproduction_smoke.json').read_text())
    assert rec['first_look'] is True and set(rec['wall_s']) == {'run_main', 'make_paper', 'total'}
    assert r.stdout.splitlines()[-1].startswith(f"first look at preset 'smoke' written to {out}/ in ")
