("Using a trained model: load_classifier in a fresh process, `foodcam predict` and `foodcam export`, and the export "
 "round trips.")
import csv, json, os, subprocess, sys, warnings
from pathlib import Path
import pytest, torch
from foodcam.test_utils import make_image_folder, env_set, tiny_run, cli_run

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A 2-epoch frozen-track run (random ResNet-18, 64px shapes) and the fp32 probabilities its learner gives"
    tmp = tmp_path_factory.mktemp('predict')
    from foodcam.tracks import run_learner
    from foodcam.data import food_test_dl
    from foodcam.train import BF16
    with env_set('FOODCAM_CACHE', tmp/'cache'):
        data, run = tiny_run(tmp)
        learn, _ = run_learner(run)
        files = sorted(data.rglob('*.jpg'))[::4]
        with learn.removed_cbs([c for c in learn.cbs if isinstance(c, BF16)]):
            probs, _ = learn.get_preds(dl=food_test_dl(learn.dls, files))
        yield dict(tmp=tmp, data=data, run=run, learn=learn, files=files, probs=probs)

def _probs_in_subprocess(model, files, cache):
    code = ("import json, sys\nfrom foodcam.predict import load_classifier\nc = load_classifier(sys.argv[1], "
            "bf16=False)\n"
            "print(json.dumps([[p.probs[k] for k in c.classes] for p in c.predict_batch(sys.argv[2:])]))")
    r = subprocess.run([sys.executable, '-c', code, str(model), *map(str, files)], capture_output=True, text=True,
                       timeout=300,
                       env={**os.environ, 'FOODCAM_CACHE': str(cache)})
    assert r.returncode == 0, r.stderr
    return torch.tensor(json.loads(r.stdout.strip().splitlines()[-1]))

def test_load_classifier_fresh_process_empty_cache(trained, tmp_path):
    "A copy of the run folder, no dataset, an empty FOODCAM_CACHE: the learner's probabilities within 1e-5"
    import shutil
    run = shutil.copytree(trained['run'], tmp_path/'run'); (tmp_path/'empty').mkdir()
    # photos outside the dataset
    files = [shutil.copy(f, tmp_path/f'{i}_{Path(f).name}') for i, f in enumerate(trained['files'])]
    probs = _probs_in_subprocess(run, files, tmp_path/'empty')
    assert (probs - trained['probs']).abs().max() <= 1e-5
    assert list((tmp_path/'empty').iterdir()) == []

def test_predict_folder_with_broken_file(trained, tmp_path):
    imgs = make_image_folder(tmp_path/'photos', classes=['a', 'b'], n=3, size=70)
    (imgs/'b'/'broken.jpg').write_bytes(b'this is not a JPEG')
    r = cli_run('predict', trained['run'], imgs, '--out', tmp_path/'p.csv', '--cam', tmp_path/'cams')
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(tmp_path/'p.csv')))
    assert len(rows) == 7 and list(rows[0]) == ['file', 'label', 'probability', 'topk', 'unknown', 'unknown_score',
                                                'error']
    bad = [x for x in rows if x['error']]
    assert len(bad) == 1 and bad[0]['file'].endswith('broken.jpg') and bad[0]['label'] == ''
    good = [x for x in rows if not x['error']]
    assert all(x['label'] in ('circle', 'square', 'triangle') and 0 < float(x['probability']) <= 1 for x in good)
    assert len(list((tmp_path/'cams').glob('*.png'))) == 6
    assert '6 of 7 photos predicted' in r.stdout
    r = cli_run('predict', trained['run'], imgs/'b'/'broken.jpg', '--out', tmp_path/'p.json')
    assert r.returncode == 1 and json.loads((tmp_path/'p.json').read_text())[0]['error']
    r = cli_run('predict', trained['run'], tmp_path/'nothing_here', '--out', tmp_path/'none.csv')
    assert r.returncode == 1 and 'Traceback' not in r.stderr and 'nothing_here' in (tmp_path/'none.csv').read_text()

def test_export_safetensors_and_onnx_round_trip(trained, tmp_path):
    r = cli_run('export', tmp_path/'m.safetensors', '--run', trained['run'], '--onnx')
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path/'m.json').read_text())
    for k in ('arch', 'classes', 'mean', 'std', 'size', 'keras_mode', 'unknown', 'foodcam_version'): assert k in meta, k
    assert meta['unknown']['method'] and meta['unknown']['threshold'] is not None
    (tmp_path/'empty').mkdir()
    probs = _probs_in_subprocess(tmp_path/'m.safetensors', trained['files'], tmp_path/'empty')
    assert (probs - trained['probs']).abs().max() <= 1e-5
    try: import onnxruntime  # noqa: F401
    except ImportError:
        if os.environ.get('CI'): raise  # onnxruntime is in the [all] extra CI installs: no quiet skip there
        pytest.skip('onnxruntime is not installed: the ONNX check needs it (pip install onnxruntime)')
    from foodcam.predict import load_classifier, onnx_session, image_tensor
    clf = load_classifier(tmp_path/'m.safetensors', bf16=False, device='cpu')
    xb = torch.stack([image_tensor(f, clf.size) for f in trained['files']])
    lg, cams, feats = onnx_session(tmp_path/'m.onnx').run(None, {'images': xb.numpy()})
    ref, _, ref_cm = clf.forward(xb, cams=True)
    assert abs(torch.tensor(lg) - ref).max() <= 1e-4
    # the predicted class's CAM, as the Classifier computes it, is that class's map among the ONNX's maps of all classes
    assert abs(torch.tensor(cams)[torch.arange(len(xb)), ref.argmax(1)] - ref_cm).max() <= 1e-4
    assert cams.shape[:2] == (len(xb), len(clf.classes)) and feats.shape[0] == len(xb)

def test_fastai_export_load_learner(trained, tmp_path):
    import foodcam.predict  # noqa: F401  (makes plum.Function picklable)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore'); trained['learn'].export(tmp_path/'export.pkl')
    code = ("import sys, json, warnings; warnings.simplefilter('ignore')\nfrom pathlib import Path\nfrom "
            "fastai.learner import load_learner\n"
            "l = load_learner(sys.argv[1]); print(json.dumps(l.predict(Path(sys.argv[2]))[2].tolist()))")
    r = subprocess.run([sys.executable, '-c', code, str(tmp_path/'export.pkl'), str(trained['files'][0])],
                       capture_output=True, text=True,
                       timeout=300, env={**os.environ, 'FOODCAM_PRECISION': 'fp32'})
    assert r.returncode == 0, r.stderr
    assert (torch.tensor(json.loads(r.stdout.strip().splitlines()[-1])) - trained['probs'][0]).abs().max() <= 1e-5
