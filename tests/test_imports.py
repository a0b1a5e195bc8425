("foodcam's modules depend on each other one way: no import cycle (imports inside functions count too) and no "
 "`_private` name taken from another module.")
import ast, re
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent/'foodcam'

def foodcam_imports(p: Path):
    "(imported foodcam module, imported names, line) for every import of a foodcam module in file `p`, at any depth"
    for n in ast.walk(ast.parse(p.read_text())):
        if isinstance(n, ast.ImportFrom):
            mod = ('foodcam.' + (n.module or '')).rstrip('.') if n.level else (n.module or '')
            if mod == 'foodcam':  # `from foodcam import cam` / `from . import cam`
                for a in n.names: yield a.name, [], n.lineno
            elif mod.startswith('foodcam.'): yield mod.split('.')[1], [a.name for a in n.names], n.lineno
        elif isinstance(n, ast.Import):
            for a in n.names:
                if a.name.startswith('foodcam.'): yield a.name.split('.')[1], [], n.lineno

def modules(): return {p.stem: p for p in sorted(PKG.glob('*.py')) if p.stem not in ('__init__', '_modidx')}

def import_graph() -> dict:
    "module -> the foodcam modules it imports"
    return {m: {t for t, _, _ in foodcam_imports(p)} - {m} for m, p in modules().items()}

def find_cycle(g: dict):
    "A list `[a, b, ..., a]` of modules importing each other in a circle, or None"
    state, stack = {}, []
    def visit(m):
        state[m] = 'open'; stack.append(m)
        for t in sorted(g.get(m, ())):
            if state.get(t) == 'open': return stack[stack.index(t):] + [t]
            if t not in state and (c := visit(t)): return c
        state[m] = 'done'; stack.pop()
    for m in sorted(g):
        if m not in state and (c := visit(m)): return c

def test_find_cycle():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': set()}) is None
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']

def test_no_import_cycle():
    c = find_cycle(import_graph())
    assert c is None, ('import cycle: ' + ' -> '.join(c) + '. Move what both modules need down into the lower one '
                       '(ARCHITECTURE.md draws the ladder; the notebooks are numbered in its order)')

def test_no_private_imports():
    bad = [f'foodcam/{m}.py:{line} imports {n} from foodcam.{t}' for m, p in modules().items()
           for t, names, line in foodcam_imports(p) if t != m for n in names if n.startswith('_')]
    msg = 'private names used across modules (make them public, with a docstring, or move them):\n'
    assert not bad, msg + '\n'.join(bad)

def test_data_does_not_need_the_scraper():
    "Loading a dataset must not pull in requests, http.server or the scraper"
    assert 'scrape' not in import_graph()['data']

def notebook_of() -> dict:
    "module -> the file name of the notebook that exports it (`#| default_exp`)"
    out = {}
    for nb in sorted((PKG.parent/'nbs').glob('*.ipynb')):
        if m := re.search(r'#\|\s*default_exp\s+(\w+)', nb.read_text()): out[m[1]] = nb.name
    return out

def test_notebooks_in_dependency_order():
    "a module's notebook comes after the notebooks of every module it imports: the order a reader needs them"
    nbs, g = notebook_of(), import_graph()
    assert set(nbs) == set(modules()), set(nbs) ^ set(modules())
    bad = [f'{nbs[m]} ({m}) imports {t}, whose notebook {nbs[t]} comes later'
           for m in g for t in g[m] if nbs[t] > nbs[m]]
    assert not bad, 'renumber the notebooks (then `make prepare`):\n' + '\n'.join(bad)
