"""sFlow into `weir collect` over loopback: pmacctd's sfprobe replaying the corpus traffic,
`weir gen -P sflow`, the corpus' counter samples into sfacctd_counter_file, and the default
6343 listener."""
import json
import os
import re
import socket
import struct
import time

import pytest

from conftest import need_tool, run
from test_collect import Collector, expected, pcap_udp_payloads, totals

import oracle


def _sflow_conf(extra=()):
    return ['aggregate: src_host, dst_host, src_port, dst_port, proto, peer_src_ip, '
            'export_proto_version, export_proto_sysid', *extra]


def test_sfprobe_into_collect(weir_bin, corpus_dir, tmp_path):
    """pmacctd sfprobe meters the traffic pcap and exports sFlow live to weir; the totals are
    the oracle's for the same exporter (pmacctd_sfprobe: 6390 samples, frame bytes)."""
    pmacctd = need_tool('pmacctd')
    exp = expected(corpus_dir)['pmacctd_sfprobe']
    with Collector(weir_bin, tmp_path, extra=_sflow_conf()) as col:
        conf = tmp_path / 'pmacctd.conf'
        conf.write_text('daemonize: false\n'
                        f'pcap_savefile: {corpus_dir}/source/traffic_public.pcap\n'
                        'plugins: sfprobe\n'
                        f'sfprobe_receiver: 127.0.0.1:{col.port}\n'
                        'sfprobe_agentip: 192.0.2.250\n'
                        'sfprobe_agentsubid: 1402\n'
                        'snaplen: 128\n')
        r = run([pmacctd, '-f', str(conf)], timeout=120)
        # pmacctd 1.7.7's exit status at the end of a savefile races its plugin's shutdown
        # (0 or 1, same export): what weir received is the oracle, not pmacctd's status.
        assert 'Exporting flows to' in r.stderr, r.stderr
        col.stop()
        recs = col.records()
    _, nbytes, npk = totals(recs)
    assert col.kernel_drops() == 0
    assert (nbytes, npk) == (exp['sampled_frame_bytes'], exp['flow_samples']), r.stderr
    assert {r['peer_ip_src'] for r in recs} == {'192.0.2.250'}
    assert {r['export_proto_sysid'] for r in recs} == {1402}
    assert {r['export_proto_version'] for r in recs} == {5}


def _gen_json(stdout):
    lines = [json.loads(x) for x in stdout.splitlines() if x.startswith('{')]
    assert lines, stdout
    return lines[-1]


def test_gen_sflow_renormalized(weir_bin, tmp_path):
    """weir gen -P sflow: one flow sample per generated record with sampling rate = its
    packets, so sfacctd_renormalize gives back the generator's packets and bytes exactly."""
    with Collector(weir_bin, tmp_path, extra=_sflow_conf(['sfacctd_renormalize: true'])) as col:
        r = run([weir_bin, 'gen', '-P', 'sflow', '-n', '20000', '--packets', '3', '--v6', '30',
                 '-e', '2', '--json', f'127.0.0.1:{col.port}'], timeout=120)
        assert r.returncode == 0, r.stderr
        sent = _gen_json(r.stdout)
        col.stop()
        recs = col.records()
    assert col.kernel_drops() == 0
    _, nbytes, npk = totals(recs)
    assert (nbytes, npk) == (sent['bytes'], sent['packets'])
    assert sent['records'] == 20000
    assert {r['export_proto_version'] for r in recs} == {5}
    assert {r['peer_ip_src'] for r in recs} == {'127.0.0.1'}


def _write_pcap(path, payloads, port):
    """Ethernet/IPv4/UDP frames 127.0.0.1 -> 127.0.0.1:port around each payload."""
    out = [struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
    for i, p in enumerate(payloads):
        udp = struct.pack('>HHHH', 40000, port, 8 + len(p), 0) + p
        ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                         socket.inet_aton('127.0.0.1'), socket.inet_aton('127.0.0.1'))
        frame = b'\0' * 12 + b'\x08\x00' + ip + udp
        out.append(struct.pack('<IIII', 1700000000 + i, 0, len(frame), len(frame)) + frame)
    with open(path, 'wb') as f:
        f.write(b''.join(out))


