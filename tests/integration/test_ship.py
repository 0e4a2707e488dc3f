"""test_ship.py - `weir ship`: real nfacctd print JSON (AS numbers from a networks_file) shipped
into a real InfluxDB 1.6 with AS names from a local Team Cymru stand-in (DNS TXT and whois bulk);
the sums match. Bad input: malformed and unfinished files, a file replaced under the watcher,
InfluxDB 4xx (reported, not retried) and InfluxDB down (retried until it is back), DNS answers
that are not the one asked for (rejected; the CSV fallback names the AS)."""
import json
import os
import subprocess
import time

import pytest

from conftest import need_tool
from cymru_fake import Responder
from tsutil import Influx, http_get, stop, wait_until

NETS = '57811,0.0.0.0/1\n13335,128.0.0.0/1\n15169,::/1\n15169,8000::/1\n'


def sums(rows, key='as_dst'):
    out = {}
    for r in rows:
        if r.get('event_type', 'purge') != 'purge':
            continue
        out[str(r[key])] = out.get(str(r[key]), 0) + int(r['bytes'])
    return out


def influx_sums(influx, db, key='as_dst'):
    return {r[key]: int(r['sum']) for r in
            influx.series(f'SELECT sum(bytes) FROM flows GROUP BY {key}', db)}


def nfacctd_json(tmp_path, capture, outfile):
    """Real pmacct: nfacctd reads an export capture, AS numbers from a networks_file."""
    nfacctd = need_tool('nfacctd')
    work = tmp_path / 'nfacctd'
    work.mkdir(exist_ok=True)
    (work / 'nets.txt').write_text(NETS)
    conf = work / 'nfacctd.conf'
    conf.write_text('\n'.join([
        'daemonize: false', f'pcap_savefile: {capture}', 'plugins: print[a]',
        'print_output: json', 'print_refresh_time: 3600', 'aggregate: dst_as, proto',
        f'networks_file: {work}/nets.txt', 'nfacctd_as: file',
        f'print_output_file: {outfile}']) + '\n')
    r = subprocess.run([nfacctd, '-f', str(conf)], capture_output=True, text=True, timeout=120)
    # nfacctd's exit status at the end of a savefile races its plugin's shutdown; the file it
    # wrote is what the test needs.
    assert os.path.exists(outfile), r.stdout + r.stderr
    with open(outfile) as f:
        return [json.loads(line) for line in f if line.strip()]


def ship_cmd(weir_bin, d, influx, db, *extra):
    return [weir_bin, 'ship', '-d', str(d), '--url', influx.url(), '--db', db, '--retry', '1',
            *extra]


@pytest.fixture
def influx(tmp_path):
    i = Influx(tmp_path)
    yield i
    i.stop()


@pytest.fixture
def cymru():
    r = Responder(bad={15169: 'question'})
    yield r
    r.close()


def test_pmacct_files_to_influx_with_names(weir_bin, corpus_dir, tmp_path, influx, cymru):
    influx.create('ship')
    watch = tmp_path / 'watch'
    watch.mkdir()
    csv = tmp_path / 'asn.csv'
    csv.write_text('asn,name\n15169,GOOGLE (US)\n')
    log = open(tmp_path / 'ship.log', 'w')
    p = subprocess.Popen(ship_cmd(weir_bin, watch, influx, 'ship', '--asn', 'dns', '--asn-server',
                                  f'127.0.0.1:{cymru.dns_port}', '--asn-csv', str(csv),
                                  '--asn-wait', '5000'), stdout=log, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)  # the watch is set up before the directory scan; either way it is seen
        want = {}
        for i, cap in enumerate(['softflowd_nf9', 'softflowd_ipfix']):
            rows = nfacctd_json(tmp_path, os.path.join(corpus_dir, 'exports', cap + '.pcap'),
                                watch / f'nf{i}.json')
            for k, v in sums(rows).items():
                want[k] = want.get(k, 0) + v
        wait_until(lambda: influx_sums(influx, 'ship') == want, 'InfluxDB sums == pmacct sums')
        names = {r['as_dst']: r['as_dst_name'] for r in
                 influx.series('SELECT sum(bytes) FROM flows GROUP BY as_dst, as_dst_name', 'ship')}
        assert names['57811'] == 'AS57811 ATMSOFTWARE (PL)'
        assert names['13335'] == 'AS13335 CLOUDFLARENET (US)'
        assert names['15169'] == 'AS15169 GOOGLE (US)'  # DNS answer rejected: the CSV names it
        assert any(q.lower() == 'as57811.asn.cymru.com' for q in cymru.dns_queries)
    finally:
        assert stop(p) == 0
        log.close()
    text = (tmp_path / 'ship.log').read_text()
    assert 'bad answers' in text and ' 0 bad answers' not in text, text
    cache = (watch / '.weir-asn.cache').read_text()
    assert 'AS57811 ATMSOFTWARE (PL)' in cache


