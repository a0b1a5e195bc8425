("The `foodcam` console script on small real data: whole jobs as subprocesses, as users run them (slow set); answers "
 "and errors through its `main` in this process (`cli_run`).")
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest, foodcam
from foodcam.test_utils import make_image_folder, cli_run
from foodcam.core import online

def run(*args, cwd=None, timeout=900):
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    return subprocess.run([str(Path(sys.executable).parent/'foodcam'), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)

def test_help_lists_commands():
    r = cli_run('--help')
    assert r.returncode == 0
    for c in ('scrape', 'check-classes', 'clean', 'train', 'explain', 'report', 'demo', 'version'): assert c in r.stdout

def test_version():
    r = cli_run('version')
    assert r.returncode == 0 and r.stdout.startswith(f'foodcam {foodcam.__version__}')

def test_unknown_command_fails():
    r = cli_run('nope')
    assert r.returncode == 2 and 'unknown command' in r.stderr

@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp('data')/'shapes', n=16, size=64)

def test_bad_arguments_say_what_to_do(tmp_path, shapes):
    one = make_image_folder(tmp_path/'one', classes=['a'], n=3)
    for args, msg in [(('train', tmp_path/'missing'), 'is not a folder'), (('train', shapes, '--track', 'fast'),
                                                                           'unknown track'),
                      (('train', shapes, '--weights', tmp_path/'w.h5'), 'no weights file'), (('train', one), 'only one '
                                                                                                             'class'),
                      (('clean', tmp_path/'missing'), 'no dataset folder'), (('report', '--run', tmp_path/'norun'),
                                                                             'no run folder'),
                      (('explain', '--run', tmp_path), 'not a foodcam run folder')]:
        r = cli_run(*args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert msg in r.stderr and 'Traceback' not in r.stderr, (args, r.stderr)
    (tmp_path/'bad.h5').write_bytes(b'not weights')
    r = cli_run('train', shapes, '--weights', tmp_path/'bad.h5', '--run', tmp_path/'r', '--arch', 'resnet18')
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr

def valid_acc_of(run, track):
    "(accuracy, n) of the run's saved `track` model on its validation photos, recomputed through `load_classifier`"
    from foodcam.run import Run
    from foodcam.predict import load_classifier
    learn, _ = Run(run).learner(track); items = list(learn.dls.valid.items)
    ps = load_classifier(run, track, bf16=False).predict_batch(items)
    return sum(p.label == Path(f).parent.name for p, f in zip(ps, items)) / len(items), len(items)

@pytest.mark.slow
def test_train_explain_report(tmp_path, shapes):
    R = tmp_path/'run'
    r = run('train', shapes, '--track', 'scratch32', '--epochs', '3', '--run', R)
    assert r.returncode == 0, r.stderr
    r = run('train', shapes, '--track', 'frozen', '--arch', 'resnet18', '--weights', 'random', '--epochs', '3', '--run',
            R)
    assert r.returncode == 0, r.stderr
    for t in ('scratch32', 'frozen'):
        for suf in ('_model.pth', '_curves.png', '_metrics.json'): assert (R/f'{t}{suf}').stat().st_size > 0
        m = json.loads((R/f'{t}_metrics.json').read_text()); acc, n = valid_acc_of(R, t)
        assert m['epochs'] == 3 and abs(m['valid_acc'] - acc) <= 1 / n + 1e-9, (t, m['valid_acc'], acc)
    r = run('explain', '--run', R, '--n_faith', '4')
    assert r.returncode == 0, r.stderr
    for f in ('cam_correct.png', 'confusion.png', 'top_losses.png', 'activations.png', 'faithfulness.csv'):
        assert (R/'explain'/f).exists(), f
    r = run('report', '--run', R)
    assert r.returncode == 0, r.stderr
    page = (R/'report.html').read_text()
    assert 'id="comparison"' in page and '<td>scratch32</td>' in page and '<td>frozen</td>' in page
    assert 'data:image/png;base64' in page

@pytest.mark.slow
def test_interrupted_train_resumes_from_last_stage(tmp_path, shapes):
    "Kill `train --track finetune` after the frozen stage is saved; the rerun does not train it again"
    R = tmp_path/'run'
    args = ['train', shapes, '--track', 'finetune', '--arch', 'resnet18', '--weights', 'random', '--epochs', '40',
            '--run', R]
    p = subprocess.Popen([str(Path(sys.executable).parent/'foodcam'), *map(str, args)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    t0 = time.time()
    while not (R/'frozen_metrics.json').exists() and time.time() - t0 < 600 and p.poll() is None: time.sleep(0.2)
    assert (R/'frozen_metrics.json').exists(), p.communicate()[0]
    time.sleep(2); p.send_signal(signal.SIGKILL); p.wait()
    assert not (R/'finetune_model.pth').exists()
    assert not [f for f in R.rglob('*') if '.tmp' in f.name], 'half-written files left behind'
    frozen_mtime = (R/'frozen_model.pth').stat().st_mtime_ns
    r = run('train', shapes, '--track', 'finetune', '--arch', 'resnet18', '--weights', 'random', '--epochs', '1',
            '--run', R)
    assert r.returncode == 0, r.stderr
    assert (R/'frozen_model.pth').stat().st_mtime_ns == frozen_mtime  # the frozen stage was not trained again
    assert json.loads((R/'finetune_metrics.json').read_text())['epochs'] == 1
    r = run('train', shapes, '--track', 'finetune', '--run', R, '--arch', 'resnet18', '--weights', 'random')
    assert r.returncode == 0 and 'already trained' in r.stdout

def test_demo_offline_without_data_says_what_to_pass(tmp_path, monkeypatch):
    "FOODCAM_OFFLINE makes `online()` False, so the demo never scrapes here: it says what to pass, on any machine"
    monkeypatch.setenv('FOODCAM_OFFLINE', '1'); monkeypatch.chdir(tmp_path)
    assert not online()
    r = cli_run('demo')
    assert r.returncode == 1 and 'foodcam demo DATASET' in r.stderr and 'Traceback' not in r.stderr, r.stderr

def ood_links(tmp_path):
    "A folder of photos of none of the classes made of symbolic links to class folders elsewhere, as users make them"
    other = make_image_folder(tmp_path/'elsewhere', classes=['oval', 'star'], n=4, size=64)
    (tmp_path/'ood').mkdir()
    for c in ('oval', 'star'): (tmp_path/'ood'/c).symlink_to(other/c, target_is_directory=True)
    return tmp_path/'ood'

def test_train_and_budget_check_their_paths_before_training(tmp_path, shapes):
    "A wrong --cifar, run folder or dataset stops train and budget before anything trains, as the demo does"
    (tmp_path/'afile').write_text('not a folder')
    run, blocked = tmp_path/'run', tmp_path/'afile'/'run'
    for args, msg, out in [
            (('train', shapes, '--track', 'scratch32,cifar32', '--cifar', tmp_path/'c.tgz', '--run', run),
             'no CIFAR model or CIFAR-10 data at', run),
            (('train', shapes, '--run', blocked), 'cannot create the folder', blocked),
            (('train', tmp_path/'missing', '--run', run), 'is not a folder', run),
            (('budget', shapes, '--cifar', tmp_path/'c.pth', '--run', run), 'no CIFAR model', run),
            (('budget', shapes, '--cifar', shapes, '--run', run), 'pass a .pth', run)]:
        r = cli_run(*args)
        assert r.returncode == 1 and msg in r.stderr and 'Traceback' not in r.stderr, (args, r.stderr)
        assert 'training' not in r.stdout and not out.exists(), (args, r.stdout)  # nothing trained, no empty run folder

def test_demo_stops_before_training_on_an_empty_ood_folder(tmp_path, shapes):
    (tmp_path/'empty').mkdir(); t0 = time.time()
    r = cli_run('demo', shapes, '--run', tmp_path/'run', '--ood', tmp_path/'empty', '--arch', 'resnet18', '--weights',
                'random', '--epochs', '1')
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
    assert f'no photos in {tmp_path/"empty"}: pass --ood a folder' in r.stderr, r.stderr
    # checked before any track (the demo once trained 7 minutes first)
    assert time.time() - t0 < 60 and 'training' not in r.stdout, r.stdout
    assert not list((tmp_path/'run').glob('*_model.pth'))

@pytest.mark.slow
def test_demo_reads_a_symlinked_ood_folder_and_logs_plain_lines(tmp_path, shapes):
    """The whole demo with tiny budgets and `--ood` made of symbolic links; its output to a pipe has no bar characters
    or carriage returns"""
    # no CIFAR model: cifar32 is skipped
    R = tmp_path/'run'; env = {**os.environ, 'PYTHONUNBUFFERED': '1', 'FOODCAM_CACHE': str(tmp_path/'cache')}
    r = subprocess.run([str(Path(sys.executable).parent/'foodcam'), 'demo', str(shapes), '--run', str(R), '--ood',
                        str(ood_links(tmp_path)),
                        '--quick', '--epochs', '1', '--size', '64', '--arch', 'resnet18', '--weights', 'random'],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    info = json.loads((R/'unknown.json').read_text())
    # the shares it states are the detector's: its own rate on the known photos, and what it flags among these 8
    from foodcam.predict import load_classifier
    clf = load_classifier(R, info['track'], bf16=False)
    ood = sorted(p for c in (tmp_path/'ood').iterdir() for p in c.glob('*.jpg'))  # rglob follows no link
    flagged = sum(p.unknown for p in clf.predict_batch(ood)) / len(ood)
    assert info['n'] == len(ood) == 8 and abs(info['flagged'] - flagged) <= 1 / 8 + 1e-9, (info, flagged)
    assert info['known_flagged'] == clf.unknown.known_flagged, (info, clf.unknown.meta())
    assert 'unknown photos: ' in r.stdout and 'of the known validation photos' in r.stdout
    assert 'Operating point of the detector' in (R/'report.html').read_text()
    for out in (r.stdout, r.stderr):
        assert '\r' not in out and '█' not in out, [l for l in out.splitlines() if '█' in l][:3]
