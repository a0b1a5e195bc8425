"""`make notebooks`: execute the tutorials (`nbs/tutorials/`) and `nbs/index.ipynb` with execnb, write their outputs in place, `nbdev_clean` them.

Each notebook runs in a fresh interpreter, from its own folder, every cell (the `#| slow` ones too; `#| eval: false` ones are skipped,
as `nbdev_test` does). They share one run folder, `$FOODCAM_TUTORIAL_RUN` (a new temporary folder unless set), so every
`make notebooks` trains on the current code instead of reusing an older run. Needs the real data (`$FOODCAM_TEST_DATA` or ../shared/data).
A notebook that fails is left as it was (the traceback is printed) and the command exits 1.

The tutorials print `source_sha1()` of the package they ran on; `tests/test_tutorials.py` (part of `make test`) fails when the
committed outputs are older than the current `foodcam/*.py`."""
import argparse, hashlib, json, os, re, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NOTEBOOKS = ['nbs/tutorials/01_lab.ipynb', 'nbs/tutorials/02_transfer_recipes.ipynb', 'nbs/tutorials/03_explaining.ipynb', 'nbs/index.ipynb']
HASH_LINE = 'foodcam source sha1:'  # what the tutorials print before the hash

def source_sha1(pkg=ROOT/'foodcam') -> str:
    "sha1 over the names and bytes of the exported package's `*.py`, sorted, `_modidx.py` left out (the tutorials compute the same)"
    h = hashlib.sha1()
    for p in sorted(Path(pkg).glob('*.py')):
        if p.name != '_modidx.py': h.update(p.name.encode()); h.update(p.read_bytes())
    return h.hexdigest()

MAX_BYTES = 3_000_000  # no committed notebook over 3 MB
FIGURE = re.compile(r'^# figure: (\S+)')  # first line of a cell whose output must hold a picture

def recorded_sha1(nb: dict) -> str|None:
    "The package hash a notebook printed when it was executed, or None"
    for c in nb['cells']:
        for o in c.get('outputs', []):
            txt = ''.join(o.get('text', [])) if o.get('output_type') == 'stream' else ''
            if m := re.search(re.escape(HASH_LINE) + r' ([0-9a-f]{40})', txt): return m.group(1)

def check_notebook(path, # an executed notebook
                   pkg=ROOT/'foodcam', # the package source its outputs must be current with
                  ) -> list:
    "What is wrong with a committed executed notebook: figures without a PNG, too large, outputs older than the package"
    path = Path(path); nb = json.loads(path.read_text()); bad = []
    for c in nb['cells']:
        m = FIGURE.match(''.join(c['source'])) if c['cell_type'] == 'code' else None
        if m and not any('image/png' in o.get('data', {}) for o in c.get('outputs', [])): bad.append(f'{path.name}: figure {m.group(1)!r} has no image/png output')
    if (n := path.stat().st_size) > MAX_BYTES: bad.append(f'{path.name}: {n/1e6:.1f} MB, over {MAX_BYTES/1e6:.0f} MB: make its figures smaller')
    rec, cur = recorded_sha1(nb), source_sha1(pkg)
    if rec is None: bad.append(f'{path.name}: no "{HASH_LINE}" output: it was never executed by `make notebooks`')
    elif rec != cur: bad.append(f'{path.name}: its outputs are stale: they came from foodcam source {rec[:12]}, the package is now {cur[:12]}. '
                                'Run `make notebooks` (re-executes the tutorials and index.ipynb, writes their outputs) and commit them')
    return bad

def shrink_png(b64: str) -> str:
    "A figure as a 256-colour PNG (about 4x smaller for photos with heatmaps; plots look the same), if that is smaller"
    import base64, io
    from PIL import Image
    raw = base64.b64decode(b64); buf = io.BytesIO()
    Image.open(io.BytesIO(raw)).convert('RGB').quantize(256).save(buf, 'PNG', optimize=True)
    return base64.b64encode(buf.getvalue()).decode() + '\n' if buf.tell() < len(raw) else b64

def shrink_figures(nb) -> None:
    "`shrink_png` every PNG output of `nb` (an execnb notebook or its JSON dict)"
    for c in nb['cells']:
        for o in c.get('outputs', []):
            d = o.get('data', {})
            if 'image/png' in d: d['image/png'] = shrink_png(''.join(d['image/png']))

def _skip(cell) -> bool:
    "Cells `nbdev_test` never runs: not code, or `#| eval: false`"
    if cell.cell_type != 'code': return True
    return any(l.replace(' ', '').lower() == '#|eval:false' for l in cell.source.splitlines())

def execute(path) -> None:
    "Run every cell of the notebook `path` and write it back with the new outputs (nothing is written if a cell fails)"
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    path = Path(path).resolve(); nb = read_nb(path)
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs, c.execution_count = [], None  # a cell with no output must not keep an old one
    sh = CaptureShell(path, mpl_format='png')  # png, not execnb's default retina: half the bytes in the committed notebooks
    sh._fname = path
    with working_directory(path.parent):
        try: sh.run_all(nb, exc_stop=True, preproc=_skip)
        except Exception:
            sys.stderr.write(sh.prettytb(fname=path) + '\n'); sys.exit(1)
    shrink_figures(nb); write_nb(nb, path)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='*', default=NOTEBOOKS, help='notebooks to run, in order (default: the tutorials, then index)')
    ap.add_argument('--one', help=argparse.SUPPRESS)  # internal: run one notebook in this process
    a = ap.parse_args()
    if a.one: execute(a.one); return
    env = {**os.environ, 'PYTHONPATH': f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}".rstrip(os.pathsep),
           'FOODCAM_OFFLINE': os.environ.get('FOODCAM_OFFLINE', '1'), 'PYTHONUNBUFFERED': '1', 'MPLBACKEND': 'agg'}
    env.setdefault('FOODCAM_TUTORIAL_RUN', tempfile.mkdtemp(prefix='foodcam-tutorial-'))
    print(f"run folder: {env['FOODCAM_TUTORIAL_RUN']}  |  package source sha1 {source_sha1()}", flush=True)
    t0, failed = time.time(), []
    for nb in a.notebooks:
        t = time.time(); print(f'== {nb}', flush=True)
        r = subprocess.run([sys.executable, __file__, '--one', str(ROOT/nb)], cwd=ROOT, env=env)
        print(f"   {'FAILED' if r.returncode else 'ok'} in {time.time() - t:.0f}s", flush=True)
        if r.returncode: failed.append(nb)
    for nb in a.notebooks:
        if nb not in failed: subprocess.run([str(BIN/'nbdev_clean'), '--fname', str(ROOT/nb)], cwd=ROOT, check=True)
    for nb in a.notebooks:
        if nb not in failed: print(f'{nb}: {(ROOT/nb).stat().st_size/1e6:.2f} MB')
    print(f'({time.time() - t0:.0f}s) ' + (f'FAILED: {", ".join(failed)}' if failed else f'{len(a.notebooks)} notebooks executed and written'))
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
