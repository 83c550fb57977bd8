/**
 * Reads the agent's configuration: YAML (JSON is YAML too) -> the generated schema (shape and types, one line
 * per error with its key path) -> every target's options through its plugin's own `prepare`, so a value the CLI
 * would refuse is refused here with the same words, naming the key instead of the flag.
 *
 * One target is one (service, real server) pair; its id `service/rs` keys its state across reloads.
 */
import {readFile} from 'node:fs/promises';
import {createRequire} from 'node:module';
import {Worker} from 'node:worker_threads';
import {parseDocument} from 'yaml';
import {UsageError} from '../core/errors.js';
import type {IpvsForwarding, IpvsProtocol, IpvsServiceKey, IpvsTunnelType} from '../core/ipvs/model.js';
import {IpAddress} from '../core/wire/address.js';
import type {FlagValue, FlagValues} from '../plugin-api/flag-spec.js';
import type {CheckPlugin} from '../plugin-api/plugin.js';
import {AGENT_SET_FLAGS, SHARED_FLAGS} from './config-schema.js';
import type {HealthRules} from './health.js';
import {splitPluginServices} from './plugin-services.js';

export interface TargetConfig {
  /** `service/rs`. */
  readonly id: string;
  readonly service: string;
  readonly vip: IpAddress;
  readonly port: number;
  readonly rs: IpAddress;
  readonly check: string;
  readonly plugin: CheckPlugin;
  readonly options: unknown;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly health: HealthRules;
  /** The keepalived track_file of this real server, if the service has `file-check`. */
  readonly fileCheck?: string;
  /** Host and service of this target's passive results in Nagios, when the file has `nagios`. */
  readonly nagios?: PassiveNames;
  /** Host and service of this target's passive results in Icinga 2, when the file has `icinga`. */
  readonly icinga?: PassiveNames;
  /** The IPVS destination this target checks, when its real servers come from the kernel's table. */
  readonly ipvs?: TargetIpvs;
}

export interface TargetIpvs {
  readonly service: IpvsServiceKey;
  /** The destination's own port (a NAT real server may listen elsewhere than the virtual port). */
  readonly port: number;
  readonly forwarding: IpvsForwarding;
  /** vip: through the VIP (DR, TUN); rip: a kernel connect to RIP:port, as a NAT real server is reached. */
  readonly path: 'vip' | 'rip';
  /** TUN: the encapsulation the probe copies from the director's table. */
  readonly tunnel?: {readonly type: IpvsTunnelType; readonly port: number};
  /** Whether the agent manages this service's weights. */
  readonly managed: boolean;
}

/** ipvs-weights: manage on a service. */
export interface IpvsWeightPolicy {
  readonly onDown: 'drain' | 'remove';
  /** Percent; 0 = off. */
  readonly panicThreshold: number;
}

/** Which services of the table a `discover: ipvs` entry takes. */
export interface IpvsMatch {
  readonly vip?: IpAddress;
  readonly port?: number;
  readonly forwarding: readonly IpvsForwarding[];
}

/** A destination of the table, as a target is built for it. */
export interface DiscoveredDestination {
  readonly address: IpAddress;
  readonly port: number;
  readonly forwarding: IpvsForwarding;
  /** TUN only: how the director encapsulates (the /proc fallback cannot tell, and reads ipip). */
  readonly tunnelType?: IpvsTunnelType;
  readonly tunnelPort?: number;
}

/** A service of the configuration whose real servers come from the kernel's IPVS table. */
export interface IpvsSource {
  readonly name: string;
  readonly select:
    | {readonly kind: 'service'; readonly key: IpvsServiceKey; readonly vip: IpAddress; readonly port: number}
    | {readonly kind: 'discover'; readonly match: IpvsMatch};
  readonly weights?: IpvsWeightPolicy;
  /** The protocol of the IPVS services this source's check probes (UDP for udp and dns, else TCP). */
  readonly protocol: IpvsProtocol;
  /** The target of one destination; throws an Error with a one-line message when the check refuses it. */
  readonly target: (service: string, vip: IpAddress, port: number, key: IpvsServiceKey, destination: DiscoveredDestination) => TargetConfig;
}

