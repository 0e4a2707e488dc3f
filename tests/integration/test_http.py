"""test_http.py - weir collect's HTTP endpoint: /metrics (checked by promtool), /healthz,
/api/v1/status, the loopback-only default and bearer/basic auth."""
import json
import subprocess

from tsutil import Collector, gen, http_get, need, samples


def test_metrics_status_and_promtool(weir_bin, tmp_path):
    promtool = need('promtool')
    c = Collector(weir_bin, tmp_path, ['plugins=print[p]', 'print_output_file=out.json',
                                       'aggregate=dst_port', 'print_refresh_time=1'])
    try:
        tot = gen(weir_bin, c.udp, 3000)
        text = c.metrics()
        recs = samples(text, 'weir_exporter_records_total')
        assert sum(recs.values()) == tot['records'], text
        chk = subprocess.run([promtool, 'check', 'metrics'], input=text, capture_output=True,
                             text=True, timeout=60)
        assert chk.returncode == 0, chk.stdout + chk.stderr
        for name in ('weir_socket_kernel_drops_total', 'weir_exporter_templates_total',
                     'weir_plugin_flushes_total', 'weir_process_resident_memory_bytes',
                     'weir_exporter_sequence_lost_total'):
            assert samples(text, name), name
        assert samples(text, 'weir_process_resident_memory_bytes')[''] > 1e6
        code, body = http_get(c.url('/api/v1/status'))
        assert code == 200
        st = json.loads(body)
        assert sum(e['records'] for e in st['exporters']) == tot['records']
        assert [p['name'] for p in st['plugins']] == ['p']
        assert http_get(c.url('/healthz')) == (200, 'ok\n')
        assert http_get(c.url('/nothing'))[0] == 404
    finally:
        assert c.stop() == 0


def test_non_loopback_needs_credentials(weir_bin, tmp_path):
    r = subprocess.run([weir_bin, 'collect', '-F', '-o', 'http_listen=0.0.0.0:9',
                        '-o', 'nfacctd_port=9'], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert r.returncode == 2
    assert 'http_auth_token' in r.stderr


def test_bearer_and_basic_auth(weir_bin, tmp_path):
    users = tmp_path / 'users'
    users.write_text('ops:pa55\n')
    c = Collector(weir_bin, tmp_path, ['http_auth_token=s3cr3t',
                                       f'http_auth_basic_file={users}',
                                       'plugins=print[p]', 'print_output_file=out.json'])
    try:
        assert http_get(c.url('/metrics'))[0] == 401
        assert http_get(c.url('/metrics'), {'Authorization': 'Bearer nope'})[0] == 401
        assert http_get(c.url('/metrics'), {'Authorization': 'Bearer s3cr3t'})[0] == 200
        assert http_get(c.url('/api/v1/status'),
                        {'Authorization': 'Basic b3BzOnBhNTU='})[0] == 200  # ops:pa55
        assert http_get(c.url('/healthz'))[0] == 200
    finally:
        assert c.stop() == 0
