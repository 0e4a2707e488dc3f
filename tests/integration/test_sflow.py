"""sFlow v5 conformance: `weir decode --all` of every sFlow capture in ../shared/corpus yields the
same flow samples, in order and field by field, as tshark's decode of the same bytes, and the same
counter samples. tshark ran with the inner packet dissection off, so the sampled header bytes it
shows (`sflow_245.header`, XDR padding included) are parsed here by a small independent parser.
"""
import gzip
import ipaddress
import json
import os
import struct

import pytest

import oracle
from conftest import SHARED

CORPUS = os.path.join(SHARED, 'corpus')


def _sflow_files():
    try:
        exp = oracle.expected_totals(CORPUS)
    except OSError:
        return ['corpus-absent']
    return sorted(n for n, e in exp.items() if e['protocol'] == 'sflow_v5'
                  and os.path.exists(os.path.join(CORPUS, 'exports', n + '.pcap')))


SFLOW_FILES = _sflow_files()


# ------------------------------------------------------------------ independent header parser

def parse_header(raw):
    """Ethernet/802.1Q/IPv4/IPv6/TCP/UDP/ICMP fields of a sampled header, as far as they go."""
    out = {}
    if len(raw) < 14:
        return out
    out['mac_dst'] = ':'.join(f'{b:02x}' for b in raw[0:6])
    out['mac_src'] = ':'.join(f'{b:02x}' for b in raw[6:12])
    off, etype = 14, struct.unpack('>H', raw[12:14])[0]
    while etype in (0x8100, 0x88a8) and len(raw) >= off + 4:
        tci, etype = struct.unpack('>HH', raw[off:off + 4])
        out.setdefault('vlan', tci & 0xfff)
        off += 4
    l4 = None
    if etype == 0x0800 and len(raw) >= off + 20:
        ihl = (raw[off] & 15) * 4
        out['tos'] = raw[off + 1]
        proto = raw[off + 9]
        out['ip_src'] = str(ipaddress.ip_address(raw[off + 12:off + 16]))
        out['ip_dst'] = str(ipaddress.ip_address(raw[off + 16:off + 20]))
        frag = struct.unpack('>H', raw[off + 6:off + 8])[0] & 0x1fff
        l4 = None if frag else off + ihl
    elif etype == 0x86dd and len(raw) >= off + 40:
        vtf = struct.unpack('>I', raw[off:off + 4])[0]
        out['tos'] = (vtf >> 20) & 0xff
        proto = raw[off + 6]
        out['ip_src'] = str(ipaddress.ip_address(raw[off + 8:off + 24]))
        out['ip_dst'] = str(ipaddress.ip_address(raw[off + 24:off + 40]))
        l4 = off + 40
    else:
        return out
    out['ip_proto'] = proto
    if l4 is None:
        return out
    if proto in (6, 17) and len(raw) >= l4 + 4:
        out['port_src'], out['port_dst'] = struct.unpack('>HH', raw[l4:l4 + 4])
        if proto == 6 and len(raw) >= l4 + 14:
            out['tcp_flags'] = raw[l4 + 13] & 0x3f
    elif proto in (1, 58) and len(raw) >= l4 + 2:
        out['icmp_type'], out['icmp_code'] = raw[l4], raw[l4 + 1]
    return out


# ------------------------------------------------------------------ tshark samples

def _hexbytes(text):
    return bytes.fromhex(text.replace(':', ''))


def tshark_samples(corpus_dir, name):
    """(kind, header fields, sample fields) for every sample, in capture order."""
    path = os.path.join(corpus_dir, 'oracle', 'tshark', name + '.tshark.json.gz')
    with gzip.open(path, 'rt') as f:
        frames = json.load(f)
    out = []
    for fr in frames:
        sf = fr['layers'].get('sflow')
        if not sf:
            continue
        hdr = {k: v for k, v in sf.items() if not isinstance(v, dict)}
        for key, val in sf.items():
            if not isinstance(val, dict):
                continue
            if key.startswith(('Flow sample', 'Expanded flow sample')):
                out.append(('flow', hdr, val))
            elif key.startswith(('Counters sample', 'Expanded counters sample')):
                out.append(('counter', hdr, val))
    return out


