"""Suspect-photo benchmark (issue 19): inject label noise and off-topic photos into a linked copy of food3, rank them back.

Usage: FOODCAM_OFFLINE=1 python bench/suspects.py [--data ../shared/data/food3] [--cifar ../shared/data/cifar10-jpg.tgz]
           [--rates 0.05,0.10] [--n-off 30] [--seeds 5] [--strong] [--audit bench/food3_audit.csv]
           [--work /tmp/foodcam-suspects-bench] [--out bench/results_suspects.md]
The copy is made of hard links (symlinks across file systems) under --work, never inside the project; the source is not touched.
For each noise rate: seeded moves of `rate` of the photos into another class folder, plus `n_off` CIFAR-10 test photos
upscaled to 256 px spread over the class folders. Then `find_suspects` ranks them (features from the content cache after
the first pass), precision/recall at k = number injected, the suggested fixes are applied with `apply_suspects`, a linear
head (the frozen stage's model on the same cached features) is retrained on clean / noisy / fixed training photos and
scored on the clean validation photos, and `undo_clean` restores the copy byte for byte.
Issue 31: the default list (likely label suspects, off-topic and near-duplicate rows: `Suspects.likely`) is scored too, its
precision and recall against what was planted, and "blindly" applies what the default `--apply` applies (the likely rows).
--audit: a CSV (file, verdict, what the photo shows) of food3 photos a person looked at; those with verdict `wrong` are
left out of the base before any noise is injected (food3's own wrong photos would otherwise rank among the injected ones)."""
import argparse, hashlib, os, shutil, tarfile, time, io, warnings
from pathlib import Path
import numpy as np
from PIL import Image
warnings.filterwarnings('ignore')
from foodcam.data import food_items, food_splitter
from foodcam.scrape import undo_clean
from foodcam.suspects import find_suspects, apply_suspects, BackboneFeatures, l2norm, strong_features, CONFIDENCES

def link_copy(src: Path, dst: Path, exclude=()):
    "Class folders of `src` into `dst`, files as hard links (symlinks if linking fails), without the `class/name` files in `exclude`"
    if dst.exists(): shutil.rmtree(dst)
    for f in food_items(src):
        if f'{f.parent.name}/{f.name}' in exclude: continue
        t = dst/f.parent.name/f.name; t.parent.mkdir(parents=True, exist_ok=True)
        try: os.link(f, t)
        except OSError: t.symlink_to(f.resolve())
    return dst

def cifar_photos(tgz: Path, out: Path, n: int, seed: int, size: int=256) -> list:
    "`n` CIFAR-10 test photos (seeded), upscaled to `size` px JPEGs in `out`"
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as tf:
        names = sorted(m.name for m in tf.getmembers() if m.isfile() and '/test/' in m.name and m.name.endswith('.jpg'))
        pick = [names[i] for i in np.random.default_rng(seed).choice(len(names), n, replace=False)]
        fs = []
        for nm in pick:
            im = Image.open(io.BytesIO(tf.extractfile(nm).read())).convert('RGB').resize((size, size), Image.Resampling.BICUBIC)
            f = out/f'cifar_{Path(nm).parent.name}_{Path(nm).stem}.jpg'; im.save(f, quality=90); fs.append(f)
    return fs

def inject(path: Path, rate: float, off: list, seed: int) -> dict:
    "Move `rate` of the photos to another class (seeded) and spread `off` over the classes; returns the truth"
    files = food_items(path); classes = sorted({f.parent.name for f in files}); rng = np.random.default_rng(seed)
    noisy = {}
    for i in rng.choice(len(files), round(rate * len(files)), replace=False):
        f = files[i]; to = rng.choice([c for c in classes if c != f.parent.name])
        os.replace(f, path/to/f.name); noisy[f'{to}/{f.name}'] = f.parent.name
    offt = set()
    for i, f in enumerate(off):
        c = classes[i % len(classes)]; shutil.copy(f, path/c/f.name); offt.add(f'{c}/{f.name}')
    return dict(noisy=noisy, off=offt)

