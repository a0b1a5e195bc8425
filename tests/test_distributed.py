"""Two processes, gloo, tiny synthetic data: `torchrun --nproc_per_node 2 -m foodcam.distributed`'s machinery checked
end to end.

Slow (each launches torchrun: ~1 min on 2 cores): `pytest --slow tests/test_distributed.py` or `make test-slow`.
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
# 4 epochs: WhitenBias stops training a parameter at epoch 3 (DDP must not wait for its gradient)
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
    # one voice: rank 0 alone prints each epoch line and summary; DDP has no unused parameters to look for, nor warns
    for k in range(1, 5): assert r.stdout.count(f'epoch {k}/4 ') == 1, r.stdout
    assert r.stdout.count('epoch 1/1 ') == 2 and r.stdout.count('scratch32: training 4 epochs') == 1, r.stdout
    assert 'find_unused_parameters' not in r.stdout + r.stderr, r.stderr[-3000:]
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
    # written once, by rank 0: each split's features and the note of what they are
    assert [(f.split('-')[1], f.rsplit('.', 1)[1]) for f in feats] == [('train', 'json'), ('train', 'pt'),
                                                                        ('valid', 'json'), ('valid', 'pt')], feats
    m = json.loads((run/'scratch32_metrics.json').read_text())
    assert m['epochs'] == 4 and 0 <= m['valid_acc'] <= 1
    assert all(abs(r['valid_acc'] * n_valid - round(r['valid_acc'] * n_valid)) < 1e-6 for r in m['curves'])

FILES = r'''
import json, os, sys, time
from pathlib import Path
import torch
import foodcam.core as core
from foodcam.core import set_seed
from foodcam.distributed import init_distributed
from foodcam.data import food_dls
from foodcam.weights import load_backbone_weights, create_backbone, _converted
from foodcam.cifar import cifar_tensors, cifar_net, save_cifar, load_cifar
from foodcam.transfer import transfer_learner, save_stage, load_stage

data, cifar, w, out = map(Path, sys.argv[1:5])
rank = int(os.environ['RANK']); written = []
def slow(dest): written.append(dest.name); time.sleep(1.5)  # rank 0 only: late with every shared file
core.write_hooks.append(slow)
assert init_distributed()
same = lambda a, b: all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a) and a.keys() == b.keys()
res = dict(rank=rank)
d = cifar_tensors(cifar, n_per_class=2)  # the decoded CIFAR cache: rank 0 writes it, the others read it
res['cifar_cache'] = d['classes']
set_seed(1); m = cifar_net(3)
save_cifar(m, out/'cifar.pth', ['a', 'b', 'c'])  # a stale file was there: every rank must read the new one
res['cifar_model'] = same(load_cifar(out/'cifar.pth')[0].state_dict(), m.state_dict())
body = load_backbone_weights('resnet18', weights=w)  # converted, and cached by rank 0 alone
res['weights_cached'] = _converted(w, 'resnet18').exists()
set_seed(2); learn = transfer_learner(food_dls(data, size=32, bs=4), arch='resnet18', pretrained=False)
learn.stage = 'frozen'
save_stage(learn, out/'frozen_model.pth')  # the frozen stage, which the fine-tune then loads on every rank
res['frozen'] = same(load_stage(out/'frozen_model.pth', learn.dls).model.state_dict(), learn.model.state_dict())
# the feature store: rank 0 extracts and writes each entry, the other rank waits and reads it (passes counted)
import foodcam.distributed as fd, foodcam.openset as fo
passes = dict(stream=0, outputs=0)
_e, _o = fd.extract_features, fo._outputs
def count(k, f): return lambda learn, dl: passes.__setitem__(k, passes[k] + len(dl.dataset)) or f(learn, dl)
fd.extract_features, fo._outputs = count('stream', _e), count('outputs', _o)
x, _ = fd.stream_features(learn, learn.dls.test_dl(learn.dls.train.items, with_labels=True), chunk=4)
f, _ = fo.learner_outputs(learn, learn.dls.valid.items, 'valid')
res['store'] = dict(stream=round(float(x.sum()), 3), outputs=round(float(f.sum()), 3), passes=passes)
res['written'] = written
(out/f'files{rank}.json').write_text(json.dumps(res))
'''

@pytest.mark.slow
def test_two_processes_shared_files(tmp_path):
    "Rank 0 slowed before each shared write (a hook): the other rank still reads the new files, each written once"
    import torch
    from foodcam.test_utils import make_image_folder
    from foodcam.weights import create_backbone
    from foodcam.cifar import cifar_net, save_cifar
    data = make_image_folder(tmp_path/'shapes', n=6, size=40)
    for split in ('train', 'test'): make_image_folder(tmp_path/'cifar'/split, classes=['cat', 'dog'], n=2, size=32)
    torch.save(create_backbone('resnet18').state_dict(), tmp_path/'r18.pth')
    out = tmp_path/'out'; out.mkdir()
    save_cifar(cifar_net(2), out/'cifar.pth', ['stale', 'file'])  # what a reader must not get
    (tmp_path/'probe.py').write_text(FILES)
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1', 'FOODCAM_CACHE': str(tmp_path/'cache'),
           'MPLBACKEND': 'Agg'}
    cmd = [str(Path(sys.executable).parent/'torchrun'), '--standalone', '--nproc_per_node', '2',
           str(tmp_path/'probe.py'), str(data), str(tmp_path/'cifar'), str(tmp_path/'r18.pth'), str(out)]
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    r0, r1 = (json.loads((out/f'files{i}.json').read_text()) for i in (0, 1))
    for res in (r0, r1):
        assert res['cifar_cache'] == ['cat', 'dog'], res  # the decoded CIFAR cache
        assert res['cifar_model'] and res['weights_cached'] and res['frozen'], res
    assert r0['written'][:4] == ['cifar_2.pt', 'cifar.pth', 'resnet18--r18.safetensors', 'frozen_model.pth'], \
        r0['written']
    assert len(r0['written']) == 5 and r0['written'][4].startswith('outputs-resnet18-valid-'), r0['written']
    assert r1['written'] == [], r1  # each file written once, by rank 0
    # the feature store: the same features on both ranks, extracted by rank 0 alone, one noted entry each
    s0, s1 = r0['store'], r1['store']
    assert (s0['stream'], s0['outputs']) == (s1['stream'], s1['outputs']), (s0, s1)
    assert s0['passes']['stream'] > 0 and s0['passes']['outputs'] > 0 and s1['passes'] == dict(stream=0, outputs=0), \
        (s0, s1)
    feats = sorted(p.name for p in (tmp_path/'cache'/'features').iterdir())
    assert len(feats) == 4 and feats[0].startswith('outputs-resnet18-valid-'), feats  # and its note
    assert feats[2].startswith('resnet18-stream-') and feats[3] == feats[2] + '.json', feats  # a folder and its note
    assert (tmp_path/'cache'/'features'/feats[2]).is_dir(), feats
    assert sorted(p.name for p in out.iterdir()) == ['cifar.pth', 'files0.json', 'files1.json', 'frozen_model.pth']
