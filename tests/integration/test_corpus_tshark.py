"""Conformance bar: `weir decode` of every NetFlow/IPFIX capture in ../shared/corpus yields the
same records, in order and field by field, as tshark's decode of the same bytes; and the totals
per file equal expected_totals.json (plus the shared check_totals.py tool on every capture).

Fields compared (tshark name -> weir JSON name) are in FIELD_MAP; timestamps, ICMP type/code,
forwarding status, sampling and the export header are compared by code below. tshark fields
that are deliberately not compared are listed in IGNORED with the reason; any other tshark field
fails the test, so a new corpus field cannot go unchecked silently.
"""
import functools
import glob
import ipaddress
import os
import subprocess
import sys

import pytest

import oracle
from conftest import ROOT, SHARED

CORPUS = os.path.join(SHARED, 'corpus')
FLOW_PROTOCOLS = ('netflow_v5', 'netflow_v9', 'ipfix')


def _files(protocols):
    try:
        exp = oracle.expected_totals(CORPUS)
    except OSError:
        return ['corpus-absent']  # the corpus_dir fixture skips with the reason
    return sorted(n for n, e in exp.items() if e['protocol'] in protocols
                  and os.path.exists(os.path.join(CORPUS, 'exports', n + '.pcap')))


FLOW_FILES = _files(FLOW_PROTOCOLS)


def _ip(v):
    return ipaddress.ip_address(v)


def _direction(v):
    return {0: 'ingress', 1: 'egress'}.get(int(v), str(v))


def _weir_int(v):
    return int(v)


# tshark field -> (weir field, tshark converter, weir converter)
FIELD_MAP = {
    'cflow.srcaddr': ('ip_src', _ip, _ip),
    'cflow.srcaddrv6': ('ip_src', _ip, _ip),
    'cflow.dstaddr': ('ip_dst', _ip, _ip),
    'cflow.dstaddrv6': ('ip_dst', _ip, _ip),
    'cflow.nexthop': ('nexthop', _ip, _ip),
    'cflow.nexthopv6': ('nexthop', _ip, _ip),
    'cflow.bgpnexthop': ('peer_ip_dst', _ip, _ip),
    'cflow.bgpnexthopv6': ('peer_ip_dst', _ip, _ip),
    'cflow.srcport': ('port_src', oracle.tshark_int, _weir_int),
    'cflow.dstport': ('port_dst', oracle.tshark_int, _weir_int),
    'cflow.protocol': ('ip_proto', oracle.tshark_int, oracle.proto_number),
    'cflow.tos': ('tos', oracle.tshark_int, _weir_int),
    'cflow.tcpflags': ('tcp_flags', oracle.tshark_int, _weir_int),
    'cflow.inputint': ('iface_in', oracle.tshark_int, _weir_int),
    'cflow.outputint': ('iface_out', oracle.tshark_int, _weir_int),
    'cflow.srcmask': ('mask_src', oracle.tshark_int, _weir_int),
    'cflow.srcmaskv6': ('mask_src', oracle.tshark_int, _weir_int),
    'cflow.dstmask': ('mask_dst', oracle.tshark_int, _weir_int),
    'cflow.dstmaskv6': ('mask_dst', oracle.tshark_int, _weir_int),
    'cflow.srcas': ('as_src', oracle.tshark_int, _weir_int),
    'cflow.dstas': ('as_dst', oracle.tshark_int, _weir_int),
    'cflow.vlanid': ('vlan', oracle.tshark_int, _weir_int),
    'cflow.post_vlanid': ('vlan_out', oracle.tshark_int, _weir_int),
    'cflow.srcmac': ('mac_src', lambda v: oracle.first(v).lower(), str.lower),
    'cflow.dstmac': ('mac_dst', lambda v: oracle.first(v).lower(), str.lower),
    'cflow.direction': ('direction', lambda v: _direction(oracle.first(v)), str),
    'cflow.flow_end_reason': ('flow_end_reason', oracle.tshark_int, _weir_int),
    'cflow.sampler_id': ('sampler_id', oracle.tshark_int, _weir_int),
    'cflow.engine_type': ('engine_type', oracle.tshark_int, _weir_int),
    'cflow.engine_id': ('engine_id', oracle.tshark_int, _weir_int),
    'cflow.octets': ('bytes', oracle.tshark_int, _weir_int),
    'cflow.packets': ('packets', oracle.tshark_int, _weir_int),
}

