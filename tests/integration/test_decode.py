"""weir decode: options data with --all, --stats counters, CSV, usage errors, hostile pcaps, the
link types and IP encapsulations it reads, and template state carried across files.

The pcaps are written by the tests from the UDP payloads of corpus captures, so the expected
records come from decoding the untouched corpus file."""
import json
import os
import random
import struct
import subprocess

import pytest

import oracle
from conftest import need_tool

LINKTYPE_NULL, LINKTYPE_EN10MB, LINKTYPE_RAW, LINKTYPE_LOOP = 0, 1, 101, 108
LINKTYPE_LINUX_SLL, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL2 = 113, 228, 229, 276


# ---------------------------------------------------------------- pcap reading and writing

def read_pcap(path):
    """(linktype, [(ts_sec, ts_usec, frame bytes)]) of a classic little/big endian pcap."""
    data = open(path, 'rb').read()
    magic = data[:4]
    end = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    linktype = struct.unpack(end + 'I', data[20:24])[0]
    frames, off = [], 24
    while off + 16 <= len(data):
        sec, usec, caplen, _ = struct.unpack(end + 'IIII', data[off:off + 16])
        if off + 16 + caplen > len(data):
            break  # a frame cut by the end of the file
        frames.append((sec, usec, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return linktype, frames


def write_pcap(path, linktype, frames, snaplen=262144):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, snaplen, linktype))
        for sec, usec, frame in frames:
            f.write(struct.pack('<IIII', sec, usec, len(frame), len(frame)))
            f.write(frame)


def udp_payloads(path):
    """(sec, usec, payload, dst port) of each datagram of an Ethernet/IPv4/UDP corpus capture."""
    linktype, frames = read_pcap(path)
    assert linktype == LINKTYPE_EN10MB
    out = []
    for sec, usec, fr in frames:
        assert fr[12:14] == b'\x08\x00'
        ihl = (fr[14] & 15) * 4
        udp = fr[14 + ihl:]
        ulen = struct.unpack('>H', udp[4:6])[0]
        out.append((sec, usec, udp[8:ulen], struct.unpack('>H', udp[2:4])[0]))
    return out


def udp_header(payload, sport, dport):
    return struct.pack('>HHHH', sport, dport, 8 + len(payload), 0) + payload


def ipv4(src, dst, l4, proto=17, options=b'', frag=0x4000, ident=1):
    assert len(options) % 4 == 0
    ihl = 5 + len(options) // 4
    hdr = struct.pack('>BBHHHBBH4s4s', 0x40 | ihl, 0, ihl * 4 + len(l4), ident, frag, 64, proto,
                      0, bytes(map(int, src.split('.'))), bytes(map(int, dst.split('.'))))
    return hdr + options + l4


def ipv6(src, dst, l4, ext=b'', first_next=17):
    import ipaddress
    return (struct.pack('>IHBB', 6 << 28, len(ext) + len(l4), first_next, 64) +
            ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed + ext + l4)


def ether(ip_packet, ethertype, vlans=()):
    tags = b''.join(struct.pack('>HH', 0x8100, v) for v in vlans)
    return b'\x00' * 6 + b'\x02' + b'\x00' * 5 + tags + struct.pack('>H', ethertype) + ip_packet


def sll(ip_packet, ethertype):
    return struct.pack('>HHH8sH', 0, 772, 6, b'\x00' * 8, ethertype) + ip_packet


def sll2(ip_packet, ethertype):
    return struct.pack('>HHIHBB8s', ethertype, 0, 1, 772, 0, 6, b'\x00' * 8) + ip_packet


def frames_from(payloads, wrap):
    return [(sec, usec, wrap(payload, dport)) for sec, usec, payload, dport in payloads]


# ---------------------------------------------------------------- helpers

@pytest.fixture(scope='module')
def corpus_pcap(corpus_dir):
    def path(name):
        return os.path.join(corpus_dir, 'exports', name + '.pcap')
    return path


def decode(weir_bin, pcaps, *args):
    p, recs = oracle.weir_decode(weir_bin, pcaps, *args, timeout=120)
    assert p.returncode >= 0, f'killed by signal {-p.returncode}'
    assert 'Sanitizer' not in p.stderr, p.stderr[-3000:]
    return p, recs