export interface IpvsConfig {
  readonly stateDir: string;
  readonly intervalMs: number;
  readonly sources: readonly IpvsSource[];
}

export interface PassiveNames {
  readonly host: string;
  readonly service: string;
}

export interface IcingaPassiveConfig {
  readonly url: string;
  readonly user: string;
  /** Inline, or read from passwordFile by loadConfig (empty until then). */
  readonly password: string;
  readonly passwordFile?: string;
  readonly caFile?: string;
  /** The CA file's contents, read by loadConfig (a file that cannot be read is a configuration error). */
  readonly ca?: Buffer;
  readonly everyProbe: boolean;
}

export interface NagiosPassiveConfig {
  readonly commandFile: string;
  readonly everyProbe: boolean;
}

export interface AgentConfig {
  readonly listen: {readonly host: string; readonly port: number};
  readonly maxConcurrent: number;
  readonly sourcePorts: number;
  /** The targets the file lists; those of `real-servers: ipvs` and `discover: ipvs` come from `ipvs` at run time. */
  readonly targets: readonly TargetConfig[];
  readonly ipvs?: IpvsConfig;
  readonly nagios?: NagiosPassiveConfig;
  readonly icinga?: IcingaPassiveConfig;
}

/** Every problem of a configuration, one line each (`services[1].path: must be string`). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

type Validator = ((data: unknown) => boolean) & {errors?: Array<{instancePath: string; message?: string; keyword: string; params: Record<string, unknown>}> | null};

let validator: Validator | undefined;

/** The standalone validator the build compiled from docs/schema/agent.schema.json (dist/agent/config-validator.cjs). */
function compiledValidator(): Validator {
  if (validator) return validator;
  const require = createRequire(import.meta.url);
  // Built next to this module in dist/agent/; the tests run this module from src/agent/, beside the sources.
  for (const candidate of ['./config-validator.cjs', '../../dist/agent/config-validator.cjs']) {
    try {
      validator = require(candidate) as Validator;
      return validator;
    } catch {
      // try the next place
    }
  }
  throw new UsageError("the agent's config validator is not built: run npm run build");
}

const DEFAULTS = {
  interval: 5,
  timeout: 2,
  rise: 2,
  fall: 3,
  initial: 'down' as const,
  listen: '127.0.0.1:9470',
  maxConcurrent: 256,
  sourcePorts: 1024,
  stateDir: '/var/lib/vipcheck',
  ipvsInterval: 2,
  panicThreshold: 50,
};

/** A validation of service-level options probes nothing: addresses the checks accept stand in for VIP and real server. */
const STAND_IN = {4: ['192.0.2.1', '192.0.2.2', '192.0.2.3'], 6: ['2001:db8::1', '2001:db8::2', '2001:db8::3']} as const;

