"""foodcam on one CUDA GPU: the Xception body's forward-only rate, feature extraction and prediction end to end (photos/s per number
of DataLoader workers, JPEG decoding included), peak GPU memory, and the full-budget demo's stages on a dataset.

On the GPU machine, from the project root (after ../shared/gpu/bundle.sh; see bench/README.md, "GPU"):
    python3 bench/gpu.py --data .gpu/food3full --demo .gpu/food3full --out $OUT/gpu_bench.json
Without a GPU it says so and exits 1."""
import argparse, json, os, subprocess, sys, threading, time
from pathlib import Path
import torch

def sync(): torch.cuda.synchronize()

def forward_rate(bs: int, batches: int=20, size: int=256) -> float:
    "Photos/s of the Xception body alone (bf16 autocast, channels-last, inference mode) on random images already on the GPU"
    from foodcam.weights import create_backbone
    body = create_backbone('legacy_xception').cuda().eval().to(memory_format=torch.channels_last)
    x = torch.randn(bs, 3, size, size, device='cuda').contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), torch.autocast('cuda', dtype=torch.bfloat16):
        for _ in range(3): body(x)
        sync(); t0 = time.perf_counter()
        for _ in range(batches): body(x).mean((2, 3))
        sync()
    return bs * batches / (time.perf_counter() - t0)

def extraction_rate(data, workers: int, bs: int=256) -> float:
    "Photos/s of `extract_features` over every photo of `data`: decoding, transforms, transfer, body and pooling"
    from foodcam.data import food_dls
    from foodcam.transfer import transfer_learner, extract_features
    dls = food_dls(data, size=256, bs=64, aug=None, num_workers=workers)
    learn = transfer_learner(dls, pretrained=False)
    items = [*dls.train.items, *dls.valid.items]
    extract_features(learn, dls.test_dl(items[:bs], with_labels=True, bs=bs))  # warm-up: cuDNN's kernel choice
    sync(); t0 = time.perf_counter(); x, _ = extract_features(learn, dls.test_dl(items, with_labels=True, bs=bs)); sync()
    assert len(x) == len(items)
    return len(items) / (time.perf_counter() - t0)

def predict_rate(data, workers: int, bs: int=256) -> float:
    "Photos/s of `Classifier.predict_batch` over every photo of `data` (what `foodcam predict` runs), with the CAMs"
    from foodcam.predict import Classifier, build_model, expand_inputs
    files = expand_inputs([data]); model, mean, std = build_model('legacy_xception', 3)
    clf = Classifier(model, ['a', 'b', 'c'], 256, mean, std)
    clf.predict_batch(files[:bs], bs=bs, num_workers=0)
    sync(); t0 = time.perf_counter(); out = clf.predict_batch(files, bs=bs, cam=True, num_workers=workers); sync()
    assert sum(p.error is None for p in out) == len(files)
    return len(files) / (time.perf_counter() - t0)

class GPUMemory(threading.Thread):
    "Peak memory used on GPU 0 by any process (nvidia-smi, every 0.2 s) while the block runs"
    def __init__(self): super().__init__(daemon=True); self.peak, self.on = 0, True
    def run(self):
        while self.on:
            r = subprocess.run(['nvidia-smi', '--query-gpu=memory.used', '--format=csv,noheader,nounits', '-i', '0'], capture_output=True, text=True)
            if r.returncode == 0: self.peak = max(self.peak, int(r.stdout.split()[0]))
            time.sleep(0.2)
    def __enter__(self): self.start(); return self
    def __exit__(self, *a): self.on = False; self.join()

def demo(data, run, weights: str='random') -> dict:
    "`foodcam demo` at full budgets in a fresh process: wall time, stage seconds, accuracies, peak GPU memory"
    cmd = [sys.executable, '-c', 'import sys; from foodcam.cli import main; sys.exit(main())', 'demo', str(data), '--run', str(run), '--weights', weights]
    with GPUMemory() as m:
        t0 = time.perf_counter(); r = subprocess.run(cmd, capture_output=True, text=True); wall = time.perf_counter() - t0
    if r.returncode: print(r.stdout[-3000:], r.stderr[-3000:])
    info = json.loads((Path(run)/'run.json').read_text()) if (Path(run)/'run.json').exists() else {}
    acc = {p.name[:-13]: round(json.loads(p.read_text())['valid_acc'], 4) for p in sorted(Path(run).glob('*_metrics.json'))}
    return dict(rc=r.returncode, wall_s=round(wall, 1), stage_seconds=info.get('stage_seconds'), valid_acc=acc, peak_gpu_mib=m.peak)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', required=True, help='dataset folder for the extraction and prediction rates')
    ap.add_argument('--demo', action='append', default=[], help='dataset folder to run the full-budget demo on (repeatable)')
    ap.add_argument('--weights', default='random', help='backbone weights of the demo (default random: timing only)')
    ap.add_argument('--workers', default='0,4,8,15', help='DataLoader workers to try, comma-separated')
    ap.add_argument('--out', default='gpu_bench.json')
    a = ap.parse_args()
    if not torch.cuda.is_available(): sys.exit('no CUDA GPU here: bench/gpu.py measures foodcam on a GPU')
    os.environ.setdefault('FOODCAM_CACHE', '/tmp/fc-bench-cache')
    for f in Path(a.data).rglob('*'):  # the photos in the page cache, so that every rate reads them from memory alike
        if f.is_file(): f.read_bytes()
    res = dict(gpu=torch.cuda.get_device_name(0), cpus=os.cpu_count(), torch=torch.__version__)
    res['forward_photos_s'] = {bs: round(forward_rate(bs)) for bs in (64, 256)}; print(res, flush=True)
    ws = [int(w) for w in a.workers.split(',')]
    torch.cuda.reset_peak_memory_stats()
    res['extract_photos_s'] = {w: round(extraction_rate(a.data, w)) for w in ws}; print(res['extract_photos_s'], flush=True)
    res['extract_peak_mib'] = round(torch.cuda.max_memory_allocated() / 2**20)
    torch.cuda.reset_peak_memory_stats()
    res['predict_photos_s'] = {w: round(predict_rate(a.data, w)) for w in ws}; print(res['predict_photos_s'], flush=True)
    res['predict_peak_mib'] = round(torch.cuda.max_memory_allocated() / 2**20)
    res['demos'] = {}
    for d in a.demo:
        res['demos'][d] = demo(d, f'/tmp/fc-bench-runs/{Path(d).name}', a.weights); print(d, res['demos'][d], flush=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))

if __name__ == '__main__': main()
