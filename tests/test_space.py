"""The Space folder `foodcam space` writes, used as its users meet it: its inference code alone (no foodcam, no fastai),
its Gradio app on 127.0.0.1 queried with `gradio_client`, and its page in headless Chromium.

Gradio is an extra (`foodcam[app]`): without it the app tests say SKIPPED, except under CI (`CI=true`), where a
missing gradio or chromium fails them."""
import base64, json, os, re, socket, subprocess, sys, threading, time
from pathlib import Path
import pytest
from foodcam.test_utils import env_set, tiny_run, synth_image, project_root
from foodcam.test_utils import test_data as data_dir

ROOT = project_root()
CI = os.environ.get('CI', '').lower() == 'true'

def need(module: str, why: str):
    """Import `module`, or skip with one line. Under CI a missing module fails, except gradio where the environment says
    why it has none (`$FOODCAM_NO_GRADIO`: CI's newest-releases leg, whose pillow no gradio release accepts)"""
    try: return __import__(module)
    except ImportError:
        no_gradio = module in ('gradio', 'gradio_client') and os.environ.get('FOODCAM_NO_GRADIO')
        if no_gradio: pytest.skip(f'{module} is not installed: {no_gradio}')
        if CI: pytest.fail(f'{module} is not installed, and CI must run {why}')
        pytest.skip(f'{module} is not installed: {why} needs it (pip install "foodcam[app]")')

@pytest.fixture(scope='module')
def space(tmp_path_factory):
    "A tiny run (random ResNet-18, 64px shapes, unknown detector) and its Space folder"
    tmp = tmp_path_factory.mktemp('space')
    with env_set('FOODCAM_CACHE', tmp/'cache'):
        data, run = tiny_run(tmp, unknown=True)
        from foodcam.app import write_space
        yield dict(data=data, run=run, space=write_space(run, tmp/'Space'))

SPACE_CODE = """
import json, sys
from infer import Model
m = Model('.'); out = [m.predict(f) for f in sys.argv[1:]]
print(json.dumps(dict(preds=[{k: v for k, v in p.items() if k != 'cam'} for p in out],
                      modules=sorted(k for k in sys.modules if k.split('.')[0] in ('foodcam', 'fastai', 'fastcore')))))
"""

def space_predict(space: Path, files: list) -> dict:
    "The Space's own `infer.py` run in a fresh interpreter with only the Space folder (and site-packages) on sys.path"
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    # the standard library and site-packages stay; the working folder and the project's source leave
    code = ("import sys, os; root = os.path.realpath(sys.argv.pop(1))\n"
            "sys.path[:] = ['.'] + [p for p in sys.path if p and os.path.realpath(p) != root]\n" + SPACE_CODE)
    r = subprocess.run([sys.executable, '-c', code, str(ROOT), *map(str, files)], cwd=space, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])

def check_same(space: Path, run: Path, files: list):
    "The Space's label, probabilities, unknown score and flag are `foodcam predict`'s (fp32 on the CPU), to 1e-5"
    from foodcam.predict import load_classifier
    want = load_classifier(run, device='cpu', bf16=False).predict_batch(files)
    got = space_predict(space, files)
    assert got['modules'] == [], got['modules']  # neither foodcam nor fastai (nor fastcore) was imported
    for g, w in zip(got['preds'], want, strict=True):
        assert g['label'] == w.label and g['unknown'] == w.unknown, (g, w)
        assert max(abs(g['probs'][k] - w.probs[k]) for k in w.probs) < 1e-5, (g['probs'], w.probs)
        assert abs(g['unknown_score'] - w.unknown_score) < 1e-5 and g['threshold'] is not None

def test_space_folder(space):
    sp = space['space']
    assert sorted(p.name for p in sp.iterdir()) == ['README.md', 'app.py', 'config.json', 'examples', 'infer.py',
                                                   'model.safetensors', 'requirements.txt']
    card = (sp/'README.md').read_text()
    front = card.split('---\n')[1]
    assert 'sdk: gradio\n' in front and re.search(r'sdk_version: \d+\.\d+', front) and 'app_file: app.py\n' in front
    assert '| circle | 12 |' in card and 'Licence: unknown: fill it in' in card and 'flags ' in card
    app = (sp/'app.py').read_text()
    assert app.index("GRADIO_ANALYTICS_ENABLED'] = 'False'") < app.index('import gradio')
    assert 'http' not in app and 'share=True' not in app  # nothing fetched from outside, no public link
    reqs = (sp/'requirements.txt').read_text()
    assert 'whl/cpu' in reqs and 'foodcam' not in reqs and 'fastai' not in reqs
    assert all(max(Image_size(f)) <= 256 for f in (sp/'examples').glob('*.jpg'))

def Image_size(f):
    from PIL import Image
    with Image.open(f) as im: return im.size

def test_space_code_alone_gives_predicts_numbers(space):
    files = sorted(space['data'].glob('*/*.jpg'))[::5]
    check_same(space['space'], space['run'], files)

@pytest.mark.real
def test_space_on_real_photos(space):
    "Real food3 photos (JPEG draft decoding, EXIF, odd sizes) through the Space's code and through foodcam predict"
    food3 = data_dir('food3')
    files = sorted(p for p in food3.rglob('*') if p.suffix.lower() in ('.jpg', '.jpeg', '.png', '.webp'))[::50]
    assert len(files) >= 20
    check_same(space['space'], space['run'], files)