export async function loadConfig(path: string, plugins: ReadonlyMap<string, CheckPlugin>): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  const config = checkConfig(await parseYamlOf(text), plugins, path);
  if (!config.icinga) return config;
  const {caFile, passwordFile} = config.icinga;
  const problems: string[] = [];
  const read = async (key: string, file: string) => {
    try {
      return await readFile(file);
    } catch (error) {
      problems.push(`icinga.${key}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return undefined;
    }
  };
  const ca = caFile === undefined ? undefined : await read('ca-file', caFile);
  let password = config.icinga.password;
  if (passwordFile !== undefined) {
    // The first line, as systemd credentials and secret mounts hold it (a trailing newline is not part of it).
    password = (await read('password-file', passwordFile))?.toString('utf8').split(/\r?\n/)[0] ?? '';
    if (password === '' && problems.length === 0) problems.push(`icinga.password-file: ${passwordFile} holds no password on its first line`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {...config, icinga: {...config.icinga, password, ...(ca ? {ca} : {})}};
}

export type YamlOutcome = {readonly data: unknown} | {readonly errors: readonly string[]};

/**
 * The data of a YAML text, or the first line of each error. It must not use anything outside itself: it also runs
 * in a worker, from its source text (parseYamlInWorker).
 */
function parseYaml(parse: typeof parseDocument, text: string): YamlOutcome {
  const document = parse(text, {prettyErrors: false, uniqueKeys: true});
  if (document.errors.length > 0) return {errors: document.errors.map((e) => e.message.split('\n')[0] ?? '')};
  return {data: document.toJS() as unknown};
}

/**
 * From this size on, the YAML is parsed in a worker thread. The parser allocates ~10 KB per line it reads and
 * V8 keeps the heap it grew for that: a 10,000-service file (1.1 MB) took the heap to 140 MB for a 23 MB result,
 * and the agent's RSS stayed above 200 MiB. A worker's heap goes back to the system when it ends; only the plain
 * data crosses (structured clone).
 */
const WORKER_PARSE_CHARS = 256 * 1024;

async function parseYamlOf(text: string): Promise<YamlOutcome> {
  if (text.length < WORKER_PARSE_CHARS) return parseYaml(parseDocument, text);
  // No worker here (a resource limit, a stripped runtime): the same parse, in this thread.
  return parseYamlInWorker(text).catch(() => parseYaml(parseDocument, text));
}

/** parseYaml in a worker thread; rejects when no worker can run (loadConfig then parses in this thread). */
export function parseYamlInWorker(text: string): Promise<YamlOutcome> {
  const source = `const {parentPort, workerData} = require('node:worker_threads');
parentPort.postMessage((${parseYaml.toString()})(require(workerData.yaml).parseDocument, workerData.text));`;
  const yaml = createRequire(import.meta.url).resolve('yaml');
  return new Promise<YamlOutcome>((resolve, reject) => {
    const worker = new Worker(source, {eval: true, workerData: {yaml, text}});
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the YAML worker exited with ${code}`)));
  });
}

export function parseConfig(text: string, plugins: ReadonlyMap<string, CheckPlugin>, origin = 'config'): AgentConfig {
  return checkConfig(parseYaml(parseDocument, text), plugins, origin);
}

/** Schema, then every target through its plugin. */
function checkConfig(parsed: YamlOutcome, plugins: ReadonlyMap<string, CheckPlugin>, origin: string): AgentConfig {
  if ('errors' in parsed) throw new ConfigError(parsed.errors.map((line) => `${origin}: ${line}`));
  const data = parsed.data;
  const validate = compiledValidator();
  const {schemaView, problems} = splitPluginServices(data, plugins);
  if (!validate(schemaView)) throw new ConfigError([...describeSchemaErrors(validate.errors ?? []), ...problems]);
  if (problems.length > 0) throw new ConfigError(problems);
  return normalize(data as RawConfig, plugins);
}

type RawRealServer = string | {address: string; mac?: string; 'nagios-host'?: string; 'icinga-host'?: string};

interface RawService {
  name: string;
  vip?: string;
  port?: number | string;
  check: string;
  'real-servers'?: RawRealServer[] | 'ipvs' | {fwmark: number};
  discover?: 'ipvs';
  match?: {vip?: string; port?: number | string; protocol?: 'tcp'; forwarding?: IpvsForwarding | IpvsForwarding[]};
  'ipvs-weights'?: 'off' | 'manage';
  'on-down'?: 'drain' | 'remove';
  'panic-threshold'?: number;
  'file-check'?: string;
  'nagios-host'?: string;
  'nagios-service'?: string;
  'icinga-host'?: string;
  'icinga-service'?: string;
  [key: string]: unknown;
}

