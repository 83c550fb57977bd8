/**
 * The JSON Schema of the agent's configuration (docs/schema/agent.schema.json), generated from the check
 * plugins' own flag declarations: a service's check options are the CLI's long flag names with the same types,
 * so a working command line can be pasted into the config key for key, and a flag added to a check is a config
 * key at once. The build compiles this schema into a standalone validator (scripts/build-agent-validator.mjs):
 * ajv's run-time compile costs 80-117 ms, its standalone code loads in under 1 ms.
 *
 * The schema checks shape and types; the plugins' own converters then check meaning (addresses, ranges) with
 * the same one-line errors as on the command line (config.ts).
 */
import type {FlagSpec} from '../plugin-api/flag-spec.js';

/** Flags the agent sets itself for every probe: they are not config keys. */
export const AGENT_SET_FLAGS = new Set(['vip', 'rs', 'port', 'timeout', 'json', 'exit-codes', 'verbose']);
/** Flags that may also be given once for all services, under `defaults`. */
export const SHARED_FLAGS = new Set(['interface', 'source', 'role', 'role-file']);

/**
 * A service's keys that are not check options, the same for every check (serviceBase below). Third-party
 * checks, which the compiled schema does not know, are validated on these plus their own flags (plugin-services.ts).
 */
export const SERVICE_KEYS: readonly string[] = [
  'name',
  'vip',
  'port',
  'check',
  'real-servers',
  'discover',
  'match',
  'file-check',
  'interval',
  'timeout',
  'rise',
  'fall',
  'initial-state',
  'ipvs-weights',
  'on-down',
  'panic-threshold',
];

export interface CheckFlags {
  readonly id: string;
  readonly flags: readonly FlagSpec[];
}

type Schema = Record<string, unknown>;