def pr_at_k(ranked: list, truth: set, k: int=None) -> tuple:
    "precision and recall of the first `k` (default len(truth)) of `ranked`"
    k = k or len(truth); hit = len(set(ranked[:k]) & truth)
    return hit / max(min(k, len(ranked)), 1) if ranked[:k] else 0., hit / max(len(truth), 1)

def fix_variants(df, truth) -> dict:
    "The suggested fixes applied blindly; with label suspects quarantined instead of relabelled; after a simulated review"
    drop = df.copy(); drop.loc[drop.kind == 'label', 'action'] = 'quarantine'
    ok = [(r.kind == 'duplicate') or (r.kind == 'off_topic' and r.file in truth['off'])
          or (r.kind == 'label' and (r.file in truth['off'] or truth['noisy'].get(r.file) == r.proposed)) for r in df.itertuples()]
    rev = df[ok].copy(); rev.loc[(rev.kind == 'label') & rev.file.isin(truth['off']), 'action'] = 'quarantine'  # the reviewer sees a CIFAR photo
    return dict(blind=df, drop=drop, reviewed=rev)

def snapshot(path: Path) -> dict:
    return {f.relative_to(path).as_posix(): hashlib.sha1(f.read_bytes()).hexdigest() for f in path.rglob('*') if f.is_file()}

def head_accuracy(fe, clean: Path, cur: Path, seed: int=42) -> float:
    """A logistic-regression head on cached features, trained on the training photos of `cur` (its current folders),
    scored on the clean validation photos (the food3 split; off-topic photos are not scored)"""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.pipeline import make_pipeline
    cf = food_items(clean); tr, va = food_splitter(0.2, seed)(cf)
    val_names = {cf[i].name for i in va}
    cur_files = food_items(cur); train = [f for f in cur_files if f.name not in val_names]
    xt, yt = l2norm(fe(train)), [f.parent.name for f in train]
    xv, yv = l2norm(fe([cf[i] for i in va])), [cf[i].parent.name for i in va]
    m = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)).fit(xt, yt)
    return float((m.predict(xv) == np.array(yv)).mean())

def measure(data: Path, work: Path, fe, rate: float, off: list, seed: int) -> dict:
    "Inject noise (seed), rank it back, apply the fixes three ways and undo them: one row of figures"
    p = link_copy(data, work/f'noise{rate:.2f}'); truth = inject(p, rate, off, seed)
    fe(food_items(p))  # the new (off-topic) photos into the content cache: not part of the timed check
    t = time.perf_counter(); s = find_suspects(p, extractor=fe); secs = time.perf_counter() - t
    im = s.images; noisy, offt = set(truth['noisy']), truth['off']
    flagged_off = list(s.df.file[s.df.kind == 'off_topic'])
    # label ranking: the off-topic photos are scored by the off-topic metric, so they count neither way here
    lab_cl = [f for f in s.df.file[s.df.kind == 'label'] if f not in offt]  # the label suspects: cleanlab's count, lowest self-confidence
    lab_sc = list(im[~im.file.isin(offt)].sort_values('self_conf').file)  # plain self-confidence over all photos
    off_rank = list(im.sort_values('offtopic_z', ascending=False).file)
    pl, rl = pr_at_k(lab_cl, noisy); ps, rs = pr_at_k(lab_sc, noisy); po, ro = pr_at_k(off_rank, offt)
    found = im[im.file.isin(noisy) & im.file.isin(lab_cl)]
    prop_ok = float(np.mean([truth['noisy'][f] == q for f, q in zip(found.file, found.proposed)])) if len(found) else float('nan')
    lik = s.likely; lab_l = [f for f in lik.file[lik.kind == 'label'] if f not in offt]; tp_l = len(set(lab_l) & noisy)  # the default list (issue 31)
    right = [r.kind == 'duplicate' or r.file in offt or r.file in noisy for r in lik.itertuples()]  # food3's near-copies are real copies (checked by eye)
    acc_noisy = head_accuracy(fe, data, p); before = snapshot(p); accs, restored = {}, True
    for name, df in fix_variants(s.df, truth).items():
        log = apply_suspects(p, df, confidence=CONFIDENCES if name == 'reviewed' else ('likely',)); accs[name] = head_accuracy(fe, data, p)
        if name == 'blind': n_fixes = len(log)
        undo_clean(p); restored &= snapshot(p) == before
    return dict(rate=rate, seed=seed, n_noisy=len(noisy), n_off=len(offt), p_label=pl, r_label=rl, cl_flagged=len(lab_cl),
                n_likely=len(lab_l), p_likely=tp_l / len(lab_l) if lab_l else float('nan'), r_likely=tp_l / len(noisy),
                n_default=len(lik), p_default=float(np.mean(right)) if right else float('nan'), expected=s.expected(), acc=s.acc,
                r_label_sc=rs, p_off=po, r_off=ro, off_flagged=len(flagged_off), off_flag_hits=len(set(flagged_off) & offt),
                prop_ok=prop_ok, n_dup=int((s.df.kind == 'duplicate').sum()), r2_label=pr_at_k(lab_cl, noisy, 2 * len(noisy))[1],
                acc_noisy=acc_noisy, acc_blind=accs['blind'], acc_drop=accs['drop'], acc_reviewed=accs['reviewed'], fixes=n_fixes,
                restored=restored, seconds=secs, feat_s=s.seconds['features'], check_s=s.seconds['checks'])

