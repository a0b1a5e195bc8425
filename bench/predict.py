"""Prediction throughput (issue 15): images/s at batch 1 and batch 32 for PyTorch bf16, PyTorch fp32 and ONNX (onnxruntime, CPU),
and how closely the ONNX logits match PyTorch's on real photos.

Usage: python bench/predict.py MODEL [--data ../shared/data/food3] [--n 32] [--reps 3] [--threads N] [--out FILE.json]
MODEL: a run folder (`foodcam demo`/`foodcam train`) or an exported `.safetensors` (`foodcam export`).
Two figures per setting: `model` (forward on already decoded tensors: what the network costs) and `end to end`
(`Classifier.predict_batch` on the files: decoding, resizing, forward, softmax, unknown score; ONNX: decoding + session.run).
Medians of `--reps` passes after one warm-up pass, all in this one process."""
import argparse, json, os, statistics, tempfile, time
from pathlib import Path
import torch
from foodcam.data import food_items
from foodcam.predict import load_classifier, export_onnx, onnx_session, image_tensor

def rate(fn, n: int, reps: int) -> float:
    "images/s of `fn()` (which handles `n` images): median of `reps` timed calls after a warm-up"
    fn(); ts = []
    for _ in range(reps): t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return n / statistics.median(ts)

def batches(xs, bs): return [xs[i:i+bs] for i in range(0, len(xs), bs)]

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model'); ap.add_argument('--data', default='../shared/data/food3'); ap.add_argument('--n', type=int, default=32)
    ap.add_argument('--reps', type=int, default=3); ap.add_argument('--threads', type=int, default=None); ap.add_argument('--out', default=None)
    a = ap.parse_args()
    if a.out: Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    if a.threads: torch.set_num_threads(a.threads)
    fs = food_items(a.data); fs = fs[::max(len(fs) // a.n, 1)][:a.n]
    clf = load_classifier(a.model, device='cpu', bf16=False)
    xb = torch.stack([image_tensor(f, clf.size) for f in fs])
    res = dict(model=str(a.model), arch=clf.meta.get('arch'), size=clf.size, n=len(fs), threads=torch.get_num_threads(),
               load_at_start=round(os.getloadavg()[0], 1), rows=[])
    ref = clf.forward(xb)[0]
    for prec in ('bf16', 'fp32'):
        clf.bf16 = prec == 'bf16'
        if prec == 'bf16': res['bf16_max_abs_logit_diff_vs_fp32'] = float((clf.forward(xb)[0] - ref).abs().max())
        for bs in (1, 32):
            m = rate(lambda: [clf.forward(x) for x in batches(xb, bs)], len(fs), a.reps)
            e = rate(lambda: clf.predict_batch(fs, bs=bs), len(fs), a.reps)
            res['rows'].append(dict(runtime=f'PyTorch {prec}', bs=bs, model_img_s=round(m, 2), end_to_end_img_s=round(e, 2)))
            print(res['rows'][-1], flush=True)
    with tempfile.TemporaryDirectory() as d:
        clf.bf16 = False; sess = onnx_session(export_onnx(clf, Path(d)/'m.onnx'), threads=a.threads)
        run = lambda x: sess.run(['logits'], {'images': x.numpy()})[0]
        res['onnx_max_abs_logit_diff'] = float((torch.tensor(run(xb)) - ref).abs().max())
        for bs in (1, 32):
            m = rate(lambda: [run(x) for x in batches(xb, bs)], len(fs), a.reps)
            e = rate(lambda: [run(torch.stack([image_tensor(f, clf.size) for f in b])) for b in batches(fs, bs)], len(fs), a.reps)
            res['rows'].append(dict(runtime='ONNX (onnxruntime CPU)', bs=bs, model_img_s=round(m, 2), end_to_end_img_s=round(e, 2)))
            print(res['rows'][-1], flush=True)
    print(f"ONNX vs PyTorch fp32 logits on {len(fs)} photos: max abs diff {res['onnx_max_abs_logit_diff']:.2e}; "
          f"bf16 vs fp32: {res['bf16_max_abs_logit_diff_vs_fp32']:.2e}")
    print(json.dumps(res))
    if a.out: Path(a.out).write_text(json.dumps(res, indent=1))

if __name__ == '__main__': main()
