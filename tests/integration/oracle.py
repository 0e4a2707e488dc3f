"""Readers for the shared corpus oracles (tshark JSON, pmacct JSON lines) and `weir decode` output.

tshark (`oracle/tshark/NAME.tshark.json.gz`): a JSON array of frames; NetFlow v5 records are
`pdu i/n` objects in the `cflow` layer, v9/IPFIX data and options data records are `Flow i`
objects inside `FlowSet ...`/`Set ...` objects. Because tshark ran with --no-duplicate-keys, a
field that occurs twice in a record is a JSON list in template order (RFC 5103 biflows:
[forward, reverse]).
"""
import calendar
import gzip
import json
import os
import re
import subprocess
from decimal import Decimal

# pmacct's _protocols[] (src/pmacct-data.h): names for 0..133, the number as text otherwise.
PMACCT_PROTO_NAMES = {
    1: 'icmp', 2: 'igmp', 3: 'ggp', 4: 'ipencap', 6: 'tcp', 8: 'egp', 9: 'igp', 17: 'udp',
    18: 'mux', 41: 'ipv6', 43: 'ipv6-route', 44: 'ipv6-frag', 46: 'rsvp', 47: 'gre', 50: 'esp',
    51: 'ah', 55: 'mobile', 56: 'tlsp', 58: 'ipv6-icmp', 59: 'ipv6-nonxt', 60: 'ipv6-opts',
    80: 'iso-ip', 83: 'vines', 88: 'eigrp', 89: 'ospf', 91: 'larp', 93: 'ax.25', 94: 'ipip',
    98: 'encap', 102: 'pnni', 103: 'pim', 108: 'IPcomp', 111: 'ipx-in-ip', 112: 'vrrp',
    115: 'l2tp', 124: 'isis', 132: 'sctp', 133: 'fc',
}
PROTO_NUMBERS = {v: k for k, v in PMACCT_PROTO_NAMES.items()}


def proto_number(name):
    """weir/pmacct ip_proto text -> protocol number."""
    return PROTO_NUMBERS[name] if name in PROTO_NUMBERS else int(name)


def proto_name(num):
    return PMACCT_PROTO_NAMES.get(int(num), str(int(num)))


# ---------------------------------------------------------------- generic file readers

def load_json_gz(path):
    with gzip.open(path, 'rt') as f:
        return json.load(f)


def load_jsonl(path):
    """One JSON object per line; gzip when the name ends in .gz."""
    opener = gzip.open if path.endswith('.gz') else open
    out = []
    with opener(path, 'rt') as f:
        for line in f:
            line = line.strip()
            if line.startswith('{'):
                out.append(json.loads(line))
    return out


def expected_totals(corpus_dir):
    with open(os.path.join(corpus_dir, 'expected_totals.json')) as f:
        return json.load(f)['files']


# ---------------------------------------------------------------- weir decode

def weir_decode(weir_bin, pcaps, *args, timeout=300):
    """Runs `weir decode ARGS PCAP...`; returns (CompletedProcess, list of JSON records)."""
    if isinstance(pcaps, str):
        pcaps = [pcaps]
    p = subprocess.run([weir_bin, 'decode', *args, *pcaps], capture_output=True, text=True,
                       timeout=timeout)
    recs = [json.loads(line) for line in p.stdout.splitlines() if line.startswith('{')]
    return p, recs


_WEIR_TS = re.compile(r'^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?$')


def weir_time_ms(text):
    """weir's default timestamp text (UTC, "YYYY-MM-DD HH:MM:SS.ffffff") -> ms since the epoch."""
    m = _WEIR_TS.match(text)
    if not m:
        raise ValueError(f'not a weir timestamp: {text!r}')
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    if y == 0:
        return 0
    frac = (m.group(7) or '0').ljust(6, '0')
    return calendar.timegm((y, mo, d, h, mi, s)) * 1000 + int(frac) // 1000


# ---------------------------------------------------------------- tshark

