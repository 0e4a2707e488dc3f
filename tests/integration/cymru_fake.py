"""cymru_fake.py - a local stand-in for Team Cymru's IP-to-ASN service that speaks the real
protocols with fixture data: DNS TXT over UDP (RFC 1035; `AS<n>.asn.cymru.com`) and whois bulk
mode over TCP ("begin / verbose / AS<n> ... / end"). Some ASNs can be given a deliberately wrong
DNS answer (other query id, other question, garbage) to check that the client rejects it."""
import socket
import struct
import threading

FIXTURES = {
    57811: '57811 | PL | ripencc | 2012-03-06 | ATMSOFTWARE, PL',
    13335: '13335 | US | arin | 2010-07-14 | CLOUDFLARENET, US',
    15169: '15169 | US | arin | 2000-03-30 | GOOGLE, US',
    64500: '64500 | ZZ | other | 2020-01-01 | EXAMPLE-NET - Example, Inc., ZZ',
}


def _qname(data, off):
    labels = []
    while True:
        n = data[off]
        off += 1
        if n == 0:
            return '.'.join(labels), off
        if n & 0xc0:
            raise ValueError('compressed name in a question')
        labels.append(data[off:off + n].decode('ascii'))
        off += n


def _name(text):
    return b''.join(bytes([len(p)]) + p.encode() for p in text.split('.')) + b'\0'


class Responder:
    """UDP DNS and TCP whois on 127.0.0.1, each on its own free port, in daemon threads."""

    def __init__(self, fixtures=None, bad=None, zone='asn.cymru.com'):
        self.fixtures = dict(FIXTURES if fixtures is None else fixtures)
        self.bad = dict(bad or {})  # asn -> 'id' | 'question' | 'garbage' | 'servfail'
        self.zone = zone
        self.dns_queries = []
        self.whois_queries = []
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(('127.0.0.1', 0))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(('127.0.0.1', 0))
        self.tcp.listen(16)
        self.dns_port = self.udp.getsockname()[1]
        self.whois_port = self.tcp.getsockname()[1]
        self.stopped = False
        for fn in (self._dns_loop, self._whois_loop):
            threading.Thread(target=fn, daemon=True).start()

    def _answer(self, q):
        qid, flags, qd = struct.unpack('>HHH', q[:6])
        name, off = _qname(q, 12)
        qtype, qclass = struct.unpack('>HH', q[off:off + 4])
        question = q[12:off + 4]
        self.dns_queries.append(name)
        asn = None
        lname = name.lower()
        if lname.startswith('as') and lname.endswith('.' + self.zone):
            try:
                asn = int(lname[2:-len(self.zone) - 1])
            except ValueError:
                asn = None
        mode = self.bad.get(asn)
        if mode == 'garbage':
            return b'\x00\x01garbage'
        if mode == 'servfail':
            return struct.pack('>HHHHHH', qid, 0x8182, 1, 0, 0, 0) + question
        if mode == 'id':
            qid ^= 0x5555
        if mode == 'question':
            question = _name('as1.' + self.zone) + struct.pack('>HH', 16, 1)
        txt = self.fixtures.get(asn) if qtype == 16 else None
        if txt is None:
            return struct.pack('>HHHHHH', qid, 0x8183, 1, 0, 0, 0) + question  # NXDOMAIN
        rdata = bytes([len(txt)]) + txt.encode()
        rr = b'\xc0\x0c' + struct.pack('>HHIH', 16, 1, 3600, len(rdata)) + rdata
        return struct.pack('>HHHHHH', qid, 0x8180, 1, 1, 0, 0) + question + rr

    def _dns_loop(self):
        while not self.stopped:
            try:
                q, peer = self.udp.recvfrom(4096)
                self.udp.sendto(self._answer(q), peer)
            except (OSError, ValueError, IndexError, struct.error):
                if self.stopped:
                    return

    def _whois_loop(self):
        while not self.stopped:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b''
                try:
                    while not data.endswith(b'end\n'):
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    continue
                lines = data.decode(errors='replace').splitlines()
                self.whois_queries.append(lines)
                out = ['Bulk mode; whois.cymru.com [2026-01-01 00:00:00 +0000]']
                for line in lines:
                    if line.upper().startswith('AS') and line[2:].isdigit():
                        asn = int(line[2:])
                        out.append(self.fixtures.get(asn, f'{asn}    | NA | NA | NA | NA'))
                conn.sendall(('\n'.join(out) + '\n').encode())

    def close(self):
        self.stopped = True
        self.udp.close()
        self.tcp.close()
