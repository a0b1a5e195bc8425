"""foodcam's test command (`make test`): sync check, lint, notebooks via nbdev_test, pytest, one summary line.

Run from the project root with the project's venv python. `--slow` also runs the `#| slow` cells."""
import argparse, hashlib, importlib.util, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def digest(folder, pat):
    return {p.relative_to(folder).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.rglob(pat)) if '.ipynb_checkpoints' not in p.parts}

def check_sync():
    "Run nbdev_export and nbdev_clean on a copy of the project; report any file they would change. Never touches the user's files."
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for n in ('nbs', 'foodcam'): shutil.copytree(ROOT/n, d/n, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints'))
        for n in ('settings.ini', 'setup.py', 'README.md'): shutil.copy(ROOT/n, d/n)
        before = {**{'foodcam/'+k: v for k, v in digest(d/'foodcam', '*.py').items()}, **{'nbs/'+k: v for k, v in digest(d/'nbs', '*.ipynb').items()}}
        for cmd in ('nbdev_export', 'nbdev_clean'):
            r = subprocess.run([str(BIN/cmd)], cwd=d, capture_output=True, text=True)
            if r.returncode: print(r.stdout, r.stderr); return [f'({cmd} failed)']
        after = {**{'foodcam/'+k: v for k, v in digest(d/'foodcam', '*.py').items()}, **{'nbs/'+k: v for k, v in digest(d/'nbs', '*.ipynb').items()}}
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))

def _nbdev_all(finding: str) -> bool:
    "Is `finding` E501 on the first line of nbdev's `__all__`? nbdev wraps that list at 120 before its 10-character prefix"
    m = re.match(r'^(\S+\.py):(\d+):\d+: E501', finding)
    return bool(m) and (ROOT/m[1]).read_text().splitlines()[int(m[2]) - 1].startswith('__all__ = [')

def run_lint():
    """ruff over `foodcam/` and `tests/` (config in pyproject.toml: pyflakes, lines at most 120); the findings, or [] when
    clean"""
    ruff = shutil.which('ruff', path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if ruff is None: return ['(ruff not found: install it in the venv, `pip install ruff`)']
    r = subprocess.run([ruff, 'check', '--output-format', 'concise', 'foodcam', 'tests'], cwd=ROOT, capture_output=True,
                       text=True)
    found = [l for l in r.stdout.splitlines() if re.match(r'^\S+\.py:\d+', l) and not _nbdev_all(l)]
    return found or ([f'(ruff failed: {r.stderr.strip()})'] if r.returncode and not r.stdout.strip() else [])

def notebooks(slow=False):
    top = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not re.match(r'^[_.]', p.name))
    return top + (sorted((ROOT/'nbs'/'tutorials').glob('*.ipynb')) if slow else [])

def worker_threads(n_workers):
    """Thread settings for `n_workers` notebooks at once: the cores shared out, unless the user set them.
    Each torch process otherwise starts one OpenMP thread per core, and the workers' threads spin waiting for each other:
    measured on the 2-core dev VM with 2 workers (other, niced jobs running), the four heaviest notebooks took 163 s with torch's default and 52 s with one thread each."""
    n = str(max(1, (os.cpu_count() or 1) // max(1, n_workers)))
    return {k: os.environ.get(k) or n for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')}

def run_notebooks(slow, n_workers):
    # the tutorials (nbs/tutorials) train on the real data for minutes: only the slow set runs them; the fast set checks their
    # committed outputs instead (tests/test_tutorials.py), and `make notebooks` re-executes them
    cmd = [str(BIN/'nbdev_test'), '--n_workers', str(n_workers), '--timing'] + (['--flags', 'slow'] if slow else ['--skip_folder_re', r'^[_.]|^tutorials$'])
    print('$', ' '.join(cmd[0:1]).replace(str(BIN)+'/', ''), *cmd[1:], flush=True)
    env = {**os.environ, 'PYTHONUNBUFFERED': '1', 'PATH': f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **worker_threads(n_workers)}
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    out = r.stdout + r.stderr
    print(out)
    nbs = notebooks(slow)
    if r.returncode == 0: return len(nbs), 0
    failed = set(re.findall(r'^\s+(\S+\.ipynb)\s*$', out.split('Following Notebooks:')[-1], re.M)) if 'Following Notebooks' in out else {'(nbdev_test crashed)'}
    return len(nbs) - len(failed & {p.name for p in nbs}), len(failed)

def run_pytest(slow, real=False, n_workers=2):
    "pytest over tests/: with pytest-xdist, `n_workers` processes, each test file in one of them (module fixtures are built once)"
    if not any((ROOT/'tests').glob('test_*.py')): return 0, 0
    par = ['-n', str(n_workers), '--dist', 'loadfile'] if n_workers > 1 and importlib.util.find_spec('xdist') else []
    cmd = [sys.executable, '-m', 'pytest', 'tests', '-q', '-p', 'no:cacheprovider'] + par + (['--slow'] if slow else []) + (['--real'] if real else [])
    print('$ pytest', *cmd[4:], flush=True)
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **worker_threads(n_workers if par else 1)})
    print(r.stdout[-20000:], r.stderr[-5000:])
    if r.returncode == 5: return 0, 0  # no tests collected
    last = [l for l in r.stdout.splitlines() if re.search(r'\d+ (passed|failed|error)', l)]
    c = {k: int(n) for n, k in re.findall(r'(\d+) (passed|failed|errors?)', last[-1] if last else '')}
    p, f = c.get('passed', 0), c.get('failed', 0) + c.get('error', 0) + c.get('errors', 0)
    if r.returncode and not f: f = 1  # pytest failed before it could count (e.g. an import error)
    return p, f

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--slow', action='store_true', help='also run the `#| slow` cells and slow pytest tests')
    ap.add_argument('--real', action='store_true', help='also run the slow and real-data pytest tests (what CI runs: it has the data)')
    ap.add_argument('--n_workers', type=int, default=int(os.environ.get('FOODCAM_TEST_WORKERS', 2)), help='notebooks (and pytest processes, with pytest-xdist) run in parallel')
    a = ap.parse_args()
    t0 = time.time(); passed = failed = 0
    print('== sync check: nbdev_export and nbdev_clean must change nothing', flush=True)
    changed = check_sync()
    if changed:
        print('NOT IN SYNC: nbdev_export/nbdev_clean would change:\n  ' + '\n  '.join(changed) +
              '\n-> edit the notebooks (never foodcam/*.py by hand), then run `make prepare` (nbdev_export && nbdev_clean) and commit.')
        failed += 1
    else: passed += 1; print('in sync')
    print('== lint: ruff check (pyflakes rules, lines <= 120) over foodcam/ and tests/', flush=True)
    findings = run_lint()
    if findings:
        print('LINT FAILED:\n  ' + '\n  '.join(findings) +
              '\n-> fix these in the notebooks (foodcam/*.py is generated; tests/ by hand): drop unused imports, define or import the'
              '\n   names, rename redefinitions, wrap lines over 120 characters; then `make prepare`. Check with `ruff check foodcam tests`.')
        failed += 1
    else: passed += 1; print('clean')
    print('== notebooks' + (' (with slow cells)' if a.slow else ' (fast set)'), flush=True)
    p, f = run_notebooks(a.slow, a.n_workers); passed += p; failed += f
    print('== pytest', flush=True)
    p, f = run_pytest(a.slow, a.real, a.n_workers); passed += p; failed += f
    print(f'({time.time()-t0:.0f}s: sync check + lint + {len(notebooks(a.slow))} notebooks + pytest)')
    print(f'{passed} passed, {failed} failed')
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