def flows(recs):
    return [r for r in recs if r.get('event_type') == 'purge']


def without_exporter(recs):
    return [{k: v for k, v in r.items() if k != 'peer_ip_src'} for r in recs]


# ---------------------------------------------------------------- options, stats, CSV, usage

def test_all_adds_option_records(weir_bin, corpus_dir, corpus_pcap):
    exp = oracle.expected_totals(corpus_dir)['softflowd_nf9']
    p, plain = decode(weir_bin, corpus_pcap('softflowd_nf9'))
    assert p.returncode == 0, p.stderr
    p, full = decode(weir_bin, corpus_pcap('softflowd_nf9'), '--all')
    assert p.returncode == 0, p.stderr
    opts = [r for r in full if r.get('event_type') == 'option']
    assert len(opts) == exp['option_records'] == 3
    assert not [r for r in plain if r.get('event_type') != 'purge']
    assert flows(full) == plain
    # Options data of softflowd: sampling interval 1, from the exporter of the flows.
    assert all(o['peer_ip_src'] == '127.0.0.1' for o in opts)
    assert all('packets' not in o and 'bytes' not in o for o in opts)


def test_stats_prints_counters(weir_bin, corpus_pcap):
    p, recs = decode(weir_bin, corpus_pcap('softflowd_nf9'), '--stats')
    assert p.returncode == 0
    err = p.stderr
    assert 'pcap: 41 frames, 41 UDP datagrams decoded' in err, err
    assert f'records: {len(recs)} flow, 0 option/counter printed' in err, err
    assert '127.0.0.1' in err and 'exporter' in err, err
    p2, recs2 = decode(weir_bin, corpus_pcap('softflowd_nf9'))
    assert 'pcap:' not in p2.stderr and recs2 == recs


