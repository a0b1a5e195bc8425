"""The mutation table: break one line of the package at a time, run the tests that should catch the break, and print
which test failed (or MISSED), and how long it took.

Usage (from the project root, with the project's venv python):
    python tools/mutants.py              # every mutation; exit 1 if one is missed or its line is gone
    python tools/mutants.py NAME ...     # only these
    python tools/mutants.py --list       # the mutations and their tests
    python tools/mutants.py --baseline   # first run each mutation's tests on the unbroken copy (they must pass)

Each mutation is (name, file, old line, new line, tests). The old line is matched after stripping its indentation and
must be in the file exactly once: when the code changes, the mutation is REFUSED with the file and the line it looked
for, so the table never claims a test for a break it could not make (update `MUTANTS` below). The new line keeps the
old one's indentation. Everything runs in a temporary copy of the project (foodcam/, nbs/, tests/, the settings):
the working tree is never modified. The same line is broken in the notebook that exports it (a notebook runs its own
export cells). Tests are pytest node ids (`tests/x.py::test_y`, run with `-x`) or notebooks
(`nbs/NN_x.ipynb`, run with `nbdev_test --path`); they run in order and the first that fails is the one that caught
it.
A test that runs past `--timeout` is not a catch: the row says TIMEOUT and the exit status is 1."""
import argparse, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def M(name, file, old, new, *tests): return dict(name=name, file=file, old=old, new=new, tests=list(tests))

MUTANTS = [
    M('unknown comparison flipped', 'foodcam/infer.py',
      "unknown=None if score is None else bool(score > threshold), unknown_score=score, threshold=threshold,",
      "unknown=None if score is None else bool(score < threshold), unknown_score=score, threshold=threshold,",
      'tests/test_values.py::test_pred_csv_flags_the_detectors_share_of_known_photos'),
    M('class order swapped in the app', 'foodcam/app.py',
      "return dict(label=p.label, probability=p.probability, probs=p.probs, unknown=p.unknown,",
      "return dict(label=p.label, probability=p.probability, probs=dict(zip(p.probs, reversed(p.probs.values()))), "
      "unknown=p.unknown,",
      'tests/test_app.py::test_app_answer_is_the_models'),
    M('head training skipped (rate 0)', 'foodcam/transfer.py',
      "tl.fit_one_cycle(epochs, cbs=[StageInfo('frozen', tl.lr, src)] + cbs)  # one-cycle up to `tl.lr`",
      "tl.fit_one_cycle(epochs, 0., cbs=[StageInfo('frozen', tl.lr, src)] + cbs)",
      'nbs/07_transfer.ipynb'),
    M('BatchNorm statistics not frozen', 'foodcam/train.py',
      "for m in bn_layers(self.model): m.eval()",
      "for m in bn_layers(self.model): m.train()",
      'nbs/04_train.ipynb', 'nbs/07_transfer.ipynb'),
    M('split made random', 'foodcam/data.py',
      "u = [unit_hash(f'{seed}/{Path(f).parent.name}/{Path(f).name}') for f in items]",
      "u = [random.random() for f in items]",
      'nbs/03_data.ipynb'),
    M('split seed ignored', 'foodcam/data.py',
      "u = [unit_hash(f'{seed}/{Path(f).parent.name}/{Path(f).name}') for f in items]",
      "u = [unit_hash(f'42/{Path(f).parent.name}/{Path(f).name}') for f in items]",
      'nbs/03_data.ipynb'),
    M('CAM weights of the wrong class', 'foodcam/infer.py',
      "cm = torch.einsum('nchw,nc->nhw', maps.float(), fc.weight.float()[logits.argmax(1)]) if cams else None",
      "cm = torch.einsum('nchw,nc->nhw', maps.float(), fc.weight.float()[logits.argmin(1)]) if cams else None",
      'tests/test_predict.py::test_export_safetensors_and_onnx_round_trip'),
    M('predict without normalisation', 'foodcam/predict.py',
      "xb = ((xb.to(self.device) - self.mean) / self.std).contiguous(memory_format=self.fmt)",
      "xb = xb.to(self.device).contiguous(memory_format=self.fmt)",
      'tests/test_predict.py::test_load_classifier_fresh_process_empty_cache'),
    M('--apply does nothing', 'foodcam/suspects.py',
      "if top is not None: df = df.head(top)",
      "df = df.head(0)",
      'tests/test_suspects.py::test_review_lists_applies_and_undoes'),
    M('clean --undo restores nothing', 'foodcam/scrape.py',
      "for m in reversed(log): move_file(path/m['dst'], path/m['src'])",
      "for m in reversed(log): pass",
      'tests/test_suspects.py::test_review_lists_applies_and_undoes'),
    M('ONNX export drops the CAM output', 'foodcam/predict.py',
      "return head.fc(f), torch.einsum('nchw,kc->nkhw', maps, head.fc.weight), f",
      "return head.fc(f), f",
      'tests/test_predict.py::test_export_safetensors_and_onnx_round_trip'),
    M('excluded.csv row dropped', 'foodcam/run.py',
      "w.writerows(sorted(bad.items()))",
      "w.writerows(sorted(bad.items())[1:])",
      'nbs/05_run.ipynb'),
    M('online() ignores FOODCAM_OFFLINE', 'foodcam/core.py',
      "if offline(): return False",
      "pass",
      'nbs/00_core.ipynb'),
    M('fine-tune stores no validation pass', 'foodcam/openset.py',
      "if fn is not None: cached_entry(fn, lambda: (f, l), items, names=('f', 'l'))",
      "if fn is not None: pass",
      'nbs/08_openset.ipynb'),
    M('validation key keeps the training augmentation', 'foodcam/transfer.py',
      "if getattr(dl, 'split_idx', None) == 1 and fb['aug'] in ('fastai', None):  # the validation side: the centre at",
      "if False:",
      'nbs/07_transfer.ipynb'),
    M('predict ignores the stored pass', 'foodcam/predict.py',
      "known = {i: stored[k] for i, it in enumerate(items) if stored and not cam and (k := photo_id(it)) in stored}",
      "known = {}",
      'nbs/16_predict.ipynb'),
]