def test_state_bad_files_and_replacement(weir_bin, tmp_path, influx):
    influx.create('s')
    d = tmp_path / 'w'
    d.mkdir()
    row = '{"event_type": "purge", "as_dst": %d, "ip_proto": "tcp", "packets": 1, "bytes": %d}\n'
    (d / 'a.json').write_text(row % (1, 100) + row % (2, 200) + row % (1, 5))
    (d / 'bad.json').write_text('not json\n{"bytes": "x"}\n[1,2]\n{"as_dst": 3, "bytes": 7, '
                                '"packets": 1}\n{"as_dst": 4, "byt')  # truncated last line
    (d / 'part.json').write_text((row % (9, 1000))[:-1])  # still being written: no newline
    (d / 'skip.txt').write_text(row % (8, 1))
    cmd = ship_cmd(weir_bin, d, influx, 's', '--asn', 'off', '--once')
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert influx_sums(influx, 's') == {'1': 105, '2': 200}
    assert 'unfinished' in r.stderr
    # bad.json waits too (unfinished last line); finishing it ships its good lines
    with open(d / 'bad.json', 'a') as f:
        f.write('tes": 1}\n')
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert influx_sums(influx, 's') == {'1': 105, '2': 200, '3': 7}
    assert 'malformed' in r.stderr
    # a restart ships nothing twice
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert 'shipped' not in r.stderr
    # a file replaced under the same name is new data
    tmp = d / '.a.tmp'
    tmp.write_text(row % (5, 50))
    os.rename(tmp, d / 'a.json')
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert influx_sums(influx, 's') == {'1': 105, '2': 200, '3': 7, '5': 50}
    state = (d / '.weir-ship.state').read_text()
    assert 'a.json' in state and 'bad.json' in state and 'part.json' not in state


def test_influx_4xx_reported_not_retried(weir_bin, tmp_path, influx):
    influx.create('t')
    # bytes already exists as a float field: integer bytes are a type conflict (HTTP 400)
    code = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-XPOST',
                           influx.url('/write?db=t'), '--data-binary', 'flows,x=1 bytes=1.5'],
                          capture_output=True, text=True, timeout=30).stdout
    assert code == '204'
    d = tmp_path / 'w'
    d.mkdir()
    (d / 'a.json').write_text('{"as_dst": 1, "packets": 1, "bytes": 10}\n')
    r = subprocess.run(ship_cmd(weir_bin, d, influx, 't', '--asn', 'off', '--once'),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert 'refused' in r.stderr and 'conflict' in r.stderr and 'as_dst=1' in r.stderr, r.stderr
    assert 'a.json' in (d / '.weir-ship.state').read_text()


def test_influx_down_then_back(weir_bin, tmp_path, cymru):
    influx = Influx(tmp_path)
    influx.create('u')
    influx.stop()
    d = tmp_path / 'w'
    d.mkdir()
    (d / 'a.json').write_text('{"as_dst": 57811, "packets": 1, "bytes": 10}\n'
                              '{"as_dst": 64500, "packets": 1, "bytes": 20}\n')
    log = open(tmp_path / 'ship.log', 'w')
    p = subprocess.Popen(ship_cmd(weir_bin, d, influx, 'u', '--asn', 'whois', '--asn-server',
                                  f'127.0.0.1:{cymru.whois_port}', '--asn-wait', '5000'),
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: 'retrying' in (tmp_path / 'ship.log').read_text(), 'a failed write')
        influx.log = open(tmp_path / 'influxd2.log', 'w')
        influx.proc = subprocess.Popen(['/usr/bin/influxd', 'run', '-config',
                                        influx.dir + '/influxdb.conf'],
                                       stdout=influx.log, stderr=subprocess.STDOUT)
        wait_until(lambda: http_get(influx.url('/ping'))[0] == 204, 'influxd again')
        wait_until(lambda: influx_sums(influx, 'u') == {'57811': 10, '64500': 20},
                   'the rows after InfluxDB came back')
        names = {r['as_dst']: r['as_dst_name'] for r in
                 influx.series('SELECT sum(bytes) FROM flows GROUP BY as_dst, as_dst_name', 'u')}
        assert names == {'57811': 'AS57811 ATMSOFTWARE (PL)',
                         '64500': 'AS64500 EXAMPLE-NET - Example, Inc. (ZZ)'}
        assert cymru.whois_queries and cymru.whois_queries[0][:2] == ['begin', 'verbose']
    finally:
        assert stop(p) == 0
        log.close()
        influx.stop()
