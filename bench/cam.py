"""CAM benchmarks (issue 6): CAM cost vs a plain forward pass, and foodcam's CAM vs pytorch-grad-cam's GradCAM.

Usage: python bench/cam.py [--bs 64] [--size 256] [--reps 3] [--precisions bf16,fp32|none] [--gc_bs 16] [--gc_reps 2] [--skip-gradcam]
Needs `pip install grad-cam` for the second part (benchmark only; foodcam does not depend on it).
Model: timm legacy_xception body (random weights, no pooling/classifier) + foodcam GAPHead -> 2048x8x8 maps at 256px.
Timings are interleaved (forward, cam, forward, cam, ...) so machine load hits both sides alike; the ratio of medians is reported."""
import argparse, time, statistics, platform, os
import numpy as np, torch, timm
from foodcam.train import classifier
from foodcam.cam import cam, upsample
from foodcam.core import use_bf16, autocast

def timed(f):
    t = time.perf_counter(); f(); return time.perf_counter() - t

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--bs', type=int, default=64); p.add_argument('--size', type=int, default=256)
    p.add_argument('--reps', type=int, default=3); p.add_argument('--gc_reps', type=int, default=2)
    p.add_argument('--gc_bs', type=int, default=16, help='batch for the grad-cam comparison (its fp32 backward through Xception at bs 64/256px needs >14 GB RAM)'); p.add_argument('--n_out', type=int, default=3)
    p.add_argument('--skip-gradcam', action='store_true'); p.add_argument('--precisions', default='bf16,fp32', help='which of bf16,fp32 to time CAM vs forward in')
    a = p.parse_args()
    torch.manual_seed(0)
    model = classifier(timm.create_model('legacy_xception', pretrained=False, num_classes=0, global_pool=''), 2048, a.n_out).eval()
    x = torch.randn(a.bs, 3, a.size, a.size)
    print(f'# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, torch {torch.__version__}, threads {torch.get_num_threads()}, load {os.getloadavg()}')
    for bf16 in [pr == 'bf16' for pr in a.precisions.split(',') if pr == 'fp32' or (pr == 'bf16' and use_bf16('cpu'))]:
        def fwd():
            with torch.no_grad(), autocast('cpu', enabled=bf16): model(x)
        def cm(): cam(model, x, bf16=bf16)
        fwd(); cm()  # warm-up
        tf, tc = [], []
        for _ in range(a.reps): tf.append(timed(fwd)); tc.append(timed(cm))
        mf, mc = statistics.median(tf), statistics.median(tc)
        print(f'## {"bf16" if bf16 else "fp32"} bs={a.bs} {a.size}px: forward {mf:.2f}s {tf}, cam {mc:.2f}s {tc}; cam/forward = {mc/mf:.3f} (medians), {min(tc)/min(tf):.3f} (fastest of each)')
    if a.skip_gradcam: return
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    from pytorch_grad_cam.utils.image import scale_cam_image
    x = x[:a.gc_bs]
    with torch.no_grad(): pred = model(x).argmax(1)
    targets = [ClassifierOutputTarget(int(c)) for c in pred]
    gc = GradCAM(model=model, target_layers=[model[0]])
    def theirs(): return gc(input_tensor=x, targets=targets)
    def ours(): return cam(model, x, pred)[0]
    theirs(); ours()
    tt, to = [], []
    for _ in range(a.gc_reps):
        t = time.perf_counter(); g = theirs(); tt.append(time.perf_counter() - t)
        t = time.perf_counter(); c = ours(); to.append(time.perf_counter() - t)
    # comparable output: ReLU(CAM) through pytorch-grad-cam's own normalise + cv2 resize (+ its second normalisation)
    r = c.clamp_min(0).numpy()
    same_pipeline = scale_cam_image(scale_cam_image(r, (a.size, a.size)))
    d1 = float(np.abs(same_pipeline - g).max())
    # ours end to end: torch bilinear upsample, then min-max per image
    u = upsample(c.clamp_min(0), (a.size, a.size)); u = u - u.amin((1, 2), keepdim=True); u = u / (u.amax((1, 2), keepdim=True) + 1e-7)
    d2 = float(np.abs(u.numpy() - g).max())
    mt, mo = statistics.median(tt), statistics.median(to)
    print(f'## vs pytorch-grad-cam GradCAM(target_layers=[body]) fp32 bs={len(x)} {a.size}px: grad-cam {mt:.2f}s {tt}, foodcam cam {mo:.2f}s {to}; speed-up {mt/mo:.2f}x (medians), {min(tt)/min(to):.2f}x (fastest of each)')
    print(f'   max |diff| in [0,1] maps: ReLU(CAM) through grad-cam normalisation+cv2 resize = {d1:.2e}; with foodcam upsample+min-max = {d2:.2e}')
    print(f'   grad-cam maps shape {g.shape}, range [{g.min():.3f}, {g.max():.3f}]')

if __name__ == '__main__': main()
