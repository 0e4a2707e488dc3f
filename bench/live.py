#!/usr/bin/env python3
"""live.py - `weir gen` at stepped rates into weir collect, nfacctd, nfcapd and a bare sink.

For each collector and rate: start the collector, send a bounded number of records from
weir gen to 127.0.0.1, wait for its socket to drain, read CPU seconds (/proc/PID/stat, all
threads and children), RSS and kernel drops (/proc/net/udp), stop it, and compare what it
accounted with what gen sent. Each step runs REPS times; the tables print medians.
"""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

TICK = os.sysconf('SC_CLK_TCK')
PAGE_KB = os.sysconf('SC_PAGE_SIZE') // 1024


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def parse_rate(s):
    if s in ('max', 'flat'):
        return 0
    mult = {'k': 1e3, 'M': 1e6, 'm': 1e6}.get(s[-1], 1)
    return int(float(s.rstrip('kMm')) * mult)


def fmt_rate(r):
    if r >= 1e6:
        return f'{r / 1e6:.2f}M'
    if r >= 1e3:
        return f'{r / 1e3:.0f}k'
    return f'{r:.0f}'


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# --- /proc readers -------------------------------------------------------------------------

def children_of():
    kids = {}
    for stat in glob.glob('/proc/[0-9]*/stat'):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(stat.split('/')[2]))
    return kids