interface RawConfig {
  listen?: string;
  'max-concurrent'?: number;
  'source-ports'?: number;
  'state-dir'?: string;
  'ipvs-interval'?: number | string;
  defaults?: Record<string, unknown>;
  nagios?: {'command-file': string; host?: string; service?: string; 'every-probe'?: boolean};
  icinga?: {url: string; user: string; password?: string; 'password-file'?: string; 'ca-file'?: string; host?: string; service?: string; 'every-probe'?: boolean};
  services: RawService[];
}

/** ajv's errors as `key.path: problem`; the if/then structure repeats some, so they are deduplicated. */
export function describeSchemaErrors(errors: NonNullable<Validator['errors']>): string[] {
  const lines = new Set<string>();
  for (const error of errors) {
    if (error.keyword === 'if' || error.keyword === 'anyOf') continue;
    const path = keyPath(error.instancePath);
    if (error.keyword === 'unevaluatedProperties' || error.keyword === 'additionalProperties') {
      const key = String(error.params['unevaluatedProperty'] ?? error.params['additionalProperty']);
      lines.add(`${path ? `${path}.` : ''}${key}: unknown key${path.startsWith('services[') ? ' for this check' : ''}`);
    } else if (error.keyword === 'required') {
      lines.add(`${path ? `${path}.` : ''}${String(error.params['missingProperty'])}: required`);
    } else if (error.keyword === 'enum') {
      lines.add(`${path || '(top)'}: must be one of ${(error.params['allowedValues'] as unknown[]).join(', ')}`);
    } else {
      lines.add(`${path || '(top)'}: ${error.message ?? error.keyword}`);
    }
  }
  // A type error inside anyOf alternatives says nothing useful alone: fall back to the anyOf's own line.
  if (lines.size === 0) for (const error of errors) lines.add(`${keyPath(error.instancePath) || '(top)'}: ${error.message ?? error.keyword}`);
  return [...lines];
}

function keyPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}

function seconds(value: unknown, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  return Number(typeof value === 'string' ? value.trim() : value) * 1000;
}

function flagValue(value: unknown): FlagValue {
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.map(String);
  return value as FlagValue;
}

