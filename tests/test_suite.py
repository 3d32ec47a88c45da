"""The paper's evaluation suite end to end: fixture files in the four real formats, scored by one `run_one` as run_main
does."""

import dataclasses
import json
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

N_SYNSETS = 1000  # open_clip's ImageNet class names need all 1000 synset folders (most stay empty here)


def _jpg(path: Path, seed: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path, format='JPEG')


def _karpathy(root: Path, flavour: str, n_test: int, sub: str):
    "A Karpathy split file with `n_test` test images (five captions each) and one train image, and the images."
    images = []
    for i in range(n_test + 1):
        name = f'COCO_val2014_{i:012d}.jpg' if flavour == 'coco' else f'{1000 + i}.jpg'
        im = dict(
            filename=name,
            split='test' if i < n_test else 'train',
            sentences=[dict(raw=f'a photo of object {i} number {j} on a table') for j in range(5)],
        )
        if flavour == 'coco':
            im |= dict(filepath=sub, cocoid=i)
        images.append(im)
        _jpg(
            root / (sub if flavour == 'coco' else 'flickr30k-images') / name, seed=(0 if flavour == 'coco' else 50) + i
        )
    (root / f'dataset_{flavour}.json').write_text(json.dumps(dict(images=images, dataset=flavour)))


def _vqa(root: Path, sub: str, image_ids, seed: int):
    "VQAv2 question and annotation files of `sub` (two questions per image, ten answers each) and the images."
    qs, anns = [], []
    for k, i in enumerate(image_ids):
        _jpg(root / sub / f'COCO_{sub}_{i:012d}.jpg', seed + k)
        for j, (q, a, t) in enumerate(
            (
                ('is there a table?', 'yes' if i % 2 else 'no', 'yes/no'),
                ('how many objects are there?', str(i % 3), 'number'),
            )
        ):
            qid = 10 * i + j
            qs.append(dict(image_id=i, question=q, question_id=qid))
            anns.append(
                dict(
                    question_id=qid,
                    image_id=i,
                    answer_type=t,
                    question_type=q.split()[0],
                    multiple_choice_answer=a,
                    answers=[dict(answer=a, answer_confidence='yes', answer_id=n + 1) for n in range(10)],
                )
            )
    (root / f'v2_OpenEnded_mscoco_{sub}_questions.json').write_text(json.dumps(dict(questions=qs)))
    (root / f'v2_mscoco_{sub}_annotations.json').write_text(json.dumps(dict(annotations=anns)))


def write_fixtures(data_root: Path) -> Path:
    "COCO and Flickr30K (Karpathy json), ImageNet (synset folders), VQAv2 (questions + annotations) under `data_root`."
    _karpathy(data_root / 'coco', 'coco', 4, 'val2014')
    _karpathy(data_root / 'flickr30k', 'flickr30k', 3, '')
    for k in range(N_SYNSETS):
        (data_root / 'imagenet' / 'val' / f'n{k:08d}').mkdir(parents=True)
    for k in range(3):
        for j in range(2):
            _jpg(
                data_root / 'imagenet' / 'val' / f'n{k:08d}' / f'ILSVRC2012_val_{10 * k + j:08d}.JPEG', 100 + 10 * k + j
            )
    _vqa(data_root / 'vqav2', 'train2014', range(100, 112), seed=200)
    _vqa(data_root / 'vqav2', 'val2014', range(3), seed=300)
    return data_root


@pytest.fixture(scope='module')
def suite_run(tmp_path_factory):
    "One smoke CMAPKD run (smoke towers, scenes training) scored on the paper preset's suite over the fixtures."
    from cmapkd.presets import paper_suite
    from cmapkd.experiments import run_one, data_root_overrides

    tmp = tmp_path_factory.mktemp('suite')
    root = write_fixtures(tmp / 'data')
    suite = json.dumps([dataclasses.asdict(e) for e in paper_suite()])
    overrides = data_root_overrides('smoke', root) + [f'eval.suite={suite}']
    p = run_one('main', 'smoke', 'cmapkd', None, 0, tmp / 'paper', overrides, progress=False, figure_data=True)
    return tmp, root, p