def test_csv_output(weir_bin, corpus_dir, corpus_pcap):
    exp = oracle.expected_totals(corpus_dir)['softflowd_nf5']
    p = subprocess.run([weir_bin, 'decode', '--csv', corpus_pcap('softflowd_nf5')],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    header = lines[0].split(',')
    assert header[:2] == ['SRC_MAC', 'DST_MAC'] and header[-1] == 'REV_BYTES', header
    assert {'PEER_SRC_IP', 'SRC_IP', 'DST_IP', 'SRC_PORT', 'PROTOCOL', 'PACKETS', 'BYTES'} \
        <= set(header)
    rows = [dict(zip(header, line.split(','))) for line in lines[1:]]
    assert all(len(line.split(',')) == len(header) for line in lines[1:])
    assert len(rows) == exp['flow_records']
    assert sum(int(r['BYTES']) for r in rows) == exp['bytes']
    assert sum(int(r['PACKETS']) for r in rows) == exp['packets']


def test_usage_and_exit_codes(weir_bin, tmp_path, corpus_pcap):
    assert subprocess.run([weir_bin, 'decode'], capture_output=True).returncode == 2
    assert subprocess.run([weir_bin, 'decode', '--port', '0', corpus_pcap('softflowd_nf5')],
                          capture_output=True).returncode == 2
    assert subprocess.run([weir_bin, 'decode', '--port', 'x1', corpus_pcap('softflowd_nf5')],
                          capture_output=True).returncode == 2
    assert subprocess.run([weir_bin, 'decode', '--bogus', corpus_pcap('softflowd_nf5')],
                          capture_output=True).returncode == 2
    h = subprocess.run([weir_bin, 'decode', '--help'], capture_output=True, text=True)
    assert h.returncode == 0 and '--stats' in h.stdout
    # A missing file is a runtime error; the files after it are still decoded.
    p, recs = decode(weir_bin, [str(tmp_path / 'nope.pcap'), corpus_pcap('softflowd_nf5')])
    assert p.returncode == 1 and 'nope.pcap' in p.stderr
    assert len(flows(recs)) == 812


def test_reads_stdin(weir_bin, corpus_pcap, nf5_reference):
    with open(corpus_pcap('softflowd_nf5'), 'rb') as f:
        p = subprocess.run([weir_bin, 'decode', '-'], stdin=f, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert [json.loads(line) for line in p.stdout.splitlines()] == nf5_reference


# ---------------------------------------------------------------- hostile input

def test_garbage_file_is_an_error_not_a_crash(weir_bin, tmp_path):
    rnd = random.Random(7)
    junk = tmp_path / 'junk.pcap'
    junk.write_bytes(bytes(rnd.getrandbits(8) for _ in range(4096)))
    p, recs = decode(weir_bin, str(junk))
    assert p.returncode == 1 and recs == []
    empty = tmp_path / 'empty.pcap'
    empty.write_bytes(b'')
    p, recs = decode(weir_bin, str(empty))
    assert p.returncode == 1 and recs == []


def test_truncated_pcap_keeps_what_was_read(weir_bin, tmp_path, corpus_pcap):
    src = corpus_pcap('softflowd_nf5')
    data = open(src, 'rb').read()
    cut = tmp_path / 'cut.pcap'
    cut.write_bytes(data[:len(data) // 2 + 7])
    p, recs = decode(weir_bin, str(cut))
    assert p.returncode in (0, 1)
    # Every whole frame before the cut is decoded (v5 header count), the cut one is not.
    _, whole = read_pcap(str(cut))
    want = sum(struct.unpack('>H', fr[14 + 20 + 8 + 2:14 + 20 + 8 + 4])[0] for _, _, fr in whole)
    assert 0 < len(flows(recs)) == want < 812


def test_garbage_payloads_and_broken_frames(weir_bin, tmp_path):
    rnd = random.Random(11)
    frames = []
    for i in range(300):
        payload = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 1500)))
        if i % 3 == 0 and len(payload) >= 2:  # plausible version fields make decoders try
            payload = struct.pack('>H', rnd.choice([5, 9, 10])) + payload[2:]
        pkt = ipv4('192.0.2.1', '192.0.2.2', udp_header(payload, 1000, 2055))
        frame = ether(pkt, 0x0800)
        if i % 7 == 0:
            frame = frame[:rnd.randrange(0, len(frame) + 1)]  # cut anywhere
        frames.append((1715677200 + i, 0, frame))
    path = tmp_path / 'garbage.pcap'
    write_pcap(path, LINKTYPE_EN10MB, frames)
    p, recs = decode(weir_bin, str(path), '--stats', '--all')
    assert p.returncode == 0, p.stderr
    assert 'pcap: 300 frames' in p.stderr


def test_fragments_and_port_filter(weir_bin, tmp_path, corpus_pcap):
    payloads = udp_payloads(corpus_pcap('softflowd_nf5'))
    frames = []
    for i, (sec, usec, payload, dport) in enumerate(payloads):
        if i % 4 == 1:  # a first fragment: UDP header present, payload incomplete
            pkt = ipv4('192.0.2.9', '192.0.2.2', udp_header(payload, 1000, dport)[:200],
                       frag=0x2000, ident=i)
        elif i % 4 == 2:  # a datagram to another port
            pkt = ipv4('192.0.2.9', '192.0.2.2', udp_header(payload, 1000, dport + 1))
        else:
            pkt = ipv4('192.0.2.9', '192.0.2.2', udp_header(payload, 1000, dport))
        frames.append((sec, usec, ether(pkt, 0x0800)))
    frames.append((sec, usec, ether(ipv4('192.0.2.9', '192.0.2.2', b'\x00' * 8, frag=0x0010,
                                         ident=60000), 0x0800)))
    path = tmp_path / 'frag.pcap'
    write_pcap(path, LINKTYPE_EN10MB, frames)
    p, recs = decode(weir_bin, str(path), '--port', str(payloads[0][3]), '--stats')
    assert p.returncode == 0, p.stderr
    n_frag = sum(1 for i in range(len(payloads)) if i % 4 == 1) + 1
    n_other_port = sum(1 for i in range(len(payloads)) if i % 4 == 2)
    assert f'{n_other_port} to other ports' in p.stderr, p.stderr
    assert f'{n_frag} fragments, 0 datagrams reassembled, {n_frag} incomplete' in p.stderr, \
        p.stderr
    whole = [pl for i, pl in enumerate(payloads) if i % 4 in (0, 3)]
    want = sum(struct.unpack('>H', pl[2][2:4])[0] for pl in whole)  # v5 header count
    assert len(flows(recs)) == want


def _v4_fragments(udp, ident, size=256):
    """IPv4 fragments of a UDP datagram (header included), offsets in 8-byte units."""
    out = []
    for off in range(0, len(udp), size):
        more = 0x2000 if off + size < len(udp) else 0
        out.append(ipv4('192.0.2.9', '192.0.2.2', udp[off:off + size], frag=more | off // 8,
                        ident=ident))
    return out


def _v6_fragments(udp, ident, size=512):
    out = []
    for off in range(0, len(udp), size):
        more = 1 if off + size < len(udp) else 0
        fh = struct.pack('>BBHI', 17, 0, off | more, ident)
        out.append(ipv6('2001:db8::9', '2001:db8::2', udp[off:off + size], fh, 44))
    return out


def test_fragments_reassembled(weir_bin, tmp_path, corpus_pcap, nf5_reference):
    """Datagrams split into IPv4 and IPv6 fragments, sent out of order and interleaved, decode
    like the original; an overlapping fragment drops its datagram."""
    rnd = random.Random(3)
    payloads = udp_payloads(corpus_pcap('softflowd_nf5'))
    frames = []
    for i in range(0, len(payloads), 2):
        pieces = []
        for j, (sec, usec, payload, dport) in enumerate(payloads[i:i + 2]):
            udp = udp_header(payload, 1000, dport)
            frags = _v4_fragments(udp, i + j) if (i // 2) % 2 else _v6_fragments(udp, i + j)
            pieces += [(sec, usec, ether(f, 0x0800 if (i // 2) % 2 else 0x86dd)) for f in frags]
        rnd.shuffle(pieces)
        frames += pieces
    # One more datagram whose second fragment overlaps the first: never decoded.
    sec, usec, payload, dport = payloads[0]
    udp = udp_header(payload, 1000, dport)
    frames.append((sec, usec, ether(ipv4('192.0.2.9', '192.0.2.2', udp[:256], frag=0x2000,
                                         ident=7777), 0x0800)))
    frames.append((sec, usec, ether(ipv4('192.0.2.9', '192.0.2.2', udp[248:], frag=31,
                                         ident=7777), 0x0800)))
    path = tmp_path / 'frags.pcap'
    write_pcap(path, LINKTYPE_EN10MB, frames)
    p, recs = decode(weir_bin, str(path), '--stats')
    assert p.returncode == 0, p.stderr
    assert f'{len(frames)} fragments, {len(payloads)} datagrams reassembled, 1 incomplete' \
        in p.stderr, p.stderr
    # Two datagrams are interleaved at a time, so they may complete in either order.
    assert sorted(map(json.dumps, without_exporter(recs))) == \
        sorted(map(json.dumps, without_exporter(nf5_reference)))
    assert {r['peer_ip_src'] for r in recs} == {'192.0.2.9', '2001:db8::9'}


# ---------------------------------------------------------------- link types and IP forms

def _v4(payload, dport, **kw):
    return ipv4('192.0.2.7', '192.0.2.2', udp_header(payload, 4000, dport), **kw)


def _v6(payload, dport, ext=b''):
    first = 0 if ext else 17
    return ipv6('2001:db8::7', '2001:db8::2', udp_header(payload, 4000, dport), ext, first)


HOP_BY_HOP = bytes([60, 0]) + b'\x01\x04\x00\x00\x00\x00'   # -> destination options
DEST_OPTS = bytes([44, 0]) + b'\x01\x04\x00\x00\x00\x00'    # -> fragment header
ATOMIC_FRAG = bytes([17, 0, 0, 0]) + b'\x00\x00\x00\x01'    # offset 0, M=0 -> UDP

ENCAPSULATIONS = {
    'ethernet-vlan-v4': (LINKTYPE_EN10MB, lambda pl, d: ether(_v4(pl, d), 0x0800, (10, 20)),
                         '192.0.2.7'),
    'ethernet-v4-options': (LINKTYPE_EN10MB,
                            lambda pl, d: ether(_v4(pl, d, options=b'\x01\x01\x01\x00'), 0x0800),
                            '192.0.2.7'),
    'ethernet-v6-ext': (LINKTYPE_EN10MB,
                        lambda pl, d: ether(_v6(pl, d, HOP_BY_HOP + DEST_OPTS + ATOMIC_FRAG),
                                            0x86dd),
                        '2001:db8::7'),
    'linux-sll': (LINKTYPE_LINUX_SLL, lambda pl, d: sll(_v4(pl, d), 0x0800), '192.0.2.7'),
    'linux-sll2': (LINKTYPE_LINUX_SLL2, lambda pl, d: sll2(_v6(pl, d), 0x86dd), '2001:db8::7'),
    'null': (LINKTYPE_NULL, lambda pl, d: struct.pack('<I', 2) + _v4(pl, d), '192.0.2.7'),
    'null-v6-bsd': (LINKTYPE_NULL, lambda pl, d: struct.pack('<I', 28) + _v6(pl, d),
                    '2001:db8::7'),
    'loop': (LINKTYPE_LOOP, lambda pl, d: struct.pack('>I', 2) + _v4(pl, d), '192.0.2.7'),
    'raw-v4': (LINKTYPE_RAW, _v4, '192.0.2.7'),
    'raw-v6': (LINKTYPE_RAW, _v6, '2001:db8::7'),
    'ipv4': (LINKTYPE_IPV4, _v4, '192.0.2.7'),
    'ipv6': (LINKTYPE_IPV6, _v6, '2001:db8::7'),
}


@pytest.fixture(scope='module')
def nf5_reference(weir_bin, corpus_pcap):
    p, recs = decode(weir_bin, corpus_pcap('softflowd_nf5'))
    assert p.returncode == 0 and len(recs) == 812, p.stderr
    return recs


@pytest.mark.parametrize('encap', sorted(ENCAPSULATIONS))
def test_link_types(weir_bin, tmp_path, corpus_pcap, nf5_reference, encap):
    linktype, wrap, exporter = ENCAPSULATIONS[encap]
    payloads = udp_payloads(corpus_pcap('softflowd_nf5'))
    path = tmp_path / f'{encap}.pcap'
    write_pcap(path, linktype, frames_from(payloads, wrap))
    p, recs = decode(weir_bin, str(path), '--stats')
    assert p.returncode == 0, p.stderr
    assert len(recs) == 812, p.stderr
    assert {r['peer_ip_src'] for r in recs} == {exporter}
    assert without_exporter(recs) == without_exporter(nf5_reference)


def test_pcapng(weir_bin, tmp_path, corpus_pcap, nf5_reference):
    editcap = need_tool('editcap')
    ng = tmp_path / 'nf5.pcapng'
    subprocess.run([editcap, '-F', 'pcapng', corpus_pcap('softflowd_nf5'), str(ng)], check=True,
                   capture_output=True)
    assert ng.read_bytes()[:4] == b'\x0a\x0d\x0d\x0a'
    p, recs = decode(weir_bin, str(ng))
    assert p.returncode == 0, p.stderr
    assert recs == nf5_reference


def test_unsupported_link_type(weir_bin, tmp_path, corpus_pcap):
    path = tmp_path / 'tr.pcap'
    write_pcap(path, 6, [(1, 0, b'\x00' * 64)])  # IEEE 802.5 token ring
    p, recs = decode(weir_bin, [str(path), corpus_pcap('softflowd_nf5')])
    assert p.returncode == 1 and 'link type' in p.stderr
    assert len(recs) == 812


# ---------------------------------------------------------------- state across files

# Exporters that send their templates only every few datagrams (pmacct's nfprobe repeats them
# so often that the second file alone decodes nearly everything).
@pytest.mark.parametrize('name', ['softflowd_nf9', 'softflowd_ipfix', 'softflowd_ipfix_biflow',
                                  'nfreplay_nf9'])
def test_templates_carry_across_files(weir_bin, tmp_path, corpus_pcap, name):
    """The first datagram (templates and options templates) in one file, the rest in another:
    decoding both in order equals decoding the original; the second alone decodes less."""
    linktype, frames = read_pcap(corpus_pcap(name))
    head, tail = tmp_path / 'head.pcap', tmp_path / 'tail.pcap'
    write_pcap(head, linktype, frames[:1])
    write_pcap(tail, linktype, frames[1:])
    p, whole = decode(weir_bin, corpus_pcap(name), '--all')
    assert p.returncode == 0, p.stderr
    p, split = decode(weir_bin, [str(head), str(tail)], '--all')
    assert p.returncode == 0, p.stderr
    assert split == whole
    p, alone = decode(weir_bin, str(tail), '--all')
    assert p.returncode == 0, p.stderr
    assert len(flows(alone)) < len(flows(whole))
