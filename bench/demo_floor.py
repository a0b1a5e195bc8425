"""What the quick demo cannot do without: Xception's forward speed at 256px by batch size, and scratch32's loading.

Usage: python bench/demo_floor.py forward [--secs 8]     # photos/s of the body's forward pass (bf16 autocast where
                                                          # the machine runs it natively, channels-last) at bs 16..128
       python bench/demo_floor.py decode32 DATA           # one scratch32 training epoch's loading (no model), then the
                                                          # same with the decoded 40 px photos kept in memory
Figures: bench/README.md, the explain stage section (why the demo's 4.5-minute goal is out of reach)."""
import argparse, time
import torch, timm
from foodcam.core import autocast

def forward(secs):
    m = timm.create_model('legacy_xception', pretrained=False, num_classes=0).eval()
    m = m.to(memory_format=torch.channels_last)
    for bs in (16, 32, 64, 128):
        x = torch.randn(bs, 3, 256, 256).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), autocast('cpu'):
            m(x); t, n = time.perf_counter(), 0
            while time.perf_counter() - t < secs: m(x); n += bs
        print(f'| bs {bs} | {n / (time.perf_counter() - t):.1f} photos/s |', flush=True)

def decode32(data):
    from foodcam.data import food_dls, FoodImage
    dls = food_dls(data, size=32, bs=64)
    def epoch():
        t = time.perf_counter()
        for _ in dls.train: pass
        return time.perf_counter() - t
    print(f'| loading one epoch, decoded each time | {min(epoch(), epoch()):.2f} s |')
    cache, create = {}, FoodImage.create
    def kept(fn, draft=None, **kw):
        if (k := (str(fn), draft)) not in cache: cache[k] = create(fn, draft=draft, **kw)
        return cache[k]
    FoodImage.create = kept; epoch()
    print(f'| loading one epoch, decoded photos kept ({len(cache)} photos) | {min(epoch(), epoch()):.2f} s |')

if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('what', choices=['forward', 'decode32'])
    p.add_argument('data', nargs='?')
    p.add_argument('--secs', type=float, default=8); a = p.parse_args()
    forward(a.secs) if a.what == 'forward' else decode32(a.data)
