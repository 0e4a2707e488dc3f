"""`weir config`: pmacct configs load unchanged, broken files fail with file:line, docs are current."""
import glob
import os

import pytest

from conftest import ROOT, SHARED, run


def shared_configs():
    return sorted(glob.glob(os.path.join(SHARED, 'pmacct-tests', '*', 'nfacctd-00.conf')) +
                  glob.glob(os.path.join(SHARED, 'corpus', 'configs', '*.conf')))


def config(weir_bin, *args):
    return run([weir_bin, 'config', *args])


def test_embedded_default(weir_bin):
    r = config(weir_bin)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:3] == ['embedded default: ok', 'listen [::]:2055',
                                         'listen [::]:4739']
    assert 'plugin sqlite3[default]:' in r.stdout
    assert 'peer_src_ip' in r.stdout


@pytest.mark.parametrize('path', shared_configs() or ['(none)'], ids=lambda p: os.path.relpath(p, SHARED))
def test_pmacct_config_loads_unchanged(weir_bin, shared_dir, path):
    if path == '(none)':
        pytest.skip('no pmacct configs under ../shared')
    r = config(weir_bin, '-f', path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f'{path}: ok\n')
    assert 'listen ' in r.stdout and 'plugin ' in r.stdout
    # pmacct-only keys are reported, never silently dropped.
    if 'plugin_pipe_zmq' in open(path).read():
        assert "key 'plugin_pipe_zmq' is a pmacct key with no meaning in weir; ignored" in r.stderr


def test_pmacct_listener_and_plugin(weir_bin, shared_dir):
    path = os.path.join(SHARED, 'pmacct-tests', '104-IPFIXv10-IPv6-CISCO-sampling_option',
                        'nfacctd-00.conf')
    if not os.path.exists(path):
        pytest.skip(f'{path} absent')
    r = config(weir_bin, '-q', '-f', path)
    assert r.returncode == 0, r.stderr
    assert 'listen [::]:9991\n' in r.stdout
    assert 'plugin kafka[nfacctd_kafka]:' in r.stdout
    assert r.stderr == ''  # -q: no notices


BROKEN = [
    ('nfacctd_port: 70000\n', 1, "nfacctd_port: '70000' is out of range (1..65535)"),
    ('! comment\n\nnfacctd_prot: 2055\n', 3,
     "unknown key 'nfacctd_prot'; did you mean 'nfacctd_port'?"),
    ('plugins: print[a]\nprint_output[b]: csv\n', 2, "'b' is not a declared plugin"),
    ('plugins: print[a], prnt[b]\n', 1, "unknown plugin type 'prnt'; did you mean 'print'?"),
    ('daemonize: maybe\n', 1, "'maybe' is not a boolean"),
    ('debug: true\nthis line has no colon\n', 2, 'syntax error'),
    ('nfacctd_ip: localhost\n', 1, 'not a numeric IPv4 or IPv6 address'),
    ('plugins: print[a]\nnfacctd_port[a]: 2055\n', 2, 'takes no [name]'),
]


@pytest.mark.parametrize('text,line,message', BROKEN)
def test_broken_file_exits_2_with_location(weir_bin, tmp_path, text, line, message):
    path = tmp_path / 'weir.conf'
    path.write_text(text)
    r = config(weir_bin, '-f', str(path))
    assert r.returncode == 2
    assert f'{path}:{line}: ' in r.stderr
    assert message in r.stderr
    assert r.stdout == ''


def test_overrides(weir_bin, tmp_path):
    path = tmp_path / 'weir.conf'
    path.write_text('plugins: print[a], print[b]\nprint_output[a]: csv\n')
    r = config(weir_bin, '-f', str(path), '-o', 'nfacctd_ip=127.0.0.1', '-o',
               'nfacctd_port=9995', '-o', 'print_output[b]=formatted')
    assert r.returncode == 0, r.stderr
    assert 'listen 127.0.0.1:9995\n' in r.stdout
    assert 'plugin print[a]: ' in r.stdout and 'print_output csv' in r.stdout
    assert 'print_output formatted' in r.stdout
    r = config(weir_bin, '-f', str(path), '-o', 'debug=1', '-o', 'nfacctd_prot=1')
    assert r.returncode == 2
    assert "-o:2: unknown key 'nfacctd_prot'; did you mean 'nfacctd_port'?" in r.stderr


def test_missing_file_and_usage(weir_bin, tmp_path):
    r = config(weir_bin, '-f', str(tmp_path / 'nope.conf'))
    assert r.returncode == 2
    assert 'cannot open' in r.stderr
    assert config(weir_bin, '--bogus').returncode == 2
    r = config(weir_bin, '--help')
    assert r.returncode == 0 and '--reference' in r.stdout


def test_reference_is_current(weir_bin):
    r = config(weir_bin, '--reference')
    assert r.returncode == 0
    for key in ('nfacctd_port', 'print_output_file', 'weir_max_exporters', 'kafka_*'):
        assert f'| `{key}` |' in r.stdout
    doc = os.path.join(ROOT, 'docs', 'configuration.md')
    with open(doc) as f:
        assert f.read() == r.stdout, 'docs/configuration.md is stale: run make docs'
