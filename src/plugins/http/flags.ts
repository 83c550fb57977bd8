/**
 * Flags of the HTTP checks. `http-status` takes the request and TLS groups; `http` adds the content checks.
 * Names follow check_curl where it has one (`-u`, `-j`, `-k`, `-e`, `-s`, `-r`, `-S`), except that `-H` is the
 * real server here (shared with every check) and the virtual host is `--host`.
 */
import type {FlagSpec} from '../../plugin-api/flag-spec.js';

export const REQUEST_FLAGS: readonly FlagSpec[] = [
  {name: 'path', char: 'u', type: 'string', default: '/', helpValue: 'PATH', description: 'Request path (and query).'},
  {name: 'host', type: 'string', helpValue: 'NAME', description: 'Host header (virtual host); default the VIP.'},
  {name: 'method', char: 'j', type: 'string', default: 'GET', helpValue: 'METHOD', description: 'Request method.'},
  {name: 'max-bytes', type: 'string', default: '4194304', helpValue: 'BYTES', description: 'Stop reading after this many bytes (a hostile server cannot exhaust memory).'},
];

export const TLS_FLAGS: readonly FlagSpec[] = [
  {name: 'tls', char: 'S', type: 'boolean', description: 'Speak HTTPS (TLS over the same VIP-path connection).'},
  {name: 'sni', type: 'string', helpValue: 'NAME', description: 'TLS server name; default the Host header when it is a name.'},
  {name: 'insecure', type: 'boolean', description: 'Do not verify the server certificate.'},
  {name: 'ca-file', type: 'string', helpValue: 'PATH', description: 'PEM file of CA certificates to verify the server with (default: the system store).'},
];

export const CONTENT_FLAGS: readonly FlagSpec[] = [
  {name: 'header', char: 'k', type: 'string', multiple: true, helpValue: "'NAME: VALUE'", description: 'Extra request header (repeatable).'},
  {name: 'data', type: 'string', helpValue: 'BODY', description: 'Request body (sent with Content-Length).'},
  {name: 'status', char: 'e', type: 'string', helpValue: 'LIST', description: 'Accepted status codes and ranges, e.g. 200-299,301; without it 2xx/3xx OK, 4xx WARNING, 5xx CRITICAL.'},
  {name: 'string', char: 's', type: 'string', helpValue: 'TEXT', description: 'The body must contain this text.'},
  {name: 'regex', char: 'r', type: 'string', helpValue: 'REGEX', description: 'The body must match this regular expression.'},
  {name: 'regex-i', type: 'string', helpValue: 'REGEX', description: 'Like --regex, case-insensitive.'},
  {name: 'invert-regex', type: 'boolean', description: 'CRITICAL when --regex/--regex-i matches instead of when it does not.'},
  {name: 'header-match', type: 'string', multiple: true, helpValue: "'NAME: REGEX'", description: 'A response header must match (name case-insensitive; repeatable).'},
  {name: 'digest', type: 'string', helpValue: 'MD5HEX', description: "MD5 of the body must equal this (keepalived's digest)."},
  {name: 'size', type: 'string', helpValue: 'MIN[:MAX]', description: 'Body size in bytes must lie within MIN..MAX.'},
  {name: 'cert-days', type: 'string', helpValue: 'WARN[,CRIT]', description: 'With --tls: WARNING/CRITICAL when the certificate expires within these many days.'},
  {name: 'extended-perfdata', char: 'E', type: 'boolean', description: 'Add time_connect, time_tls, time_headers, time_firstbyte, time_transfer and size.'},
];
