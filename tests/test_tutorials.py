"""The committed tutorials (`nbs/tutorials/`) and `nbs/index.ipynb` hold their outputs: every figure, under 3 MB, from
the current package source.

Fast and needs no data: it reads the notebooks as JSON. `make notebooks` (tools/run_notebooks.py) writes the outputs."""
import json, shutil, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
from run_notebooks import NOTEBOOKS, FIGURE, check_notebook, source_sha1, recorded_sha1  # noqa: E402

TUTORIALS = sorted((ROOT/'nbs'/'tutorials').glob('*.ipynb'))

def test_tutorials_listed():
    "Every tutorial is run by `make notebooks`, and they export nothing"
    assert TUTORIALS, 'no tutorials in nbs/tutorials'
    assert {str(p.relative_to(ROOT)) for p in TUTORIALS} <= set(NOTEBOOKS)
    for p in TUTORIALS:
        src = ''.join(''.join(c['source']) for c in json.loads(p.read_text())['cells'])
        assert '#| default_exp' not in src and '#| export' not in src, (f'{p.name} must not export: tutorials are not '
                                                                        'part of the package')

@pytest.mark.parametrize('nb', NOTEBOOKS)
def test_outputs_current(nb):
    "Figures present (cells starting `# figure: NAME`), size <= 3 MB, outputs from the current `foodcam/*.py`"
    bad = check_notebook(ROOT/nb)
    assert not bad, '\n'.join(bad)

def test_tutorial_figures_declared():
    "Each tutorial declares figures, so the check above has something to check"
    for p in TUTORIALS:
        n = sum(bool(FIGURE.match(''.join(c['source']))) for c in json.loads(p.read_text())['cells']
                if c['cell_type'] == 'code')
        assert n >= 3, f'{p.name}: only {n} `# figure:` cells'

def test_stale_outputs_detected(tmp_path):
    """Changing an exported function without re-running the notebooks fails, saying to run `make notebooks` (on copies,
    never the real files)"""
    pkg = tmp_path/'foodcam'; shutil.copytree(ROOT/'foodcam', pkg, ignore=shutil.ignore_patterns('__pycache__'))
    nb = tmp_path/'01_lab.ipynb'; shutil.copy(ROOT/NOTEBOOKS[0], nb)
    assert recorded_sha1(json.loads(nb.read_text())) == source_sha1(pkg), ('the committed lab is stale already: run '
                                                                           '`make notebooks`')
    assert check_notebook(nb, pkg) == []
    # an edit to an exported function
    f = pkg/'cam.py'; f.write_text(f.read_text().replace('def denorm(', 'def denorm(  ', 1))
    bad = check_notebook(nb, pkg)
    assert len(bad) == 1 and 'stale' in bad[0] and 'make notebooks' in bad[0], bad
    (pkg/'_modidx.py').write_text('# nbdev writes this index: not part of the hash\n')
    f.write_text((ROOT/'foodcam'/'cam.py').read_text())
    assert check_notebook(nb, pkg) == []

def test_missing_figure_detected(tmp_path):
    "A `# figure:` cell without a PNG output fails"
    nb = json.loads((ROOT/NOTEBOOKS[0]).read_text())
    c = next(c for c in nb['cells'] if c['cell_type'] == 'code' and FIGURE.match(''.join(c['source'])))
    c['outputs'] = [o for o in c['outputs'] if 'image/png' not in o.get('data', {})]
    (tmp_path/'x.ipynb').write_text(json.dumps(nb))
    assert any('has no image/png' in b for b in check_notebook(tmp_path/'x.ipynb'))
