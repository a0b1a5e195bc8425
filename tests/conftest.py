import sys, pytest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', default=False, help='also run tests marked slow (and real)')
    parser.addoption('--real', action='store_true', default=False, help='also run tests marked real and slow: the '
                                                                        'real-data guards CI runs')

def pytest_configure(config):
    config.addinivalue_line('markers',
                            'slow: heavy test, run with --slow (make test-slow) or --real (make test REAL=1)')
    config.addinivalue_line('markers', 'real: needs the real data ($FOODCAM_TEST_DATA), run with --real or --slow')

def pytest_collection_modifyitems(config, items):
    if config.getoption('--slow') or config.getoption('--real'): return
    skip = pytest.mark.skip(reason='slow or real-data: run with `make test REAL=1` or `make test-slow`')
    for it in items:
        if 'slow' in it.keywords or 'real' in it.keywords: it.add_marker(skip)

@pytest.fixture
def foodcam_bin():
    "The installed console script, next to this interpreter"
    return str(Path(sys.executable).parent/'foodcam')
