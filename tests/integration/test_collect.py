"""test_collect.py - `weir collect` end to end over loopback: softflowd live, corpus replay,
config errors, SIGUSR1 counters, templates file across restarts, allow file, whole output files."""
import json
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import free_udp_port, need_tool, run

WAIT_S = 60  # upper bound on any wait for the collector (ASan builds start slowly)


# --- pcap reading (classic pcap, Ethernet / raw IP, as the corpus uses) ---

def pcap_udp_payloads(path):
    """UDP payloads of a capture, in file order."""
    with open(path, 'rb') as f:
        data = f.read()
    e = '<' if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    linktype = struct.unpack(e + 'I', data[20:24])[0]
    off, out = 24, []
    while off + 16 <= len(data):
        incl = struct.unpack(e + 'I', data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        p, et = (14, struct.unpack('>H', frame[12:14])[0]) if linktype == 1 else (0, None)
        if et is None:
            et = 0x0800 if frame[0] >> 4 == 4 else 0x86dd
        while et in (0x8100, 0x88a8):
            et = struct.unpack('>H', frame[p + 2:p + 4])[0]
            p += 4
        if et == 0x0800 and frame[p + 9] == 17:
            u = p + (frame[p] & 0x0f) * 4
        elif et == 0x86dd and frame[p + 6] == 17:
            u = p + 40
        else:
            continue
        ulen = struct.unpack('>H', frame[u + 4:u + 6])[0]
        out.append(frame[u + 8:u + ulen])
    return out


def v9_flowset_ids(payload):
    """The flowset ids of a NetFlow v9 datagram (0 = template, 1 = options, >= 256 data)."""
    ids, off = [], 20
    while off + 4 <= len(payload):
        fid, flen = struct.unpack('>HH', payload[off:off + 4])
        if flen < 4:
            break
        ids.append(fid)
        off += flen
    return ids


def expected(corpus_dir):
    with open(os.path.join(corpus_dir, 'expected_totals.json')) as f:
        return json.load(f)['files']


# --- the collector under test ---

class Collector:
    """weir collect in the foreground with a generated config; records are read from its files."""

    def __init__(self, weir_bin, workdir, extra=(), refresh=60, workers=2,
                 pattern='flows-%Y%m%d-%H%M%S.json', to_stdout=False, ip='127.0.0.1'):
        self.bin = weir_bin
        self.dir = str(workdir)
        self.out = os.path.join(self.dir, 'out')
        self.log = os.path.join(self.dir, 'weir.log')
        self.ip = ip
        self.port = free_udp_port('127.0.0.1' if ip in ('127.0.0.1', '::') else ip)
        self.conf = os.path.join(self.dir, 'weir.conf')
        lines = [
            'daemonize: false',
            f'nfacctd_ip: {ip}',
            f'nfacctd_port: {self.port}',
            f'logfile: {self.log}',
            f'workers: {workers}',
            'nfacctd_pipe_size: 16m',
            'plugins: print[t]',
            'print_output: json',
            # rows are aggregates: `flows` counts the records each one sums
            'aggregate: peer_src_ip, src_host, dst_host, src_port, dst_port, proto, flows',
            f'print_refresh_time: {refresh}',
        ]
        if not to_stdout:
            lines.append(f'print_output_file: {self.out}/{pattern}')
        lines += list(extra)
        with open(self.conf, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        self.proc = None
        self.stdout = ''
        self.to_stdout = to_stdout

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def start(self):
        self.proc = subprocess.Popen([self.bin, 'collect', '-f', self.conf, '-F'],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        text = f'[{self.ip}]' if ':' in self.ip else self.ip
        assert self.wait_log(r'listening: udp %s:%d ' % (re.escape(text), self.port)), \
            self.log_text()

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def wait_log(self, pattern, after=0):
        """True once pattern shows up in the log past offset `after` (bounded wait)."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if re.search(pattern, self.log_text()[after:]):
                return True
            if self.proc.poll() is not None:
                return bool(re.search(pattern, self.log_text()[after:]))
            time.sleep(0.05)
        return False

    def send(self, payloads, src='127.0.0.1'):
        fam = socket.AF_INET6 if ':' in src else socket.AF_INET
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.bind((src, 0))
            for p in payloads:
                s.sendto(p, (src if src == '::1' else '127.0.0.1', self.port))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.stdout, err = self.proc.communicate(timeout=WAIT_S * 2)
        assert self.proc.returncode == 0, (self.proc.returncode, err, self.log_text())
        return self.proc.returncode

    def files(self):
        if not os.path.isdir(self.out):
            return []
        return sorted(os.listdir(self.out))

    def records(self):
        """Every JSON line of every published file (or of stdout)."""
        texts = []
        if not self.to_stdout:
            for name in self.files():
                path = os.path.join(self.out, name)
                if name.startswith('.') or os.path.islink(path):
                    continue
                with open(path) as f:
                    texts.append(f.read())
        else:
            texts.append(self.stdout)
        recs = []
        for t in texts:
            assert t == '' or t.endswith('\n'), 'a file ends mid-line'
            recs += [json.loads(line) for line in t.splitlines()]
        return recs

    def counter(self, regex):
        """Sum of one counter over the lines of the last counters block of the log."""
        text = self.log_text()
        block = text[text.rfind('counters ('):]
        return sum(int(m) for m in re.findall(regex, block))

    def kernel_drops(self):
        text = self.log_text()
        m = re.findall(r'kernel_drops total (\d+)', text)
        assert m, text
        return int(m[-1])


def totals(recs):
    return (sum(r.get('flows', 0) for r in recs), sum(r.get('bytes', 0) for r in recs),
            sum(r.get('packets', 0) for r in recs))


# --- softflowd, live ---

@pytest.mark.parametrize('name', ['softflowd_nf5', 'softflowd_nf9', 'softflowd_ipfix'])
def test_softflowd_live(weir_bin, corpus_dir, tmp_path, name):
    softflowd = need_tool('softflowd')
    with open(os.path.join(corpus_dir, 'manifest.json')) as f:
        cmd = shlex.split(json.load(f)[name]['commands'][0])
    exp = expected(corpus_dir)[name]
    with Collector(weir_bin, tmp_path) as col:
        cmd[0] = softflowd
        cmd[cmd.index('-n') + 1] = f'127.0.0.1:{col.port}'
        r = run(cmd, cwd=os.path.join(corpus_dir, 'source'), timeout=120)
        assert r.returncode == 0, r.stderr
        # softflowd has sent everything; SIGTERM must still flush every record.
        col.stop()
    recs = col.records()
    assert col.kernel_drops() == 0, 'datagrams lost in the kernel: raise nfacctd_pipe_size'
    assert col.counter(r'udp \S+: datagrams (\d+)') == exp['export_packets']
    assert totals(recs) == (exp['flow_records'], exp['bytes'], exp['packets'])
    assert col.counter(r'plugin print\[t\]: records (\d+)') == exp['flow_records']


# --- corpus replay over loopback ---

REPLAY = ['softflowd_nf5', 'softflowd_nf9', 'softflowd_ipfix', 'softflowd_ipfix_biflow',
          'pmacctd_nfprobe_nf5', 'pmacctd_nfprobe_nf9', 'pmacctd_nfprobe_ipfix',
          'fprobe_nf5_live', 'nfreplay_nf9', 'nfreplay_nf5']  # sFlow: no decoder yet


@pytest.mark.parametrize('name', REPLAY)
def test_replay_corpus(weir_bin, corpus_dir, tmp_path, name):
    exp = expected(corpus_dir)[name]
    payloads = pcap_udp_payloads(os.path.join(corpus_dir, 'exports', name + '.pcap'))
    assert len(payloads) == exp['export_packets']
    with Collector(weir_bin, tmp_path) as col:
        col.send(payloads)
        col.stop()
    recs = col.records()
    assert col.kernel_drops() == 0
    assert totals(recs) == (exp['flow_records'], exp['bytes'], exp['packets'])


def test_one_port_takes_every_protocol(weir_bin, corpus_dir, tmp_path):
    """v5, v9 and IPFIX from three exporters (127.0.0.1/.2/.3) into one port at once."""
    files = expected(corpus_dir)
    names = ['softflowd_nf5', 'softflowd_nf9', 'pmacctd_nfprobe_ipfix']
    with Collector(weir_bin, tmp_path) as col:
        for i, name in enumerate(names):
            col.send(pcap_udp_payloads(os.path.join(corpus_dir, 'exports', name + '.pcap')),
                     src=f'127.0.0.{i + 1}')
        col.stop()
    got = totals(col.records())
    want = tuple(sum(files[n][k] for n in names) for k in ('flow_records', 'bytes', 'packets'))
    assert got == want


@pytest.mark.parametrize('ip', ['::1', '::'])
def test_ipv6_listener(weir_bin, corpus_dir, tmp_path, ip):
    """An IPv6 listener; "::" is dual stack and takes IPv4 senders too."""
    if not socket.has_ipv6:
        pytest.skip('no IPv6')
    files = expected(corpus_dir)
    with Collector(weir_bin, tmp_path, ip=ip) as col:
        col.send(pcap_udp_payloads(os.path.join(corpus_dir, 'exports', 'softflowd_ipfix.pcap')),
                 src='::1')
        if ip == '::':
            col.send(pcap_udp_payloads(os.path.join(corpus_dir, 'exports', 'softflowd_nf5.pcap')))
        col.stop()
    recs = col.records()
    names = ['softflowd_ipfix'] + (['softflowd_nf5'] if ip == '::' else [])
    want = tuple(sum(files[n][k] for n in names) for k in ('flow_records', 'bytes', 'packets'))
    assert totals(recs) == want
    assert {r.get('peer_ip_src') for r in recs} == ({'::1', '127.0.0.1'} if ip == '::' else {'::1'})


def test_stdout_output(weir_bin, corpus_dir, tmp_path):
    """Without print_output_file the records are JSON lines on stdout, and nothing else is."""
    exp = expected(corpus_dir)['softflowd_nf5']
    with Collector(weir_bin, tmp_path, to_stdout=True) as col:
        col.send(pcap_udp_payloads(os.path.join(corpus_dir, 'exports', 'softflowd_nf5.pcap')))
        col.stop()
    assert totals(col.records()) == (exp['flow_records'], exp['bytes'], exp['packets'])


# --- configuration errors and the command line ---

def test_config_error_exits_2_with_file_line(weir_bin, tmp_path):
    bad = tmp_path / 'bad.conf'
    bad.write_text('! comment\nnfacctd_port: 2055\nnfacctd_prot: 9995\n')
    r = run([weir_bin, 'collect', '-f', str(bad), '-F'], timeout=60)
    assert r.returncode == 2
    assert f'{bad}:3:' in r.stderr

    r = run([weir_bin, 'collect', '-F', '-o', 'nfacctd_port=70000'], timeout=60)
    assert r.returncode == 2
    assert '-o:1:' in r.stderr

    r = run([weir_bin, 'collect', '-f', str(tmp_path / 'missing.conf'), '-F'], timeout=60)
    assert r.returncode == 2
    assert 'missing.conf' in r.stderr


def test_unknown_sink_and_usage(weir_bin, tmp_path):
    r = run([weir_bin, 'collect', '-F', '-o', 'plugins=mongodb[db]'], timeout=60)
    assert r.returncode == 2
    assert "no sink of type 'mongodb'" in r.stderr
    r = run([weir_bin, 'collect', '--help'], timeout=60)
    assert r.returncode == 0 and 'usage: weir collect' in r.stdout
    r = run([weir_bin, 'collect', '-x'], timeout=60)
    assert r.returncode == 2


def test_bind_failure_exits_1(weir_bin, tmp_path):
    # 192.0.2.1 (TEST-NET-1) is not an address of this host.
    r = run([weir_bin, 'collect', '-F', '-o', 'nfacctd_ip=192.0.2.1', '-o', 'nfacctd_port=2055',
             '-o', 'plugins=print[default]', '-o', f'print_output_file={tmp_path}/x.json'],
            timeout=60)
    assert r.returncode == 1
    assert 'udp 192.0.2.1:2055: bind' in r.stderr


def test_daemonize_and_pidfile(weir_bin, tmp_path):
    pidfile = tmp_path / 'weir.pid'
    log = tmp_path / 'weir.log'
    port = free_udp_port()
    r = run([weir_bin, 'collect', '-o', 'daemonize=true', '-o', f'pidfile={pidfile}',
             '-o', f'logfile={log}', '-o', 'nfacctd_ip=127.0.0.1', '-o', f'nfacctd_port={port}',
             '-o', 'plugins=print[default]', '-o', f'print_output_file={tmp_path}/out/f.json'],
            timeout=60)
    assert r.returncode == 0
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and not (pidfile.exists() and pidfile.read_text()):
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    os.kill(pid, 0)  # the daemon runs
    while time.monotonic() < deadline and 'listening' not in log.read_text():
        time.sleep(0.05)
    os.kill(pid, signal.SIGTERM)
    while time.monotonic() < deadline and pidfile.exists():
        time.sleep(0.05)
    assert not pidfile.exists(), 'pidfile not removed at exit'
    assert 'weir collect: stopped' in log.read_text()


# --- SIGUSR1 counters ---

def test_sigusr1_prints_counters(weir_bin, corpus_dir, tmp_path):
    payloads = pcap_udp_payloads(os.path.join(corpus_dir, 'exports', 'softflowd_nf9.pcap'))
    with Collector(weir_bin, tmp_path) as col:
        col.send(payloads)
        seen = 0
        for _ in range(40):  # until the workers have read every datagram (bounded)
            mark = len(col.log_text())
            col.proc.send_signal(signal.SIGUSR1)
            assert col.wait_log(r'plugin print\[t\]: records', after=mark)
            seen = col.counter(r'udp \S+: datagrams (\d+)')
            if seen == len(payloads):
                break
            time.sleep(0.25)
        assert seen == len(payloads)
        block = col.log_text()[col.log_text().rfind('counters (SIGUSR1)'):]
        assert 'kernel_drops total 0' in block
        # The per exporter/domain table: 127.0.0.1, source id 0, version 9, 41 packets.
        assert re.search(r'127\.0\.0\.1\s+0\s+9\s+41\s', block), block
        col.stop()
    assert 'counters (exit)' in col.log_text()


# --- templates file across restarts ---

def test_templates_file_survives_restart(weir_bin, corpus_dir, tmp_path):
    payloads = pcap_udp_payloads(os.path.join(corpus_dir, 'exports', 'softflowd_nf9.pcap'))
    first = payloads[0]
    assert 0 in v9_flowset_ids(first), 'the first datagram carries the templates'
    data_only = [p for p in payloads if all(i >= 256 for i in v9_flowset_ids(p))]
    assert data_only
    probe = data_only[-1]
    count = struct.unpack('>H', probe[2:4])[0]
    tfile = tmp_path / 'templates'

    (tmp_path / 'a').mkdir()
    with Collector(weir_bin, tmp_path / 'a', extra=[f'nfacctd_templates_file: {tfile}']) as col:
        col.send([first])
        col.stop()
    saved = [n for n in os.listdir(tmp_path) if n.startswith('templates')]
    assert saved, 'no templates file written at exit'

    (tmp_path / 'b').mkdir()
    with Collector(weir_bin, tmp_path / 'b', extra=[f'nfacctd_templates_file: {tfile}']) as col:
        col.send([probe])
        col.stop()
    assert sum(r['flows'] for r in col.records()) == count

    # The control: without the file the same datagram waits for a template and is not decoded.
    (tmp_path / 'c').mkdir()
    with Collector(weir_bin, tmp_path / 'c') as col:
        col.send([probe])
        col.stop()
    assert len(col.records()) == 0


# --- allow file ---

def test_allow_file_drops_other_sources(weir_bin, corpus_dir, tmp_path):
    exp = expected(corpus_dir)['softflowd_nf5']
    payloads = pcap_udp_payloads(os.path.join(corpus_dir, 'exports', 'softflowd_nf5.pcap'))
    allow = tmp_path / 'allow.txt'
    allow.write_text('! only the first exporter\n127.0.0.1/32\n')
    with Collector(weir_bin, tmp_path, extra=[f'nfacctd_allow_file: {allow}']) as col:
        col.send(payloads, src='127.0.0.1')
        col.send(payloads, src='127.0.0.2')
        col.stop()
    recs = col.records()
    assert totals(recs) == (exp['flow_records'], exp['bytes'], exp['packets'])
    assert {r.get('peer_ip_src', '127.0.0.1') for r in recs} == {'127.0.0.1'}

    bad = tmp_path / 'bad-allow.txt'
    bad.write_text('127.0.0.1\nnot-an-address\n')
    r = run([weir_bin, 'collect', '-F', '-o', f'nfacctd_allow_file={bad}'], timeout=60)
    assert r.returncode == 2
    assert f'{bad}:2:' in r.stderr


# --- strftime names and the latest symlink ---

def test_strftime_files_and_latest_are_whole(weir_bin, corpus_dir, tmp_path):
    exp = expected(corpus_dir)['softflowd_nf5']
    payloads = pcap_udp_payloads(os.path.join(corpus_dir, 'exports', 'softflowd_nf5.pcap'))
    extra = [f'print_latest_file: {tmp_path}/out/latest.json', 'print_markers: false']
    with Collector(weir_bin, tmp_path, refresh=1, extra=extra,
                   pattern='f-%Y%m%d-%H%M%S.json') as col:
        # Four slices a little over a refresh interval apart: several files (bounded: ~5 s).
        for i in range(4):
            col.send(payloads[i * 7:(i + 1) * 7])
            time.sleep(1.2)
            for name in col.files():
                # At any moment only whole files carry the final name.
                path = os.path.join(col.out, name)
                if not name.startswith('.') and not os.path.islink(path):
                    with open(path) as f:
                        text = f.read()
                    assert text.endswith('\n')
                    [json.loads(line) for line in text.splitlines()]
        col.stop()
    names = col.files()
    assert not [n for n in names if n.startswith('.')], names
    data = [n for n in names if n != 'latest.json']
    assert len(data) >= 2
    assert all(re.fullmatch(r'f-\d{8}-\d{6}\.json', n) for n in data), data
    assert os.readlink(os.path.join(col.out, 'latest.json')) == max(data)
    assert totals(col.records()) == (exp['flow_records'], exp['bytes'], exp['packets'])
