"""How far can the label ranking go on food3 (issue 19)? In-memory label-noise injection on the pooled features of the
bodies foodcam has offline, at two sizes, in several views; the out-of-fold head of `find_suspects` ranks them back.

Usage: FOODCAM_OFFLINE=1 python bench/suspects_ceiling.py [--data ../shared/data/food3] [--audit bench/food3_audit.csv]
           [--work /tmp/foodcam-ceiling] [--seeds 5] [--more-seeds 10] [--rate 0.05]
Features: each body's feature maps of every photo and of its mirror image (the validation transforms of `food_dls` at
that size), average- and max-pooled (its own loop: `foodcam.transfer.extract_features` returns only the learner's average pool), saved once per body and size under --work (Xception 256 px: ~4 min on 2 cores).
Injection: as `bench/suspects.py` but on the labels only (the features of a photo do not depend on its folder), so one
seed takes seconds: `rate` of the photos get a random other class; `oof_probs` (5 folds, PCA 256, C=1) scores them;
recall at k = number injected, for cleanlab's own ranked issues, for foodcam's list (`label_issues`: cleanlab's count,
the lowest self-confidence) and for plain self-confidence over all photos; foodcam against cleanlab paired over 15 seeds. The oracle row leaves out the base photos that the clean out-of-fold head gets wrong (what no audit
of food3 could do without looking at every photo): how much of the miss comes from food3's own hard photos."""
import argparse, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, torch
warnings.filterwarnings('ignore')
from foodcam.core import autocast
from foodcam.data import food_dls, food_items
from foodcam.transfer import load_body, body_learner
from foodcam.suspects import oof_probs, l2norm, label_issues

def views(data: Path, arch: str, size: int, work: Path) -> dict:
    "avg/max-pooled features of every photo and of its mirror image, cached in `work`"
    fn = work/f'{arch}-{size}.pt'
    if fn.exists(): return torch.load(fn, weights_only=False)
    files = food_items(data); dls = food_dls(data, size=size, bs=32)
    learn = body_learner(dls, load_body(arch), arch); body = learn.model[0].eval()
    out = {k: [] for k in ('avg', 'max', 'avg_m', 'max_m')}; t = time.time()
    with torch.inference_mode(), autocast('cpu', learn.bf16):
        for xb, _ in dls.test_dl(files, with_labels=True):
            for sfx, x in (('', xb), ('_m', xb.flip(3))):
                m = body(x.contiguous(memory_format=torch.channels_last)).float()
                out['avg' + sfx].append(m.mean((2, 3))); out['max' + sfx].append(m.amax((2, 3)))
    out = {k: torch.cat(v).as_subclass(torch.Tensor) for k, v in out.items()}
    out['files'] = [f.relative_to(data).as_posix() for f in files]
    work.mkdir(parents=True, exist_ok=True); torch.save(out, fn)
    print(f'{arch} {size}px: {len(files)} photos, both views, {time.time() - t:.0f} s', flush=True)
    return out

def view(d: dict, key: str) -> np.ndarray:
    "One view: 'avg' (the frozen stage's), 'avgmir' (averaged with the mirror image's), 'catmir' (avg and max, mirrored)"
    mir = lambda k: ((d[k] + d[k + '_m']) / 2).numpy()
    if key == 'avgmir': return mir('avg')
    if key == 'catmir': return np.concatenate([l2norm(mir('avg')), l2norm(mir('max'))], 1)
    return d[key].numpy()

def inject(y: np.ndarray, rate: float, seed: int) -> tuple:
    "`rate` of the labels moved to a random other class (seeded): (noisy labels, set of moved indices)"
    rng = np.random.default_rng(seed); y = y.copy(); idx = rng.choice(len(y), round(rate * len(y)), replace=False)
    for i in idx: y[i] = rng.choice([c for c in range(y.max() + 1) if c != y[i]])
    return y, set(idx.tolist())

def recall(x, y0, rate, seeds, filter_by='prune_by_noise_rate') -> pd.DataFrame:
    """Per seed: recall at k of cleanlab's own ranked issues (`cl`), of foodcam's list (`label_issues`: cleanlab's count,
    lowest self-confidence first), of plain self-confidence over all photos (`sc`); precision of the whole flagged lists;
    the flagged count; the clean-label out-of-fold accuracy"""
    from cleanlab.filter import find_label_issues
    rows = []
    for s in seeds:
        y, noisy = inject(y0, rate, 100 + s); k = len(noisy); p = oof_probs(x, y, seed=42)
        iss = find_label_issues(y, p, filter_by=filter_by, return_indices_ranked_by='self_confidence', n_jobs=1)
        tool = label_issues(y, p); sc = np.argsort(p[np.arange(len(y)), y])[:k]
        hit = lambda ix: len(set(ix.tolist()) & noisy)
        rows.append(dict(cl=hit(iss[:k]) / k, tool=hit(tool[:k]) / k, sc=hit(sc) / k, prec_cl=hit(iss) / max(len(iss), 1),
                         prec_tool=hit(tool) / max(len(tool), 1), flagged=len(iss), acc=(p.argmax(1) == y0).mean()))
    return pd.DataFrame(rows)

def ms(df, c) -> str: return f'{df[c].mean():.3f} ± {df[c].std(ddof=0):.3f}'

