"""Where to cut the label-suspect list (issue 31): precision and recall of "cleanlab's count, lowest self-confidence, and
self-confidence below t" for a grid of cuts t, at several data sizes and accuracy bands, with label noise injected in memory.

Usage: FOODCAM_OFFLINE=1 python bench/suspects_cut.py [--data ../shared/data] [--seeds 8] [--rates 0,0.05,0.10]
           [--out bench/out/suspects_cut.md]
Features: the frozen stage's Xception features (`BackboneFeatures()`, the content cache `foodcam review` reads) of food3,
of ood-dev (two more Food-101 classes, for a 5-class set) and of 1,000 CIFAR-10 test photos (100 per class, upscaled: a
harder, lower-accuracy set). Data sets: food3 at all, 100 and 50 photos per class (seeded subsets), food3 + ood-dev
(5 classes, 1,900 photos), CIFAR-10 (10 classes, 1,000 photos). For each seed and noise rate, `rate` of the labels move to a random
other class (the features of a photo do not depend on its folder, as in `bench/suspects_ceiling.py`), `oof_probs` and
`label_issues` score them as `find_suspects` does, and every cut is scored. A cut c keeps the photos of cleanlab's count whose
self-confidence (out-of-fold probability of the given label) is below c / (number of classes), c = 1 being chance: precision
(share of the listed photos that were moved), recall (share of the moved photos listed), the share of all photos listed, and
the precision of the rest of cleanlab's count (the rows below the cut). At rate 0 nothing is injected: the
listed share is what a user of that data set as it is gets (food3's own wrong photos are a few of them)."""
import argparse, time, warnings
from pathlib import Path
import numpy as np, pandas as pd
warnings.filterwarnings('ignore')
from foodcam.data import food_items
from foodcam.openset import image_files
from foodcam.suspects import BackboneFeatures, oof_probs, label_issues

ALL = "all of cleanlab's count"
CUTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 99)  # relative: self-confidence x number of classes (1 = chance); 99: no cut

def inject(y, rate, seed):
    rng = np.random.default_rng(seed); y = y.copy(); idx = rng.choice(len(y), round(rate * len(y)), replace=False)
    for i in idx: y[i] = rng.choice([c for c in range(y.max() + 1) if c != y[i]])
    return y, np.isin(np.arange(len(y)), idx)

def subset(y, per_class, seed):
    "Indices of `per_class` photos of each class (seeded), all if None"
    if per_class is None: return np.arange(len(y))
    rng = np.random.default_rng(1000 + seed)
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]))

def score(x, y0, rate, seed, per_class):
    idx = subset(y0, per_class, seed); x, y0 = x[idx], y0[idx]
    y, moved = inject(y0, rate, seed) if rate else (y0, np.zeros(len(y0), bool))
    p = oof_probs(x, y, seed=42); sc = p[np.arange(len(y)), y]; issues = label_issues(y, p)
    acc = float((p.argmax(1) == y).mean())  # what a user can measure: out-of-fold accuracy on the labels as given
    rows = []
    K = p.shape[1]
    for t in CUTS:
        cut = sc[issues] * K < t; lst, rest = issues[cut], issues[~cut]; tp = int(moved[lst].sum())
        rows.append(dict(per_class=per_class or 'all', rate=rate, seed=seed, n=len(y), acc=acc, cut=t, listed=len(lst), tp=tp,
                         moved=int(moved.sum()), precision=tp / len(lst) if len(lst) else np.nan,
                         recall=tp / moved.sum() if moved.sum() else np.nan, share=len(lst) / len(y), cl_count=len(issues),
                         rest=len(rest), rest_precision=moved[rest].mean() if len(rest) else np.nan, min_class=int(np.bincount(y).min())))
    return rows

