"""sFlow extended_gateway: AS path, communities, local preference and peer ASes.

Datagrams are built here (no exporter on this machine sends extended_gateway records), then
checked against two outside oracles: tshark's decode of the same capture, and pmacct's
sfacctd aggregating the same capture by the same primitives.
"""
import json
import socket
import sqlite3
import struct
import subprocess
import time


from conftest import need_tool, run
from test_collect import Collector
from test_sflow_live import _write_pcap

import oracle
from tsutil import free_tcp_port, http_get, samples as prom_samples

AGENTS = ['192.0.2.10', '192.0.2.11']

# (segments [(type, [asn...])], communities [u32], local_pref, src_as, src_peer_as)
ROUTES = [
    ([(2, [64500, 64501, 64502])], [0xFBF40064, 0xFBF400C8], 100, 65001, 64999),
    ([(2, [64510]), (1, [64520, 64521])], [], 200, 65002, 64998),
    ([(2, [4200000001, 64530])], [0xFDE80001], 50, 65003, 64997),
    ([], [0xFDE80002, 0xFDE80003, 0xFDE80004], 0, 65004, 0),
]


def _gateway(route):
    segs, comms, lpref, src_as, src_peer = route
    b = struct.pack('>I4sIIII', 1, socket.inet_aton('10.255.0.1'), 65000, src_as, src_peer,
                    len(segs))
    for t, asns in segs:
        b += struct.pack('>II', t, len(asns)) + b''.join(struct.pack('>I', a) for a in asns)
    b += struct.pack('>I', len(comms)) + b''.join(struct.pack('>I', c) for c in comms)
    b += struct.pack('>I', lpref)
    return struct.pack('>II', 1003, len(b)) + b


def _sampled_ipv4(i):
    b = struct.pack('>II4s4sIIII', 100 + i, 6, socket.inet_aton(f'10.1.0.{i % 250 + 1}'),
                    socket.inet_aton('10.2.0.1'), 1024 + i, 443, 0x18, 0)
    return struct.pack('>II', 3, len(b)) + b


def _datagram(agent, seq, first_sample, routes):
    samples = b''
    for k, ri in enumerate(routes):
        n = first_sample + k
        recs = _sampled_ipv4(n) + _gateway(ROUTES[ri])
        body = struct.pack('>IIIIIIII', n, 3, 1, n, 0, 3, 4, 2) + recs
        samples += struct.pack('>II', 1, len(body)) + body
    return struct.pack('>II4sIIII', 5, 1, socket.inet_aton(agent), 0, seq, 1000,
                       len(routes)) + samples


def _datagrams():
    """Two agents, 10 datagrams each, every route used; returns (payloads, samples)."""
    out, samples = [], []
    for a, agent in enumerate(AGENTS):
        for d in range(10):
            routes = [(d + k + a) % len(ROUTES) for k in range(3)]
            out.append(_datagram(agent, d + 1, d * 3 + 1, routes))
            samples += [(agent, r) for r in routes]
    return out, samples


def _path_text(segs):
    """pmacct's form: ASNs joined by '_', AS_SETs flattened."""
    return '_'.join(str(a) for _, asns in segs for a in asns)


def _expected_row(ri):
    segs, comms, lpref, src_as, src_peer = ROUTES[ri]
    flat = [a for _, asns in segs for a in asns]
    return {
        'as_path': _path_text(segs),
        'comms': '_'.join(f'{c >> 16}:{c & 0xffff}' for c in comms),
        'local_pref': lpref,
        'peer_as_src': src_peer,
        'peer_as_dst': flat[0] if flat else 0,
        'as_src': src_as,
        'as_dst': flat[-1] if flat else 0,  # no path: sfacctd's 0 (the router's own AS)
    }


def test_decode_matches_tshark(weir_bin, tmp_path):
    """weir decode against tshark on the same capture: per sample the source AS, peer AS,
    local preference and community count; per datagram the path ASNs and community values in
    order (tshark 4.0 shows both under its sflow_245.dstAS field)."""
    tshark = need_tool('tshark')
    payloads, samples = _datagrams()
    pcap = tmp_path / 'gw.pcap'
    _write_pcap(pcap, payloads, 6343)
    r = run([tshark, '-r', str(pcap), '-d', 'udp.port==6343,sflow', '-T', 'fields',
             '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'sflow_245.srcAS',
             '-e', 'sflow_245.peerAS', '-e', 'sflow_245.dstAS', '-e', 'sflow_245.localpref',
             '-e', 'sflow_245.communityEntries'])
    assert r.returncode == 0, r.stderr
    t_samples, t_paths = [], []
    for line in r.stdout.splitlines():
        src, peer, dst, lpref, ncomm = (c.split(',') for c in line.split('\t'))
        for i in range(len(src)):
            t_samples.append((int(src[i]), int(peer[i]), int(lpref[i]), int(ncomm[i])))
        t_paths.append([int(a) for a in dst if a])
    p, recs = oracle.weir_decode(weir_bin, str(pcap))
    assert p.returncode == 0, p.stderr
    assert len(recs) == len(samples) == len(t_samples) == 60
    for rec, (agent, ri), t in zip(recs, samples, t_samples):
        exp = _expected_row(ri)
        assert rec['peer_ip_src'] == agent
        assert (rec['as_src'], rec['peer_as_src'], rec['local_pref']) == t[:3]
        assert (len(rec['comms'].split('_')) if rec['comms'] else 0) == t[3]
        for k, v in exp.items():
            assert rec[k] == v, (k, rec, exp)
        assert rec['peer_ip_dst'] == '10.255.0.1'
    for d, t_path in enumerate(t_paths):  # three samples per datagram, in order
        ours = []
        for rec in recs[3 * d:3 * d + 3]:
            ours += [int(a) for a in rec['as_path'].split('_') if a]
            ours += [int(c.split(':')[0]) << 16 | int(c.split(':')[1])
                     for c in rec['comms'].split('_') if c]
        assert ours == t_path