def pm(xs, f='.3f'): return f'{np.mean(xs):{f}} ± {np.std(xs):{f}}' if len(xs) > 1 else f'{xs[0]:{f}}'

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='../shared/data/food3'); ap.add_argument('--cifar', default='../shared/data/cifar10-jpg.tgz')
    ap.add_argument('--rates', default='0.05,0.10'); ap.add_argument('--n-off', type=int, default=30); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--seeds', type=int, default=5, help='injection seeds per noise rate (mean ± std)')
    ap.add_argument('--strong', action='store_true', help='Xception + Lite0 on both mirror views (`foodcam review --strong`)')
    ap.add_argument('--audit', default=None, help="CSV of audited photos: those with verdict 'wrong' leave the base")
    ap.add_argument('--work', default='/tmp/foodcam-suspects-bench'); ap.add_argument('--out', default='bench/results_suspects.md')
    a = ap.parse_args(); data, work = Path(a.data).resolve(), Path(a.work)
    fe = strong_features() if a.strong else BackboneFeatures(); lines = []
    if a.audit:  # the audited base: food3 without the photos a person found wrong; everything below starts from it
        import pandas as pd
        au = pd.read_csv(a.audit); wrong = set(au.file[au.verdict == 'wrong'])
        data = link_copy(data, work/'audited', exclude=wrong)
        lines.append(f'audited base ({a.audit}): {len(wrong)} photos left out, {len(food_items(data))} photos')
    clean = link_copy(data, work/'clean')
    t = time.perf_counter(); s0 = find_suspects(clean, extractor=fe); t_clean = time.perf_counter() - t
    acc_clean = head_accuracy(fe, data, clean)
    lines.append(f'clean food3, the default list: {len(s0.likely)} of {len(s0.images)} photos ({len(s0.likely) / len(s0.images):.1%}) {s0.counts()}, '
                 f'about {s0.expected():.0f} expected really wrong; {s0.counts(("possible",))["label"]} possible label suspects; out-of-fold accuracy {s0.acc:.3f}')
    lines.append(f'clean food3: {len(s0)} suspects {s0.counts()}, {len(s0.pairs)} near-duplicate pairs '
                 f'({int(s0.pairs.cross_split.sum()) if len(s0.pairs) else 0} across train/valid), {t_clean:.1f} s (features {s0.seconds["features"]:.1f} s); head accuracy {acc_clean:.4f}')
    rows = []
    for seed in range(a.seed, a.seed + a.seeds):
        off = cifar_photos(Path(a.cifar), work/f'cifar{seed}', a.n_off, seed)
        for rate in [float(r) for r in a.rates.split(',')]:
            rows.append(measure(data, work, fe, rate, off, seed)); print(rows[-1], flush=True)
    R = {}
    for r in rows: R.setdefault(r['rate'], []).append(r)
    col = lambda rs, k: [r[k] for r in rs]
    hdr = ('| label noise | injected (noisy + off-topic) | label P@k = R@k | R@2k | label suspects (cleanlab\'s count) | R@k, plain self-confidence | proposed class right '
           '| off-topic P@k = R@k | off-topic flagged (true) | check time, cached features | undo byte-for-byte |')
    tab = [hdr, '|' + '---|' * hdr.count(' |')]
    for rate, rs in R.items():
        tab.append(f"| {rate:.0%} | {rs[0]['n_noisy']} + {rs[0]['n_off']} | **{pm(col(rs, 'r_label'))}** | {pm(col(rs, 'r2_label'))} | {pm(col(rs, 'cl_flagged'), '.0f')} "
                   f"| {pm(col(rs, 'r_label_sc'))} | {pm(col(rs, 'prop_ok'))} | **{pm(col(rs, 'r_off'))}** | {pm(col(rs, 'off_flagged'), '.0f')} ({pm(col(rs, 'off_flag_hits'), '.0f')}) "
                   f"| {pm(col(rs, 'seconds'), '.1f')} s | {all(col(rs, 'restored'))} |")
    hdr3 = ('| label noise | out-of-fold accuracy | likely label suspects | their precision | their recall | default list (likely rows of every kind) '
            '| its precision | "about N really wrong" (N) |')
    tab += ['', 'The default list (issue 31: label suspects below half of chance, off-topic and near-duplicate rows), its precision against what was planted:', '',
            hdr3, '|' + '---|' * hdr3.count(' |')]
    for rate, rs in R.items():
        tab.append(f"| {rate:.0%} | {pm(col(rs, 'acc'))} | {pm(col(rs, 'n_likely'), '.0f')} | **{pm(col(rs, 'p_likely'))}** | {pm(col(rs, 'r_likely'))} "
                   f"| {pm(col(rs, 'n_default'), '.0f')} | {pm(col(rs, 'p_default'))} | {pm(col(rs, 'expected'), '.0f')} |")
    hdr2 = '| label noise | clean | noisy | fixes applied blindly (relabel; since issue 31 the likely rows: the default --apply) | blindly, label suspects quarantined | after a simulated review (every row) |'
    tab += ['', 'Accuracy on the clean validation photos of a linear head retrained on the training photos:', '', hdr2, '|' + '---|' * hdr2.count(' |')]
    for rate, rs in R.items():
        tab.append(f"| {rate:.0%} | {acc_clean:.4f} | {pm(col(rs, 'acc_noisy'), '.4f')} | {pm(col(rs, 'acc_blind'), '.4f')} | {pm(col(rs, 'acc_drop'), '.4f')} | {pm(col(rs, 'acc_reviewed'), '.4f')} |")
    cmd = 'FOODCAM_OFFLINE=1 python bench/suspects.py' + (' --strong' if a.strong else '') + (f' --seeds {a.seeds}' if a.seeds != 5 else '') + (f' --audit {a.audit}' if a.audit else '')
    txt = '\n'.join([f'## {"Xception + Lite0, both mirror views (--strong)" if a.strong else "Xception (the frozen stage features, the default)"}{", audited base" if a.audit else ""}', '',
                     f'`{cmd}` (load average at start {os.getloadavg()[0]:.1f}; {a.seeds} injection seeds, mean ± std)', '', *tab, '', *lines, ''])
    Path(a.out).write_text(txt); print(txt)

if __name__ == '__main__': main()