# Compared by code below, not through FIELD_MAP.
SPECIAL = {'cflow.timedelta', 'cflow.timedelta_tree', 'Forwarding Status',
           'cflow.icmp_type_code_ipv4', 'cflow.icmp_ipv6_type', 'cflow.icmp_ipv6_code'}

IGNORED = {
    'cflow.padding': 'v5 record padding, no value',
    'cflow.tcpflags_tree': 'the bits of cflow.tcpflags, compared as a whole',
    'cflow.ip_version': 'no weir field; the family is checked through ip_src/ip_dst',
    'cflow.post_tos': 'postIpClassOfService (IE 55): no weir or pmacct field',
    'cflow.enterprise_private_entry': 'pmacct tag/label (PEN 43874): no weir field yet',
    'cflow.enterprise_private_entry_tree': 'length of the above',
}

# Options data record fields that carry the sampling rate / system init time.
SAMPLING_FIELDS = ('cflow.sampling_interval', 'cflow.sampling_packet_interval',
                   'cflow.sampler_random_interval')

# Options data: the sampling rate and sampler id are compared (they reach flow records); the
# rest describes the exporter and has no weir field.
OPTION_COMPARED = SAMPLING_FIELDS + ('cflow.sampling_packet_space', 'cflow.sampler_id')
OPTION_IGNORED = {
    'cflow.scope_interface': 'scope of softflowd\'s sampling options (interface 0)',
    'cflow.flow_exporter': 'scope of pmacct\'s sampler options (exporter 0)',
    'cflow.mp_id': 'meteringProcessId scope: no weir field',
    'cflow.sys_init_time': 'used to place flowStart/EndSysUpTime of later flows',
    'cflow.sampling_algorithm': 'deterministic/random: no weir field',
    'cflow.selector_algorithm': 'deterministic/random: no weir field',
    'cflow.sampler_mode': 'deterministic/random: no weir field',
    'cflow.if_name': 'interface name: no weir field',
}


@functools.lru_cache(maxsize=None)
def _decode(weir_bin, name):
    pcap = os.path.join(CORPUS, 'exports', name + '.pcap')
    p, recs = oracle.weir_decode(weir_bin, pcap, '--all')
    return p.returncode, p.stderr, recs


class Context:
    """Per exporter and domain state learned from options data, in capture order."""

    def __init__(self):
        self.sys_init = {}
        self.rate = {}

    def learn(self, rec):
        key = (rec.exporter, rec.domain)
        f = rec.fields
        if 'cflow.sys_init_time' in f:
            self.sys_init[key] = oracle.tshark_abs_ms(oracle.first(f['cflow.sys_init_time']))
        rate = _option_rate(rec)
        if rate is not None:
            self.rate[key] = rate


def _fwd_status(tree):
    status = int(tree['cflow.forwarding_status'])
    codes = [v for k, v in tree.items() if k != 'cflow.forwarding_status' and 'code' in k]
    return status << 6 | (int(codes[0]) if codes else 0)


def _icmp_expected(t, proto):
    """(type, code) tshark shows for the record, or None."""
    f = t.fields
    if 'cflow.icmp_type_code_ipv4' in f:
        v = oracle.tshark_int(f['cflow.icmp_type_code_ipv4'])
        return v >> 8, v & 0xff
    if 'cflow.icmp_ipv6_type' in f:
        return (oracle.tshark_int(f['cflow.icmp_ipv6_type']),
                oracle.tshark_int(f.get('cflow.icmp_ipv6_code', '0')))
    if t.version == 5 and proto in (1, 58) and 'cflow.dstport' in f:
        v = oracle.tshark_int(f['cflow.dstport'])  # NetFlow v5 carries type << 8 | code here
        return v >> 8, v & 0xff
    return None


def _check_icmp(w, t, proto, bad):
    """ICMP type/code: in icmp_type/icmp_code when weir prints them, else (pmacct's way, and
    NetFlow v5's) as type << 8 | code in port_dst."""
    exp = _icmp_expected(t, proto)
    if exp is None:
        return
    got = (w.get('icmp_type'), w.get('icmp_code'))
    if 'icmp_type' in w or 'icmp_code' in w:
        if got != exp:
            bad(f'icmp type/code: weir {got} != tshark {exp}')
    elif proto in (1, 58) and w.get('port_dst') != (exp[0] << 8 | exp[1]):
        bad(f'icmp type/code: weir has no icmp_type/code and port_dst {w.get("port_dst")} '
            f'!= tshark {exp}')


