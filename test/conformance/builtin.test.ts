/** Every built-in check that probes one real server passes the conformance suite (arp-audit judges a segment). */
import {conformanceSuite} from './suite.js';

conformanceSuite({check: 'tcp', port: 80});
conformanceSuite({check: 'http-status', port: 80});
conformanceSuite({check: 'http', port: 80});
