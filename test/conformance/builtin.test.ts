/** Every built-in check that probes one real server passes the conformance suite (arp-audit judges a segment). */
import {UDP_ECHO_PORT, startDnsmasq, startUdpEcho} from '../support/lab-services.js';
import {conformanceSuite} from './suite.js';

conformanceSuite({check: 'tcp', port: 80});
conformanceSuite({check: 'http-status', port: 80});
conformanceSuite({check: 'http', port: 80});
conformanceSuite({check: 'udp', port: UDP_ECHO_PORT, args: ['--send', 'ping', '--expect', 'echo:ping'], prepare: (lab) => startUdpEcho(lab, 'good')});
conformanceSuite({check: 'dns', port: 53, args: ['--query', 'www.lab.example'], prepare: (lab) => startDnsmasq(lab, 'good')});