SETS = {  # name: [(arch, size, view)]; 'Xception 256 avg' is the frozen stage's, the default of `foodcam review`
    'Xception 256 (default)': [('legacy_xception', 256, 'avg')],
    'Xception 256, mirror': [('legacy_xception', 256, 'avgmir')],
    'Xception 256, mirror, avg+max pool': [('legacy_xception', 256, 'catmir')],
    'Xception 320, mirror': [('legacy_xception', 320, 'avgmir')],
    'Lite0 256, mirror': [('tf_efficientnet_lite0', 256, 'avgmir')],
    'Lite0 320, mirror': [('tf_efficientnet_lite0', 320, 'avgmir')],
    'Xception 256 + Lite0 256, mirror (--strong)': [('legacy_xception', 256, 'avgmir'), ('tf_efficientnet_lite0', 256, 'avgmir')],
    'Xception 256 + Lite0 256, mirror, avg+max': [('legacy_xception', 256, 'catmir'), ('tf_efficientnet_lite0', 256, 'catmir')],
    'Xception 320 + Lite0 320, mirror': [('legacy_xception', 320, 'avgmir'), ('tf_efficientnet_lite0', 320, 'avgmir')],
}
STRONG = 'Xception 256 + Lite0 256, mirror (--strong)'

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='../shared/data/food3'); ap.add_argument('--audit', default='bench/food3_audit.csv')
    ap.add_argument('--work', default='/tmp/foodcam-ceiling'); ap.add_argument('--seeds', type=int, default=5)
    ap.add_argument('--more-seeds', type=int, default=10); ap.add_argument('--rate', type=float, default=0.05)
    a = ap.parse_args(); data, work = Path(a.data), Path(a.work); seeds = range(a.seeds)
    audit = pd.read_csv(a.audit) if a.audit else None
    wrong = set(audit.file[audit.verdict == 'wrong']) if audit is not None else set()
    def feats(spec):
        xs = []
        for arch, size, key in spec:
            d = views(data, arch, size, work); keep = np.array([f not in wrong for f in d['files']]); xs.append(l2norm(view(d, key)[keep]))
        lab = np.array([f.split('/')[0] for f in d['files']])[keep]
        return np.concatenate(xs, 1), np.searchsorted(sorted(set(lab)), lab)
    print(f'\nlabel noise {a.rate:.0%}, base: food3 less {len(wrong)} audited photos, injection seeds 0-{a.seeds - 1}, mean ± std\n')
    print('| features | dims | out-of-fold accuracy (clean labels) | R@k, cleanlab\'s own choice | R@k, foodcam (cleanlab\'s count, lowest self-confidence) | R@k, self-confidence over all | flagged |')
    print('|---|---|---|---|---|---|---|')
    for name, spec in SETS.items():
        x, y = feats(spec); r = recall(x, y, a.rate, seeds)
        print(f'| {name} | {x.shape[1]} | {r.acc.mean():.3f} | {ms(r, "cl")} | {ms(r, "tool")} | {ms(r, "sc")} | {r.flagged.mean():.0f} |', flush=True)
    n = a.seeds + a.more_seeds
    print(f'\nfoodcam\'s list against cleanlab\'s own choice, paired over injection seeds 0-{n - 1}:\n')
    print('| features | noise | R@k cleanlab | R@k foodcam | paired difference ± SE | better / worse seeds | precision of all flagged, cleanlab → foodcam | flagged |')
    print('|---|---|---|---|---|---|---|---|')
    for name in ('Xception 256 (default)', STRONG):
        x, y = feats(SETS[name])
        for rate in (0.05, 0.10):
            r = recall(x, y, rate, range(n)); d = r.tool - r.cl
            print(f'| {name} | {rate:.0%} | {r.cl.mean():.3f} | {r.tool.mean():.3f} | {d.mean():+.3f} ± {d.std(ddof=1) / np.sqrt(n):.3f} | '
                  f'{(d > 0).sum()} / {(d < 0).sum()} | {r.prec_cl.mean():.3f} → {r.prec_tool.mean():.3f} | {r.flagged.mean():.0f} ± {r.flagged.std(ddof=0):.0f} |', flush=True)
    x, y = feats(SETS[STRONG])
    print(f'\ncleanlab filters ({STRONG}, seeds 0-{a.seeds - 1}):\n\n| filter_by | R@k | flagged |\n|---|---|---|')
    for fb in ('prune_by_noise_rate', 'both', 'low_self_confidence', 'confident_learning'):
        r = recall(x, y, a.rate, seeds, fb); print(f'| {fb} | {ms(r, "cl")} | {r.flagged.mean():.0f} |', flush=True)
    p0 = oof_probs(x, y, seed=42); ok = p0.argmax(1) == y
    print(f'\noracle: the base less its {int((~ok).sum())} photos the clean out-of-fold head ({STRONG}) gets wrong:')
    for name in ('Xception 256 (default)', STRONG):
        xo, yo = feats(SETS[name]); r = recall(xo[ok], yo[ok], a.rate, seeds)
        print(f'{name}: R@k cleanlab {ms(r, "cl")}, foodcam {ms(r, "tool")}, self-confidence {ms(r, "sc")}, out-of-fold accuracy {r.acc.mean():.3f}')

if __name__ == '__main__': main()
