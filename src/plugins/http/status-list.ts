/**
 * Accepted HTTP status codes as a list of codes and ranges, `200-299,301` (lvscare's and keepalived's notion of
 * "expected status", in one flag).
 */
import {UsageError} from '../../core/errors.js';

export class StatusList {
  private constructor(
    private readonly ranges: ReadonlyArray<readonly [number, number]>,
    readonly text: string,
  ) {}

  static parse(text: string, flag: string): StatusList {
    const ranges: Array<[number, number]> = [];
    for (const part of text.split(',').map((p) => p.trim())) {
      const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
      if (!m) throw new UsageError(`${flag}: '${part}' is not a status code or range like 200-299`);
      const low = Number(m[1]);
      const high = m[2] === undefined ? low : Number(m[2]);
      if (low < 100 || high > 599 || low > high) throw new UsageError(`${flag}: '${part}' is not within 100-599 in order`);
      ranges.push([low, high]);
    }
    return new StatusList(ranges, text);
  }

  accepts(status: number): boolean {
    return this.ranges.some(([low, high]) => status >= low && status <= high);
  }
}
