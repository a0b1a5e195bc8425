"""What a user reads (README.md, docs/, bench/, the tutorials' prose and outputs) holds no machine path and no words
about how the project was built: a reader can act on neither.

Fast and needs no data: it reads the files as text."""
import json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT/'README.md', *ROOT.glob('docs/*.md'), *ROOT.glob('bench/*.md')])
NOTEBOOKS = sorted([ROOT/'nbs'/'index.ipynb', *ROOT.glob('nbs/tutorials/*.ipynb')])
# a path on the machine that wrote the text
MACHINE_PATH = re.compile(r'(?<![\w.])/(?:work|root|home)/|(?<![\w.])/tmp/\w')
# how the project was built: who worked on it, when, and in which ticket
HISTORY = re.compile(r'\bsessions?\b|\bhelpers? (?:engineer|session)s?\b|\bwas lent\b|\bno GPU was\b|\bissues? \d+\b'
                     r"|\bissue \d+'s\b|\bengineers?\b", re.I)

def hits(text: str, pat: re.Pattern, paths: bool=False) -> list:
    "Each line of `text` that `pat` matches, shortened around the match"
    return [ln.strip()[max(0, m.start() - 40):m.end() + 40] for ln in text.splitlines() if (m := pat.search(ln))]

def test_patterns():
    "The patterns catch what they are for, and leave ordinary text alone"
    for s in ['data: /work/shared/data/food3', 'saved /root/.cache/x', "run at /tmp/foodcam-abc/food3",
              '/home/me/photos']:
        assert MACHINE_PATH.search(s), s
    for s in ['no GPU was lent to the sessions that built this', 'as in issue 19', "before issue 14's refactor",
              'this session', "while 4-5 other engineers' jobs ran"]:
        assert HISTORY.search(s), s
    for s in ['runs/food3/frozen_model.pth', 'pass --run runs/x', 'a helper function', 'GitHub issues',
              'data/food3', 'nbs/tutorials/01_lab.ipynb', 'the C++ header /usr/include']:
        assert not MACHINE_PATH.search(s) and not HISTORY.search(s), s

@pytest.mark.parametrize('page', PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages(page):
    "README.md, docs/*.md and bench/*.md: no machine path, no build history"
    text = page.read_text()
    bad = hits(text, MACHINE_PATH) + hits(text, HISTORY)
    assert not bad, f'{page.relative_to(ROOT)}: ' + ' | '.join(bad[:8]) + (f' ... ({len(bad)} lines)' if len(bad) > 8
                                                                          else '')

def outputs_text(cell) -> str:
    "The text a cell printed or returned (no images)"
    out = []
    for o in cell.get('outputs', []):
        out += o.get('text', []) + o.get('data', {}).get('text/plain', []) + o.get('data', {}).get('text/html', [])
        out += o.get('traceback', [])
    return ''.join(out)

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebooks(nb):
    "The tutorials' outputs print no machine path, and neither their prose nor their outputs tell build history"
    cells = json.loads(nb.read_text())['cells']
    outs = '\n'.join(outputs_text(c) for c in cells)
    prose = '\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown')
    bad = hits(outs, MACHINE_PATH) + hits(outs + '\n' + prose, HISTORY)
    assert not bad, f'{nb.relative_to(ROOT)}: ' + ' | '.join(bad[:8])