_MONTHS = {m: i for i, m in enumerate(
    ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'], 1)}
_TSHARK_ABS = re.compile(r'^(\w{3}) +(\d+), (\d{4}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? UTC$')


def tshark_abs_ms(text):
    """tshark absolute time "May 14, 2024 09:00:03.870000000 UTC" -> ms since the epoch."""
    m = _TSHARK_ABS.match(text)
    if not m:
        raise ValueError(f'not a tshark absolute time: {text!r}')
    mon, d, y, h, mi, s, frac = m.groups()
    secs = calendar.timegm((int(y), _MONTHS[mon], int(d), int(h), int(mi), int(s)))
    return secs * 1000 + int((frac or '0').ljust(9, '0')[:9]) // 1000000


def seconds_ms(text):
    """tshark relative seconds "355.033000000" -> ms (exact)."""
    return int(Decimal(text) * 1000)


def first(v):
    """A field's forward value (tshark makes duplicates a list: [forward, reverse])."""
    return v[0] if isinstance(v, list) else v


def second(v):
    return v[1] if isinstance(v, list) and len(v) > 1 else None


def tshark_int(v):
    """tshark number text, decimal or 0x hex."""
    v = first(v)
    return int(v, 16) if isinstance(v, str) and v.lower().startswith('0x') else int(v)


class Record:
    """One NetFlow/IPFIX record as tshark decoded it, with its export header context."""

    def __init__(self, kind, fields, hdr, exporter, set_id, frame):
        self.kind = kind          # 'flow' or 'option'
        self.fields = fields      # the record's cflow.* fields
        self.hdr = hdr            # header fields (cflow.version, cflow.sequence, ...)
        self.exporter = exporter  # IP source of the datagram
        self.set_id = set_id      # template id (None for v5)
        self.frame = frame        # frame number in the capture

    @property
    def version(self):
        return int(self.hdr['cflow.version'])

    @property
    def domain(self):
        d = self.hdr.get('cflow.source_id', self.hdr.get('cflow.od_id'))
        return int(d) if d is not None else None

    def __repr__(self):
        return f'<frame {self.frame} set {self.set_id} {self.kind} {self.fields}>'


def _header(cflow):
    hdr = {k: v for k, v in cflow.items() if not isinstance(v, dict)}
    tree = cflow.get('cflow.timestamp_tree') or {}
    hdr.update(tree)
    return hdr


_SET_ID = re.compile(r'\[id=(\d+)\]')


def tshark_records(frames, option_template_ids=()):
    """Yields Record for every v5 pdu and v9/IPFIX data or options data record, in capture
    order. option_template_ids: set ids whose records are options data (from
    expected_totals.json `options_template_ids`)."""
    opt_ids = {int(x) for x in option_template_ids}
    for fr in frames:
        layers = fr['layers']
        cflow = layers.get('cflow')
        if not cflow:
            continue
        ip = layers.get('ip') or layers.get('ipv6') or {}
        exporter = ip.get('ip.src') or ip.get('ipv6.src')
        hdr = _header(cflow)
        for key, val in cflow.items():
            if not isinstance(val, dict):
                continue
            if key.startswith('pdu '):
                yield Record('flow', val, hdr, exporter, None, fr['frame'])
                continue
            m = _SET_ID.search(key)
            if not m or not (key.startswith('FlowSet') or key.startswith('Set')):
                continue
            set_id = int(m.group(1))
            for rk, rv in val.items():
                if isinstance(rv, dict) and rk.startswith('Flow '):
                    kind = 'option' if set_id in opt_ids else 'flow'
                    yield Record(kind, rv, hdr, exporter, set_id, fr['frame'])


def load_tshark_records(corpus_dir, name):
    exp = expected_totals(corpus_dir)[name]
    frames = load_json_gz(os.path.join(corpus_dir, 'oracle', 'tshark', name + '.tshark.json.gz'))
    return list(tshark_records(frames, exp.get('options_template_ids', ())))


def _time_value(tree, which):
    """('rel', ms) from cflow.time<which>, ('abs', ms) from cflow.abstime<which>, or None."""
    if 'cflow.time' + which in tree:
        return 'rel', seconds_ms(first(tree['cflow.time' + which]))
    if 'cflow.abstime' + which in tree:
        return 'abs', tshark_abs_ms(first(tree['cflow.abstime' + which]))
    return None


def record_times(rec, sys_init_ms=None):
    """Acceptable (start_ms, end_ms) pairs for a record, converted like tshark shows them.

    v5: header unix_secs(+nsecs) - sysUpTime + First/Last; both with and without the nsecs are
    accepted (pmacct ignores them). v9: unix_secs - sysUpTime + First/Last. IPFIX absolute
    times as they are; IPFIX flowStart/EndSysUpTime relative to systemInitTimeMilliseconds (from
    the options data) when known. Returns [] when the record has no times or they cannot be
    placed."""
    tree = rec.fields.get('cflow.timedelta_tree')
    if isinstance(tree, list):
        tree = tree[0]
    if not tree:
        return []
    start, end = _time_value(tree, 'start'), _time_value(tree, 'end')
    if start is None or end is None:
        return []
    # tshark shows a relative time of 0 as the absolute epoch: put it back as relative 0.
    if start[0] != end[0]:
        start, end = [('rel', 0) if v == ('abs', 0) else v for v in (start, end)]
        if start[0] != end[0]:
            return []
    if start[0] == 'abs':
        return [(start[1], end[1])]
    start, end = start[1], end[1]
    if rec.version == 10:
        if sys_init_ms is None:
            return []
        return [(sys_init_ms + start, sys_init_ms + end)]
    secs = int(rec.hdr['cflow.unix_secs']) * 1000
    up = seconds_ms(rec.hdr['cflow.sysuptime'])
    bases = [secs - up]
    if rec.version == 5 and rec.hdr.get('cflow.unix_nsecs'):
        bases.append(secs + int(rec.hdr['cflow.unix_nsecs']) // 1000000 - up)
    return [(b + start, b + end) for b in bases]


# ---------------------------------------------------------------- pmacct

TCP_FLAG_NAMES = ['URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN']  # pmacct's tcpflags_mask order

# pmacct fwd_status_encode_as_string (RFC 7270 forwardingStatus with a reason code).
FWD_STATUS_NAMES = {
    64: 'FORWARDED Unknown', 65: 'FORWARDED Fragmented', 66: 'FORWARDED Not Fragmented',
    128: 'DROPPED Unknown', 129: 'DROPPED ACL deny', 130: 'DROPPED ACL drop',
    131: 'DROPPED Unroutable', 132: 'DROPPED Adjacency',
    133: 'DROPPED Fragmentation and DF set', 134: 'DROPPED Bad header checksum',
    135: 'DROPPED Bad total Length', 136: 'DROPPED Bad header length', 137: 'DROPPED bad TTL',
    138: 'DROPPED Policer', 139: 'DROPPED WRED', 140: 'DROPPED RPF', 141: 'DROPPED For us',
    142: 'DROPPED Bad output interface', 143: 'DROPPED Hardware', 192: 'CONSUMED Unknown',
    193: 'CONSUMED Punt Adjacency', 194: 'CONSUMED Incomplete Adjacency',
    195: 'CONSUMED For us',
}


def pmacct_tcp_flags_array(value):
    """pmacct tcpflags_encode_as_array: names of the set bits, only for values 1..63."""
    value = int(value)
    if not 0 < value < 64:
        return []
    return [n for i, n in enumerate(TCP_FLAG_NAMES) if value & (32 >> i)]


def pmacct_fwd_status_string(value):
    return FWD_STATUS_NAMES.get(int(value), 'UNKNOWN Unclassified')


def pmacct_conf(path):
    """pmacct config as {key: value}; key[plugin] kept as written; '!' comments dropped."""
    conf = {}
    with open(path) as f:
        for line in f:
            line = line.split('!', 1)[0].strip()
            if ':' not in line:
                continue
            k, v = line.split(':', 1)
            conf[k.strip()] = v.strip()
    return conf


def reproducer_targets(case_dir):
    """(pcap path, udp dst port) for each traffic-reproducer-*.yml of a pmacct test case."""
    out = []
    for name in sorted(os.listdir(case_dir)):
        if not re.match(r'traffic-reproducer-\d+\.yml$', name):
            continue
        text = open(os.path.join(case_dir, name)).read()
        pcap = re.search(r'^pcap:\s*(\S+)', text, re.M).group(1)
        port = re.search(r'dport:\s*\n\s*-\s*(\d+)', text)
        out.append((os.path.join(case_dir, pcap), int(port.group(1)) if port else None))
    return out