def _check_fields(w, t, proto, bad):
    for key, val in t.fields.items():
        if key in SPECIAL or key in IGNORED:
            continue
        if key not in FIELD_MAP:
            bad(f'tshark field {key} is neither compared nor listed in IGNORED')
            continue
        wkey, tconv, wconv = FIELD_MAP[key]
        if key == 'cflow.dstport' and t.version == 5 and proto in (1, 58):
            continue  # ICMP type/code, checked by _check_icmp
        if wkey not in w:
            bad(f'{wkey} missing (tshark {key} = {oracle.first(val)})')
            continue
        exp, got = tconv(val), wconv(w[wkey])
        if exp != got:
            bad(f'{wkey}: weir {got} != tshark {exp}')
        if key in ('cflow.octets', 'cflow.packets'):
            rkey, rev = 'rev_' + wkey, oracle.second(val)
            if rev is None and rkey in w:
                bad(f'{rkey}: weir {w[rkey]} but tshark has no reverse counter')
            elif rev is not None and int(w.get(rkey, -1)) != oracle.tshark_int(rev):
                bad(f'{rkey}: weir {w.get(rkey)} != tshark reverse {rev}')
    if 'Forwarding Status' in t.fields:
        exp = _fwd_status(t.fields['Forwarding Status'])
        if int(w.get('fwd_status', -1)) != exp:
            bad(f'fwd_status: weir {w.get("fwd_status")} != tshark {exp}')


def _option_rate(t):
    f = t.fields
    for k in SAMPLING_FIELDS:
        if k in f:
            interval = oracle.tshark_int(f[k])
            space = oracle.tshark_int(f.get('cflow.sampling_packet_space', '0'))
            return (interval + space) // interval if interval else None
    return None


def _check_option(w, t, bad):
    for key in t.fields:
        if key not in OPTION_COMPARED and key not in OPTION_IGNORED:
            bad(f'tshark options field {key} is neither compared nor listed in OPTION_IGNORED')
    rate = _option_rate(t)
    if rate is not None and w.get('sampling_rate') != rate:
        bad(f'sampling_rate: weir {w.get("sampling_rate")} != options data {rate}')
    if 'cflow.sampler_id' in t.fields:
        exp = oracle.tshark_int(t.fields['cflow.sampler_id'])
        if w.get('sampler_id') != exp:
            bad(f'sampler_id: weir {w.get("sampler_id")} != options data {exp}')


def _check_header(w, t, ctx, bad):
    if _ip(w.get('peer_ip_src', '0.0.0.0')) != _ip(t.exporter):
        bad(f'peer_ip_src: weir {w.get("peer_ip_src")} != {t.exporter}')
    if w.get('export_proto_version') != t.version:
        bad(f'export_proto_version: weir {w.get("export_proto_version")} != {t.version}')
    seq = int(t.hdr['cflow.sequence'])
    if w.get('export_proto_seqno') != seq:
        bad(f'export_proto_seqno: weir {w.get("export_proto_seqno")} != {seq}')
    if t.version == 5:
        for k in ('engine_type', 'engine_id'):
            exp = int(t.hdr['cflow.' + k])
            if w.get(k) != exp:
                bad(f'{k}: weir {w.get(k)} != v5 header {exp}')
        rate = int(t.hdr.get('cflow.samplerate', '0'))
        if rate and w.get('sampling_rate') != rate:
            bad(f'sampling_rate: weir {w.get("sampling_rate")} != v5 header {rate}')
    elif w.get('export_proto_sysid') != t.domain:
        bad(f'export_proto_sysid: weir {w.get("export_proto_sysid")} != {t.domain}')
    rate = ctx.rate.get((t.exporter, t.domain))
    if t.kind == 'flow' and rate is not None and w.get('sampling_rate') != rate:
        bad(f'sampling_rate: weir {w.get("sampling_rate")} != options data {rate}')


def _check_times(w, t, ctx, bad):
    pairs = oracle.record_times(t, ctx.sys_init.get((t.exporter, t.domain)))
    if not pairs:
        return
    if 'timestamp_start' not in w or 'timestamp_end' not in w:
        bad(f'timestamp_start/end missing (tshark {pairs[0]})')
        return
    got = (oracle.weir_time_ms(w['timestamp_start']), oracle.weir_time_ms(w['timestamp_end']))
    if got not in pairs:
        bad(f'timestamps: weir {got} ({w["timestamp_start"]} .. {w["timestamp_end"]}) '
            f'not in tshark {pairs}')


