"""test_asnames.py - the as_src_name/as_dst_name primitives end to end: weir collect takes AS
numbers from a networks_file, names them through the local Team Cymru stand-in (DNS TXT, whois
bulk) or the offline CSV, and the print plugin (JSON and CSV) and the prometheus plugin carry
the names. A name not known at a flush prints as "" and a later flush has it."""
import csv
import io
import json
import os
import socket
import struct
import subprocess
import time

import pytest

from cymru_fake import Responder
from tsutil import Collector, Influx, samples, wait_until

NETS = ('57811,10.0.0.0/8\n13335,192.0.2.0/24\n64500,198.51.100.0/24\n'
        '65001,203.0.113.0/24\n65010,100.64.0.0/10\n')
CSV = 'asn,name\n65001,OFFLINE-NET (ZZ)\n'

# (src, dst, bytes): one flow per AS pair
FLOWS = [('10.0.0.1', '192.0.2.1', 1000),       # 57811 -> 13335
         ('198.51.100.1', '10.0.0.2', 2000),    # 64500 -> 57811
         ('203.0.113.1', '100.64.0.1', 3000),   # 65001 (CSV) -> 65010 (unknown anywhere)
         ('192.0.2.9', '198.51.100.9', 4000)]   # 13335 -> 64500

NAMES = {57811: 'AS57811 ATMSOFTWARE (PL)', 13335: 'AS13335 CLOUDFLARENET (US)',
         64500: 'AS64500 EXAMPLE-NET - Example, Inc. (ZZ)', 65001: 'AS65001 OFFLINE-NET (ZZ)',
         65010: ''}


def v5(flows, seq):
    """A NetFlow v5 datagram (header + 48-byte records) with the given flows."""
    now = int(time.time())
    out = struct.pack('>HHIIIIBBH', 5, len(flows), 100000, now, 0, seq, 0, 0, 0)
    for src, dst, nbytes in flows:
        out += struct.pack('>4s4s4sHHIIIIHHBBBBHHBBH', socket.inet_aton(src),
                           socket.inet_aton(dst), b'\0' * 4, 1, 2, 1, nbytes, 99000, 99500,
                           1234, 80, 0, 0x10, 6, 0, 0, 0, 0, 0, 0)
    return out


def send(port, seq):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(v5(FLOWS, seq), ('127.0.0.1', port))


