"""Why CIFAR transfer loses (issue 17): food3 at 32px, a linear head on the frozen CIFAR body cut after each conv group,
the whole CIFAR body fine-tuned, and the same network from scratch, all with the same epochs; one torch thread.

    python bench/transferability.py --model ~/.cache/foodcam/models/cifar10_airnet.pth --epochs 10
"""
import argparse, json, time, torch
from pathlib import Path
from foodcam.core import set_seed
from foodcam.test_utils import test_data
from foodcam.data import food_dls
from foodcam.cifar import cut_transfer, plot_cut_transfer, cifar_learner, load_cifar
from foodcam.experiments import md_table

p = argparse.ArgumentParser()
p.add_argument('--model', default=None, help='CIFAR checkpoint (default cifar_model_path())')
p.add_argument('--epochs', type=int, default=10)
p.add_argument('--threads', type=int, default=1)
p.add_argument('--out', default='bench/budget_out')
a = p.parse_args()
torch.set_num_threads(a.threads); out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
food = test_data('food3'); _, meta = load_cifar(a.model)
t0, c0 = time.perf_counter(), time.process_time()
set_seed(42); ct = cut_transfer(food_dls(food, size=32, bs=64), a.model, epochs=a.epochs)
set_seed(42); sc = cifar_learner(food_dls(food, size=32, bs=64), aug=False)
with sc.no_bar(), sc.no_logging(): sc.fit(a.epochs)
scratch = sc.curves[-1]['valid_acc']
ct.loc[len(ct)] = dict(cut='scratch', channels=256, valid_acc=scratch, valid_loss=sc.curves[-1]['valid_loss'],
                       best_valid_acc=max(r['valid_acc'] for r in sc.curves), seconds=sum(r['seconds'] for r in sc.curves))
info = {k: meta.get(k) for k in ('arch', 'epochs', 'test_acc', 'test_acc_tta')}
plot_cut_transfer(ct[ct.cut != 'scratch'], scratch=scratch, fname='bench/transferability.png',
                  title=f"food3 32px, CIFAR model: {info['epochs']} epochs")
(out/'transferability.md').write_text(f"# Transferability by depth\n\nCIFAR model: {json.dumps(info)}; {a.epochs} epochs per row; "
    f"{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s, {a.threads} thread\n\n{md_table(ct)}")
print((out/'transferability.md').read_text())