def test_gen_sflow_decode(weir_bin, tmp_path):
    """weir gen -P sflow's datagrams as weir decode sees them: samples = records, packets = 1
    each, counter samples only with --all."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        r = run([weir_bin, 'gen', '-P', 'sflow', '-n', '500', '--template-every', '5',
                 '--v6', '50', '--json', f'127.0.0.1:{port}'], timeout=60)
        assert r.returncode == 0, r.stderr
        s.setblocking(False)
        payloads = []
        while True:
            try:
                payloads.append(s.recv(65535))
            except BlockingIOError:
                break
    sent = _gen_json(r.stdout)
    assert len(payloads) == sent['datagrams']
    pcap = tmp_path / 'sflow.pcap'
    _write_pcap(pcap, payloads, port)
    p, recs = oracle.weir_decode(weir_bin, str(pcap), '--all')
    assert p.returncode == 0, p.stderr
    flows = [x for x in recs if x['event_type'] == 'purge']
    counters = [x for x in recs if x['event_type'] == 'counter']
    assert len(flows) == sent['records'] == 500
    assert all(x['packets'] == 1 for x in flows)
    assert {x['sampling_rate'] for x in flows} == {1}
    assert sum(x['bytes'] for x in flows) == sent['bytes']
    data_dgrams = len({x['export_proto_seqno'] for x in flows})
    assert len(counters) == sent['datagrams'] - data_dgrams >= 2
    p, plain = oracle.weir_decode(weir_bin, str(pcap), '--stats')
    assert not [x for x in plain if x['event_type'] == 'counter']
    m = re.search(r'^127\.0\.0\.1\s+0\s+105\s+(\d+)\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)', p.stderr,
                  re.M)
    assert m, p.stderr
    # datagrams, flow samples, counter samples, sample sequence gaps
    assert [int(g) for g in m.groups()] == [sent['datagrams'], 500, len(counters), 0]


def test_counter_file(weir_bin, corpus_dir, tmp_path):
    """The corpus' live sfprobe capture replayed: its 6 counter samples land in
    sfacctd_counter_file with sfacctd's values; flow totals match the oracle."""
    exp = expected(corpus_dir)['pmacctd_sfprobe_live']
    cfile = tmp_path / 'counters.json'
    payloads = pcap_udp_payloads(os.path.join(corpus_dir, 'exports',
                                              'pmacctd_sfprobe_live.pcap'))
    with Collector(weir_bin, tmp_path, workers=1,
                   extra=_sflow_conf([f'sfacctd_counter_file: {cfile}'])) as col:
        col.send(payloads)
        col.stop()
        recs = col.records()
    _, nbytes, npk = totals(recs)
    assert (nbytes, npk) == (exp['sampled_frame_bytes'], exp['flow_samples'])
    lines = [json.loads(x) for x in cfile.read_text().splitlines()]
    want = oracle.load_jsonl(os.path.join(corpus_dir, 'oracle', 'pmacct',
                                          'pmacctd_sfprobe_live.sfacctd.counters.jsonl.gz'))
    want = [w for w in want if w.get('event_type') == 'log']
    assert len(lines) == len(want) == exp['counter_samples']
    keys = ('peer_ip_src', 'sflow_seq', 'sflow_cnt_seq', 'sf_cnt_type', 'ifIndex', 'ifInOctets',
            'ifInUcastPkts', 'ifOutOctets', 'ifInErrors', 'ifInDiscards', 'ifSpeed')
    assert [{k: x[k] for k in keys} for x in lines] == [{k: w[k] for k in keys} for w in want]


def test_default_listens_on_6343(weir_bin):
    r = run([weir_bin, 'config'])
    assert r.returncode == 0, r.stderr
    assert re.search(r'listen \S+:6343', r.stdout), r.stdout
    r = run([weir_bin, 'config', '-o', 'nfacctd_port=2055'])
    assert r.returncode == 0, r.stderr
    assert '6343' not in r.stdout
    r = run([weir_bin, 'config', '-o', 'nfacctd_port=2055', '-o', 'sfacctd_port=6343, 6344',
             '-o', 'sfacctd_ip=127.0.0.1'])
    assert r.returncode == 0, r.stderr
    assert re.findall(r'listen (\S+)', r.stdout) == ['[::]:2055', '127.0.0.1:6343',
                                                       '127.0.0.1:6344'], r.stdout
    r = run([weir_bin, 'config', '-o', 'sfacctd_port=70000'])
    assert r.returncode == 2


def test_counters_on_metrics(weir_bin, corpus_dir, tmp_path):
    """The latest counter sample of each interface is on /metrics (octets, packets, errors,
    discards per agent, sub-agent and ifIndex)."""
    import urllib.request
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        hport = s.getsockname()[1]
    payloads = pcap_udp_payloads(os.path.join(corpus_dir, 'exports',
                                              'pmacctd_sfprobe_live.pcap'))
    with Collector(weir_bin, tmp_path, workers=2,
                   extra=_sflow_conf([f'http_listen: 127.0.0.1:{hport}'])) as col:
        assert col.wait_log(r'http: /metrics'), col.log_text()
        col.send(payloads)
        want = f'weir_sflow_if_in_octets_total{{agent="192.0.2.251",sub_agent="7",' \
               f'ifindex="1073741823"}} 2052000'
        text = ''
        for _ in range(100):  # bounded: the last datagrams may still be in the socket
            text = urllib.request.urlopen(f'http://127.0.0.1:{hport}/metrics',
                                          timeout=10).read().decode()
            if want in text:
                break
            time.sleep(0.1)
        col.stop()
    assert want in text, [x for x in text.splitlines() if 'sflow' in x]
    assert 'weir_sflow_if_in_packets_total{agent="192.0.2.251",sub_agent="7",' \
           'ifindex="1073741823"} 6391' in text
