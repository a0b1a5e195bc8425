"""The off-topic scores of `find_suspects` (issue 29: suspects now reuses `foodcam.openset`'s scores inside its folds).

Usage: FOODCAM_OFFLINE=1 python bench/suspects_offtopic.py [--data ../shared/data/food3] [--cifar ../shared/data/cifar10-jpg.tgz]
           [--n-off 30] [--seeds 3] [--work /tmp/foodcam-offtopic-bench]
food3 (linked copy under --work, never inside the project) with `n_off` upscaled CIFAR-10 test photos spread over the
class folders; the Xception features (the content cache); each off-topic score's recall at k = n_off, out of fold.
Compared: the scores before issue 29 (suspects' own: the mean distance to the nn nearest photos; Ledoit-Wolf after PCA)
and the ones it reuses now (`openset.KNN`: the nn-th nearest photo; `openset.Mahalanobis`: one shrunk covariance)."""
import argparse, shutil, warnings
from pathlib import Path
import numpy as np
warnings.filterwarnings('ignore')
from foodcam.data import food_items
from foodcam.openset import KNN
from foodcam.suspects import BackboneFeatures, OFFTOPIC, oof_score, l2norm, cv_folds
from suspects import link_copy, cifar_photos, inject

def old_knn(x, y, k=5, nn=1, seed=0):
    "suspects' own before issue 29: the mean cosine distance to the `nn` nearest photos of the other folds"
    xn, d = l2norm(x).astype(np.float32), np.zeros(len(y))
    for tr, te in cv_folds(y, k, seed): d[te] = 1 - np.sort(xn[te] @ xn[tr].T, 1)[:, -nn:].mean(1)
    return d

def old_mahalanobis(x, y, k=5, dim=64, seed=0):
    "suspects' own before issue 29: Ledoit-Wolf after PCA, on L2-normalised features"
    from sklearn.covariance import LedoitWolf
    from sklearn.decomposition import PCA
    x, d = l2norm(x), np.zeros(len(y))
    for tr, te in cv_folds(y, k, seed):
        pca = PCA(min(dim, len(tr) - 1, x.shape[1]), random_state=seed).fit(x[tr])
        a, b = pca.transform(x[tr]), pca.transform(x[te])
        cls = np.unique(y[tr]); mu = np.stack([a[y[tr] == c].mean(0) for c in cls])
        prec = LedoitWolf().fit(a - mu[np.searchsorted(cls, y[tr])]).precision_
        diff = b[:, None] - mu[None]
        d[te] = np.einsum('ncd,de,nce->nc', diff, prec, diff).min(1)
    return np.sqrt(d)

SCORES = {'centroid (default, unchanged)': OFFTOPIC['centroid'],
          'knn nn=1, before': old_knn, 'knn nn=1, now (openset.KNN)': OFFTOPIC['knn'],
          'knn nn=10, before (mean of 10)': lambda x, y: old_knn(x, y, nn=10),
          'knn nn=10, now (10th nearest)': lambda x, y: oof_score(KNN(10), x, y),
          'mahalanobis, before (PCA-64, Ledoit-Wolf)': old_mahalanobis,
          'mahalanobis, now (openset.Mahalanobis)': OFFTOPIC['mahalanobis']}

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='../shared/data/food3'); ap.add_argument('--cifar', default='../shared/data/cifar10-jpg.tgz')
    ap.add_argument('--n-off', type=int, default=30); ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--work', default='/tmp/foodcam-offtopic-bench')
    a = ap.parse_args(); work = Path(a.work); fe = BackboneFeatures()
    rec = {k: [] for k in SCORES}
    for s in range(a.seeds):
        data = link_copy(Path(a.data), work/'data')
        truth = inject(data, 0., cifar_photos(Path(a.cifar), work/f'cifar{s}', a.n_off, seed=s), seed=s)['off']
        files = food_items(data); x = fe(files)
        labels = np.array([f.parent.name for f in files]); y = np.searchsorted(np.unique(labels), labels)
        names = [f'{f.parent.name}/{f.name}' for f in files]
        for k, fn in SCORES.items():
            top = {names[i] for i in np.argsort(-fn(x, y))[:a.n_off]}
            rec[k].append(len(top & truth) / len(truth))
        shutil.rmtree(work)
    print(f'{a.n_off} CIFAR-10 photos in food3, recall at k={a.n_off}, mean ± std over {a.seeds} seeds of the injected photos')
    for k, v in rec.items(): print(f'| {k} | {np.mean(v):.2f} ± {np.std(v):.2f} |')