function normalize(raw: RawConfig, plugins: ReadonlyMap<string, CheckPlugin>): AgentConfig {
  const problems: string[] = [];
  const defaults = raw.defaults ?? {};
  const listen = parseListen(raw.listen ?? DEFAULTS.listen);
  if (typeof listen === 'string') problems.push(`listen: ${listen}`);
  if (raw.icinga && (raw.icinga.password === undefined) === (raw.icinga['password-file'] === undefined)) {
    problems.push(raw.icinga.password === undefined ? 'icinga.password: required (or password-file)' : 'icinga.password-file: give password or password-file, not both');
  }
  const targets: TargetConfig[] = [];
  const names = new Set<string>();
  const files = new Map<string, string>();
  const passiveServices = new Map<string, string>();
  const ipvsSources: IpvsSource[] = [];
  raw.services.forEach((service, index) => {
    const at = `services[${index}]`;
    if (names.has(service.name)) problems.push(`${at}.name: '${service.name}' is used by another service`);
    names.add(service.name);
    const plugin = plugins.get(service.check);
    if (!plugin) {
      problems.push(`${at}.check: '${service.check}' is not a check the agent can run`);
      return;
    }
    const setting = (key: string) => (service[key] !== undefined ? service[key] : defaults[key]);
    const intervalMs = seconds(setting('interval'), DEFAULTS.interval);
    const timeoutMs = seconds(setting('timeout'), DEFAULTS.timeout);
    if (timeoutMs > intervalMs) problems.push(`${at}.timeout: ${timeoutMs / 1000} s is longer than the interval (${intervalMs / 1000} s)`);
    const health: HealthRules = {
      rise: (setting('rise') as number | undefined) ?? DEFAULTS.rise,
      fall: (setting('fall') as number | undefined) ?? DEFAULTS.fall,
      initial: (setting('initial-state') as 'up' | 'down' | undefined) ?? DEFAULTS.initial,
    };
    /** One target: the plugin's own prepare() judges its options (it throws the CLI's one-line words). */
    const buildTarget = (name: string, vip: string, port: number, entry: RawRealServer, ipvs?: TargetIpvs): TargetConfig => {
      const address = typeof entry === 'string' ? entry : entry.address;
      const values: Record<string, FlagValue> = {};
      for (const spec of plugin.flags) {
        if (AGENT_SET_FLAGS.has(spec.name)) continue;
        const given = service[spec.name] !== undefined ? service[spec.name] : SHARED_FLAGS.has(spec.name) ? defaults[spec.name] : undefined;
        values[spec.name] = given === undefined ? (spec.type === 'count' ? 0 : spec.default) : flagValue(given);
      }
      values['vip'] = vip;
      values['rs'] = address;
      values['port'] = String(ipvs?.path === 'rip' ? ipvs.port : port);
      values['timeout'] = String(timeoutMs / 1000);
      // A NAT real server is reached as the director's kernel reaches it: RIP:port, the checks' backup path.
      if (ipvs?.path === 'rip') values['role'] = 'backup';
      // A TUN real server is probed as the director reaches it: encapsulated the way its table entry says,
      // unless the service names a forwarding of its own.
      if (ipvs?.tunnel && service['forwarding'] === undefined && plugin.flags.some((f) => f.name === 'forwarding')) {
        values['forwarding'] = 'tun';
        values['tun-type'] = ipvs.tunnel.type;
        values['tun-port'] = ipvs.tunnel.type === 'gue' ? String(ipvs.tunnel.port) : undefined;
      }
      if (typeof entry !== 'string' && entry.mac !== undefined) values['mac'] = entry.mac;
      const options = plugin.prepare(values as FlagValues);
      const rs = IpAddress.parse(address)!;
      const id = `${name}/${rs}`;
      const expand = (template: string) =>
        template.replaceAll('{rs}', rs.toString()).replaceAll('{service}', name).replaceAll('{vip}', vip).replaceAll('{port}', String(port));
      const fileCheck = service['file-check'] === undefined ? undefined : expand(service['file-check']);
      const names = (kind: 'nagios' | 'icinga'): PassiveNames | undefined => {
        const receiver = raw[kind];
        if (!receiver) return undefined;
        const rsHost = typeof entry === 'string' ? undefined : entry[`${kind}-host`];
        return {host: expand(rsHost ?? service[`${kind}-host`] ?? receiver.host ?? '{rs}'), service: expand(service[`${kind}-service`] ?? receiver.service ?? '{service}')};
      };
      const nagios = names('nagios');
      const icinga = names('icinga');
      return {
        id,
        service: name,
        vip: IpAddress.parse(vip)!,
        port,
        rs,
        check: service.check,
        plugin,
        options,
        intervalMs,
        timeoutMs,
        health,
        ...(fileCheck === undefined ? {} : {fileCheck}),
        ...(nagios === undefined ? {} : {nagios}),
        ...(icinga === undefined ? {} : {icinga}),
        ...(ipvs === undefined ? {} : {ipvs}),
      };
    };
    const realServers = service['real-servers'];
    if (service.discover !== undefined || realServers === 'ipvs' || (realServers !== undefined && !Array.isArray(realServers))) {
      const source = ipvsSource(service, at, setting, buildTarget, problems);
      if (source) ipvsSources.push(source);
      return;
    }
    if (setting('ipvs-weights') === 'manage' && service['ipvs-weights'] !== undefined) {
      problems.push(`${at}.ipvs-weights: manage needs real-servers: ipvs (or {fwmark: N}, or discover: ipvs): the agent manages only real servers it reads from the table`);
    }
    const seen = new Set<string>();
    (realServers ?? []).forEach((entry, rsIndex) => {
      const rsAt = `${at}.real-servers[${rsIndex}]`;
      let target: TargetConfig;
      try {
        target = buildTarget(service.name, service.vip!, Number(service.port), entry);
      } catch (error) {
        problems.push(`${problemPath(error, at, rsAt)}: ${flagWordsAsKeys((error as Error).message.replace(/^--[a-z][a-z0-9-]*: /, ''))}`);
        return;
      }
      if (seen.has(target.id)) {
        problems.push(`${rsAt}: ${target.rs} is listed twice`);
        return;
      }
      seen.add(target.id);
      if (target.fileCheck !== undefined) {
        const other = files.get(target.fileCheck);
        if (other) problems.push(`${at}.file-check: ${target.fileCheck} is also the file of ${other}`);
        files.set(target.fileCheck, target.id);
      }
      for (const kind of ['nagios', 'icinga'] as const) {
        const mapped = target[kind];
        if (!mapped) continue;
        // Two targets reporting as one monitored service would overwrite each other's state there.
        const key = `${kind};${mapped.host};${mapped.service}`;
        const other = passiveServices.get(key);
        if (other) problems.push(`${at}.${kind}-service: ${mapped.host}/${mapped.service} is also the ${kind === 'nagios' ? 'Nagios' : 'Icinga'} service of ${other} (use {rs} in ${kind}.host or ${kind}-service)`);
        passiveServices.set(key, target.id);
      }
      targets.push(target);
    });
  });
  // A service-level value every real server refuses is one problem, not one per real server.
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return {
    listen: listen as {host: string; port: number},
    maxConcurrent: raw['max-concurrent'] ?? DEFAULTS.maxConcurrent,
    sourcePorts: raw['source-ports'] ?? DEFAULTS.sourcePorts,
    targets,
    ...(ipvsSources.length > 0
      ? {ipvs: {stateDir: raw['state-dir'] ?? DEFAULTS.stateDir, intervalMs: seconds(raw['ipvs-interval'], DEFAULTS.ipvsInterval), sources: ipvsSources}}
      : {}),
    ...(raw.nagios ? {nagios: {commandFile: raw.nagios['command-file'], everyProbe: raw.nagios['every-probe'] ?? false}} : {}),
    ...(raw.icinga
      ? {
          icinga: {
            url: raw.icinga.url.replace(/\/$/, ''),
            user: raw.icinga.user,
            password: raw.icinga.password ?? '',
            ...(raw.icinga['password-file'] === undefined ? {} : {passwordFile: raw.icinga['password-file']}),
            ...(raw.icinga['ca-file'] === undefined ? {} : {caFile: raw.icinga['ca-file']}),
            everyProbe: raw.icinga['every-probe'] ?? false,
          },
        }
      : {}),
  };
}

