"""Load a script of tools/ as a module (tools/ is not a package)."""
import importlib.util
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(name: str):
    """``load_tool('compare')`` / ``load_tool('analysis/gaze_diagnosis')``."""
    spec = importlib.util.spec_from_file_location(
        'gp_test_tool_' + name.replace('/', '_'),
        osp.join(REPO, 'tools', *name.split('/')) + '.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
