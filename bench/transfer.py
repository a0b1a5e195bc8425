"""Transfer-learning benchmark on food3 (Xception at 256px, converted Keras weights).

Usage: python bench/transfer.py [--parts micro,frozen,ordinary,finetune] [--out bench/transfer_out]
Writes <out>/transfer.json (updated after each part) and the curves PNGs, checkpoints to cache_dir('bench_transfer'); figures go to bench/results_transfer.md.
Speed figures are ratios measured in one run: the CPU is shared, so absolute times vary with the load."""
import argparse, json, os, time, warnings
from pathlib import Path
import torch
from fastai.callback.core import Callback
from fastai.callback.training import ShortEpochCallback
warnings.filterwarnings('ignore')
from foodcam.core import set_seed, cache_dir
from foodcam.test_utils import test_data
from foodcam.data import food_dls
from foodcam.run import record_run
from foodcam.transfer import transfer_learner, fit_frozen, fit_finetune, save_stage, load_stage, find_lr, extract_features, finetune_lrs

def now(): return time.perf_counter()

class Count(Callback):
    "images seen in training and validation batches"
    def before_fit(self): self.n = 0
    def after_batch(self): self.n += len(self.yb[0])
def loadavg(): return os.getloadavg()[0]

def step_rate(learn, xb, yb, train, bf16, reps=1):
    "images/s of forward (inference) or forward+backward+step, bf16 or fp32"
    m = learn.model; opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=1e-6)
    def once():
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            if not train:
                with torch.inference_mode(): return m(xb)
            loss = torch.nn.functional.cross_entropy(m(xb).float(), yb)
        loss.backward(); opt.step(); opt.zero_grad()
    m.train(train); m[0].eval() if train else None  # BN statistics frozen, as in training
    once(); t = now()
    for _ in range(reps): once()
    return reps * len(xb) / (now() - t)

