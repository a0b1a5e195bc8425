("`foodcam review` through the console script's `main` (`cli_run`) on a small synthetic dataset with planted problems "
 "(random resnet18 body: no weights needed).")
import csv, hashlib
from foodcam.test_utils import make_suspect_dataset, cli_run

def run(*args): return cli_run(*args, env={'FOODCAM_OFFLINE': '1'})

def snap(p):
    return {f.relative_to(p).as_posix(): hashlib.sha1(f.read_bytes()).hexdigest() for f in p.rglob('*') if f.is_file()}

def test_review_lists_applies_and_undoes(tmp_path):
    path = make_suspect_dataset(tmp_path/'shapes', n=8)['path']; before = snap(path)
    r = run('review', path, '--arch', 'resnet18', '--weights', 'random', '--top', '5', '--run', tmp_path/'run')
    assert r.returncode == 0, r.stderr
    assert 'suspects in 26 photos' in r.stdout and 'table:' in r.stdout, r.stdout
    rows = list(csv.DictReader((tmp_path/'run'/'suspects.csv').open()))
    assert rows and set(rows[0]) >= {'file', 'kind', 'action', 'score', 'label', 'proposed', 'other', 'confidence',
                                     'precision'}
    assert {r['confidence'] for r in rows} <= {'likely', 'possible'} and all(0 <= float(r['precision']) <= 1
                                                                             for r in rows)
    assert snap(path) == before  # listing moves nothing
    r = run('review', path, '--arch', 'resnet18', '--weights', 'random', '--top', '3', '--apply', '--run',
            tmp_path/'run')
    assert r.returncode == 0 and 'applied' in r.stdout, (r.stdout, r.stderr)
    # exactly the likely rows among the first 3 of suspects.csv moved: relabelled to their class, or quarantined
    top = list(csv.DictReader((tmp_path/'run'/'suspects.csv').open()))[:3]
    want = {x['file'] for x in top if x['confidence'] == 'likely'}
    assert want, top  # the planted problems give likely suspects: an empty list would check nothing
    log = list(csv.DictReader((path/'_quarantine'/'log.csv').open()))
    assert {m['src'] for m in log} == want and len(log) == len(want), (log, top)
    for x in top:
        if x['file'] not in want: continue
        m = next(m for m in log if m['src'] == x['file'])
        if x['action'] == 'relabel': assert m['dst'] == f"{x['proposed']}/{x['file'].split('/')[-1]}", (m, x)
        assert not (path/x['file']).exists() and (path/m['dst']).exists(), m
    moved = {k for k in before if k not in snap(path)}
    assert moved == want, (moved, want)  # nothing else left its place
    r = run('clean', path, '--undo')
    assert r.returncode == 0, r.stderr
    assert snap(path) == before  # byte for byte, no log left

def test_review_bad_arguments(tmp_path):
    for args, msg in [((tmp_path/'missing',), 'no dataset folder'),
                      ((tmp_path, '--weights', tmp_path/'w.h5'), 'no weights file')]:
        r = run('review', *args)
        assert r.returncode == 1 and msg in r.stderr and 'Traceback' not in r.stderr, r.stderr
