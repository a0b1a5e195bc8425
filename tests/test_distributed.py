"""Two processes, gloo, tiny synthetic data: `torchrun --nproc_per_node 2 -m foodcam.distributed`'s machinery checked
end to end.

Slow (it launches torchrun: ~1 min on 2 cores): run with `pytest --slow tests/test_distributed.py` or `make test-slow`.
Each rank records what it saw through a probe callback (added to fastai's `defaults.callbacks`, as
`foodcam.distributed` adds its own): the training indices of every epoch, the weights after the first step and after
each fit, the validation items and counts."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = r'''
import hashlib, json, os, sys
from pathlib import Path
import torch
from fastai.learner import defaults
from fastai.callback.core import Callback
from foodcam.distributed import train_distributed
from foodcam.train import EpochCurves

data, run, out = sys.argv[1:4]
rank = int(os.environ['RANK'])
rec = dict(rank=rank, world=int(os.environ['WORLD_SIZE']), fits=[])

def wid(model):
    """hash of the trained weights (not the BatchNorm statistics, which each rank updates from its own batches),
    wrapped in DDP or not"""
    h = hashlib.sha1()
    for k, v in model.named_parameters():
        h.update(k.removeprefix('module.').encode())
        h.update(v.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()

class Probe(Callback):
    order = 90
    def after_create(self):
        v = self.dls.valid
        self.valid = [str(f) for f in v.items] if hasattr(v, 'items') else None
    def before_fit(self):
        self.fit = dict(model=type(self.model).__name__, valid=self.valid, shards=[], n_valid=[], step=None)
        rec['fits'].append(self.fit)
    def after_step(self):
        if self.fit['step'] is None: self.fit['step'] = wid(self.model)
    def after_train(self):
        dl = self.learn.dl; ds = getattr(dl, 'dataset', None); items = getattr(ds, 'items', None)
        self.fit['shards'].append([str(items[i]) if items is not None else int(i) for i in dl._DataLoader__idxs])
    def after_epoch(self):
        ec = [cb for cb in self.learn.cbs if isinstance(cb, EpochCurves)]
        if ec: self.fit['n_valid'].append(ec[0].acc[False][2])
    def after_fit(self): self.fit['end'] = wid(self.model); self.fit['wrapped'] = type(self.model).__name__

defaults.callbacks.append(Probe)
# 4 epochs: WhitenBias switches a parameter off at epoch 3
train_distributed(data, 'scratch32', run=run, epochs=4, size=64)
train_distributed(data, 'frozen,finetune', run=run, epochs=1, size=64, arch='resnet18', weights='random', quick=True)
Path(out, f'rank{rank}.json').write_text(json.dumps(rec))
'''

@pytest.mark.slow
def test_two_processes(tmp_path):
    from foodcam.test_utils import make_image_folder
    from foodcam.data import food_dls
    # 60 images; the stable split puts 52 in training (even, so no padding)
    data = make_image_folder(tmp_path/'shapes', n=20, size=48)
    (tmp_path/'probe.py').write_text(PROBE); run = tmp_path/'run'
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1', 'FOODCAM_CACHE': str(tmp_path/'cache'),
           'MPLBACKEND': 'Agg'}
    cmd = [str(Path(sys.executable).parent/'torchrun'), '--standalone', '--nproc_per_node', '2',
           str(tmp_path/'probe.py'), str(data), str(run), str(tmp_path)]
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    r0, r1 = (json.loads((tmp_path/f'rank{i}.json').read_text()) for i in (0, 1))
    assert (r0['rank'], r1['rank'], r0['world']) == (0, 1, 2)
    assert len(r0['fits']) == len(r1['fits']) == 3  # scratch32, the frozen head on features, the fine-tune
    one = food_dls(data, size=64, seed=42)  # the split of one process
    train_items, valid_items = sorted(map(str, one.train.items)), [str(f) for f in one.valid.items]
    n_train, n_valid = len(train_items), len(valid_items)
    assert n_train % 2 == 0 and n_train + n_valid == 60, (n_train, n_valid)
    for f0, f1 in zip(r0['fits'], r1['fits']):
        # unwrapped again after the fit, so checkpoints have plain keys
        assert f0['wrapped'] != 'DistributedDataParallel'
        # the same weights on both ranks after a step and at the end
        assert f0['step'] == f1['step'] and f0['end'] == f1['end']
        # every epoch: disjoint halves that together are the training set
        for s0, s1 in zip(f0['shards'], f1['shards']):
            assert len(s0) == len(s1) == n_train // 2 and not set(s0) & set(s1)
            if isinstance(s0[0], str): assert sorted(s0 + s1) == train_items
            else: assert sorted(s0 + s1) == list(range(n_train))
        # curves count the whole validation set on each rank
        assert f0['n_valid'] == f1['n_valid'] and set(f0['n_valid']) == {n_valid}
        if f0['valid'] is not None: assert f0['valid'] == f1['valid'] == valid_items  # the split of one process
    assert len({s for f in r0['fits'] for s in map(tuple, f['shards'])}) > 2  # a new shuffle every epoch
    files = sorted(p.name for p in run.iterdir())
    assert files == sorted(['excluded.csv', 'run.json', 'samples.png'] + [f'{t}_{k}' for t in ('scratch32', 'frozen',
                                                                                               'finetune')
                                                          for k in ('curves.png', 'metrics.json', 'model.pth')]), files
    feats = sorted(p.name for p in (tmp_path/'cache'/'features').iterdir())
    assert len(feats) == 2 and [f.split('-')[1] for f in feats] == ['train', 'valid'], feats  # written once, by rank 0
    m = json.loads((run/'scratch32_metrics.json').read_text())
    assert m['epochs'] == 4 and 0 <= m['valid_acc'] <= 1
    assert all(abs(r['valid_acc'] * n_valid - round(r['valid_acc'] * n_valid)) < 1e-6 for r in m['curves'])
