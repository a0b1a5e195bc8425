import sys, pytest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', default=False, help='also run tests marked slow')

def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: heavy test, run with --slow (make test-slow)')

def pytest_collection_modifyitems(config, items):
    if config.getoption('--slow'): return
    skip = pytest.mark.skip(reason='slow: run with `make test-slow`')
    for it in items:
        if 'slow' in it.keywords: it.add_marker(skip)

@pytest.fixture
def foodcam_bin():
    "The installed console script, next to this interpreter"
    return str(Path(sys.executable).parent/'foodcam')