def micro(dls, res, bs, rounds=2):
    "bf16 vs fp32 forward and train-step throughput, channels_last vs contiguous; configs interleaved, best of `rounds` (least disturbed by other load)"
    learn = transfer_learner(dls, fetch=True); learn.unfreeze()
    xb, yb = dls.one_batch(); xb, yb = xb[:bs].as_subclass(torch.Tensor), yb[:bs].as_subclass(torch.Tensor)
    out = {}
    cfgs = [(cl, train, bf) for cl in (True, False) for train in ((False, True) if cl else (False,)) for bf in (True, False)]
    for r in range(rounds):
        for cl, train, bf in cfgs:
            fmt = torch.channels_last if cl else torch.contiguous_format
            learn.model.to(memory_format=fmt); x = xb.contiguous(memory_format=fmt)
            k = f"{'train' if train else 'forward'}_{'bf16' if bf else 'fp32'}_{'cl' if cl else 'contig'}"
            out.setdefault(k, []).append(step_rate(learn, x, yb, train, bf)); print(r, k, f'{out[k][-1]:.2f} img/s', flush=True)
    best = {k: max(v) for k, v in out.items()}
    t = now(); n = 0
    for i, b in enumerate(dls.train):
        n += len(b[0])
        if i == 9: break
    best['train_loader_img_per_s'] = n / (now() - t)  # decode + augment alone, no model
    res['micro'] = dict(bs=bs, rounds=out, **best, load=loadavg())

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--parts', default='frozen,ordinary,micro,finetune')
    ap.add_argument('--out', default='bench/transfer_out')
    ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--ft_epochs', type=int, default=1)
    ap.add_argument('--ft_lr', type=float, default=0, help="fine-tune head LR (slice(lr/100, lr)); 0: fit_finetune's default")
    ap.add_argument('--threads', type=int, default=0, help='torch threads for fits and extraction (0: torch default)')
    ap.add_argument('--fresh', type=int, default=1, help='1: delete cached food3 features first, so extraction is timed')
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--ord_pct', type=float, default=0.1, help='fraction of an ordinary frozen epoch to time')
    ap.add_argument('--ft_pct', type=float, default=1., help='fraction of the fine-tune epoch to run')
    a = ap.parse_args(); parts = a.parts.split(',')
    food = test_data('food3'); assert food is not None, 'needs the food3 test data'
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True); jf = out/'transfer.json'
    ck = cache_dir('bench_transfer')  # checkpoints (88 MB each) stay out of the repository
    res = json.loads(jf.read_text()) if jf.exists() else {}
    res['machine'] = dict(cpus=os.cpu_count(), torch_threads=torch.get_num_threads(), torch=torch.__version__)
    def save(): jf.write_text(json.dumps(res, indent=1, default=str))
    dls = lambda: food_dls(food, size=256, bs=a.bs, seed=42)
    if 'micro' in parts: micro(dls(), res, 8); save()
    if 'frozen' in parts:
        set_seed(42); learn = transfer_learner(dls(), fetch=True)
        if a.fresh: [f.unlink() for f in cache_dir('features').glob('legacy_xception-*.pt')]  # time extraction from scratch; lr_find then reads the cache
        t = now(); tl = fit_frozen(learn, a.epochs, 2e-3)  # extraction + 30 head epochs
        total = now() - t
        res['frozen_cached'] = dict(seconds_total=total, extract_seconds=tl.dls.extract_seconds, head_seconds=sum(r['seconds'] for r in learn.curves),
                                    weights=learn.weights_source, valid_acc=learn.curves[-1]['valid_acc'], valid_loss=learn.curves[-1]['valid_loss'], load=loadavg())
        print('frozen cached', res['frozen_cached'], flush=True)
        sug = find_lr(learn, 'frozen', show_plot=False); res['frozen_cached']['lr_find_valley'] = float(sug.valley)
        record_run(learn, out, 'frozen'); save_stage(learn, ck/'frozen.pth'); save()
    if 'ordinary' in parts:  # fastai's ordinary fit on the frozen model: time --ord_pct of an epoch, extrapolate
        set_seed(42); d = dls(); learn = transfer_learner(d, fetch=True)
        learn.stage = 'frozen-ordinary'; c = Count()
        t = now()
        with learn.no_bar(): learn.fit_one_cycle(1, 2e-3, cbs=[ShortEpochCallback(a.ord_pct, short_valid=True), c])
        sec = now() - t; n = c.n; ep = sec / n * (len(d.train.items) + len(d.valid.items)); fc = res.get('frozen_cached', {})
        # extraction (the cached path's one pass over the images), same share of images, right after, same process
        sub = d.test_dl(d.train.items[:n], with_labels=True); t = now(); extract_features(learn, sub); ex = (now() - t) / n * (len(d.train.items) + len(d.valid.items))
        res['frozen_ordinary'] = dict(pct=a.ord_pct, images=n, seconds=sec, epoch_seconds_est=ep, extract_seconds_est=ex, load=loadavg())
        if fc: res['frozen_speedup_30ep'] = a.epochs * ep / (ex + fc['head_seconds']); res['frozen_speedup_30ep_features_on_disk'] = a.epochs * ep / fc['head_seconds']
        print('ordinary', res['frozen_ordinary'], 'speedup', res.get('frozen_speedup_30ep'), flush=True); save()
    if 'finetune' in parts:  # --ft_pct of an epoch (1 = a whole one), full validation
        d = dls(); learn = load_stage(ck/'frozen.pth', d, threads=a.threads or None)
        from timm.layers.pool2d_same import MaxPool2dSame  # the reloaded body must be rebuilt in Keras mode
        assert learn.keras_mode and any(isinstance(m, MaxPool2dSame) for m in learn.model.modules()) and learn.model[0].bn1.eps == 1e-3
        t = now()
        set_seed(42)
        if a.ft_pct >= 1: fit_finetune(learn, a.ft_epochs, slice(a.ft_lr/100, a.ft_lr) if a.ft_lr else None)
        else:  # part of an epoch: constant discriminative LRs (a one-cycle schedule cut short would stop at its peak)
            learn.unfreeze(); learn.stage = 'finetune'; lr = learn.frozen_lr
            learn.fit(1, finetune_lrs(lr), cbs=ShortEpochCallback(a.ft_pct, short_valid=False))
        ft = now() - t
        r = learn.curves[-1]
        res['finetune' + (f'_threads{a.threads}' if a.threads else '') + (f'_{a.ft_epochs}ep_lr{a.ft_lr:g}' if a.ft_pct >= 1 else '')] = dict(pct=a.ft_pct, seconds=ft, epoch_seconds_est=len(d.train.items) / r['train_img_per_s'] + (ft - r['seconds']) if a.ft_pct < 1 else ft,
                               valid_acc=r['valid_acc'], valid_loss=r['valid_loss'], train_img_per_s=r['train_img_per_s'],
                               lrs=[float(pg['lr']) for pg in learn.opt.param_groups], load=loadavg())
        print('finetune', {k: v for k, v in res.items() if k.startswith('finetune')}, flush=True)
        record_run(learn, out, 'frozen_finetune' + (f'_threads{a.threads}' if a.threads else '') + (f'_{a.ft_epochs}ep_lr{a.ft_lr:g}' if a.ft_pct >= 1 else '')); save_stage(learn, ck/'finetune.pth'); save()

if __name__ == '__main__': main()