def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture(scope='module')
def gradio_app(space):
    "The Space's `python app.py` on 127.0.0.1 (a free port), with the Python running the tests"
    need('gradio', 'the Gradio app test')
    port = free_port(); sp = space['space']
    env = {**os.environ, 'GRADIO_SERVER_PORT': str(port), 'PYTHONUNBUFFERED': '1'}
    env.pop('GRADIO_SERVER_NAME', None)
    t0 = time.time()
    p = subprocess.Popen([sys.executable, 'app.py'], cwd=sp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    lines = []
    while time.time() - t0 < 120:
        line = p.stdout.readline()
        if not line: break
        lines.append(line)
        if m := re.search(r'(http://127\.0\.0\.1:\d+/?)', line): break
    else: m = None
    if not m: p.kill(); pytest.fail(f'the Space app did not print its URL:\n{"".join(lines)}')
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    yield dict(url=m.group(1).rstrip('/') + '/', start_seconds=time.time() - t0, **space)
    p.terminate()
    try: p.wait(10)
    except subprocess.TimeoutExpired: p.kill()

def test_gradio_client(gradio_app, tmp_path):
    need('gradio_client', 'the Gradio app test')
    from gradio_client import Client, handle_file
    from foodcam.predict import load_classifier
    c = Client(gradio_app['url'], verbose=False)
    photo = sorted(gradio_app['data'].glob('square/*.jpg'))[0]
    label, flag, cam = c.predict(handle_file(str(photo)), api_name='/classify')
    want = load_classifier(gradio_app['run'], device='cpu', bf16=False).predict(photo)
    assert label['label'] == want.label
    got = {d['label']: d['confidence'] for d in label['confidences']}
    assert max(abs(got[k] - want.probs[k]) for k in want.probs) < 1e-5, (got, want.probs)
    assert ('None of these' in flag) == want.unknown and 'known validation photos' in flag, flag
    assert Image_size(cam) == (256, 256)
    (tmp_path/'notes.jpg').write_text('<html>403 Forbidden</html>')  # a file that is no image, named like one
    with pytest.raises(Exception, match='not a photo the model can read'):
        c.predict(handle_file(str(tmp_path/'notes.jpg')), api_name='/classify')
    (tmp_path/'big.jpg').write_bytes(b'\xff\xd8' + bytes(21 * 2**20))  # over the app's 20 MB
    with pytest.raises(Exception, match='maximum file size'):
        c.predict(handle_file(str(tmp_path/'big.jpg')), api_name='/classify')
    # the server refuses it too, whatever the client checks
    import urllib.request, urllib.error
    req = urllib.request.Request(gradio_app['url'] + 'gradio_api/upload', method='POST',
                                 data=b'--x\r\nContent-Disposition: form-data; name="files"; filename="big.jpg"\r\n'
                                      b'Content-Type: image/jpeg\r\n\r\n' + bytes(21 * 2**20) + b'\r\n--x--\r\n',
                                 headers={'Content-Type': 'multipart/form-data; boundary=x'})
    with pytest.raises(urllib.error.HTTPError) as e: urllib.request.urlopen(req, timeout=60)
    assert e.value.code == 413, e.value.code

def test_gradio_page_in_headless_chromium(gradio_app, tmp_path):
    from test_app import CDP, chromium_or_skip  # tests/test_app.py's DevTools client and its browser check
    exe = chromium_or_skip()
    photo = tmp_path/'photo.jpg'; synth_image(1, 200).save(photo, quality=90)
    b = CDP(exe, tmp_path/'profile', timeout=60)
    try:
        b.page('Network.enable'); b.page('Page.enable')
        b.page('Emulation.setDeviceMetricsOverride', width=1100, height=800, deviceScaleFactor=1, mobile=False)
        b.page('Page.navigate', url=gradio_app['url'])
        b.wait("!!document.querySelector('input[type=file]')", timeout=60)
        node = b.page('DOM.querySelector', nodeId=b.page('DOM.getDocument')['root']['nodeId'],
                      selector='input[type=file]')['nodeId']
        b.page('DOM.setFileInputFiles', files=[str(photo)], nodeId=node)
        b.wait("!!document.querySelector('button.primary, button[variant=primary]') && "
               "!!document.querySelector('.image-container img, [data-testid=image] img')", timeout=60)
        b.eval("[...document.querySelectorAll('button')].find(x => /submit/i.test(x.textContent)).click()")
        # the answer: the flag in words (only the answer says "unknown score") and the CAM image loaded
        got = b.wait("(() => { const t = document.body.innerText, cam = [...document.querySelectorAll('img')].filter("
                     "i => /[.]webp/.test(i.src) && i.complete && i.naturalWidth === 256);"
                     " return /[Uu]nknown score/.test(t) && cam.length && {text: t}; })()", timeout=90)
        time.sleep(0.5)  # the label's bars finish drawing
        assert any(c in got['text'] for c in ('circle', 'square', 'triangle')), got['text'][:500]
        shot = base64.b64decode(b.page('Page.captureScreenshot', format='png')['data'])
        (tmp_path/'space.png').write_bytes(shot)
        if os.environ.get('FOODCAM_SPACE_SCREENSHOT'): Path(os.environ['FOODCAM_SPACE_SCREENSHOT']).write_bytes(shot)
        from PIL import Image
        im = Image.open(tmp_path/'space.png'); assert im.size[0] >= 1000
        urls = b.requests()
        hosts = {re.match(r'^[a-z]+://([^/:]+)', u).group(1) for u in urls if re.match(r'^(https?|wss?)://', u)}
        assert hosts <= {'127.0.0.1', 'localhost'}, sorted(u for u in urls if '127.0.0.1' not in u)
        assert any('/gradio_api/' in u for u in urls), urls[:20]
    finally: b.close()
