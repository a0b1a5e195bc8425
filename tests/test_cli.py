import subprocess, foodcam

def run(*args, **kw): return subprocess.run(list(args), capture_output=True, text=True, **kw)

def test_help_lists_commands(foodcam_bin):
    r = run(foodcam_bin, '--help')
    assert r.returncode == 0 and 'version' in r.stdout

def test_version(foodcam_bin):
    r = run(foodcam_bin, 'version')
    assert r.returncode == 0 and r.stdout.startswith(f'foodcam {foodcam.__version__}')

def test_unknown_command_fails(foodcam_bin):
    r = run(foodcam_bin, 'nope')
    assert r.returncode == 2 and 'unknown command' in r.stderr
