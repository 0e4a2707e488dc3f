"""tsutil.py - helpers of the time-series tests: weir collect with HTTP, weir gen, and real
InfluxDB 1.6 / Prometheus 2.42 servers started on loopback in temp dirs (bounded waits)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

WAIT_S = 60


def free_tcp_port(host='127.0.0.1'):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_get(url, headers=None, timeout=10):
    """(status, body text); never raises on HTTP errors."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, OSError):
        return 0, ''


def wait_until(fn, what, timeout=WAIT_S, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f'process died while waiting for {what}')
        time.sleep(0.2)
    raise AssertionError(f'timeout waiting for {what}')


def stop(proc, timeout=30):
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc else None
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


class Collector:
    """`weir collect` on a free UDP port with its HTTP endpoint on a free TCP port."""

    def __init__(self, weir_bin, workdir, overrides, http=True):
        self.dir = str(workdir)
        self.udp = free_tcp_port()  # TCP and UDP port spaces differ; free enough for UDP too
        self.http = free_tcp_port()
        args = [weir_bin, 'collect', '-F', '-o', 'nfacctd_ip=127.0.0.1',
                '-o', f'nfacctd_port={self.udp}']
        if http:
            args += ['-o', f'http_listen=127.0.0.1:{self.http}']
        for o in overrides:
            args += ['-o', o]
        self.log = open(os.path.join(self.dir, 'weir.log'), 'w')
        self.proc = subprocess.Popen(args, cwd=self.dir, stdout=self.log, stderr=subprocess.STDOUT)
        if http:
            wait_until(lambda: http_get(self.url('/healthz'))[0] == 200, 'weir /healthz',
                       proc=self.proc)

    def url(self, path):
        return f'http://127.0.0.1:{self.http}{path}'

    def metrics(self, headers=None):
        code, body = http_get(self.url('/metrics'), headers)
        assert code == 200, body
        return body

    def stop(self):
        rc = stop(self.proc)
        self.log.close()
        return rc

    def logtext(self):
        with open(os.path.join(self.dir, 'weir.log')) as f:
            return f.read()


def gen(weir_bin, port, records, keys=200, proto='v9', rate='20k'):
    """Runs weir gen to 127.0.0.1:port; returns its totals (records, packets, bytes)."""
    r = subprocess.run([weir_bin, 'gen', '-P', proto, '-n', str(records), '-k', str(keys),
                        '-r', rate, f'127.0.0.1:{port}'], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    m = re.search(r'(\d+) records (\d+) packets (\d+) bytes', r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    return {'records': int(m.group(1)), 'packets': int(m.group(2)), 'bytes': int(m.group(3))}


def samples(text, name):
    """{labels string: value} of one metric in an exposition."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + '{') or line.startswith(name + ' '):
            key, _, val = line.rpartition(' ')
            out[key[len(name):]] = float(val)
    return out


def need(path):
    if not (shutil.which(path) or os.access(path, os.X_OK)):
        pytest.skip(f'{path} not installed (scripts/deps.sh test installs it)')
    return shutil.which(path) or path


class Influx:
    """InfluxDB 1.6 on loopback (services.md §4): HTTP and RPC on free ports, data in tmp."""

    def __init__(self, workdir):
        need('/usr/bin/influxd')
        self.dir = os.path.join(str(workdir), 'influx')
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_tcp_port()
        rpc = free_tcp_port()
        with open(os.path.join(self.dir, 'influxdb.conf'), 'w') as f:
            f.write(f'''reporting-enabled = false
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{self.dir}/meta"
[data]
  dir = "{self.dir}/data"
  wal-dir = "{self.dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = false
  log-enabled = false
''')
        self.log = open(os.path.join(self.dir, 'influxd.log'), 'w')
        self.proc = subprocess.Popen(['/usr/bin/influxd', 'run', '-config',
                                      os.path.join(self.dir, 'influxdb.conf')],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: http_get(self.url('/ping'))[0] == 204, 'influxd /ping', proc=self.proc)

    def url(self, path=''):
        return f'http://127.0.0.1:{self.port}{path}'

    def query(self, q, db=None):
        params = {'q': q, 'epoch': 'ms'}
        if db:
            params['db'] = db
        data = urllib.parse.urlencode(params).encode()
        with urllib.request.urlopen(self.url('/query'), data=data, timeout=30) as r:
            return json.loads(r.read().decode())

    def create(self, db):
        self.query(f'CREATE DATABASE "{db}"')

    def series(self, q, db):
        """The rows of the first statement as [{column: value}]."""
        res = self.query(q, db)['results'][0]
        out = []
        for s in res.get('series', []):
            for v in s['values']:
                row = dict(zip(s['columns'], v))
                row.update(s.get('tags') or {})
                out.append(row)
        return out

    def stop(self):
        stop(self.proc)
        self.log.close()


class Prometheus:
    """Prometheus 2.42 on loopback (services.md §5) scraping one target every second."""

    def __init__(self, workdir, target):
        need('/usr/bin/prometheus')
        self.dir = os.path.join(str(workdir), 'prom')
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_tcp_port()
        cfg = os.path.join(self.dir, 'prometheus.yml')
        with open(cfg, 'w') as f:
            f.write(f'''global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: weir
    static_configs:
      - targets: ['{target}']
''')
        self.log = open(os.path.join(self.dir, 'prometheus.log'), 'w')
        self.proc = subprocess.Popen(['/usr/bin/prometheus', f'--config.file={cfg}',
                                      f'--storage.tsdb.path={self.dir}/tsdb',
                                      f'--web.listen-address=127.0.0.1:{self.port}',
                                      '--log.level=warn'],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: http_get(self.url('/-/ready'))[0] == 200, 'prometheus ready',
                   proc=self.proc)

    def url(self, path):
        return f'http://127.0.0.1:{self.port}{path}'

    def query(self, q):
        code, body = http_get(self.url('/api/v1/query?' + urllib.parse.urlencode({'query': q})))
        assert code == 200, body
        return json.loads(body)['data']['result']

    def stop(self):
        stop(self.proc)
        self.log.close()
