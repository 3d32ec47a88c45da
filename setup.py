# nbdev 2 layout: metadata lives in settings.ini (nbdev 3 refuses settings.ini and wants pyproject.toml,
# so nbdev is pinned to the last 2.x line that honours it, with the fastcore/execnb it was seen to work with).
from configparser import ConfigParser
from setuptools import setup, find_packages

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

requirements = [
    'torch>=2.4', 'torchvision>=0.19', 'open_clip_torch>=3.0', 'timm>=1.0', 'transformers>=4.40',
    'einops>=0.7', 'seaborn>=0.13', 'papermill>=2.5', 'ipykernel', 'scikit-learn>=1.3', 'pytest',
    'pyyaml', 'safetensors', 'tqdm', 'webdataset', 'pandas', 'matplotlib',
]
dev_requirements = [
    'nbdev==2.4.14', 'fastcore<2', 'execnb<0.2',   # see the comment at the top
    'nbconvert', 'nbclient', 'jupytext', 'tensorboard',
    'ruff>=0.17,<0.18',   # format + lint (ruff.toml) of nbs/, tests/, tools/ and bench/, run by tests/test_project.py
]
# reading and running the notebooks in JupyterLab: their tests use fastcore's test helpers, the trainer's writes a
# TensorBoard log, and tqdm's notebook progress bars need ipywidgets
jupyter_requirements = ['jupyterlab', 'ipywidgets', 'fastcore<2', 'tensorboard']

setup(
    name=cfg['lib_name'], version=cfg['version'], description=cfg['description'],
    author=cfg['author'], license='Apache-2.0', python_requires=f">={cfg['min_python']}",
    packages=find_packages(include=['cmapkd', 'cmapkd.*']), include_package_data=True,
    install_requires=requirements,
    extras_require={'dev': dev_requirements, 'jupyter': jupyter_requirements},
    entry_points={'console_scripts': ['cmapkd=cmapkd.cli:main'],
                  'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
)
