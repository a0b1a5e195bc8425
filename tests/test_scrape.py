("The scraper against a fake DuckDuckGo on 127.0.0.1: a whole run, a second run, and runs killed with SIGKILL then "
 "resumed.")
import hashlib, os, signal, subprocess, sys, time, warnings
from pathlib import Path
import pytest
from PIL import Image
from foodcam.test_utils import FakeDDG, fake_catalog
from foodcam.scrape import scrape, read_manifest, scrape_summary, KEPT, ScrapeError

QUERIES = {'circle': ['red circle', 'round thing'], 'square': 'green square'}
KW = dict(timeout=0.5, max_bytes=100_000, backoff=0.01)

def sha1(p): return hashlib.sha1(Path(p).read_bytes()).hexdigest()
def images(path):
    return sorted(p.relative_to(path).as_posix() for p in Path(path).rglob('*') if p.is_file()
                  and p.name != 'manifest.csv')

def check_consistent(path):
    "No partial or temporary file; every kept manifest row is a complete file with its SHA-1; every file decodes"
    path = Path(path)
    assert not [p for p in path.rglob('*') if p.name.startswith('.') or p.suffix in ('.tmp', '.part')]
    rows = read_manifest(path)
    for r in rows.values():
        if r['status'] in KEPT: assert sha1(path/r['file']) == r['sha1'], r
    for f in images(path):
        with Image.open(path/f) as im: im.load()
    # a kill between the rename and the manifest line may leave one complete file the manifest does not list yet
    assert len(set(images(path)) - {r['file'] for r in rows.values()}) <= 1
    return rows

def expected_files(rows): return {r['url'].split('/')[-1] for r in rows.values() if r['status'] in KEPT}

def test_scrape_fake_ddg(tmp_path):
    _, _, expected = fake_catalog()
    with FakeDDG(slow=2) as fake, warnings.catch_warnings():
        warnings.simplefilter('ignore')
        scrape(tmp_path/'shapes', QUERIES, n=20, base=fake.url, progress=False, **KW)
        rows = check_consistent(tmp_path/'shapes')
        assert expected_files(rows) == {f for v in expected.values() for f in v}
        assert images(tmp_path/'shapes') == sorted(r['file'] for r in rows.values() if r['status'] in KEPT)
        assert scrape_summary(rows.values())['square'] == {'ok': 6, 'cross_class': 1}
        n = len(fake.img_hits())
        scrape(tmp_path/'shapes', QUERIES, n=20, base=fake.url, progress=False, **KW)
        assert len(fake.img_hits()) == n, 'a second run downloads nothing'

def test_scrape_env_base_url(tmp_path, monkeypatch):
    with FakeDDG(throttle=()) as fake:
        monkeypatch.setenv('FOODCAM_DDG_URL', fake.url)
        rows = scrape(tmp_path/'s', {'circle': 'red circle'}, n=2, progress=False)
        assert scrape_summary(rows) == {'circle': {'ok': 2}}

def test_scrape_errors(tmp_path):
    with FakeDDG(throttle=(403,)*9) as fake:
        with pytest.raises(ScrapeError, match='still failing after 3 attempts'):
            scrape(tmp_path/'s', {'c': 'red circle'}, base=fake.url, retries=2, backoff=0.01, progress=False)
        with pytest.raises(ScrapeError, match='without a search token'):
            scrape(tmp_path/'s', {'c': 'notoken'}, base=fake.url, progress=False)
        with pytest.raises(ScrapeError, match='changed its answer'):
            scrape(tmp_path/'s', {'c': 'changed'}, base=fake.url, progress=False)

SCRIPT = '''import sys, warnings; warnings.simplefilter("ignore")
from pathlib import Path
from foodcam.scrape import scrape
scrape(Path(sys.argv[1]), {"circle": ["red circle", "round thing"], "square": "green square"}, n=20, base=sys.argv[2],
       timeout=0.5, max_bytes=100_000, backoff=0.01, progress=False)
print("DONE")'''

def start(path, url):
    return subprocess.Popen([sys.executable, '-c', SCRIPT, str(path), url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

def wait_rows(path, n, proc, limit=90):
    t0 = time.time()
    while time.time() - t0 < limit:
        if len(read_manifest(path)) >= n: return
        if proc.poll() is not None: raise AssertionError(f'scrape ended early: {proc.communicate()}')
        time.sleep(0.05)
    raise AssertionError('scrape made no progress')

def test_kill_and_resume(tmp_path):
    """SIGKILL a scrape twice in the middle of slow downloads; nothing partial remains, nothing is lost, a resume
    finishes it"""
    _, _, expected = fake_catalog()
    path = tmp_path/'shapes'
    with FakeDDG(delay=0.25, slow=2, throttle=()) as fake:
        for n_rows in (3, 9):
            p = start(path, fake.url); wait_rows(path, n_rows, p)
            time.sleep(0.1); os.kill(p.pid, signal.SIGKILL); p.wait()
            assert p.returncode == -signal.SIGKILL
            rows = check_consistent(path)
            assert len(rows) >= n_rows
        done = {r['url'] for r in rows.values()}
        n_hits = len(fake.img_hits())
        fake.delay = 0
        p = start(path, fake.url); out, err = p.communicate(timeout=120)
        assert 'DONE' in out, err
        rows = check_consistent(path)
        assert expected_files(rows) == {f for v in expected.values() for f in v}
        assert images(path) == sorted(r['file'] for r in rows.values() if r['status'] in KEPT)
        again = fake.img_hits()[n_hits:]
        # at most the one image in flight at each kill is fetched again
        assert len([h for h in again if fake.url + h[1:] in done]) <= 2