def expected_flow(hdr, s):
    exp = {
        'peer_ip_src': hdr['sflow_245.agent'],
        'export_proto_sysid': int(hdr['sflow_245.sub_agent_id']),
        'export_proto_seqno': int(hdr['sflow_245.sequence_number']),
        'export_proto_version': 5,
        'sampling_rate': int(s['sflow.flow_sample.sampling_rate']),
        'iface_in': int(s['sflow.flow_sample.input_interface']) & 0x3fffffff,
        'iface_out': int(s['sflow.flow_sample.output_interface_tree']
                         ['sflow.flow_sample.output_interface_value']),
        'packets': 1,
    }
    known = {'sflow.enterprise', 'sflow_245.sampletype', 'sflow_5.sample_length',
             'sflow.flow_sample.sequence_number', 'sflow.flow_sample.source_id_class',
             'sflow.flow_sample.index', 'sflow.flow_sample.sampling_rate',
             'sflow.flow_sample.sample_pool', 'sflow.flow_sample.dropped_packets',
             'sflow.flow_sample.input_interface', 'sflow.flow_sample.output_interface',
             'sflow.flow_sample.output_interface_tree', 'sflow.flow_sample.flow_record'}
    unknown = []
    switch_vlan = None
    for key, rec in s.items():
        if key == 'Raw packet header':
            exp['bytes'] = int(rec['sflow_245.header.frame_length'])
            n = int(rec['sflow_245.header.sampled_header_length'])
            raw = _hexbytes(rec['sflow_245.header'])[:n]
            exp.update(parse_header(raw))
        elif key == 'Extended switch data':
            switch_vlan = int(rec['sflow_245.vlan.in'])
            if int(rec['sflow_245.vlan.out']):
                exp['vlan_out'] = int(rec['sflow_245.vlan.out'])
        elif key not in known:
            unknown.append(key)
    if 'vlan' not in exp and switch_vlan:
        exp['vlan'] = switch_vlan
    return exp, unknown


def _norm(key, val):
    if key == 'ip_proto':
        return oracle.proto_number(val) if isinstance(val, str) else int(val)
    if key in ('ip_src', 'ip_dst', 'peer_ip_src'):
        return ipaddress.ip_address(val)
    if key == 'tcp_flags':
        return int(val)
    if key in ('mac_src', 'mac_dst'):
        return val.lower()
    return val


def compare_flow(w, exp):
    bad = []
    for k, v in exp.items():
        if k not in w:
            if k == 'tcp_flags' and v == 0:
                continue
            bad.append(f'{k} missing (tshark {v})')
        elif _norm(k, w[k]) != _norm(k, v):
            bad.append(f'{k}: weir {w[k]} != tshark {v}')
    if 'vlan' in w and 'vlan' not in exp:
        bad.append(f'vlan: weir {w["vlan"]}, tshark none')
    return bad


@pytest.fixture(scope='module')
def decoded(weir_bin):
    cache = {}

    def get(name):
        if name not in cache:
            pcap = os.path.join(CORPUS, 'exports', name + '.pcap')
            p, recs = oracle.weir_decode(weir_bin, pcap, '--all')
            assert p.returncode == 0, p.stderr[-2000:]
            cache[name] = recs
        return cache[name]
    return get


@pytest.mark.parametrize('name', SFLOW_FILES)
def test_flow_samples_match_tshark(corpus_dir, decoded, name):
    recs = decoded(name)
    t_flows = [(h, s) for kind, h, s in tshark_samples(corpus_dir, name) if kind == 'flow']
    w_flows = [r for r in recs if r.get('event_type') == 'purge']
    assert len(w_flows) == len(t_flows)
    problems = []
    for i, (w, (h, s)) in enumerate(zip(w_flows, t_flows)):
        exp, unknown = expected_flow(h, s)
        problems += [f'flow sample #{i + 1}: tshark record {u} not compared' for u in unknown]
        problems += [f'flow sample #{i + 1}: {p}' for p in compare_flow(w, exp)]
    assert not problems, '\n'.join(problems[:30]) + f'\n({len(problems)} mismatches)'


@pytest.mark.parametrize('name', SFLOW_FILES)
def test_counter_samples_match_tshark(corpus_dir, decoded, name):
    recs = decoded(name)
    t_cnt = [(h, s) for kind, h, s in tshark_samples(corpus_dir, name) if kind == 'counter']
    w_cnt = [r for r in recs if r.get('event_type') == 'counter']
    exp_n = oracle.expected_totals(corpus_dir)[name]['counter_samples']
    assert len(t_cnt) == exp_n
    assert len(w_cnt) == len(t_cnt)
    for w, (h, s) in zip(w_cnt, t_cnt):
        g = s['Generic interface counters']
        assert w['peer_ip_src'] == h['sflow_245.agent']
        assert w['export_proto_seqno'] == int(h['sflow_245.sequence_number'])
        assert w['iface_in'] == int(g['sflow_245.ifindex'])
        assert w['bytes'] == int(g['sflow_245.ifinoct'])
        assert w['packets'] == sum(int(g[k]) for k in (
            'sflow_245.ifinpkt', 'sflow_245.ifinmcast', 'sflow_245.ifinbcast'))
        assert w['rev_bytes'] == int(g['sflow_245.ifoutoct'])


