"""libpcap capture metered into flows by `weir collect`: pcap_savefile against softflowd's export
of the same traffic, pcap_filter, the bounded flow cache, and live capture on a veth pair inside
a network namespace the test creates (metered traffic, and export datagrams decoded). Export
datagrams in savefiles: test_savefile_exports.py."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import uuid

import pytest

import oracle
from conftest import run
from test_collect import WAIT_S, Collector, expected, totals

TRAFFIC = 'source/traffic_public.pcap'
KEY = 'aggregate: src_host, dst_host, src_port, dst_port, proto'


def flow_key(r):
    """(src, dst, proto, sport, dport); ICMP has no ports (softflowd puts type/code there)."""
    proto = oracle.proto_number(r['ip_proto']) if isinstance(r['ip_proto'], str) \
        else int(r['ip_proto'])
    icmp = proto in (1, 58)
    return (r['ip_src'], r['ip_dst'], proto, 0 if icmp else r.get('port_src', 0),
            0 if icmp else r.get('port_dst', 0))


def per_key(recs):
    out = {}
    for r in recs:
        b, p = out.get(flow_key(r), (0, 0))
        out[flow_key(r)] = (b + int(r['bytes']), p + int(r['packets']))
    return out


def softflowd_flows(weir_bin, corpus_dir, name='softflowd_nf9'):
    p, recs = oracle.weir_decode(weir_bin, os.path.join(corpus_dir, 'exports', name + '.pcap'))
    assert p.returncode == 0, p.stderr
    return [r for r in recs if r['event_type'] == 'purge']


def savefile_run(weir_bin, corpus_dir, tmp_path, extra=()):
    """weir collect metering the traffic pcap; it exits by itself at the end of the file."""
    col = Collector(weir_bin, tmp_path, extra=[
        KEY, f'pcap_savefile: {os.path.join(corpus_dir, TRAFFIC)}', *extra])
    col.proc = subprocess.Popen([col.bin, 'collect', '-f', col.conf, '-F'],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = col.proc.communicate(timeout=WAIT_S * 2)
    assert col.proc.returncode == 0, (err, col.log_text())
    return col, col.records()


def test_savefile_matches_softflowd(weir_bin, corpus_dir, tmp_path):
    """Per flow key, the bytes and packets weir meters from the traffic pcap equal softflowd's
    NetFlow v9 export of the same file (softflowd splits flows on its own timeouts, so flows
    are compared per key, summed)."""
    col, recs = savefile_run(weir_bin, corpus_dir, tmp_path)
    soft = softflowd_flows(weir_bin, corpus_dir)
    exp = expected(corpus_dir)['softflowd_nf9']
    assert totals(recs)[1:] == (exp['bytes'], exp['packets'])
    mine, theirs = per_key(recs), per_key(soft)
    assert set(mine) == set(theirs)
    diff = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
    assert not diff, list(diff.items())[:10]
    log = col.log_text()
    assert 'meter: 6391 packets 1958078 bytes metered' in log, log
    assert '(end of file)' in log


def test_savefile_filter_and_fields(weir_bin, corpus_dir, tmp_path):
    """pcap_filter in libpcap syntax; VLANs, MACs, TCP flags and timestamps reach the output."""
    col, recs = savefile_run(weir_bin, corpus_dir, tmp_path, extra=[
        'pcap_filter: vlan and ip and tcp',
        'aggregate: src_host, dst_host, src_port, dst_port, proto, vlan, src_mac, dst_mac, '
        'tcpflags, timestamp_start, timestamp_end'])
    assert recs
    assert {r['ip_proto'] for r in recs} == {'tcp'}
    assert all(':' not in r['ip_src'] for r in recs)
    assert {r['vlan'] for r in recs} <= {10, 20, 300} and len({r['vlan'] for r in recs}) > 1
    assert all(r['mac_src'] != '00:00:00:00:00:00' for r in recs)
    assert any(int(r['tcp_flags']) & 0x02 for r in recs)
    assert all(r['timestamp_start'] <= r['timestamp_end'] for r in recs)
    assert all(r['timestamp_start'].startswith('2024-05-14') for r in recs)
    soft = [r for r in softflowd_flows(weir_bin, corpus_dir)
            if r['ip_proto'] == 'tcp' and 'vlan' in r and r['vlan'] and ':' not in r['ip_src']]
    assert sum(r['packets'] for r in recs) == sum(r['packets'] for r in soft)


def test_bounded_cache_evicts_and_loses_nothing(weir_bin, corpus_dir, tmp_path):
    col, recs = savefile_run(weir_bin, corpus_dir, tmp_path, extra=[
        'weir_flow_cache_entries: 8', 'weir_flow_inactive_timeout: 1s'])
    assert totals(recs)[1:] == (1958078, 6391)
    log = col.log_text()
    evicted = int(log.split(' evicted)')[0].rsplit(' ', 1)[1])
    assert evicted > 0, log


def test_savefile_recorded_speed_and_errors(weir_bin, corpus_dir, tmp_path):
    """A missing file and a bad filter are configuration errors (exit 2 or 1, with the reason);
    a truncated pcap stops cleanly."""
    col = Collector(weir_bin, tmp_path, extra=[KEY, 'pcap_savefile: /nonexistent.pcap'])
    r = run([weir_bin, 'collect', '-F', '-f', col.conf], timeout=WAIT_S)
    assert r.returncode == 1 and 'nonexistent.pcap' in r.stderr
    col = Collector(weir_bin, tmp_path, extra=[
        KEY, f'pcap_savefile: {os.path.join(corpus_dir, TRAFFIC)}', 'pcap_filter: tcp and and'])
    r = run([weir_bin, 'collect', '-F', '-f', col.conf], timeout=WAIT_S)
    assert r.returncode == 1 and 'pcap_filter' in r.stderr
    # the first 300 frames, cut in the middle of the last one
    with open(os.path.join(corpus_dir, TRAFFIC), 'rb') as f:
        data = f.read()
    off, n = 24, 0
    while n < 300:
        off += 16 + struct.unpack('<I', data[off + 8:off + 12])[0]
        n += 1
    cut = tmp_path / 'cut.pcap'
    cut.write_bytes(data[:off + 30])
    (tmp_path / 'cut').mkdir()
    col, recs = savefile_run(weir_bin, corpus_dir, tmp_path / 'cut', extra=[
        f'pcap_savefile: {cut}', 'weir_pcap_savefile_speed: 1000'])
    assert totals(recs)[2] == 300


# ------------------------------------------------------------------ live capture

def _ns_ok():
    return os.geteuid() == 0 and shutil.which('ip') is not None


@pytest.fixture
def veth_ns():
    """A network namespace with a veth pair (no addresses, IPv6 off): frames written to one
    end are captured on the other. Removed afterwards."""
    if not _ns_ok():
        pytest.skip('live capture needs root and iproute2 to create a network namespace')
    ns = 'weirt' + uuid.uuid4().hex[:8]
    if run(['ip', 'netns', 'add', ns]).returncode != 0:
        pytest.skip('cannot create a network namespace here')
    try:
        cmds = [['ip', 'link', 'add', 'wa', 'type', 'veth', 'peer', 'name', 'wb'],
                ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1'],
                ['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1'],
                ['ip', 'link', 'set', 'wa', 'up'], ['ip', 'link', 'set', 'wb', 'up'],
                ['ip', 'link', 'set', 'lo', 'up']]
        for c in cmds:
            r = run(['ip', 'netns', 'exec', ns, *c])
            if r.returncode != 0:
                pytest.skip(f'network namespace setup failed: {r.stderr}')
        yield ns
    finally:
        run(['ip', 'netns', 'del', ns])


SENDER = r'''
import socket, struct, sys
data = open(sys.argv[1], 'rb').read()
n = int(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('wa', 0))
off = 24
for i in range(n):
    incl = struct.unpack('<I', data[off + 8:off + 12])[0]
    s.send(data[off + 16:off + 16 + incl])
    off += 16 + incl
'''


def _ip_totals(path, n):
    """IP bytes and packets of the first n frames (all of them IPv4/IPv6, maybe tagged)."""
    data = open(path, 'rb').read()
    off, b = 24, 0
    for _ in range(n):
        incl = struct.unpack('<I', data[off + 8:off + 12])[0]
        fr = data[off + 16:off + 16 + incl]
        p, et = 14, struct.unpack('>H', fr[12:14])[0]
        while et == 0x8100:
            et, p = struct.unpack('>H', fr[p + 2:p + 4])[0], p + 4
        b += struct.unpack('>H', fr[p + 2:p + 4])[0] if et == 0x0800 else \
            40 + struct.unpack('>H', fr[p + 4:p + 6])[0]
        off += 16 + incl
    return b, n


def test_live_interface_in_namespace(weir_bin, corpus_dir, tmp_path, veth_ns):
    n = 400
    traffic = os.path.join(corpus_dir, TRAFFIC)
    col = Collector(weir_bin, tmp_path, extra=[KEY, 'pcap_interface: wb', 'promisc: true',
                                                'weir_flow_inactive_timeout: 1s'])
    col.proc = subprocess.Popen(['ip', 'netns', 'exec', veth_ns, col.bin, 'collect', '-f',
                                 col.conf, '-F'], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        assert col.wait_log(r'capture: interface wb \(promiscuous\)'), col.log_text()
        sender = tmp_path / 'send.py'
        sender.write_text(SENDER)
        r = run(['ip', 'netns', 'exec', veth_ns, 'python3', str(sender), traffic, str(n)])
        assert r.returncode == 0, r.stderr
        # what the capture holds is drained and flushed at the stop
        col.stop()
    finally:
        if col.proc.poll() is None:
            col.proc.kill()
            col.proc.wait()
    recs = col.records()
    assert totals(recs)[1:] == _ip_totals(traffic, n)
    log = col.log_text()
    assert f'capture interface wb (promiscuous): {n} frames' in log, log


def test_live_interface_decodes_exports(weir_bin, corpus_dir, tmp_path, veth_ns):
    """Export datagrams captured on an interface (snaplen raised to hold them whole) are
    decoded, not metered: softflowd's NetFlow v9 frames to port 9995, sent on the veth pair."""
    name = 'softflowd_nf9'
    capture = os.path.join(corpus_dir, 'exports', name + '.pcap')
    exp = expected(corpus_dir)[name]
    col = Collector(weir_bin, tmp_path, extra=['pcap_interface: wb', 'promisc: true',
                                                'snaplen: 65535', 'nfacctd_port: 9995'])
    col.proc = subprocess.Popen(['ip', 'netns', 'exec', veth_ns, col.bin, 'collect', '-f',
                                 col.conf, '-F'], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        assert col.wait_log(r'capture: interface wb \(promiscuous\)'), col.log_text()
        sender = tmp_path / 'send.py'
        sender.write_text(SENDER)
        r = run(['ip', 'netns', 'exec', veth_ns, 'python3', str(sender), capture,
                 str(exp['export_packets'])])
        assert r.returncode == 0, r.stderr
        col.stop()
    finally:
        if col.proc.poll() is None:
            col.proc.kill()
            col.proc.wait()
    assert totals(col.records()) == (exp['flow_records'], exp['bytes'], exp['packets'])
    log = col.log_text()
    assert f"capture exports: {exp['export_packets']} datagrams" in log, log
    assert 'meter: 0 packets' in log, log


def test_savefile_wait_keeps_running(weir_bin, corpus_dir, tmp_path):
    """pcap_savefile_wait: the collector stays up after the file (its listeners too) and the
    metered flows are written at the refresh and at the stop."""
    col = Collector(weir_bin, tmp_path, refresh=1, extra=[
        KEY, f'pcap_savefile: {os.path.join(corpus_dir, TRAFFIC)}', 'pcap_savefile_wait: true'])
    with col:  # starts it
        assert col.wait_log(r'end of file after 6391 frames'), col.log_text()
        # two refresh intervals later it still runs, and the capture worker's rows are out
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and totals(col.records())[2] < 6391:
            time.sleep(0.1)
        assert col.proc.poll() is None
        assert totals(col.records())[1:] == (1958078, 6391)
        col.stop()
    assert totals(col.records())[1:] == (1958078, 6391)
    assert 'late_workers 0' in col.log_text()
