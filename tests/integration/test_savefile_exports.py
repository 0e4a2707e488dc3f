"""Export datagrams inside pcap input, as nfacctd/sfacctd read them with pcap_savefile: the
NetFlow/IPFIX/sFlow datagrams of a corpus capture sent to a listener port are decoded (oracle
totals; the same rows as nfacctd and sfacctd reading the same file), packets to other ports
are metered, and weir_pcap_decode_exports: false meters them all."""
import json
import os
import subprocess

import pytest

from conftest import need_tool, run
from test_aggregate import NO_VLAN_CAPTURES, PLUGINS, _load, _nfacctd, _plugin_lines, _rows

import oracle

WAIT_S = 60


def _capture(corpus_dir, name):
    return os.path.join(corpus_dir, 'exports', name + '.pcap')


def _port(corpus_dir, name):
    with open(os.path.join(corpus_dir, 'manifest.json')) as f:
        return json.load(f)[name]['collector_port']


def _expected(corpus_dir, name):
    with open(os.path.join(corpus_dir, 'expected_totals.json')) as f:
        return json.load(f)['files'][name]


def _weir(weir_bin, tmp_path, lines):
    """weir collect over a savefile (it exits by itself at the end); returns its log."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    log = tmp_path / 'weir.log'
    conf = tmp_path / 'weir.conf'
    conf.write_text('\n'.join(['daemonize: false', f'logfile: {log}', 'workers: 1',
                               'nfacctd_ip: 127.0.0.1', *lines]) + '\n')
    p = subprocess.run([weir_bin, 'collect', '-F', '-f', str(conf)], capture_output=True,
                       text=True, timeout=WAIT_S)
    text = log.read_text() if log.exists() else ''
    assert p.returncode == 0, (p.stderr, text)
    return text


def _run_rows(weir_bin, tmp_path, capture, ports, aggregate):
    out = tmp_path / 'rows.jsonl'
    log = _weir(weir_bin, tmp_path, [
        *ports, f'pcap_savefile: {capture}', 'plugins: print[t]', 'print_output: json',
        f'print_output_file: {out}', 'print_refresh_time: 3600', f'aggregate: {aggregate}'])
    return (_load(out) if out.exists() else []), log


def _listen_ports(corpus_dir, name):
    port = _port(corpus_dir, name)
    if 'sfprobe' in name:
        return [f'sfacctd_port: {port}']
    return [f'nfacctd_port: {port}']


@pytest.mark.parametrize('name', ['softflowd_nf5', 'pmacctd_nfprobe_nf5', 'softflowd_nf9',
                                  'nfreplay_nf9', 'softflowd_ipfix', 'pmacctd_nfprobe_ipfix',
                                  'pmacctd_sfprobe', 'pmacctd_sfprobe_live'])
def test_savefile_exports_oracle_totals(weir_bin, corpus_dir, tmp_path, name):
    """Records, bytes and packets of the decoded datagrams equal the corpus oracle totals;
    nothing is metered."""
    e = _expected(corpus_dir, name)
    rows, log = _run_rows(weir_bin, tmp_path, _capture(corpus_dir, name),
                          _listen_ports(corpus_dir, name),
                          'peer_src_ip, src_host, dst_host, src_port, dst_port, proto, flows')
    recs = sum(int(r['flows']) for r in rows)
    byts = sum(int(r['bytes']) for r in rows)
    pkts = sum(int(r['packets']) for r in rows)
    if e['protocol'].startswith('sflow'):
        assert (recs, byts) == (e['flow_samples'], e['sampled_frame_bytes']), log
        agent = '192.0.2.250' if name == 'pmacctd_sfprobe' else '192.0.2.251'
        assert {r['peer_ip_src'] for r in rows} == {agent}  # sFlow: the agent address
    else:
        assert (recs, byts, pkts) == (e['flow_records'], e['bytes'], e['packets']), log
        assert {r['peer_ip_src'] for r in rows} == {'127.0.0.1'}  # the IP source address
    datagrams = e.get('datagrams') or e.get('export_packets')
    assert f'capture exports: {datagrams} datagrams' in log, log
    assert 'meter: 0 packets 0 bytes metered' in log, log
    assert ' 0 fragmented or cut by snaplen' in log, log


@pytest.mark.parametrize('name', ['softflowd_nf9', 'pmacctd_nfprobe_ipfix'])
def test_savefile_same_rows_as_nfacctd(weir_bin, corpus_dir, tmp_path, name):
    """weir and nfacctd, both with pcap_savefile on the same capture and the same plugins:
    identical rows (nfacctd decodes the file's datagrams whatever their port)."""
    capture = _capture(corpus_dir, name)
    nf_out = _nfacctd(tmp_path, capture)
    wdir = tmp_path / 'weir'
    _weir(weir_bin, wdir, [f'nfacctd_port: {_port(corpus_dir, name)}',
                           f'pcap_savefile: {capture}', *_plugin_lines(wdir / 'out')])
    for plugin in PLUGINS:
        if plugin == 'filtered' and name not in NO_VLAN_CAPTURES:
            continue  # see test_aggregate: nfacctd's VLAN tagging of synthesized frames
        want = _rows(_load(nf_out / f'{plugin}.jsonl'))
        got = _rows(_load(wdir / 'out' / f'{plugin}.jsonl'))
        assert want, f'nfacctd wrote no {plugin} rows'
        only_nf = list((want - got).elements())[:5]
        only_weir = list((got - want).elements())[:5]
        assert got == want, f'{plugin}: nfacctd only {only_nf}\nweir only {only_weir}'


# No tos: sfacctd 1.7.7 reads an IPv6 sampled header's traffic class 4 bits short (0xb8 -> 11);
# weir reports the traffic class, as tshark does.
SF_AGG = 'src_host, dst_host, src_port, dst_port, proto, src_mac, dst_mac, vlan, peer_src_ip'


def test_savefile_same_rows_as_sfacctd(weir_bin, corpus_dir, tmp_path):
    """The same for sfacctd on the sFlow capture."""
    sfacctd = need_tool('sfacctd')
    name = 'pmacctd_sfprobe'
    capture = _capture(corpus_dir, name)
    sf_out = tmp_path / 'sfacctd.jsonl'
    conf = tmp_path / 'sfacctd.conf'
    conf.write_text('\n'.join([
        'daemonize: false', f'pcap_savefile: {capture}', 'plugins: print', 'print_output: json',
        f'print_output_file: {sf_out}', 'print_refresh_time: 3600',
        'print_cache_entries: 99991', f'aggregate: {SF_AGG}']) + '\n')
    # like nfacctd, sfacctd may exit before its plugin wrote: retried, bounded
    for _ in range(4):
        r = run([sfacctd, '-f', str(conf)], timeout=120)
        if sf_out.exists():
            break
    else:
        pytest.skip(f'sfacctd wrote no output in 4 runs: {r.stdout + r.stderr}')
    rows, log = _run_rows(weir_bin, tmp_path / 'weir', capture, _listen_ports(corpus_dir, name),
                          SF_AGG)
    want, got = _rows(_load(sf_out)), _rows(rows)
    assert want
    only_sf = list((want - got).elements())[:5]
    only_weir = list((got - want).elements())[:5]
    assert got == want, f'sfacctd only {only_sf}\nweir only {only_weir}'


METER_AGG = 'src_host, dst_host, src_port, dst_port, proto, flows'


def _udp_to(rows, port):
    assert rows
    assert {(r['ip_proto'], r['port_dst']) for r in rows} == {('udp', port)}
    return sum(int(r['packets']) for r in rows)


def test_decode_exports_off_meters_them(weir_bin, corpus_dir, tmp_path):
    """weir_pcap_decode_exports: false meters the datagrams: UDP flows to the listener port,
    one packet per datagram."""
    name = 'softflowd_nf9'
    e = _expected(corpus_dir, name)
    rows, log = _run_rows(weir_bin, tmp_path, _capture(corpus_dir, name),
                          [f'nfacctd_port: {_port(corpus_dir, name)}',
                           'weir_pcap_decode_exports: false'], METER_AGG)
    assert _udp_to(rows, 9995) == e['export_packets']
    assert f"meter: {e['export_packets']} packets" in log, log
    assert 'capture exports' not in log


def test_other_ports_are_metered(weir_bin, corpus_dir, tmp_path):
    """Only datagrams to a listener port are decoded: with the default ports (2055, 4739, 6343)
    the capture's datagrams to 9995 are metered as UDP flows (nfacctd would decode them)."""
    name = 'softflowd_nf9'
    e = _expected(corpus_dir, name)
    rows, log = _run_rows(weir_bin, tmp_path, _capture(corpus_dir, name),
                          ['nfacctd_port: 2055, 4739'], METER_AGG)
    assert _udp_to(rows, 9995) == e['export_packets']
    assert 'capture exports: 0 datagrams' in log, log


def test_snaplen_cut_datagrams_are_metered(weir_bin, corpus_dir, tmp_path):
    """A datagram the capture cut short cannot be decoded: it is metered and counted (the
    capture is cut to 100 bytes per frame with editcap when it is installed)."""
    editcap = need_tool('editcap')
    name = 'softflowd_nf5'
    cut = tmp_path / 'cut.pcap'
    assert run([editcap, '-s', '100', _capture(corpus_dir, name), str(cut)]).returncode == 0
    e = _expected(corpus_dir, name)
    rows, log = _run_rows(weir_bin, tmp_path / 'w', str(cut), ['nfacctd_port: 2055'],
                          METER_AGG)
    assert _udp_to(rows, 2055) == e['export_packets']
    assert f"0 datagrams, 0 bytes decoded; {e['export_packets']} fragmented or cut" in log, log
    assert 'metered, not decoded (raise snaplen)' in log, log


def test_allow_file_applies(weir_bin, corpus_dir, tmp_path):
    """nfacctd_allow_file applies to the capture's exporters as to the listener's."""
    name = 'softflowd_nf5'
    allow = tmp_path / 'allow.lst'
    allow.write_text('192.0.2.99\n')
    rows, log = _run_rows(weir_bin, tmp_path / 'w', _capture(corpus_dir, name),
                          ['nfacctd_port: 2055', f'nfacctd_allow_file: {allow}'], METER_AGG)
    assert rows == [], rows
    assert 'capture exports: 28 datagrams' in log, log
    assert 'meter: 0 packets' in log, log


def test_counter_samples_reach_counter_file(weir_bin, corpus_dir, tmp_path):
    """The live sfprobe capture read as a savefile: its counter samples land in
    sfacctd_counter_file with sfacctd's values, as when the datagrams arrive over UDP."""
    name = 'pmacctd_sfprobe_live'
    cfile = tmp_path / 'counters.json'
    _run_rows(weir_bin, tmp_path, _capture(corpus_dir, name), _listen_ports(corpus_dir, name)
              + [f'sfacctd_counter_file: {cfile}'], 'peer_src_ip')
    lines = [json.loads(x) for x in cfile.read_text().splitlines()]
    want = [w for w in oracle.load_jsonl(os.path.join(corpus_dir, 'oracle', 'pmacct',
                                             f'{name}.sfacctd.counters.jsonl.gz'))
            if w.get('event_type') == 'log']
    assert len(lines) == len(want) == _expected(corpus_dir, name)['counter_samples']
    keys = ('peer_ip_src', 'sflow_seq', 'sflow_cnt_seq', 'ifIndex', 'ifInOctets', 'ifOutOctets')
    assert [{k: x[k] for k in keys} for x in lines] == [{k: w[k] for k in keys} for w in want]