def test_result_file_holds_all_four_datasets(suite_run):
    tmp, root, p = suite_run
    m = json.loads(p.read_text())['metrics']
    for k in (
        'coco/i2t_r1',
        'coco/mean_recall',
        'flickr30k/i2t_r1',
        'flickr30k/t2i_r10',
        'imagenet/zs_top1',
        'imagenet/zs_top5',
        'vqav2/vqa_overall',
        'vqav2/vqa_yes/no',
        'vqav2/vqa_number',
    ):
        assert 0 <= m[k] <= 100, k
    assert (m['coco/n_images'], m['coco/n_captions'], m['flickr30k/n_images']) == (4, 20, 3)  # the test splits only
    assert (m['imagenet/n_images'], m['imagenet/zs_classes'], m['vqav2/n_questions']) == (6, N_SYNSETS, 6)
    assert not any(
        k.startswith(('coco/zs_', 'imagenet/i2t', 'vqav2/i2t', 'flickr30k/vqa')) for k in m
    )  # each dataset its own tasks
    items = np.load(p.with_name(json.loads(p.read_text())['per_item']))
    assert (
        len(items['coco/i2t_rank']),
        len(items['flickr30k/t2i_rank']),
        len(items['imagenet/zs_rank']),
        len(items['vqav2/vqa_score']),
    ) == (4, 15, 6, 6)
    assert abs(100 * (items['imagenet/zs_rank'] < 1).mean() - m['imagenet/zs_top1']) < 1e-4


def test_tables_and_figures_follow_the_suite(suite_run):
    from cmapkd.tables import load_results, table_retrieval, table_vqa, check_tables
    from cmapkd.figures import figure_alsn_difficulty, figure_alsn_radar
    from cmapkd.figure_data import load_figure_data, DIFFICULTY_TYPES

    tmp, root, p = suite_run
    paper = tmp / 'paper'
    df = load_results(paper / 'results')
    t2, t3 = table_retrieval(df, paper), table_vqa(df, paper)
    assert [c for c in t2.columns if c.endswith('/mean_recall') and not c.endswith(('_std', '_n'))] == [
        'coco/mean_recall',
        'flickr30k/mean_recall',
    ]
    assert 'COCO' in t2.attrs['tex'] and 'Flickr30K' in t2.attrs['tex']  # side by side
    assert {'vqav2/vqa_overall', 'imagenet/zs_top1'} <= set(t3.columns)
    assert check_tables(paper) > 0
    fd = load_figure_data(p.with_suffix('.npz'))  # drawn from COCO: the agnostic signal, no ground truth, no classes
    assert len(fd['difficulty']) == 4 and set(fd['sample_type']) <= set(DIFFICULTY_TYPES)
    assert 'gt_difficulty' not in fd and 'labels' not in fd
    for f in figure_alsn_difficulty(df, paper) + figure_alsn_radar(df, paper):
        assert f.stat().st_size > 0


def test_paper_preset_validates_against_the_data_and_names_what_is_missing(suite_run):
    import shutil
    from cmapkd.config import apply_overrides, validate
    from cmapkd.presets import preset
    from cmapkd.experiments import data_root_overrides

    tmp, root, p = suite_run
    cfg = validate(apply_overrides(preset('paper'), data_root_overrides('paper', root)))
    assert [e.name for e in cfg.eval.suite] == ['coco', 'flickr30k', 'imagenet', 'vqav2']
    shutil.rmtree(root / 'flickr30k')
    with pytest.raises(
        FileNotFoundError, match=f"eval.suite\\[1\\] \\(flickr30k\\).root: {root}/flickr30k does not exist"
    ):
        validate(apply_overrides(preset('paper'), data_root_overrides('paper', root)))
