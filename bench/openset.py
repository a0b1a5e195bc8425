"""Unknown detection ("none of these") on real photos: a model trained on food3, its validation photos as the known set,
ood-dev (other Food-101 classes) and CIFAR-10 test images as unknown sets; AUROC and FPR@95TPR per score.

    FOODCAM_OFFLINE=1 python bench/openset.py [--data ../shared/data] [--epochs 20] [--n_cifar 400] [--arch legacy_xception]
    FOODCAM_OFFLINE=1 python bench/openset.py --run runs/food3 [--tracks frozen,finetune]

Without --run: a frozen Xception is trained here (20 head epochs on cached features) and scored (issue 15).
With --run: the finished tracks of a run folder (`foodcam demo --data food3 --quick`) are scored side by side, the frozen
stage's and the fine-tuned model's own features and logits (issue 31: which model should the detector use); every score is
fitted on that model's training photos, the threshold row is the detector's own operating point (known photos flagged at
keep=0.95 on the validation photos, other photos caught).
"""
import argparse, json, time
from pathlib import Path
import numpy as np, torch
from foodcam.core import set_seed
from foodcam.data import food_dls
from foodcam.transfer import transfer_learner, fit_frozen
from foodcam.openset import food_openset_table, image_files, compare_openset, learner_outputs, fit_unknown, Mahalanobis, KNN, Energy, MSP

p = argparse.ArgumentParser()
p.add_argument('--data', default='../shared/data'); p.add_argument('--epochs', type=int, default=20)
p.add_argument('--n_cifar', type=int, default=400); p.add_argument('--arch', default='legacy_xception')
p.add_argument('--run', default=None, help='score the finished tracks of this run folder instead of training a frozen model')
p.add_argument('--tracks', default='frozen,finetune')
p.add_argument('--out', default=None, help='also write the tables as JSON here')
a = p.parse_args()
t0 = time.time(); d = Path(a.data)
unk = {'other food': image_files(d/'ood-dev'), 'cifar10': image_files(d/'cifar10-jpg.tgz', n=a.n_cifar)}
methods = lambda: {'msp': MSP(), 'energy': Energy(), 'mahalanobis': Mahalanobis(), 'mahalanobis (L2-norm)': Mahalanobis(normalize=True),
                   'knn k=1': KNN(1), 'knn k=5': KNN(5), 'knn k=10': KNN(10), 'knn k=50': KNN(50)}

def show(df, title):
    cols = list(df.columns)
    print(f'\n{title}\n\n| method | ' + ' | '.join(f'{m.upper() if m == "auroc" else "FPR@95TPR"} {u}' for m, u in cols) + ' |')
    print('|---|' + '---|' * len(cols))
    for k, r in df.iterrows(): print(f'| {k} | ' + ' | '.join(f'{r[c]:.3f}' for c in cols) + ' |')

tables = {}
if a.run is None:
    set_seed(42); learn = transfer_learner(food_dls(d/'food3', size=256, bs=64, seed=42), arch=a.arch)
    fit_frozen(learn, a.epochs, cbs=[])
    learn.create_mbar = False
    print(f'frozen {a.arch}: valid acc {learn.curves[-1]["valid_acc"]:.3f} ({time.time()-t0:.0f}s)')
    df, outs = food_openset_table(learn, unk, methods())
    tables['frozen'] = df; show(df, f'frozen {a.arch}, {a.epochs} head epochs')
else:
    from foodcam.predict import run_learner, split_outputs
    run = Path(a.run)
    for track in a.tracks.split(','):
        learn, _ = run_learner(run, track)
        acc = json.loads((run/f'{track}_metrics.json').read_text())['valid_acc']
        if track == 'frozen': df, (tr, va, un) = food_openset_table(learn, unk, methods())  # the frozen stage's cached features
        else:
            tr, va = split_outputs(learn); un = {k: learner_outputs(learn, v, 'unknown' if k == 'other food' else f'unknown-{k}') for k, v in unk.items()}
            df = compare_openset(tr, va, un, methods())
        det = fit_unknown(tr, va)  # the detector foodcam fits: energy, threshold keeping 95% of the validation photos
        point = {k: float(det.is_unknown(*v).float().mean()) for k, v in un.items()}
        tables[track] = df
        show(df, f'{track} (valid acc {acc:.4f}): energy detector at keep=0.95 flags {det.known_flagged:.3f} of the validation photos, '
                 + ', '.join(f'catches {v:.3f} of {k}' for k, v in point.items()) + f' ({time.time() - t0:.0f} s)')
print(f'{time.time()-t0:.0f}s total')
if a.out:
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({k: json.loads(v.round(4).to_json()) for k, v in tables.items()}))
