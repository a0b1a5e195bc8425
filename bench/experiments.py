"The recipe table on a dataset: `python bench/experiments.py [--data DIR] [--seeds N] [--full] [--out DIR] [--recipes lab,effnet,fastai]`"
import argparse, os, platform, time
from pathlib import Path
import torch
from foodcam.test_utils import test_data
from foodcam.experiments import run_experiments

p = argparse.ArgumentParser()
p.add_argument('--data', default=None, help='dataset folder; test_data("food3") if omitted')
p.add_argument('--recipes', default='lab,effnet,fastai')
p.add_argument('--seeds', type=int, default=1)
p.add_argument('--full', action='store_true', help='full budgets instead of quick ones')
p.add_argument('--out', default='bench/experiments_out')
a = p.parse_args()
data = Path(a.data) if a.data else test_data('food3')
if data is None: raise SystemExit('no dataset: pass --data or set FOODCAM_TEST_DATA')
Path(a.out).mkdir(parents=True, exist_ok=True)  # before the work, not at the end
t0 = time.perf_counter()
t = run_experiments(data, recipes=a.recipes.split(','), seeds=a.seeds, profile='cpu' if a.full else 'quick', out=a.out)
dt = time.perf_counter() - t0
with open(Path(a.out)/'experiments.md', 'a') as f:
    f.write(f'\nTotal wall time {dt/60:.1f} min; torch {torch.__version__}, {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), '
            f'threads {torch.get_num_threads()}, load average at end {os.getloadavg()}\n')
print((Path(a.out)/'experiments.md').read_text())
