"""A scraped folder never crashes the job (issue 13): the cost of verifying every photo, and peak memory with hostile images.

Usage: python bench/robust.py [--data ../shared/data/food3] [--epochs 2] [--work /tmp/foodcam-robust-bench] [--out FILE.json]

1. `verify_items` on the dataset with an empty verification cache (cold: every file is decoded) and again (cached: a stat
   per file), in this process.
2. Peak memory (max RSS) of `foodcam train COPY --track scratch32 --epochs N` in a fresh process, on a hard-linked copy of
   the dataset, then on the same copy plus `make_hostile_images` (a 20,000 x 20,000 JPEG, a decompression-bomb PNG,
   animated GIF/WebP, a 1x1 PNG, a CMYK JPEG with an ICC profile, an HTML page, a truncated JPEG, an empty file, a .txt,
   a sub-folder) in one class folder. The ratio of the two is the figure (target <= 2x)."""
import argparse, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path
from foodcam.data import verify_items
from foodcam.test_utils import make_hostile_images
from suspects import link_copy  # bench/suspects.py: the dataset as hard links, the source untouched

def peak_rss_mb(cmd: list, env: dict) -> tuple:
    "(max RSS in MB, seconds, return code) of `cmd` run in a fresh child of a fresh process"
    probe = ('import resource, subprocess, sys, time; t = time.perf_counter(); r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); '
             'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t, r.returncode)')
    out = subprocess.run([sys.executable, '-c', probe, *cmd], capture_output=True, text=True, env=env, check=True).stdout.split()
    return int(out[0]) / 1024, float(out[1]), int(out[2])

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default='../shared/data/food3'); ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--work', default='/tmp/foodcam-robust-bench'); ap.add_argument('--out', default=None)
    a = ap.parse_args(); data, work = Path(a.data).resolve(), Path(a.work)
    if a.out: Path(a.out).parent.mkdir(parents=True, exist_ok=True)  # before the work, not after it
    work.mkdir(parents=True, exist_ok=True)
    res = dict(data=str(data), load_at_start=round(os.getloadavg()[0], 1))
    with tempfile.TemporaryDirectory(dir=work) as cache:
        os.environ['FOODCAM_CACHE'] = cache
        t = time.perf_counter(); ok, bad = verify_items(data); res['verify_cold_s'] = round(time.perf_counter() - t, 2)
        t = time.perf_counter(); verify_items(data); res['verify_cached_s'] = round(time.perf_counter() - t, 3)
        res.update(files=len(ok) + len(bad), usable=len(ok))
        print(f"verify {res['files']} files: cold {res['verify_cold_s']} s, cached {res['verify_cached_s']} s", flush=True)
        env = {**os.environ, 'FOODCAM_CACHE': cache, 'FOODCAM_OFFLINE': '1'}
        foodcam = str(Path(sys.executable).parent/'foodcam')
        for case in ('clean', 'hostile'):
            d = link_copy(data, work/case)
            if case == 'hostile': make_hostile_images(d/sorted(p.name for p in d.iterdir())[0])
            verify_items(d)  # both cases start with a warm verification cache: the figure is the training's memory
            mb, secs, rc = peak_rss_mb([foodcam, 'train', str(d), '--track', 'scratch32', '--epochs', str(a.epochs),
                                        '--run', str(work/f'run_{case}'), '--force'], env)
            if rc: sys.exit(f'foodcam train on the {case} copy failed (exit {rc})')
            res[f'peak_rss_{case}_mb'], res[f'train_{case}_s'] = round(mb), round(secs, 1)
            print(f'scratch32 on the {case} copy: peak RSS {mb:.0f} MB, {secs:.0f} s', flush=True)
    res['peak_ratio'] = round(res['peak_rss_hostile_mb'] / res['peak_rss_clean_mb'], 3)
    print(json.dumps(res))
    if a.out: Path(a.out).write_text(json.dumps(res, indent=1))
    shutil.rmtree(work/'clean', ignore_errors=True); shutil.rmtree(work/'hostile', ignore_errors=True)

if __name__ == '__main__': main()
