"""pmacct's own regression captures (../shared/pmacct-tests): `weir decode` of each case's
traffic-*.pcap, summed per flow key, equals pmacct's expected output-flow-00.json summed the same
way. The key is the case's `aggregate` primitives (nfacctd-00.conf) that weir decodes, mapped to
weir's JSON names; the primitives left out are in IGNORED, each with the reason. Cases whose
config renormalizes by the sampling rate (104) compare weir's counters times its
sampling_rate, as nfacctd_renormalize does.
"""
import collections
import os

import pytest

import oracle

CASES = [
    '100-IPFIXv10-CISCO',
    '101-NFv9-CISCO-cust_primitives',
    '104-IPFIXv10-IPv6-CISCO-sampling_option',
    '110-IPFIXv10-NFv9-multiple-sources',
]


def _labels_text(v):
    """weir's (and pmacct's default) mpls_label_stack text "16065_16033" -> labels, top first."""
    return tuple(int(x) for x in str(v).split('_') if x)


def _labels_array(v):
    """pmacct mpls_label_stack_encode_as_array: ["0-16065", "1-16033"] -> labels."""
    return tuple(int(x.split('-', 1)[1]) for x in v)


def _flags_from_array(names):
    """pmacct tcpflags_encode_as_array ["ACK", "PSH"] -> flag bits."""
    bits = {n: 32 >> i for i, n in enumerate(oracle.TCP_FLAG_NAMES)}
    return sum(bits[n] for n in names)


def _flags_seen_by_pmacct(v):
    """weir's decimal tcp_flags as pmacct's array form can carry it (1..63, else nothing)."""
    return _flags_from_array(oracle.pmacct_tcp_flags_array(v))


def normalizers(conf):
    """pmacct aggregate primitive -> (pmacct JSON key, weir JSON key, weir value when absent,
    pmacct value -> comparable, weir value -> comparable). pmacct's encoding of some values
    depends on *_encode_as_* keys of the case config. Primitives in OR_PRIMITIVES are no part
    of the key: nfacctd ORs TCP flags into the aggregate (chained_cache.tcp_flags)."""
    def on(k):
        return conf.get(k, 'false').lower() == 'true'
    tcp = ((_flags_from_array, _flags_seen_by_pmacct) if on('tcpflags_encode_as_array')
           else (int, int))
    fwd = ((str, oracle.pmacct_fwd_status_string) if on('fwd_status_encode_as_string')
           else (int, int))
    mpls = (_labels_array if on('mpls_label_stack_encode_as_array') else _labels_text,
            _labels_text)
    return {
        'src_host': ('ip_src', 'ip_src', '0.0.0.0', str, str),
        'dst_host': ('ip_dst', 'ip_dst', '0.0.0.0', str, str),
        'src_port': ('port_src', 'port_src', 0, int, int),
        'dst_port': ('port_dst', 'port_dst', 0, int, int),
        'src_mask': ('mask_src', 'mask_src', 0, int, int),
        'dst_mask': ('mask_dst', 'mask_dst', 0, int, int),
        'in_iface': ('iface_in', 'iface_in', 0, int, int),
        'out_iface': ('iface_out', 'iface_out', 0, int, int),
        'src_as': ('as_src', 'as_src', 0, int, int),
        'dst_as': ('as_dst', 'as_dst', 0, int, int),
        'proto': ('ip_proto', 'ip_proto', '0', str, str),
        'tos': ('tos', 'tos', 0, int, int),
        'tcpflags': ('tcp_flags', 'tcp_flags', '0') + tcp,
        'fwd_status': ('fwd_status', 'fwd_status', '0') + fwd,
        'mpls_label_stack': ('mpls_label_stack', 'mpls_label_stack', '') + mpls,
    }


OR_PRIMITIVES = {'tcpflags'}

IGNORED = {
    'peer_src_ip': "pmacct's harness replaces the exporter address: the expected output holds "
                   "the replayer's address, not the capture's",
    'src_net': 'needs networks_file or mask-derived networks: weir has no net_src yet',
    'dst_net': 'needs networks_file or mask-derived networks: weir has no net_dst yet',
    'mpls_vpn_rd': 'route distinguisher (from BGP or the VRF id fields): weir has none yet',
    'label': "pre_tag_map labels: weir has no pre_tag_map",
    'vrf_name': 'custom primitive (aggregate_primitives map): weir has none',
    'vrf_id_ingress': 'custom primitive (aggregate_primitives map): weir has none',
    'vrf_id_egress': 'custom primitive (aggregate_primitives map): weir has none',
    'mpls_tl_ipv4_address': 'custom primitive (aggregate_primitives map): weir has none',
    'mpls_tl_prefix_length': 'custom primitive (aggregate_primitives map): weir has none',
    'mpls_tl_type': 'custom primitive (aggregate_primitives map): weir has none',
    'timestamp_start': 'nfacctd_time_new: pmacct replaced it with its own arrival time',
    'timestamp_end': 'nfacctd_time_new: pmacct replaced it with its own arrival time',
    'timestamp_arrival': "arrival at pmacct's collector during the replay; the harness ignores it",
}


