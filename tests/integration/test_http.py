"""test_http.py - weir collect's HTTP endpoint: /metrics (checked by promtool), /healthz,
/api/v1/status, the loopback-only default and bearer/basic auth."""
import json
import re
import signal
import subprocess
import time

from tsutil import Collector, gen, http_get, need, samples, wait_until


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
        # after a flush: the writer's counters, backlog gauge and latency histogram
        wait_until(lambda: samples(c.metrics(), 'weir_plugin_rows_written_total').get(
            '{type="print",plugin="p"}', 0) > 0, 'rows written by plugin p', proc=c.proc)
        text = c.metrics()
        chk = subprocess.run([promtool, 'check', 'metrics'], input=text, capture_output=True,
                             text=True, timeout=60)
        assert chk.returncode == 0, chk.stdout + chk.stderr
        lab = '{type="print",plugin="p"}'
        assert samples(text, 'weir_plugin_rows_written_total')[lab] > 0
        assert samples(text, 'weir_plugin_write_errors_total')[lab] == 0
        assert samples(text, 'weir_plugin_backlog_items')[lab] == 0
        assert '# TYPE weir_plugin_write_seconds histogram' in text
        count = samples(text, 'weir_plugin_write_seconds_count')[lab]
        assert count >= 2  # at least one write and one flush
        buckets = samples(text, 'weir_plugin_write_seconds_bucket')
        assert buckets['{type="print",plugin="p",le="+Inf"}'] == count
        ours = [v for k, v in buckets.items() if k.startswith('{type="print",plugin="p",')]
        assert ours == sorted(ours) and len(ours) == 15
        assert 0 <= samples(text, 'weir_plugin_write_seconds_sum')[lab] < 60
        code, body = http_get(c.url('/api/v1/status'))
        assert code == 200
        st = json.loads(body)
        assert sum(e['records'] for e in st['exporters']) == tot['records']
        assert [p['name'] for p in st['plugins']] == ['p']
        assert st['plugins'][0]['rows_written'] > 0 and st['plugins'][0]['write_calls'] >= 2
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


def sigusr1_block(c):
    """Sends SIGUSR1 and returns the counters block it logged (bounded wait)."""
    mark = len(c.logtext())
    c.proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: 'counters (SIGUSR1)' in c.logtext()[mark:], 'the SIGUSR1 counters',
               proc=c.proc)
    time.sleep(0.3)  # the block is logged line by line
    return c.logtext()[mark:]


def test_sqlite_sink_stats_backlog_and_asnames(weir_bin, tmp_path):
    """An SQL plugin: its destination in the startup line, its own stats line on SIGUSR1 and at
    exit, its backlog and latency on /metrics; the AS-name resolver's counters beside them."""
    promtool = need('promtool')
    db = tmp_path / 'f.db'
    c = Collector(weir_bin, tmp_path, ['plugins=sqlite3[s], print[n]', f'sql_db[s]={db}',
                                       'sql_table[s]=acct', 'aggregate[s]=dst_port',
                                       'print_output_file[n]=names.json',
                                       'aggregate[n]=dst_as, as_dst_name',
                                       'asname_source=off', 'print_refresh_time=1'])
    try:
        assert re.search(r'plugin sqlite3\[s\]: rows to sqlite3 db %s table acct, every 1 s'
                         % re.escape(str(db)), c.logtext()), c.logtext()
        assert 'json to names.json' in c.logtext()
        gen(weir_bin, c.udp, 1000)
        lab = '{type="sqlite3",plugin="s"}'
        wait_until(lambda: samples(c.metrics(), 'weir_plugin_rows_written_total').get(lab, 0) > 0,
                   'rows written by plugin s', proc=c.proc)
        text = c.metrics()
        chk = subprocess.run([promtool, 'check', 'metrics'], input=text, capture_output=True,
                             text=True, timeout=60)
        assert chk.returncode == 0, chk.stdout + chk.stderr
        assert samples(text, 'weir_plugin_rows_written_total')[lab] > 0
        assert samples(text, 'weir_plugin_backlog_items')[lab] == 0
        assert samples(text, 'weir_plugin_backlog_bytes')[lab] == 0
        assert samples(text, 'weir_plugin_write_seconds_count')[lab] >= 2
        assert samples(text, 'weir_asname_lookups_total')[''] >= 0
        assert samples(text, 'weir_asname_cached_names')[''] >= 0
        code, body = http_get(c.url('/api/v1/status'))
        assert code == 200 and 'lookups' in json.loads(body)['asnames']
        block = sigusr1_block(c)
        m = re.search(r'plugin sqlite3\[s\]: sql rows_written (\d+) .*backlog_batches 0 ', block)
        assert m and int(m.group(1)) > 0, block
        assert re.search(r'asname: lookups \d+ hits \d+ .* cached \d+', block), block
    finally:
        assert c.stop() == 0
    exit_block = c.logtext()[c.logtext().rfind('counters (exit)'):]
    assert re.search(r'plugin sqlite3\[s\]: sql rows_written \d+ ', exit_block), exit_block
    assert 'asname: lookups' in exit_block
