"""Give every notebook in nbs/ the top-level metadata JupyterLab writes for the python3 kernel.

JupyterLab rewrites `kernelspec` and `language_info` as soon as a notebook's kernel starts; when the committed
values differ, the notebook shows an unsaved-changes mark before the reader has touched it. `nbdev_clean` keeps
`language_info` (settings.ini `allowed_metadata_keys`) but always resets `kernelspec.display_name` to the kernel's
name, so run this after `nbdev_clean`:

    nbdev_clean --fname nbs/XX.ipynb && python tools/lab_metadata.py

`--check` only lists the notebooks whose metadata differs (exit status 1 when there is one).
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What JupyterLab 4.6 writes for ipykernel's python3 kernel, less `language_info.version`: JupyterLab writes the
# running Python's version there (3.11.7, 3.12.3, ...), so no committed value matches every reader's Python, and a
# pinned patch version ties the notebooks to the machine that last saved them. Without it every reader's Python is
# treated alike; a notebook saved from JupyterLab gets its version back, which `python tools/lab_metadata.py` removes.
LAB_METADATA = {
    'kernelspec': {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'},
    'language_info': {
        'codemirror_mode': {'name': 'ipython', 'version': 3},
        'file_extension': '.py',
        'mimetype': 'text/x-python',
        'name': 'python',
        'nbconvert_exporter': 'python',
        'pygments_lexer': 'ipython3',
    },
}


def notebooks() -> list[Path]:
    return sorted((ROOT / 'nbs').glob('*.ipynb'))


def set_metadata(path: Path) -> bool:
    "Write `LAB_METADATA` as `path`'s top-level metadata, leaving every other byte as it is; True when it changed."
    text = path.read_text(encoding='utf-8')
    nb = json.loads(text)
    if nb['metadata'] == LAB_METADATA:
        return False
    # nbdev writes notebooks with indent 1, so the top-level metadata is the only key at one space of indent; replacing
    # that block alone keeps the cells' bytes, which other branches edit at the same time
    block = re.search(r'^ "metadata": \{.*?^ \}', text, flags=re.M | re.S)
    meta = json.dumps(LAB_METADATA, sort_keys=True, indent=1, ensure_ascii=False).replace('\n', '\n ')
    new = text[: block.start()] + f' "metadata": {meta}' + text[block.end() :] if block else None
    if new is None or json.loads(new) != {**nb, 'metadata': LAB_METADATA}:  # not nbdev's layout: rewrite it all
        new = json.dumps({**nb, 'metadata': LAB_METADATA}, sort_keys=True, indent=1, ensure_ascii=False) + '\n'
    path.write_text(new, encoding='utf-8')
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help='only list the notebooks whose metadata differs')
    args = parser.parse_args(argv)
    if args.check:
        stale = [p.name for p in notebooks() if json.loads(p.read_text(encoding='utf-8'))['metadata'] != LAB_METADATA]
        for name in stale:
            print(
                f'nbs/{name}: top-level metadata is not JupyterLab\'s; run python tools/lab_metadata.py',
                file=sys.stderr,
            )
        return 1 if stale else 0
    for p in notebooks():
        if set_metadata(p):
            print(f'nbs/{p.name}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