def _aggregate(conf):
    for k, v in conf.items():
        if k == 'aggregate' or k.startswith('aggregate['):
            return [p.strip() for p in v.split(',') if p.strip()]
    raise AssertionError('no aggregate key in the case config')


def _sum(rows, cols, ors, side, renormalize=False):
    """{key: (packets, bytes, ORed values)} of pmacct rows (side 0) or weir records (side 1)."""
    def value(r, col):
        pm_key, w_key, absent, pm_fn, w_fn = col
        return pm_fn(r[pm_key]) if side == 0 else w_fn(r.get(w_key, absent))

    out = collections.defaultdict(lambda: [0, 0] + [0] * len(ors))
    for r in rows:
        acc = out[tuple(value(r, c) for c in cols)]
        mult = int(r.get('sampling_rate') or 1) if renormalize else 1
        acc[0] += int(r['packets']) * mult
        acc[1] += int(r['bytes']) * mult
        for i, c in enumerate(ors):
            acc[2 + i] |= value(r, c)
    return {k: tuple(v) for k, v in out.items()}


def _diff(want, got):
    lines = []
    for k in sorted(set(want) | set(got), key=repr):
        if want.get(k) != got.get(k):
            lines.append(f'{k}: pmacct {want.get(k)} weir {got.get(k)}')
    return '\n'.join(lines[:40])


@pytest.mark.parametrize('case', CASES)
def test_pmacct_case(weir_bin, shared_dir, case):
    d = os.path.join(shared_dir, 'pmacct-tests', case)
    conf = oracle.pmacct_conf(os.path.join(d, 'nfacctd-00.conf'))
    agg = _aggregate(conf)
    prims = normalizers(conf)
    unknown = [p for p in agg if p not in prims and p not in IGNORED]
    assert not unknown, f'primitives neither compared nor ignored with a reason: {unknown}'
    cols = [prims[p] for p in agg if p in prims and p not in OR_PRIMITIVES]
    ors = [prims[p] for p in agg if p in prims and p in OR_PRIMITIVES]
    renormalize = conf.get('nfacctd_renormalize', 'false').lower() == 'true'

    rows = oracle.load_jsonl(os.path.join(d, 'output-flow-00.json'))
    assert rows, 'empty expected output'
    want = _sum(rows, cols, ors, 0)

    records = []
    for pcap, port in oracle.reproducer_targets(d):
        args = ['--port', str(port)] if port else []
        p, recs = oracle.weir_decode(weir_bin, pcap, *args)
        assert p.returncode == 0, f'weir decode {pcap} exited {p.returncode}: {p.stderr[-2000:]}'
        records += [r for r in recs if r.get('event_type') == 'purge']
    got = _sum(records, cols, ors, 1, renormalize)

    assert sum(v[0] for v in got.values()) == sum(v[0] for v in want.values()), \
        'total packets differ\n' + _diff(want, got)
    assert sum(v[1] for v in got.values()) == sum(v[1] for v in want.values()), \
        'total bytes differ\n' + _diff(want, got)
    assert got == want, 'per-key packets/bytes/ORed flags differ\n' + _diff(want, got)


def test_normalizers():
    """The value mappings the comparison relies on (pmacct's encodings)."""
    arr = normalizers({'tcpflags_encode_as_array': 'True', 'fwd_status_encode_as_string': 'true',
                       'mpls_label_stack_encode_as_array': 'true'})
    plain = normalizers({})
    assert arr['tcpflags'][4]('24') == arr['tcpflags'][3](['ACK', 'PSH']) == 24
    assert arr['tcpflags'][4]('0') == arr['tcpflags'][3]([]) == 0
    assert arr['tcpflags'][4]('194') == 0  # pmacct's array only encodes 1..63
    assert plain['tcpflags'][4]('26') == plain['tcpflags'][3]('26') == 26
    assert arr['fwd_status'][4]('195') == 'CONSUMED For us'
    assert arr['fwd_status'][4]('0') == 'UNKNOWN Unclassified'
    assert plain['fwd_status'][4]('64') == 64
    assert arr['mpls_label_stack'][3](['0-16065', '1-16033']) == (16065, 16033)
    assert arr['mpls_label_stack'][4]('16065_16033') == (16065, 16033)
    assert arr['mpls_label_stack'][4]('') == arr['mpls_label_stack'][3]([]) == ()
