"""Unknown detection ("none of these") on real photos: a frozen Xception trained on food3, its validation photos as the known set,
ood-dev (other Food-101 classes) and CIFAR-10 test images as unknown sets; AUROC and FPR@95TPR per score.

    FOODCAM_OFFLINE=1 python bench/openset.py [--data ../shared/data] [--epochs 20] [--n_cifar 400] [--arch legacy_xception]
"""
import argparse, json, time
from pathlib import Path
import torch
from foodcam.core import set_seed
from foodcam.data import food_dls
from foodcam.transfer import transfer_learner, fit_frozen
from foodcam.openset import food_openset_table, image_files, METHODS, Mahalanobis, KNN, Energy, MSP

p = argparse.ArgumentParser()
p.add_argument('--data', default='../shared/data'); p.add_argument('--epochs', type=int, default=20)
p.add_argument('--n_cifar', type=int, default=400); p.add_argument('--arch', default='legacy_xception')
p.add_argument('--out', default=None, help='also write the tables as JSON here')
a = p.parse_args()
t0 = time.time(); d = Path(a.data)
set_seed(42); learn = transfer_learner(food_dls(d/'food3', size=256, bs=64, seed=42), arch=a.arch)
fit_frozen(learn, a.epochs, cbs=[])
learn.create_mbar = False
print(f'frozen {a.arch}: valid acc {learn.curves[-1]["valid_acc"]:.3f} ({time.time()-t0:.0f}s)')
unk = {'other food': image_files(d/'ood-dev'), 'cifar10': image_files(d/'cifar10-jpg.tgz', n=a.n_cifar)}
methods = {'msp': MSP(), 'energy': Energy(), 'mahalanobis': Mahalanobis(), 'mahalanobis (L2-norm)': Mahalanobis(normalize=True),
           'knn k=1': KNN(1), 'knn k=5': KNN(5), 'knn k=10': KNN(10), 'knn k=50': KNN(50)}
df, outs = food_openset_table(learn, unk, methods)
cols = list(df.columns)
print('| method | ' + ' | '.join(f'{m.upper() if m == "auroc" else "FPR@95TPR"} {u}' for m, u in cols) + ' |')
print('|---|' + '---|' * len(cols))
for k, r in df.iterrows(): print(f'| {k} | ' + ' | '.join(f'{r[c]:.3f}' for c in cols) + ' |')
print(f'{time.time()-t0:.0f}s total')
if a.out:
    torch.save(outs, Path(a.out).with_suffix('.pt'))
    Path(a.out).write_text(df.round(4).to_json())