def json_rows(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def collector(weir_bin, tmp_path, resolver):
    (tmp_path / 'nets.txt').write_text(NETS)
    (tmp_path / 'names.csv').write_text(CSV)
    return Collector(weir_bin, tmp_path, [
        'plugins=print[both], print[dst], print[csv], prometheus[prom]',
        f'networks_file={tmp_path}/nets.txt', 'nfacctd_as=file',
        f'asname_csv_file={tmp_path}/names.csv',
        f'asname_cache_file={tmp_path}/names.cache',
        'asname_timeout=1s',
        *resolver,
        'aggregate[both]=src_as, dst_as, as_src_name, as_dst_name',
        'print_refresh_time[both]=1',
        'print_output_file_append[both]=true',
        f'print_output_file[both]={tmp_path}/both.json',
        # names alone: the number stays in the key, so AS pairs never merge
        'aggregate[dst]=as_dst_name',
        'print_refresh_time[dst]=1',
        'print_output_file_append[dst]=true',
        f'print_output_file[dst]={tmp_path}/dst.json',
        'aggregate[csv]=as_src_name, dst_as',
        'print_output[csv]=csv',
        'print_refresh_time[csv]=3600',
        f'print_output_file[csv]={tmp_path}/out.csv',
        'aggregate[prom]=dst_as, as_dst_name',
        'print_refresh_time[prom]=1',
    ])


def named(rows):
    """{(as_src, as_dst): (as_src_name, as_dst_name)} of the rows with every name known."""
    return {(r['as_src'], r['as_dst']): (r['as_src_name'], r['as_dst_name']) for r in rows
            if r['as_src_name'] == NAMES[r['as_src']] and r['as_dst_name'] == NAMES[r['as_dst']]}


@pytest.mark.parametrize('proto', ['dns', 'whois'])
def test_names_fill_in_on_a_later_flush(weir_bin, tmp_path, proto):
    fake = Responder()
    port = fake.dns_port if proto == 'dns' else fake.whois_port
    c = collector(weir_bin, tmp_path, [f'asname_source={proto}',
                                       f'asname_server=127.0.0.1:{port}'])
    try:
        send(c.udp, 0)
        both = tmp_path / 'both.json'
        first = wait_until(lambda: len(json_rows(both)) >= 4 and json_rows(both),
                           'the first flush', proc=c.proc)
        # The first time a name is asked for it is not known: the row is written anyway, with
        # "" (the CSV's names are there at once; 65010 is nowhere).
        seen = {}
        for r in first:
            for side in ('src', 'dst'):
                seen.setdefault(r[f'as_{side}'], r[f'as_{side}_name'])
        assert seen == {57811: '', 13335: '', 64500: '', 65001: NAMES[65001], 65010: ''}
        assert sum(r['bytes'] for r in first[:4]) == 10000
        # Later flushes have the names the resolver fetched meanwhile.
        seq = 1
        end = time.monotonic() + 60
        while len(named(json_rows(both))) < 4 and time.monotonic() < end:
            send(c.udp, seq)
            seq += 1
            time.sleep(0.5)
        got = named(json_rows(both))
        assert got == {(57811, 13335): (NAMES[57811], NAMES[13335]),
                       (64500, 57811): (NAMES[64500], NAMES[57811]),
                       (65001, 65010): (NAMES[65001], ''),
                       (13335, 64500): (NAMES[13335], NAMES[64500])}
        if proto == 'dns':
            assert 'as57811.asn.cymru.com' in [q.lower() for q in fake.dns_queries]
        else:
            assert fake.whois_queries
        # Prometheus: the name is a label beside the number
        m = wait_until(lambda: samples(c.metrics(), 'weir_flow_bytes_total'), 'prom series')
        assert any(f'as_dst="13335",as_dst_name="{NAMES[13335]}"' in k for k in m), m
    finally:
        assert c.stop() == 0
        fake.close()
    # as_dst_name alone: no as_dst printed, yet the number keeps the ASes apart; all sends
    # are in the files once weir has stopped.
    dst = json_rows(tmp_path / 'dst.json')
    assert dst and all(set(r) == {'event_type', 'as_dst_name', 'packets', 'bytes'} for r in dst)
    assert sum(r['bytes'] for r in dst) == 10000 * seq
    assert {r['as_dst_name'] for r in dst} >= {NAMES[13335], NAMES[57811], NAMES[64500], ''}
    # The CSV purge at exit: one column per name, the number where it was asked for.
    with open(tmp_path / 'out.csv') as f:
        table = list(csv.reader(f))
    assert table[0] == ['DST_AS', 'AS_SRC_NAME', 'PACKETS', 'BYTES']
    body = {(r[0], r[1]) for r in table[1:]}
    assert ('57811', 'AS64500 EXAMPLE-NET - Example  Inc. (ZZ)') in body  # comma: not a column
    assert ('13335', NAMES[57811]) in body
    assert all(len(r) == len(table[0]) for r in table[1:])
    # The names are kept on disk for the next start.
    assert 'ATMSOFTWARE' in (tmp_path / 'names.cache').read_text()


def test_influxdb_tags_get_names(weir_bin, tmp_path):
    """influxdb: as_dst_name becomes a tag once known (InfluxDB has no empty tags, so rows of a
    flush before that carry the number alone); the bytes add up either way."""
    influx = Influx(tmp_path)
    fake = Responder()
    (tmp_path / 'nets.txt').write_text(NETS)
    c = None
    try:
        influx.create('weir')
        c = Collector(weir_bin, tmp_path, [
            'plugins=influxdb[i]', 'aggregate=dst_as, as_dst_name', 'print_refresh_time=1',
            f'influxdb_url={influx.url()}', 'influxdb_database=weir',
            f'networks_file={tmp_path}/nets.txt', 'nfacctd_as=file', 'asname_source=dns',
            f'asname_server=127.0.0.1:{fake.dns_port}'])
        sent = 0

        def named_tags():
            return {r['as_dst']: r['as_dst_name'] for r in influx.series(
                'SELECT sum(bytes) FROM flows GROUP BY as_dst, as_dst_name', 'weir')
                if r['as_dst_name']}
        end = time.monotonic() + 60
        while len(named_tags()) < 3 and time.monotonic() < end:
            send(c.udp, sent)
            sent += 1
            time.sleep(0.5)
        assert named_tags() == {'13335': NAMES[13335], '57811': NAMES[57811],
                                '64500': NAMES[64500]}
        wait_until(lambda: int((influx.series('SELECT sum(bytes) FROM flows', 'weir') or
                                [{'sum': 0}])[0]['sum']) == 10000 * sent, 'every byte in InfluxDB')
    finally:
        if c:
            assert c.stop() == 0
        influx.stop()
        fake.close()


def test_offline_csv_only(weir_bin, tmp_path):
    """asname_source off: no query leaves the host; the CSV names what it knows, the rest is ""."""
    c = collector(weir_bin, tmp_path, ['asname_source=off'])
    try:
        send(c.udp, 0)
        rows = wait_until(lambda: len(json_rows(tmp_path / 'both.json')) >= 4 and
                          json_rows(tmp_path / 'both.json'), 'a flush', proc=c.proc)
        names = {(r['as_src'], r['as_src_name']) for r in rows}
        assert names == {(57811, ''), (64500, ''), (65001, NAMES[65001]), (13335, '')}
    finally:
        assert c.stop() == 0


def test_names_with_sum_as_are_refused(weir_bin, tmp_path):
    r = subprocess.run([weir_bin, 'collect', '-F', '-o', 'plugins=print[x]',
                        '-o', 'aggregate=sum_as, as_src_name', '-o', 'http_listen='],
                       capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert r.returncode == 2, r.stdout + r.stderr
    assert 'as_src_name' in r.stderr
