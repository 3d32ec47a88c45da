"The trainer from the command line: one process, and two gloo processes under torchrun."

import json
import os
import subprocess
import sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(cmd, tmp_path, **env):
    e = dict(os.environ, CMAPKD_CACHE=str(tmp_path / 'cache'), OMP_NUM_THREADS='1', **env)
    r = subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    return r


def log(path):
    return [json.loads(line) for line in open(path)]


SMALL = ['--set', 'data.batch_size=16', '--set', 'log_every=1', '--set', 'teacher_train_steps=10']


def test_cli_train_writes_log_checkpoint_and_export(tmp_path):
    out = tmp_path / 'cli'
    run(['cmapkd', 'train', '--preset', 'smoke', '--no-progress', '--set', f'out_dir={out}', *SMALL], tmp_path)
    for f in ('log.jsonl', 'checkpoint.pt', 'student.pt', 'adapters.safetensors', 'run.json', 'train_summary.json'):
        assert (out / f).stat().st_size > 0, f
    assert len(log(out / 'log.jsonl')) == 12


@pytest.mark.parametrize('method', ['scratch', 'cmapkd'])
def test_two_gloo_processes_match_one_process(tmp_path, method):
    """torchrun with 2 CPU processes (8 samples each) follows the loss trajectory of 1 process with the global batch of
    16."""
    common = ['--preset', 'smoke', '--no-progress', '--set', f'method.name={method}', *SMALL]
    run([sys.executable, '-m', 'cmapkd.train', *common, '--set', f'out_dir={tmp_path / "one"}'], tmp_path)
    run(
        [
            sys.executable,
            '-m',
            'torch.distributed.run',
            '--nproc_per_node',
            '2',
            '--master_port',
            str(29500 + os.getpid() % 1000),
            '-m',
            'cmapkd.train',
            *common,
            '--set',
            f'out_dir={tmp_path / "two"}',
        ],
        tmp_path,
    )
    one, two = log(tmp_path / 'one' / 'log.jsonl'), log(tmp_path / 'two' / 'log.jsonl')
    assert [r['step'] for r in one] == [r['step'] for r in two]
    for a, b in zip(one, two):
        for k in ('loss', 'intra', 'align', 'relation', 'task', 'alsn_objective', 'u_v_P5', 'u_l_L4'):
            assert (k in a) == (k in b), (a['step'], k)
            if k in a:
                assert a[k] == pytest.approx(b[k], rel=2e-3, abs=2e-4), (a['step'], k, a[k], b[k])


def write_coco(root: Path, n: int = 40) -> Path:
    "COCO in its Karpathy format: n train images with 5 to 7 captions each, the first one unreadable."
    import numpy as np
    from PIL import Image

    (root / 'train2014').mkdir(parents=True)
    imgs = [
        dict(
            filepath='train2014',
            filename=f'COCO_train2014_{k:012d}.jpg',
            split='train',
            cocoid=k,
            imgid=k,
            sentences=[
                dict(raw=f'a red square and {j} blue circles ', tokens=[], imgid=k, sentid=10 * k + j)
                for j in range(5 + k % 3)
            ],
        )
        for k in range(n)
    ]
    (root / 'dataset_coco.json').write_text(json.dumps({'images': imgs, 'dataset': 'coco'}))
    for k, im in enumerate(imgs):
        Image.fromarray(np.random.default_rng(k).integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(
            root / 'train2014' / im['filename']
        )
    (root / 'train2014' / imgs[0]['filename']).write_bytes(b'\xff\xd8\xff truncated')
    return root


def write_shards(root: Path, shards: int = 2, per: int = 24) -> str:
    "webdataset tars of <key>.jpg + <key>.txt (CC3M's format as img2dataset writes it); one sample is corrupt."
    import io
    import numpy as np
    import webdataset as wds
    from PIL import Image

    root.mkdir(parents=True)
    for s in range(shards):
        with wds.TarWriter(str(root / f'shard-{s:04d}.tar')) as sink:
            for k in range(per):
                buf = io.BytesIO()
                Image.fromarray(np.random.default_rng(100 * s + k).integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(
                    buf, format='JPEG'
                )
                jpg = b'corrupt' if (s, k) == (1, 3) else buf.getvalue()
                sink.write({'__key__': f'{s:04d}{k:05d}', 'jpg': jpg, 'txt': f'a photo of {k} blue circles'})
    return f'shard-{{0000..{shards - 1:04d}}}.tar'


def test_cli_trains_on_coco_with_the_teacher_cache(tmp_path):
    """COCO images have 5 to 7 captions and the first one is unreadable: the cache holds 7 per image and the run ends
    (issue 15, item 1)."""
    coco, out = write_coco(tmp_path / 'coco'), tmp_path / 'coco-run'
    r = run(
        [
            'cmapkd',
            'train',
            '--preset',
            'smoke',
            '--no-progress',
            '--set',
            f'out_dir={out}',
            '--set',
            'data.name=coco',
            '--set',
            f'data.root={coco}',
            '--set',
            'teacher_cache=true',
            *SMALL,
        ],
        tmp_path,
    )
    assert json.loads(r.stdout.splitlines()[-1])['steps'] == 12 and len(log(out / 'log.jsonl')) == 12
    index = [json.loads(f.read_text()) for f in (tmp_path / 'cache' / 'teacher_cache').glob('*/index.json')]
    assert [(i['n'], i['captions']) for i in index] == [(40, 7)]


def test_cli_trains_on_webdataset_shards(tmp_path):
    "Stages in steps over a stream without a length (issue 15, item 2); a stage in epochs needs data.options.length."
    shards, out = write_shards(tmp_path / 'cc3m'), tmp_path / 'wds-run'
    data = ['--set', 'data.name=wds', '--set', f'data.root={tmp_path / "cc3m"}', '--set', f'data.ann_file={shards}']
    r = run(
        ['cmapkd', 'train', '--preset', 'smoke', '--no-progress', '--set', f'out_dir={out}', *data, *SMALL], tmp_path
    )
    assert json.loads(r.stdout.splitlines()[-1])['steps'] == 12 and len(log(out / 'log.jsonl')) == 12
    e = dict(os.environ, CMAPKD_CACHE=str(tmp_path / 'cache'))
    r = subprocess.run(
        ['cmapkd', 'validate', '--preset', 'smoke', *data, '--set', 'stages=[{name: a, epochs: 1}]'],
        capture_output=True,
        text=True,
        env=e,
    )
    assert r.returncode == 2 and r.stderr == (
        "cmapkd: error: stages[0] (a).epochs: data 'wds' is a stream without a length, so "
        "an epoch has no size; expected this stage in steps, or the stream's length in "
        "data.options.length\n"
    )
