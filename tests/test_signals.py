"""`cmapkd reproduce` stopped by SIGINT, SIGTERM or SIGHUP: every process it started ends, and it says so in one line.

Each test starts a real `cmapkd reproduce --preset smoke` (its own output folder, a temporary CMAPKD_CACHE shared by the
three so that the towers are pretrained once), waits for the line that says a run has finished (an event, not a
time: this machine may be loaded), records every process the command has started by then (the papermill kernel, in a
session of its own, and its pool workers), sends the signal to the command alone, as a terminal or `kill` does, and
checks that the command exits with status 128 + signal, that none of those processes nor any process of their
sessions is left, and that the command's last words are one line saying what was kept (the result files that are
there: the output folder is given relative to where the command was started, while papermill runs the experiment
notebook from nbs/) and how to resume.
"""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
import pytest
from cmapkd.cli import kept_results

ROOT = Path(__file__).resolve().parents[1]


def processes() -> dict:
    "pid -> (parent pid, process group, session) of every live process (zombies have ended)."
    out = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                f = Path(f'/proc/{d}/stat').read_text().rsplit(')', 1)[1].split()
            except (OSError, IndexError):
                continue
            if f[0] not in 'ZX':
                out[int(d)] = (int(f[1]), int(f[2]), int(f[3]))
    return out


def started_by(pid: int, procs: dict) -> set:
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        kids = {p for p, (pp, _, _) in procs.items() if pp == parent} - found
        found |= kids
        todo += kids
    return found


@pytest.fixture(scope='module')
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp('cache')


@pytest.mark.skipif(not os.path.isdir('/proc'), reason='reads the process table from /proc')
@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_ends_every_process_of_reproduce_with_one_line(sig, cache, tmp_path):
    out = 'out'  # relative to the command's folder, as a user types it
    env = dict(os.environ, CMAPKD_CACHE=str(cache), MPLBACKEND='Agg', PYTHONUNBUFFERED='1')
    err_file = tmp_path / 'stderr.txt'
    with open(err_file, 'w') as err:  # a file, not a pipe: nothing blocks on it while the test reads stdout
        p = subprocess.Popen(
            [sys.executable, '-m', 'cmapkd.cli', 'reproduce', '--preset', 'smoke', '--out', str(out), '--jobs', '2'],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )  # its own session: the signal below reaches it alone
        shown = []
        try:
            for line in p.stdout:  # the event: a run of run_main's experiment 'main' has finished, a result is kept
                shown.append(line)
                if re.search(r'\] main \d+/\d+ .+: \S+ [\d.]+ in ', line.rstrip('\n')):
                    break
            else:
                pytest.fail(
                    'reproduce ended before a run finished (exit '
                    f'{p.wait()}):\n{"".join(shown)}{err_file.read_text()[-3000:]}'
                )
            procs = processes()
            started = started_by(p.pid, procs)
            sessions = {procs[q][2] for q in started if q in procs}
            assert len(started) >= 3 and p.pid not in sessions, (
                started,
                sessions,
            )  # the kernel (own session), two workers
            os.kill(p.pid, sig)
            rc = p.wait(timeout=600)  # only so that a failure cannot hang the test run
        finally:
            if p.poll() is None:
                p.kill()
    left = {q for q, (_, _, s) in processes().items() if q in started or s in sessions or s == p.pid}
    assert not left, f'still running after {sig.name}: {left}'
    rest = p.stdout.read()  # every writer of the pipe has ended: this returns
    p.stdout.close()
    assert rc == 128 + sig, (rc, rest, err_file.read_text()[-3000:])
    said = err_file.read_text()
    lines = [line for line in said.split('\n') if line.strip()]
    stop = [line for line in lines if 'stopped by' in line]
    assert len(stop) == 1 and lines[-1] == stop[0], lines[-5:]
    assert re.fullmatch(
        rf"cmapkd: stopped by {sig.name} after \d+ s; kept (\d+) result files of preset 'smoke' in "
        rf"{out}/results \(a run cut short is trained again\); resume with: cmapkd "
        rf"reproduce --preset smoke --out {out} --jobs 2",
        stop[0],
    ), stop[0]
    kept = int(re.search(r'kept (\d+)', stop[0]).group(1))
    assert kept >= 1 and kept == kept_results(tmp_path / out, 'smoke'), (kept, stop[0])
    assert 'Traceback' not in said + rest and '\x1b[' not in said + rest, (said[-3000:], rest[-3000:])