def mutate(text: str, m: dict, file: str) -> str:
    "`text` with `m['old']` (matched without its indentation, exactly once) replaced by `m['new']`; raises if not so"
    lines = text.splitlines(keepends=True)
    hits = [i for i, l in enumerate(lines) if l.strip() == m['old'].strip()]
    if len(hits) != 1:
        raise LookupError(f"{file}: the line {m['old']!r} is {'not there' if not hits else f'there {len(hits)} times'}"
                          f" (the code changed: update {m['name']!r} in tools/mutants.py)")
    i = hits[0]; indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
    lines[i] = indent + m['new'].strip() + '\n'
    return ''.join(lines)

def mutate_notebooks(nbs: Path, m: dict) -> dict:
    """Make the same break in the notebook that exports `m['file']`: a notebook runs its own `#| export` cells, so a
    break in the `.py` alone would not reach the notebook's tests. Returns `{notebook: original text}` to restore"""
    import json
    saved = {}
    for nb in sorted(nbs.glob('*.ipynb')):
        text = nb.read_text()
        if m['old'].strip() not in text and json.dumps(m['old'].strip())[1:-1] not in text: continue
        d = json.loads(text); hit = False
        for c in d['cells']:
            if c['cell_type'] != 'code': continue
            src = ''.join(c['source'])
            if any(l.strip() == m['old'].strip() for l in src.splitlines()):
                c['source'] = mutate(src + '\n', m, nb.name).rstrip('\n').splitlines(keepends=True); hit = True
        if hit: saved[nb] = text; nb.write_text(json.dumps(d, indent=1, ensure_ascii=False) + '\n')
    return saved

