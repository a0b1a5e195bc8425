("Answers checked by their value on a tiny trained run: `pred.csv`'s unknown flags against the detector's stated rate, "
 "`foodcam export --pkl` reloaded by fastai's `load_learner` in a new process.")
import csv, json, os, re, shutil, subprocess, sys, warnings
import pytest
from foodcam.test_utils import env_set, tiny_run, cli_run

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A 2-epoch frozen-track run (random ResNet-18, 64px shapes) with its unknown detector, and its validation photos"
    tmp = tmp_path_factory.mktemp('values')
    from foodcam.run import Run
    with env_set('FOODCAM_CACHE', tmp/'cache'):
        data, run = tiny_run(tmp, unknown=True)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore'); learn, _ = Run(run).learner()
        yield dict(tmp=tmp, data=data, run=run, valid=list(learn.dls.valid.items))

def test_pred_csv_flags_the_detectors_share_of_known_photos(trained, tmp_path):
    "`foodcam predict` on the run's validation photos flags the share of them the detector says its threshold flags"
    from foodcam.predict import load_classifier
    det = load_classifier(trained['run'], bf16=False).unknown
    assert det is not None and det.n_valid == len(trained['valid']) and det.known_flagged < 0.5, det.meta()
    photos = tmp_path/'photos'
    for f in trained['valid']:
        (photos/f.parent.name).mkdir(parents=True, exist_ok=True); shutil.copy(f, photos/f.parent.name)
    r = cli_run('predict', trained['run'], photos, '--out', tmp_path/'pred.csv')
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(tmp_path/'pred.csv')))
    assert len(rows) == det.n_valid and {x['unknown'] for x in rows} <= {'True', 'False'}, rows
    share = sum(x['unknown'] == 'True' for x in rows) / len(rows)
    # the same photos, the same scores: at most one photo on the threshold's edge (another precision) may differ
    assert abs(share - det.known_flagged) <= 1 / det.n_valid + 1e-9, (share, det.known_flagged)

def test_export_pkl_loads_in_a_new_process(trained, tmp_path):
    "`foodcam export --pkl`'s file, loaded by fastai's `load_learner` in a fresh process: the model's probabilities"
    from foodcam.predict import load_classifier
    r = cli_run('export', tmp_path/'m.safetensors', '--run', trained['run'], '--pkl')
    assert r.returncode == 0 and (tmp_path/'m.pkl').exists(), (r.stdout, r.stderr)
    photo = trained['valid'][0]
    code = ("import sys, json, warnings; warnings.simplefilter('ignore')\nfrom pathlib import Path\n"
            "from fastai.learner import load_learner\nl = load_learner(sys.argv[1])\n"
            "_, _, p = l.predict(Path(sys.argv[2])); print(json.dumps([list(map(str, l.dls.vocab)), p.tolist()]))")
    r = subprocess.run([sys.executable, '-c', code, str(tmp_path/'m.pkl'), str(photo)], capture_output=True, text=True,
                       timeout=300, env={**os.environ, 'FOODCAM_PRECISION': 'fp32', 'FOODCAM_CACHE': str(tmp_path/'c')})
    assert r.returncode == 0, r.stderr[-3000:]
    vocab, probs = json.loads(r.stdout.strip().splitlines()[-1])
    want = load_classifier(trained['run'], bf16=False).predict(photo)
    assert vocab == list(want.probs), (vocab, want.probs)
    assert max(abs(p - want.probs[k]) for k, p in zip(vocab, probs)) <= 1e-4, (probs, want.probs)

def test_report_budgets_from_a_real_budget_run(tmp_path):
    "The report's budgets section built from what `budget_run` wrote (a 1.5 CPU-second lab run): its table, by cell"
    import html
    from foodcam.budget import budget_run
    from foodcam.report import build_report
    from foodcam.test_utils import make_image_folder
    data = make_image_folder(tmp_path/'shapes', n=12, size=48)
    with env_set('FOODCAM_CACHE', tmp_path/'cache'):
        budget_run(data, tmp_path/'budget', ('lab',), (None,), seconds=1.5, eval_at=(1,), weights='random', size=32,
                   recipe_kw={'lab': dict(arch='resnet18', epochs=(2, 50))}, log=None)
    page = build_report([tmp_path/'budget'], tmp_path/'report.html').read_text()
    sec = page[page.index('<section id="budgets"'):]; sec = sec[:sec.index('</section>')]
    rows = list(csv.reader(open(tmp_path/'budget'/'budget.csv')))
    assert len(rows) == 2 and rows[1][0] == 'lab', rows
    for v in rows[0]: assert f'>{html.escape(v)}</th>' in sec, (v, sec[-2000:])  # every header
    def num(v):
        try: return float(v)
        except ValueError: return v
    shown = [html.unescape(c) for c in re.findall(r'<td>(.*?)</td>', sec[sec.rindex('<tbody>'):])]
    assert [num(v) for v in shown] == [num(v) for v in rows[1]], (shown, rows[1])  # every value, as numbers
    assert sec.count('<img src="data:image/png;base64,') >= 1  # the budget figure
