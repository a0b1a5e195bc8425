# ruff: noqa: F405 (names from `from foodcam.all import *`, the point of the test)
"""The lab with the `Learner` in hand, as a fastai user writes it: `from foodcam.all import *`, `food_dls`,
`xception_learner`, `lr_find`, `fit_frozen`, `unfreeze` + `fit_one_cycle`, `CAMInterpretation`, `export`,
`load_learner` in a new process, `Classifier.from_learner`.

Fast: a random ResNet-18 on 36 synthetic photos at 32px. The same path on food3 is in tests/test_real_data.py."""
import json, os, subprocess, sys, warnings
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
import pytest, torch
from foodcam.all import *  # noqa: F403 (the point of the test)
from foodcam.test_utils import make_image_folder, env_set
for _n in [n for n in globals() if n.startswith('test')]: del globals()[_n]  # fastcore's `test*`: not pytest's

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A learner through both stages on synthetic photos"
    tmp = tmp_path_factory.mktemp('verbs')
    with env_set('FOODCAM_CACHE', tmp/'cache'), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        path = make_image_folder(tmp/'shapes', n=12, size=40)
        set_seed(0)
        dls = food_dls(path, 32, bs=6)
        learn = xception_learner(dls, arch='resnet18', weights='random', path=tmp)
        sug = learn.lr_find(show_plot=False)
        tl = learn.fit_frozen(2)
        frozen_acc = float(learn.validate()[1])
        learn.unfreeze(); learn.fit_one_cycle(1, finetune_lrs(HEAD_LR))
        yield dict(tmp=tmp, path=path, learn=learn, tl=tl, sug=sug, frozen_acc=frozen_acc)

def test_learner_and_stages(lab):
    "BatchNorm statistics frozen by a visible callback; both stages in `learn.curves`; fastai's recorder works"
    learn = lab['learn']
    assert any(isinstance(cb, FreezeBNStats) for cb in learn.cbs)  # noqa: F405
    assert lab['sug'].valley > 0
    assert [r['stage'] for r in learn.curves] == ['frozen', 'frozen', 'finetune']
    assert abs(lab['tl'].recorder.values[-1][-1] - lab['frozen_acc']) < 1e-6  # the head trained is `learn`'s head
    assert len(learn.recorder.values) == 1
    learn.recorder.plot_loss(); plt.close('all')
    fig = plot_curves(learn.curves); plt.close(fig)  # noqa: F405
    lo, hi = learn.opt.hypers[0]['lr'], learn.opt.hypers[-1]['lr']  # discriminative rates: the body's below the head's
    assert lo < hi

def test_interpretation(lab):
    "fastai's names on the CAM interpretation: top losses with CAMs, the confusion matrix"
    interp = CAMInterpretation.from_learner(lab['learn'])  # noqa: F405
    fig = interp.plot_top_losses(3, nrows=1); plt.close(fig)
    assert len([a for a in fig.axes if a.images]) == 3 * 3
    interp.plot_confusion_matrix(); plt.close('all')
    assert interp.confusion_matrix().sum() == len(lab['learn'].dls.valid_ds)

def test_export_load_learner_new_process(lab):
    "`learn.export` then `load_learner` in a fresh process: the same probabilities"
    learn, files = lab['learn'], sorted(lab['path'].rglob('*.jpg'))[::6]
    learn.export('shapes.pkl')
    fn = lab['tmp']/'shapes.pkl'; assert fn.exists()
    with learn.removed_cbs([c for c in learn.cbs if isinstance(c, BF16)]):  # noqa: F405
        probs, _ = learn.get_preds(dl=learn.dls.test_dl(files))
    code = ("import json, sys, warnings\nwarnings.simplefilter('ignore')\nfrom foodcam.all import *\n"
            "learn = load_learner(sys.argv[1])\nlearn.remove_cbs([c for c in learn.cbs if isinstance(c, BF16)])\n"
            "p, _ = learn.get_preds(dl=learn.dls.test_dl(sys.argv[2:]))\nprint(json.dumps(p.tolist()))\n"
            "from pathlib import Path\nprint(learn.predict(Path(sys.argv[2]))[0])")
    r = subprocess.run([sys.executable, '-c', code, str(fn), *map(str, files)], capture_output=True, text=True,
                       timeout=300, env={**os.environ, 'FOODCAM_CACHE': str(lab['tmp']/'cache')})
    assert r.returncode == 0, r.stderr[-2000:]
    *_, line, label = r.stdout.strip().splitlines()
    assert (torch.tensor(json.loads(line)) - probs).abs().max() <= 1e-5
    assert label == learn.dls.vocab[int(probs[0].argmax())]

def test_classifier_from_learner(lab):
    "A `Classifier` from the learner in hand: the learner's prediction, the unknown flag and the CAM, no run folder"
    learn, f = lab['learn'], sorted(lab['path'].rglob('*.jpg'))[0]
    clf = Classifier.from_learner(learn, unknown=True, bf16=False)  # noqa: F405
    p = clf.predict(f, cam=True)
    ref = from_learner(learn, bf16=False).predict(f)  # the run-folder-free path `load_classifier` uses for a .pkl
    assert p.label == ref.label and abs(p.probs[p.label] - ref.probs[p.label]) < 1e-5
    assert clf.size == 32 and isinstance(p.unknown, bool) and p.cam.shape == (1, 1)  # at the validation size, not 40
    assert Classifier.from_learner(learn).unknown is None