@pytest.mark.parametrize('name', SFLOW_FILES)
def test_totals_match_sfacctd(corpus_dir, decoded, name):
    """Bytes per (src, dst, ports, proto) summed as pmacct's sfacctd printed them."""
    rows = oracle.load_jsonl(os.path.join(corpus_dir, 'oracle', 'pmacct',
                                          name + '.sfacctd.jsonl.gz'))

    def key(r):
        return (r.get('ip_src'), r.get('ip_dst'), r.get('port_src', 0), r.get('port_dst', 0),
                r.get('ip_proto'))
    want, got = {}, {}
    for r in rows:
        want[key(r)] = want.get(key(r), 0) + int(r['bytes'])
    for r in decoded(name):
        if r.get('event_type') == 'purge':
            got[key(r)] = got.get(key(r), 0) + int(r['bytes'])
    assert got == want
    assert all(r['export_proto_version'] == 5 for r in rows)


def _gaps(seqs):
    """Numbers skipped in a sequence: the first sets the baseline, a step back is a restart."""
    lost, want = 0, None
    for q in seqs:
        if want is not None and 0 < (q - want) % 2**32 < 2**31:
            lost += (q - want) % 2**32
        want = (q + 1) % 2**32
    return lost


def _stats_table(stderr):
    """`weir decode --stats` exporter rows: {(addr, domain, version): {column: value}}."""
    rows, cols = {}, None
    for line in stderr.splitlines():
        words = line.split()
        if words[:3] == ['exporter', 'domain', 'ver']:
            cols = words[3:]
        elif cols and len(words) == 3 + len(cols) and all(w.isdigit() for w in words[1:]):
            rows[(words[0], int(words[1]), int(words[2]))] = dict(
                zip(cols, map(int, words[3:])))
    return rows


@pytest.mark.parametrize('name', SFLOW_FILES)
def test_sequence_loss_matches_tshark(corpus_dir, weir_bin, name):
    """Datagram gaps per agent/sub-agent, sample gaps per source id and the agent's drops, as
    the sequence numbers and drops tshark shows imply (none in the corpus: all contiguous)."""
    dgram, samples, drops = {}, {}, {}
    last_hdr = None
    for kind, h, s in tshark_samples(corpus_dir, name):
        agent = (h['sflow_245.agent'], int(h['sflow_245.sub_agent_id']))
        if h is not last_hdr:
            dgram.setdefault(agent, []).append(int(h['sflow_245.sequence_number']))
            last_hdr = h
        pre = 'sflow.flow_sample.' if kind == 'flow' else 'sflow.counters_sample.'
        src = (kind, tuple(v for k, v in sorted(s.items())
                           if k.startswith(pre) and ('source_id' in k or k.endswith('.index'))))
        samples.setdefault(agent, {}).setdefault(src, []).append(int(s[pre + 'sequence_number']))
        if kind == 'flow':
            drops.setdefault(agent, set()).add(int(s[pre + 'dropped_packets']))
    p, _ = oracle.weir_decode(weir_bin, os.path.join(corpus_dir, 'exports', name + '.pcap'),
                              '--stats')
    assert p.returncode == 0, p.stderr[-2000:]
    table = _stats_table(p.stderr)
    assert dgram
    for agent, seqs in dgram.items():
        row = table[(agent[0], agent[1], 105)]
        assert row['packets'] == len(seqs)
        assert row['seq_gaps'] == _gaps(seqs)
        assert row['sample_gaps'] == sum(_gaps(q) for q in samples[agent].values())
        assert row['untracked'] == 0
        if drops.get(agent) == {0}:
            assert row['sflow_drops'] == 0


def test_header_parser_sanity():
    """The test's own parser on a hand-made frame, so a parser bug cannot hide a weir bug."""
    frame = (bytes.fromhex('020000000001' '020000000002' '8100' '0014' '0800') +
             bytes.fromhex('45b8001c00000000401100000a000001c0000202') +
             struct.pack('>HHHH', 1234, 53, 8, 0))
    f = parse_header(frame)
    assert f == {'mac_dst': '02:00:00:00:00:01', 'mac_src': '02:00:00:00:00:02', 'vlan': 20,
                 'tos': 0xb8, 'ip_src': '10.0.0.1', 'ip_dst': '192.0.2.2', 'ip_proto': 17,
                 'port_src': 1234, 'port_dst': 53}