AGG = 'peer_src_ip, as_path, std_comm, local_pref, peer_src_as, peer_dst_as, src_as, dst_as'


def _rows_by_key(rows):
    keys = ('peer_ip_src', 'as_path', 'comms', 'local_pref', 'peer_as_src', 'peer_as_dst',
            'as_src', 'as_dst')
    out = {}
    for r in rows:
        k = tuple(r.get(x) for x in keys)
        out[k] = out.get(k, 0) + r['packets']
    return out


def test_collect_aggregates_bgp_primitives(weir_bin, tmp_path):
    """Live over loopback: one row per (agent, route) with the sample count as packets; the
    interned texts (3 paths, 3 community lists, shared by both agents) on /metrics."""
    payloads, samples = _datagrams()
    http = free_tcp_port()
    with Collector(weir_bin, tmp_path, extra=[f'aggregate: {AGG}',
                                             f'http_listen: 127.0.0.1:{http}']) as col:
        col.send(payloads)
        deadline = time.monotonic() + 30
        texts = {}
        while time.monotonic() < deadline and texts.get('') != 6:
            texts = prom_samples(http_get(f'http://127.0.0.1:{http}/metrics')[1],
                                   'weir_bgp_texts')
            time.sleep(0.1)
        col.stop()
        rows = col.records()
    assert texts == {'': 6}
    got = _rows_by_key(rows)
    want = {}
    for agent, ri in samples:
        e = _expected_row(ri)
        k = (agent, e['as_path'], e['comms'], e['local_pref'], e['peer_as_src'],
             e['peer_as_dst'], e['as_src'], e['as_dst'])
        want[k] = want.get(k, 0) + 1
    assert got == want


def _sfacctd_rows(sfacctd, pcap, tmp_path):
    out = tmp_path / 'sfacctd.json'
    conf = tmp_path / 'sfacctd.conf'
    conf.write_text('daemonize: false\n'
                    f'pcap_savefile: {pcap}\n'
                    'plugins: print[p]\n'
                    f'aggregate[p]: {AGG}\n'
                    'print_output[p]: json\n'
                    f'print_output_file[p]: {out}\n'
                    'print_refresh_time[p]: 3600\n')
    proc = subprocess.Popen([sfacctd, '-f', str(conf)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    # its print plugin writes at exit; its exit status races that (see test_sflow_live.py)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (out.exists() and out.stat().st_size):
        time.sleep(0.1)
    assert out.exists(), proc.stderr.read() if proc.stderr else ''
    return [json.loads(x) for x in out.read_text().splitlines() if x.startswith('{')]


def test_same_rows_as_sfacctd(weir_bin, tmp_path):
    """pmacct's sfacctd on the same capture, same aggregate: the same rows and counts."""
    sfacctd = need_tool('sfacctd')
    payloads, _ = _datagrams()
    pcap = tmp_path / 'gw.pcap'
    _write_pcap(pcap, payloads, 6343)
    theirs = _rows_by_key(_sfacctd_rows(sfacctd, pcap, tmp_path))
    (tmp_path / 'w').mkdir()
    with Collector(weir_bin, tmp_path / 'w', extra=[f'aggregate: {AGG}']) as col:
        col.send(payloads)
        col.stop()
        ours = _rows_by_key(col.records())
    assert ours == theirs


def test_sqlite_columns(weir_bin, tmp_path):
    """The same rows in SQLite: as_path and comms as text (pmacct's '_' form), local_pref and
    the peer ASes as numbers, in weir's own CREATE TABLE."""
    payloads, samples = _datagrams()
    db = tmp_path / 'bgp.db'
    with Collector(weir_bin, tmp_path, extra=[f'aggregate: {AGG}', 'plugins: sqlite3[s]',
                                             f'sql_db: {db}', 'sql_table: acct',
                                             'sql_history: 1h', 'http_listen: ']) as col:
        col.send(payloads)
        col.stop()
    with sqlite3.connect(db) as c:
        rows = c.execute('SELECT peer_ip_src, as_path, comms, local_pref, peer_as_src, '
                         'peer_as_dst, as_src, as_dst, SUM(packets) FROM acct GROUP BY '
                         'peer_ip_src, as_path, comms, local_pref, peer_as_src, peer_as_dst, '
                         'as_src, as_dst').fetchall()
    want = {}
    for agent, ri in samples:
        e = _expected_row(ri)
        k = (agent, e['as_path'], e['comms'], e['local_pref'], e['peer_as_src'],
             e['peer_as_dst'], e['as_src'], e['as_dst'])
        want[k] = want.get(k, 0) + 1
    assert {tuple(r[:8]): r[8] for r in rows} == want
