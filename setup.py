"""Install GazePrior-MM: ``pip install -e .`` (``.[all]`` adds optional and test deps)."""
import os.path as osp

from setuptools import find_packages, setup


def read_requirements(name):
    path = osp.join(osp.dirname(__file__), 'requirements', name)
    with open(path) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip()
        ]


def read_version():
    scope = {}
    with open(osp.join('gazeprior_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='gazeprior_mm',
    version=read_version(),
    description='Radiologists\' gaze as a prior for self-supervised pre-training '
    '(an mmpretrain plugin)',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'benchmarks')),
    python_requires='>=3.8',
    install_requires=read_requirements('runtime.txt') +
    read_requirements('mminstall.txt'),
    extras_require={
        'optional': read_requirements('optional.txt'),
        'tests': read_requirements('tests.txt'),
        # only the TensorBoard backend of tools/train.py --tensorboard; kept out
        # of 'all' (what setup_env.sh and CI install), which it would grow by
        # grpcio / protobuf / absl for a feature the tests do not need
        'tensorboard': ['tensorboard'],
        'all': read_requirements('optional.txt') +
        read_requirements('tests.txt'),
    },
    license='Apache License 2.0',
    zip_safe=False,
)
