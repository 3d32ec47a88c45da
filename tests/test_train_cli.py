"The trainer from the command line: one process, and two gloo processes under torchrun."
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(cmd, tmp_path, **env):
    e = dict(os.environ, CMAPKD_CACHE=str(tmp_path / 'cache'), OMP_NUM_THREADS='1', **env)
    r = subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    return r


def log(path):
    return [json.loads(l) for l in open(path)]


SMALL = ['--set', 'data.batch_size=16', '--set', 'log_every=1', '--set', 'teacher_train_steps=10']


def test_cli_train_writes_log_checkpoint_and_export(tmp_path):
    out = tmp_path / 'cli'
    run(['cmapkd', 'train', '--preset', 'smoke', '--no-progress', '--set', f'out_dir={out}', *SMALL], tmp_path)
    for f in ('log.jsonl', 'checkpoint.pt', 'student.pt', 'adapters.safetensors', 'run.json', 'train_summary.json'):
        assert (out / f).stat().st_size > 0, f
    assert len(log(out / 'log.jsonl')) == 12


@pytest.mark.parametrize('method', ['scratch', 'cmapkd'])
def test_two_gloo_processes_match_one_process(tmp_path, method):
    "torchrun with 2 CPU processes (8 samples each) follows the loss trajectory of 1 process with the global batch of 16."
    common = ['--preset', 'smoke', '--no-progress', '--set', f'method.name={method}', *SMALL]
    run([sys.executable, '-m', 'cmapkd.train', *common, '--set', f'out_dir={tmp_path / "one"}'], tmp_path)
    run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', str(29500 + os.getpid() % 1000),
         '-m', 'cmapkd.train', *common, '--set', f'out_dir={tmp_path / "two"}'], tmp_path)
    one, two = log(tmp_path / 'one' / 'log.jsonl'), log(tmp_path / 'two' / 'log.jsonl')
    assert [r['step'] for r in one] == [r['step'] for r in two]
    for a, b in zip(one, two):
        for k in ('loss', 'intra', 'align', 'relation', 'task', 'alsn_objective', 'u_v_P5', 'u_l_L4'):
            assert (k in a) == (k in b), (a['step'], k)
            if k in a: assert a[k] == pytest.approx(b[k], rel=2e-3, abs=2e-4), (a['step'], k, a[k], b[k])
