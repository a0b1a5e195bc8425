"""Accuracy vs CPU budget (issue 17): recipes (lab, effnet, fastai) under one `CPUBudget`, at several data budgets,
one torch thread, the points of every run written to bench/budget_out/points_<tag>.csv; --report merges them into
bench/budget_out/budget.md and bench/budget.png.

    FOODCAM_OFFLINE=1 python bench/budget.py --recipes lab --n all --budget 300 --tag all_lab
    FOODCAM_OFFLINE=1 python bench/budget.py --recipes lab,fastai --n 50 --budget 120 --seeds 2 --tag n50
    FOODCAM_OFFLINE=1 python bench/budget.py --recipes lab --n 50 --seed 43 --budget 300 --eval-at 90,180 --ft-lr 2e-4 --tag ft2e-4_n50_s43
    python bench/budget.py --report
"""
import argparse, time, torch
from pathlib import Path
import pandas as pd
from foodcam.test_utils import test_data
from foodcam.budget import run_budget, budget_table, plot_budget
from foodcam.experiments import md_table

from foodcam.budget import budget_plan  # the planned epochs per data budget, as `foodcam budget` runs them

p = argparse.ArgumentParser()
p.add_argument('--recipes', default='lab,effnet,fastai')
p.add_argument('--n', default='all', help='training photos per class: 25, 50, 100 or all')
p.add_argument('--budget', type=float, default=300, help='CPU seconds per run')
p.add_argument('--eval-at', default='60,120', help='budget seconds with a validation point')
p.add_argument('--seeds', type=int, default=1)
p.add_argument('--seed', type=int, default=42)
p.add_argument('--threads', type=int, default=1)
p.add_argument('--clock', default='cpu', choices=['cpu', 'wall'])
p.add_argument('--tag', default=None, help='name of the points file (default from recipes and n)')
p.add_argument('--out', default='bench/budget_out')
p.add_argument('--report', action='store_true', help='merge every points_*.csv into budget.md and bench/budget.png')
p.add_argument('--budgets', default='60,120,300', help='table columns (seconds)')
p.add_argument('--frontier', action='store_true', help='the frontier on cached features (k_aug, TTA, Xception + Lite0) at --frontier-n')
p.add_argument('--frontier-n', default='50,all')
p.add_argument('--k-aug', type=int, default=1)
p.add_argument('--ft-lr', type=float, default=None, help="lab's fine-tuning top rate instead of the plan's (foodcam.budget.BUDGET_PLAN), e.g. 2e-4")
p.add_argument('--ft-epochs', type=int, default=None, help="lab's fine-tuning epochs instead of the plan's")
a = p.parse_args()
out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(a.threads)

if a.report:
    pts = pd.concat([pd.read_csv(f) for f in sorted(out.glob('points_*.csv'))], ignore_index=True)
    pts['n_per_class'] = pts.n_per_class.astype(str)
    order = {'25': 0, '50': 1, '100': 2, 'all': 3}
    pts = pts.sort_values('n_per_class', key=lambda s: s.map(order), kind='stable')
    t = budget_table(pts, [float(b) for b in a.budgets.split(',')])
    (out/'budget.md').write_text(f'# Accuracy vs CPU budget\n\n{md_table(t)}\n## Points\n\n{md_table(pts)}')
    plot_budget(pts, 'bench/budget.png'); print(md_table(t)); raise SystemExit

if a.frontier:
    from foodcam.budget import body_features, frontier  # not `frontier_table`: the CAM check below needs the features too
    from foodcam.transfer import concat_classifier, concat_cams, load_concat_head
    t0, c0 = time.perf_counter(), time.process_time()
    food = test_data('food3')
    fs = {'xception': body_features(food, 'legacy_xception', k_aug=a.k_aug), 'lite0': body_features(food, 'tf_efficientnet_lite0')}
    print(f"features: {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s; per photo: " +
          ', '.join(f"{k} {f['per_photo']:.3f} CPU-s" for k, f in fs.items()), flush=True)
    t = pd.concat([frontier(fs, None if n == 'all' else int(n), seeds=3) for n in a.frontier_n.split(',')], ignore_index=True)
    t.to_csv(out/'frontier.csv', index=False)
    # the concatenated head as a model: each body's CAM, summed with the bias, gives back the logit on real photos
    import torch.nn as nn
    fx, fe = fs['xception'], fs['lite0']
    xt = torch.cat([fx['plain'], fe['plain']], 1)
    set_seed = __import__('foodcam.core', fromlist=['set_seed']).set_seed; set_seed(42)
    from fastai.data.core import DataLoaders
    from fastai.data.load import DataLoader
    from fastai.learner import Learner
    from fastai.losses import CrossEntropyLossFlat
    head = nn.Sequential(nn.Flatten(), nn.Linear(xt.shape[1], 3))
    hl = Learner(DataLoaders(DataLoader(list(zip(xt, fx['y'])), bs=32, shuffle=True, drop_last=True), DataLoader(list(zip(xt[:64], fx['y'][:64])), bs=64)), head, loss_func=CrossEntropyLossFlat())
    with hl.no_bar(), hl.no_logging(): hl.fit_one_cycle(20, 2e-3)
    cm = load_concat_head(concat_classifier([fx['learn'].model[0], fe['learn'].model[0]], 3), head[1])
    xb, yb = fx['learn'].dls.valid.one_batch()
    (c1, c2), lg = concat_cams(cm, xb[:8].as_subclass(torch.Tensor).contiguous())
    pred = lg.argmax(1)
    err = (c1.mean((1, 2)) + c2.mean((1, 2)) + cm[1].fc.bias[pred] - lg[torch.arange(len(pred)), pred]).abs().max().item()
    share = (c1.mean((1, 2)) / (c1.mean((1, 2)) + c2.mean((1, 2)))).tolist()
    (out/'frontier.md').write_text(f"# Frontier on cached features (food3, {a.threads} thread)\n\n{md_table(t)}\n"
        f"Concatenated head as one model, 8 validation photos: max |mean(CAM_x) + mean(CAM_l) + b - logit| = {err:.2e}; "
        f"CAM maps {tuple(c1.shape[1:])} and {tuple(c2.shape[1:])}; Xception's share of the predicted logit's evidence: {', '.join(f'{v:.2f}' for v in share)}\n\n"
        f"whole command: {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s\n")
    print((out/'frontier.md').read_text()); raise SystemExit

n = None if a.n == 'all' else int(a.n)
kw = budget_plan(n)
lab = {**kw['lab'], **({'top': a.ft_lr} if a.ft_lr else {}), **({'epochs': (kw['lab']['epochs'][0], a.ft_epochs)} if a.ft_epochs else {})}
kw = {**kw, 'lab': lab}
t0, c0 = time.perf_counter(), time.process_time()
pts = run_budget(test_data('food3'), a.recipes.split(','), a.budget, [float(b) for b in a.eval_at.split(',')], a.seeds, n,
                 a.clock, a.seed, recipe_kw=kw, log=lambda s: print(s, flush=True))
tag = a.tag or f"{a.recipes.replace(',', '-')}_n{a.n}_s{a.seed}"
pts.to_csv(out/f'points_{tag}.csv', index=False)
print(f'{tag}: {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s for the whole command (with evaluations)', flush=True)
