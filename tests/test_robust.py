("Real scraped folders never crash the job: verified items, stable splits, logs for files, locks and clear errors "
 "(issue 13).")
import csv, hashlib, json, os, subprocess, sys, time
from pathlib import Path
import pytest
from foodcam.test_utils import make_image_folder, make_hostile_images, make_dirty_dataset, cli_run

def run(*args, cwd=None, timeout=600, env=None):
    env = {**os.environ, 'PYTHONUNBUFFERED': '1', **(env or {})}
    return subprocess.run([str(Path(sys.executable).parent/'foodcam'), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)

def digests(path):
    "Every file under `path` -> sha1 of its bytes"
    return {p.relative_to(path).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(Path(path).rglob('*')) if p.is_file()}

@pytest.fixture
def cache(tmp_path):
    "A fresh foodcam cache: no CIFAR model (cifar32 is skipped), no cached verification or features"
    return {'FOODCAM_CACHE': str(tmp_path/'cache')}

@pytest.mark.slow
def test_demo_on_dirty_and_hostile_folder(tmp_path, cache):
    data = make_dirty_dataset(tmp_path/'dirty')
    expect = {f'circle/{k}': v for k, v in make_hostile_images(data/'circle').items() if v}
    expect.update({'circle/notes.txt': 'not_image', 'circle/truncated.jpg': 'broken', 'circle/icon.jpg': 'too_small'})
    before = digests(data)
    # a shape of none of the classes
    ood = make_image_folder(tmp_path/'ood', classes=('a', 'b', 'c', 'cross'), n=3, size=72)/'cross'
    t0 = time.time()
    r = run('demo', data, '--run', tmp_path/'run', '--quick', '--arch', 'resnet18', '--weights', 'random',
            '--epochs', '2', '--size', '64', '--ood', ood, cwd=tmp_path, env=cache)
    print(f'demo: {time.time() - t0:.0f}s\n', r.stdout[-3000:], r.stderr[-3000:])
    assert r.returncode == 0, r.stderr
    assert 'Traceback' not in r.stderr and (tmp_path/'run'/'report.html').stat().st_size > 10_000
    rows = list(csv.DictReader((tmp_path/'run'/'excluded.csv').open()))
    assert {x['file']: x['reason'] for x in rows} == expect
    assert digests(data) == before  # nothing moved, deleted or rewritten
    info = json.loads((tmp_path/'run'/'run.json').read_text())
    assert {'verify', 'scratch32', 'frozen', 'finetune', 'unknown', 'ood', 'explain',
            'report'} <= set(info['stage_seconds'])
    assert (tmp_path/'run'/'finetune_unknown.safetensors').exists() and (tmp_path/'run'/'unknown.png').exists()
    assert len(list(csv.DictReader((tmp_path/'run'/'unknown.csv').open()))) == 4 and 'photos in' in r.stdout
    page = (tmp_path/'run'/'report.html').read_text()
    for sid in ('suspects', 'unknown'):
        assert 'class="missing"' not in page.split(f'id="{sid}"')[1].split('</section>')[0], sid
    assert 'cifar32: skipped' in r.stdout, r.stdout
    assert '  circle: broken 2, empty 1, folder 1, not_image 3, too_big 1, too_small 2' in r.stdout, r.stdout
    print(info['stage_seconds'])

def test_split_is_stable_when_files_come_and_go(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("FOODCAM_CACHE", cache["FOODCAM_CACHE"])
    from foodcam.data import food_dls
    data = make_image_folder(tmp_path/'ds', ('a', 'b'), n=30, size=40)
    def sides():
        dls = food_dls(data, size=32, bs=4, aug=None, device='cpu')
        return {**{f: 'train' for f in dls.train_ds.items}, **{f: 'valid' for f in dls.valid_ds.items}}
    old = sides()
    gone = [data/'a'/f'a_{i:04d}.jpg' for i in range(5)] + [data/'b'/f'b_{i:04d}.jpg' for i in range(5)]
    for f in gone: f.unlink()
    make_image_folder(tmp_path/'more', ('a', 'b'), n=5, size=40, seed=1)
    for f in (tmp_path/'more').rglob('*.jpg'): f.rename(data/f.parent.name/f'new_{f.name}')
    new = sides()
    kept = set(old) & set(new)
    assert len(kept) == 50 and len(new) == 60
    assert [f for f in kept if old[f] != new[f]] == []
    assert 0 < sum(v == 'valid' for v in new.values()) < 30

def test_train_to_a_file_writes_one_line_per_epoch(tmp_path, cache):
    data = make_image_folder(tmp_path/'shapes', n=12, size=40)
    log = tmp_path/'train.log'
    with open(log, 'w') as f:
        p = subprocess.run([str(Path(sys.executable).parent/'foodcam'), 'train', str(data), '--track', 'scratch32',
                            '--epochs', '3', '--run', str(tmp_path/'r')],
                           stdout=f, stderr=subprocess.STDOUT, env={**os.environ, **cache}, timeout=600)
    txt = log.read_text()
    assert p.returncode == 0, txt
    assert '\r' not in txt
    lines = [l for l in txt.splitlines() if l.startswith('epoch ')]
    assert [l.split()[1] for l in lines] == ['1/3', '2/3', '3/3'], txt
    assert len(txt) < 3000, len(txt)

def test_second_train_on_the_same_run_stops_at_once(tmp_path, cache):
    data = make_image_folder(tmp_path/'shapes', n=12, size=40)
    R = tmp_path/'r'; R.mkdir()
    holder = subprocess.Popen([sys.executable, '-c', 'from foodcam.run import run_lock; import time\nwith '
                                                     f'run_lock({str(R)!r}): print("locked", flush=True); '
                                                     'time.sleep(120)'],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, **cache})
    try:
        assert holder.stdout.readline().strip() == 'locked'
        t0 = time.time()
        r = cli_run('train', data, '--track', 'scratch32', '--epochs', '1', '--run', R, env=cache)
        dt = time.time() - t0
        assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
        assert 'is in use by another foodcam process' in r.stderr, r.stderr
        assert sorted(p.name for p in R.iterdir()) == ['.lock'], list(R.iterdir())  # nothing written
        print(f'refused in {dt:.1f}s')
    finally: holder.kill(); holder.wait()
    # the holder died: its lock is taken over
    r = cli_run('train', data, '--track', 'scratch32', '--epochs', '1', '--run', R, env=cache)
    assert r.returncode == 0, r.stderr
    assert not (R/'.lock').exists() and (R/'scratch32_metrics.json').exists()

def test_explain_and_report_on_a_folder_that_is_not_a_run(tmp_path, cache):
    (tmp_path/'notarun').mkdir(); (tmp_path/'notarun'/'photo.jpg').write_bytes(b'x')
    for cmd in ('explain', 'report'):
        for folder in (tmp_path/'notarun', tmp_path/'missing'):
            r = cli_run(cmd, '--run', folder, env=cache)
            assert r.returncode == 1 and 'Traceback' not in r.stderr and 'Errno' not in r.stderr, (cmd, r.stderr)
            assert 'foodcam train' in r.stderr, (cmd, r.stderr)
    assert sorted(p.name for p in (tmp_path/'notarun').iterdir()) == ['photo.jpg']

def test_too_small_to_split_says_so(tmp_path, cache):
    data = make_image_folder(tmp_path/'few', ('a', 'b'), n=3, size=40)
    for f in list((data/'b').iterdir())[1:]: f.unlink()
    (data/'b'/'page.jpg').write_text('<html></html>')
    r = cli_run('train', data, '--track', 'scratch32', '--epochs', '1', '--run', tmp_path/'r', env=cache)
    assert r.returncode == 1 and 'fewer than 2 usable images' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'r').exists()
