"""test_relay.py - `weir relay` and the tee plugin end to end: real `weir collect` receivers on
loopback, every balancing mode, replication, a receiver killed mid-stream, healthz, bad input,
and the tee plugin inside `weir collect`."""
import http.server
import json
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import free_udp_port, run
from test_collect import Collector, expected, pcap_udp_payloads, totals

WAIT_S = 60


class Relay:
    """weir relay (or weir collect with a tee plugin) in the foreground on loopback."""

    def __init__(self, weir_bin, workdir, pools, extra=(), ports=None, workers=2, name='relay',
                 cmd='relay'):
        self.bin = weir_bin
        self.dir = str(workdir)
        self.ports = ports or [free_udp_port()]
        self.port = self.ports[0]
        self.log = os.path.join(self.dir, f'{name}.log')
        self.rcv = os.path.join(self.dir, f'{name}.lst')
        self.conf = os.path.join(self.dir, f'{name}.conf')
        self.cmd = cmd
        with open(self.rcv, 'w') as f:
            f.write('\n'.join(pools) + '\n')
        lines = ['daemonize: false', 'nfacctd_ip: 127.0.0.1',
                 'nfacctd_port: ' + ', '.join(str(p) for p in self.ports),
                 f'logfile: {self.log}', f'workers: {workers}', 'nfacctd_pipe_size: 16m',
                 f'tee_receivers: {self.rcv}', 'weir_tee_probe_interval: 100ms']
        with open(self.conf, 'w') as f:
            f.write('\n'.join(lines + list(extra)) + '\n')
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def start(self):
        self.proc = subprocess.Popen([self.bin, self.cmd, '-f', self.conf, '-F'],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.wait_log(r'listening: udp 127\.0\.0\.1:%d ' % self.ports[-1]), self.text()

    def text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def wait_log(self, pattern, after=0):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if re.search(pattern, self.text()[after:]):
                return True
            if self.proc.poll() is not None:
                return bool(re.search(pattern, self.text()[after:]))
            time.sleep(0.05)
        return False

    def counters(self):
        """SIGUSR1, then the block it logged."""
        start = len(self.text())
        self.proc.send_signal(signal.SIGUSR1)
        assert self.wait_log(r'relay pool \d+:', start), self.text()
        time.sleep(0.2)
        return self.text()[start:]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=WAIT_S * 2)
        assert self.proc.returncode == 0, (self.proc.returncode, err, self.text())
        text = self.text()
        return text[text.rfind('counters (exit)'):]


def receiver_out(block, rcv):
    m = re.search(r'relay receiver %s pool \d+: state (\S+) packets_out (\d+) bytes_out (\d+) '
                  r'send_failed (\d+)' % re.escape(rcv), block)
    assert m, block
    return {'state': m.group(1), 'packets': int(m.group(2)), 'bytes': int(m.group(3)),
            'failed': int(m.group(4))}


def exporters_seen(col):
    """Per exporter address at a collector (exit counters): (datagrams, records, held, drops)."""
    text = col.log_text()
    block = text[text.rfind('counters (exit)'):]
    out = {}
    # Columns: exporter domain ver packets bytes records options seq_gaps tmpls held drops,
    # then sFlow-only ones (sample_gaps ...) that this test does not read.
    for m in re.finditer(r'notice: (\d+\.\d+\.\d+\.\d+|[0-9a-f:]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+'
                         r'(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)(?:\s+\d+)*\s*$',
                         block, re.M):
        a = m.group(1)
        prev = out.get(a, (0, 0, 0, 0))
        out[a] = (prev[0] + int(m.group(4)), prev[1] + int(m.group(6)),
                  prev[2] + int(m.group(10)), prev[3] + int(m.group(11)))
    return out


