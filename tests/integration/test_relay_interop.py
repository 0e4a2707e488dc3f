"""test_relay_interop.py - the relay in front of pmacct's nfacctd and nfdump's nfcapd, on loopback
and, with tee_transparent, across network namespaces the test builds (veth, private addresses):
the receivers decode what they get and see the original exporter addresses."""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
import uuid

import pytest

from conftest import free_udp_port, need_tool, run
from test_collect import Collector
from test_relay import Relay, Sink, exporters_seen, gen, receiver_out

WAIT_S = 60


class Nfacctd:
    """nfacctd with a print plugin keyed by exporter (peer_src_ip) into a JSON file."""

    def __init__(self, workdir, ip, port, netns=None):
        self.dir = str(workdir)
        self.out = os.path.join(self.dir, 'nfacctd.json')
        self.conf = os.path.join(self.dir, 'nfacctd.conf')
        with open(self.conf, 'w') as f:
            f.write('\n'.join([
                'daemonize: false', f'nfacctd_ip: {ip}', f'nfacctd_port: {port}',
                'plugins: print[p]',
                'aggregate[p]: peer_src_ip, src_host, dst_host, src_port, dst_port, proto',
                'print_output[p]: json', f'print_output_file[p]: {self.out}',
                'print_output_file_append[p]: true', 'print_refresh_time[p]: 1']) + '\n')
        cmd = [need_tool('nfacctd'), '-f', self.conf]
        self.proc = subprocess.Popen(ns_cmd(netns) + cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        time.sleep(1)  # nfacctd has no readiness line on stdout to wait for

    def stop(self):
        self.proc.send_signal(signal.SIGINT)  # purges the print cache, then exits
        out, _ = self.proc.communicate(timeout=WAIT_S)
        return out

    def rows(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out) as f:
            return [json.loads(line) for line in f if line.strip()]


class Nfcapd:
    def __init__(self, workdir, ip, port, netns=None):
        self.dir = os.path.join(str(workdir), 'nfcapd')
        os.makedirs(self.dir, exist_ok=True)
        cmd = [need_tool('nfcapd'), '-b', ip, '-p', str(port), '-w', self.dir, '-t', '3600']
        self.proc = subprocess.Popen(ns_cmd(netns) + cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        time.sleep(1)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)  # closes the current file
        return self.proc.communicate(timeout=WAIT_S)[0]

    def flows(self):
        """(router ip, packets, bytes) of every flow in the files nfcapd wrote."""
        r = run([need_tool('nfdump'), '-R', self.dir, '-q', '-o', 'fmt:%ra %pkt %byt'])
        assert r.returncode == 0, r.stderr
        return [(a, int(p), int(b)) for a, p, b in (ln.split() for ln in r.stdout.splitlines())]


def ns_cmd(netns):
    return ['ip', 'netns', 'exec', netns] if netns else []


# --- loopback: nfacctd and nfcapd as receivers ---

def test_nfacctd_and_nfcapd_behind_the_relay(weir_bin, tmp_path):
    need_tool('nfacctd')
    need_tool('nfcapd')
    p1, p2 = free_udp_port(), free_udp_port()
    nfa = Nfacctd(tmp_path, '127.0.0.1', p1)
    nfc = Nfcapd(tmp_path, '127.0.0.1', p2)
    try:
        pools = [f'id=1 ip=127.0.0.1:{p1}', f'id=2 ip=127.0.0.1:{p2}']
        with Relay(weir_bin, tmp_path, pools) as relay:
            sent = gen(weir_bin, relay.port, n=4000, proto='v9', exporters=4)
            time.sleep(0.5)
            block = relay.stop()
    finally:
        nfa.stop()
        nfc.stop()
    assert receiver_out(block, f'127.0.0.1:{p1}')['packets'] == sent['datagrams']
    rows = nfa.rows()
    assert sum(r['bytes'] for r in rows) == sent['bytes']
    assert sum(r['packets'] for r in rows) == sent['packets']
    flows = nfc.flows()
    assert len(flows) == sent['records']
    assert sum(f[2] for f in flows) == sent['bytes']


# --- tee_transparent across namespaces ---

def v5_datagram(seq, n, base):
    """A NetFlow v5 datagram of n records, each one packet of base+i bytes."""
    now = int(time.time())
    hdr = struct.pack('>HHIIIIBBH', 5, n, 100000, now, 0, seq, 0, 0, 0)
    recs = b''
    for i in range(n):
        recs += struct.pack('>4s4s4sHHIIIIHHBBBBHHBBH', socket.inet_aton(f'10.0.0.{i + 1}'),
                            socket.inet_aton('10.9.9.9'), bytes(4), 1, 2, 1, base + i, 99000,
                            99900, 1000 + i, 53, 0, 0, 17, 0, 0, 0, 24, 24, 0)
    return hdr + recs


EXPORTER_SCRIPT = r'''
import socket, sys, json
sys.path.insert(0, {here!r})
from test_relay_interop import v5_datagram
out = {{}}
for src, dst in {pairs!r}:
    fam = socket.AF_INET6 if ':' in src else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        port = s.getsockname()[1]
        b = 0
        for seq in range({count}):
            d = v5_datagram(seq * 10, 10, 100)
            s.sendto(d, (dst, {port}))
            b += sum(100 + i for i in range(10))
        out[src] = [port, b]
    # one datagram too big for the collectors' side of the relay (veth MTU 1500)
    if src == {big!r}:
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.bind((src, 0))
            s.sendto(b'\x00\x05' + bytes(1598), (dst, {port}))
print(json.dumps(out))
'''


class Netns:
    """Three namespaces: exporters --veth-- relay --veth-- collectors. Always torn down."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.exp, self.rel, self.col = f'wexp{tag}', f'wrel{tag}', f'wcol{tag}'
        self.procs = []

    def sh(self, *cmd):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f'{" ".join(cmd)}: {r.stderr.strip()}')

    def ns(self, name, *cmd):
        self.sh('ip', 'netns', 'exec', name, *cmd)

    def __enter__(self):
        try:
            for n in (self.exp, self.rel, self.col):
                self.sh('ip', 'netns', 'add', n)
                self.ns(n, 'ip', 'link', 'set', 'lo', 'up')
            self.sh('ip', 'link', 'add', 've0', 'netns', self.exp, 'type', 'veth', 'peer',
                    'name', 'vr0', 'netns', self.rel)
            self.sh('ip', 'link', 'add', 'vr1', 'netns', self.rel, 'type', 'veth', 'peer',
                    'name', 'vc0', 'netns', self.col)
            for i in (2, 3, 4):
                self.ns(self.exp, 'ip', 'addr', 'add', f'10.77.1.{i}/24', 'dev', 've0')
                self.ns(self.exp, 'ip', '-6', 'addr', 'add', f'fd77:1::{i}/64', 'dev', 've0',
                        'nodad')
            self.ns(self.rel, 'ip', 'addr', 'add', '10.77.1.1/24', 'dev', 'vr0')
            self.ns(self.rel, 'ip', '-6', 'addr', 'add', 'fd77:1::1/64', 'dev', 'vr0', 'nodad')
            self.ns(self.rel, 'ip', 'addr', 'add', '10.77.2.1/24', 'dev', 'vr1')
            self.ns(self.rel, 'ip', '-6', 'addr', 'add', 'fd77:2::1/64', 'dev', 'vr1', 'nodad')
            self.ns(self.col, 'ip', 'addr', 'add', '10.77.2.2/24', 'dev', 'vc0')
            self.ns(self.col, 'ip', '-6', 'addr', 'add', 'fd77:2::2/64', 'dev', 'vc0', 'nodad')
            for n, dev in ((self.exp, 've0'), (self.rel, 'vr0'), (self.rel, 'vr1'),
                           (self.col, 'vc0')):
                self.ns(n, 'ip', 'link', 'set', dev, 'up')
            # The collectors' way back to the exporters (strict reverse-path filtering).
            self.ns(self.col, 'ip', 'route', 'add', '10.77.1.0/24', 'via', '10.77.2.1')
            self.ns(self.col, 'ip', '-6', 'route', 'add', 'fd77:1::/64', 'via', 'fd77:2::1')
        except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired) as e:
            self.__exit__()
            pytest.skip(f'cannot build network namespaces here: {e}')
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for n in (self.exp, self.rel, self.col):
            subprocess.run(['ip', 'netns', 'del', n], capture_output=True, timeout=30)


def wait_for(path_or_fn, what):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if path_or_fn():
            return
        time.sleep(0.05)
    raise AssertionError(f'timed out waiting for {what}')


def test_transparent_across_namespaces(weir_bin, tmp_path):
    """Exporters 10.77.1.2-4 and fd77:1::2-4; the receivers must see those, not the relay."""
    if os.geteuid() != 0:
        pytest.skip('network namespaces and raw sockets need root')
    need_tool('nfacctd')
    need_tool('nfcapd')
    port, pw, pa, pc = 2100, 2200, 2300, 2400
    with Netns() as nets:
        # weir collect in the collectors' namespace, dual stack.
        (tmp_path / 'w').mkdir()
        col = Collector(weir_bin, tmp_path / 'w', ip='::', workers=1)
        col.port = pw
        with open(col.conf) as f:
            text = re.sub(r'nfacctd_port: \d+', f'nfacctd_port: {pw}', f.read())
        with open(col.conf, 'w') as f:
            f.write(text)
        col.proc = subprocess.Popen(ns_cmd(nets.col) + [weir_bin, 'collect', '-f', col.conf,
                                                         '-F'],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        nets.procs.append(col.proc)
        assert col.wait_log(r'listening: udp \[::\]:%d ' % pw), col.log_text()
        nfa = Nfacctd(tmp_path, '10.77.2.2', pa, netns=nets.col)
        nets.procs.append(nfa.proc)
        nfc = Nfcapd(tmp_path, '10.77.2.2', pc, netns=nets.col)
        nets.procs.append(nfc.proc)

        pools = [f'id=1 ip=10.77.2.2:{pw} exporter=10.77.1.0/24',
                 f'id=2 ip=[fd77:2::2]:{pw} exporter=fd77:1::/64',
                 f'id=3 ip=10.77.2.2:{pa} exporter=10.77.1.0/24',
                 f'id=4 ip=10.77.2.2:{pc} exporter=10.77.1.0/24']
        relay = Relay(weir_bin, tmp_path, pools, ports=[port],
                      extra=['tee_transparent: true'])
        with open(relay.conf) as f:
            text = f.read().replace('nfacctd_ip: 127.0.0.1', 'nfacctd_ip: ::')
        with open(relay.conf, 'w') as f:
            f.write(text)
        relay.proc = subprocess.Popen(ns_cmd(nets.rel) + [weir_bin, 'relay', '-f', relay.conf,
                                                           '-F'],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        nets.procs.append(relay.proc)
        assert relay.wait_log(r'listening: udp \[::\]:%d ' % port), relay.text()

        v4 = [f'10.77.1.{i}' for i in (2, 3, 4)]
        v6 = [f'fd77:1::{i}' for i in (2, 3, 4)]
        pairs = [(a, '10.77.1.1') for a in v4] + [(a, 'fd77:1::1') for a in v6]
        script = EXPORTER_SCRIPT.format(here=os.path.dirname(os.path.abspath(__file__)),
                                        pairs=pairs, count=20, port=port, big='10.77.1.2')
        r = subprocess.run(ns_cmd(nets.exp) + ['/usr/bin/python3', '-c', script],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        sent = json.loads(r.stdout)
        # 20 datagrams per exporter, plus the big one from 10.77.1.2.
        wait_for(lambda: re.search(r'send_failed [1-9]', relay.counters()), 'the big one')
        block = relay.stop()
        col.stop()
        nfa.stop()
        nfc.stop()

    # The relay itself: 121 in, the big one failed once per v4 pool, nothing else failed.
    assert 'datagrams_in 121 ' in block
    for p in (pw, pa, pc):
        r4 = receiver_out(block, f'10.77.2.2:{p}')
        assert (r4['packets'], r4['failed']) == (60, 1)
    r6 = receiver_out(block, f'[fd77:2::2]:{pw}')
    assert (r6['packets'], r6['failed']) == (60, 0)
    # weir collect: one exporter per original address, with its own source port kept.
    seen = exporters_seen(col)
    assert set(seen) == set(v4 + v6), seen
    assert all(seen[a][1] == 200 for a in v4 + v6)
    assert all(v[2] == 0 and v[3] == 0 for v in seen.values())
    # nfacctd: peer_ip_src is the exporter, not the relay.
    rows = Nfacctd.rows(nfa)
    by_peer = {}
    for row in rows:
        by_peer[row['peer_ip_src']] = by_peer.get(row['peer_ip_src'], 0) + row['bytes']
    assert by_peer == {a: sent[a][1] for a in v4}
    # nfcapd: the router address of each flow is the exporter.
    by_router = {}
    for a, _, b in nfc.flows():
        by_router[a] = by_router.get(a, 0) + b
    assert by_router == {a: sent[a][1] for a in v4}


# --- pre_tag_map: tag= pools and hash-tag, weir against nfacctd's tee plugin ---

class NfacctdTee:
    """nfacctd with a tee plugin: the same receivers file and pre_tag_map as the relay."""

    def __init__(self, workdir, port, receivers, pretag):
        self.conf = os.path.join(str(workdir), 'nfacctd-tee.conf')
        with open(self.conf, 'w') as f:
            f.write('\n'.join([
                'daemonize: false', 'nfacctd_ip: 127.0.0.1', f'nfacctd_port: {port}',
                'plugins: tee[t]', f'tee_receivers[t]: {receivers}', f'pre_tag_map: {pretag}',
                'tee_transparent[t]: false']) + '\n')
        self.proc = subprocess.Popen([need_tool('nfacctd'), '-f', self.conf],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        return self.proc.communicate(timeout=WAIT_S)[0]


def split_by_tag(weir_bin, workdir, pools_of, daemon, want):
    """Sends the same v5 datagrams from 127.0.0.2..5 through weir relay or nfacctd; returns, per
    sink, the set of exporters (127.0.0.x -> x) whose datagrams it got, and the counts."""
    workdir.mkdir(parents=True)
    pmap = workdir / 'pretag.map'
    pmap.write_text('! exporter -> tag\nset_tag=1 ip=127.0.0.2\nset_tag=2 ip=127.0.0.3\n'
                    'set_tag=3 ip=127.0.0.4\nset_tag=4 ip=127.0.0.5\n')
    sinks = [Sink(), Sink()]
    sent = 0
    try:
        pools = pools_of(sinks)
        port = free_udp_port()
        work = workdir / daemon
        work.mkdir()
        if daemon == 'weir':
            proc = Relay(weir_bin, work, pools, ports=[port], extra=[f'pre_tag_map: {pmap}'])
            proc.start()
        else:
            lst = work / 'tee.lst'
            lst.write_text('\n'.join(pools) + '\n')
            proc = NfacctdTee(work, port, lst, pmap)
        try:
            for x in (2, 3, 4, 5):
                # The exporter in the engine_id byte of each datagram (v5 header offset 21).
                dgrams = []
                for seq in range(20):
                    d = bytearray(v5_datagram(seq * 2, 2, 100))
                    d[21] = x
                    dgrams.append(bytes(d))
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                    tx.bind((f'127.0.0.{x}', 0))
                    for d in dgrams:
                        tx.sendto(d, ('127.0.0.1', port))
                        sent += 1
            deadline = time.monotonic() + 10
            while len(sinks[0].got) + len(sinks[1].got) < want and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
        finally:
            proc.stop()
    finally:
        for s in sinks:
            s.close()
    return [{d[21] for d in s.got} for s in sinks], [len(s.got) for s in sinks]


def test_tag_split_matches_nfacctd_tee(weir_bin, tmp_path):
    """pmacct's own tee plugin with the same files: pools tag=1,3 / tag=2-4,-3 -> the same
    exporters at the same sinks, and hash-tag over two receivers -> tag % 2 in both."""
    need_tool('nfacctd')
    # Exporter 127.0.0.x has tag x - 1.
    cases = [
        # tags 1, 3 -> sink 0; sink 1: -3 first, so every tag but 3 (pmacct's evaluate_tags).
        (lambda s: [f'id=1 ip={s[0].addr()} tag=1,3', f'id=2 ip={s[1].addr()} tag=-3,2-4'],
         [{2, 4}, {2, 3, 5}], [40, 60]),
        # hash-tag: receiver tag % 2.
        (lambda s: [f'id=1 ip={s[0].addr()},{s[1].addr()} balance-alg=hash-tag'],
         [{3, 5}, {2, 4}], [40, 40]),
    ]
    for i, (pools_of, split, counts) in enumerate(cases):
        w = split_by_tag(weir_bin, tmp_path / f'w{i}', pools_of, 'weir', sum(counts))
        p = split_by_tag(weir_bin, tmp_path / f'p{i}', pools_of, 'nfacctd', sum(counts))
        assert w == p, (w, p)
        assert w == (split, counts), w
