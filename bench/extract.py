"""Feature extraction at two dataset sizes (issue 18): peak memory and images/s, streamed to disk (`stream_features`) or held in RAM (`extract_features`).

Usage: python bench/extract.py DATA [--repeat 10] [--mode stream|ram] [--arch resnet18] [--size 64] [--bs 64] [--workers 0] [--chunk 1024] [--out DIR]
One measurement per process (peak RSS is a process-lifetime figure), so run it once per size and mode, e.g. for food3 x1 and x10:
  for r in 1 10; do for m in stream ram; do python bench/extract.py ../shared/data/food3 --repeat $r --mode $m; done; done
`--repeat k` lists every photo k times (15,000 images from food3's 1,500): the same decoding and forward work per image as a
dataset k times larger; the features are identical copies, which changes nothing for memory or time.
The body is a random-weight timm model at a small size by default, so the run fits on a busy 2-core CPU: this measures the
streaming (memory flat, time linear in N), not the speed of Xception (bench/README.md's issue 5 rows have that)."""
import argparse, json, os, resource, tempfile, time, platform
from pathlib import Path
import torch
from foodcam.data import food_dls, food_items
from foodcam.transfer import transfer_learner, extract_features
from foodcam.distributed import stream_features

def rss_mb():
    "current resident memory of this process, MB"
    return int(Path('/proc/self/statm').read_text().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20

def main():
    p = argparse.ArgumentParser()
    p.add_argument('data'); p.add_argument('--repeat', type=int, default=1); p.add_argument('--mode', default='stream', choices=('stream', 'ram'))
    p.add_argument('--arch', default='resnet18'); p.add_argument('--size', type=int, default=64); p.add_argument('--bs', type=int, default=64)
    p.add_argument('--workers', type=int, default=0); p.add_argument('--chunk', type=int, default=1024); p.add_argument('--out', default=None)
    a = p.parse_args()
    torch.manual_seed(0)
    dls = food_dls(a.data, size=a.size, bs=a.bs, aug=None)
    learn = transfer_learner(dls, arch=a.arch, pretrained=False)
    files = food_items(a.data) * a.repeat
    dl = dls.test_dl(files, with_labels=True, bs=a.bs, num_workers=a.workers)
    base = rss_mb(); t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=a.out) as d:
        if a.mode == 'stream': x, y = stream_features(learn, dl, Path(d)/'feats', chunk=a.chunk, num_workers=a.workers)
        else: x, y = extract_features(learn, dl)
        dt = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        res = dict(mode=a.mode, n=len(files), features=list(x.shape), arch=a.arch, size=a.size, bs=a.bs, workers=a.workers, chunk=a.chunk,
                   seconds=round(dt, 1), img_per_s=round(len(files)/dt, 1), rss_before_mb=round(base), peak_rss_mb=round(peak),
                   peak_minus_before_mb=round(peak - base), threads=torch.get_num_threads(), load=os.getloadavg()[0],
                   machine=f'{platform.machine()}, {os.cpu_count()} cpus')
    print(json.dumps(res))

if __name__ == '__main__': main()