def pm(v, f='.3f'):
    v = np.asarray(v, float); v = v[~np.isnan(v)]
    return '-' if not len(v) else f'{v.mean():{f}} ± {v.std():{f}}'

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='../shared/data'); ap.add_argument('--seeds', type=int, default=8)
    ap.add_argument('--rates', default='0,0.05,0.10'); ap.add_argument('--out', default='bench/out/suspects_cut.md')
    ap.add_argument('--work', default='/tmp/foodcam-suspects-cut', help='CIFAR-10 test photos are extracted here')
    ap.add_argument('--bands', default=None, help='only the band table, from the CSV an earlier run saved')
    a = ap.parse_args(); d = Path(a.data); t0 = time.time()
    if a.bands:
        df = pd.read_csv(a.bands)
        if 'min_class' not in df:  # saved before the column existed: food3 500, ood-dev's classes 200, CIFAR-10 100 photos per class
            df['min_class'] = [int(pc) if pc != 'all' else (500 if dn == 'food3' else 200 if 'ood-dev' in dn else 100) for pc, dn in zip(df.per_class, df.data)]
        print(band_table(df).to_string()); return
    fe = BackboneFeatures()
    files = food_items(d/'food3'); x3 = fe(files); lab3 = [f.parent.name for f in files]
    ood = image_files(d/'ood-dev'); xo = fe(ood); labo = [f.parent.name for f in ood]
    print(f'features: {len(files)} + {len(ood)} photos, {time.time() - t0:.0f} s', flush=True)
    cif = image_files(d/'cifar10-jpg.tgz', n=1000, out=Path(a.work)); xc = fe(cif); labc = [f.parent.name for f in cif]
    print(f'CIFAR-10: {len(cif)} test photos, {time.time() - t0:.0f} s', flush=True)
    sets = {'food3': (x3, lab3, (None, 100, 50)), 'food3 + ood-dev (5 classes)': (np.concatenate([x3, xo]), lab3 + labo, (None,)),
            'CIFAR-10 test photos, upscaled (10 classes)': (xc, labc, (None,))}
    rows = []
    for name, (x, lab, sizes) in sets.items():
        vocab = sorted(set(lab)); y0 = np.searchsorted(vocab, lab)
        for pc in sizes:
            for rate in [float(r) for r in a.rates.split(',')]:
                for s in range(a.seeds if (rate or pc) else 1):  # rate 0 on all photos: one deterministic row
                    rows += [dict(r, data=name) for r in score(x, y0, rate, s, pc)]
            print(name, pc, f'{time.time() - t0:.0f} s', flush=True)
    df = pd.DataFrame(rows); Path(a.out).parent.mkdir(parents=True, exist_ok=True); df.to_csv(Path(a.out).with_suffix('.csv'), index=False)
    out = [f'`FOODCAM_OFFLINE=1 python bench/suspects_cut.py --seeds {a.seeds}` ({time.time() - t0:.0f} s; seeds 0-{a.seeds - 1}, mean ± std over seeds)', '']
    for (name, pc), g in df.groupby(['data', 'per_class'], sort=False):
        out += [f'### {name}, {pc} photos per class ({g.n.iloc[0]} photos)', '',
                '| cut: self-confidence x classes below | ' + ' | '.join(f'{r:.0%} noise: precision / recall / listed; precision of the rest' for r in sorted(g.rate.unique())) + ' |',
                '|---|' + '---|' * g.rate.nunique()]
        for t, gt in g.groupby('cut'):
            cells = []
            for r, gr in gt.groupby('rate'):
                cells.append(('' if r else '- / - / ') + (f'{pm(gr.precision)} / {pm(gr.recall)} / ' if r else '') + f'{pm(gr.listed, ".0f")} ({gr.share.mean():.1%})'
                             + (f'; rest {pm(gr.rest_precision, ".2f")}' if r and t < 99 else ''))
            out.append(f'| {ALL if t >= 99 else f"{t:.2f}"} | ' + ' | '.join(cells) + ' |')
        accs = ', '.join(f'{r:.0%}: {pm(gr.acc)}' for r, gr in g[g.cut == 99].groupby('rate'))
        out += ['', f'out-of-fold accuracy on the labels as given: {accs}', '']
    bt = band_table(df); out += ['### The bands (`foodcam.suspects.LABEL_PRECISION`), at the cut 0.5 x chance', '',
                                 '| band | likely: precision at 5% swapped | likely: photos listed though not swapped (share of all) | possible: precision at 5% | possible: listed though not swapped | sets in the band |',
                                 '|---|---|---|---|---|---|']
    out += [f'| {r.band} | {r.likely:.3f} | {r.fp_likely:.2%} | {r.possible:.3f} | {r.fp_possible:.2%} | {r.members} |' for r in bt.itertuples()]
    txt = '\n'.join(out); Path(a.out).write_text(txt); print(txt)


BANDS = ((0.85, 100), (0.75, 0), (0., 0))  # (lowest out-of-fold accuracy on the labels as given, fewest photos per class), as `foodcam.suspects.LABEL_PRECISION`

def band_table(df: pd.DataFrame, cut: float=0.5) -> pd.DataFrame:
    """Per band of `BANDS`, from every (data set, size, noise rate) whose mean accuracy and smallest class fall in it, at `cut`:
    the precision of the likely and of the possible rows at 5% noise (the lowest set mean), and the share of all photos listed
    that had not been moved (the highest set mean, any noise rate; with nothing moved every listed photo counts, food3's own
    wrong photos too: conservative): the four numbers of a `LABEL_PRECISION` row"""
    g = df[df.cut == cut].copy()
    g['fp'] = (g.listed - g.tp) / g.n
    g['fp_rest'] = g.rest * (1 - g.rest_precision.where(g.rate > 0, 0).fillna(0)) / g.n
    m = g.groupby(['data', 'per_class', 'rate'], sort=False).agg(acc=('acc', 'mean'), min_class=('min_class', 'first'), p=('precision', 'mean'),
                                                                 p_rest=('rest_precision', 'mean'), fp=('fp', 'mean'), fp_rest=('fp_rest', 'mean')).reset_index()
    m['band'] = [next(i for i, (a, c) in enumerate(BANDS) if acc >= a and k >= c) for acc, k in zip(m.acc, m.min_class)]
    rows = []
    for b, (a, c) in enumerate(BANDS):
        mb = m[m.band == b]; m5 = mb[mb.rate == 0.05]
        rows.append(dict(band=f'accuracy >= {a}' + (f', >= {c} photos per class' if c else ''),
                         members='; '.join(f'{r.data}, {r.per_class}/class, {r.rate:.0%} swapped (accuracy {r.acc:.3f})' for r in mb.itertuples()),
                         likely=m5.p.min(), fp_likely=mb.fp.max(), possible=m5.p_rest.min(), fp_possible=mb.fp_rest.max()))
    return pd.DataFrame(rows)

if __name__ == '__main__': main()