/** The checks whose probes are UDP datagrams: their real servers are those of the UDP service of VIP:port. */
const UDP_CHECKS = new Set(['udp', 'dns']);

type BuildTarget = (name: string, vip: string, port: number, entry: RawRealServer, ipvs?: TargetIpvs) => TargetConfig;

/**
 * A service whose real servers come from the IPVS table: `real-servers: ipvs` (the TCP service VIP:port),
 * `real-servers: {fwmark: N}`, or a `discover: ipvs` entry. Its options are judged now, with a stand-in real
 * server, so a mistake is a configuration error at start and not a surprise at the first discovery.
 */
function ipvsSource(service: RawService, at: string, setting: (key: string) => unknown, buildTarget: BuildTarget, problems: string[]): IpvsSource | undefined {
  const manage = setting('ipvs-weights') === 'manage';
  const weights: IpvsWeightPolicy | undefined = manage
    ? {onDown: (setting('on-down') as 'drain' | 'remove' | undefined) ?? 'drain', panicThreshold: (setting('panic-threshold') as number | undefined) ?? DEFAULTS.panicThreshold}
    : undefined;
  const target = (name: string, vip: IpAddress, port: number, key: IpvsServiceKey, destination: DiscoveredDestination): TargetConfig =>
    buildTarget(name, vip.toString(), port, destination.address.toString(), {
      service: key,
      port: destination.port,
      forwarding: destination.forwarding,
      path: destination.forwarding === 'nat' ? 'rip' : 'vip',
      ...(destination.forwarding === 'tun' ? {tunnel: {type: destination.tunnelType ?? 'ipip', port: destination.tunnelPort ?? 0}} : {}),
      managed: manage,
    });
  const protocol: IpvsProtocol = UDP_CHECKS.has(service.check) ? 'udp' : 'tcp';
  const before = problems.length;
  let select: IpvsSource['select'];
  if (service.discover !== undefined) {
    for (const key of ['vip', 'port', 'real-servers'] as const) {
      if (service[key] !== undefined) problems.push(`${at}.${key}: not with discover: ipvs (the table gives every VIP, port and real server; filter with match)`);
    }
    const match = service.match ?? {};
    const vip = match.vip === undefined ? undefined : IpAddress.parse(match.vip);
    if (match.vip !== undefined && !vip) problems.push(`${at}.match.vip: '${match.vip}' is not an IPv4 or IPv6 address`);
    const forwarding = match.forwarding === undefined ? (['dr', 'tun', 'nat'] as const) : Array.isArray(match.forwarding) ? match.forwarding : [match.forwarding];
    select = {kind: 'discover', match: {...(vip ? {vip} : {}), ...(match.port === undefined ? {} : {port: Number(match.port)}), forwarding}};
  } else {
    if (service.match !== undefined) problems.push(`${at}.match: only with discover: ipvs`);
    const vip = IpAddress.parse(service.vip!);
    if (!vip) {
      problems.push(`${at}.vip: '${service.vip}' is not an IPv4 or IPv6 address`);
      return undefined;
    }
    const port = Number(service.port);
    const realServers = service['real-servers'];
    const key: IpvsServiceKey =
      typeof realServers === 'object' && !Array.isArray(realServers)
        ? {kind: 'fwmark', family: vip.family, fwmark: realServers.fwmark}
        : {kind: 'address', protocol, address: vip, port};
    select = {kind: 'service', key, vip, port};
  }
  // The service's own options, judged once with a stand-in real server.
  const vip = select.kind === 'service' ? select.vip : (select.match.vip ?? IpAddress.parse(STAND_IN[4][0])!);
  const port = select.kind === 'service' ? select.port : (select.match.port ?? 80);
  const stand = STAND_IN[vip.family].map((a) => IpAddress.parse(a)!).find((a) => !a.equals(vip))!;
  try {
    target(service.name, vip, port, {kind: 'address', protocol, address: vip, port}, {address: stand, port, forwarding: 'dr'});
  } catch (error) {
    problems.push(`${problemPath(error, at, at)}: ${flagWordsAsKeys((error as Error).message.replace(/^--[a-z][a-z0-9-]*: /, ''))}`);
  }
  if (problems.length > before) return undefined;
  return {name: service.name, select, protocol, ...(weights ? {weights} : {}), target};
}

/** Which key a plugin's complaint is about: `--rs` is the real server's entry, `--vip` the service's vip, ... */
function problemPath(error: unknown, serviceAt: string, rsAt: string): string {
  const flag = /--([a-z][a-z0-9-]*)/.exec((error as Error).message)?.[1];
  if (flag === 'rs' || flag === 'mac') return rsAt;
  if (flag === undefined) return serviceAt;
  return `${serviceAt}.${flag}`;
}

/** "--path must start with /" reads, in a config, "path must start with /". */
function flagWordsAsKeys(message: string): string {
  return message.replace(/--([a-z][a-z0-9-]*)/g, '$1');
}

function parseListen(text: string): {host: string; port: number} | string {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) return `'${text}' is not host:port (IPv6 as [address]:port)`;
  return {host: match[1] ?? match[2]!, port};
}
