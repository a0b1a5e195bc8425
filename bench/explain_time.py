"""Where the explain stage's time goes, method by method, on a food dataset (issue: the demo's explain stage).

Usage: python bench/explain_time.py DATA [--n 6] [--lime 64,32] [--steps 8,4] [--weights random]
(the quick profile's sizes: --n 4 --lime 32 --steps 6)
Model: the frozen transfer learner of `foodcam.transfer` (Xception at 256px); the costs do not depend on the trained
weights, only on how many images go through the model. Times one validation pass (`CAMInterpretation.from_learner`),
the activations figure, each method's maps on `--n` photos, and deletion/insertion on them at each `--steps`; LIME and
deletion/insertion under foodcam's autocast (bf16 where the machine runs it natively) and, for comparison, in fp32."""
import argparse, time, os, platform
import torch, matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from foodcam.data import food_dls
from foodcam.transfer import transfer_learner
from foodcam.cam import CAMInterpretation, plot_activations
from foodcam.explain import default_methods, deletion_insertion, lime_maps
from foodcam.openset import learner_outputs

def timed(f):
    t = time.perf_counter(); r = f(); return r, time.perf_counter() - t

def main():
    p = argparse.ArgumentParser(); p.add_argument('data'); p.add_argument('--n', type=int, default=6)
    p.add_argument('--lime', default='64,32'); p.add_argument('--steps', default='8,4')
    p.add_argument('--weights', default=None); a = p.parse_args()
    print(f'# machine: {platform.machine()}, {os.cpu_count()} cpus, torch {torch.__version__}, '
          f'threads {torch.get_num_threads()}, load {tuple(round(x, 1) for x in os.getloadavg())}')
    dls = food_dls(a.data, bs=64)
    learn = transfer_learner(dls, **({'pretrained': False} if a.weights == 'random' else {}))
    learn.model.eval(); n_valid = len(dls.valid.items)
    interp, t = timed(lambda: CAMInterpretation.from_learner(learn))
    print(f'| validation pass (from_learner, {n_valid} photos) | {t:.1f} s | {n_valid / t:.1f} photos/s |')
    _, t = timed(lambda: learner_outputs(learn, dls.valid.items, 'bench', cache=False))
    print(f'| validation pass (learner_outputs, {n_valid} photos) | {t:.1f} s | {n_valid / t:.1f} photos/s |')
    for name, f in [('CAM gallery (cam_correct)', lambda: interp.plot_correct()),
                    ('top losses with CAMs', lambda: interp.plot_top_losses_cam()),
                    ('confusion matrix', lambda: interp.plot_confusion())]:
        fig, t = timed(f); plt.close(fig); print(f'| {name} | {t:.1f} s | |')
    xb = interp.dl.one_batch()[0][:a.n].to('cpu')
    fig, t = timed(lambda: plot_activations(learn, xb[0], n=16, most_active=True)); plt.close(fig)
    print(f'| activations | {t:.1f} s | |')
    with torch.no_grad(): cls = learn.model(xb).argmax(1)
    for ls in [int(s) for s in a.lime.split(',')]:
        meths = default_methods(learn.model, lime_samples=ls)
        names = list(meths) if ls == int(a.lime.split(',')[0]) else ['LIME']
        for name in names:
            maps, t = timed(lambda: meths[name](learn.model, xb, cls))
            print(f'| maps: {name}{f" ({ls} samples)" if name == "LIME" else ""}, {a.n} photos | {t:.1f} s | '
                  f'{t / a.n:.2f} s/photo |')
        maps, t = timed(lambda: lime_maps(learn.model, xb, cls, n_samples=ls, amp=False))
        print(f'| maps: LIME ({ls} samples) in fp32, {a.n} photos | {t:.1f} s | {t / a.n:.2f} s/photo |')
    for st in [int(s) for s in a.steps.split(',')]:
        _, t = timed(lambda: deletion_insertion(learn.model, xb, torch.rand(a.n, 8, 8), cls, steps=st))
        print(f'| deletion+insertion, {st} steps, one method, {a.n} photos | {t:.1f} s | {t / a.n:.2f} s/photo |')
        _, t = timed(lambda: deletion_insertion(learn.model, xb, torch.rand(a.n, 8, 8), cls, steps=st, amp=False))
        print(f'| deletion+insertion in fp32, {st} steps, one method, {a.n} photos | {t:.1f} s | {t / a.n:.2f} s/photo |')

if __name__ == '__main__': main()
