#!/usr/bin/env python3
"""memory.py - weir collect's RSS while records stream through: idle, sampled, after.

Records must not grow memory: after the first second (buffers, tables and template state
allocated) the resident size should stay flat however many records pass.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--weir', required=True)
    p.add_argument('--exporters', type=int, default=50)
    p.add_argument('--rate', default='200k')
    p.add_argument('--secs', type=float, default=6.0)
    p.add_argument('--rcvbuf', type=int, default=4 << 20)
    a = p.parse_args()
    work = f'/dev/shm/weir-bench-mem.{os.getpid()}'
    os.makedirs(work)
    col = live.Weir(a, work)
    port = live.free_port()
    cmd = col.start(port)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    samples = []
    try:
        if not live.wait_bound(port, proc):
            raise SystemExit(f'weir collect did not bind 127.0.0.1:{port}')
        time.sleep(0.5)
        idle = live.rss_kb(live.tree(proc.pid))
        gen = subprocess.Popen([a.weir, 'gen', '-e', str(a.exporters), '-r', a.rate, '-n', '0',
                                '-t', str(a.secs), '-k', '100000', '--v6', '20', '-P', 'v9',
                                '--json', f'127.0.0.1:{port}'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t0 = time.monotonic()
        deadline = t0 + a.secs + 30
        while gen.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            samples.append((time.monotonic() - t0, live.rss_kb(live.tree(proc.pid))))
        out, err = gen.communicate(timeout=30)
        live.wait_drained(port)
        time.sleep(1.5)
        after = live.rss_kb(live.tree(proc.pid))
    finally:
        live.stop(proc, [proc.pid], col.stop_signal)
        shutil.rmtree(work, ignore_errors=True)
    cout, cerr = proc.communicate(timeout=30)
    sent = __import__('json').loads(out)['records'] if out.strip() else 0
    try:
        acc = col.accounted(cout, cerr)
    except RuntimeError:
        acc = -1
    print(f'exporters {a.exporters} (v9, 20% IPv6 keys, 100k keys), {a.rate} rec/s for '
          f'{a.secs:g} s: sent {sent}, accounted {acc}')
    print(f'idle RSS {idle / 1024:.1f} MB; while streaming: '
          + ' '.join(f'{t:.1f}s={kb / 1024:.1f}' for t, kb in samples))
    later = [kb for t, kb in samples if t >= 1.0]
    if later:
        print(f'after the first second: min {min(later) / 1024:.1f} MB, max '
              f'{max(later) / 1024:.1f} MB (growth {(max(later) - min(later)) / 1024:.1f} MB); '
              f'after draining {after / 1024:.1f} MB')


if __name__ == '__main__':
    main()