const seconds: Schema = {
  description: 'Seconds, decimals allowed (like --timeout).',
  anyOf: [{type: 'number', exclusiveMinimum: 0}, {type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*$'}],
};
const count: Schema = {type: 'integer', minimum: 1, maximum: 100};
/** A Nagios object name template: `;` separates an external command's fields, and a command is one line. */
const passiveName: Schema = {type: 'string', minLength: 1, pattern: '^[^;\\n\\r]+$'};

/** What the agent does with the IPVS weights of a service whose real servers come from the table. */
const ipvsProperties: Record<string, Schema> = {
  'ipvs-weights': {enum: ['off', 'manage'], description: 'manage: drain (or remove) real servers that go down, restore the operator\'s weight when they come back (default off).'},
  'on-down': {enum: ['drain', 'remove'], description: 'With ipvs-weights manage: drain = weight 0, quiescent (default); remove = delete the destination.'},
  'panic-threshold': {type: 'integer', minimum: 0, maximum: 100, description: 'Percent: below this share of real servers up, drain no more and restore the drained ones (default 50; 0 = off).'},
};

/** Timing and state keys, at service level or under `defaults`. */
const timingProperties: Record<string, Schema> = {
  interval: {...seconds, description: 'Seconds between two probes of a target (default 5).'},
  timeout: {...seconds, description: 'Deadline of one probe, in seconds (default 2); below the interval.'},
  rise: {...count, description: 'Successes in a row that bring a down target up (default 2).'},
  fall: {...count, description: 'Failures in a row that take an up target down (default 3).'},
  'initial-state': {enum: ['down', 'up'], description: 'State before the first probes: down (default) waits for rise successes.'},
};

export function flagSchema(spec: FlagSpec): Schema {
  const description = spec.description;
  if (spec.type === 'boolean') return {type: 'boolean', description};
  if (spec.type === 'count') return {type: 'integer', minimum: 0, description};
  const scalar: Schema = spec.options ? {enum: [...spec.options], description} : {type: ['string', 'number'], description};
  if (spec.multiple) {
    return {description, anyOf: [{type: 'array', items: spec.options ? {enum: [...spec.options]} : {type: ['string', 'number']}}, scalar]};
  }
  return scalar;
}

function checkOptions(flags: readonly FlagSpec[]): Record<string, Schema> {
  const properties: Record<string, Schema> = {};
  for (const spec of flags) if (!AGENT_SET_FLAGS.has(spec.name)) properties[spec.name] = flagSchema(spec);
  return properties;
}

export function buildAgentSchema(checks: readonly CheckFlags[]): Schema {
  const sharedFlags: Record<string, Schema> = {};
  for (const check of checks) {
    for (const spec of check.flags) if (SHARED_FLAGS.has(spec.name)) sharedFlags[spec.name] = flagSchema(spec);
  }
  const realServer: Schema = {
    anyOf: [
      {type: 'string', description: "The real server's own address (RIP)."},
      {
        type: 'object',
        properties: {
          address: {type: 'string'},
          mac: {type: 'string', description: 'Skips ARP/NDP for this real server.'},
          'nagios-host': {...passiveName, description: "This real server's Nagios host_name (passive results)."},
          'icinga-host': {...passiveName, description: "This real server's Icinga 2 host name (passive results)."},
        },
        required: ['address'],
        additionalProperties: false,
      },
    ],
  };
  const serviceBase: Record<string, Schema> = {
    name: {type: 'string', minLength: 1, pattern: '^[A-Za-z0-9_.:-]+$', description: 'Unique; a metrics label.'},
    vip: {type: 'string', description: 'The virtual IP address.'},
    port: {anyOf: [{type: 'integer', minimum: 1, maximum: 65535}, {type: 'string', pattern: '^\\d{1,5}$'}]},
    check: {enum: checks.map((c) => c.id), description: 'The check plugin, as on the command line.'},
    'real-servers': {
      description: 'A list, or ipvs: the real servers of this VIP:port in the kernel\'s IPVS table, or {fwmark: N}: those of that fwmark service.',
      anyOf: [
        {type: 'array', minItems: 1, items: realServer},
        {const: 'ipvs'},
        {type: 'object', properties: {fwmark: {type: 'integer', minimum: 1, maximum: 4294967295}}, required: ['fwmark'], additionalProperties: false},
      ],
    },
    discover: {const: 'ipvs', description: 'Takes every service of the IPVS table that `match` selects (services: ipvs); no vip, port or real-servers.'},
    match: {
      type: 'object',
      description: 'With discover: ipvs, which services and real servers to take (default: every TCP service, DR, TUN and NAT real servers).',
      properties: {
        vip: {type: 'string'},
        port: {anyOf: [{type: 'integer', minimum: 1, maximum: 65535}, {type: 'string', pattern: '^\\d{1,5}$'}]},
        protocol: {enum: ['tcp']},
        forwarding: {anyOf: [{enum: ['dr', 'tun', 'nat']}, {type: 'array', minItems: 1, items: {enum: ['dr', 'tun', 'nat']}}]},
      },
      additionalProperties: false,
    },
    ...ipvsProperties,
    'file-check': {
      type: 'string',
      pattern: '\\{rs\\}',
      description: "keepalived track_file path per real server; {rs} is the real server's address, {service} the name.",
    },
    'nagios-host': {...passiveName, description: 'Nagios host_name of passive results (default: nagios.host).'},
    'nagios-service': {...passiveName, description: 'Nagios service_description of passive results (default: nagios.service).'},
    'icinga-host': {...passiveName, description: 'Icinga 2 host name of passive results (default: icinga.host).'},
    'icinga-service': {...passiveName, description: 'Icinga 2 service name of passive results (default: icinga.service).'},
    ...timingProperties,
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://vipcheck.invalid/schema/agent.schema.json',
    title: 'vipcheck agent configuration',
    description: 'Generated from the check plugins\' flag declarations (src/agent/config-schema.ts); do not edit by hand.',
    type: 'object',
    properties: {
      listen: {type: 'string', description: 'HTTP address:port for /metrics, /status, / and /healthz (default 127.0.0.1:9470).'},
      'max-concurrent': {type: 'integer', minimum: 1, maximum: 10000, description: 'Probes in flight at once (default 256).'},
      'source-ports': {enum: [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384], description: 'Source ports the agent holds (default 1024).'},
      'state-dir': {type: 'string', pattern: '^/', description: 'Where ipvs-weights: manage remembers the operator\'s weights (default /var/lib/vipcheck, systemd\'s StateDirectory).'},
      'ipvs-interval': {...seconds, description: 'Seconds between two reads of the IPVS table (default 2).'},
      nagios: {
        type: 'object',
        description: "Passive results into Nagios's external command file (PROCESS_SERVICE_CHECK_RESULT).",
        properties: {
          'command-file': {type: 'string', pattern: '^/', description: "Nagios's command_file, a FIFO (Debian: /var/lib/nagios4/rw/nagios.cmd)."},
          host: {...passiveName, description: 'host_name template (default {rs}).'},
          service: {...passiveName, description: 'service_description template (default {service}).'},
          'every-probe': {type: 'boolean', description: 'Send every probe, not only the first one and each state change (default false).'},
        },
        required: ['command-file'],
        additionalProperties: false,
      },
      icinga: {
        type: 'object',
        description: "Passive results through Icinga 2's REST API (/v1/actions/process-check-result).",
        properties: {
          url: {type: 'string', pattern: '^https://[^/]+/?$', description: 'The API, e.g. https://icinga.example:5665.'},
          user: {type: 'string', minLength: 1, description: 'ApiUser with the permission actions/process-check-result.'},
          password: {type: 'string', minLength: 1, description: 'The ApiUser\'s password, inline (keep the file mode 0600); or password-file.'},
          'password-file': {type: 'string', pattern: '^/', description: 'A file holding the password (its first line), read at start and at every reload: a systemd credential, a secret mount.'},
          'ca-file': {type: 'string', pattern: '^/', description: "The CA of Icinga's API certificate (/var/lib/icinga2/certs/ca.crt); default: the system's CAs."},
          host: {...passiveName, description: 'Host name template (default {rs}).'},
          service: {...passiveName, description: 'Service name template (default {service}).'},
          'every-probe': {type: 'boolean', description: 'Send every probe, not only the first one and each state change (default false).'},
        },
        required: ['url', 'user'],
        additionalProperties: false,
      },
      defaults: {type: 'object', properties: {...timingProperties, ...ipvsProperties, ...sharedFlags}, additionalProperties: false},
      services: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['name', 'check'],
          properties: serviceBase,
          allOf: [
            // A discovery entry takes VIP, port and real servers from the table; any other service names them.
            {if: {properties: {discover: {const: 'ipvs'}}, required: ['discover']}, else: {properties: {vip: true, port: true, 'real-servers': true}, required: ['vip', 'port', 'real-servers']}},
            ...checks.map((check) => ({
              if: {properties: {check: {const: check.id}}, required: ['check']},
              then: {properties: checkOptions(check.flags)},
            })),
          ],
          unevaluatedProperties: false,
        },
      },
    },
    required: ['services'],
    additionalProperties: false,
  };
}
