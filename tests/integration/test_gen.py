"""weir gen: what it sends, decoded by tshark (an outside oracle), equals the totals it prints."""
import calendar
import json
import os
import select
import socket
import struct
import subprocess
import time

import pytest

from conftest import need_tool, run

SUMMARY_KEYS = ('datagrams', 'records', 'packets', 'bytes')


def capture(weir_bin, args, host='127.0.0.1', limit_s=60):
    """Runs `weir gen ARGS HOST:PORT` against a UDP socket of ours; returns (json, datagrams).

    Each datagram is (arrival time, source address, payload). Bounded: gen is killed after
    limit_s, and the socket is drained until it stays quiet for half a second.
    """
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE (root)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    target = f'[{host}]:{port}' if fam == socket.AF_INET6 else f'{host}:{port}'
    proc = subprocess.Popen([weir_bin, 'gen', '--json', *args, target],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got = []
    deadline = time.monotonic() + limit_s
    quiet_since = None
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([sock], [], [], 0.1)
            if r:
                data, addr = sock.recvfrom(65535)
                got.append((time.time(), addr[0], data))
                quiet_since = None
                continue
            if proc.poll() is None:
                continue
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 0.5:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate(timeout=30)
        sock.close()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    line = [l for l in err.splitlines() if l.startswith('gen: sent ')]
    assert line, err
    words = line[0].split()
    assert [int(words[i]) for i in (2, 4, 6, 8)] == [summary[k] for k in SUMMARY_KEYS]
    return summary, got, port


def ip_checksum(hdr):
    s = sum(struct.unpack(f'!{len(hdr) // 2}H', hdr))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def write_pcap(path, datagrams, dst, dport):
    """LINKTYPE_RAW (101) pcap: an IPv4 or IPv6 + UDP header in front of each payload."""
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
        for ts, src, data in datagrams:
            udp = struct.pack('!HHHH', 40000, dport, 8 + len(data), 0) + data
            if ':' in dst:
                ip = struct.pack('!IHBB', 6 << 28, len(udp), 17, 64)
                ip += socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
            else:
                ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                                 socket.inet_aton(src), socket.inet_aton(dst))
                ip = ip[:10] + struct.pack('!H', ip_checksum(ip)) + ip[12:]
            frame = ip + udp
            f.write(struct.pack('<IIII', int(ts), int((ts % 1) * 1e6), len(frame), len(frame)))
            f.write(frame)


def records_of(node, out):
    """Every dict under node that is a flow record (carries an octet counter)."""
    if isinstance(node, dict):
        if 'cflow.octets' in node:
            out.append(node)
        for v in node.values():
            records_of(v, out)
    elif isinstance(node, list):
        for v in node:
            records_of(v, out)
    return out


def tshark_decode(tmp_path, datagrams, dst, port):
    """tshark's reading of the datagrams: a list of (cflow layer, its flow records) per frame."""
    tshark = need_tool('tshark')
    pcap = str(tmp_path / 'gen.pcap')
    write_pcap(pcap, datagrams, dst, port)
    r = run([tshark, '-r', pcap, '-d', f'udp.port=={port},cflow', '-T', 'json',
             '--no-duplicate-keys'])
    assert r.returncode == 0, r.stderr
    frames = []
    for pkt in json.loads(r.stdout):
        layers = pkt['_source']['layers']
        assert '_ws.malformed' not in layers, layers
        assert 'cflow' in layers, layers.keys()
        frames.append((layers['cflow'], records_of(layers['cflow'], [])))
    return frames


def totals(frames):
    recs = [r for _, rs in frames for r in rs]
    return {'records': len(recs),
            'bytes': sum(int(r['cflow.octets']) for r in recs),
            'packets': sum(int(r['cflow.packets']) for r in recs)}


def check_totals(summary, got, frames):
    assert summary['send_errors'] == 0
    assert len(got) == summary['datagrams']
    assert len(frames) == summary['datagrams']
    t = totals(frames)
    assert t == {k: summary[k] for k in ('records', 'bytes', 'packets')}
    assert summary['records'] > 0


def check_sequences(proto, frames, got):
    """v5: flows before; v9: datagrams before; IPFIX: data records (options too) before.

    Per exporter: source address and observation domain / source id.
    """
    want = {}
    for (_, src, _), (cf, recs) in zip(got, frames):
        key = (src, cf.get('cflow.od_id', cf.get('cflow.source_id', '0')))
        seq = int(cf['cflow.sequence'])
        if key in want:
            assert seq == want[key], (proto, key)
        if proto == 'v5':
            want[key] = seq + int(cf['cflow.count'])
        elif proto == 'v9':
            want[key] = seq + 1
        else:
            # A frame without flow records is the template one, with one options record.
            want[key] = seq + (len(recs) if recs else 1)
    return len(want)