def compare_record(w, t, ctx):
    """Mismatches between one weir record and one tshark record, as text lines."""
    problems = []
    bad = problems.append
    proto = oracle.tshark_int(t.fields['cflow.protocol']) if 'cflow.protocol' in t.fields else None
    _check_header(w, t, ctx, bad)
    if t.kind == 'option':
        _check_option(w, t, bad)
        return problems
    _check_fields(w, t, proto, bad)
    _check_icmp(w, t, proto, bad)
    _check_times(w, t, ctx, bad)
    return problems


def _mismatch_report(name, problems, limit=30):
    head = '\n'.join(problems[:limit])
    more = f'\n... and {len(problems) - limit} more' if len(problems) > limit else ''
    return f'{name}: {len(problems)} mismatches vs tshark\n{head}{more}'


@pytest.mark.parametrize('name', FLOW_FILES)
def test_records_match_tshark(weir_bin, corpus_dir, name):
    rc, err, recs = _decode(weir_bin, name)
    assert rc == 0, f'weir decode exited {rc}: {err[-2000:]}'
    expected = oracle.load_tshark_records(corpus_dir, name)
    w_flows = [r for r in recs if r.get('event_type') == 'purge']
    w_opts = [r for r in recs if r.get('event_type') == 'option']
    t_flows = [r for r in expected if r.kind == 'flow']
    t_opts = [r for r in expected if r.kind == 'option']
    assert len(w_flows) == len(t_flows), 'flow record count differs from tshark'
    assert len(w_opts) == len(t_opts), 'options data record count differs from tshark'

    ctx = Context()
    problems = []
    wi = {'flow': iter(w_flows), 'option': iter(w_opts)}
    counts = {'flow': 0, 'option': 0}
    for t in expected:  # capture order: options data teach the context before later flows
        if t.kind == 'option':
            ctx.learn(t)
        w = next(wi[t.kind])
        counts[t.kind] += 1
        where = f'{t.kind} #{counts[t.kind]} (frame {t.frame}, set {t.set_id})'
        problems += [f'{where}: {p}' for p in compare_record(w, t, ctx)]
    assert not problems, _mismatch_report(name, problems)


@pytest.mark.parametrize('name', FLOW_FILES)
def test_totals_match_expected(weir_bin, corpus_dir, name):
    rc, err, recs = _decode(weir_bin, name)
    assert rc == 0, f'weir decode exited {rc}: {err[-2000:]}'
    e = oracle.expected_totals(corpus_dir)[name]
    flows = [r for r in recs if r.get('event_type') == 'purge']
    got = {
        'flow_records': len(flows),
        'option_records': sum(r.get('event_type') == 'option' for r in recs),
        'bytes': sum(int(r.get('bytes', 0)) for r in flows),
        'packets': sum(int(r.get('packets', 0)) for r in flows),
        'reverse_bytes': sum(int(r.get('rev_bytes', 0)) for r in flows),
        'reverse_packets': sum(int(r.get('rev_packets', 0)) for r in flows),
    }
    want = {k: e[k] for k in got}
    assert got == want


SFLOW_FILES = _files(('sflow_v5',))
SFLOW_DECODER = glob.glob(os.path.join(ROOT, 'src', 'decode', 'sflow*.c'))


@pytest.mark.parametrize('names', [
    pytest.param(FLOW_FILES, id='netflow-ipfix'),
    pytest.param(SFLOW_FILES, id='sflow', marks=pytest.mark.xfail(
        not SFLOW_DECODER, strict=True, reason='no sFlow decoder in src/decode yet')),
])
def test_check_totals_tool(weir_bin, shared_dir, names):
    """The shared acceptance tool (records, bytes, packets per capture)."""
    tool = os.path.join(shared_dir, 'tools', 'check_totals.py')
    p = subprocess.run([sys.executable, tool, weir_bin, os.path.join(shared_dir, 'corpus'),
                        *names], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f'matched {len(names)}/{len(names)} files' in p.stdout, p.stdout


def test_oracle_reader_sanity(corpus_dir):
    """The tshark reader itself: record counts equal expected_totals for every capture, so a
    reader bug cannot make the comparison vacuous."""
    exp = oracle.expected_totals(corpus_dir)
    for name in FLOW_FILES:
        recs = oracle.load_tshark_records(corpus_dir, name)
        assert sum(r.kind == 'flow' for r in recs) == exp[name]['flow_records'], name
        assert sum(r.kind == 'option' for r in recs) == exp[name]['option_records'], name