def gen(weir_bin, port, n=20000, exporters=8, proto='ipfix', rate='40k', extra=()):
    r = run([weir_bin, 'gen', '-P', proto, '-e', str(exporters), '-n', str(n), '-r', rate,
             '--json', *extra, f'127.0.0.1:{port}'], timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def collectors(weir_bin, tmp_path, n, workers=1):
    cols = []
    for i in range(n):
        d = tmp_path / f'col{i}'
        d.mkdir()
        cols.append(Collector(weir_bin, d, workers=workers))
    return cols


def rcv_list(cols):
    return ','.join(f'127.0.0.1:{c.port}' for c in cols)


def stop_all(relay, cols):
    block = relay.stop()
    for c in cols:
        c.stop()
        assert c.kernel_drops() == 0
    return block


# --- replication and balancing ---

def test_replication_and_hash_agent_totals(weir_bin, tmp_path):
    """Pool 1 balances over two collectors, pool 2 sends to both of its collectors (all):
    each pool gets everything."""
    cols = collectors(weir_bin, tmp_path, 4)
    pools = [f'id=1 ip={rcv_list(cols[:2])} balance-alg=hash-agent',
             f'id=2 ip={rcv_list(cols[2:])} balance-alg=all']
    for c in cols:
        c.start()
    try:
        with Relay(weir_bin, tmp_path, pools) as relay:
            # 32 exporters: all on one receiver by chance is 2 in 2^32.
            sent = gen(weir_bin, relay.port, exporters=32)
            block = stop_all(relay, cols)
    finally:
        for c in cols:
            c.__exit__()
    got = [totals(c.records()) for c in cols]
    assert got[0][2] + got[1][2] == sent['packets']
    assert got[0][1] + got[1][1] == sent['bytes']
    assert got[2][1:] == got[3][1:] == (sent['bytes'], sent['packets'])
    assert got[0][1] > 0 and got[1][1] > 0, '32 exporters all hashed to one receiver'
    outs = [receiver_out(block, f'127.0.0.1:{c.port}')['packets'] for c in cols]
    assert outs[0] + outs[1] == sent['datagrams'] == outs[2] == outs[3]
    assert f'datagrams_in {sent["datagrams"]} ' in block


def test_hash_agent_keeps_each_exporter_on_one_receiver(weir_bin, tmp_path):
    """Transparent on loopback, so that the collectors see who exported what."""
    if os.geteuid() != 0:
        pytest.skip('tee_transparent needs CAP_NET_RAW (root)')
    cols = collectors(weir_bin, tmp_path, 3)
    for c in cols:
        c.start()
    try:
        with Relay(weir_bin, tmp_path, [f'id=1 ip={rcv_list(cols)}'],
                   extra=['tee_transparent: true']) as relay:
            sent = gen(weir_bin, relay.port, exporters=12, proto='v9')
            stop_all(relay, cols)
    finally:
        for c in cols:
            c.__exit__()
    seen = [exporters_seen(c) for c in cols]
    everyone = set()
    for i, s in enumerate(seen):
        for j in range(i + 1, len(seen)):
            assert not set(s) & set(seen[j]), 'an exporter reached two receivers'
        everyone |= set(s)
    assert everyone == {f'127.0.0.{i + 1}' for i in range(12)}
    # Templates went with the data: every record decoded, nothing held or dropped.
    assert sum(v[1] for s in seen for v in s.values()) == sent['records']
    assert all(v[2] == 0 and v[3] == 0 for s in seen for v in s.values())
    assert sum(totals(c.records())[1] for c in cols) == sent['bytes']


def test_round_robin_sends_templates_to_all(weir_bin, tmp_path):
    cols = collectors(weir_bin, tmp_path, 3)
    for c in cols:
        c.start()
    try:
        with Relay(weir_bin, tmp_path, [f'id=1 ip={rcv_list(cols)} balance-alg=rr']) as relay:
            sent = gen(weir_bin, relay.port, proto='v9', extra=['--template-every', '5'])
            block = stop_all(relay, cols)
    finally:
        for c in cols:
            c.__exit__()
    got = [totals(c.records()) for c in cols]
    # Data spread evenly, and each collector decoded all of its share (it had the templates).
    assert sum(g[1] for g in got) == sent['bytes']
    assert sum(g[2] for g in got) == sent['packets']
    assert all(g[2] > sent['packets'] // 5 for g in got)
    outs = [receiver_out(block, f'127.0.0.1:{c.port}')['packets'] for c in cols]
    assert sum(outs) > sent['datagrams'], 'template datagrams were not sent to every receiver'


def test_round_robin_copies_templates_out_of_mixed_datagrams(weir_bin, corpus_dir, tmp_path):
    """softflowd puts templates and data in one datagram: the others get a template-only copy."""
    exp = expected(corpus_dir)['softflowd_nf9']
    payloads = pcap_udp_payloads(os.path.join(corpus_dir, 'exports', 'softflowd_nf9.pcap'))
    cols = collectors(weir_bin, tmp_path, 2)
    for c in cols:
        c.start()
    try:
        with Relay(weir_bin, tmp_path, [f'id=1 ip={rcv_list(cols)} balance-alg=rr'],
                   workers=1) as relay:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for p in payloads:
                    s.sendto(p, ('127.0.0.1', relay.port))
            block = stop_all(relay, cols)
    finally:
        for c in cols:
            c.__exit__()
    got = [totals(c.records()) for c in cols]
    assert sum(g[1] for g in got) == exp['bytes']
    assert sum(g[2] for g in got) == exp['packets']
    assert int(re.search(r'template_copies (\d+)', block).group(1)) > 0


def test_dst_port_picks_the_collector_of_the_port(weir_bin, tmp_path):
    cols = collectors(weir_bin, tmp_path, 2)
    ports = [free_udp_port(), free_udp_port()]
    for c in cols:
        c.start()
    try:
        pool = f'id=1 ip={rcv_list(cols)} balance-alg=dst-port ports={ports[0]},{ports[1]}'
        with Relay(weir_bin, tmp_path, [pool], ports=ports) as relay:
            a = gen(weir_bin, ports[0], n=3000, proto='v5')
            b = gen(weir_bin, ports[1], n=5000, proto='ipfix')
            stop_all(relay, cols)
    finally:
        for c in cols:
            c.__exit__()
    assert totals(cols[0].records())[1:] == (a['bytes'], a['packets'])
    assert totals(cols[1].records())[1:] == (b['bytes'], b['packets'])


def test_filters_and_sampling(weir_bin, tmp_path):
    """Pool 1 takes only v5; pool 2 only exporter 127.0.0.2; pool 3 one datagram in 4."""
    cols = collectors(weir_bin, tmp_path, 3)
    for c in cols:
        c.start()
    try:
        pools = [f'id=1 ip=127.0.0.1:{cols[0].port} version=5',
                 f'id=2 ip=127.0.0.1:{cols[1].port} exporter=127.0.0.2/32',
                 f'id=3 ip=127.0.0.1:{cols[2].port} sample=4']
        with Relay(weir_bin, tmp_path, pools, workers=1) as relay:
            v5 = gen(weir_bin, relay.port, n=2800, proto='v5', exporters=2)
            v9 = gen(weir_bin, relay.port, n=2400, proto='v9', exporters=1)
            block = stop_all(relay, cols)
    finally:
        for c in cols:
            c.__exit__()
    assert totals(cols[0].records())[1:] == (v5['bytes'], v5['packets'])
    # Pool 2 got exactly what 127.0.0.2 sent (the second v5 exporter; v9 came from .1).
    from_2 = int(re.search(r'relay exporter 127\.0\.0\.2: packets_in (\d+) ', block).group(1))
    assert from_2 > 0
    assert receiver_out(block, f'127.0.0.1:{cols[1].port}')['packets'] == from_2
    total = v5['datagrams'] + v9['datagrams']
    out3 = receiver_out(block, f'127.0.0.1:{cols[2].port}')['packets']
    sampled = int(re.search(r'relay pool 3: .* sampled_out (\d+) ', block).group(1))
    assert out3 + sampled == total
    assert total // 4 <= out3 < total // 2  # 1 in 4, plus the v9 template datagrams
    assert totals(cols[2].records())[1] > 0


# --- a receiver killed mid-stream ---

def test_receiver_killed_mid_stream(weir_bin, tmp_path):
    """The dead receiver's exporters move (logged), the others stay; it comes back later."""
    cols = collectors(weir_bin, tmp_path, 3)
    for c in cols:
        c.start()
    dead = f'127.0.0.1:{cols[2].port}'
    try:
        with Relay(weir_bin, tmp_path, [f'id=1 ip={rcv_list(cols)}']) as relay:
            # 40 exporters: the dead receiver has none of them with odds (2/3)^40.
            g = subprocess.Popen([weir_bin, 'gen', '-P', 'v5', '-e', '40', '-n', '0', '-t', '3',
                                  '-r', '20k', '--json', f'127.0.0.1:{relay.port}'],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(1)
            cols[2].proc.kill()
            cols[2].proc.wait()
            out, err = g.communicate(timeout=60)
            assert g.returncode == 0, err
            assert relay.wait_log(r'receiver %s is down \(icmp' % re.escape(dead)), relay.text()
            before = relay.counters()
            # Back on the same port: the probe sees no ICMP error any more.
            start = len(relay.text())
            cols[2].start()
            assert relay.wait_log(r'receiver %s is up again' % re.escape(dead), start)
            gen(weir_bin, relay.port, n=3000, proto='v5', exporters=40)
            block = relay.stop()
            for c in cols:
                c.stop()
    finally:
        for c in cols:
            c.__exit__()
    moves = re.findall(r'exporter (\S+) moves from (\S+) to (\S+)', relay.text())
    assert moves, relay.text()
    # Nothing moves but the dead receiver's exporters, away from it and back to it.
    assert all(frm == dead or to == dead for _, frm, to in moves)
    away = {e for e, frm, _ in moves if frm == dead}
    back = {e for e, _, to in moves if to == dead}
    assert away and back <= away
    live = [receiver_out(before, f'127.0.0.1:{c.port}') for c in cols[:2]]
    assert all(r['state'] == 'up' and r['packets'] > 0 for r in live)
    assert receiver_out(before, dead)['state'] == 'down(icmp)'
    assert receiver_out(block, dead)['state'] == 'up'
    assert totals(cols[2].records())[1] > 0, 'the receiver got nothing after it came back'


def test_healthz_takes_a_receiver_out(weir_bin, tmp_path):
    status = {'code': 200}

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status['code'] if self.path == '/healthz' else 404)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    cols = collectors(weir_bin, tmp_path, 2)
    for c in cols:
        c.start()
    sick = f'127.0.0.1:{cols[1].port}'
    try:
        pool = f'id=1 ip={rcv_list(cols)} balance-alg=rr healthz={srv.server_port}/healthz'
        with Relay(weir_bin, tmp_path, [pool]) as relay:
            status['code'] = 503
            # Both receivers share the probed host, so both go down; pool has no receiver.
            assert relay.wait_log(r'receiver %s is down \(healthz' % re.escape(sick))
            gen(weir_bin, relay.port, n=500, proto='v5')
            block = relay.counters()
            assert int(re.search(r'no_receiver (\d+)', block).group(1)) > 0
            status['code'] = 200
            start = len(relay.text())
            assert relay.wait_log(r'receiver %s is up again' % re.escape(sick), start)
            sent = gen(weir_bin, relay.port, n=2000, proto='v5')
            stop_all(relay, cols)
    finally:
        srv.shutdown()
        for c in cols:
            c.__exit__()
    assert sum(totals(c.records())[1] for c in cols) == sent['bytes']


# --- the tee plugin inside weir collect ---

def test_tee_plugin_inside_collect(weir_bin, tmp_path):
    """plugins: print[p], tee[t]: the collector decodes and relays the same datagrams."""
    (tmp_path / 'down').mkdir()
    down = Collector(weir_bin, tmp_path / 'down')
    rcv = tmp_path / 'tee.lst'
    rcv.write_text(f'id=1 ip=127.0.0.1:{down.port}\n')
    up = Collector(weir_bin, tmp_path, extra=[f'tee_receivers[fwd]: {rcv}'])
    with open(up.conf) as f:
        text = f.read().replace('plugins: print[t]', 'plugins: print[t], tee[fwd]')
    with open(up.conf, 'w') as f:
        f.write(text)
    down.start()
    try:
        up.start()
        try:
            assert up.wait_log(r'relay: pool 1 \(tee\[fwd\], hash-agent\)')
            sent = gen(weir_bin, up.port, n=5000, proto='ipfix', exporters=3)
            up.stop()
        finally:
            up.__exit__()
        down.stop()
    finally:
        down.__exit__()
    assert totals(up.records())[1:] == (sent['bytes'], sent['packets'])
    assert totals(down.records())[1:] == (sent['bytes'], sent['packets'])
    assert re.search(r'relay receiver 127\.0\.0\.1:%d pool 1: state up packets_out %d ' %
                     (down.port, sent['datagrams']), up.log_text())


def test_collect_with_only_tee_plugins_runs_the_relay(weir_bin, tmp_path):
    (tmp_path / 'down').mkdir()
    down = Collector(weir_bin, tmp_path / 'down')
    down.start()
    try:
        with Relay(weir_bin, tmp_path, [f'id=1 ip=127.0.0.1:{down.port}'], cmd='collect',
                   extra=['plugins: tee[a]']) as relay:
            sent = gen(weir_bin, relay.port, n=2000, proto='v9')
            relay.stop()
        down.stop()
    finally:
        down.__exit__()
    assert totals(down.records())[1:] == (sent['bytes'], sent['packets'])


# --- bad input ---

def relay_fails(weir_bin, tmp_path, pools, extra=(), code=2):
    r = Relay(weir_bin, tmp_path, pools, extra=extra)
    p = run([weir_bin, 'relay', '-f', r.conf, '-F'], timeout=60)
    assert p.returncode == code, (p.returncode, p.stderr)
    return p.stderr


def test_receivers_file_errors(weir_bin, tmp_path):
    err = relay_fails(weir_bin, tmp_path, ['! pools', 'id=1 ip=127.0.0.1:2100',
                                           'id=2 ip=127.0.0.1:2101 balance-alg=fastest'])
    assert re.search(r'relay\.lst:3: balance-alg: .fastest. is not', err), err
    err = relay_fails(weir_bin, tmp_path, ['id=1 ip=127.0.0.1:2100', '', 'id=3'])
    assert re.search(r'relay\.lst:3: pool 3 has no receivers', err), err
    err = relay_fails(weir_bin, tmp_path, ['id=1 ip=collector.invalid:2100'])
    assert re.search(r"relay\.lst:1: ip: cannot resolve 'collector\.invalid'", err), err
    err = relay_fails(weir_bin, tmp_path, ['id=1 ip=127.0.0.1:2100 tag=5'])
    assert 'relay.lst:1: pool 1: tag= needs pre_tag_map' in err, err
    err = relay_fails(weir_bin, tmp_path, ['id=1 ip=127.0.0.1:2100 tag=9-5'])
    assert re.search(r"relay\.lst:1: tag: range '9-5'", err), err
    pmap = tmp_path / 'pretag.map'
    pmap.write_text('set_tag=1 ip=127.0.0.2\nset_tag=2 ip=127.0.0.3 in=4\n')
    err = relay_fails(weir_bin, tmp_path, ['id=1 ip=127.0.0.1:2100 balance-alg=hash-tag'],
                      extra=[f'pre_tag_map: {pmap}'])
    assert f'{pmap}:2: in: the tee relay tags whole datagrams by exporter' in err, err
    err = relay_fails(weir_bin, tmp_path, ['id=1 ip=[::1]:2100'],
                      extra=['tee_source_ip: 127.0.0.1'])
    assert 'tee_source_ip 127.0.0.1 is not of the receiver' in err
    # No receivers file at all.
    conf = tmp_path / 'none.conf'
    conf.write_text(f'nfacctd_port: {free_udp_port()}\n')
    p = run([weir_bin, 'relay', '-f', str(conf), '-F'])
    assert p.returncode == 2 and 'no tee_receivers configured' in p.stderr


def test_transparent_without_cap_net_raw(weir_bin, tmp_path):
    setpriv = '/usr/bin/setpriv'
    if not os.access(setpriv, os.X_OK):
        pytest.skip('setpriv not installed')
    r = Relay(weir_bin, tmp_path, ['id=1 ip=127.0.0.1:2100'], extra=['tee_transparent: true'])
    p = run([setpriv, '--bounding-set=-net_raw', '--inh-caps=-net_raw', weir_bin, 'relay', '-f',
             r.conf, '-F'])
    assert p.returncode == 1, p.stderr
    assert 'CAP_NET_RAW' in p.stderr


def test_oversize_and_odd_datagrams_are_relayed_unchanged(weir_bin, tmp_path):
    """The relay judges no content: 0, 1 and 65507-byte datagrams arrive byte for byte."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(('127.0.0.1', 0))
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        rx.settimeout(WAIT_S)
        with Relay(weir_bin, tmp_path, [f'id=1 ip=127.0.0.1:{rx.getsockname()[1]}'],
                   workers=1) as relay:
            big = bytes(range(256)) * 255 + bytes(227)
            assert len(big) == 65507
            wanted = [b'', b'\x00', big, b'\x00\x0a' + b'\xff' * 100]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                for w in wanted:
                    tx.sendto(w, ('127.0.0.1', relay.port))
            got = [rx.recv(65535) for _ in wanted]
            block = relay.stop()
    assert got == wanted
    assert 'send_failed 0 ' in block


def test_source_port_source_ip_and_ipv6_receiver(weir_bin, tmp_path):
    """src_port= and tee_source_ip set where copies leave from; an IPv6 receiver on ::1."""
    if not socket.has_ipv6:
        pytest.skip('no IPv6')
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r4, \
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as r6:
        r4.bind(('127.0.0.1', 0))
        r6.bind(('::1', 0))
        for s in (r4, r6):
            s.settimeout(WAIT_S)
        sport = free_udp_port()
        pools = [f'id=1 ip=127.0.0.1:{r4.getsockname()[1]} src_port={sport}',
                 f'id=2 ip=[::1]:{r6.getsockname()[1]}']
        with Relay(weir_bin, tmp_path, pools, workers=2) as relay:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                tx.sendto(b'\x00\x05hello', ('127.0.0.1', relay.port))
            d4, a4 = r4.recvfrom(2048)
            d6, a6 = r6.recvfrom(2048)
            relay.stop()
    assert d4 == d6 == b'\x00\x05hello'
    assert a4 == ('127.0.0.1', sport)
    assert a6[0] == '::1'


# --- SIGUSR2: the receivers file reloaded at run time ---

class Sink:
    """A UDP receiver on loopback that a thread drains: payloads kept, kernel drops read."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.got = []
        self.done = False
        self.thr = threading.Thread(target=self._run, daemon=True)
        self.thr.start()

    def _run(self):
        while not self.done:
            try:
                self.got.append(self.sock.recv(2048))
            except socket.timeout:
                pass
            except OSError:
                return

    def addr(self):
        return f'127.0.0.1:{self.port}'

    def drops(self):
        """The socket's drops column in /proc/net/udp."""
        inode = str(os.fstat(self.sock.fileno()).st_ino)
        with open('/proc/net/udp') as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[9] == inode:
                    return int(cols[-1])
        return 0

    def wait(self, n, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.got)

    def close(self):
        self.done = True
        self.thr.join()
        self.sock.close()


def send_tagged(port, tag, n):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for i in range(n):
            tx.sendto(b'\x00\x05' + tag + b'%06d' % i, ('127.0.0.1', port))


def rewrite(path, pools):
    """Replaces the receivers file at once (rename), as an operator's tooling should."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write('\n'.join(pools) + '\n')
    os.replace(tmp, path)


def reload(relay, pattern, count=1):
    """SIGUSR2, then waits until the log shows `pattern` `count` times."""
    relay.proc.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if len(re.findall(pattern, relay.text())) >= count:
            return True
        time.sleep(0.005)
    return False


def reload_counts(block):
    m = re.search(r'relay reloads (\d+) reload_failures (\d+)', block)
    assert m, block
    return int(m.group(1)), int(m.group(2))


def check_reload_moves_traffic(relay, s1, s2, who):
    send_tagged(relay.port, b'A', 100)
    assert s1.wait(100) == 100
    rewrite(relay.rcv, [f'id=1 ip={s2.addr()}'])
    assert reload(relay, who + r': SIGUSR2: receivers reloaded: 1 pool, 1 receiver -> 1 pool, '
                  r'1 receiver \(0 kept, 1 new, 1 removed\)'), relay.text()
    send_tagged(relay.port, b'B', 100)
    assert s2.wait(100) == 100
    time.sleep(0.2)
    assert all(p[2:3] == b'A' for p in s1.got) and len(s1.got) == 100
    assert all(p[2:3] == b'B' for p in s2.got) and len(s2.got) == 100
    block = relay.counters()
    assert reload_counts(block) == (1, 0)
    assert re.search(r'relay receiver %s pool 1: state up packets_out 100 ' % s2.addr(), block)
    # A bad line: logged as file:line, counted, and the running pools go on.
    rewrite(relay.rcv, [f'id=1 ip={s1.addr()}', 'id=2 ip=127.0.0.1:1 balance-alg=fastest'])
    assert reload(relay, who + r': SIGUSR2: receivers not reloaded, the running pools stay: '
                  r'\S*relay\.lst:2: balance-alg'), relay.text()
    send_tagged(relay.port, b'C', 50)
    assert s2.wait(150) == 150
    assert len(s1.got) == 100
    assert reload_counts(relay.counters()) == (1, 1)


def test_sigusr2_reloads_the_receivers(weir_bin, tmp_path):
    s1, s2 = Sink(), Sink()
    try:
        with Relay(weir_bin, tmp_path, [f'id=1 ip={s1.addr()}']) as relay:
            check_reload_moves_traffic(relay, s1, s2, 'weir relay')
            block = relay.stop()
    finally:
        s1.close()
        s2.close()
    assert reload_counts(block) == (1, 1)


def test_sigusr2_reloads_transparent_pools(weir_bin, tmp_path):
    """Raw sockets: the copies keep the exporter's address across the reload."""
    if os.geteuid() != 0:
        pytest.skip('tee_transparent needs CAP_NET_RAW')
    s1, s2 = Sink(), Sink()
    try:
        with Relay(weir_bin, tmp_path, [f'id=1 ip={s1.addr()}'],
                   extra=['tee_transparent: true']) as relay:
            check_reload_moves_traffic(relay, s1, s2, 'weir relay')
            block = relay.stop()
    finally:
        s1.close()
        s2.close()
    assert 'send_failed 0 ' in block


def test_sigusr2_reloads_the_tee_plugin_inside_collect(weir_bin, tmp_path):
    """plugins: print[p], tee[t]: the reload goes through the ingest workers' tap."""
    s1, s2 = Sink(), Sink()
    out = tmp_path / 'out'
    extra = ['plugins: print[p], tee[t]', 'print_output: json', 'print_refresh_time: 60',
             f'print_output_file[p]: {out}/f-%Y%m%d-%H%M%S.json', 'aggregate: src_host']
    try:
        with Relay(weir_bin, tmp_path, [f'id=1 ip={s1.addr()}'], cmd='collect',
                   extra=extra) as relay:
            check_reload_moves_traffic(relay, s1, s2, 'weir collect')
            relay.stop()
    finally:
        s1.close()
        s2.close()


def test_sigusr2_without_tee_plugins(weir_bin, tmp_path):
    col = Collector(weir_bin, tmp_path)
    with col:
        col.proc.send_signal(signal.SIGUSR2)
        assert col.wait_log(r'weir collect: SIGUSR2: no tee plugin, nothing to reload')
        col.stop()


def test_reloads_under_traffic_lose_nothing(weir_bin, tmp_path):
    """20k datagrams over ~2 s while the file is reloaded 20 times: pool 1 keeps its receiver
    (every datagram reaches it once), pool 2 flips between two receivers and a third pool
    comes and goes (sockets opened and closed under traffic). Run under ASan in `make test`."""
    keep, a, b, c = Sink(), Sink(), Sink(), Sink()
    sinks = (keep, a, b, c)
    versions = [[f'id=1 ip={keep.addr()}', f'id=2 ip={a.addr()}'],
                [f'id=1 ip={keep.addr()}', f'id=2 ip={b.addr()}', f'id=3 ip={c.addr()}']]
    total, reloads = 20000, 20
    try:
        with Relay(weir_bin, tmp_path, versions[0], workers=2) as relay:
            def sender():
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                    t0 = time.monotonic()
                    for i in range(total):
                        tx.sendto(b'\x00\x05S%06d' % i, ('127.0.0.1', relay.port))
                        if i % 100 == 99:  # ~10k/s
                            time.sleep(max(0.0, t0 + (i + 1) / 10000 - time.monotonic()))
            thr = threading.Thread(target=sender)
            thr.start()
            for k in range(reloads):
                time.sleep(0.08)
                rewrite(relay.rcv, versions[(k + 1) % 2])
                assert reload(relay, r'SIGUSR2: receivers reloaded', k + 1), relay.text()
            thr.join()
            time.sleep(0.5)
            block = relay.stop()
        m = re.search(r'kernel_drops total (\d+)', block)
        assert m, block
        arrived = total - int(m.group(1))
        assert reload_counts(block) == (reloads, 0)
        assert keep.wait(arrived - keep.drops(), timeout=10) + keep.drops() == arrived
        assert len(set(keep.got)) == len(keep.got)  # no datagram sent twice
        pool2 = len(a.got) + len(b.got) + a.drops() + b.drops()
        assert pool2 == arrived, (pool2, arrived)
        assert len(set(a.got) | set(b.got)) == len(a.got) + len(b.got)
        assert len(c.got) > 0 and len(a.got) > 0 and len(b.got) > 0
    finally:
        for s in sinks:
            s.close()


# --- pre_tag_map: tag= pools and balance-alg=hash-tag ---

def send_from(src, port, payloads):
    """Sends payloads from address src (127.0.0.x: any loopback address is ours)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.bind((src, 0))
        for p in payloads:
            tx.sendto(p, ('127.0.0.1', port))


def tag_counters(block):
    m = re.search(r'relay pre_tag_map \S+: rules (\d+) datagrams_tagged (\d+) untagged (\d+) '
                  r'no_tag_pool (\d+) lookups (\d+)', block)
    assert m, block
    return tuple(int(g) for g in m.groups())


def test_tag_pools_split_exporters(weir_bin, tmp_path):
    """127.0.0.2 is tag 1 and 127.0.0.3 tag 2: pool tag=1 -> sink A, tag=2 -> sink B; 127.0.0.1
    matches no rule (tag 0) and no pool takes it. SIGUSR2 reloads the map with the pools."""
    pmap = tmp_path / 'pretag.map'
    pmap.write_text('set_tag=1 ip=127.0.0.2\nset_tag=2 ip=127.0.0.3/32\n')
    a, b = Sink(), Sink()
    try:
        with Relay(weir_bin, tmp_path, [f'id=1 ip={a.addr()} tag=1',
                                        f'id=2 ip={b.addr()} tag=2'],
                   extra=[f'pre_tag_map: {pmap}']) as relay:
            send_from('127.0.0.2', relay.port, [b'\x00\x05A%04d' % i for i in range(50)])
            send_from('127.0.0.3', relay.port, [b'\x00\x05B%04d' % i for i in range(30)])
            send_from('127.0.0.1', relay.port, [b'\x00\x05C%04d' % i for i in range(10)])
            assert a.wait(50) == 50 and b.wait(30) == 30
            time.sleep(0.2)
            assert {p[2:3] for p in a.got} == {b'A'} and len(a.got) == 50
            assert {p[2:3] for p in b.got} == {b'B'} and len(b.got) == 30
            block = relay.counters()
            rules, tagged, untagged, no_pool, lookups = tag_counters(block)
            assert (rules, tagged, untagged, no_pool) == (2, 80, 10, 10), block
            assert lookups <= 3 * 2, block  # per address and worker, not per datagram
            assert re.search(r'relay pool 1: datagrams_in 90 .* tag_filtered 40', block), block
            # Swap the tags: the map reloads with the receivers file.
            pmap.write_text('set_tag=2 ip=127.0.0.2\nset_tag=1 ip=127.0.0.3\n')
            assert reload(relay, r'SIGUSR2: receivers reloaded: .*pre_tag_map \S+: 2 rules'), \
                relay.text()
            send_from('127.0.0.2', relay.port, [b'\x00\x05D%04d' % i for i in range(5)])
            assert b.wait(35) == 35
            # A map the relay cannot apply: file:line, and the running one stays.
            pmap.write_text('set_tag=1 ip=127.0.0.2\nset_tag=2 filter=\'udp\'\n')
            assert reload(relay, r'receivers not reloaded, the running pools stay: '
                          r'\S*pretag\.map:2: filter:'), relay.text()
            send_from('127.0.0.2', relay.port, [b'\x00\x05E%04d' % i for i in range(5)])
            assert b.wait(40) == 40
            time.sleep(0.2)
            assert len(a.got) == 50
            relay.stop()
    finally:
        a.close()
        b.close()


def test_hash_tag_keeps_each_tag_on_one_receiver(weir_bin, tmp_path):
    """Four exporters, tags 1..4 (two exporters share tag 4): each tag lands whole on one of two
    receivers, receiver tag % 2 as pmacct's hash-tag; sFlow is tagged by its agent address."""
    pmap = tmp_path / 'pretag.map'
    pmap.write_text('set_tag=1 ip=127.0.0.2\nset_tag=2 ip=127.0.0.3\nset_tag=3 ip=127.0.0.4\n'
                    'set_tag=4 ip=127.0.0.5\nset_tag=4 ip=127.0.0.6\nset_tag=3 ip=10.1.2.3\n')
    sinks = [Sink(), Sink()]
    try:
        with Relay(weir_bin, tmp_path,
                   [f'id=1 ip={sinks[0].addr()},{sinks[1].addr()} balance-alg=hash-tag'],
                   extra=[f'pre_tag_map: {pmap}'], workers=2) as relay:
            for i in range(2, 7):
                send_from(f'127.0.0.{i}', relay.port,
                          [b'\x00\x05%d%04d' % (i, k) for k in range(40)])
            # sFlow v5 from 127.0.0.2 for agent 10.1.2.3 (tag 3).
            sflow = struct.pack('>II4sII', 5, 1, socket.inet_aton('10.1.2.3'), 0, 1)
            send_from('127.0.0.2', relay.port, [sflow + struct.pack('>I', k) for k in range(7)])
            # receiver 0 gets the even tags (2 and 4: three exporters), receiver 1 the odd
            # ones (1 and 3: two exporters and the sFlow agent)
            assert sinks[0].wait(40 * 3) + sinks[1].wait(40 * 2 + 7) == 207
            time.sleep(0.2)
            relay.stop()
    finally:
        for s in sinks:
            s.close()
    tag = {2: 1, 3: 2, 4: 3, 5: 4, 6: 4}
    for k, s in enumerate(sinks):
        froms = {p[2] - ord('0') for p in s.got if p[:2] == b'\x00\x05'}
        assert froms == {i for i, t in tag.items() if t % 2 == k}, (k, froms)
    assert sum(1 for p in sinks[1].got if p[:4] == b'\x00\x00\x00\x05') == 7