def tree(pid):
    """pid and every live descendant."""
    kids, out, todo = children_of(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _task_ns(pid):
    """On-CPU nanoseconds of every live thread of pid (schedstat), or None without schedstat."""
    total = 0
    try:
        tids = os.listdir(f'/proc/{pid}/task')
    except OSError:
        return 0
    for t in tids:
        try:
            with open(f'/proc/{pid}/task/{t}/schedstat') as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            if not os.path.exists(f'/proc/{pid}/task/{t}'):
                continue  # the thread just ended
            return None
        except (OSError, ValueError, IndexError):
            continue
    return total


def cpu_seconds(pids):
    """CPU seconds of pids: each thread's schedstat run time (nanoseconds; /proc/PID/stat's
    utime+stime move in 10 ms ticks, too coarse for steps of 0.1-0.3 CPU s), plus reaped
    children (cutime + cstime, ticks). Without schedstat: utime + stime in ticks."""
    total = 0.0
    for p in pids:
        try:
            with open(f'/proc/{p}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        ns = _task_ns(p)
        if ns is None:
            total += sum(int(x) for x in fields[11:15]) / TICK
        else:
            total += ns / 1e9 + sum(int(x) for x in fields[13:15]) / TICK
    return total


def rss_kb(pids):
    total = 0
    for p in pids:
        try:
            with open(f'/proc/{p}/statm') as f:
                total += int(f.read().split()[1]) * PAGE_KB
        except OSError:
            continue
    return total


def udp_sockets(port):
    """(rx_queue bytes, drops) summed over the UDP sockets bound to port."""
    rxq = drops = 0
    found = False
    for path in ('/proc/net/udp', '/proc/net/udp6'):
        try:
            with open(path) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            w = line.split()
            if int(w[1].split(':')[1], 16) != port:
                continue
            found = True
            rxq += int(w[4].split(':')[1], 16)
            drops += int(w[-1])
    return found, rxq, drops


def wait_bound(port, proc, limit=10.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if udp_sockets(port)[0]:
            return True
        time.sleep(0.05)
    return False


def wait_drained(port, limit=15.0):
    """Until the receive queues stay empty for 0.3 s (bounded)."""
    deadline = time.monotonic() + limit
    quiet = 0
    while time.monotonic() < deadline and quiet < 3:
        quiet = quiet + 1 if udp_sockets(port)[1] == 0 else 0
        time.sleep(0.1)


def wait_idle(pids, limit=20.0):
    """Until the collector's processes use under 8% of a core for two 0.25 s samples."""
    deadline = time.monotonic() + limit
    quiet, last = 0, cpu_seconds(pids)
    while time.monotonic() < deadline and quiet < 2:
        time.sleep(0.25)
        now = cpu_seconds(pids)
        quiet = quiet + 1 if now - last < 0.02 else 0
        last = now


def stop(proc, pids, sig, limit=30.0):
    """sig to the collector we started; then its leftover descendants, by pid."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    for p in pids:
        if p == proc.pid:
            continue
        deadline = time.monotonic() + 5
        while os.path.exists(f'/proc/{p}') and time.monotonic() < deadline:
            time.sleep(0.05)
        if os.path.exists(f'/proc/{p}'):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --- collectors ----------------------------------------------------------------------------

class Collector:
    name = ''
    settle = 0.3  # seconds after the socket is bound (plugins starting)
    refresh_wait = 0.0  # seconds after draining before reading CPU (last flush)
    stop_signal = signal.SIGTERM

    def __init__(self, args, work):
        self.args, self.work = args, work

    def start(self, port):
        raise NotImplementedError

    def accounted(self, out, err):
        raise NotImplementedError


class Weir(Collector):
    name = 'weir'
    refresh_wait = 1.5

    def start(self, port):
        conf = os.path.join(self.work, 'weir.conf')
        with open(conf, 'w') as f:
            f.write('daemonize: false\n'
                    'nfacctd_ip: 127.0.0.1\n'
                    f'nfacctd_port: {port}\n'
                    f'nfacctd_pipe_size: {self.args.rcvbuf}\n'
                    'plugins: print[p]\n'
                    'aggregate[p]: peer_src_ip\n'
                    'print_output[p]: json\n'
                    'print_output_file[p]: /dev/null\n'
                    'print_refresh_time[p]: 1\n')
        return [self.args.weir, 'collect', '-f', conf]

    def accounted(self, out, err):
        text = out + err
        m = re.findall(r'plugin \S+: records (\d+)', text)
        if m:
            return int(m[-1])
        raise RuntimeError('weir collect printed no plugin counters at exit:\n' + text[-2000:])


class Nfacctd(Collector):
    name = 'nfacctd'
    settle = 1.0
    refresh_wait = 2.0
    # nfacctd 1.7.7's core keeps SIGTERM blocked while it waits for data; SIGINT ends it
    # (plugins purge their caches first).
    stop_signal = signal.SIGINT

    def start(self, port):
        self.out = os.path.join(self.work, 'nfacctd.json')
        if os.path.exists(self.out):
            os.unlink(self.out)
        conf = os.path.join(self.work, 'nfacctd.conf')
        with open(conf, 'w') as f:
            f.write('daemonize: false\n'
                    'nfacctd_ip: 127.0.0.1\n'
                    f'nfacctd_port: {port}\n'
                    f'nfacctd_pipe_size: {self.args.rcvbuf}\n'
                    'plugins: print[p]\n'
                    'aggregate[p]: peer_src_ip\n'
                    'print_output[p]: json\n'
                    f'print_output_file[p]: {self.out}\n'
                    'print_output_file_append[p]: true\n'
                    'print_refresh_time[p]: 1\n'
                    # CONFIG-KEYS' advice for high rates; the defaults (424-byte buffers)
                    # lose records between core and plugin from about 0.5 M rec/s.
                    'plugin_pipe_size[p]: 67108864\n'
                    'plugin_buffer_size[p]: 102400\n')
        return [self.args.nfacctd, '-f', conf]

    def accounted(self, out, err):
        total = 0
        if os.path.exists(self.out):
            with open(self.out) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        total += int(json.loads(line)['packets'])  # gen: 1 packet per record
        return total


class Nfcapd(Collector):
    name = 'nfcapd'
    settle = 0.5

    def start(self, port):
        self.dir = os.path.join(self.work, 'nfcapd')
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        return [self.args.nfcapd, '-b', '127.0.0.1', '-p', str(port), '-w', self.dir, '-B',
                str(self.args.rcvbuf), '-t', '3600']

    def accounted(self, out, err):
        r = subprocess.run([self.args.nfdump, '-R', self.dir, '-I'], capture_output=True,
                           text=True, timeout=120)
        m = re.search(r'^Flows: (\d+)', r.stdout, re.M)
        if not m:
            raise RuntimeError('nfdump -I: ' + r.stdout[-500:] + r.stderr[-500:])
        return int(m.group(1))


class Sink(Collector):
    name = 'sink'

    def start(self, port):
        return [self.args.sink, str(port), '127.0.0.1', str(self.args.rcvbuf)]

    def accounted(self, out, err):
        m = re.search(r'records (\d+)', out)
        if not m:
            raise RuntimeError('udp_sink: ' + out + err)
        return int(m.group(1))


COLLECTORS = {c.name: c for c in (Weir, Nfacctd, Nfcapd, Sink)}


# --- one step ------------------------------------------------------------------------------

def run_step(col, rate, a):
    port = free_port()
    cmd = col.start(port)
    outf = open(os.path.join(col.work, f'{col.name}.out'), 'w+')
    errf = open(os.path.join(col.work, f'{col.name}.err'), 'w+')
    proc = subprocess.Popen(cmd, stdout=outf, stderr=errf, stdin=subprocess.DEVNULL)
    pids = [proc.pid]
    try:
        if not wait_bound(port, proc):
            raise RuntimeError(f'{col.name} did not bind 127.0.0.1:{port}: {" ".join(cmd)}')
        time.sleep(col.settle)
        pids = tree(proc.pid)
        rss_idle = rss_kb(pids)
        cpu0 = cpu_seconds(pids)
        gen = [a.gen_bin, 'gen', '-P', a.proto, '-k', str(a.keys), '--json']
        if rate:
            gen += ['-r', str(rate), '-n', str(int(rate * a.secs))]
        else:
            gen += ['-n', '0', '-t', str(a.secs)]
        g = subprocess.run(gen + [f'127.0.0.1:{port}'], capture_output=True, text=True,
                           timeout=a.secs * 10 + 30)
        if g.returncode:
            raise RuntimeError('weir gen: ' + g.stderr)
        sent = json.loads(g.stdout)
        wait_drained(port)
        wait_idle(tree(proc.pid))
        time.sleep(col.refresh_wait)
        pids = tree(proc.pid)
        cpu = cpu_seconds(pids) - cpu0
        rss_after = rss_kb(pids)
        drops = udp_sockets(port)[2]
    finally:
        stop(proc, pids, col.stop_signal)
    outf.seek(0)
    errf.seek(0)
    acc = col.accounted(outf.read(), errf.read())
    outf.close()
    errf.close()
    return {'sent': sent['records'], 'gen_rate': sent['records_per_sec'], 'accounted': acc,
            'drops': drops, 'cpu_s': cpu, 'rss_idle_kb': rss_idle, 'rss_after_kb': rss_after}


def median_step(reps):
    keys = ('sent', 'gen_rate', 'accounted', 'drops', 'cpu_s', 'rss_idle_kb', 'rss_after_kb')
    m = {k: statistics.median(r[k] for r in reps) for k in keys}
    m['lossless_reps'] = sum(1 for r in reps if r['accounted'] >= r['sent'] and r['sent'] > 0)
    m['reps'] = len(reps)
    m['loss_pct'] = statistics.median(
        max(0, r['sent'] - r['accounted']) * 100.0 / r['sent'] for r in reps if r['sent'])
    m['cpu_s_per_m'] = statistics.median(
        r['cpu_s'] / r['accounted'] * 1e6 for r in reps if r['accounted']) if any(
        r['accounted'] for r in reps) else float('nan')
    return m


# --- reporting -----------------------------------------------------------------------------

def print_steps(results, rates, names):
    print(f'{"rate":>6} {"collector":9} {"gen rec/s":>10} {"sent":>9} {"accounted":>9} '
          f'{"loss%":>6} {"lossless":>8} {"drops":>7} {"cpu s":>6} {"cpu s/M":>7} '
          f'{"rss idle":>8} {"rss after":>9}')
    for rate in rates:
        for n in names:
            m = results.get(n, {}).get(rate)
            label = fmt_rate(rate) if rate else 'max'
            if m is None:
                print(f'{label:>6} {n:9} {"skipped (lost at two lower rates)":>40}')
                continue
            print(f'{label:>6} {n:9} {m["gen_rate"]:>10.0f} {m["sent"]:>9.0f} '
                  f'{m["accounted"]:>9.0f} {m["loss_pct"]:>6.2f} '
                  f'{m["lossless_reps"]:>4}/{m["reps"]:<3} {m["drops"]:>7.0f} '
                  f'{m["cpu_s"]:>6.2f} {m["cpu_s_per_m"]:>7.3f} '
                  f'{m["rss_idle_kb"] / 1024:>6.1f}MB {m["rss_after_kb"] / 1024:>7.1f}MB')


def highest_lossless(steps):
    """The highest median gen rate of a step every repetition of which was lossless."""
    ok = [m['gen_rate'] for m in steps.values() if m['lossless_reps'] == m['reps']]
    return max(ok) if ok else 0


def print_summary(results, rates, names):
    print()
    pair = [n for n in ('weir', 'nfacctd') if n in results] or names
    common = [r for r in rates if r and all(
        results.get(n, {}).get(r, {}).get('lossless_reps', -1) == results.get(n, {}).get(
            r, {}).get('reps') for n in pair)]
    stepped = [r for r in rates if r]
    at = max(common) if common else min(stepped) if stepped else 0
    print(f'CPU compared at {fmt_rate(at)} rec/s'
          + (f' (the highest stepped rate {" and ".join(pair)} both sustain)' if common
             else f' (no stepped rate is lossless for {" and ".join(pair)}: the lowest)'))
    print(f'{"collector":9} {"highest lossless rec/s":>22} {"cpu s/M @ " + fmt_rate(at):>14} '
          f'{"idle rss":>9} {"rss after":>9} {"weir lossless/x":>16} {"weir cpu/x":>11}')
    w = results.get('weir', {})
    w_hl = highest_lossless(w) if w else 0
    w_cpu = w.get(at, {}).get('cpu_s_per_m', float('nan'))
    for n in names:
        steps = results.get(n, {})
        if not steps:
            continue
        hl = highest_lossless(steps)
        cpu = steps.get(at, {}).get('cpu_s_per_m', float('nan'))
        idle = statistics.median(m['rss_idle_kb'] for m in steps.values()) / 1024
        after = max(m['rss_after_kb'] for m in steps.values()) / 1024
        r_hl = f'{w_hl / hl:.2f}' if hl and w else '-'
        r_cpu = f'{w_cpu / cpu:.3f}' if cpu == cpu and cpu and w else '-'
        print(f'{n:9} {hl:>22.0f} {cpu:>14.3f} {idle:>7.1f}MB {after:>7.1f}MB '
              f'{r_hl:>16} {r_cpu:>11}')


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--weir', required=True, help='weir binary (collector and generator)')
    p.add_argument('--sink', help='bench/udp_sink binary')
    p.add_argument('--nfacctd', default=shutil.which('nfacctd') or '/usr/sbin/nfacctd')
    p.add_argument('--nfcapd', default=shutil.which('nfcapd'))
    p.add_argument('--nfdump', default=shutil.which('nfdump'))
    p.add_argument('--collectors', default='weir,nfacctd,nfcapd,sink')
    p.add_argument('--rates', default='250k,500k,1M,2M,4M,max')
    p.add_argument('--secs', type=float, default=2.0, help='seconds of traffic per step')
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--proto', default='ipfix')
    p.add_argument('--keys', type=int, default=10000)
    p.add_argument('--rcvbuf', type=int, default=4 << 20, help='socket buffer, every collector')
    p.add_argument('--json', help='write the per-repetition results here')
    a = p.parse_args()
    a.gen_bin = a.weir
    rates = [parse_rate(r) for r in a.rates.split(',')]
    work = f'/dev/shm/weir-bench.{os.getpid()}'
    os.makedirs(work)
    names = []
    for n in a.collectors.split(','):
        need = {'weir': a.weir, 'nfacctd': a.nfacctd, 'nfcapd': a.nfcapd and a.nfdump,
                'sink': a.sink}[n]
        if need and os.access(need if n != 'nfcapd' else a.nfcapd, os.X_OK):
            names.append(n)
        else:
            log(f'live: {n} not available, left out')
    results, raw = {}, {}
    log(f'live: {a.proto}, {a.keys} keys, {a.secs:g} s per step, {a.reps} reps, '
        f'collectors {",".join(names)}, rates {a.rates}')
    try:
        for n in names:
            col = COLLECTORS[n](a, work)
            results[n], raw[n] = {}, {}
            lost_in_row = 0
            for rate in rates:
                if rate and lost_in_row >= 2:
                    continue
                reps = [run_step(col, rate, a) for _ in range(a.reps)]
                m = median_step(reps)
                results[n][rate], raw[n][rate] = m, reps
                lost_in_row = lost_in_row + 1 if m['lossless_reps'] < m['reps'] else 0
                log(f'live: {n:8} {fmt_rate(rate) if rate else "max":>6}: gen '
                    f'{m["gen_rate"]:.0f} rec/s, loss {m["loss_pct"]:.2f}%, '
                    f'{m["cpu_s_per_m"]:.3f} cpu s/M, lossless {m["lossless_reps"]}/{m["reps"]}')
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_steps(results, rates, names)
    print_summary(results, rates, names)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'args': vars(a), 'results': {n: {str(r): v for r, v in s.items()}
                                                     for n, s in raw.items()}}, f, indent=1)


if __name__ == '__main__':
    main()
