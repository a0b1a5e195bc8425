"""Micro-benchmarks quoted in the notebooks and results files, each a ratio or rate measured in one process.

    python bench/micro.py cifar-step             # cifar_net train-step img/s: threads 1/2 x channels_last/NCHW, bf16; then with reuse_freed_memory()
    python bench/micro.py draft [--data DIR]     # photos/s: full JPEG decode vs `load_rgb(draft=)` at the 32px item size
    python bench/micro.py cifar-transfer M.pth.. # food3 32px frozen-body transfer accuracy for several CIFAR checkpoints
"""
import argparse, sys, time
import torch
from foodcam.core import set_seed
from foodcam.test_utils import test_data

def cifar_step(a):
    "Train steps of `cifar_net` (max head, bs 1024, bf16): threads x layout, then the best again after `reuse_freed_memory()`"
    from foodcam.cifar import cifar_net
    from foodcam.core import reuse_freed_memory
    for threads, cl, reuse in ((2, True, False), (2, False, False), (1, True, False), (1, False, False), (2, True, True)):
        if reuse: print('reuse_freed_memory():', reuse_freed_memory())
        torch.set_num_threads(threads); set_seed(0)
        m = cifar_net(10); opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        x, y = torch.rand(1024, 3, 32, 32), torch.randint(0, 10, (1024,))
        if cl: m, x = m.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
        def step():
            with torch.autocast('cpu', dtype=torch.bfloat16): loss = torch.nn.functional.cross_entropy(m(x), y)
            loss.backward(); opt.step(); opt.zero_grad()
        step(); step(); t = time.perf_counter()
        for _ in range(6): step()
        print(f"threads {threads} {'channels_last' if cl else 'NCHW'}{' reuse' if reuse else ''}: {1024*6/(time.perf_counter()-t):.0f} img/s", flush=True)

def draft(a):
    from foodcam.data import load_rgb, food_items
    fs = food_items(a.data or test_data('food3'))[:300]
    for d in (None, 40):
        t = time.perf_counter()
        for f in fs: load_rgb(f, draft=d).resize((40, 40))
        print(f'draft={d}: {len(fs)/(time.perf_counter()-t):.0f} photos/s (decode + item resize)', flush=True)

def cifar_transfer(a):
    from foodcam.cifar import cifar_transfer as ct
    from foodcam.data import food_dls
    dls = food_dls(a.data or test_data('food3'), size=32, bs=64)
    for f in a.models:
        set_seed(42); learn = ct(dls, f)
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(a.epochs, a.lr)
        print(f, 'valid acc', round(learn.curves[-1]['valid_acc'], 3), flush=True)

p = argparse.ArgumentParser(); p.add_argument('what', choices=['cifar-step', 'draft', 'cifar-transfer'])
p.add_argument('models', nargs='*'); p.add_argument('--data'); p.add_argument('--epochs', type=int, default=10); p.add_argument('--lr', type=float, default=3e-3)
a = p.parse_args()
{'cifar-step': cifar_step, 'draft': draft, 'cifar-transfer': cifar_transfer}[a.what](a)