@pytest.mark.parametrize('proto', ['v5', 'v9', 'ipfix'])
def test_totals_match_tshark(weir_bin, tmp_path, proto):
    summary, got, port = capture(weir_bin, ['-P', proto, '-n', '3000', '-r', '100k', '-k', '500'])
    frames = tshark_decode(tmp_path, got, '127.0.0.1', port)
    check_totals(summary, got, frames)
    assert summary['records'] == 3000 and summary['packets'] == 3000
    check_sequences(proto, frames, got)
    per = {'v5': 28, 'v9': 24, 'ipfix': 21}[proto]
    assert max(len(r) for _, r in frames) == per
    check_times(frames)


def abs_time(text):
    """tshark's 'Nov 27, 2026 04:43:42.629000000 UTC' -> seconds since the epoch."""
    day, frac = text[:-4].rsplit('.', 1)
    return calendar.timegm(time.strptime(day, '%b %d, %Y %H:%M:%S')) + float('0.' + frac)


def check_times(frames):
    """Record times lie in the minute before the export time (sysUptime or export seconds)."""
    for cf, recs in frames:
        for r in recs:
            t = r['cflow.timedelta_tree']
            if 'cflow.abstimestart' in t:  # IPFIX flowStart/EndMilliseconds
                now = int(cf['cflow.timestamp_tree']['cflow.exporttime'])
                start, end = abs_time(t['cflow.abstimestart']), abs_time(t['cflow.abstimeend'])
            else:  # v5/v9 sysUptime-relative
                now = float(cf['cflow.sysuptime'])
                start, end = float(t['cflow.timestart']), float(t['cflow.timeend'])
            assert now - 60 <= start <= end <= now, (cf['cflow.sequence'], t)


@pytest.mark.parametrize('proto', ['v9', 'ipfix'])
def test_ipv6_mix(weir_bin, tmp_path, proto):
    summary, got, port = capture(weir_bin, ['-P', proto, '-n', '2000', '-r', '100k', '--v6', '40',
                                            '--packets', '3'])
    frames = tshark_decode(tmp_path, got, '127.0.0.1', port)
    check_totals(summary, got, frames)
    assert summary['packets'] == 3 * summary['records']
    recs = [r for _, rs in frames for r in rs]
    v6 = [r for r in recs if 'cflow.srcaddrv6' in r]
    v4 = [r for r in recs if 'cflow.srcaddr' in r]
    assert len(v4) + len(v6) == len(recs)
    assert 0.2 * len(recs) < len(v6) < 0.6 * len(recs)
    assert all(r['cflow.srcaddrv6'].startswith('2001:db8:') for r in v6)
    assert all(r['cflow.srcaddr'].startswith('10.') for r in v4)
    check_sequences(proto, frames, got)
    check_times(frames)


def test_ipv6_target(weir_bin, tmp_path):
    if not socket.has_ipv6:
        pytest.skip('no IPv6')
    summary, got, port = capture(weir_bin, ['-n', '1000', '-r', '100k', '--v6', '50'], host='::1')
    assert {src for _, src, _ in got} == {'::1'}
    frames = tshark_decode(tmp_path, got, '::1', port)
    check_totals(summary, got, frames)


def test_three_exporters_have_three_addresses(weir_bin, tmp_path):
    summary, got, port = capture(weir_bin, ['-P', 'v9', '-e', '3', '-n', '3000', '-r', '100k'])
    assert {src for _, src, _ in got} == {'127.0.0.1', '127.0.0.2', '127.0.0.3'}
    frames = tshark_decode(tmp_path, got, '127.0.0.1', port)
    check_totals(summary, got, frames)
    # Every exporter announced its templates before its first data datagram.
    first = {}
    for (_, src, _), (cf, recs) in zip(got, frames):
        first.setdefault(src, bool(recs))
    assert first == {'127.0.0.1': False, '127.0.0.2': False, '127.0.0.3': False}
    assert check_sequences('v9', frames, got) == 3


