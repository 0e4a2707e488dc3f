"""aggrun.py - helpers of the aggregation tests: a pcap's export datagrams with their exporter
and port, and `weir collect` run once over a replay (loopback only, bounded waits)."""
import ipaddress
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time

from conftest import free_udp_port

WAIT_S = 60


def pcap_datagrams(path):
    """(source address, destination port, UDP payload) of every IPv4/IPv6 UDP datagram."""
    with open(path, 'rb') as f:
        data = f.read()
    e = '<' if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    linktype = struct.unpack(e + 'I', data[20:24])[0]
    off, out = 24, []
    while off + 16 <= len(data):
        incl = struct.unpack(e + 'I', data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:
            p, et = 14, struct.unpack('>H', frame[12:14])[0]
        elif linktype == 113:  # Linux cooked capture
            p, et = 16, struct.unpack('>H', frame[14:16])[0]
        else:
            p, et = 0, 0x0800 if frame[0] >> 4 == 4 else 0x86dd
        while et in (0x8100, 0x88a8):
            et = struct.unpack('>H', frame[p + 2:p + 4])[0]
            p += 4
        if et == 0x0800 and frame[p + 9] == 17:
            src = str(ipaddress.IPv4Address(frame[p + 12:p + 16]))
            u = p + (frame[p] & 0x0f) * 4
        elif et == 0x86dd and frame[p + 6] == 17:
            src = str(ipaddress.IPv6Address(frame[p + 8:p + 24]))
            u = p + 40
        else:
            continue
        dport, ulen = struct.unpack('>HH', frame[u + 2:u + 6])
        out.append((src, dport, frame[u + 8:u + ulen]))
    return out


def loopback_for(exporters):
    """A distinct 127.0.0.x source for each exporter address, in order of appearance."""
    return {a: f'127.0.0.{10 + i}' for i, a in enumerate(dict.fromkeys(exporters))}


class Weir:
    """`weir collect` writing JSON rows to one file per flush; stopped with SIGTERM."""

    def __init__(self, weir_bin, workdir, lines, workers=2):
        self.dir = str(workdir)
        self.out = os.path.join(self.dir, 'out')
        self.log = os.path.join(self.dir, 'weir.log')
        self.port = free_udp_port()
        self.conf = os.path.join(self.dir, 'weir.conf')
        base = ['daemonize: false', 'nfacctd_ip: 127.0.0.1', f'nfacctd_port: {self.port}',
                f'logfile: {self.log}', f'workers: {workers}', 'nfacctd_pipe_size: 16m']
        with open(self.conf, 'w') as f:
            f.write('\n'.join(base + list(lines)) + '\n')
        self.bin = weir_bin
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([self.bin, 'collect', '-f', self.conf, '-F'],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if re.search(r'listening: udp 127\.0\.0\.1:%d ' % self.port, self.log_text()):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError('weir collect did not start:\n' + self.log_text() +
                             (self.proc.stderr.read() if self.proc.poll() is not None else ''))

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def send(self, datagrams, pace=200):
        """Sends (source address, payload) pairs in order, one socket per source so that
        SO_REUSEPORT keeps each exporter on one worker; a short pause every `pace` datagrams
        keeps the socket buffer from overflowing under ASan."""
        socks = {}
        try:
            for i, (src, p) in enumerate(datagrams):
                if src not in socks:
                    socks[src] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    socks[src].bind((src, 0))
                socks[src].sendto(p, ('127.0.0.1', self.port))
                if i % pace == pace - 1:
                    time.sleep(0.01)
        finally:
            for s in socks.values():
                s.close()

    def wait_records(self, n, plugin):
        """Waits (bounded) until SIGUSR1 counters show n records accounted by plugin."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            mark = len(self.log_text())
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(0.2)
            got = re.findall(r'plugin print\[%s\]: records (\d+)' % re.escape(plugin),
                             self.log_text()[mark:])
            if got and int(got[-1]) >= n:
                return int(got[-1])
        return -1

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=WAIT_S * 2)
        assert self.proc.returncode == 0, (self.proc.returncode, err, self.log_text())
        return out

    def counter(self, name, plugin):
        m = re.findall(r'plugin print\[%s\]: .*?\b%s (\d+)' % (re.escape(plugin), name),
                       self.log_text())
        return int(m[-1]) if m else None

    def rows(self, sub='out'):
        """JSON rows of every published file under sub/."""
        d = os.path.join(self.dir, sub)
        rows = []
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.startswith('.'):
                continue
            with open(os.path.join(d, name)) as f:
                rows += [json.loads(line) for line in f if line.strip()]
        return rows
