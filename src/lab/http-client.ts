// A client's view of a load-balanced service: a series of HTTP GETs, each on a new connection (so IPVS
// schedules each one afresh), run inside a namespace as one small Python program, so that the series costs one
// process start. Each answer says which lab real server served it (the lab's index pages name their server).

import { labPython } from './tcp-probe.js';

export interface HttpAttempt {
  /** A 200 response arrived in time. */
  ok: boolean;
  status: number | null;
  /** The lab host that answered ("good", ...), from the body; null when none did. */
  server: string | null;
  ms: number;
  /** Why it failed: "timeout", "refused", ... */
  error: string | null;
}

// argv: <url> <count> <timeout seconds>. Prints a JSON list of attempts.
const SERIES_PY = String.raw`
import json, re, socket, sys, time, urllib.request, urllib.error
url, count, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
out = []
for _ in range(count):
    t = time.monotonic()
    rec = {'ok': False, 'status': None, 'server': None, 'error': None}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={'Connection': 'close'}), timeout=timeout) as r:
            body = r.read().decode('utf-8', 'replace')
            rec['status'] = r.status
            m = re.search(r'real server (\w+)', body)
            rec['server'] = m.group(1) if m else None
            rec['ok'] = r.status == 200
    except urllib.error.HTTPError as e:
        rec['status'], rec['error'] = e.code, 'http %d' % e.code
    except Exception as e:
        reason = getattr(e, 'reason', e)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            rec['error'] = 'timeout'
        elif isinstance(reason, ConnectionRefusedError):
            rec['error'] = 'refused'
        else:
            rec['error'] = type(reason).__name__ + ': ' + str(reason)
    rec['ms'] = round((time.monotonic() - t) * 1000)
    out.append(rec)
print(json.dumps(out))
`;

/** argv (to run inside a namespace) for `count` GETs of url, each failing after timeoutMs. */
export function httpSeriesArgv(url: string, count: number, timeoutMs: number): string[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
  return [labPython(), '-c', SERIES_PY, url, String(count), String(timeoutMs / 1000)];
}

export function parseHttpSeries(stdout: string): HttpAttempt[] {
  return JSON.parse(stdout) as HttpAttempt[];
}
