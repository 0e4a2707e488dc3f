"""Shared fixtures for the integration tests: the weir binary, ../shared, free ports, tools."""
import os
import shutil
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.abspath(os.path.join(ROOT, '..', 'shared'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='session')
def weir_bin():
    """The weir binary under test: $WEIR_BIN (the sanitizer build in `make test`)."""
    path = os.environ.get('WEIR_BIN') or os.path.join(ROOT, 'build', 'asan', 'weir')
    if not os.access(path, os.X_OK):
        pytest.fail(f'weir binary not found at {path}: run make asan first')
    return path


@pytest.fixture(scope='session')
def shared_dir():
    """../shared (read-only reference material); tests skip clearly when it is absent."""
    if not os.path.isdir(os.path.join(SHARED, 'corpus')):
        pytest.skip(f'../shared not found at {SHARED}: corpus tests need it')
    return SHARED


@pytest.fixture(scope='session')
def corpus_dir(shared_dir):
    return os.path.join(shared_dir, 'corpus')


def free_udp_port(host='127.0.0.1'):
    """A UDP port that nothing listens on right now (the kernel picks it)."""
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def need_tool(name):
    """Path of an external tool, or skip the test with the reason."""
    path = shutil.which(name) or (f'/usr/sbin/{name}' if os.access(f'/usr/sbin/{name}', os.X_OK) else None)
    if not path:
        pytest.skip(f'{name} not installed (scripts/deps.sh test installs it)')
    return path


def run(cmd, **kw):
    kw.setdefault('capture_output', True)
    kw.setdefault('text', True)
    kw.setdefault('timeout', 300)
    return subprocess.run(cmd, **kw)
