"""CIFAR-10 benchmark for foodcam's 32px track: train `cifar_net` (airbench recipe) on the full training set,
report test accuracy (plain and with TTA), time and images/s, save the model to `cifar_model_path()`.
Optionally (--food) the food3 comparison at 32px: same architecture from scratch vs the CIFAR body frozen + new head.

    python bench/cifar.py --epochs 10                  # the CIFAR-10 run
    python bench/cifar.py --food-only --food-epochs 30 # food3 comparison with the saved model
"""
import argparse, json, time, torch
from pathlib import Path
from foodcam.core import set_seed, cache_dir
from foodcam.test_utils import test_data
from foodcam.run import record_run
from foodcam.cifar import *

p = argparse.ArgumentParser()
p.add_argument('--src', default=None, help='CIFAR folder/.tgz (default: test_data cifar10-jpg.tgz, else untar_data(URLs.CIFAR))')
p.add_argument('--epochs', type=int, default=10)
p.add_argument('--bs', type=int, default=1024)
p.add_argument('--widths', default='64,256,256')
p.add_argument('--pool', default='max', choices=['max', 'avg'], help='global pooling of the head (avg: exact CAM, lower accuracy)')
p.add_argument('--threads', type=int, default=None, help='torch threads (default: torch default)')
p.add_argument('--channels-last', action='store_true')
p.add_argument('--valid-every', type=int, default=1, help='per-epoch validation on every k-th test image (the final TTA accuracy always uses all 10,000)')
p.add_argument('--food-only', action='store_true', help='skip CIFAR training, use the saved model')
p.add_argument('--food', action='store_true', help='also run the food3 comparison')
p.add_argument('--food-epochs', type=int, default=30)
p.add_argument('--food-parts', default='scratch,transfer', help='which food3 runs: scratch, transfer (a missing one is read back from its metrics JSON)')
p.add_argument('--out', default=None, help='run folder (default cache_dir(runs, cifar32))')
a = p.parse_args()
if a.threads: torch.set_num_threads(a.threads)
out = cache_dir('runs', 'cifar32') if a.out is None else Path(a.out)
out.mkdir(parents=True, exist_ok=True)  # before the work: a 16-minute run once died saving into a missing --out
widths = tuple(int(w) for w in a.widths.split(','))
print(f'torch threads {torch.get_num_threads()}, widths {widths}, pool {a.pool}, bs {a.bs}, channels_last {a.channels_last}', flush=True)

if not a.food_only:
    t0 = time.perf_counter()
    src = a.src or test_data('cifar10-jpg.tgz')
    d = cifar_tensors(src)
    print(f'data: {len(d["x_train"])} train, {len(d["x_test"])} test, loaded in {time.perf_counter()-t0:.1f}s', flush=True)
    set_seed(42)
    dv = {**d, 'x_test': d['x_test'][::a.valid_every], 'y_test': d['y_test'][::a.valid_every]}
    learn = cifar_learner(cifar_dls(dv, bs=a.bs, channels_last=a.channels_last), cifar_net(10, widths, a.pool))
    if a.channels_last: learn.model.to(memory_format=torch.channels_last)
    t1 = time.perf_counter(); learn.fit(a.epochs); train_s = time.perf_counter() - t1
    torch.save(learn.model.state_dict(), f'{out}/cifar10_raw_state.pth')  # fallback if anything below fails
    t2 = time.perf_counter()
    acc_tta = tta_accuracy(learn.model, d['x_test'], d['y_test'], 2); acc = tta_accuracy(learn.model, d['x_test'], d['y_test'], 0)
    tta_s = time.perf_counter() - t2
    m = record_run(learn, out, f'cifar10_{cifar_arch(widths, a.pool)}', test_acc=acc, test_acc_tta=acc_tta, train_seconds=train_s, tta_seconds=tta_s)
    fn = save_cifar(learn.model.float(), cifar_model_path(cifar_arch(widths, a.pool)), d['classes'], epochs=a.epochs, test_acc=acc, test_acc_tta=acc_tta, train_seconds=train_s)
    print(json.dumps(dict(test_acc=acc, test_acc_tta=acc_tta, train_seconds=train_s, tta_seconds=tta_s,
                          total_seconds=time.perf_counter()-t0, img_per_s=[round(r['train_img_per_s']) for r in learn.curves], model=str(fn))), flush=True)

if a.food or a.food_only:
    from foodcam.data import food_dls
    food = test_data('food3')
    parts = a.food_parts.split(',')
    if 'scratch' in parts:
        set_seed(42); fdls = food_dls(food, size=32, bs=64); sc = cifar_learner(fdls, cifar_net(len(fdls.vocab), widths, a.pool), aug=False)
        sc.fit(a.food_epochs); record_run(sc, out, 'food3_scratch32')
    if 'transfer' in parts:
        set_seed(42); tr = cifar_transfer(food_dls(food, size=32, bs=64), cifar_model_path(cifar_arch(widths, a.pool)))
        tr.fit_one_cycle(a.food_epochs, 3e-3); record_run(tr, out, 'food3_cifar_transfer32')
    ms = [json.loads((Path(out)/f'{n}_metrics.json').read_text()) for n in ('food3_scratch32', 'food3_cifar_transfer32')
          if (Path(out)/f'{n}_metrics.json').exists()]
    df = compare_runs(ms); print(df.to_string(), flush=True)
    df.to_csv(f'{out}/food3_32_compare.csv')