def copy_project(dest: Path):
    "The files the tests need: the package, notebooks, tests, tools and settings (no venv, git, runs or caches)"
    skip = shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints', '_proc', '_docs')
    for n in ('foodcam', 'nbs', 'tests', 'tools', 'data', 'bench'):
        if (ROOT/n).exists(): shutil.copytree(ROOT/n, dest/n, ignore=skip)
    for f in ROOT.iterdir():
        if f.is_file(): shutil.copy(f, dest/f.name)

def run_test(test: str, cwd: Path, timeout: int) -> tuple:
    "(passed, last lines of output) of one pytest node id or one notebook, in the copy `cwd`"
    env = {**os.environ, 'PYTHONPATH': str(cwd), 'PYTHONDONTWRITEBYTECODE': '1', 'PYTHONUNBUFFERED': '1',
           'PATH': f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if test.endswith('.ipynb'): cmd = [str(BIN/'nbdev_test'), '--path', test]
    else: cmd = [sys.executable, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider', test]
    try: r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    # not a catch: a test that never finished says nothing about the break
    except subprocess.TimeoutExpired: return None, f'timed out after {timeout} s'
    return r.returncode == 0, (r.stdout + r.stderr)[-1500:]

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('names', nargs='*', help='mutation names (or unique parts of them); all if none')
    ap.add_argument('--list', action='store_true', help='list the mutations and their tests')
    ap.add_argument('--baseline', action='store_true', help="first check each mutation's tests pass unbroken")
    ap.add_argument('--timeout', type=int, default=900, help='seconds per test run')
    ap.add_argument('-v', '--verbose', action='store_true', help='print the output of the test that caught each break')
    a = ap.parse_args()
    ms = [m for m in MUTANTS if not a.names or any(n.lower() in m['name'].lower() for n in a.names)]
    if not ms: sys.exit(f'no mutation matches {a.names}: see --list')
    if a.list:
        for m in ms: print(f"{m['name']}\n  {m['file']}: {m['old']}\n  -> {m['new']}\n  tests: {', '.join(m['tests'])}")
        return
    bad, rows, t00 = 0, [], time.time()
    with tempfile.TemporaryDirectory(prefix='foodcam-mutants-') as d:
        d = Path(d); copy_project(d)
        if a.baseline:
            for t in dict.fromkeys(t for m in ms for t in m['tests']):
                ok, out = run_test(t, d, a.timeout)
                print(f"baseline {'ok    ' if ok else 'FAILED'} {t}", flush=True)
                if not ok: print(out); sys.exit('a test fails on the unbroken code: fix it first')
        for m in ms:
            f = d/m['file']; orig = f.read_text(); t0 = time.time()
            try: f.write_text(mutate(orig, m, m['file']))
            except LookupError as e:
                rows.append((m['name'], f'REFUSED: {e}', 0.)); bad += 1; print(rows[-1][1], flush=True); continue
            nbs_saved = mutate_notebooks(d/'nbs', m)
            try:
                caught, timed_out = None, []
                for t in m['tests']:
                    ok, out = run_test(t, d, a.timeout)
                    if ok is None: timed_out.append(t)
                    elif not ok: caught = t; break
            finally:  # the copy is unbroken again before the next mutation
                f.write_text(orig)
                for nb, t in nbs_saved.items(): nb.write_text(t)
            if caught is None: bad += 1
            what = caught or ('TIMEOUT: ' + ', '.join(timed_out) if timed_out else 'MISSED')
            rows.append((m['name'], what, time.time() - t0))
            print(f"{m['name']}: {what} ({rows[-1][2]:.0f} s)", flush=True)
            if caught and a.verbose: print(re.sub(r'(?m)^', '    ', out))
    w = max(len(r[0]) for r in rows)
    print(f"\n| {'mutation':<{w}} | caught by | seconds |\n|{'-' * (w + 2)}|-----------|---------|")
    for n, c, s in rows: print(f'| {n:<{w}} | {c} | {s:.0f} |')
    print(f'\n{len(rows) - bad} of {len(rows)} mutations caught, {time.time() - t00:.0f} s')
    sys.exit(1 if bad else 0)

if __name__ == '__main__': main()
