("The optional extras stay optional: foodcam's modules import with only the core requirements, and a step that needs a "
 "missing extra says which one to install.")
import subprocess, sys, textwrap
import foodcam
from foodcam.compat import foodcam_extras, versions, versions_line, installed, import_extra, call_parse, MissingExtra
from foodcam.test_utils import cli_run

HIDDEN = ('cleanlab', 'onnx', 'onnxruntime', 'onnxscript', 'jmd_imagescraper', 'ipywidgets')  # what the extras bring

def run_hidden(code: str, hidden=HIDDEN, timeout=300):
    "Run `code` in a fresh interpreter in which the packages `hidden` cannot be imported, as if they were not installed"
    # None in sys.modules is how Python marks a module as not importable: `import` raises ModuleNotFoundError,
    # `find_spec` gives None
    prelude = f'import sys\nfor n in {tuple(hidden)!r}: sys.modules[n] = None\n'
    return subprocess.run([sys.executable, '-c', prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)

IMPORT_ALL = ('import foodcam.predict, foodcam.pipeline, foodcam.cli, foodcam.scrape, foodcam.suspects, foodcam.app, '
              'foodcam.report\n')

def test_imports_without_the_extras():
    r = run_hidden(IMPORT_ALL + 'print("ok")')
    assert r.returncode == 0 and r.stdout == 'ok\n', r.stderr[-3000:]

def test_extras_imported_only_where_used():
    "Even where they are installed, importing foodcam loads none of them"
    r = run_hidden(IMPORT_ALL + 'print(sorted({m.split(".")[0] for m in sys.modules} & set(%r)))' % (HIDDEN,),
                   hidden=())
    assert r.returncode == 0 and r.stdout == '[]\n', (r.stdout, r.stderr[-3000:])

def test_missing_extra_names_it():
    r = run_hidden('''
        import numpy as np
        from foodcam.compat import MissingExtra
        from foodcam.suspects import label_issues
        from foodcam.scrape import ddg_filters
        from foodcam.predict import onnx_session
        for f, extra in ((lambda: label_issues(np.array([0, 1]), np.array([[.9, .1], [.2, .8]])), 'review'),
                         (ddg_filters, 'scrape'), (lambda: onnx_session('x.onnx'), 'onnx')):
            try: f(); print('no error', extra)
            except ValueError as e: assert isinstance(e, MissingExtra); print(e)
        ''')
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert lines == ['cleanlab is not installed: pip install "foodcam[review]"', 'jmd_imagescraper is not installed: '
                                                                                 'pip install "foodcam[scrape]"',
                     'onnxruntime is not installed: pip install "foodcam[onnx]"'], lines

def test_missing_extra_on_the_command_line():
    "The command line prints the one line, not a traceback, and exits 1"
    from foodcam.cli import COMMANDS
    @call_parse
    def needs_extra(): import_extra('no_such_module_xyz', 'review')
    COMMANDS['needs-extra'] = needs_extra
    try: r = cli_run('needs-extra')
    finally: COMMANDS.pop('needs-extra')
    assert r.returncode == 1 and r.stderr.strip() == ('foodcam needs-extra: no_such_module_xyz is not installed: pip '
                                                      'install "foodcam[review]"'), r.stderr

def test_extras_from_the_metadata():
    ex = foodcam_extras()
    assert {'review', 'onnx', 'scrape'} <= set(ex), ex
    assert 'cleanlab' in ex['review'] and {'onnx', 'onnxruntime',
                                           'onnxscript'} <= set(ex['onnx']) and 'jmd_imagescraper' in ex['scrape']

def test_version_shows_what_is_installed():
    v = versions()
    for k in ('torch', 'torchvision', 'fastai', 'fastcore', 'timm'): assert v[k] == installed(k) and v[k], (k, v)
    r = cli_run('version')
    assert r.returncode == 0 and r.stdout.strip() == versions_line(), r.stdout
    assert r.stdout.startswith(f'foodcam {foodcam.__version__} (python ')
    assert f"fastcore {installed('fastcore')}" in r.stdout
    assert issubclass(MissingExtra, ImportError) and issubclass(MissingExtra, ValueError)
