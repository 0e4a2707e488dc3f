"""sqlservers.py - real MariaDB and PostgreSQL servers for the SQL sink tests: each started on
127.0.0.1 with its data in a temp dir, stopped by PID, killable (SIGKILL) and restartable on the
same data and port (see ../shared/docs/services.md)."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from aggrun import Weir

WAIT_S = 60
PG_BIN = '/usr/lib/postgresql/15/bin'


def free_tcp_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _wait(pred, what, proc=None, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f'{what}: the server exited ({proc.returncode})')
        time.sleep(0.1)
    raise AssertionError(f'timeout waiting for {what}')


def _ok(cmd):
    return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0


def _children(pid):
    """PIDs whose parent is pid (the postmaster's backends)."""
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open(f'/proc/{d}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except (FileNotFoundError, IndexError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


class SqlWeir(Weir):
    """aggrun.Weir with waits and counters for plugins of any type."""

    def wait_records(self, n, plugin):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            mark = len(self.log_text())
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(0.2)
            got = re.findall(r'plugin \w+\[%s\]: records (\d+)' % re.escape(plugin),
                             self.log_text()[mark:])
            if got and int(got[-1]) >= n:
                return int(got[-1])
        return -1

    def wait_log(self, pattern, timeout=WAIT_S):
        """Waits (bounded) until the log matches pattern; returns the match."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log_text())
            if m:
                return m
            assert self.proc.poll() is None, 'weir exited:\n' + self.log_text()
            time.sleep(0.1)
        raise AssertionError(f'no {pattern!r} in the log:\n' + self.log_text())

    def send_paced(self, datagrams, src='127.0.0.1'):
        self.send([(src, p) for p in datagrams])


class MariaDB:
    """mariadbd --no-defaults on 127.0.0.1:port; database `flows`, user flow/flowpw."""

    def __init__(self):
        for tool in ('mariadb-install-db', 'mariadb'):
            if not shutil.which(tool):
                pytest.skip(f'{tool} not installed (scripts/deps.sh test installs mariadb-server)')
        if not os.access('/usr/sbin/mariadbd', os.X_OK):
            pytest.skip('mariadbd not installed')
        self.dir = tempfile.mkdtemp(prefix='weir-mariadb.')
        self.port = free_tcp_port()
        self.sock = os.path.join(self.dir, 'mysqld.sock')
        self.proc = None
        r = subprocess.run(['mariadb-install-db', '--no-defaults', '--user=root',
                            f'--datadir={self.dir}/data', '--auth-root-authentication-method=normal',
                            '--skip-test-db'], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        self.start()
        self.root('CREATE DATABASE flows; '
                  "CREATE USER 'flow'@'127.0.0.1' IDENTIFIED BY 'flowpw'; "
                  "GRANT ALL ON flows.* TO 'flow'@'127.0.0.1';")

    def start(self):
        self.proc = subprocess.Popen(
            ['/usr/sbin/mariadbd', '--no-defaults', '--user=root', f'--datadir={self.dir}/data',
             f'--socket={self.sock}', f'--port={self.port}', '--bind-address=127.0.0.1',
             f'--pid-file={self.dir}/mysqld.pid', f'--log-error={self.dir}/error.log',
             '--skip-name-resolve', '--innodb-buffer-pool-size=64M',
             '--innodb-log-file-size=16M'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: _ok(['mariadb-admin', '--no-defaults', f'--socket={self.sock}', '-uroot',
                           'ping']), 'mariadb', self.proc)

    def kill(self):
        """SIGKILL: the server dies mid-stream, no clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=WAIT_S)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def root(self, sql, db=None):
        """Runs sql as root over the socket; returns the tab-separated rows."""
        cmd = ['mariadb', '--no-defaults', f'--socket={self.sock}', '-uroot', '-N', '-B',
               '-e', sql]
        if db:
            cmd.append(db)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return [line.split('\t') for line in r.stdout.splitlines()]

    def conf(self, name, table, user='flow', passwd='flowpw', db='flows'):
        return [f'sql_host[{name}]: 127.0.0.1', f'sql_port[{name}]: {self.port}',
                f'sql_user[{name}]: {user}', f'sql_passwd[{name}]: {passwd}',
                f'sql_db[{name}]: {db}', f'sql_table[{name}]: {table}']


class Postgres:
    """PostgreSQL 15 run as the postgres user on 127.0.0.1:port; database flows owned by flow."""

    def __init__(self):
        if not os.access(f'{PG_BIN}/initdb', os.X_OK) or not shutil.which('psql'):
            pytest.skip('postgresql not installed (scripts/deps.sh test installs it)')
        self.dir = tempfile.mkdtemp(prefix='weir-pg.')
        os.chmod(self.dir, 0o755)
        shutil.chown(self.dir, 'postgres', 'postgres')
        self.port = free_tcp_port()
        r = subprocess.run(['runuser', '-u', 'postgres', '--', f'{PG_BIN}/initdb', '-D',
                            f'{self.dir}/data', '-U', 'postgres', '-A', 'trust', '-E', 'UTF8',
                            '--locale=C.UTF-8', '--no-sync'],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        self.start()
        self.psql("CREATE ROLE flow LOGIN PASSWORD 'flowpw'", db='postgres')
        self.psql('CREATE DATABASE flows OWNER flow', db='postgres')

    def start(self):
        r = subprocess.run(['runuser', '-u', 'postgres', '--', f'{PG_BIN}/pg_ctl', '-D',
                            f'{self.dir}/data', '-l', f'{self.dir}/server.log', '-w', '-t',
                            str(WAIT_S), '-o',
                            f'-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 '
                            '-c fsync=off', 'start'],
                           capture_output=True, text=True, timeout=WAIT_S * 2)
        assert r.returncode == 0, r.stdout + r.stderr

    def pid(self):
        try:
            with open(f'{self.dir}/data/postmaster.pid') as f:
                return int(f.readline())
        except (FileNotFoundError, ValueError):
            return None

    def kill(self):
        """SIGKILL of the postmaster and its backends (as a crash would)."""
        pid = self.pid()
        if pid:
            os.kill(pid, signal.SIGKILL)
            for child in _children(pid):
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _wait(lambda: not os.path.exists(f'/proc/{pid}'), 'postgres to die')
            os.unlink(f'{self.dir}/data/postmaster.pid')

    def stop(self):
        if self.pid():
            subprocess.run(['runuser', '-u', 'postgres', '--', f'{PG_BIN}/pg_ctl', '-D',
                            f'{self.dir}/data', '-m', 'fast', '-w', 'stop'],
                           capture_output=True, timeout=WAIT_S * 2)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def psql(self, sql, db='flows', user='postgres'):
        r = subprocess.run(['psql', '-h', '127.0.0.1', '-p', str(self.port), '-U', user, '-d', db,
                            '-v', 'ON_ERROR_STOP=1', '-At', '-F', '\t', '-c', sql],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return [line.split('\t') for line in r.stdout.splitlines()]

    def conf(self, name, table, user='flow', passwd='flowpw', db='flows'):
        return [f'sql_host[{name}]: 127.0.0.1', f'sql_port[{name}]: {self.port}',
                f'sql_user[{name}]: {user}', f'sql_passwd[{name}]: {passwd}',
                f'sql_db[{name}]: {db}', f'sql_table[{name}]: {table}']


# --- the corpus replay both the print plugin and an SQL plugin see ---

AGG = 'src_host, dst_host, src_port, dst_port, proto, tcpflags'
COLS = 'ip_src, ip_dst, port_src, port_dst, ip_proto, tcp_flags, packets, bytes'
PROTOS = {'icmp': 1, 'igmp': 2, 'tcp': 6, 'udp': 17, 'ipv6': 41, 'gre': 47, 'esp': 50, 'ah': 51,
          'ipv6-icmp': 58, 'ospf': 89, 'pim': 103, 'vrrp': 112, 'sctp': 132}


def proto_num(v):
    return PROTOS[v] if v in PROTOS else int(v)


def key_sums(rows):
    """{(ip_src, ip_dst, port_src, port_dst, proto): [packets, bytes, ORed tcp_flags]}."""
    out = {}
    for r in rows:
        k = (r['ip_src'], r['ip_dst'], int(r['port_src']), int(r['port_dst']),
             proto_num(r['ip_proto']))
        s = out.setdefault(k, [0, 0, 0])
        s[0] += int(r['packets'])
        s[1] += int(r['bytes'])
        s[2] |= int(r['tcp_flags'])
    return {k: tuple(v) for k, v in out.items()}


def table_rows(raw):
    names = [c.strip() for c in COLS.split(',')]
    return [dict(zip(names, r)) for r in raw]


def corpus_vs_print(weir_bin, corpus_dir, tmp_path, sql_type, sql_lines, fetch,
                    capture='softflowd_nf9'):
    """Replays a corpus capture into print[p] and SQL plugin s with the same aggregate; returns
    (print sums, SQL sums) per key."""
    import json
    from aggrun import pcap_datagrams
    path = os.path.join(corpus_dir, 'exports', capture + '.pcap')
    with open(os.path.join(corpus_dir, 'expected_totals.json')) as f:
        n_records = json.load(f)['files'][capture]['flow_records']
    out = tmp_path / 'out'
    lines = [f'plugins: print[p], {sql_type}[s]', f'aggregate: {AGG}', 'print_output: json',
             f'print_output_file[p]: {out}/p.jsonl', 'print_refresh_time: 3600',
             'timestamps_utc: true', 'sql_optimize_clauses[s]: true', 'http_listen: ',
             f'sql_backlog_file[s]: {tmp_path}/s.spool'] + list(sql_lines)
    with SqlWeir(weir_bin, tmp_path, lines) as w:
        w.send([('127.0.0.1', p) for _, _, p in pcap_datagrams(path)])
        assert w.wait_records(n_records, 's') == n_records, w.log_text()
        w.stop()
        log = w.log_text()
    with open(out / 'p.jsonl') as f:
        printed = [json.loads(line) for line in f if line.strip()]
    assert printed, 'the print plugin wrote nothing'
    return key_sums(printed), key_sums(table_rows(fetch())), log


# --- fault tests shared by the MariaDB and PostgreSQL modules ---

def gen(weir_bin, port, n, keys=300, seed=1):
    """weir gen to the collector; returns (packets, bytes) sent."""
    r = subprocess.run([weir_bin, 'gen', '-n', str(n), '-k', str(keys), '-r', '20000',
                        '--seed', str(seed), f'127.0.0.1:{port}'],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    m = re.search(r'(\d+) records (\d+) packets (\d+) bytes', r.stdout + r.stderr)
    return int(m.group(2)), int(m.group(3))


def fault_lines(sql_type, tmp_path, server, table):
    """print[p] (the reference: what was sent) beside SQL plugin s, 1 s flushes."""
    return [f'plugins: print[p], {sql_type}[s]', f'aggregate: {AGG}', 'print_output: json',
            f'print_output_file[p]: {tmp_path}/out/p-%Y%m%d-%H%M%S.jsonl', 'sql_refresh_time: 1',
            'timestamps_utc: true', 'sql_optimize_clauses[s]: true', 'http_listen: ',
            f'sql_backlog_file[s]: {tmp_path}/s.spool', 'sql_backlog_memory[s]: 8k'] + \
        server.conf('s', table)


def wait_equal(want_fn, got_fn, timeout=WAIT_S * 2):
    deadline = time.monotonic() + timeout
    want = got = None
    while time.monotonic() < deadline:
        want, got = want_fn(), got_fn()
        if want and got == want:
            return want, got
        time.sleep(0.5)
    return want, got
