/**
 * Retransmission timeout per RFC 6298: SRTT and RTTVAR from round-trip samples, RTO = SRTT + max(G, 4 * RTTVAR)
 * clamped to [min, max], doubled on every expiry (exponential backoff) until a new sample arrives.
 *
 * Which samples are valid is the caller's business (Karn's rule: none from a retransmitted segment unless a
 * timestamp echo says which transmission was answered). The minimum defaults far below RFC 6298's 1 s because
 * a check runs on a LAN with sub-millisecond RTTs and a deadline of seconds; 200 ms is Linux's TCP_RTO_MIN.
 */
import type {Millis} from '../time.js';

export interface RttConfig {
  /** RTO before the first sample (RFC 6298 says 1 s; a LAN check wants less). */
  readonly initialRtoMs: Millis;
  readonly minRtoMs: Millis;
  /** Upper bound for the backed-off RTO (RFC 6298 allows 60 s or more). */
  readonly maxRtoMs: Millis;
}

/** Clock granularity G of RFC 6298: our timestamps tick in milliseconds. */
const GRANULARITY_MS = 1;

export class RttEstimator {
  private srtt: Millis | undefined;
  private rttvar: Millis = 0;
  private current: Millis;
  private expiries = 0;

  constructor(private readonly config: RttConfig) {
    this.current = clamp(config.initialRtoMs, config);
  }

  /** The timeout to arm now (backoff included). */
  get rtoMs(): Millis {
    return this.current;
  }

  /** Smoothed RTT, undefined before the first sample. */
  get srttMs(): Millis | undefined {
    return this.srtt;
  }

  /** Consecutive expiries since the last valid sample. */
  get backoffs(): number {
    return this.expiries;
  }

  /** Feeds one valid round-trip measurement (RFC 6298 2.2 and 2.3); clears any backoff. */
  sample(rttMs: Millis): void {
    if (!(rttMs >= 0)) return;
    if (this.srtt === undefined) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rttMs);
      this.srtt = 0.875 * this.srtt + 0.125 * rttMs;
    }
    this.expiries = 0;
    this.current = clamp(this.srtt + Math.max(GRANULARITY_MS, 4 * this.rttvar), this.config);
  }

  /** The retransmission timer expired: back off (RFC 6298 5.5). */
  backoff(): void {
    this.expiries++;
    this.current = clamp(this.current * 2, this.config);
  }
}

function clamp(rto: Millis, config: RttConfig): Millis {
  return Math.min(config.maxRtoMs, Math.max(config.minRtoMs, rto));
}
