#!/usr/bin/env python3
"""relay_bench.py - datagrams/s relayed to 1 pool of 4 receivers (hash-agent): weir relay beside
nfacctd's tee plugin and a bare recvmmsg+sendmmsg loop, same load, same run. Medians, ratios.
Sends only to 127.0.0.1; every run is bounded by --secs."""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_line(proc, word, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if word in line:
            return
        if proc.poll() is not None:
            raise RuntimeError(f'{proc.args[0]} exited before "{word}"')
    raise RuntimeError(f'{proc.args[0]}: no "{word}" in {timeout} s')


def wait_file(path, pattern, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and pattern in open(path).read():
            return
        time.sleep(0.05)
    raise RuntimeError(f'no "{pattern}" in {path}')


def proc_cpu(pid):
    """utime+stime in seconds of pid, its live descendants and their reaped children."""
    tick = os.sysconf('SC_CLK_TCK')
    kids, total = {}, 0
    for e in os.listdir('/proc'):
        if not e.isdigit():
            continue
        try:
            with open(f'/proc/{e}/stat') as f:
                st = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(st[1]), []).append((int(e), st))
    todo = [pid]
    try:
        with open(f'/proc/{pid}/stat') as f:
            st = f.read().rsplit(')', 1)[1].split()
        total += sum(int(x) for x in st[11:15])
    except OSError:
        return 0.0
    while todo:
        for child, cst in kids.get(todo.pop(), []):
            total += sum(int(x) for x in cst[11:15])
            todo.append(child)
    return total / tick


def start_weir(a, d, port, rcv):
    conf = os.path.join(d, 'relay.conf')
    log = os.path.join(d, 'relay.log')
    with open(conf, 'w') as f:
        f.write(f'nfacctd_ip: 127.0.0.1\nnfacctd_port: {port}\nlogfile: {log}\n'
                f'nfacctd_pipe_size: 8m\ntee_receivers: {rcv}\n')
    p = subprocess.Popen([a.weir, 'relay', '-f', conf, '-F'], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_file(log, 'listening: udp')
    return p


def start_pmacct(a, d, port, rcv):
    conf = os.path.join(d, 'nfacctd.conf')
    with open(conf, 'w') as f:
        f.write('\n'.join([
            'daemonize: false', 'nfacctd_ip: 127.0.0.1', f'nfacctd_port: {port}',
            'nfacctd_pipe_size: 8388608', 'plugins: tee[t]', f'tee_receivers[t]: {rcv}',
            'tee_pipe_size[t]: 8388608', 'plugin_pipe_size[t]: 67108864',
            'plugin_buffer_size[t]: 102400']) + '\n')
    p = subprocess.Popen([a.nfacctd, '-f', conf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # no readiness signal; the tee plugin forks after the core binds
    return p


def start_bare(a, d, port, ports):
    p = subprocess.Popen([a.tool, 'fwd', str(port)] + [str(x) for x in ports],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    wait_line(p, 'ready')
    return p


def one_run(a, system):
    with tempfile.TemporaryDirectory() as d:
        ports = [free_port() for _ in range(4)]
        port = free_port()
        rcv = os.path.join(d, 'receivers.lst')
        with open(rcv, 'w') as f:
            f.write('id=1 ip=' + ','.join(f'127.0.0.1:{p}' for p in ports) +
                    ' balance-alg=hash-agent\n')
        sink = subprocess.Popen([a.tool, 'sink'] + [str(p) for p in ports],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        wait_line(sink, 'ready')
        if system == 'weir':
            relay = start_weir(a, d, port, rcv)
        elif system == 'pmacct':
            relay = start_pmacct(a, d, port, rcv)
        else:
            relay = start_bare(a, d, port, ports)
        try:
            cpu0 = proc_cpu(relay.pid)
            g = subprocess.run([a.weir, 'gen', '-P', 'v5', '-e', str(a.exporters),
                                '--per-packet', '1', '-n', '0', '-t', str(a.secs), '--json',
                                f'127.0.0.1:{port}'], capture_output=True, text=True,
                               timeout=a.secs + 60)
            sent = json.loads(g.stdout.strip().splitlines()[-1])
            out, _ = sink.communicate(timeout=a.secs + 60)
            cpu = proc_cpu(relay.pid) - cpu0
        finally:
            relay.send_signal(signal.SIGTERM if system != 'pmacct' else signal.SIGINT)
            try:
                relay.wait(timeout=30)
            except subprocess.TimeoutExpired:
                relay.kill()
                relay.wait()
            if sink.poll() is None:
                sink.kill()
                sink.wait()
        r = json.loads(out.strip().splitlines()[-1])
        got = sum(r['datagrams'])
        secs = max((r['last_ns'] - r['first_ns']) / 1e9, 1e-3)
        return {'sent': sent['datagrams'], 'sent_per_s': sent['datagrams'] / sent['seconds'],
                'relayed': got, 'relayed_per_s': got / secs if got > 1 else 0.0,
                'cpu_s': cpu, 'per_cpu_s': got / cpu if cpu > 0 else 0.0,
                'per_receiver': r['datagrams']}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--weir', required=True)
    ap.add_argument('--tool', required=True, help='relay_bench binary (sink, fwd)')
    ap.add_argument('--nfacctd', default=shutil.which('nfacctd') or '/usr/sbin/nfacctd')
    ap.add_argument('--secs', type=float, default=2)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--exporters', type=int, default=16)
    ap.add_argument('--json')
    a = ap.parse_args()
    systems = ['weir', 'bare'] + (['pmacct'] if os.access(a.nfacctd, os.X_OK) else [])
    res = {s: [] for s in systems}
    for rep in range(a.reps):
        for s in systems:  # interleaved, so that machine noise hits every system alike
            res[s].append(one_run(a, s))
    print(f'load: weir gen -P v5 --per-packet 1 (72-byte datagrams) from {a.exporters} '
          f'exporters, flat out for {a.secs:g} s; 1 pool of 4 receivers, hash-agent; '
          f'median of {a.reps}')
    print(f'{"relay":<24}{"offered/s":>11}{"relayed/s":>11}{"delivered":>10}'
          f'{"cpu s":>7}{"relayed/cpu-s":>15}  per receiver (last run)')
    med, eff = {}, {}
    names = {'weir': 'weir relay', 'bare': 'bare recvmmsg+sendmmsg', 'pmacct': 'nfacctd tee'}
    for s in systems:
        runs = res[s]
        med[s] = statistics.median(r['relayed_per_s'] for r in runs)
        off = statistics.median(r['sent_per_s'] for r in runs)
        dl = statistics.median(r['relayed'] / max(r['sent'], 1) for r in runs)
        cpu = statistics.median(r['cpu_s'] for r in runs)
        eff[s] = statistics.median(r['per_cpu_s'] for r in runs)
        last = runs[-1]['per_receiver']
        print(f'{names[s]:<24}{off:>11,.0f}{med[s]:>11,.0f}{dl:>10.1%}{cpu:>7.2f}'
              f'{eff[s]:>15,.0f}  {last}')
    print('relayed/cpu-s: datagrams delivered per CPU second the relay used (all its threads '
          'and processes); on 2 shared cores the offered rate is bounded by the sender')
    for other, name, target in (('pmacct', 'nfacctd tee', '>= 5x'),
                                ('bare', 'bare loop', '>= 0.5x')):
        if med.get(other) and eff.get(other):
            print(f'weir / {name}: relayed/s {med["weir"] / med[other]:.2f}x, '
                  f'relayed/cpu-s {eff["weir"] / eff[other]:.2f}x (target {target})')
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(res, f, indent=1)


if __name__ == '__main__':
    main()