def test_exporters_on_ipv6_use_domains(weir_bin, tmp_path):
    if not socket.has_ipv6:
        pytest.skip('no IPv6')
    summary, got, port = capture(weir_bin, ['-e', '3', '--domain', '7', '-n', '1000', '-r', '100k'],
                                 host='::1')
    frames = tshark_decode(tmp_path, got, '::1', port)
    check_totals(summary, got, frames)
    assert {cf['cflow.od_id'] for cf, _ in frames} == {'7', '8', '9'}
    assert check_sequences('ipfix', frames, got) == 3


def test_templates_repeat_and_sampling_option(weir_bin, tmp_path):
    summary, got, port = capture(weir_bin, ['-n', '2100', '-r', '100k', '--template-every', '5',
                                            '--sampling', '10'])
    frames = tshark_decode(tmp_path, got, '127.0.0.1', port)
    check_totals(summary, got, frames)
    tmpl = [i for i, (_, recs) in enumerate(frames) if not recs]
    assert len(tmpl) == 20  # 100 data datagrams, templates first and after every 5th
    assert tmpl[:3] == [0, 6, 12]
    text = json.dumps(frames[0][0])
    assert '"cflow.sampling_interval": "10"' in text


def test_v5_header_sampling_and_as_trans(weir_bin, tmp_path):
    summary, got, port = capture(weir_bin, ['-P', 'v5', '-n', '500', '-r', '100k', '--sampling',
                                            '100'])
    frames = tshark_decode(tmp_path, got, '127.0.0.1', port)
    check_totals(summary, got, frames)
    for cf, recs in frames:
        assert (cf['cflow.samplingmode'], cf['cflow.samplerate']) == ('1', '100')
        for r in recs:
            assert int(r['cflow.srcas']) <= 65535


def test_same_seed_same_records(weir_bin, tmp_path):
    def keys(seed):
        _, got, port = capture(weir_bin, ['-n', '500', '-r', '100k', '--seed', seed])
        frames = tshark_decode(tmp_path, got, '127.0.0.1', port)
        return [(r['cflow.srcaddr'], r['cflow.dstaddr'], r['cflow.srcport'], r['cflow.dstport'],
                 r['cflow.octets']) for _, rs in frames for r in rs]
    a, b, c = keys('42'), keys('42'), keys('43')
    assert a == b
    assert a != c
    assert len(set(k[0] for k in a)) > 100  # many distinct keys of the default 1000


def test_keys_bound_distinct_flows(weir_bin, tmp_path):
    _, got, port = capture(weir_bin, ['-n', '2000', '-r', '100k', '-k', '10'])
    frames = tshark_decode(tmp_path, got, '127.0.0.1', port)
    flows = {(r['cflow.srcaddr'], r['cflow.dstaddr'], r['cflow.srcport'], r['cflow.dstport'],
              r['cflow.protocol']) for _, rs in frames for r in rs}
    assert len(flows) == 10


def test_time_bound_stops_unbounded_count(weir_bin, tmp_path):
    summary, got, port = capture(weir_bin, ['-n', '0', '-t', '0.5', '-r', '20k'])
    assert 0 < summary['records'] <= 20000
    frames = tshark_decode(tmp_path, got, '127.0.0.1', port)
    check_totals(summary, got, frames)


def test_no_listener_is_not_an_error(weir_bin):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    r = run([weir_bin, 'gen', '-n', '2000', '-r', '200k', f'127.0.0.1:{port}'], timeout=60)
    assert r.returncode == 0, r.stderr
    assert 'gen: sent ' in r.stderr


@pytest.mark.parametrize('args', [
    ['-P', 'v5', '--v6', '10', '127.0.0.1:2055'],
    ['-n', '0', '127.0.0.1:2055'],
    ['-P', 'v7', '127.0.0.1:2055'],
    ['-e', '251', '127.0.0.1:2055'],
    ['-P', 'v5', '--per-packet', '31', '127.0.0.1:2055'],
    ['::1:2055'],
    ['127.0.0.1'],
    [],
])
def test_usage_errors(weir_bin, args):
    r = run([weir_bin, 'gen', *args], timeout=30)
    assert r.returncode == 2, (args, r.stderr)
    assert r.stderr


def test_help(weir_bin):
    r = run([weir_bin, 'gen', '--help'], timeout=30)
    assert r.returncode == 0
    for opt in ('--protocol', '--rate', '--records', '--time', '--exporters', '--keys', '--v6',
                '--seed', '--per-packet', '--template-every', '--domain', '--json', 'domain'):
        assert opt in r.stdout
