// A kernel TCP connect() run inside a namespace. Node cannot enter a network namespace itself, so the
// probe is a small Python program started with `ip netns exec`; python3 is a lab dependency anyway (the
// HTTP servers). Targets are passed as argv, never spliced into the program text.

import { existsSync } from 'node:fs';

export type TcpProbeStatus = 'open' | 'refused' | 'timeout' | 'unreachable' | 'error';

/** The Python interpreter for lab processes: $VIPCHECK_LAB_PYTHON, else the system one, else PATH. */
export function labPython(): string {
  const fromEnv = process.env.VIPCHECK_LAB_PYTHON;
  if (fromEnv) return fromEnv;
  // Prefer the distribution's interpreter over a pyenv/asdf shim: a shim is a shell script that costs
  // ~100 ms per start and may pick a Python without http.server's dual-stack support.
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

// argv: <until-open|once> <total seconds> <attempt seconds> host port [host port ...]
// "once": one connect per target. "until-open": retry every 50 ms until all targets accept or time is up.
// Prints {"host port": status} as JSON.
const PROBE_PY = String.raw`
import errno, json, socket, sys, time
mode, total, attempt = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
args = sys.argv[4:]
targets = [(args[i], int(args[i + 1])) for i in range(0, len(args), 2)]
deadline = time.monotonic() + total

def probe(host, port):
    s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(max(0.05, min(attempt, deadline - time.monotonic())))
    try:
        s.connect((host, port))
        return 'open'
    except ConnectionRefusedError:
        return 'refused'
    except (socket.timeout, TimeoutError):
        return 'timeout'
    except OSError as e:
        return 'unreachable' if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH) else 'error'
    finally:
        s.close()

status = {}
while True:
    for host, port in targets:
        if status.get((host, port)) != 'open':
            status[(host, port)] = probe(host, port)
    if mode == 'once' or all(v == 'open' for v in status.values()) or time.monotonic() >= deadline:
        break
    time.sleep(0.05)
print(json.dumps({'%s %d' % k: v for k, v in status.items()}))
`;

export interface TcpTarget {
  host: string;
  port: number;
}

/** argv (to run inside a namespace) for the probe. */
export function tcpProbeArgv(mode: 'once' | 'until-open', targets: readonly TcpTarget[], totalMs: number, attemptMs: number): string[] {
  const argv = [labPython(), '-c', PROBE_PY, mode, String(totalMs / 1000), String(attemptMs / 1000)];
  for (const t of targets) argv.push(t.host, String(t.port));
  return argv;
}

/** Parses the probe's output into a status per target, in the order given. */
export function parseTcpProbe(stdout: string, targets: readonly TcpTarget[]): TcpProbeStatus[] {
  const parsed = JSON.parse(stdout) as Record<string, TcpProbeStatus>;
  return targets.map((t) => parsed[`${t.host} ${t.port}`] ?? 'error');
}
