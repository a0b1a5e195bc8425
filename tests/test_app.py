"""`foodcam app` in headless Chromium, as a user meets it: start the server, open the page, upload a photo, see the
label and the CAM.

The browser is driven over the Chrome DevTools Protocol through `--remote-debugging-pipe` (Chromium reads commands on fd
3 and writes answers on fd 4, NUL-separated JSON), so no websocket client, no Playwright and no chromedriver are needed:
only the Chromium the report's browser check already uses."""
import fcntl, json, os, queue, re, subprocess, sys, threading, time
from pathlib import Path
import pytest
from foodcam.test_utils import synth_image, env_set, tiny_run
from foodcam.report import find_chromium

class CDP:
    "A headless Chromium and one page, driven over the DevTools protocol on a pipe"
    def __init__(self, exe, profile, timeout=30):
        self.timeout, self.n, self.events, self.replies = timeout, 0, [], {}
        r_in, self.w = os.pipe(); self.r, w_out = os.pipe()
        def child():  # Chromium expects the pipe on fds 3 (in) and 4 (out)
            a, b = fcntl.fcntl(r_in, fcntl.F_DUPFD, 10), fcntl.fcntl(w_out, fcntl.F_DUPFD, 10)
            os.dup2(a, 3); os.dup2(b, 4)
        flags = ['--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe', '--no-first-run',
                 '--disable-quic',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--disable-extensions',
                 '--disable-default-apps', '--no-default-browser-check', f'--user-data-dir={profile}', 'about:blank']
        self.p = subprocess.Popen([exe, *flags], preexec_fn=child, close_fds=False, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        os.close(r_in); os.close(w_out)
        self.q = queue.Queue(); threading.Thread(target=self._read, daemon=True).start()
        tid = self.call('Target.createTarget', url='about:blank')['targetId']
        self.session = self.call('Target.attachToTarget', targetId=tid, flatten=True)['sessionId']

    def _read(self):
        buf = b''
        while chunk := os.read(self.r, 1 << 16):
            *msgs, buf = (buf + chunk).split(b'\0')
            for m in msgs: self.q.put(json.loads(m))

    def call(self, method, session=None, **params):
        "Send one command (to the page if `session` is True) and wait for its answer"
        self.n += 1; msg = dict(id=self.n, method=method, params=params)
        if session: msg['sessionId'] = self.session
        os.write(self.w, json.dumps(msg).encode() + b'\0')
        end = time.time() + self.timeout
        while self.n not in self.replies:
            try: m = self.q.get(timeout=max(0.01, end - time.time()))
            except queue.Empty: raise TimeoutError(f'chromium did not answer {method}')
            if 'id' in m: self.replies[m['id']] = m
            else: self.events.append(m)
        m = self.replies.pop(self.n)
        if 'error' in m: raise RuntimeError(f"{method}: {m['error']}")
        return m['result']

    def page(self, method, **params): return self.call(method, True, **params)
    def eval(self, js): return self.page('Runtime.evaluate', expression=js, returnByValue=True)['result'].get('value')
    def wait(self, js, timeout=30):
        "Poll `js` in the page until it is truthy; returns its value"
        end = time.time() + timeout
        while time.time() < end:
            if v := self.eval(js): return v
            time.sleep(0.1)
        raise TimeoutError(f'the page never got to: {js}')
    def requests(self):
        return [e['params']['request']['url'] for e in self.events if e.get('method') == 'Network.requestWillBeSent']
    def close(self):
        try: self.call('Browser.close')
        except Exception: pass
        try: self.p.wait(10)
        except subprocess.TimeoutExpired: self.p.kill()

@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A 2-epoch frozen-track run (random ResNet-18, 64px shapes) with its unknown detector"
    tmp = tmp_path_factory.mktemp('app')
    with env_set('FOODCAM_CACHE', tmp/'cache'): yield tiny_run(tmp, unknown=True)[1]

@pytest.fixture
def app(run, tmp_path):
    "`foodcam app RUN --port 0` in a subprocess; yields its URL"
    p = subprocess.Popen([str(Path(sys.executable).parent/'foodcam'), 'app', str(run), '--port', '0'],
                         stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env={**os.environ, 'PYTHONUNBUFFERED': '1'})
    lines, t0 = [], time.time()
    while time.time() - t0 < 60:
        line = p.stdout.readline()
        if not line: break
        lines.append(line)
        if m := re.search(r'(http://127\.0\.0\.1:\d+/)', line): break
    else: m = None
    if not m: p.kill(); pytest.fail(f'foodcam app did not print its URL:\n{"".join(lines)}')
    # keep the request log from filling the pipe
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    yield dict(url=m.group(1), start_seconds=time.time() - t0)
    p.terminate()
    try: p.wait(10)
    except subprocess.TimeoutExpired: p.kill()

def test_app_answer_is_the_models(run, tmp_path):
    "The app's HTTP answer for a photo: the label, probabilities and unknown flag `load_classifier(run).predict` gives"
    import urllib.request
    from foodcam.app import make_server
    from foodcam.predict import load_classifier
    photo = tmp_path/'photo.jpg'; synth_image(2, 120).save(photo, quality=90)
    srv = make_server(run, port=0, quiet=True, bf16=False).start()
    try:
        req = urllib.request.Request(srv.url + 'predict', data=photo.read_bytes(), method='POST',
                                     headers={'Content-Type': 'application/octet-stream'})
        got = json.loads(urllib.request.urlopen(req, timeout=60).read())
    finally: srv.stop()
    want = load_classifier(run, bf16=False).predict(photo)
    assert got['label'] == want.label and got['unknown'] == want.unknown, (got['label'], want.label)
    assert list(got['probs']) == list(want.probs), (got['probs'], want.probs)  # the same classes, in the same order
    assert all(abs(got['probs'][k] - want.probs[k]) <= 1e-5 for k in want.probs), (got['probs'], want.probs)
    assert abs(got['unknown_score'] - want.unknown_score) <= 1e-5 and abs(got['probability'] - want.probability) <= 1e-5

def chromium_or_skip():
    "The Chromium the browser tests drive; skipped when there is none, but under CI (`CI` set) a missing one fails"
    if exe := find_chromium(): return exe
    msg = 'no chromium found: the browser test needs it (Debian: apt-get install chromium)'
    if os.environ.get('CI'): pytest.fail(f'CI is set and {msg}')
    pytest.skip(msg)

def test_app_in_headless_chromium(app, tmp_path):
    exe = chromium_or_skip()
    photo = tmp_path/'photo.jpg'; synth_image(1, 200).save(photo, quality=90)
    (tmp_path/'notes.txt').write_text('not a photo')
    b = CDP(exe, tmp_path/'profile')
    try:
        b.page('Network.enable'); b.page('Page.enable')
        b.page('Page.navigate', url=app['url'])
        b.wait("document.readyState === 'complete' && !!document.getElementById('file')")
        assert 'circle' in b.eval("document.getElementById('model').textContent")
        def upload(f):
            node = b.page('DOM.querySelector', nodeId=b.page('DOM.getDocument')['root']['nodeId'],
                          selector='#file')['nodeId']
            b.page('DOM.setFileInputFiles', files=[str(f)], nodeId=node)
        upload(photo)
        got = b.wait("(() => { const i = document.getElementById('cam'), l = "
                     "document.getElementById('label').textContent;"
                     " return document.body.dataset.state === 'done' && l && i.complete && i.naturalWidth > 0 &&"
                     " {label: l, w: i.naturalWidth, bars: document.querySelectorAll('#probs .row').length,"
                     " unknown: document.getElementById('unknown').textContent, error: "
                     "document.getElementById('error').hidden}; })()")
        assert got['label'] in ('circle', 'square', 'triangle') and got['w'] == 256 and got['bars'] == 3, got
        assert got['error'] and ('none of these' in got['unknown'] or 'one of the classes' in got['unknown']), got
        # its measured operating point
        assert 'This threshold flags ' in got['unknown'] and 'of the known validation photos' in got['unknown'], got
        b.page('Page.captureScreenshot')  # the page renders
        b.eval("document.body.dataset.state = 'ready'")
        upload(tmp_path/'notes.txt')  # a file that is no photo: a message on the page, the server keeps going
        err = b.wait("document.body.dataset.state === 'done' && !document.getElementById('error').hidden && "
                     "document.getElementById('error').textContent")
        assert 'not an image' in err, err
        urls = b.requests()
        assert any(u.endswith('/predict') for u in urls), urls
        assert all(u.startswith(app['url']) or u.startswith(('data:', 'blob:', 'about:')) for u in urls), urls
    finally: b.close()
